// TensorFlow SAME zero padding for conv2d and the stride-2 transposed conv (the ml5 / lengstrom net's ops)
// vs their float64 references and finite differences (test/conv2d-transpose.test.ts, Deno runner).
import { conv2d, tfSameConv2dAttrs, type Conv2dAttrs } from '../../src/ops/conv2d.js';
import { CONV2D_TRANSPOSE_IMPL, conv2dTranspose, type Conv2dTransposeAttrs } from '../../src/ops/conv2d-transpose.js';
import { cpuRandom, type CpuTensor } from '../../src/ops/cpu.js';
import { withChoice } from '../helpers/choices.js';
import { checkOp } from '../helpers/gradcheck.js';
import type { EngineCase } from './case.js';
import { conv2dWith, forwardTol, gradTol } from './conv2d.js';

/** Seeds of the random inputs, consumed in order. */
let seed = 300;
const rand = (shape: number[]): CpuTensor => cpuRandom(shape, seed++);

// Odd and even sizes, batch 2, channels not a multiple of 4; the padding after differs from before.
const sameShapes: { name: string; x: number[]; w: number[]; attrs: Conv2dAttrs }[] = [
  {
    name: 'K3 s2 on an even 6×8 input (0 before, 1 after)',
    x: [2, 3, 6, 8],
    w: [5, 3, 3, 3],
    attrs: tfSameConv2dAttrs(6, 8, 3, 2),
  },
  {
    name: 'K3 s2 on an odd 7×5 input (1 before and after)',
    x: [2, 3, 7, 5],
    w: [5, 3, 3, 3],
    attrs: tfSameConv2dAttrs(7, 5, 3, 2),
  },
  { name: 'K4 s1 on 5×6 (1 before, 2 after)', x: [1, 5, 5, 6], w: [3, 5, 4, 4], attrs: tfSameConv2dAttrs(5, 6, 4, 1) },
  {
    name: 'K5 s1 on 3×4: padding larger than half the input',
    x: [2, 2, 3, 4],
    w: [3, 2, 5, 5],
    attrs: tfSameConv2dAttrs(3, 4, 5, 1),
  },
];

/** conv2d with SAME padding: direct and tiled, each vs the reference and finite differences. */
export const tfSameConvCases: EngineCase[] = [
  ...sameShapes.map((c) => ({
    name: `conv2d SAME ${c.name}: direct and tiled`,
    async run(engine: Parameters<EngineCase['run']>[0]) {
      const data = [rand(c.x), rand(c.w), null];
      for (const impl of ['direct', 'tiled'] as const) {
        await checkOp(engine, { op: conv2dWith(impl), inputs: data, attrs: c.attrs, forwardTol, gradTol });
      }
    },
  })),
  {
    name: 'conv2d SAME as registered with 16+ channels (tiled GEMM, phase input gradient) on an even input',
    async run(engine) {
      await checkOp(engine, {
        op: conv2d,
        inputs: [rand([2, 16, 6, 4]), rand([17, 16, 3, 3]), rand([17])],
        attrs: tfSameConv2dAttrs(6, 4, 3, 2),
        forwardTol,
        gradTol,
      });
    },
  },
];

const transposeShapes: { name: string; x: number[]; w: number[]; bias: boolean; attrs: Conv2dTransposeAttrs }[] = [
  {
    name: 'K3 s2, odd 3×5, batch 2, 3→5 channels, no bias',
    x: [2, 3, 3, 5],
    w: [3, 5, 3, 3],
    bias: false,
    attrs: { stride: 2 },
  },
  { name: 'K3 s2, 4×2, 5→3 channels, bias', x: [1, 5, 4, 2], w: [5, 3, 3, 3], bias: true, attrs: { stride: 2 } },
  { name: 'K3 s2, 1×1 input', x: [2, 2, 1, 1], w: [2, 3, 3, 3], bias: true, attrs: { stride: 2 } },
  { name: 'K4 s2 (even kernel: 1 before)', x: [1, 2, 3, 4], w: [2, 3, 4, 4], bias: false, attrs: { stride: 2 } },
  { name: 'K3 s1', x: [2, 3, 5, 3], w: [3, 2, 3, 3], bias: true, attrs: { stride: 1 } },
  {
    name: '16 → 17 channels, batch 2 (zero-insert: Winograd forward, tiled GEMM backward)',
    x: [2, 16, 3, 4],
    w: [16, 17, 3, 3],
    bias: true,
    attrs: { stride: 2 },
  },
  {
    name: '16 → 17 channels, batch 2, no bias (adjoint: phase GEMMs forward)',
    x: [2, 16, 3, 4],
    w: [16, 17, 3, 3],
    bias: false,
    attrs: { stride: 2 },
  },
];

/**
 * conv2dTranspose vs its reference and finite differences, with each implementation that applies: the
 * adjoint one takes no bias (with one, the op runs zero-insert whatever the choice).
 */
export const conv2dTransposeCases: EngineCase[] = transposeShapes.flatMap((c) =>
  (c.bias ? (['zero-insert'] as const) : (['zero-insert', 'adjoint'] as const)).map((impl) => ({
    name: `conv2dTranspose ${c.name} [${impl}]`,
    async run(engine: Parameters<EngineCase['run']>[0]) {
      const inputs = [rand(c.x), rand(c.w), c.bias ? rand([c.w[1]]) : null];
      await withChoice(engine, CONV2D_TRANSPOSE_IMPL, impl, () =>
        checkOp(engine, { op: conv2dTranspose, inputs, attrs: c.attrs, forwardTol, gradTol }),
      );
    },
  })),
);
