// Whole nets and a whole training step against PyTorch 1.13 (float64 references; see scripts/golden/README.md):
// the transform net (pytorch/examples TransformerNet + 150·tanh + 127.5, width 0.25), VGG16/VGG19 features
// in both input conventions with random weights, and three Adam steps of the training setup of
// ../shared/assets/README.md. The cases and their tolerances live in test/cases/golden.ts, shared with the
// Deno runner (test/deno/run.ts).
import { describe, it } from 'vitest';
import { goldenSelfCheck, goldenTrainStepCase, goldenTransformNetCase, goldenVggCases } from './cases/golden.js';
import { goldenStore } from './helpers/golden.js';
import { testEngine } from './helpers/gpu.js';

describe('golden: fixture self-check', () => {
  const c = goldenSelfCheck(goldenStore);
  it(c.name, async () => c.run(await testEngine()));
});

describe('golden: TransformNet vs PyTorch (width 0.25, [1, 3, 16, 16])', () => {
  const c = goldenTransformNetCase(goldenStore);
  it(c.name, async () => c.run(await testEngine()));
});

describe('golden: VGG features vs PyTorch (random He weights, [1, 3, 16, 16] pixels)', () => {
  for (const c of goldenVggCases(goldenStore)) it(c.name, async () => c.run(await testEngine()));
});

describe('golden: one training step vs PyTorch (VGG19 caffe, batch 2 × 16², width 0.25, Adam 1e-3)', () => {
  const c = goldenTrainStepCase(goldenStore);
  it(c.name, async () => c.run(await testEngine()));
});
