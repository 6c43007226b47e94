import { describe, expect, it } from 'vitest';
import { apply, backward } from '../src/autograd/tape.js';
import { ShapeError } from '../src/engine/errors.js';
import { Tensor } from '../src/engine/tensor.js';
import { cpuRandom, cpuTensor, rng, type CpuTensor } from '../src/ops/cpu.js';
import { maxPool2d } from '../src/ops/pool.js';
import { expectClose } from './helpers/check.js';
import { checkOp } from './helpers/gradcheck.js';
import { testEngine, toCpu, toGpu } from './helpers/gpu.js';

const exact = { atol: 0, rtol: 0 };
const gradTol = { atol: 1e-5, rtol: 1e-4 };

/**
 * Values that are all distinct and at least 0.01 apart (a shuffled ramp), so that central differences with a
 * step of 1e-4 never move a window's argmax.
 */
function distinct(shape: number[], seed: number): CpuTensor {
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

/** Float64 max-pool backward: each gradient to its window's first maximum in row-major order. */
function referenceBackward(x: CpuTensor, dy: CpuTensor): CpuTensor {
  const [n, c, h, w] = x.shape;
  const [, , oh, ow] = dy.shape;
  const dx = cpuTensor(x.shape);
  for (let plane = 0; plane < n * c; plane++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let arg = -1;
        for (let k = 0; k < 4; k++) {
          const at = (plane * h + 2 * oy + (k >> 1)) * w + 2 * ox + (k & 1);
          if (arg < 0 || x.data[at] > x.data[arg]) arg = at;
        }
        dx.data[arg] += dy.data[(plane * oh + oy) * ow + ox];
      }
    }
  }
  return dx;
}

describe('maxPool2d vs float64 reference', () => {
  it('odd H and W drop the last row and column (2×3×7×5 → 2×3×3×2)', async () => {
    const x = distinct([2, 3, 7, 5], 1);
    expect(maxPool2d.reference([x], {}).shape).toEqual([2, 3, 3, 2]);
    await checkOp(await testEngine(), { op: maxPool2d, inputs: [x], attrs: {}, forwardTol: exact, gradTol });
  });

  it('even H and W, 5 channels (1×5×6×8)', async () => {
    await checkOp(await testEngine(), { op: maxPool2d, inputs: [distinct([1, 5, 6, 8], 2)], attrs: {}, forwardTol: exact, gradTol });
  });

  it('smallest input (3×1×2×3 → 3×1×1×1)', async () => {
    await checkOp(await testEngine(), { op: maxPool2d, inputs: [distinct([3, 1, 2, 3], 3)], attrs: {}, forwardTol: exact, gradTol });
  });

  it('ties: the gradient goes to the first maximum in row-major window order', async () => {
    const e = await testEngine();
    // One plane 2×6, three windows: all equal; top row tied; bottom-left and bottom-right tied.
    const x = cpuTensor([1, 1, 2, 6], [
      4, 4, 1, 3, 0, 0,
      4, 4, 3, 2, 5, 5,
    ]);
    const dy = cpuTensor([1, 1, 1, 3], [10, 20, 30]);
    const expected = cpuTensor([1, 1, 2, 6], [
      10, 0, 0, 20, 0, 0,
      0, 0, 0, 0, 30, 0,
    ]);
    expect(referenceBackward(x, dy).data).toEqual(expected.data);
    await e.scopeAsync(async () => {
      const gx = toGpu(e, x)!;
      gx.requiresGrad = true;
      const y = apply(maxPool2d, [gx], {});
      expectClose(await toCpu(y), cpuTensor([1, 1, 1, 3], [4, 3, 5]), exact, 'maxPool2d forward with ties');
      backward(y, toGpu(e, dy)!);
      expectClose(await toCpu(gx.grad!), expected, exact, 'maxPool2d backward with ties');
    });
  });

  it('2×3×67×45 with random values (GPU vs float64, no finite differences)', async () => {
    const e = await testEngine();
    const x = cpuRandom([2, 3, 67, 45], 4);
    const expected = maxPool2d.reference([x], {});
    const dy = cpuRandom(expected.shape, 5);
    await e.scopeAsync(async () => {
      const gx = toGpu(e, x)!;
      gx.requiresGrad = true;
      const y = apply(maxPool2d, [gx], {});
      expectClose(await toCpu(y), expected, exact, 'maxPool2d forward');
      backward(y, toGpu(e, dy)!);
      expectClose(await toCpu(gx.grad!), referenceBackward(x, dy), exact, 'maxPool2d backward');
    });
  });
});

describe('maxPool2d shape errors', () => {
  it('names the op and the shape', async () => {
    const e = await testEngine();
    e.scope(() => {
      expect(() => apply(maxPool2d, [Tensor.zeros(e, [2, 3, 4])], {})).toThrow(ShapeError);
      expect(() => apply(maxPool2d, [Tensor.zeros(e, [2, 3, 4])], {})).toThrow(/maxPool2d.*\[2, 3, 4\]/);
      expect(() => apply(maxPool2d, [Tensor.zeros(e, [1, 2, 1, 5])], {})).toThrow(/maxPool2d.*\[1, 2, 1, 5\]/);
    });
  });
});

describe('maxPool2d memory', () => {
  it('forward + backward leave no buffer behind', async () => {
    const e = await testEngine();
    await e.sync();
    const before = e.poolStats().liveBuffers;
    const x = Tensor.fromData(e, [2, 3, 7, 5], distinct([2, 3, 7, 5], 100).data);
    x.requiresGrad = true;
    const y = apply(maxPool2d, [x], {});
    const dy = Tensor.full(e, y.shape, 1);
    backward(y, dy);
    expect(x.grad?.shape).toEqual([2, 3, 7, 5]);
    for (const t of [x, y, dy]) t.dispose();
    await e.sync();
    expect(e.poolStats().liveBuffers).toBe(before);
  });
});
