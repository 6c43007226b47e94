// `convert`: a model or a training checkpoint rewritten as a model file in float16/float32 (CPU only).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { rng } from '../src/ops/cpu.js';
import { decodeHistory, encodeCheckpoint, type TrainingState } from '../src/models/checkpoint.js';
import { defaultLossConfig } from '../src/models/losses.js';
import { rewriteModelFile } from '../src/models/model-file.js';
import { ModelFileError, readSafetensors, writeSafetensors } from '../src/models/safetensors.js';
import { parameterSpecs } from '../src/models/transform-net.js';
import { buildCliIfStale, runCli } from './helpers/cli.js';

const NET = { widthMultiplier: 0.25, output: 'scaled-tanh', architecture: 'johnson2016' } as const;
const SESSION = {
  firstStep: 1,
  lastStep: 7,
  seconds: 70.5,
  command: 'node dist/cli.js train …',
  adapter: 'test adapter',
};

/** A checkpoint of a width-0.25 net after 7 steps, with random weights and moments. */
function checkpointBytes(): { bytes: Uint8Array; state: TrainingState } {
  const r = rng(5);
  const random = (n: number, scale: number) => Float32Array.from({ length: n }, () => (2 * r() - 1) * scale);
  const weights = new Map(
    parameterSpecs(NET).map((s) => [
      s.name,
      {
        shape: [...s.shape],
        data: random(
          s.shape.reduce((a, b) => a * b, 1),
          0.3,
        ),
      },
    ]),
  );
  const moments = new Map(
    [...weights].map(([name, w]) => [
      name,
      { m: random(w.data.length, 1e-2), v: random(w.data.length, 1e-4).map(Math.abs) },
    ]),
  );
  const state: TrainingState = {
    config: {
      size: 32,
      batch: 2,
      lr: 1e-3,
      widthMultiplier: 0.25,
      seed: 1,
      loss: defaultLossConfig('vgg19', 'caffe'),
      vgg: { architecture: 'vgg19', input: 'caffe' },
      styleName: 'dots',
    },
    net: NET,
    weights,
    moments,
    step: 7,
    samplesSeen: 14,
    history: [SESSION],
  };
  return { bytes: encodeCheckpoint(state), state };
}

/** float16 keeps 11 significant bits: a normal value is within half a unit of its last place. */
const withinF16 = (x: number, y: number) => Math.abs(x - y) <= Math.max(Math.abs(x) * 2 ** -11, 2 ** -25);

describe('rewriteModelFile', () => {
  it('turns a checkpoint into a model: weights kept (f32 exactly, f16 rounded), optimiser state dropped, metadata and sessions kept', () => {
    const { bytes, state } = checkpointBytes();
    for (const dtype of ['F32', 'F16'] as const) {
      const out = readSafetensors(rewriteModelFile(bytes, 'run.ckpt', { dtype }));
      expect(out.metadata.format).toBe('fast-style-webgpu/transform-net');
      expect(out.metadata.style).toBe('dots');
      expect(out.metadata.step).toBe('7');
      expect(out.metadata.data).toBeUndefined();
      expect(JSON.parse(out.metadata.training).size).toBe(32);
      expect(decodeHistory(out.metadata.history, 'out')).toEqual([SESSION]);
      expect([...out.tensors.keys()]).toEqual([...state.weights.keys()]);
      let changed = 0;
      for (const [name, t] of out.tensors) {
        const want = state.weights.get(name)!.data;
        expect(t.dtype).toBe(dtype);
        expect(t.shape).toEqual(state.weights.get(name)!.shape);
        if (dtype === 'F32') expect(t.data, name).toEqual(want);
        else {
          for (let i = 0; i < want.length; i++)
            if (!withinF16(want[i], t.data[i])) throw new Error(`${name}[${i}]: ${want[i]} -> ${t.data[i]}`);
          changed += t.data.filter((x, i) => x !== want[i]).length;
        }
      }
      // float16 must actually have rounded (the check above cannot pass vacuously on a float32 copy).
      if (dtype === 'F16') expect(changed).toBeGreaterThan(1000);
    }
  });

  it('refuses files that stylize would refuse, naming the file', () => {
    const { state } = checkpointBytes();
    const weights = new Map(state.weights);
    weights.delete('conv1.conv2d.weight');
    const missing = writeSafetensors(weights, readSafetensors(encodeCheckpoint(state)).metadata);
    expect(() => rewriteModelFile(missing, 'cut.safetensors', { dtype: 'F16' })).toThrow(ModelFileError);
    expect(() => rewriteModelFile(missing, 'cut.safetensors', { dtype: 'F16' })).toThrow(
      /cut\.safetensors: missing tensor conv1\.conv2d\.weight/,
    );
    expect(() => rewriteModelFile(new TextEncoder().encode('{"a":1}'), 'x.json', { dtype: 'F16' })).toThrow(
      /x\.json: not a safetensors file/,
    );
  });
});

describe('convert (CLI)', () => {
  beforeAll(buildCliIfStale, 120_000);
  const run = (...args: string[]) => runCli(['convert', ...args]);

  it('writes the model, refuses to overwrite its input, and reports bad files and usage with exit 1 and 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fsw-convert-'));
    try {
      const ckpt = join(dir, 'run.ckpt.safetensors');
      writeFileSync(ckpt, checkpointBytes().bytes);
      const ok = run(ckpt, '-o', join(dir, 'model.safetensors'));
      expect(ok.status, ok.stderr).toBe(0);
      expect(ok.stderr).toMatch(/run\.ckpt\.safetensors -> .*model\.safetensors \(f16, [\d.]+ MiB\)/);
      expect(
        readSafetensors(readFileSync(join(dir, 'model.safetensors'))).tensors.get('conv1.conv2d.weight')!.dtype,
      ).toBe('F16');

      const same = run(ckpt, '-o', ckpt);
      expect(same.status).toBe(1);
      expect(same.stderr).toMatch(/refusing to overwrite the input/);
      writeFileSync(join(dir, 'bad.safetensors'), 'not a model');
      const bad = run(join(dir, 'bad.safetensors'), '-o', join(dir, 'bad-out.safetensors'));
      expect(bad.status).toBe(1);
      expect(bad.stderr).toMatch(/bad\.safetensors: not a safetensors file/);
      expect(existsSync(join(dir, 'bad-out.safetensors'))).toBe(false);
      const toDir = run(ckpt, '-o', dir);
      expect(toDir.status).toBe(1);
      expect(toDir.stderr).toMatch(/cannot write .*: it is a directory/);
      expect(run(ckpt).status).toBe(2);
      expect(run(ckpt, '-o', join(dir, 'x.safetensors'), '--dtype', 'f8').status).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
