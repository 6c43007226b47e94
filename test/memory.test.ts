import { describe, expect, it } from 'vitest';
import { apply, backward } from '../src/autograd/tape.js';
import { Adam } from '../src/autograd/optim.js';
import type { PoolStats } from '../src/engine/buffer-pool.js';
import { Tensor } from '../src/engine/tensor.js';
import { cpuRandom } from '../src/ops/cpu.js';
import { add, mul, relu, scaledTanh } from '../src/ops/elementwise.js';
import { meanAll, mseLoss, tvLoss } from '../src/ops/losses.js';
import { testEngine, toGpu } from './helpers/gpu.js';

/** The pool counters that a steady-state training step must not move. */
function steady(s: PoolStats) {
  return { liveBuffers: s.liveBuffers, liveBytes: s.liveBytes, created: s.created };
}

describe('GPU memory in a training loop', () => {
  it('200 steps of forward, backward, Adam and zeroGrad leave the pool flat', async () => {
    const e = await testEngine();
    const before = e.poolStats().liveBuffers;
    const shape = [2, 3, 5, 7];
    const x = e.keep(toGpu(e, cpuRandom(shape, 1))!);
    const target = e.keep(toGpu(e, cpuRandom(shape, 2, 0, 1))!);
    const w = e.keep(toGpu(e, cpuRandom(shape, 3))!);
    const bias = e.keep(Tensor.zeros(e, shape));
    const unused = e.keep(Tensor.zeros(e, [4])); // a parameter that never gets a gradient
    w.requiresGrad = bias.requiresGrad = unused.requiresGrad = true;
    const opt = new Adam([w, bias, unused], { lr: 0.01 });

    /** One training step; returns the loss only when asked (a readback would otherwise slow the loop). */
    const step = (keepLoss: boolean): Tensor | null =>
      e.scope(() => {
        const h = apply(relu, [apply(scaledTanh, [apply(mul, [x, w], {})], { alpha: 2, beta: 0.1 })], {});
        const y = apply(add, [h, bias], {});
        const loss = apply(add, [apply(mseLoss, [y, target], {}), apply(tvLoss, [y], {})], {});
        // A second, unused reduction: its output must be freed by the scope too.
        apply(meanAll, [y], {});
        backward(loss);
        opt.step();
        opt.zeroGrad();
        e.flush();
        return keepLoss ? loss : null;
      });

    const first = step(true)!;
    const firstLoss = await first.item();
    first.dispose();
    let atTen: ReturnType<typeof steady> | null = null;
    for (let i = 2; i < 200; i++) {
      step(false);
      if (i === 10) atTen = steady(e.poolStats());
    }
    const last = step(true)!;
    const lastLoss = await last.item();
    last.dispose();
    await e.sync();

    expect(steady(e.poolStats())).toEqual(atTen);
    expect(lastLoss, 'the loop trains').toBeLessThan(firstLoss);
    expect(w.grad).toBeNull();

    opt.dispose();
    for (const t of [x, target, w, bias, unused]) t.dispose();
    expect(e.poolStats().liveBuffers).toBe(before);
  });
});
