// F16 training checkpoints (train --save-dtype f16): half the size, Adam moments scaled per tensor into
// float16's range, resume close to the uninterrupted run. The F32 default resumes bit for bit (train.test.ts).
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/engine/tensor.js';
import { rng } from '../src/ops/cpu.js';
import { readSafetensors } from '../src/models/safetensors.js';
import { SampleOrder } from '../src/models/sample-order.js';
import { decodeCheckpoint, encodeCheckpoint, type TrainConfig } from '../src/models/checkpoint.js';
import { Trainer } from '../src/models/trainer.js';
import { Vgg } from '../src/models/vgg.js';
import type { Engine } from '../src/engine/engine.js';
import { testEngine } from './helpers/gpu.js';

const SIZE = 16;

function images(count: number, seed: number): Float32Array[] {
  const r = rng(seed);
  return Array.from({ length: count }, () =>
    Float32Array.from({ length: 3 * SIZE * SIZE }, () => Math.round(255 * r())),
  );
}

function batchFor(e: Engine, t: Trainer, imgs: Float32Array[]): Tensor {
  const order = new SampleOrder(t.config.seed, imgs.length);
  const b = t.config.batch;
  const data = new Float32Array(b * 3 * SIZE * SIZE);
  for (let i = 0; i < b; i++) {
    const pick = order.at(t.samplesSeen + i);
    const src = imgs[pick.file];
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < SIZE; y++) {
        for (let x = 0; x < SIZE; x++)
          data[((i * 3 + c) * SIZE + y) * SIZE + x] = src[(c * SIZE + y) * SIZE + (pick.flip ? SIZE - 1 - x : x)];
      }
    }
  }
  return Tensor.fromData(e, [b, 3, SIZE, SIZE], data);
}

/** Largest |a − b| over a tensor, relative to the largest |b| (moments span many decades across tensors). */
function relMaxDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return m === 0 ? d : d / m;
}

describe('F16 training checkpoints', () => {
  const config: TrainConfig = {
    size: SIZE,
    batch: 2,
    lr: 1e-2,
    widthMultiplier: 0.125,
    seed: 3,
    // torchvision-convention weights: the moments reach far beyond float16's 65504 unscaled.
    loss: {
      contentLayer: 'relu2_2',
      styleLayers: ['relu1_2', 'relu2_2'],
      contentWeight: 1e5,
      styleWeight: 1e10,
      tvWeight: 1,
    },
    vgg: { architecture: 'vgg16', input: 'torchvision' },
    styleName: 'noise',
  };

  it('is half the size, keeps weights and moments to float16 precision, and resumes close to the straight run', async () => {
    const e = await testEngine();
    const vgg = Vgg.random(e, { architecture: 'vgg16', input: 'torchvision', layers: ['relu1_2', 'relu2_2'], seed: 2 });
    const style = e.keep(Tensor.fromData(e, [1, 3, SIZE, SIZE], images(1, 5)[0]));
    const imgs = images(3, 12);
    const run = async (t: Trainer, steps: number) => {
      const out = [];
      for (let s = 0; s < steps; s++) out.push(await e.scopeAsync(async () => t.step(batchFor(e, t, imgs))));
      return out;
    };
    try {
      const first = Trainer.create(e, config, { vgg, styleImage: style });
      await run(first, 3);
      const state = await first.trainingState();
      const f32 = encodeCheckpoint(state);
      const f16 = encodeCheckpoint(state, { dtype: 'F16' });
      const { m: m0, v: v0 } = first.adam.state();
      const mBefore = await Promise.all(m0.map((t) => t.data()));
      const vBefore = await Promise.all(v0.map((t) => t.data()));
      let vMax = 0;
      for (const v of vBefore) for (const x of v) vMax = Math.max(vMax, x);
      expect(vMax).toBeGreaterThan(65504); // the case the scaling is for
      const straightLosses = await run(first, 2);
      first.dispose();

      expect(f16.length).toBeLessThan(0.55 * f32.length);
      const file = readSafetensors(f16);
      expect([...file.tensors.values()].every((t) => t.dtype === 'F16')).toBe(true);
      expect(Object.keys(JSON.parse(file.metadata.adamScales))).toContain('res1.conv1.conv2d.weight');

      const resumed = Trainer.resume(
        e,
        decodeCheckpoint(f16, 'run.ckpt.safetensors'),
        { vgg, styleImage: style },
        'run.ckpt.safetensors',
      );
      expect(resumed.stepCount).toBe(3);
      expect(resumed.samplesSeen).toBe(6);
      const { m, v } = resumed.adam.state();
      for (let i = 0; i < m.length; i++) {
        expect(relMaxDiff(await m[i].data(), mBefore[i])).toBeLessThan(1e-3);
        expect(relMaxDiff(await v[i].data(), vBefore[i])).toBeLessThan(1e-3);
      }
      const resumedLosses = await run(resumed, 2);
      for (let s = 0; s < 2; s++) {
        for (const k of ['content', 'style', 'tv', 'total'] as const) {
          expect(
            Math.abs(resumedLosses[s][k] - straightLosses[s][k]) / Math.abs(straightLosses[s][k]),
            `step ${s + 4} ${k}`,
          ).toBeLessThan(1e-2);
        }
      }
      resumed.dispose();
    } finally {
      style.dispose();
      vgg.dispose();
    }
  }, 300_000);

  it('a second moment flushed to zero beside a kept first moment is restored as m² (a bounded step)', async () => {
    const e = await testEngine();
    const vgg = Vgg.random(e, { architecture: 'vgg16', input: 'torchvision', layers: ['relu1_2', 'relu2_2'], seed: 2 });
    const style = e.keep(Tensor.fromData(e, [1, 3, SIZE, SIZE], images(1, 5)[0]));
    try {
      const t = Trainer.create(e, config, { vgg, styleImage: style });
      const params = [...t.net.parameters().values()];
      const m = params.map((p) => new Float32Array(p.size).fill(1e-3));
      const v = params.map((p) => new Float32Array(p.size).fill(1e-6));
      m[0][0] = 1e5;
      v[0][0] = 1e10;
      v[0][1] = 1e-20; // 2^-66 below the tensor's largest: float16 flushes it, m[0][1] = 1e-3 survives
      t.adam.loadState(7, m, v);
      const bytes = encodeCheckpoint(await t.trainingState(), { dtype: 'F16' });
      t.dispose();
      const r = Trainer.resume(e, decodeCheckpoint(bytes), { vgg, styleImage: style });
      const { m: rm, v: rv } = r.adam.state();
      const m0 = await rm[0].data();
      const v0 = await rv[0].data();
      expect(r.stepCount).toBe(7);
      expect(Math.abs(v0[0] - 1e10) / 1e10).toBeLessThan(1e-3);
      expect(Math.abs(m0[0] - 1e5) / 1e5).toBeLessThan(1e-3);
      expect(m0[1]).not.toBe(0);
      expect(v0[1]).toBe(Math.fround(m0[1] * m0[1]));
      r.dispose();
    } finally {
      style.dispose();
      vgg.dispose();
    }
  }, 300_000);
});
