// Cases against the PyTorch 1.13 golden fixtures (float64 references of float32 inputs; see
// scripts/golden/README.md): single ops with their gradients, Adam, the transform net, VGG16/VGG19 features
// and three Adam steps of the training setup of ../shared/assets/README.md. Run by test/golden-ops.test.ts,
// test/golden-nets.test.ts (vitest, Dawn) and test/deno/run.ts (Deno, wgpu).
import { Adam } from '../../src/autograd/optim.js';
import { apply, backward } from '../../src/autograd/tape.js';
import type { Engine } from '../../src/engine/engine.js';
import { Tensor } from '../../src/engine/tensor.js';
import { StyleLoss } from '../../src/models/losses.js';
import { TransformNet } from '../../src/models/transform-net.js';
import { Vgg } from '../../src/models/vgg.js';
import { adamStep } from '../../src/ops/adam.js';
import { cpuRandom, type CpuTensor } from '../../src/ops/cpu.js';
import { ops } from '../../src/ops/index.js';
import type { AnyOpDef } from '../../src/ops/op.js';
import { expectNear, maxAbsOf, type GoldenStore } from '../helpers/golden-store.js';
import { toGpu } from '../helpers/tensors.js';
import { assert, assertEqual, type EngineCase } from './case.js';

// ------------------------------------------------------------------ single ops

/**
 * Single ops: |ours − PyTorch| ≤ 1e-5 · max|PyTorch| for the output and every gradient. PyTorch's own
 * float32 result is within 6e-7 of the float64 reference in every case (index.json fp32Drift), so 1e-5
 * leaves ~15× room for another summation order (tiles, split-K, tree reductions) while still catching
 * anything worse than float32 arithmetic: a dropped or doubled term, a wrong pad index, half precision.
 */
const OP_TOL = 1e-5;

interface GoldenOpCase {
  name: string;
  op: string;
  attrs: unknown;
  inputs: (string | null)[];
  output: string;
  upstream: string;
  grads: (string | null)[];
}

/** One case per stored op case, named `<op family> <case name> <attrs>`. */
export function goldenOpCases(store: GoldenStore): (EngineCase & { family: string })[] {
  const table = store.index.ops as { file: string; cases: GoldenOpCase[] };
  const f = table.file;
  return table.cases.map((c) => ({
    name: `${c.name} ${JSON.stringify(c.attrs)}`,
    family: c.op,
    async run(engine: Engine) {
      const op = (ops as Record<string, AnyOpDef>)[c.op];
      assert(op, `${c.name}: no op ${c.op} in src/ops/index.ts`);
      await engine.scopeAsync(async () => {
        const inputs = c.inputs.map((n) => (n ? toGpu(engine, store.tensor(f, n)) : null));
        for (const t of inputs) if (t) t.requiresGrad = true;
        const y = apply(op, inputs, c.attrs);
        expectNear(await y.data(), store.tensor(f, c.output), OP_TOL, `${c.name} forward`);
        backward(y, toGpu(engine, store.tensor(f, c.upstream))!);
        for (let i = 0; i < inputs.length; i++) {
          const g = c.grads[i];
          if (!g) continue;
          const grad = inputs[i]!.grad;
          assert(grad, `${c.name}: no gradient for input ${i} (${g})`);
          expectNear(await grad.data(), store.tensor(f, g), OP_TOL, `${c.name} d/d${g.split('grad_')[1]}`);
        }
      });
    },
  }));
}

// ------------------------------------------------------------------ Adam

interface AdamCase {
  name: string;
  lr: number;
  betas: [number, number];
  eps: number;
  params: string[];
  steps: number;
  init: Record<string, string>;
  grads: Record<string, string>[];
  after: Record<string, string>[];
}

/**
 * Adam: |ours − PyTorch| ≤ 1e-6 absolute on parameters of magnitude ≤ 1 after each of 3 steps. One step
 * moves a parameter by ≤ lr (1e-3 or 1e-2); PyTorch's float32 Adam stays within 7e-8 of float64; 1e-6 is
 * ≥ 10 float32 ulps of the parameters yet 1e-3 of a step, so a wrong bias correction, eps placement or
 * moment update (all ≥ 1e-2 of a step) fails.
 */
const ADAM_ATOL = 1e-6;

/** Per stored case: adamStep directly, and the Adam optimiser through `.grad`. */
export function goldenAdamCases(store: GoldenStore): EngineCase[] {
  const adam = store.index.adam as { file: string; cases: AdamCase[] };
  const f = adam.file;
  return adam.cases.flatMap((c) => {
    const hyper = { lr: c.lr, beta1: c.betas[0], beta2: c.betas[1], eps: c.eps };
    const grad = (engine: Engine, s: number, k: string) => toGpu(engine, store.tensor(f, c.grads[s][k]))!;
    /** The params after step s + 1 against PyTorch's. */
    const expectStep = async (params: Tensor[], s: number) => {
      for (const [i, k] of c.params.entries()) {
        expectNear(
          await params[i].data(),
          store.tensor(f, c.after[s][k]),
          ADAM_ATOL,
          `${c.name} step ${s + 1} ${k}`,
          1,
        );
      }
    };
    return [
      {
        name: `adamStep ${c.name} (3 steps, params ${c.params.join(', ')})`,
        async run(engine: Engine) {
          await engine.scopeAsync(async () => {
            const params = c.params.map((k) => toGpu(engine, store.tensor(f, c.init[k]))!);
            const m = params.map((p) => Tensor.zeros(engine, p.shape));
            const v = params.map((p) => Tensor.zeros(engine, p.shape));
            for (let s = 0; s < c.steps; s++) {
              c.params.forEach((k, i) => {
                adamStep(params[i], grad(engine, s, k), m[i], v[i], { ...hyper, step: s + 1 });
              });
              await expectStep(params, s);
            }
          });
        },
      },
      {
        name: `Adam optimiser ${c.name} (3 steps through .grad)`,
        async run(engine: Engine) {
          await engine.scopeAsync(async () => {
            const params = c.params.map((k) => engine.keep(toGpu(engine, store.tensor(f, c.init[k]))!));
            for (const p of params) p.requiresGrad = true;
            const opt = new Adam(params, hyper);
            try {
              for (let s = 0; s < c.steps; s++) {
                opt.zeroGrad();
                c.params.forEach((k, i) => {
                  params[i].grad = engine.keep(grad(engine, s, k));
                });
                opt.step();
                await expectStep(params, s);
              }
            } finally {
              opt.dispose();
              for (const p of params) p.dispose();
            }
          });
        },
      },
    ];
  });
}

// ------------------------------------------------------------------ nets

/**
 * Transform net output: ≤ 1e-4 of max|output| (≈ 0.03 of a 0..255 pixel). PyTorch's own float32 forward is
 * within 1.3e-6 (fp32Drift); 1e-4 allows ~75× that for 16 convs and 12 instance norms summed in other orders.
 */
const TN_OUT_TOL = 1e-4;
/**
 * Parameter gradients: ≤ 5e-4 of the largest gradient of the same tensor. PyTorch float32 is within 5.5e-6;
 * the backward goes through every layer twice (input and weight gradients), hence more room than forward.
 */
const TN_GRAD_TOL = 5e-4;
/**
 * Gradients that are zero in exact arithmetic (see deadParams): only float32 noise is left, checked against
 * the largest gradient of the whole net (PyTorch float32: 4e-6 of it).
 */
const DEAD_GRAD_TOL = 1e-4;
/** VGG features: ≤ 1e-4 of max|layer|; PyTorch float32 drifts ≤ 1.6e-6 by relu3_4 (8 convs, sums of ≤ 2304 terms). */
const VGG_TOL = 1e-4;

type WeightMap = Map<string, { shape: number[]; data: Float32Array }>;

/** Named weights of a fixture file, as model constructors take them. */
export function weightMap(store: GoldenStore, file: string, names: Record<string, string>): WeightMap {
  const m: WeightMap = new Map();
  for (const [param, stored] of Object.entries(names)) {
    const t = store.tensor(file, stored);
    m.set(param, { shape: t.shape, data: Float32Array.from(t.data) });
  }
  return m;
}

interface WeightRule {
  name: string;
  layer: string;
  shape: number[];
  seed: number;
  lo: number;
  hi: number;
  first: number[];
  sum: number;
}

/** The random VGG weights of the fixtures, regenerated from their seeds (see scripts/golden/nets.py). */
export function vggWeights(store: GoldenStore, arch: 'vgg16' | 'vgg19'): WeightMap {
  const rules = store.index.vgg.archs[arch].weights as WeightRule[];
  return new Map(
    rules.map((r) => [
      r.name,
      { shape: r.shape, data: Float32Array.from(cpuRandom(r.shape, r.seed, r.lo, r.hi).data) },
    ]),
  );
}

/**
 * Parameters whose exact gradient is zero: the bias of every conv followed by an instance norm (the norm
 * removes any per-channel constant) and the beta of each residual block's second norm (it adds a per-channel
 * constant to the trunk, which every later instance norm removes). PyTorch float64 gives ~1e-13 for them.
 */
function deadParams(grads: Map<string, CpuTensor>): Set<string> {
  const netMax = Math.max(...[...grads.values()].map(maxAbsOf));
  return new Set([...grads].filter(([, g]) => maxAbsOf(g) < 1e-9 * netMax).map(([k]) => k));
}

async function compareGrads(
  params: Map<string, Tensor>,
  expected: Map<string, CpuTensor>,
  what: string,
): Promise<void> {
  const dead = deadParams(expected);
  const netMax = Math.max(...[...expected.values()].map(maxAbsOf));
  for (const [name, g] of expected) {
    const p = params.get(name);
    assert(p, `${what}: the net has no parameter ${name}`);
    assert(p.grad, `${what}: no gradient for ${name}`);
    const got = await p.grad.data();
    if (dead.has(name)) expectNear(got, g, DEAD_GRAD_TOL, `${what} d/d${name} (zero in exact arithmetic)`, netMax);
    else expectNear(got, g, TN_GRAD_TOL, `${what} d/d${name}`);
  }
}

/** The VGG weights regenerate bit-exactly from their seeds (a check of the fixtures, no GPU). */
export function goldenSelfCheck(store: GoldenStore): EngineCase {
  return {
    name: 'the VGG weights regenerate bit-exactly from their seeds',
    async run() {
      for (const arch of ['vgg16', 'vgg19'] as const) {
        for (const r of store.index.vgg.archs[arch].weights as WeightRule[]) {
          const t = cpuRandom(r.shape, r.seed, r.lo, r.hi);
          assertEqual([...t.data.subarray(0, 4)], r.first, `${arch} ${r.name}`);
          let s = 0;
          for (const v of t.data) s += v;
          assert(Math.abs(s - r.sum) < 1e-9 * (1 + Math.abs(r.sum)), `${arch} ${r.name} sum ${s}, expected ${r.sum}`);
        }
      }
    },
  };
}

/** TransformNet (width 0.25, [1, 3, 16, 16]): forward output and every parameter gradient of sum(out · R). */
export function goldenTransformNetCase(store: GoldenStore): EngineCase {
  return {
    name: 'TransformNet forward output and every parameter gradient of sum(out · R)',
    async run(engine: Engine) {
      const tn = store.index.transformNet;
      const f = tn.file;
      const net = TransformNet.fromTensors(
        engine,
        { widthMultiplier: tn.widthMultiplier },
        weightMap(store, f, tn.params),
      );
      try {
        await engine.scopeAsync(async () => {
          const params = net.parameters();
          assertEqual([...params.keys()].sort(), Object.keys(tn.params).sort(), 'TransformNet parameter names');
          const out = net.forward(toGpu(engine, store.tensor(f, tn.input))!);
          expectNear(await out.data(), store.tensor(f, tn.output), TN_OUT_TOL, 'TransformNet output');
          backward(out, toGpu(engine, store.tensor(f, tn.upstream))!);
          const expected = new Map(
            Object.entries(tn.grads as Record<string, string>).map(([k, v]) => [k, store.tensor(f, v)]),
          );
          await compareGrads(params, expected, 'TransformNet');
        });
      } finally {
        net.dispose();
      }
    },
  };
}

/** VGG16/VGG19 in both input conventions (random He weights, [1, 3, 16, 16] pixels): every relu. */
export function goldenVggCases(store: GoldenStore): EngineCase[] {
  return (['vgg16', 'vgg19'] as const).flatMap((arch) =>
    (['caffe', 'torchvision'] as const).map((input) => ({
      name: `${arch} ${input}: every relu up to relu3_${arch === 'vgg16' ? 3 : 4}`,
      async run(engine: Engine) {
        const v = store.index.vgg;
        const a = v.archs[arch];
        const relus = (a.layout as { kind: string; name: string }[])
          .filter((l) => l.kind === 'relu')
          .map((l) => l.name);
        const vgg = Vgg.fromTensors(engine, vggWeights(store, arch), {
          architecture: arch,
          input,
          layers: relus,
          source: 'golden',
        });
        try {
          await engine.scopeAsync(async () => {
            const feats = vgg.features(toGpu(engine, store.tensor(v.file, v.input))!, relus);
            for (const name of relus) {
              const got = feats.get(name);
              assert(got, `${arch}: features() returned no ${name}`);
              const expected = store.tensor(v.file, a.features[input][name]);
              assertEqual(got.shape, expected.shape, `${name} shape`);
              expectNear(await got.data(), expected, VGG_TOL, `${arch} ${input} ${name}`);
            }
          });
        } finally {
          vgg.dispose();
        }
      },
    })),
  );
}

/**
 * The loss values of step 1: ≤ 1e-4 relative. They are means over thousands of terms each within ~1e-5
 * (the feature tolerances above); PyTorch float32 lands within 6e-8.
 */
const LOSS_TOL = 1e-4;
/**
 * After step 1 Adam has moved each weight by lr·g/(|g| + 1e-8), i.e. ±lr by the gradient's sign. Where
 * |g| ≥ 1e-3 · max|g| of its tensor the sign is certain (the gradient tolerance is 5e-4 of that max), and the
 * update must match to 1e-3 · lr (PyTorch float32: 2e-6 · lr). Elsewhere float32 noise may pick the sign (it
 * does in PyTorch float32 for one conv1 weight with g = 1.6e-3 of max 2.9e3, and for every zero-gradient
 * bias), so only |Δ| ≤ lr is required there.
 */
const STEP1_TOL = 1e-3;
const SURE_SIGN = 1e-3;
/**
 * After step 3 single elements are no longer comparable: a weight whose step-2 or step-3 moment is near zero
 * gets a sign-of-noise update, and one flipped weight (above) changes every later gradient. PyTorch float32
 * itself ends with ‖w_fp32 − w_fp64‖ = 4.6% of ‖w_fp64 − w_0‖ over the non-dead weights, 10% in the worst
 * tensor. We require ≤ 15% over the net; a wrong step count or bias correction moves it by ~100%.
 */
const STEP3_REL_L2 = 0.15;
/** Losses of steps 2–3: total ≤ 5e-3 relative (PyTorch float32: 3.5e-4), each term ≤ 2e-2 (float32: 5.4e-3). */
const LATER_TOTAL_TOL = 5e-3;
const LATER_TERM_TOL = 2e-2;

/** What the golden train step trains with, kept: the caller disposes it all with `dispose()`. */
export interface GoldenTrainSetup {
  vgg: Vgg;
  net: TransformNet;
  style: Tensor;
  batch: Tensor;
  loss: StyleLoss;
  dispose(): void;
}

/**
 * The golden train step's setup: VGG19 caffe with the fixture's weights for the style and content layers, the
 * transform net with the fixture's initial weights, the style image, the batch, and the style loss with the
 * fixture's layers and weights.
 */
export function goldenTrainSetup(engine: Engine, store: GoldenStore): GoldenTrainSetup {
  const index = store.index;
  const ts = index.trainStep;
  const setup = ts.setup;
  const layers = [...new Set([...setup.styleLayers, setup.contentLayer])] as string[];
  const vgg = Vgg.fromTensors(engine, vggWeights(store, 'vgg19'), {
    architecture: 'vgg19',
    input: 'caffe',
    layers,
    source: 'golden',
  });
  const net = TransformNet.fromTensors(
    engine,
    { widthMultiplier: index.transformNet.widthMultiplier },
    weightMap(store, index.transformNet.file, index.transformNet.params),
  );
  const style = engine.keep(toGpu(engine, store.tensor(ts.file, ts.style))!);
  const batch = engine.keep(toGpu(engine, store.tensor(ts.file, ts.content))!);
  const loss = StyleLoss.create(vgg, style, {
    contentLayer: setup.contentLayer,
    styleLayers: setup.styleLayers,
    contentWeight: setup.contentWeight,
    styleWeight: setup.styleWeight,
    tvWeight: setup.tvWeight,
  });
  const dispose = () => {
    loss.dispose();
    net.dispose();
    vgg.dispose();
    style.dispose();
    batch.dispose();
  };
  return { vgg, net, style, batch, loss, dispose };
}

/**
 * One training step vs PyTorch (VGG19 caffe, batch 2 × 16², width 0.25, Adam 1e-3): losses, gradients and
 * weights after 1 and 3 Adam steps on the same batch. Composed as Trainer.step does it (zeroGrad, forward,
 * StyleLoss.compute, backward(total), Adam.step): Trainer itself seeds its own initial weights, and this case
 * needs the fixture's.
 */
export function goldenTrainStepCase(store: GoldenStore): EngineCase {
  return {
    name: 'losses, gradients and weights after 1 and 3 Adam steps on the same batch',
    async run(engine: Engine) {
      const index = store.index;
      const ts = index.trainStep;
      const f = ts.file;
      const setup = ts.setup;
      const { net, batch, loss, dispose } = goldenTrainSetup(engine, store);
      const params = net.parameters();
      const names = [...params.keys()];
      const adam = new Adam([...params.values()], {
        lr: setup.adam.lr,
        beta1: setup.adam.betas[0],
        beta2: setup.adam.betas[1],
        eps: setup.adam.eps,
      });
      const lr = setup.adam.lr as number;
      const init = new Map(names.map((k) => [k, store.tensor(index.transformNet.file, index.transformNet.params[k])]));
      const grads1 = new Map(
        Object.entries(ts.grads1 as Record<string, string>).map(([k, v]) => [k, store.tensor(f, v)]),
      );
      const dead = deadParams(grads1);
      try {
        for (let step = 1; step <= 3; step++) {
          await engine.scopeAsync(async () => {
            adam.zeroGrad();
            const out = net.forward(batch);
            const terms = loss.compute(out, batch);
            backward(terms.total);
            const expected = ts.losses[step - 1] as Record<string, number>;
            for (const k of ['content', 'style', 'tv', 'total'] as const) {
              const got = await terms[k].item();
              const tol = step === 1 ? LOSS_TOL : k === 'total' ? LATER_TOTAL_TOL : LATER_TERM_TOL;
              const rel = Math.abs(got - expected[k]) / Math.abs(expected[k]);
              assert(
                rel <= tol,
                `step ${step} ${k} loss: ours ${got}, PyTorch ${expected[k]} (relative error ${rel}, allowed ${tol})`,
              );
            }
            if (step === 1) await compareGrads(params, grads1, 'training step 1');
          });
          adam.step();
          if (step === 1) {
            for (const k of names) {
              const w0 = init.get(k)!.data;
              const ref = store.tensor(f, ts.after['1'][k]).data;
              const got = await params.get(k)!.data();
              const g = grads1.get(k)!;
              const gmax = maxAbsOf(g);
              for (let i = 0; i < got.length; i++) {
                const d = got[i] - w0[i];
                const sure = !dead.has(k) && Math.abs(g.data[i]) >= SURE_SIGN * gmax;
                const ok = sure
                  ? Math.abs(d - (ref[i] - w0[i])) <= STEP1_TOL * lr
                  : Math.abs(d) <= lr * (1 + STEP1_TOL);
                assert(
                  ok,
                  `after step 1, ${k}[${i}] moved by ${d}, PyTorch by ${ref[i] - w0[i]} (gradient ${g.data[i]}, ` +
                    `${sure ? `sign certain: allowed ${STEP1_TOL * lr}` : `sign uncertain: |Δ| must be ≤ lr ${lr}`})`,
                );
              }
            }
          }
        }
        let num = 0;
        let den = 0;
        for (const k of names) {
          if (dead.has(k)) continue;
          const w0 = init.get(k)!.data;
          const ref = store.tensor(f, ts.after['3'][k]).data;
          const got = await params.get(k)!.data();
          for (let i = 0; i < got.length; i++) {
            num += (got[i] - ref[i]) ** 2;
            den += (ref[i] - w0[i]) ** 2;
          }
        }
        const relL2 = Math.sqrt(num / den);
        assert(
          relL2 <= STEP3_REL_L2,
          `after step 3: ‖w − w_PyTorch‖ / ‖w_PyTorch − w0‖ = ${relL2}, allowed ${STEP3_REL_L2}`,
        );
      } finally {
        adam.dispose();
        dispose();
      }
    },
  };
}
