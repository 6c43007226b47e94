// gram vs its float64 reference and finite differences (test/gram.test.ts, Deno runner).
import { cpuRandom } from '../../src/ops/cpu.js';
import { gram } from '../../src/ops/gram.js';
import { checkOp } from '../helpers/gradcheck.js';
import type { EngineCase } from './case.js';

// G entries are means of K products of O(1) values: float32 sums of up to a few hundred terms.
export const forwardTol = { atol: 1e-6, rtol: 1e-5 };
export const gradTol = { atol: 1e-5, rtol: 1e-4 };

const gramCase = (name: string, shape: number[], seed: number): EngineCase => ({
  name,
  run: (engine) => checkOp(engine, { op: gram, inputs: [cpuRandom(shape, seed)], attrs: {}, forwardTol, gradTol }),
});

export const gramCases: EngineCase[] = [
  gramCase('N = 2, C = 5, 3×7 (C and H·W not multiples of the tiles)', [2, 5, 3, 7], 1),
  gramCase('N = 2, C = 18, 5×7 (H·W = 35: three reduction steps, the last ragged)', [2, 18, 5, 7], 2),
  gramCase('N = 3, C = 1, 1×1', [3, 1, 1, 1], 3),
];
