// Issue 21: the stability term of training (src/models/stability.ts, train --stability-weight). Its value is
// what the total adds; its gradient is right (training on it alone drives it toward 0); the same steps give
// the same noise (a resumed run repeats them); a run without it is unchanged.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeImage } from '../src/node/image-io.js';
import { readSafetensors, writeSafetensors } from '../src/models/safetensors.js';
import { vggLayers } from '../src/models/vgg.js';
import { buildCliIfStale, runCli } from './helpers/cli.js';
import { Tensor } from '../src/engine/tensor.js';
import type { TrainConfig } from '../src/models/checkpoint.js';
import { checkStability, stabilityTerm, STABILITY_PERTURBATION } from '../src/models/stability.js';
import { Trainer } from '../src/models/trainer.js';
import { TransformNet } from '../src/models/transform-net.js';
import { Vgg } from '../src/models/vgg.js';
import { rng } from '../src/ops/cpu.js';
import { testEngine } from './helpers/gpu.js';

const SIZE = 16;

function batchData(seed: number): Float32Array {
  const r = rng(seed);
  const a = Array.from({ length: 6 }, () => r());
  const data = new Float32Array(2 * 3 * SIZE * SIZE);
  for (let i = 0; i < data.length; i++) {
    const x = i % SIZE;
    const y = Math.floor(i / SIZE) % SIZE;
    const c = Math.floor(i / (SIZE * SIZE)) % 3;
    data[i] = Math.round(127 + 100 * Math.sin(0.5 * x * (1 + a[c]) + 0.4 * y * a[c + 3]));
  }
  return data;
}

function config(stability: TrainConfig['stability'], loss: Partial<TrainConfig['loss']> = {}): TrainConfig {
  return {
    size: SIZE,
    batch: 2,
    lr: 1e-2,
    widthMultiplier: 0.125,
    seed: 4,
    loss: {
      contentLayer: 'relu2_2',
      styleLayers: ['relu1_2', 'relu2_2'],
      contentWeight: 1,
      styleWeight: 1e-3,
      tvWeight: 0,
      ...loss,
    },
    vgg: { architecture: 'vgg16', input: 'caffe' },
    ...(stability ? { stability } : {}),
  };
}

describe('stability term', () => {
  it('is 0 for a net that moves with the picture (identity, no noise) and > 0 with noise', async () => {
    const e = await testEngine();
    await e.scopeAsync(async () => {
      const x = Tensor.fromData(e, [2, 3, SIZE, SIZE], batchData(1));
      const none = stabilityTerm((t) => t, x, x, { weight: 1, noise: 0, shift: 1 }, 1, 1);
      expect((await none.data())[0]).toBe(0);
      const noisy = stabilityTerm((t) => t, x, x, { weight: 1, noise: 3, shift: 1 }, 1, 1);
      // An identity net passes the noise through: its mean square is σ² (within sampling error).
      expect((await noisy.data())[0]).toBeGreaterThan(0.8 * 9);
      expect((await noisy.data())[0]).toBeLessThan(1.2 * 9);
      const again = stabilityTerm((t) => t, x, x, { weight: 1, noise: 3, shift: 1 }, 1, 1);
      expect((await again.data())[0]).toBe((await noisy.data())[0]);
    });
  });

  it('adds weight · term to the total, and training on it alone drives it down', async () => {
    const e = await testEngine();
    const vgg = Vgg.random(e, { architecture: 'vgg16', input: 'caffe', layers: ['relu1_2', 'relu2_2'], seed: 3 });
    const style = e.keep(Tensor.fromData(e, [1, 3, SIZE, SIZE], batchData(9).subarray(0, 3 * SIZE * SIZE)));
    const stability = { weight: 10, ...STABILITY_PERTURBATION };
    const t = Trainer.create(e, config(stability), { vgg, styleImage: style });
    try {
      const l = await e.scopeAsync(async () => t.step(Tensor.fromData(e, [2, 3, SIZE, SIZE], batchData(2))));
      expect(l.stability).toBeGreaterThan(0);
      const expected = l.content * 1 + l.style * 1e-3 + 10 * l.stability!;
      expect(Math.abs(l.total - expected) / expected).toBeLessThan(1e-4);
    } finally {
      t.dispose();
    }

    // Content and style weighted 0: only the stability term is minimised.
    const alone = Trainer.create(e, config(stability, { contentWeight: 0, styleWeight: 0 }), {
      vgg,
      styleImage: style,
    });
    const values: number[] = [];
    try {
      for (let s = 0; s < 25; s++)
        values.push(
          (await e.scopeAsync(async () => alone.step(Tensor.fromData(e, [2, 3, SIZE, SIZE], batchData(2 + (s % 3))))))
            .stability!,
        );
    } finally {
      alone.dispose();
    }
    console.log(
      `stability.test: term ${values[0].toExponential(3)} → ${values[values.length - 1].toExponential(3)} over 25 steps`,
    );
    expect(values[values.length - 1]).toBeLessThan(0.5 * values[0]);

    // Without the option nothing changes: no stability value, the total is the three terms.
    const plain = Trainer.create(e, config(undefined), { vgg, styleImage: style });
    try {
      const l = await e.scopeAsync(async () => plain.step(Tensor.fromData(e, [2, 3, SIZE, SIZE], batchData(2))));
      expect(l.stability).toBeUndefined();
      expect(Math.abs(l.total - (l.content + 1e-3 * l.style)) / l.total).toBeLessThan(1e-4);
    } finally {
      plain.dispose();
      style.dispose();
      vgg.dispose();
    }
    expect(() => checkStability({ weight: -1, noise: 2, shift: 1 })).toThrow(/stability weight must be a number > 0/);
  }, 300_000);

  it('a TransformNet gives a finite, positive term', async () => {
    const e = await testEngine();
    const net = TransformNet.create(e, { widthMultiplier: 0.125, seed: 1 });
    await e.scopeAsync(async () => {
      const x = Tensor.fromData(e, [2, 3, SIZE, SIZE], batchData(5));
      const v = (
        await stabilityTerm(
          (t) => net.forward(t),
          x,
          net.forward(x),
          { weight: 1, ...STABILITY_PERTURBATION },
          1,
          3,
        ).data()
      )[0];
      expect(Number.isFinite(v) && v > 0).toBe(true);
    });
    net.dispose();
  });
});

describe('train --stability-weight', () => {
  it('prints the term, records it in the checkpoint, and a resumed run refuses another weight', async () => {
    buildCliIfStale();
    const dir = mkdtempSync(join(tmpdir(), 'stability-cli-'));
    try {
      mkdirSync(join(dir, 'photos'));
      const picture = async (seed: number) => {
        const d = batchData(seed);
        const rgba = new Uint8Array(SIZE * SIZE * 4);
        for (let p = 0; p < SIZE * SIZE; p++) rgba.set([d[p], d[SIZE * SIZE + p], d[2 * SIZE * SIZE + p], 255], p * 4);
        return await encodeImage({ width: SIZE, height: SIZE, data: rgba }, 'png');
      };
      writeFileSync(join(dir, 'photos', 'a.png'), await picture(1));
      writeFileSync(join(dir, 'photos', 'b.png'), await picture(2));
      writeFileSync(join(dir, 'style.png'), await picture(3));
      const r = rng(5);
      const weights = new Map<string, { shape: number[]; data: Float32Array }>();
      for (const l of vggLayers('vgg19').filter((v) => v.kind === 'conv' && v.index <= 7)) {
        weights.set(`features.${l.index}.weight`, {
          shape: [l.outChannels, l.inChannels, 3, 3],
          data: Float32Array.from(
            { length: l.outChannels * l.inChannels * 9 },
            () => (2 * r() - 1) * Math.sqrt(6 / (l.inChannels * 9)),
          ),
        });
        weights.set(`features.${l.index}.bias`, { shape: [l.outChannels], data: new Float32Array(l.outChannels) });
      }
      writeFileSync(join(dir, 'vgg.safetensors'), writeSafetensors(weights, { vgg_input: 'caffe' }));
      const train = (...more: string[]) =>
        runCli(
          [
            'train',
            '--style',
            'style.png',
            '--data',
            'photos',
            '--vgg',
            'vgg.safetensors',
            '--out',
            'm.safetensors',
            '--size',
            '16',
            '--batch',
            '2',
            '--width',
            '0.125',
            '--style-size',
            '16',
            '--style-layers',
            'relu1_2,relu2_2',
            '--content-layer',
            'relu2_2',
            '--workers',
            '0',
            ...more,
          ],
          { cwd: dir, timeout: 240_000 },
        );
      const first = train('--iters', '2', '--stability-weight', '5');
      expect(first.status, first.stderr).toBe(0);
      expect(first.stderr).toMatch(/step 2\/2 .*stability \d\.\d{3}e[+-]\d+/);
      const training = JSON.parse(
        readSafetensors(new Uint8Array(readFileSync(join(dir, 'm.ckpt.safetensors')))).metadata.training,
      );
      expect(training.stability).toEqual({ weight: 5, noise: 2, shift: 1 });
      const other = train('--iters', '3', '--resume', '--stability-weight', '1');
      expect(other.status).toBe(2);
      expect(other.stderr).toMatch(/--stability-weight 1 differs from the checkpoint's 5/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
