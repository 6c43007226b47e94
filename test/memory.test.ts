import { describe, it } from 'vitest';
import { elementwiseTrainingCase, styleTrainingCase } from './cases/training.js';
import { goldenStore } from './helpers/golden.js';
import { testEngine } from './helpers/gpu.js';

// The cases live in test/cases/training.ts, shared with the Deno runner (test/deno/run.ts).
describe('GPU memory in a training loop', () => {
  for (const c of [elementwiseTrainingCase, styleTrainingCase(goldenStore)])
    it(c.name, async () => c.run(await testEngine()));
});
