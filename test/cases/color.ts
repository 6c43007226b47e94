// preserveColors vs its float64 reference (the YCbCr round trip) and finite differences (test/color.test.ts,
// Deno runner).
import { preserveColors } from '../../src/ops/color.js';
import { cpuRandom } from '../../src/ops/cpu.js';
import { checkOp } from '../helpers/gradcheck.js';
import type { EngineCase } from './case.js';

export const preserveColorsCases: EngineCase[] = [
  [1, 3, 5, 7],
  [2, 3, 3, 1],
].map((shape) => ({
  name: `matches the YCbCr round trip and finite differences, [${shape.join(', ')}]`,
  run: (e) =>
    checkOp(e, {
      op: preserveColors,
      inputs: [cpuRandom(shape, 1, 0, 255), cpuRandom(shape, 2, 0, 255)],
      attrs: {},
      // Values up to ~400 in f32 (ulp 3e-5) and the reference's 6-digit inverse coefficients (~1e-4).
      forwardTol: { atol: 5e-4, rtol: 1e-6 },
      gradTol: { atol: 1e-4, rtol: 1e-4 },
    }),
}));
