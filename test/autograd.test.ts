import { describe, expect, it } from 'vitest';
import { apply, backward, clearTape, noGrad, zeroGrad } from '../src/autograd/tape.js';
import { Tensor } from '../src/engine/tensor.js';
import { add, mul, relu, scale } from '../src/ops/elementwise.js';
import { testEngine } from './helpers/gpu.js';

const ones = (n: number) => new Float32Array(n).fill(1);

describe('tape autograd', () => {
  it('accumulates gradients when a tensor feeds several ops (y = x·x + 3x)', async () => {
    const e = await testEngine();
    const x = Tensor.fromData(e, [4], [-2, -0.5, 1, 3]);
    x.requiresGrad = true;
    await e.scopeAsync(async () => {
      const y = apply(add, [apply(mul, [x, x], {}), apply(scale, [x], { alpha: 3 })], {});
      backward(y, Tensor.fromData(e, [4], ones(4)));
    });
    expect(Array.from(await x.grad!.data())).toEqual([-1, 2, 5, 9]); // 2x + 3
    x.dispose();
  });

  it('a pass-through gradient used by two inputs is not shared (add(x, x))', async () => {
    const e = await testEngine();
    const x = Tensor.fromData(e, [3], [1, 2, 3]);
    x.requiresGrad = true;
    await e.scopeAsync(async () => {
      const y = apply(add, [x, x], {});
      backward(y, Tensor.fromData(e, [3], [1, 10, 100]));
    });
    expect(Array.from(await x.grad!.data())).toEqual([2, 20, 200]);
    x.dispose();
  });

  it('leaf gradients accumulate across backward calls until zeroGrad', async () => {
    const e = await testEngine();
    const x = Tensor.fromData(e, [2], [1, -1]);
    x.requiresGrad = true;
    for (let i = 0; i < 2; i++) {
      e.scope(() => backward(apply(scale, [x], { alpha: 2 }), Tensor.fromData(e, [2], ones(2))));
    }
    expect(Array.from(await x.grad!.data())).toEqual([4, 4]);
    zeroGrad([x]);
    expect(x.grad).toBeNull();
    x.dispose();
  });

  it('only tensors that need gradients get them; noGrad records nothing', async () => {
    const e = await testEngine();
    const w = Tensor.fromData(e, [2], [2, 3]);
    const c = Tensor.fromData(e, [2], [5, 7]); // a constant
    w.requiresGrad = true;
    await e.scopeAsync(async () => {
      const frozen = noGrad(() => apply(mul, [w, c], {}));
      expect(frozen.requiresGrad).toBe(false);
      const y = apply(mul, [w, c], {});
      backward(y, Tensor.fromData(e, [2], ones(2)));
    });
    expect(Array.from(await w.grad!.data())).toEqual([5, 7]);
    expect(c.grad).toBeNull();
    w.dispose();
    c.dispose();
  });

  it('saved tensors are released once used: no buffer outlives the step', async () => {
    const e = await testEngine();
    const w = Tensor.fromData(
      e,
      [64],
      Float32Array.from({ length: 64 }, (_, i) => i - 30),
    );
    w.requiresGrad = true;
    const step = () =>
      e.scope(() => {
        const h = apply(relu, [apply(mul, [w, w], {})], {});
        backward(apply(scale, [h], { alpha: 0.5 }), Tensor.fromData(e, [64], ones(64)));
        zeroGrad([w]);
      });
    step();
    const live = e.poolStats().liveBuffers;
    for (let i = 0; i < 5; i++) step();
    expect(e.poolStats().liveBuffers).toBe(live);
    // a forward whose gradients are never asked for is dropped by clearTape
    e.scope(() => {
      apply(relu, [w], {});
    });
    clearTape();
    expect(e.poolStats().liveBuffers).toBe(live);
    w.dispose();
  });

  it('backward needs a scalar root or an explicit gradient of the root shape', async () => {
    const e = await testEngine();
    const x = Tensor.fromData(e, [3], [1, 2, 3]);
    x.requiresGrad = true;
    e.scope(() => {
      const y = apply(relu, [x], {});
      expect(() => backward(y)).toThrow(/not a scalar/);
      expect(() => backward(y, Tensor.zeros(e, [2]))).toThrow(/gradient \[2\] for root \[3\]/);
    });
    clearTape();
    x.dispose();
  });
});
