// The ml5.js / lengstrom fast-style-transfer net (architecture 'ml5-lengstrom') against PyTorch 1.13
// (scripts/golden/ml5.py: the graph written from NOTES.md of ../shared/assets/stylenets/ml5-lengstrom, in
// float64, reading the checkpoint variables in TensorFlow's layout): the new ops, a small net imported from
// ml5 variables, and the real `wave` net on a real photo when ../shared is present.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apply, backward } from '../src/autograd/tape.js';
import type { Engine } from '../src/engine/engine.js';
import { decodeImage } from '../src/node/image-io.js';
import { resolveStyle } from '../src/cli/package-files.js';
import {
  ml5CheckpointTensors,
  ml5ToModelFile,
  parseMl5Manifest,
  type Ml5Manifest,
} from '../src/models/ml5-checkpoint.js';
import { loadTransformNet } from '../src/models/model-file.js';
import { ModelFileError } from '../src/models/safetensors.js';
import { stylizeRgba } from '../src/models/stylize.js';
import { TransformNet } from '../src/models/transform-net.js';
import { conv2d, tfSameConv2dAttrs } from '../src/ops/conv2d.js';
import { conv2dTranspose } from '../src/ops/conv2d-transpose.js';
import { cpuTensor } from '../src/ops/cpu.js';
import { expectNear, goldenFile, golden } from './helpers/golden.js';
import { testEngine, toGpu } from './helpers/gpu.js';

const dir = new URL('./fixtures/golden/', import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const index: any = JSON.parse(readFileSync(new URL('ml5.json', dir), 'utf8'));
const FILE = index.file as string;

const SHARED = resolve(__dirname, '..', '..', 'shared', 'assets');
const WAVE = join(SHARED, 'stylenets', 'ml5-lengstrom', 'wave');
const haveShared = existsSync(join(WAVE, 'manifest.json')) && existsSync(join(SHARED, index.wave.photo));
if (!haveShared) console.warn(`ml5.test.ts: ${WAVE} or the photo is absent; the real-net parity test is skipped`);

/** Op outputs: ≤ 1e-5 of max|y|. PyTorch's own float32 drift on such convs is ~2e-7; sums of ≤ 243 terms. */
const OP_TOL = 1e-5;
/** Op gradients: ≤ 2e-5 of the largest gradient (sums of up to a few hundred products in other orders). */
const OP_GRAD_TOL = 2e-5;
/**
 * Whole-net output: ≤ 1e-4 of max|output| (≈ 0.03 of a pixel), as for our own net in golden-nets.test.ts;
 * PyTorch float32 drifts `small.fp32Drift` (~1e-6) from float64 on this graph.
 */
const NET_TOL = 1e-4;

/** The fixture's ml5 variables as an ml5 model folder: a manifest and the raw little-endian float32 files. */
function smallFolder(): { manifest: Ml5Manifest; files: Map<string, Uint8Array> } {
  const manifest: Ml5Manifest = new Map();
  const files = new Map<string, Uint8Array>();
  (index.small.variables as string[]).forEach((stored, i) => {
    const name = i === 0 ? 'Variable' : `Variable_${i}`;
    const t = goldenFile(FILE).get(stored)!;
    manifest.set(name, { filename: name, shape: t.shape });
    const bytes = new Uint8Array(t.data.length * 4);
    const view = new DataView(bytes.buffer);
    t.data.forEach((v, j) => view.setFloat32(4 * j, v, true));
    files.set(name, bytes);
  });
  return { manifest, files };
}

const reader = (files: Map<string, Uint8Array>) => async (f: string) => files.get(f);

/** The fixture's small net, imported from its ml5 variables. */
async function smallNet(engine: Engine): Promise<TransformNet> {
  const { manifest, files } = smallFolder();
  const { widthMultiplier, tensors } = await ml5CheckpointTensors(manifest, reader(files), 'small');
  return TransformNet.fromTensors(engine, { widthMultiplier, architecture: 'ml5-lengstrom' }, tensors);
}

/** The small net's output on the fixture's input against the float64 graph's. */
async function expectSmallOutput(engine: Engine, net: TransformNet, what: string): Promise<void> {
  await engine.scopeAsync(async () => {
    const out = net.forward(toGpu(engine, golden(FILE, index.small.input))!);
    expectNear(await out.data(), golden(FILE, index.small.output), NET_TOL, what);
  });
}

describe('ml5 ops vs PyTorch: TF SAME conv2d, conv2dTranspose (forward and gradients)', () => {
  for (const c of index.ops) {
    it(c.name, async () => {
      const engine = await testEngine();
      const inputs = (c.inputs as (string | null)[]).map((n) => (n ? golden(FILE, n) : null));
      const [, , h, w] = inputs[0]!.shape;
      const op = c.op === 'conv2d' ? conv2d : conv2dTranspose;
      const attrs = c.op === 'conv2d' ? tfSameConv2dAttrs(h, w, c.attrs.kernel, c.attrs.stride) : c.attrs;
      await engine.scopeAsync(async () => {
        const gpu = inputs.map((t) => toGpu(engine, t));
        for (const t of gpu) if (t) t.requiresGrad = true;
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const y = apply(op as any, gpu, attrs);
        expectNear(await y.data(), golden(FILE, c.output), OP_TOL, `${c.name} output`);
        backward(y, toGpu(engine, golden(FILE, c.upstream))!);
        for (const [i, g] of (c.grads as (string | null)[]).entries()) {
          if (g) expectNear(await gpu[i]!.grad!.data(), golden(FILE, g), OP_GRAD_TOL, `${c.name} grad ${op.inputs[i]}`);
        }
      });
    });
  }
});

describe('ml5-lengstrom TransformNet vs PyTorch (width 0.125, imported from ml5 variables)', () => {
  it('batch of 2 at 20×24: the output of the float64 graph', async () => {
    const engine = await testEngine();
    const { manifest, files } = smallFolder();
    const { widthMultiplier, tensors } = await ml5CheckpointTensors(manifest, reader(files), 'small');
    expect(widthMultiplier).toBe(index.small.widthMultiplier);
    const net = TransformNet.fromTensors(engine, { widthMultiplier, architecture: 'ml5-lengstrom' }, tensors);
    try {
      await expectSmallOutput(engine, net, 'ml5 small net output');
    } finally {
      net.dispose();
    }
  });

  it('through a model file: metadata says ml5-lengstrom with source and licence; the same output', async () => {
    const engine = await testEngine();
    const { manifest, files } = smallFolder();
    const bytes = await ml5ToModelFile(manifest, reader(files), { style: 'tiny', source: 'test fixture' });
    const { net, metadata } = await loadTransformNet(engine, bytes, 'tiny.safetensors');
    try {
      expect(metadata.architecture).toMatchObject({
        name: 'ml5-lengstrom',
        padding: 'tf-same-zeros',
        upsampling: 'transposed-conv-x2',
        convBias: false,
        outputNorm: true,
        instanceNormEps: 1e-3,
      });
      expect(metadata).toMatchObject({
        style: 'tiny',
        source: 'test fixture',
        licence: 'ml5.js weights, MIT; training code research use',
      });
      await expectSmallOutput(engine, net, 'ml5 small net output (model file)');
    } finally {
      net.dispose();
    }
  });

  it('any size comes back at its own size: 1×1, 5×7, 6×13, 18×30', async () => {
    const engine = await testEngine();
    const net = await smallNet(engine);
    try {
      for (const [h, w] of [
        [1, 1],
        [5, 7],
        [6, 13],
        [18, 30],
      ]) {
        await engine.scopeAsync(async () => {
          const x = cpuTensor([1, 3, h, w]);
          for (let i = 0; i < x.data.length; i++) x.data[i] = (i * 37) % 256;
          const out = net.forward(toGpu(engine, x)!);
          expect(out.shape).toEqual([1, 3, h, w]);
          const data = await out.data();
          expect(
            data.every((v) => Number.isFinite(v) && v > -23 && v < 278),
            `${h}×${w} finite, in the tanh range`,
          ).toBe(true);
        });
      }
    } finally {
      net.dispose();
    }
  });
});

describe('ml5-lengstrom through the tiled stylize', () => {
  it('a 70×45 image in 32-pixel tiles comes back at its size and stylised', async () => {
    const engine = await testEngine();
    const net = await smallNet(engine);
    try {
      const width = 70;
      const height = 45;
      const data = new Uint8Array(width * height * 4).map((_, i) =>
        i % 4 === 3 ? 255 : Math.round(127 + 100 * Math.sin(i / 37)),
      );
      const whole = await stylizeRgba(net, { width, height, data }, { tile: 128 });
      const tiled = await stylizeRgba(net, { width, height, data }, { tile: 32 });
      expect([tiled.width, tiled.height]).toEqual([width, height]);
      expect(tiled.data.length).toBe(data.length);
      // Tiles this small see much less context than the whole image (their own instance-norm statistics), so
      // they are not compared with the untiled result (the same holds for our own net; stylize.test.ts checks
      // the blending itself); both must have changed the picture.
      const changed = (out: Uint8Array) =>
        out.reduce((n, v, i) => n + (i % 4 !== 3 && Math.abs(v - data[i]) > 10 ? 1 : 0), 0);
      expect(changed(tiled.data)).toBeGreaterThan(width * height);
      expect(changed(whole.data)).toBeGreaterThan(width * height);
    } finally {
      net.dispose();
    }
  });
});

describe('ml5 checkpoint folders: bad input names the problem', () => {
  it('unknown layout, wrong byte count, missing file, bad manifest', async () => {
    const { manifest, files } = smallFolder();
    const fewer = new Map(manifest);
    fewer.delete('Variable_47');
    await expect(ml5CheckpointTensors(fewer, reader(files), 'f')).rejects.toThrow(
      /f: unknown checkpoint layout \(47 variables\)/,
    );
    const misshapen = new Map(manifest);
    misshapen.set('Variable_3', { filename: 'Variable_3', shape: [3, 3, 8, 4] });
    await expect(ml5CheckpointTensors(misshapen, reader(files), 'f')).rejects.toThrow(
      /unknown checkpoint layout \(Variable_3 has shape \[3, 3, 8, 4\]/,
    );
    const short = new Map(files);
    short.set('Variable_5', files.get('Variable_5')!.subarray(4));
    await expect(ml5CheckpointTensors(manifest, reader(short), 'f')).rejects.toThrow(
      /Variable_5 has 28 bytes, Variable_5 \[8\] needs 32/,
    );
    const missing = new Map(files);
    missing.delete('Variable_9');
    await expect(ml5CheckpointTensors(manifest, reader(missing), 'f')).rejects.toThrow(ModelFileError);
    await expect(ml5CheckpointTensors(manifest, reader(missing), 'f')).rejects.toThrow(/missing file Variable_9/);
    expect(() => parseMl5Manifest('{', 'f')).toThrow(/not valid JSON/);
    expect(() => parseMl5Manifest('{"Variable": {"filename": "../x", "shape": [1]}}', 'f')).toThrow(/plain file name/);
  });

  it('--style looks in each folder in order', () => {
    expect(() => resolveStyle('wave', ['/nonexistent/a', '/nonexistent/b'])).toThrow(
      /no styles are installed in \/nonexistent\/a or \/nonexistent\/b/,
    );
  });
});

describe.skipIf(!haveShared)('the real ml5 `wave` net on a photo vs PyTorch (needs ../shared)', () => {
  it(`96×96 crop of ${index.wave.photo}: within 1 grey level on ≥ 99.9% of the pixel values`, async () => {
    const engine = await testEngine();
    const manifest = parseMl5Manifest(readFileSync(join(WAVE, 'manifest.json'), 'utf8'), WAVE);
    const { tensors } = await ml5CheckpointTensors(
      manifest,
      async (f) => new Uint8Array(readFileSync(join(WAVE, f))),
      WAVE,
    );
    const net = TransformNet.fromTensors(engine, { widthMultiplier: 1, architecture: 'ml5-lengstrom' }, tensors);
    try {
      // The crop, decoded by our PNG reader, must be the pixels the fixture was made from.
      const photo = await decodeImage(new Uint8Array(readFileSync(join(SHARED, index.wave.photo))), index.wave.photo);
      const { top, left, size } = index.wave.crop;
      const x = cpuTensor([1, 3, size, size]);
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < size; y++) {
          for (let xx = 0; xx < size; xx++)
            x.data[(c * size + y) * size + xx] = photo.data[((top + y) * photo.width + left + xx) * 4 + c];
        }
      }
      expect([...x.data]).toEqual([...golden(FILE, index.wave.input).data]);
      const expected = golden(FILE, index.wave.output).data;
      const got = await engine.scopeAsync(async () => net.forward(toGpu(engine, x)!).data());
      const level = (v: number) => Math.round(Math.min(255, Math.max(0, v)));
      let within = 0;
      let maxDiff = 0;
      let maxLevelDiff = 0;
      for (let i = 0; i < got.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
        const d = Math.abs(level(got[i]) - level(expected[i]));
        maxLevelDiff = Math.max(maxLevelDiff, d);
        if (d <= 1) within++;
      }
      const share = within / got.length;
      console.log(
        `wave parity: max |diff| ${maxDiff.toFixed(4)} (pre-quantisation), max ${maxLevelDiff} grey levels, ${(100 * share).toFixed(3)}% within 1 level`,
      );
      expect(share).toBeGreaterThanOrEqual(0.999);
    } finally {
      net.dispose();
    }
  });
});
