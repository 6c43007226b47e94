import { describe, expect, it } from 'vitest';
import { apply, backward } from '../src/autograd/tape.js';
import { Tensor } from '../src/engine/tensor.js';
import { cpuRandom, cpuTensor, type CpuTensor } from '../src/ops/cpu.js';
import { meanAll, mseLoss, sumAll, tvLoss } from '../src/ops/losses.js';
import { TERMS_PER_BLOCK } from '../src/ops/reduce.js';
import { expectClose, maxAbs } from './helpers/check.js';
import { testEngine, toCpu, toGpu } from './helpers/gpu.js';
import { lossCases } from './cases/losses.js';

const U = 2 ** -24; // float32 unit roundoff

/**
 * Error bound of the GPU sum of `n` terms: each pass adds at most ITEMS_PER_THREAD (8) terms in a row and then
 * log2(256) = 8 tree levels, so every term passes through at most 16 roundings per pass; 4 more cover the term
 * itself (difference, square, weight) and the final scale. |error| ≤ k·u·Σ|term| with k = 16·passes + 4.
 */
function sumErrorBound(n: number, sumAbsTerms: number): number {
  let passes = 1;
  for (let blocks = Math.ceil(n / TERMS_PER_BLOCK); blocks > 1; blocks = Math.ceil(blocks / TERMS_PER_BLOCK)) passes++;
  return (16 * passes + 4) * U * sumAbsTerms;
}

function expectScalarWithin(got: number, expected: number, bound: number, what: string): void {
  expect(Math.abs(got - expected), `${what}: got ${got}, expected ${expected}, bound ${bound}`).toBeLessThanOrEqual(
    bound,
  );
}

/** d/dx of tvLoss(x) · upstream, in float64 (for shapes too big for finite differences). */
function tvGradient(x: CpuTensor, upstream: number): CpuTensor {
  const [n, c, h, w] = x.shape;
  const g = cpuTensor(x.shape);
  const countH = n * c * h * (w - 1);
  const countV = n * c * (h - 1) * w;
  for (let p = 0; p < n * c; p++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const k = (p * h + i) * w + j;
        if (j + 1 < w) {
          const d = (2 * upstream * (x.data[k + 1] - x.data[k])) / countH;
          g.data[k + 1] += d;
          g.data[k] -= d;
        }
        if (i + 1 < h) {
          const d = (2 * upstream * (x.data[k + w] - x.data[k])) / countV;
          g.data[k + w] += d;
          g.data[k] -= d;
        }
      }
    }
  }
  return g;
}

describe('sumAll / meanAll / mseLoss / tvLoss vs float64 reference and finite differences', () => {
  // The cases live in test/cases/losses.ts, shared with the Deno runner (test/deno/run.ts).
  for (const c of lossCases) it(c.name, async () => c.run(await testEngine()));

  it('tvLoss of a 1×1 image and of a constant image is exactly 0', async () => {
    const e = await testEngine();
    await e.scopeAsync(async () => {
      expect(await apply(tvLoss, [Tensor.full(e, [2, 3, 1, 1], 5)], {}).item()).toBe(0);
      expect(await apply(tvLoss, [Tensor.full(e, [2, 3, 9, 7], -1.5)], {}).item()).toBe(0);
    });
  });

  it('sumAll of an empty tensor is 0; meanAll and mseLoss of one are shape errors', async () => {
    const e = await testEngine();
    await e.scopeAsync(async () => {
      const empty = Tensor.zeros(e, [2, 0, 3]);
      expect(await apply(sumAll, [empty], {}).item()).toBe(0);
      expect(() => apply(meanAll, [empty], {})).toThrow(/meanAll.*\[2, 0, 3\]/);
      expect(() => apply(mseLoss, [empty, empty], {})).toThrow(/mseLoss.*no elements/);
    });
  });

  it('rejects mismatched shapes and non-NCHW inputs', async () => {
    const e = await testEngine();
    e.scope(() => {
      expect(() => apply(mseLoss, [Tensor.zeros(e, [2, 3]), Tensor.zeros(e, [3, 2])], {})).toThrow(
        /mseLoss.*\[2, 3\].*\[3, 2\]/,
      );
      expect(() => apply(tvLoss, [Tensor.zeros(e, [3, 4, 5])], {})).toThrow(/tvLoss.*\[3, 4, 5\]/);
    });
  });
});

describe('big reductions: several passes, float32 error within the stated bound, deterministic', () => {
  // Around the block boundaries: 2047/2048/2049 terms, 70001 (35 blocks, 2 passes), 2048²+3 (3 passes).
  for (const n of [255, 2047, 2048, 2049, 70001, TERMS_PER_BLOCK ** 2 + 3]) {
    it(`sumAll and mseLoss of ${n} elements`, async () => {
      const e = await testEngine();
      // Positive values: no cancellation, so the bound is tight relative to the sum.
      const x = cpuRandom([n], 21, 0, 1);
      const y = cpuRandom([n], 22, -1, 1);
      let sum = 0;
      let sse = 0;
      for (let i = 0; i < n; i++) {
        sum += x.data[i];
        sse += (x.data[i] - y.data[i]) ** 2;
      }
      await e.scopeAsync(async () => {
        const gx = toGpu(e, x)!;
        const gy = toGpu(e, y)!;
        const s1 = await apply(sumAll, [gx], {}).item();
        const s2 = await apply(sumAll, [gx], {}).item();
        expect(Object.is(s1, s2), 'same input, same bits').toBe(true);
        expectScalarWithin(s1, sum, sumErrorBound(n, sum), 'sumAll');
        const mse = await apply(mseLoss, [gx, gy], {}).item();
        expectScalarWithin(mse, sse / n, sumErrorBound(n, sse) / n, 'mseLoss');
      });
    });
  }

  it('mseLoss backward on 70001 elements reads a random upstream gradient on the GPU', async () => {
    const e = await testEngine();
    const n = 70001;
    const a = cpuRandom([n], 31);
    const b = cpuRandom([n], 32);
    const upstream = -0.75;
    const expectedA = cpuTensor([n]);
    const expectedB = cpuTensor([n]);
    for (let i = 0; i < n; i++) {
      expectedA.data[i] = (2 * upstream * (a.data[i] - b.data[i])) / n;
      expectedB.data[i] = -expectedA.data[i];
    }
    await e.scopeAsync(async () => {
      const ga = toGpu(e, a)!;
      const gb = toGpu(e, b)!;
      ga.requiresGrad = gb.requiresGrad = true;
      const loss = apply(mseLoss, [ga, gb], {});
      backward(loss, Tensor.fromData(e, [1], [upstream]));
      const tol = { atol: 1e-6 * maxAbs(expectedA), rtol: 1e-6 };
      expectClose(await toCpu(ga.grad!), expectedA, tol, 'd/da');
      expectClose(await toCpu(gb.grad!), expectedB, tol, 'd/db');
    });
  });

  it('tvLoss forward and backward on [2, 3, 67, 71] (14 blocks)', async () => {
    const e = await testEngine();
    const x = cpuRandom([2, 3, 67, 71], 41);
    const expected = tvLoss.reference([x], {});
    const upstream = 1.25;
    const expectedGrad = tvGradient(x, upstream);
    // Every term is a non-negative weighted square: Σ|term| is the loss itself.
    const sumAbsTerms = expected.data[0];
    await e.scopeAsync(async () => {
      const gx = toGpu(e, x)!;
      gx.requiresGrad = true;
      const loss = apply(tvLoss, [gx], {});
      expectScalarWithin(await loss.item(), expected.data[0], sumErrorBound(x.data.length, sumAbsTerms), 'tvLoss');
      backward(loss, Tensor.fromData(e, [1], [upstream]));
      expectClose(
        await toCpu(gx.grad!),
        expectedGrad,
        { atol: 1e-6 * maxAbs(expectedGrad), rtol: 1e-5 },
        'tvLoss d/dx',
      );
    });
  });
});
