// sumAll, meanAll, mseLoss and tvLoss vs their float64 references and finite differences (test/losses.test.ts,
// Deno runner).
import { cpuRandom } from '../../src/ops/cpu.js';
import { meanAll, mseLoss, sumAll, tvLoss } from '../../src/ops/losses.js';
import { checkOp } from '../helpers/gradcheck.js';
import type { EngineCase } from './case.js';

const grad = { atol: 1e-5, rtol: 1e-4 };

// 1 element; 210 (not a multiple of the workgroup); 2·3·19·23 = 2622 (two blocks of 2048 terms), batch 2.
const reductionShapes = [[1], [2, 3, 7, 5], [2, 3, 19, 23]];
// Odd planes, batch 2, channels not a multiple of 4, and the degenerate directions (H = 1, W = 1, both).
const tvShapes = [
  [2, 3, 7, 5],
  [2, 3, 19, 23],
  [2, 3, 1, 9],
  [2, 1, 6, 1],
  [1, 1, 1, 1],
  [1, 2, 2, 2],
];

export const lossCases: EngineCase[] = [
  ...reductionShapes.flatMap((shape): EngineCase[] => [
    {
      name: `sumAll and meanAll on [${shape}]`,
      async run(e) {
        const x = cpuRandom(shape, 11);
        await checkOp(e, { op: sumAll, inputs: [x], attrs: {}, forwardTol: { atol: 1e-5, rtol: 1e-6 }, gradTol: grad });
        await checkOp(e, {
          op: meanAll,
          inputs: [x],
          attrs: {},
          forwardTol: { atol: 1e-7, rtol: 1e-6 },
          gradTol: grad,
        });
      },
    },
    {
      name: `mseLoss on [${shape}]`,
      run: (e) =>
        checkOp(e, {
          op: mseLoss,
          inputs: [cpuRandom(shape, 12), cpuRandom(shape, 13, -2, 2)],
          attrs: {},
          forwardTol: { atol: 1e-7, rtol: 1e-6 },
          gradTol: grad,
        }),
    },
  ]),
  ...tvShapes.map(
    (shape): EngineCase => ({
      name: `tvLoss on [${shape}]`,
      run: (e) =>
        checkOp(e, {
          op: tvLoss,
          inputs: [cpuRandom(shape, 14)],
          attrs: {},
          forwardTol: { atol: 1e-7, rtol: 1e-6 },
          gradTol: grad,
        }),
    }),
  ),
];
