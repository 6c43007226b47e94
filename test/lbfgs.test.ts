// L-BFGS (src/autograd/lbfgs.ts) on problems with known minima, and the GPU vector reductions it reads
// scalars through (src/ops/vector.ts) against their float64 references.
import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/engine/engine.js';
import { Tensor } from '../src/engine/tensor.js';
import { LBFGS, cubicInterpolate } from '../src/autograd/lbfgs.js';
import { cpuRandom } from '../src/ops/cpu.js';
import { dot } from '../src/ops/vector.js';
import { testEngine } from './helpers/gpu.js';
import { axpyScalarsCase, vectorReductionCases } from './cases/vector.js';

describe('vector reductions', () => {
  // The cases live in test/cases/vector.ts, shared with the Deno runner (test/deno/run.ts).
  for (const c of vectorReductionCases) it(c.name, async () => c.run(await testEngine()));

  it('dot refuses different sizes', async () => {
    const e = await testEngine();
    e.scope(() => {
      expect(() => dot(Tensor.zeros(e, [3]), Tensor.zeros(e, [4]))).toThrow(/dot: sizes/);
    });
  });
});

/** A closure for LBFGS that evaluates f and its gradient on the CPU (float64) at the tensor's value. */
function cpuClosure(
  e: Engine,
  x: Tensor,
  f: (v: Float64Array) => { loss: number; grad: Float64Array },
  counter: { n: number },
) {
  return async () => {
    const v = Float64Array.from(await x.data());
    const r = f(v);
    counter.n++;
    x.grad = e.keep(Tensor.fromData(e, x.shape, Float32Array.from(r.grad)));
    return { loss: r.loss };
  };
}

describe('L-BFGS', () => {
  it('cubic interpolation finds the minimum of a cubic', () => {
    // f(t) = (t − 2)² (a quadratic is a cubic too): from t = 0 and t = 5 the minimiser is 2.
    const f = (t: number) => (t - 2) ** 2;
    const g = (t: number) => 2 * (t - 2);
    expect(cubicInterpolate(0, f(0), g(0), 5, f(5), g(5))).toBeCloseTo(2, 10);
    expect(cubicInterpolate(5, f(5), g(5), 0, f(0), g(0))).toBeCloseTo(2, 10);
    // Clamped to the bounds given.
    expect(cubicInterpolate(0, f(0), g(0), 5, f(5), g(5), [3, 4])).toBe(3);
  });

  it('reaches the minimum of a 60-d quadratic of condition 100 (strong Wolfe)', async () => {
    const e = await testEngine();
    const n = 60;
    // f(x) = ½ Σ a_i (x_i − c_i)², condition number 100; minimum 0 at c.
    const a = Float64Array.from({ length: n }, (_, i) => 10 ** ((2 * i) / (n - 1)));
    const c = cpuRandom([n], 11, -3, 3).data;
    const f = (v: Float64Array) => {
      let loss = 0;
      const grad = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        loss += 0.5 * a[i] * (v[i] - c[i]) ** 2;
        grad[i] = a[i] * (v[i] - c[i]);
      }
      return { loss, grad };
    };
    const x = e.keep(Tensor.zeros(e, [n]));
    // Steepest descent would need ~100·ln(1e4) ≈ 900 iterations for this accuracy.
    const opt = new LBFGS(x, { maxIter: 100, historySize: 10 });
    const counter = { n: 0 };
    const r = await opt.step(cpuClosure(e, x, f, counter));
    const v = await x.data();
    const worst = Math.max(...Array.from(v, (xi, i) => Math.abs(xi - c[i])));
    expect(worst, `stopped by ${r.stop} after ${opt.iterations} iterations`).toBeLessThan(1e-3);
    expect(f(Float64Array.from(v)).loss).toBeLessThan(1e-5 * f(new Float64Array(n)).loss);
    expect(opt.evaluations).toBe(counter.n);
    opt.dispose();
    x.dispose();
  });

  it('minimises the Rosenbrock function to (1, 1)', async () => {
    const e = await testEngine();
    const f = (v: Float64Array) => {
      const [p, q] = v;
      return {
        loss: (1 - p) ** 2 + 100 * (q - p * p) ** 2,
        grad: Float64Array.from([-2 * (1 - p) - 400 * p * (q - p * p), 200 * (q - p * p)]),
      };
    };
    const x = e.keep(Tensor.fromData(e, [2], [-1.2, 1]));
    const opt = new LBFGS(x, { maxIter: 200, historySize: 20 });
    const seen: number[] = [];
    opt.onIteration = ({ value }) => {
      seen.push(value.loss);
    };
    await opt.step(cpuClosure(e, x, f, { n: 0 }));
    const [p, q] = await x.data();
    expect(Math.abs(p - 1)).toBeLessThan(1e-3);
    expect(Math.abs(q - 1)).toBeLessThan(2e-3);
    // The strong-Wolfe line search never accepts an increase.
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeLessThanOrEqual(seen[i - 1]);
    opt.dispose();
    x.dispose();
  });

  it('without a line search takes fixed steps and still descends on a well-conditioned quadratic', async () => {
    const e = await testEngine();
    const n = 10;
    const f = (v: Float64Array) => {
      let loss = 0;
      const grad = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        loss += 0.5 * (1 + i / n) * (v[i] - 1) ** 2;
        grad[i] = (1 + i / n) * (v[i] - 1);
      }
      return { loss, grad };
    };
    const x = e.keep(Tensor.zeros(e, [n]));
    const opt = new LBFGS(x, { maxIter: 50, lineSearch: 'none', lr: 0.5 });
    await opt.step(cpuClosure(e, x, f, { n: 0 }));
    expect(f(Float64Array.from(await x.data())).loss).toBeLessThan(1e-6);
    opt.dispose();
    x.dispose();
  });
});

describe('L-BFGS memory', () => {
  it('keeps at most historySize pairs and frees everything on dispose', async () => {
    const e = await testEngine();
    const before = e.poolStats().liveBuffers;
    const n = 30;
    const x = e.keep(Tensor.zeros(e, [n]));
    const opt = new LBFGS(x, { maxIter: 12, historySize: 3 });
    const f = (v: Float64Array) => {
      let loss = 0;
      const grad = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        loss += 0.5 * (i + 1) * (v[i] - 1) ** 2 + 0.25 * (v[i] - 1) ** 4;
        grad[i] = (i + 1) * (v[i] - 1) + (v[i] - 1) ** 3;
      }
      return { loss, grad };
    };
    await opt.step(cpuClosure(e, x, f, { n: 0 }));
    // x, direction, previous gradient and ≤ 3 pairs (s, y).
    expect(e.poolStats().liveBuffers - before).toBeLessThanOrEqual(3 + 2 * 3);
    opt.dispose();
    x.dispose();
    expect(e.poolStats().liveBuffers).toBe(before);
  });
});

describe('axpyScalars', () => {
  it(axpyScalarsCase.name, async () => axpyScalarsCase.run(await testEngine()));
});
