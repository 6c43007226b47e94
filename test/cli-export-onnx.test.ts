// `export MODEL -o FILE.onnx` as users run it (node dist/cli.js), the result checked in onnxruntime (the
// onnxruntime-web package on its wasm backend, a devDependency): the shipped starry_night net (scaled tanh),
// a pytorch/examples net imported from .pth (linear output) at opsets 9 and 13, and an ml5-lengstrom net
// (zero SAME padding, transposed convs) each give within 1 level of our stylize on a kodim23 crop; the .pth
// net also matches PyTorch. Bad input: one line, no output file.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodeImage } from '../src/node/image-io.js';
import { readOnnxModel } from '../src/models/onnx-proto.js';
import { readSafetensors } from '../src/models/safetensors.js';
import { buildCliIfStale, expectOneError, ROOT, runCli, workDir } from './helpers/cli.js';
import { goldenFile } from './helpers/golden.js';

const DIR = join(ROOT, 'test', 'fixtures', 'pytorch');
const reference = readSafetensors(new Uint8Array(readFileSync(join(DIR, 'reference.safetensors')))).tensors;
const photoTensor = reference.get('photo')!;
const [, , H, W] = photoTensor.shape;

beforeAll(() => {
  buildCliIfStale();
}, 300_000);

const work = workDir('cli-export-onnx-');
const photo = join(work, 'crop.png');

/** The ONNX graph's output for the photo crop, by onnxruntime. */
async function runOnnx(file: string): Promise<Float32Array> {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(file)));
  expect(session.inputNames).toEqual(['input']);
  expect(session.outputNames).toEqual(['output']);
  const out = await session.run({
    input: new ort.Tensor('float32', Float32Array.from(photoTensor.data), [1, 3, H, W]),
  });
  const data = out.output.data as Float32Array;
  await session.release();
  return data;
}

/** Channel values of our stylize output (PNG) that differ from `values` (rounded, clamped) by more than 1. */
async function over1(png: string, values: Float32Array): Promise<{ over1: number; worst: number }> {
  const img = await decodeImage(new Uint8Array(readFileSync(png)), png);
  expect([img.width, img.height]).toEqual([W, H]);
  let worst = 0;
  let n = 0;
  for (let i = 0; i < W * H; i++) {
    for (let c = 0; c < 3; c++) {
      const d = Math.abs(img.data[4 * i + c] - Math.max(0, Math.min(255, Math.round(values[c * W * H + i]))));
      worst = Math.max(worst, d);
      if (d > 1) n++;
    }
  }
  return { over1: n, worst };
}

function stylize(model: string, name: string): string {
  const out = join(work, `${name}.png`);
  const r = runCli(['stylize', '--model', model, photo, '-o', out, '--quiet']);
  expect(r.status, r.stderr).toBe(0);
  return out;
}

function exportOnnx(model: string, name: string, opset?: number): string {
  const out = join(work, `${name}.onnx`);
  const r = runCli(['export', model, '-o', out, ...(opset ? ['--opset', String(opset)] : [])]);
  expect(r.status, r.stderr).toBe(0);
  return out;
}

describe('cli export MODEL -o FILE.onnx', () => {
  beforeAll(async () => {
    const rgba = new Uint8Array(W * H * 4);
    for (let i = 0; i < W * H; i++) {
      for (let c = 0; c < 3; c++) rgba[4 * i + c] = photoTensor.data[c * W * H + i];
      rgba[4 * i + 3] = 255;
    }
    writeFileSync(photo, await encodeImage({ width: W, height: H, data: rgba }, 'png'));
  });

  it('--help states the input and output conventions', () => {
    const r = runCli(['export', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/usage: fast-style-webgpu export MODEL -o OUT\.onnx/);
    expect(r.stdout).toMatch(/RGB pixels 0\.\.255/);
    expect(r.stdout).toMatch(/multiples of 4/);
  });

  it('starry_night: plain operators, metadata with the conventions; onnxruntime within 1 level of stylize on a kodim23 crop', async () => {
    const model = join(ROOT, 'models', 'starry_night.safetensors');
    const onnx = exportOnnx(model, 'starry');
    const parsed = readOnnxModel(new Uint8Array(readFileSync(onnx)));
    expect(parsed.opsets.get('')).toBe(11);
    expect(new Set(parsed.graph.nodes.map((n) => n.opType))).toEqual(
      new Set(['Pad', 'Conv', 'InstanceNormalization', 'Relu', 'Add', 'Resize', 'Tanh', 'Mul', 'Identity']),
    );
    expect(parsed.graph.inputs[0].dims).toEqual(['batch', 3, 'height', 'width']);
    expect(parsed.metadata.get('style')).toBe('starry_night');
    expect(parsed.metadata.get('input')).toMatch(/RGB pixels 0\.\.255/);
    const ort = await runOnnx(onnx);
    const diff = await over1(stylize(model, 'starry'), ort);
    expect(diff.over1, JSON.stringify(diff)).toBe(0);
  }, 300_000);

  for (const opset of [9, 13]) {
    it(`a pytorch/examples net from .pth at opset ${opset} (${opset === 9 ? 'Upsample' : 'Resize'}): onnxruntime matches PyTorch and our stylize`, async () => {
      const model = join(work, 'tnet.safetensors');
      expect(runCli(['import', join(DIR, 'tnet.pth'), '-o', model, '--quiet']).status).toBe(0);
      const onnx = exportOnnx(model, `tnet-${opset}`, opset);
      const ops = new Set(readOnnxModel(new Uint8Array(readFileSync(onnx))).graph.nodes.map((n) => n.opType));
      expect(ops.has(opset === 9 ? 'Upsample' : 'Resize')).toBe(true);
      expect(ops.has('Tanh')).toBe(false);
      const ort = await runOnnx(onnx);
      const want = reference.get('output')!.data;
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(ort[i] - want[i]));
      expect(worst).toBeLessThan(0.05);
      const diff = await over1(stylize(model, `tnet-${opset}`), ort);
      expect(diff.over1, JSON.stringify(diff)).toBe(0);
    }, 120_000);
  }

  it('an ml5-lengstrom net (zero SAME padding, transposed convs, in6): onnxruntime within 1 level of stylize', async () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const index: any = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'golden', 'ml5.json'), 'utf8'));
    const folder = join(work, 'ml5_net');
    mkdirSync(folder);
    const manifest: Record<string, { filename: string; shape: number[] }> = {};
    (index.small.variables as string[]).forEach((stored, i) => {
      const variable = i === 0 ? 'Variable' : `Variable_${i}`;
      const t = goldenFile(index.file).get(stored)!;
      manifest[variable] = { filename: variable, shape: t.shape };
      writeFileSync(join(folder, variable), Buffer.from(Float32Array.from(t.data).buffer));
    });
    writeFileSync(join(folder, 'manifest.json'), JSON.stringify(manifest));
    const model = join(work, 'ml5.safetensors');
    expect(runCli(['import', folder, '-o', model, '--quiet']).status).toBe(0);
    const onnx = exportOnnx(model, 'ml5', 9);
    const ops = new Set(readOnnxModel(new Uint8Array(readFileSync(onnx))).graph.nodes.map((n) => n.opType));
    expect(ops.has('ConvTranspose')).toBe(true);
    const diff = await over1(stylize(model, 'ml5'), await runOnnx(onnx));
    expect(diff.over1, JSON.stringify(diff)).toBe(0);
  }, 120_000);

  it('a file that is not a model, an output not named .onnx, a .pth as the model, the input as output: one line, no file', () => {
    const outDir = join(work, 'bad-out');
    mkdirSync(outDir);
    const junk = join(work, 'junk.safetensors');
    writeFileSync(junk, 'not a model at all');
    expectOneError(runCli(['export', junk, '-o', join(outDir, 'x.onnx')]), 1, /^error: .*junk\.safetensors/);
    expectOneError(runCli(['export', junk, '-o', join(outDir, 'x.safetensors')]), 2, /name the ONNX file \*\.onnx/);
    expectOneError(runCli(['export', join(DIR, 'tnet.pth'), '-o', join(outDir, 'x.onnx')]), 1, /^error: .*tnet\.pth/);
    expect(readdirSync(outDir)).toEqual([]);
    const same = join(outDir, 'same.onnx');
    writeFileSync(same, readFileSync(join(ROOT, 'models', 'starry_night.safetensors')));
    expectOneError(runCli(['export', same, '-o', same]), 1, /refusing to overwrite the input/);
  });
});
