// Single ops against PyTorch 1.13 (float64 references of float32 inputs; see scripts/golden/README.md).
// Each op family is imported inside its own tests, so that an op file that does not exist yet only fails
// its own cases.
import { describe, it } from 'vitest';
import { apply, backward } from '../src/autograd/tape.js';
import type { OpDef } from '../src/ops/op.js';
import { golden, goldenIndex, expectNear } from './helpers/golden.js';
import { testEngine, toGpu } from './helpers/gpu.js';

/**
 * Single ops: |ours − PyTorch| ≤ 1e-5 · max|PyTorch| for the output and every gradient. PyTorch's own
 * float32 result is within 6e-7 of the float64 reference in every case (index.json fp32Drift), so 1e-5
 * leaves ~15× room for another summation order (tiles, split-K, tree reductions) while still catching
 * anything worse than float32 arithmetic: a dropped or doubled term, a wrong pad index, half precision.
 */
const OP_TOL = 1e-5;

type Loader = () => Promise<OpDef<unknown>>;
const opLoaders: Record<string, Loader> = {
  conv2d: async () => (await import('../src/ops/conv2d.js')).conv2d as OpDef<unknown>,
  instanceNorm: async () => (await import('../src/ops/instance-norm.js')).instanceNorm as OpDef<unknown>,
  gram: async () => (await import('../src/ops/gram.js')).gram as OpDef<unknown>,
  maxPool2d: async () => (await import('../src/ops/pool.js')).maxPool2d as OpDef<unknown>,
  mseLoss: async () => (await import('../src/ops/losses.js')).mseLoss as OpDef<unknown>,
  tvLoss: async () => (await import('../src/ops/losses.js')).tvLoss as OpDef<unknown>,
  relu: async () => (await import('../src/ops/elementwise.js')).relu as OpDef<unknown>,
  scaledTanh: async () => (await import('../src/ops/elementwise.js')).scaledTanh as OpDef<unknown>,
  add: async () => (await import('../src/ops/elementwise.js')).add as OpDef<unknown>,
  mul: async () => (await import('../src/ops/elementwise.js')).mul as OpDef<unknown>,
};

interface OpCase {
  name: string;
  op: string;
  attrs: unknown;
  inputs: (string | null)[];
  output: string;
  upstream: string;
  grads: (string | null)[];
}

const ops = goldenIndex().ops as { file: string; cases: OpCase[] };
const families = [...new Set(ops.cases.map((c) => c.op))];

async function runCase(c: OpCase): Promise<void> {
  const op = await opLoaders[c.op]();
  const engine = await testEngine();
  const f = ops.file;
  await engine.scopeAsync(async () => {
    const inputs = c.inputs.map((n) => (n ? toGpu(engine, golden(f, n)) : null));
    for (const t of inputs) if (t) t.requiresGrad = true;
    const y = apply(op, inputs, c.attrs);
    const expected = golden(f, c.output);
    expectNear(await y.data(), expected, OP_TOL, `${c.name} forward`);
    backward(y, toGpu(engine, golden(f, c.upstream))!);
    for (let i = 0; i < inputs.length; i++) {
      const g = c.grads[i];
      if (!g) continue;
      const grad = inputs[i]!.grad;
      if (!grad) throw new Error(`${c.name}: no gradient for input ${i} (${g})`);
      expectNear(await grad.data(), golden(f, g), OP_TOL, `${c.name} d/d${g.split('grad_')[1]}`);
    }
  });
}

describe('golden: ops vs PyTorch', () => {
  for (const family of families) {
    describe(family, () => {
      for (const c of ops.cases.filter((k) => k.op === family)) {
        it(`${c.name} ${JSON.stringify(c.attrs)}`, () => runCase(c));
      }
    });
  }
});

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

describe('golden: Adam vs torch.optim.Adam', () => {
  const adam = goldenIndex().adam as { file: string; cases: AdamCase[] };
  const f = adam.file;

  for (const c of adam.cases) {
    it(`adamStep ${c.name} (3 steps, params ${c.params.join(', ')})`, async () => {
      const { adamStep } = await import('../src/ops/adam.js');
      const { Tensor } = await import('../src/engine/tensor.js');
      const engine = await testEngine();
      await engine.scopeAsync(async () => {
        const params = c.params.map((k) => toGpu(engine, golden(f, c.init[k]))!);
        const m = params.map((p) => Tensor.zeros(engine, p.shape));
        const v = params.map((p) => Tensor.zeros(engine, p.shape));
        for (let s = 0; s < c.steps; s++) {
          c.params.forEach((k, i) => {
            const g = toGpu(engine, golden(f, c.grads[s][k]))!;
            adamStep(params[i], g, m[i], v[i], { lr: c.lr, beta1: c.betas[0], beta2: c.betas[1], eps: c.eps, step: s + 1 });
          });
          for (const [i, k] of c.params.entries()) {
            const expected = golden(f, c.after[s][k]);
            expectNear(await params[i].data(), expected, ADAM_ATOL, `${c.name} step ${s + 1} ${k}`, 1);
          }
        }
      });
    });

    it(`Adam optimiser ${c.name} (3 steps through .grad)`, async () => {
      const { Adam } = await import('../src/autograd/optim.js');
      const engine = await testEngine();
      await engine.scopeAsync(async () => {
        const params = c.params.map((k) => engine.keep(toGpu(engine, golden(f, c.init[k]))!));
        for (const p of params) p.requiresGrad = true;
        const opt = new Adam(params, { lr: c.lr, beta1: c.betas[0], beta2: c.betas[1], eps: c.eps });
        try {
          for (let s = 0; s < c.steps; s++) {
            opt.zeroGrad();
            c.params.forEach((k, i) => {
              params[i].grad = engine.keep(toGpu(engine, golden(f, c.grads[s][k]))!);
            });
            opt.step();
            for (const [i, k] of c.params.entries()) {
              expectNear(await params[i].data(), golden(f, c.after[s][k]), ADAM_ATOL, `${c.name} step ${s + 1} ${k}`, 1);
            }
          }
        } finally {
          opt.dispose();
          for (const p of params) p.dispose();
        }
      });
    });
  }
});
