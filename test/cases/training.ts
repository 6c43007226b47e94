// Training loops: the loss goes down and live GPU memory stays flat (test/memory.test.ts, Deno runner).
import { Adam } from '../../src/autograd/optim.js';
import { apply, backward } from '../../src/autograd/tape.js';
import type { PoolStats } from '../../src/engine/buffer-pool.js';
import type { Engine } from '../../src/engine/engine.js';
import { Tensor } from '../../src/engine/tensor.js';
import { cpuRandom } from '../../src/ops/cpu.js';
import { add, mul, relu, scaledTanh } from '../../src/ops/elementwise.js';
import { meanAll, mseLoss, tvLoss } from '../../src/ops/losses.js';
import type { GoldenStore } from '../helpers/golden-store.js';
import { toGpu } from '../helpers/tensors.js';
import { assert, assertEqual, type EngineCase } from './case.js';
import { goldenTrainSetup } from './golden.js';

/** The pool counters that a steady-state training step must not move. */
function steady(s: PoolStats) {
  return { liveBuffers: s.liveBuffers, liveBytes: s.liveBytes, created: s.created };
}

export const elementwiseTrainingCase: EngineCase = {
  name: '200 steps of forward, backward, Adam and zeroGrad leave the pool flat',
  async run(e: Engine) {
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

    assertEqual(steady(e.poolStats()), atTen, 'pool after 200 steps vs after 10');
    assert(lastLoss < firstLoss, `the loop trains: loss ${firstLoss} → ${lastLoss}`);
    assert(w.grad === null, 'zeroGrad leaves no gradient');

    opt.dispose();
    for (const t of [x, target, w, bias, unused]) t.dispose();
    assertEqual(e.poolStats().liveBuffers, before, 'live buffers after disposing everything');
  },
};

/**
 * The training setup of the golden train step (VGG19 caffe with the fixture's weights, width-0.25 transform
 * net, content 1, style 0.1, tv 1, Adam 1e-3) for STYLE_STEPS steps on the fixture's batch of 2 × 16²: the total
 * loss goes down every step (PyTorch: 6837 → 5325 → 4820 over the first three), and from the second step on
 * the pool's live buffers, live bytes and buffers ever created stay where they were.
 */
const STYLE_STEPS = 5;

export function styleTrainingCase(store: GoldenStore): EngineCase {
  return {
    name: `${STYLE_STEPS} Adam steps of the transform net through VGG19 and the style loss: loss goes down, memory flat`,
    async run(engine: Engine) {
      const setup = store.index.trainStep.setup;
      const before = engine.poolStats().liveBuffers;
      const { net, batch, loss, dispose } = goldenTrainSetup(engine, store);
      const adam = new Adam([...net.parameters().values()], { lr: setup.adam.lr });
      const totals: number[] = [];
      let afterFirst: ReturnType<typeof steady> | null = null;
      try {
        for (let step = 1; step <= STYLE_STEPS; step++) {
          const total = await engine.scopeAsync(async () => {
            adam.zeroGrad();
            const terms = loss.compute(net.forward(batch), batch);
            backward(terms.total);
            adam.step();
            return terms.total.item();
          });
          totals.push(total);
          await engine.sync();
          if (step === 2) afterFirst = steady(engine.poolStats());
        }
        for (let i = 1; i < totals.length; i++) {
          assert(
            totals[i] < totals[i - 1],
            `total loss did not go down at step ${i + 1}: ${totals.map((t) => t.toFixed(1)).join(' → ')}`,
          );
        }
        assertEqual(steady(engine.poolStats()), afterFirst, `pool after step ${STYLE_STEPS} vs after step 2`);
      } finally {
        adam.dispose();
        dispose();
      }
      assertEqual(engine.poolStats().liveBuffers, before, 'live buffers after disposing everything');
    },
  };
}
