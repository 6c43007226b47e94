// maxPool2d vs its float64 reference and finite differences, and its tie rule (test/pool.test.ts, Deno runner).
import { apply, backward } from '../../src/autograd/tape.js';
import { cpuTensor, rng, type CpuTensor } from '../../src/ops/cpu.js';
import { maxPool2d } from '../../src/ops/pool.js';
import { expectClose } from '../helpers/check.js';
import { checkOp } from '../helpers/gradcheck.js';
import { toCpu, toGpu } from '../helpers/tensors.js';
import { assertEqual, type EngineCase } from './case.js';

export const exact = { atol: 0, rtol: 0 };
export const gradTol = { atol: 1e-5, rtol: 1e-4 };

/**
 * Values that are all distinct and at least 0.01 apart (a shuffled ramp), so that central differences with a
 * step of 1e-4 never move a window's argmax.
 */
export function distinct(shape: number[], seed: number): CpuTensor {
  const t = cpuTensor(shape);
  const r = rng(seed);
  const order = Array.from(t.data, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  order.forEach((slot, k) => (t.data[slot] = Math.fround(-5 + 0.01 * k)));
  return t;
}

/** One plane 2×6, three windows: all equal; top row tied; bottom-left and bottom-right tied. */
export const ties = {
  x: () => cpuTensor([1, 1, 2, 6], [4, 4, 1, 3, 0, 0, 4, 4, 3, 2, 5, 5]),
  dy: () => cpuTensor([1, 1, 1, 3], [10, 20, 30]),
  dx: () => cpuTensor([1, 1, 2, 6], [10, 0, 0, 20, 0, 0, 0, 0, 0, 0, 30, 0]),
};

export const maxPoolCases: EngineCase[] = [
  {
    name: 'odd H and W drop the last row and column (2×3×7×5 → 2×3×3×2)',
    async run(engine) {
      const x = distinct([2, 3, 7, 5], 1);
      assertEqual(maxPool2d.reference([x], {}).shape, [2, 3, 3, 2], 'reference output shape');
      await checkOp(engine, { op: maxPool2d, inputs: [x], attrs: {}, forwardTol: exact, gradTol });
    },
  },
  {
    name: 'even H and W, 5 channels (1×5×6×8)',
    run: (engine) =>
      checkOp(engine, { op: maxPool2d, inputs: [distinct([1, 5, 6, 8], 2)], attrs: {}, forwardTol: exact, gradTol }),
  },
  {
    name: 'smallest input (3×1×2×3 → 3×1×1×1)',
    run: (engine) =>
      checkOp(engine, { op: maxPool2d, inputs: [distinct([3, 1, 2, 3], 3)], attrs: {}, forwardTol: exact, gradTol }),
  },
  {
    name: 'ties: the gradient goes to the first maximum in row-major window order',
    async run(e) {
      await e.scopeAsync(async () => {
        const gx = toGpu(e, ties.x())!;
        gx.requiresGrad = true;
        const y = apply(maxPool2d, [gx], {});
        expectClose(await toCpu(y), cpuTensor([1, 1, 1, 3], [4, 3, 5]), exact, 'maxPool2d forward with ties');
        backward(y, toGpu(e, ties.dy())!);
        expectClose(await toCpu(gx.grad!), ties.dx(), exact, 'maxPool2d backward with ties');
      });
    },
  },
];
