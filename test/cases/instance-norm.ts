// instanceNorm vs its float64 reference and finite differences (test/instance-norm.test.ts, Deno runner).
import { cpuRandom, type CpuTensor } from '../../src/ops/cpu.js';
import { instanceNorm } from '../../src/ops/instance-norm.js';
import { checkOp } from '../helpers/gradcheck.js';
import type { EngineCase } from './case.js';

// y is O(1..3) (x̂ times gamma in ±1.5, plus beta): float32 rounding of a few operations.
export const forwardTol = { atol: 1e-5, rtol: 1e-5 };
export const gradTol = { atol: 1e-4, rtol: 1e-4 };

export function affineParams(channels: number, seed: number): [CpuTensor, CpuTensor] {
  return [cpuRandom([channels], seed, 0.5, 1.5), cpuRandom([channels], seed + 1, -0.5, 0.5)];
}

function affineCase(
  name: string,
  x: () => CpuTensor,
  channels: number,
  seed: number,
  eps: number,
  wrt?: number[],
): EngineCase {
  return {
    name,
    run(engine) {
      const [gamma, beta] = affineParams(channels, seed);
      return checkOp(engine, {
        op: instanceNorm,
        inputs: [x(), gamma, beta],
        attrs: { eps },
        forwardTol,
        gradTol,
        wrt,
      });
    },
  };
}

export const instanceNormCases: EngineCase[] = [
  affineCase(
    'odd planes, batch 2, 3 channels, eps 1e-5: y, dx, dgamma, dbeta',
    () => cpuRandom([2, 3, 7, 5], 10, -2, 3),
    3,
    11,
    1e-5,
  ),
  affineCase(
    'eps 1e-3, 5 channels, planes larger than a workgroup (17×19 = 323)',
    () => cpuRandom([1, 5, 17, 19], 20),
    5,
    21,
    1e-3,
  ),
  affineCase(
    'pixels around 127 ± 1 keep their precision (large mean, small variance)',
    () => cpuRandom([2, 3, 13, 11], 30, 126, 128),
    3,
    31,
    1e-5,
  ),
  {
    name: 'without gamma and beta (non-affine)',
    run: (engine) =>
      checkOp(engine, {
        op: instanceNorm,
        inputs: [cpuRandom([3, 2, 5, 3], 40), null, null],
        attrs: { eps: 1e-5 },
        forwardTol,
        gradTol,
      }),
  },
  affineCase('1×1 planes: y = beta, all gradients but dbeta vanish', () => cpuRandom([2, 6, 1, 1], 50), 6, 51, 1e-5),
  affineCase('gradient for x alone (frozen gamma and beta)', () => cpuRandom([2, 3, 4, 9], 60), 3, 61, 1e-5, [0]),
];
