// `import FILE.onnx` as users run it (node dist/cli.js): torch.onnx.export of a pytorch/examples net at opset 9
// (Upsample, like the ONNX model zoo's fast_neural_style) and 13 (Resize, with the shape arithmetic around Pad)
// stylises a kodim23 crop within 1 level of PyTorch; our own export comes back weight for weight; other graphs,
// external data that is missing and truncated files get one line, exit 1 and no output file.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodeImage } from '../src/node/image-io.js';
import { ProtoWriter, tensorProto, valueInfoProto } from '../src/models/onnx-proto.js';
import { readSafetensors } from '../src/models/safetensors.js';
import { buildCliIfStale, expectOneError, ROOT, runCli, workDir } from './helpers/cli.js';

const DIR = join(ROOT, 'test', 'fixtures', 'pytorch');
const reference = readSafetensors(new Uint8Array(readFileSync(join(DIR, 'reference.safetensors')))).tensors;
const photoTensor = reference.get('photo')!;
const [, , H, W] = photoTensor.shape;

beforeAll(() => {
  buildCliIfStale();
}, 300_000);

const work = workDir('cli-import-onnx-');
const photo = join(work, 'crop.png');

/** A one-node-per-op graph (input x → ops in a chain → y) with optional initializers. */
function chainGraph(ops: string[], initializers: ProtoWriter[] = [], extraInputs: string[] = []): Uint8Array {
  const graph = new ProtoWriter();
  let x = 'x';
  ops.forEach((op, i) => {
    const out = i === ops.length - 1 ? 'y' : `t${i}`;
    const node = new ProtoWriter().string(1, x);
    for (const e of i === 0 ? extraInputs : []) node.string(1, e);
    graph.message(1, node.string(2, out).string(3, `${op.toLowerCase()}_${i}`).string(4, op));
    x = out;
  });
  graph.string(2, 'g');
  for (const t of initializers) graph.message(5, t);
  graph.message(11, valueInfoProto('x', [1, 3, 'h', 'w'])).message(12, valueInfoProto('y', [1, 3, 'h', 'w']));
  return new ProtoWriter()
    .int(1, 7)
    .message(8, new ProtoWriter().string(1, '').int(2, 13))
    .string(2, 'test')
    .message(7, graph)
    .finish();
}

describe('cli import FILE.onnx', () => {
  beforeAll(async () => {
    const rgba = new Uint8Array(W * H * 4);
    for (let i = 0; i < W * H; i++) {
      for (let c = 0; c < 3; c++) rgba[4 * i + c] = photoTensor.data[c * W * H + i];
      rgba[4 * i + 3] = 255;
    }
    writeFileSync(photo, await encodeImage({ width: W, height: H, data: rgba }, 'png'));
  });

  for (const file of ['tnet-opset9.onnx', 'tnet-opset13.onnx']) {
    it(`${file} (torch.onnx.export): stylises the kodim23 crop within 1 level of PyTorch`, async () => {
      const out = join(work, `${file}.safetensors`);
      const r = runCli(['import', join(DIR, file), '-o', out]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/ONNX opset (9|13) from pytorch: TransformerNet width 0\.125, linear output/);
      const model = readSafetensors(new Uint8Array(readFileSync(out)));
      expect(JSON.parse(model.metadata.architecture)).toMatchObject({
        name: 'johnson2016',
        widthMultiplier: 0.125,
        output: 'linear',
      });
      const styled = join(work, `${file}.png`);
      const s = runCli(['stylize', '--model', out, photo, '-o', styled, '--quiet']);
      expect(s.status, s.stderr).toBe(0);
      const img = await decodeImage(new Uint8Array(readFileSync(styled)), styled);
      const want = reference.get('output')!.data;
      let over1 = 0;
      for (let i = 0; i < W * H; i++) {
        for (let c = 0; c < 3; c++)
          if (Math.abs(img.data[4 * i + c] - Math.max(0, Math.min(255, Math.round(want[c * W * H + i])))) > 1) over1++;
      }
      expect(over1).toBe(0);
    }, 120_000);
  }

  it('our export of starry_night comes back with the same weights and the scaled-tanh output', () => {
    const onnx = join(work, 'starry.onnx');
    expect(
      runCli(['export', join(ROOT, 'models', 'starry_night.safetensors'), '-o', onnx, '--opset', '9', '--quiet'])
        .status,
    ).toBe(0);
    const back = join(work, 'starry-back.safetensors');
    const r = runCli(['import', onnx, '-o', back, '--style', 'starry_night']);
    expect(r.status, r.stderr).toBe(0);
    const a = readSafetensors(new Uint8Array(readFileSync(join(ROOT, 'models', 'starry_night.safetensors'))));
    const b = readSafetensors(new Uint8Array(readFileSync(back)));
    expect(JSON.parse(b.metadata.architecture)).toMatchObject({
      name: 'johnson2016',
      widthMultiplier: 1,
      output: 'scaled-tanh',
    });
    expect([...b.tensors.keys()]).toEqual([...a.tensors.keys()]);
    for (const [name, t] of a.tensors) expect(b.tensors.get(name)!.data, name).toEqual(t.data);
  }, 120_000);

  const tnet9 = new Uint8Array(readFileSync(join(DIR, 'tnet-opset9.onnx')));
  const external = tensorProto('w', [4, 3, 3, 3], [])
    .int(14, 1)
    .message(13, new ProtoWriter().string(1, 'location').string(2, 'weights.bin'));
  const bad: [string, () => Uint8Array, RegExp][] = [
    [
      'a graph with an operator the net does not use',
      () => chainGraph(['Relu', 'Softmax']),
      /unsupported operator Softmax \(node softmax_1\): not part of a fast-style TransformerNet graph/,
    ],
    [
      'a graph of known operators in another structure',
      () => chainGraph(['Relu', 'Relu']),
      /not a fast-style TransformerNet graph: expected Pad for conv1's reflection padding, found Relu \(node relu_0\)/,
    ],
    [
      'external data that is missing',
      () => chainGraph(['Conv'], [external], ['w']),
      /tensor w keeps its values in the external data file weights\.bin, which is missing/,
    ],
    ['a truncated file', () => tnet9.subarray(0, 70_000), /truncated ONNX file/],
  ];
  for (const [what, bytes, message] of bad) {
    it(`${what}: one error line, exit 1, no output file`, () => {
      const name = what.replace(/\W+/g, '-');
      const input = join(work, `${name}.onnx`);
      writeFileSync(input, bytes());
      const outDir = join(work, `out-${name}`);
      mkdirSync(outDir);
      expectOneError(runCli(['import', input, '-o', join(outDir, 'x.safetensors')]), 1, message);
      expect(readdirSync(outDir)).toEqual([]);
    });
  }
});
