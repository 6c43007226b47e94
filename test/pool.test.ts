import { describe, expect, it } from 'vitest';
import { apply, backward } from '../src/autograd/tape.js';
import { ShapeError } from '../src/engine/errors.js';
import { Tensor } from '../src/engine/tensor.js';
import { cpuRandom, cpuTensor, type CpuTensor } from '../src/ops/cpu.js';
import { maxPool2d } from '../src/ops/pool.js';
import { expectClose } from './helpers/check.js';
import { expectNoBufferLeft } from './helpers/memory.js';
import { testEngine, toCpu, toGpu } from './helpers/gpu.js';
import { distinct, exact, maxPoolCases, ties } from './cases/pool.js';

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

// The op-vs-reference cases live in test/cases/pool.ts, shared with the Deno runner (test/deno/run.ts).
describe('maxPool2d vs float64 reference', () => {
  it('the float64 backward used below sends tied gradients to the first maximum', () => {
    expect(referenceBackward(ties.x(), ties.dy()).data).toEqual(ties.dx().data);
  });

  for (const c of maxPoolCases) it(c.name, async () => c.run(await testEngine()));

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
    await expectNoBufferLeft(e, () => {
      const x = Tensor.fromData(e, [2, 3, 7, 5], distinct([2, 3, 7, 5], 100).data);
      x.requiresGrad = true;
      const y = apply(maxPool2d, [x], {});
      const dy = Tensor.full(e, y.shape, 1);
      backward(y, dy);
      expect(x.grad?.shape).toEqual([2, 3, 7, 5]);
      for (const t of [x, y, dy]) t.dispose();
    });
  });
});
