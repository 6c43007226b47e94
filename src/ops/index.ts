// The op registry: every differentiable op, by name. Adding an op = its file + one line here + its test.
import { add, mul, relu, reshape, scale, scaledTanh } from './elementwise.js';
import { channelAffine } from './channel-affine.js';
import { crop2d, pad2d } from './pad-crop.js';
import { conv2d } from './conv2d.js';
import { conv2dTranspose } from './conv2d-transpose.js';
import { instanceNorm } from './instance-norm.js';
import { maxPool2d } from './pool.js';
import { gram } from './gram.js';
import { meanAll, mseLoss, sumAll, tvLoss } from './losses.js';
import { preserveColors } from './color.js';

export const ops = {
  relu,
  scaledTanh,
  scale,
  add,
  mul,
  reshape,
  channelAffine,
  pad2d,
  crop2d,
  conv2d,
  conv2dTranspose,
  instanceNorm,
  maxPool2d,
  gram,
  sumAll,
  meanAll,
  mseLoss,
  tvLoss,
  preserveColors,
} as const;

export type OpName = keyof typeof ops;

export { defineOp, type OpDef, type BackwardContext } from './op.js';
export { cpuTensor, cpuRandom, rng, type CpuTensor } from './cpu.js';
export { axpby, affine } from './elementwise.js';
export { adamStep, type AdamHyperparams } from './adam.js';
export { dot, absSum, absMax } from './vector.js';
export { rgbToYcbcr, ycbcrToRgb } from './color.js';
export { rgbaToTensor, tensorToRgba, type PixelConvention } from './image.js';
