// The op registry: every differentiable op, by name. Adding an op = its file + one line here + its test.
import { add, mul, relu, reshape, scale, scaledTanh } from './elementwise.js';

export const ops = {
  relu,
  scaledTanh,
  scale,
  add,
  mul,
  reshape,
} as const;

export type OpName = keyof typeof ops;

export { defineOp, type OpDef, type BackwardContext } from './op.js';
export { cpuTensor, cpuRandom, rng, type CpuTensor } from './cpu.js';
export { axpby, affine } from './elementwise.js';
