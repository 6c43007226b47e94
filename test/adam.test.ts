import { describe, expect, it } from 'vitest';
import { Adam } from '../src/autograd/optim.js';
import type { Engine } from '../src/engine/engine.js';
import { Tensor } from '../src/engine/tensor.js';
import { adamStep } from '../src/ops/adam.js';
import { cpuRandom, cpuTensor, type CpuTensor } from '../src/ops/cpu.js';
import { expectClose } from './helpers/check.js';
import { testEngine, toCpu, toGpu } from './helpers/gpu.js';

interface Hyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** torch.optim.Adam's update, written out in float64. */
class CpuAdam {
  m: Float64Array;
  v: Float64Array;
  constructor(
    readonly p: CpuTensor,
    readonly h: Hyper,
  ) {
    this.m = new Float64Array(p.data.length);
    this.v = new Float64Array(p.data.length);
  }
  step(grad: CpuTensor, t: number, lr = this.h.lr): void {
    const { beta1, beta2, eps, weightDecay } = this.h;
    const bc1 = 1 - beta1 ** t;
    const bc2 = 1 - beta2 ** t;
    for (let i = 0; i < this.p.data.length; i++) {
      const g = grad.data[i] + weightDecay * this.p.data[i];
      this.m[i] = beta1 * this.m[i] + (1 - beta1) * g;
      this.v[i] = beta2 * this.v[i] + (1 - beta2) * g * g;
      const mHat = this.m[i] / bc1;
      const vHat = this.v[i] / bc2;
      this.p.data[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
    }
  }
}

// Parameters move by about lr per step; float32 keeps ~1e-7 of values near 1.
const paramTol = { atol: 2e-6, rtol: 2e-6 };
const momentTol = { atol: 1e-7, rtol: 1e-5 };
const sizes = [[1], [37], [2, 5, 10, 10]];

function gradAt(shape: number[], step: number, which: number): CpuTensor {
  return cpuRandom(shape, 1000 * step + which, -2, 2);
}

function setGrad(e: Engine, p: Tensor, g: CpuTensor): void {
  p.grad?.dispose();
  p.grad = e.keep(toGpu(e, g)!);
}

describe('adamStep vs a float64 torch.optim.Adam', () => {
  for (const weightDecay of [0, 0.1]) {
    it(`six steps on 1, 37 and 1000 elements (weightDecay ${weightDecay})`, async () => {
      const e = await testEngine();
      const h: Hyper = { lr: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay };
      await e.scopeAsync(async () => {
        for (const [k, shape] of sizes.entries()) {
          const ref = new CpuAdam(cpuRandom(shape, 50 + k), h);
          const p = toGpu(e, ref.p)!;
          const m = Tensor.zeros(e, shape);
          const v = Tensor.zeros(e, shape);
          for (let t = 1; t <= 6; t++) {
            const g = gradAt(shape, t, k);
            ref.step(g, t);
            const gg = toGpu(e, g)!;
            adamStep(p, gg, m, v, { ...h, step: t });
            gg.dispose();
            expectClose(await toCpu(p), ref.p, paramTol, `param [${shape}] after step ${t}`);
          }
          expectClose(await m.data(), cpuTensor(shape, ref.m), momentTol, `m [${shape}]`);
          expectClose(await v.data(), cpuTensor(shape, ref.v), momentTol, `v [${shape}]`);
        }
      });
    });
  }

  it('eps is added after the square root of the bias-corrected v', async () => {
    // Tiny gradients make eps comparable to sqrt(v̂): adding it inside the root, or before the bias
    // correction, gives a visibly different step.
    const e = await testEngine();
    const h: Hyper = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-3, weightDecay: 0 };
    const shape = [37];
    const ref = new CpuAdam(cpuRandom(shape, 60), h);
    await e.scopeAsync(async () => {
      const p = toGpu(e, ref.p)!;
      const m = Tensor.zeros(e, shape);
      const v = Tensor.zeros(e, shape);
      for (let t = 1; t <= 3; t++) {
        const g = cpuRandom(shape, 70 + t, -2e-3, 2e-3);
        ref.step(g, t);
        adamStep(p, toGpu(e, g)!, m, v, { ...h, step: t });
      }
      expectClose(await toCpu(p), ref.p, paramTol, 'param');
    });
  });

  it('rejects mismatched tensors and a step below 1', async () => {
    const e = await testEngine();
    e.scope(() => {
      const p = Tensor.zeros(e, [5]);
      const bad = Tensor.zeros(e, [4]);
      const h = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 };
      expect(() => adamStep(p, bad, p, p, h)).toThrow(/grad \[4\].*\[5\]/);
      expect(() => adamStep(p, p, p, p, { ...h, step: 0 })).toThrow(/step 0/);
    });
  });
});

describe('Adam optimiser', () => {
  it('steps every parameter with a gradient, skips the others, follows a changed lr', async () => {
    const e = await testEngine();
    const h: Hyper = { lr: 0.02, beta1: 0.8, beta2: 0.99, eps: 1e-8, weightDecay: 0.01 };
    const refs = sizes.map((s, k) => new CpuAdam(cpuRandom(s, 80 + k), h));
    const params = refs.map((r) => e.keep(toGpu(e, r.p)!));
    const frozen = e.keep(Tensor.fromData(e, [3], [1, 2, 3]));
    const opt = new Adam([...params, frozen], { lr: h.lr, beta1: h.beta1, beta2: h.beta2, weightDecay: h.weightDecay });
    for (let t = 1; t <= 4; t++) {
      if (t === 3) opt.lr = 0.005;
      refs.forEach((r, k) => {
        const g = gradAt(r.p.shape, t, k);
        r.step(g, t, opt.lr);
        setGrad(e, params[k], g);
      });
      opt.step();
      opt.zeroGrad();
      expect(params[0].grad).toBeNull();
    }
    expect(opt.stepCount).toBe(4);
    for (const [k, r] of refs.entries()) expectClose(await toCpu(params[k]), r.p, paramTol, `param ${k}`);
    expect([...(await frozen.data())]).toEqual([1, 2, 3]);
    expect([...(await opt.state().m[3].data())]).toEqual([0, 0, 0]);
    opt.dispose();
    for (const p of [...params, frozen]) p.dispose();
  });

  it('state() / loadState() round trip continues identically', async () => {
    const e = await testEngine();
    const opts = { lr: 0.03, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
    const init = sizes.map((s, k) => cpuRandom(s, 90 + k));
    const a = init.map((t) => e.keep(toGpu(e, t)!));
    const optA = new Adam(a, opts);
    const stepWith = (opt: Adam, params: Tensor[], t: number) => {
      params.forEach((p, k) => setGrad(e, p, gradAt([...p.shape], t, k)));
      opt.step();
      opt.zeroGrad();
    };
    for (let t = 1; t <= 3; t++) stepWith(optA, a, t);

    const saved = optA.state();
    const m = await Promise.all(saved.m.map((t) => t.data()));
    const v = await Promise.all(saved.v.map((t) => t.data()));
    const b = await Promise.all(a.map(async (p) => e.keep(Tensor.fromData(e, p.shape, await p.data()))));
    const optB = new Adam(b, opts);
    optB.loadState(saved.step, m, v);
    expect(optB.stepCount).toBe(3);

    for (let t = 4; t <= 5; t++) {
      stepWith(optA, a, t);
      stepWith(optB, b, t);
    }
    for (let k = 0; k < a.length; k++) {
      expect(await b[k].data(), `param ${k}`).toEqual(await a[k].data());
      expect(await optB.state().m[k].data(), `m ${k}`).toEqual(await optA.state().m[k].data());
      expect(await optB.state().v[k].data(), `v ${k}`).toEqual(await optA.state().v[k].data());
    }
    // The round trip must matter: a fresh optimiser (step 0, zero moments) takes a different path.
    const c = await Promise.all(init.map(async (t) => e.keep(toGpu(e, t)!)));
    const optC = new Adam(c, opts);
    for (let t = 1; t <= 3; t++) stepWith(optC, c, t);
    const optD = new Adam(c, opts);
    for (let t = 4; t <= 5; t++) stepWith(optD, c, t);
    expect(await c[1].data()).not.toEqual(await a[1].data());

    expect(() => optB.loadState(1, m.slice(1), v)).toThrow(/loadState/);
    for (const o of [optA, optB, optC, optD]) o.dispose();
    for (const p of [...a, ...b, ...c]) p.dispose();
  });
});
