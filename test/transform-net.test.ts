import { describe, expect, it } from 'vitest';
import { apply, backward, noGrad } from '../src/autograd/tape.js';
import { Tensor } from '../src/engine/tensor.js';
import { cpuRandom } from '../src/ops/cpu.js';
import { mul } from '../src/ops/elementwise.js';
import { sumAll } from '../src/ops/losses.js';
import { loadTransformNet, saveTransformNet } from '../src/models/model-file.js';
import { ModelFileError, readSafetensors, writeSafetensors } from '../src/models/safetensors.js';
import { TransformNet, channelWidths, parameterSpecs } from '../src/models/transform-net.js';
import { testEngine } from './helpers/gpu.js';

/** pytorch/examples fast_neural_style TransformerNet().state_dict(): names and shapes, in order. */
function pytorchExamplesStateDict(): [string, number[]][] {
  const conv = (name: string, cout: number, cin: number, k: number): [string, number[]][] => [
    [`${name}.conv2d.weight`, [cout, cin, k, k]],
    [`${name}.conv2d.bias`, [cout]],
  ];
  const norm = (name: string, c: number): [string, number[]][] => [
    [`${name}.weight`, [c]],
    [`${name}.bias`, [c]],
  ];
  const out = [
    ...conv('conv1', 32, 3, 9),
    ...norm('in1', 32),
    ...conv('conv2', 64, 32, 3),
    ...norm('in2', 64),
    ...conv('conv3', 128, 64, 3),
    ...norm('in3', 128),
  ];
  for (const r of [1, 2, 3, 4, 5])
    out.push(
      ...conv(`res${r}.conv1`, 128, 128, 3),
      ...norm(`res${r}.in1`, 128),
      ...conv(`res${r}.conv2`, 128, 128, 3),
      ...norm(`res${r}.in2`, 128),
    );
  out.push(
    ...conv('deconv1', 64, 128, 3),
    ...norm('in4', 64),
    ...conv('deconv2', 32, 64, 3),
    ...norm('in5', 32),
    ...conv('deconv3', 3, 32, 9),
  );
  return out;
}

describe('TransformNet layout', () => {
  it('has exactly pytorch/examples parameter names and shapes at width 1', () => {
    expect(parameterSpecs({ widthMultiplier: 1 }).map((s) => [s.name, s.shape])).toEqual(pytorchExamplesStateDict());
    // 1,679,235 parameters: the published net's count.
    expect(parameterSpecs().reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0)).toBe(1679235);
  });

  it('scales channels with the width multiplier (at least 1)', () => {
    expect(channelWidths(0.25)).toEqual([8, 16, 32]);
    expect(channelWidths(0.001)).toEqual([1, 1, 1]);
    expect(() => TransformNet.create(null as never, { widthMultiplier: 0 })).toThrow(/positive/);
  });

  it('initialises like PyTorch: conv weights and biases in ±1/√fanIn, IN gamma 1 and beta 0, seeded', async () => {
    const e = await testEngine();
    const a = TransformNet.create(e, { widthMultiplier: 0.125, seed: 3 });
    const b = TransformNet.create(e, { widthMultiplier: 0.125, seed: 3 });
    try {
      const p = a.parameters();
      const w = await p.get('conv2.conv2d.weight')!.data();
      const bound = 1 / Math.sqrt(4 * 9);
      expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.9 * bound);
      expect(Array.from(await p.get('in3.weight')!.data())).toEqual(new Array(16).fill(1));
      expect(Array.from(await p.get('in3.bias')!.data())).toEqual(new Array(16).fill(0));
      expect(await b.parameters().get('deconv3.conv2d.weight')!.data()).toEqual(
        await p.get('deconv3.conv2d.weight')!.data(),
      );
      for (const t of p.values()) expect(t.requiresGrad).toBe(true);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

describe('TransformNet forward', () => {
  it('returns the input size for odd and tiny images (1×1, 5×7, 13×10, 8×12), pixels in the tanh range', async () => {
    const e = await testEngine();
    const net = TransformNet.create(e, { widthMultiplier: 0.125, seed: 1 });
    try {
      for (const [h, w] of [
        [1, 1],
        [5, 7],
        [13, 10],
        [8, 12],
      ]) {
        await e.scopeAsync(async () => {
          const x = Tensor.fromData(
            e,
            [2, 3, h, w],
            Float32Array.from(cpuRandom([2, 3, h, w], h * 31 + w, 0, 255).data),
          );
          const y = noGrad(() => net.forward(x));
          expect(y.shape).toEqual([2, 3, h, w]);
          const v = await y.data();
          for (const p of v) expect(p > -22.5 && p < 277.5).toBe(true);
        });
      }
      // Memory: a second pass over the same sizes allocates no new buffers.
      const created = e.poolStats().created;
      e.scope(() => noGrad(() => net.forward(Tensor.zeros(e, [2, 3, 13, 10]))));
      expect(e.poolStats().created).toBe(created);
    } finally {
      net.dispose();
    }
  });

  it('a 1×1 image comes out as a flat colour (edge-replicated internally)', async () => {
    const e = await testEngine();
    const net = TransformNet.create(e, { widthMultiplier: 0.125, seed: 2 });
    try {
      const out = await e.scopeAsync(async () =>
        noGrad(() => net.forward(Tensor.fromData(e, [1, 3, 1, 1], [10, 200, 90]))).data(),
      );
      expect(out.length).toBe(3);
      expect(out.every(Number.isFinite)).toBe(true);
    } finally {
      net.dispose();
    }
  });
});

describe('TransformNet gradient', () => {
  /**
   * d/dW of L = Σ R ⊙ net(x) for conv weights, through the whole net (convs, instance norms, ReLUs, residual
   * adds, resize-convs, scaled tanh), GPU backward vs central differences of the GPU forward, 8×8 input.
   *
   * Step h = 1e-4. Noise: L sums 192 outputs of ~±100 in float32 and carries up to ~1e-3 of rounding noise,
   * i.e. up to ~5 in a central difference (1e-3 / 2h) against entries up to ~4e3; truncation (h² times the
   * third derivative) is far below that. Measured: errors ≤ 6 on conv2 (max|g| 4111), ≤ 1.4 on res3.conv2
   * (max|g| 345), ≤ 0.3 on deconv3. Tolerance 5e-3·max|g| + 5e-3·|g| + 2: 3–5× those, while a wrong backward
   * (a missing term, a wrong sign or scale) is off by O(|g|).
   * ReLU kinks: a step that crosses one measures no derivative (instance norms put some ReLU inputs within
   * 1e-4 of 0; at 16×16 this seed has one, which shifts every upstream difference). Such entries show
   * one-sided differences that disagree by more than 1e-2·max|g| + 30 (their noise is ~15) and are skipped;
   * at least 12 of the 16 entries must remain.
   */
  it('matches central differences of the forward for conv2, res3.conv2 and deconv3 weights', async () => {
    const e = await testEngine();
    const net = TransformNet.create(e, { widthMultiplier: 0.125, seed: 5 });
    const xCpu = cpuRandom([1, 3, 8, 8], 21, 0, 255);
    const rCpu = cpuRandom([1, 3, 8, 8], 22, -1, 1);
    const x = e.keep(Tensor.fromData(e, xCpu.shape, Float32Array.from(xCpu.data)));
    const r = e.keep(Tensor.fromData(e, rCpu.shape, Float32Array.from(rCpu.data)));
    try {
      const objective = async (): Promise<number> => {
        const y = await e.scopeAsync(async () => noGrad(() => net.forward(x)).data());
        let s = 0;
        for (let i = 0; i < y.length; i++) s += y[i] * rCpu.data[i];
        return s;
      };
      await e.scopeAsync(async () => {
        backward(apply(sumAll, [apply(mul, [net.forward(x), r], {})], {}));
      });
      const h = 1e-4;
      let checked = 0;
      let skipped = 0;
      for (const [name, picks] of [
        ['conv2.conv2d.weight', [0, 7, 50, 101, 200, 287]],
        ['res3.conv2.conv2d.weight', [3, 500, 1111, 2000, 2303]],
        ['deconv3.conv2d.weight', [0, 40, 123, 300, 647]],
      ] as const) {
        const p = net.parameters().get(name)!;
        const analytic = await p.grad!.data();
        const values = await p.data();
        const f0 = await objective();
        const rows: { idx: number; central: number; kink: number }[] = [];
        for (const i of picks) {
          const v = values[i];
          values[i] = v + h;
          p.write(values);
          const plus = await objective();
          values[i] = v - h;
          p.write(values);
          const minus = await objective();
          values[i] = v;
          p.write(values);
          rows.push({ idx: i, central: (plus - minus) / (2 * h), kink: Math.abs((plus - f0) / h - (f0 - minus) / h) });
        }
        const maxG = Math.max(...picks.map((i) => Math.abs(analytic[i])));
        expect(maxG, `${name}: gradient is not all zero`).toBeGreaterThan(1);
        for (const row of rows) {
          if (row.kink > 1e-2 * maxG + 30) {
            skipped++;
            continue;
          }
          checked++;
          const g = analytic[row.idx];
          expect(
            Math.abs(g - row.central),
            `${name}[${row.idx}]: backward ${g}, differences ${row.central}`,
          ).toBeLessThanOrEqual(5e-3 * maxG + 5e-3 * Math.abs(row.central) + 2);
        }
      }
      expect(checked, `entries checked (${skipped} straddled a ReLU kink)`).toBeGreaterThanOrEqual(12);
    } finally {
      x.dispose();
      r.dispose();
      net.dispose();
    }
  });
});

describe('TransformNet weights in and out', () => {
  it('fromTensors names the missing, unexpected or misshapen tensor', async () => {
    const e = await testEngine();
    const specs = parameterSpecs({ widthMultiplier: 0.125 });
    const full = () =>
      new Map(
        specs.map((s) => [s.name, { shape: s.shape, data: new Float32Array(s.shape.reduce((a, b) => a * b, 1)) }]),
      );
    const missing = full();
    missing.delete('res2.in1.bias');
    expect(() => TransformNet.fromTensors(e, { widthMultiplier: 0.125 }, missing, 'x.safetensors')).toThrow(
      ModelFileError,
    );
    expect(() => TransformNet.fromTensors(e, { widthMultiplier: 0.125 }, missing, 'x.safetensors')).toThrow(
      /x\.safetensors: missing tensor res2\.in1\.bias \[16\]/,
    );
    const extra = full();
    extra.set('res6.conv1.conv2d.weight', { shape: [1], data: new Float32Array(1) });
    expect(() => TransformNet.fromTensors(e, { widthMultiplier: 0.125 }, extra)).toThrow(
      /unexpected tensor res6\.conv1\.conv2d\.weight/,
    );
    const bad = full();
    bad.set('deconv1.conv2d.weight', { shape: [8, 16, 3, 1], data: new Float32Array(384) });
    expect(() => TransformNet.fromTensors(e, { widthMultiplier: 0.125 }, bad)).toThrow(
      /deconv1\.conv2d\.weight has shape \[8, 16, 3, 1\].*needs \[8, 16, 3, 3\]/,
    );
    // Old PyTorch InstanceNorm checkpoints carry unused running stats: accepted.
    const legacy = full();
    legacy.set('in1.running_mean', { shape: [4], data: new Float32Array(4) });
    legacy.set('res1.in2.running_var', { shape: [16], data: new Float32Array(16) });
    TransformNet.fromTensors(e, { widthMultiplier: 0.125 }, legacy).dispose();
  });

  it('saves and loads a model file (F32 exactly, F16 closely) with its metadata', async () => {
    const e = await testEngine();
    const net = TransformNet.create(e, { widthMultiplier: 0.125, seed: 9 });
    try {
      const bytes = await saveTransformNet(net, { style: 'starry_night', training: { lr: 1e-3 }, step: 12 });
      const meta = readSafetensors(bytes).metadata;
      expect(meta.format).toBe('fast-style-webgpu/transform-net');
      expect(JSON.parse(meta.architecture)).toMatchObject({
        widthMultiplier: 0.125,
        outputScale: 150,
        outputOffset: 127.5,
        instanceNormEps: 1e-5,
        padding: 'reflect',
      });
      const { net: loaded, metadata } = await loadTransformNet(e, bytes, 'm.safetensors');
      expect(metadata).toMatchObject({ style: 'starry_night', step: 12, training: { lr: 1e-3 }, version: 1 });
      const x = e.keep(Tensor.fromData(e, [1, 3, 9, 6], Float32Array.from(cpuRandom([1, 3, 9, 6], 4, 0, 255).data)));
      const run = (n: TransformNet) => e.scopeAsync(async () => noGrad(() => n.forward(x)).data());
      expect(await run(loaded)).toEqual(await run(net));
      loaded.dispose();
      const half = await loadTransformNet(e, await saveTransformNet(net, {}, { dtype: 'F16' }), 'h.safetensors');
      const a = await half.net.parameters().get('conv1.conv2d.weight')!.data();
      const b = await net.parameters().get('conv1.conv2d.weight')!.data();
      a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThanOrEqual(Math.abs(b[i]) * 2 ** -11 + 1e-7));
      half.net.dispose();
      x.dispose();
    } finally {
      net.dispose();
    }
  });

  it('refuses files that are not our models, naming the file', async () => {
    const e = await testEngine();
    await expect(loadTransformNet(e, new TextEncoder().encode('hello, not a model'), 'notes.txt')).rejects.toThrow(
      /notes\.txt/,
    );
    const foreign = writeSafetensors(new Map([['features.0.weight', { shape: [1], data: new Float32Array(1) }]]));
    await expect(loadTransformNet(e, foreign, 'vgg.safetensors')).rejects.toThrow(
      /vgg\.safetensors: not a fast-style-webgpu model/,
    );
    const future = writeSafetensors(new Map(), {
      format: 'fast-style-webgpu/transform-net',
      version: '9',
      architecture: '{}',
    });
    await expect(loadTransformNet(e, future, 'f.safetensors')).rejects.toThrow(/version 9 is newer/);
    const net = TransformNet.create(e, { widthMultiplier: 0.125 });
    const bytes = readSafetensors(await saveTransformNet(net));
    net.dispose();
    bytes.tensors.delete('in5.weight');
    const truncated = writeSafetensors(bytes.tensors, bytes.metadata);
    await expect(loadTransformNet(e, truncated, 't.safetensors')).rejects.toThrow(
      /t\.safetensors: missing tensor in5\.weight/,
    );
  });
});
