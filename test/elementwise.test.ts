import { describe, it } from 'vitest';
import { elementwiseCases } from './cases/elementwise.js';
import { testEngine } from './helpers/gpu.js';

// The cases live in test/cases/elementwise.ts, shared with the Deno runner (test/deno/run.ts).
describe('elementwise ops vs float64 reference', () => {
  for (const c of elementwiseCases) it(c.name, async () => c.run(await testEngine()));
});
