// pad2d, crop2d and channelAffine vs their float64 references and finite differences (test/pad-crop.test.ts,
// Deno runner).
import { channelAffine } from '../../src/ops/channel-affine.js';
import { cpuRandom } from '../../src/ops/cpu.js';
import { crop2d, pad2d } from '../../src/ops/pad-crop.js';
import type { PadMode } from '../../src/ops/padding.js';
import { checkOp } from '../helpers/gradcheck.js';
import type { EngineCase } from './case.js';

// Pure data movement: the forward is exact; gradients are sums of a few upstream values.
const exact = { atol: 0, rtol: 0 };
const grad = { atol: 1e-5, rtol: 1e-5 };

export const pad2dCases: EngineCase[] = [
  ...(['zeros', 'reflect', 'replicate'] as PadMode[]).map((mode) => ({
    name: `${mode}: uneven pads on an odd 5×7 input, batch 2, 3 channels`,
    run: (engine: Parameters<EngineCase['run']>[0]) =>
      checkOp(engine, {
        op: pad2d,
        inputs: [cpuRandom([2, 3, 5, 7], 11)],
        attrs: { top: 1, bottom: 3, left: 0, right: 2, mode },
        forwardTol: exact,
        gradTol: grad,
      }),
  })),
  {
    name: 'replicate pads far wider than the input (1×1 → 8×8)',
    run: (engine) =>
      checkOp(engine, {
        op: pad2d,
        inputs: [cpuRandom([1, 2, 1, 1], 12)],
        attrs: { top: 3, bottom: 4, left: 4, right: 3, mode: 'replicate' },
        forwardTol: exact,
        gradTol: grad,
      }),
  },
];

export const crop2dCases: EngineCase[] = [
  {
    name: 'an off-centre window of an odd input',
    run: (engine) =>
      checkOp(engine, {
        op: crop2d,
        inputs: [cpuRandom([2, 3, 9, 6], 13)],
        attrs: { top: 2, left: 1, height: 5, width: 4 },
        forwardTol: exact,
        gradTol: grad,
      }),
  },
];

export const channelAffineCases: EngineCase[] = [
  {
    name: 'caffe-style mean subtraction on 3 channels, batch 2',
    run: (engine) =>
      checkOp(engine, {
        op: channelAffine,
        inputs: [cpuRandom([2, 3, 5, 3], 14, 0, 255)],
        attrs: { scale: [1, 1, 1], shift: [-123.68, -116.779, -103.939] },
        forwardTol: { atol: 1e-5, rtol: 1e-6 },
        gradTol: grad,
      }),
  },
  {
    name: 'torchvision normalisation (x/255 − mean)/std, 5 channels to cross a vec4',
    run: (engine) =>
      checkOp(engine, {
        op: channelAffine,
        inputs: [cpuRandom([1, 5, 3, 4], 15, 0, 255)],
        attrs: { scale: [0.1, -2, 3, 0.5, 7], shift: [1, 2, -3, 0.25, -0.5] },
        forwardTol: { atol: 1e-5, rtol: 1e-6 },
        gradTol: grad,
      }),
  },
];
