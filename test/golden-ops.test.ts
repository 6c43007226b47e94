// Single ops and Adam against PyTorch 1.13 (float64 references of float32 inputs; see scripts/golden/README.md).
// The cases and their tolerances live in test/cases/golden.ts, shared with the Deno runner (test/deno/run.ts).
import { describe, it } from 'vitest';
import { goldenAdamCases, goldenOpCases } from './cases/golden.js';
import { goldenStore } from './helpers/golden.js';
import { testEngine } from './helpers/gpu.js';

describe('golden: ops vs PyTorch', () => {
  const cases = goldenOpCases(goldenStore);
  for (const family of [...new Set(cases.map((c) => c.family))]) {
    describe(family, () => {
      for (const c of cases.filter((k) => k.family === family)) it(c.name, async () => c.run(await testEngine()));
    });
  }
});

describe('golden: Adam vs torch.optim.Adam', () => {
  for (const c of goldenAdamCases(goldenStore)) it(c.name, async () => c.run(await testEngine()));
});
