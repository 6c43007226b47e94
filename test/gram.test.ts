import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apply, backward } from '../src/autograd/tape.js';
import { ShapeError } from '../src/engine/errors.js';
import { Tensor } from '../src/engine/tensor.js';
import { cpuRandom, cpuTensor, type CpuTensor } from '../src/ops/cpu.js';
import type { FeedChoice } from '../src/ops/feed.js';
import { gram, GRAM_FEED } from '../src/ops/gram.js';
import { expectClose, maxAbs } from './helpers/check.js';
import { numericGradient } from './helpers/gradcheck.js';
import { expectNoBufferLeft } from './helpers/memory.js';
import { testEngine, toCpu, toGpu } from './helpers/gpu.js';
import { forwardTol, gramCases } from './cases/gram.js';

/** Float64 backward of gram: dF = (dG + dGᵀ)·F/(C·K). */
function referenceBackward(x: CpuTensor, dG: CpuTensor): CpuTensor {
  const [batch, channels, h, w] = x.shape;
  const k = h * w;
  const dx = cpuTensor(x.shape);
  const scale = 1 / (channels * k);
  for (let n = 0; n < batch; n++) {
    const g = (i: number, j: number): number => dG.data[(n * channels + i) * channels + j];
    for (let i = 0; i < channels; i++) {
      for (let col = 0; col < k; col++) {
        let s = 0;
        for (let j = 0; j < channels; j++) s += (g(i, j) + g(j, i)) * x.data[(n * channels + j) * k + col];
        dx.data[(n * channels + i) * k + col] = s * scale;
      }
    }
  }
  return dx;
}

/** Forward and backward on the GPU against the float64 reference and referenceBackward. */
async function compareMidSize(x: CpuTensor, seed: number): Promise<void> {
  const e = await testEngine();
  const expected = gram.reference([x], {});
  const dG = cpuRandom(expected.shape, seed);
  const dxRef = referenceBackward(x, dG);
  await e.scopeAsync(async () => {
    const { output, saved } = gram.forward([toGpu(e, x)], {});
    expectClose(await toCpu(output), expected, forwardTol, 'gram forward');
    const [dx] = gram.backward!({ saved, attrs: {}, inputShapes: [x.shape], needsGrad: [true] }, toGpu(e, dG)!);
    const scale = maxAbs(dxRef);
    expectClose(await toCpu(dx!), dxRef, { atol: 1e-5 * scale, rtol: 1e-4 }, 'gram backward');
  });
}

// Both feeds on every adapter: staged (workgroup memory) and registers (what CPU adapters run).
for (const feed of ['staged', 'registers'] as const) {
  describe(`gram, ${feed}`, () => {
    let old: FeedChoice;
    beforeAll(async () => {
      old = (await testEngine()).setChoice(GRAM_FEED, feed);
    });
    afterAll(async () => {
      (await testEngine()).setChoice(GRAM_FEED, old);
    });

    describe('gram vs float64 reference (finite differences)', () => {
      // The cases live in test/cases/gram.ts, shared with the Deno runner (test/deno/run.ts).
      for (const c of gramCases) it(c.name, async () => c.run(await testEngine()));

      it('the float64 backward used below agrees with finite differences', () => {
        const x = cpuRandom([2, 4, 3, 5], 4);
        const dG = cpuRandom([2, 4, 4], 5);
        const numeric = numericGradient(gram, [x], {}, dG, 0);
        expectClose(referenceBackward(x, dG), numeric, { atol: 1e-8, rtol: 1e-6 }, 'reference backward');
      });
    });

    describe('gram, mid-size (GPU vs float64, no finite differences)', () => {
      it('N = 2, C = 37, 23×19 (split-K over H·W = 437, backward over 7 column tiles)', async () => {
        await compareMidSize(cpuRandom([2, 37, 23, 19], 6), 7);
      });

      it('N = 2, C = 70, 5×9 (two tiles per side: off-diagonal tiles and their mirror)', async () => {
        await compareMidSize(cpuRandom([2, 70, 5, 9], 8), 9);
      });

      it('N = 1, C = 130, 33×17 relu-like features (three tiles per side, split-K)', async () => {
        const x = cpuRandom([1, 130, 33, 17], 10, -1, 2);
        for (let i = 0; i < x.data.length; i++) x.data[i] = Math.max(x.data[i], 0);
        await compareMidSize(x, 11);
      });
    });
  });
}

describe('gram shape errors', () => {
  it('names the op and the shape', async () => {
    const e = await testEngine();
    e.scope(() => {
      expect(() => apply(gram, [Tensor.zeros(e, [2, 3, 4])], {})).toThrow(ShapeError);
      expect(() => apply(gram, [Tensor.zeros(e, [2, 3, 4])], {})).toThrow(/gram.*\[2, 3, 4\]/);
    });
  });
});

describe('gram memory', () => {
  it('forward (with split-K partials) + backward leave no buffer behind', async () => {
    const e = await testEngine();
    await expectNoBufferLeft(e, () => {
      const x = Tensor.fromData(e, [2, 9, 23, 19], cpuRandom([2, 9, 23, 19], 100).data);
      x.requiresGrad = true;
      const g = apply(gram, [x], {});
      const dG = Tensor.full(e, g.shape, 1);
      backward(g, dG);
      expect(x.grad?.shape).toEqual([2, 9, 23, 19]);
      for (const t of [x, g, dG]) t.dispose();
    });
  });
});
