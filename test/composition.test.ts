import { describe, expect, it } from 'vitest';
import { apply, backward } from '../src/autograd/tape.js';
import { Adam } from '../src/autograd/optim.js';
import type { Tensor } from '../src/engine/tensor.js';
import { conv2d, type Conv2dAttrs } from '../src/ops/conv2d.js';
import { cpuRandom, type CpuTensor } from '../src/ops/cpu.js';
import { relu, scaledTanh } from '../src/ops/elementwise.js';
import { instanceNorm } from '../src/ops/instance-norm.js';
import { mseLoss } from '../src/ops/losses.js';
import { expectClose, maxAbs } from './helpers/check.js';
import { testEngine, toCpu, toGpu } from './helpers/gpu.js';

// A tiny net with every kind of layer the transform net has:
// conv 3×3 (reflect) → instance norm → ReLU → resize-conv (nearest ×2, reflect) → 150·tanh + 127.5 → MSE.
const down: Conv2dAttrs = { stride: 1, padding: 1, padMode: 'reflect' };
const up: Conv2dAttrs = { stride: 1, padding: 1, padMode: 'reflect', upsample: 2 };
const names = ['w1', 'b1', 'gamma', 'beta', 'w2', 'b2'] as const;
type Params<T> = Record<(typeof names)[number], T>;

function cpuParams(): Params<CpuTensor> {
  const gamma = cpuRandom([4], 13, 0.5, 1.5);
  return {
    w1: cpuRandom([4, 3, 3, 3], 11, -0.5, 0.5),
    b1: cpuRandom([4], 12),
    gamma,
    beta: cpuRandom([4], 14),
    w2: cpuRandom([3, 4, 3, 3], 15, -0.3, 0.3),
    b2: cpuRandom([3], 16, -0.2, 0.2),
  };
}

/** The same net through the ops' float64 references. */
function cpuLoss(x: CpuTensor, target: CpuTensor, p: Params<CpuTensor>): number {
  let h = conv2d.reference([x, p.w1, p.b1], down);
  h = instanceNorm.reference([h, p.gamma, p.beta], { eps: 1e-5 });
  h = relu.reference([h], {});
  h = conv2d.reference([h, p.w2, p.b2], up);
  h = scaledTanh.reference([h], { alpha: 150, beta: 127.5 });
  return mseLoss.reference([h, target], {}).data[0];
}

function gpuLoss(x: Tensor, target: Tensor, p: Params<Tensor>): Tensor {
  let h = apply(conv2d, [x, p.w1, p.b1], down);
  h = apply(instanceNorm, [h, p.gamma, p.beta], { eps: 1e-5 });
  h = apply(relu, [h], {});
  h = apply(conv2d, [h, p.w2, p.b2], up);
  h = apply(scaledTanh, [h], { alpha: 150, beta: 127.5 });
  return apply(mseLoss, [h, target], {});
}

const xShape = [2, 3, 7, 5]; // batch 2, odd sizes
const x = cpuRandom(xShape, 1, -2, 2);
const target = cpuRandom([2, 3, 14, 10], 2, 0, 255);

describe('composition: conv → IN → ReLU → resize-conv → tanh → MSE', () => {
  it('loss and every parameter gradient match float64 central differences of the reference chain', async () => {
    const e = await testEngine();
    const p = cpuParams();
    const expectedLoss = cpuLoss(x, target, p);
    await e.scopeAsync(async () => {
      const gp = Object.fromEntries(names.map((n) => [n, toGpu(e, p[n])!])) as Params<Tensor>;
      for (const n of names) gp[n].requiresGrad = true;
      const loss = gpuLoss(toGpu(e, x)!, toGpu(e, target)!, gp);
      // float32 through two convs, a normalisation and tanh: 1e-5 relative is ~100 ulps of the loss.
      expect(Math.abs((await loss.item()) - expectedLoss) / expectedLoss).toBeLessThan(1e-5);
      backward(loss);
      const numeric = {} as Params<CpuTensor>;
      for (const n of names) {
        numeric[n] = { shape: p[n].shape, data: new Float64Array(p[n].data.length) };
        // 1e-6 in float64: truncation error ~1e-12 relative, far from ReLU kinks for these inputs.
        const eps = 1e-6;
        for (let i = 0; i < numeric[n].data.length; i++) {
          const v = p[n].data[i];
          p[n].data[i] = v + eps;
          const plus = cpuLoss(x, target, p);
          p[n].data[i] = v - eps;
          const minus = cpuLoss(x, target, p);
          p[n].data[i] = v;
          numeric[n].data[i] = (plus - minus) / (2 * eps);
        }
      }
      const scale = Math.max(...names.map((n) => maxAbs(numeric[n])));
      for (const n of names) {
        // The GPU works in float32: 1e-4 of the tensor's largest gradient (plus 1e-3 relative) leaves room for
        // its rounding and none for a wrong rule (a wrong term is O(1) of the gradient). The conv bias before
        // instance norm has a gradient of exactly 0 (the norm cancels any per-channel constant): what float32
        // leaves there is cancellation noise, bounded relative to the net's largest gradient.
        const own = maxAbs(numeric[n]);
        const atol = own > 1e-6 * scale ? 1e-4 * own : 1e-6 * scale;
        expectClose(await toCpu(gp[n].grad!), numeric[n], { atol, rtol: 1e-3 }, `d loss / d ${n}`);
      }
    });
  });

  it('a training loop of this net with Adam keeps GPU memory flat and lowers the loss', async () => {
    const e = await testEngine();
    const p = cpuParams();
    const gp = Object.fromEntries(names.map((n) => [n, e.keep(toGpu(e, p[n])!)])) as Params<Tensor>;
    for (const n of names) gp[n].requiresGrad = true;
    const gx = e.keep(toGpu(e, x)!);
    const gt = e.keep(toGpu(e, target)!);
    const opt = new Adam(
      names.map((n) => gp[n]),
      { lr: 0.01 },
    );
    const step = (): Tensor =>
      e.scope(() => {
        const loss = gpuLoss(gx, gt, gp);
        backward(loss);
        opt.step();
        opt.zeroGrad();
        return loss;
      });
    const first = step();
    const firstLoss = await first.item();
    first.dispose();
    let atFive = e.poolStats();
    for (let i = 1; i < 60; i++) {
      step().dispose();
      if (i === 5) atFive = e.poolStats();
    }
    const last = step();
    const lastLoss = await last.item();
    last.dispose();
    const end = e.poolStats();
    expect({ live: end.liveBuffers, bytes: end.liveBytes, created: end.created }).toEqual({
      live: atFive.liveBuffers,
      bytes: atFive.liveBytes,
      created: atFive.created,
    });
    expect(lastLoss).toBeLessThan(firstLoss);
    opt.dispose();
    for (const t of [...names.map((n) => gp[n]), gx, gt]) t.dispose();
  });
});
