import { workgroups1d } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import { packParams, type Kernel } from '../engine/kernel.js';
import { Tensor } from '../engine/tensor.js';
import source from '../shaders/elementwise.wgsl';
import { cpuTensor, type CpuTensor } from './cpu.js';
import { defineOp } from './op.js';

const WORKGROUP_SIZE = 256;

/** Op codes of elementwise.wgsl (keep in step with its OP_* constants). */
const Code = {
  relu: 0,
  scaledTanh: 1,
  scale: 2,
  reluBackward: 10,
  scaledTanhBackward: 11,
  add: 20,
  mul: 21,
} as const;

type Entry = 'unary' | 'unaryBackward' | 'binary';

function kernel(entryPoint: Entry, code: number): Kernel {
  return {
    name: `elementwise.${entryPoint}`,
    code: source,
    entryPoint,
    constants: { OP: code, WORKGROUP_SIZE },
  };
}

/** Runs one elementwise kernel; `b` is the second input of binary / backward entry points. */
function run(entry: Entry, code: number, a: Tensor, b: Tensor | null, alpha = 1, beta = 0, label?: string): Tensor {
  const out = Tensor.empty(a.engine, a.shape);
  const n = a.size;
  // unary binds in0 and out only; `auto` layouts drop unused bindings, so in1's slot is skipped.
  const buffers = [a.buffer, entry === 'unary' ? null : b!.buffer, out.buffer];
  a.engine.dispatch({
    kernel: kernel(entry, code),
    buffers,
    params: packParams([n], [alpha, beta]),
    workgroups: workgroups1d(a.engine, n, WORKGROUP_SIZE),
    label,
  });
  return out;
}

function sameShape(op: string, a: readonly number[], b: readonly number[]): void {
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
    throw new ShapeError(`${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} differ`);
  }
}

function mapCpu(x: CpuTensor, f: (v: number) => number): CpuTensor {
  const y = cpuTensor(x.shape);
  for (let i = 0; i < y.data.length; i++) y.data[i] = f(x.data[i]);
  return y;
}

// ------------------------------------------------------------------ kernels usable without autograd

/** alpha·a + beta·b, elementwise (no gradient recorded). */
export function axpby(a: Tensor, b: Tensor, alpha = 1, beta = 1): Tensor {
  sameShape('add', a.shape, b.shape);
  return run('binary', Code.add, a, b, alpha, beta, 'add');
}

/** alpha·x + beta, elementwise (no gradient recorded). */
export function affine(x: Tensor, alpha: number, beta = 0): Tensor {
  return run('unary', Code.scale, x, null, alpha, beta, 'scale');
}

// ------------------------------------------------------------------ differentiable ops

export const relu = defineOp({
  name: 'relu',
  inputs: ['x'],
  forward([x]: [x: Tensor]) {
    const y = run('unary', Code.relu, x, null, 1, 0, 'relu');
    return { output: y, saved: [y] };
  },
  backward({ saved: [y] }, dy) {
    return [run('unaryBackward', Code.reluBackward, y, dy, 1, 0, 'relu.backward')];
  },
  reference([x]) {
    return mapCpu(x, (v) => Math.max(v, 0));
  },
});

export interface ScaledTanhAttrs {
  alpha: number;
  beta: number;
}

/** alpha·tanh(x) + beta: the transform net's output layer (150·tanh(x) + 127.5 gives pixels 0..255). */
export const scaledTanh = defineOp({
  name: 'scaledTanh',
  inputs: ['x'],
  forward([x]: [x: Tensor], { alpha, beta }: ScaledTanhAttrs) {
    return { output: run('unary', Code.scaledTanh, x, null, alpha, beta, 'scaledTanh'), saved: [x] };
  },
  backward({ saved: [x], attrs }, dy) {
    return [run('unaryBackward', Code.scaledTanhBackward, x, dy, attrs.alpha, 0, 'scaledTanh.backward')];
  },
  reference([x], { alpha, beta }) {
    return mapCpu(x, (v) => alpha * Math.tanh(v) + beta);
  },
});

export interface ScaleAttrs {
  alpha: number;
  beta?: number;
}

/** alpha·x + beta. */
export const scale = defineOp({
  name: 'scale',
  inputs: ['x'],
  forward([x]: [x: Tensor], { alpha, beta = 0 }: ScaleAttrs) {
    return { output: affine(x, alpha, beta), saved: [] };
  },
  backward({ attrs }, dy) {
    return [affine(dy, attrs.alpha, 0)];
  },
  reference([x], { alpha, beta = 0 }) {
    return mapCpu(x, (v) => alpha * v + beta);
  },
});

/** a + b, same shapes (residual connections, loss sums). */
export const add = defineOp({
  name: 'add',
  inputs: ['a', 'b'],
  forward([a, b]: [a: Tensor, b: Tensor]) {
    return { output: axpby(a, b, 1, 1), saved: [] };
  },
  backward(_ctx, dy) {
    return [dy, dy];
  },
  reference([a, b]) {
    const y = cpuTensor(a.shape);
    for (let i = 0; i < y.data.length; i++) y.data[i] = a.data[i] + b.data[i];
    return y;
  },
});

/** a · b, elementwise, same shapes. */
export const mul = defineOp({
  name: 'mul',
  inputs: ['a', 'b'],
  forward([a, b]: [a: Tensor, b: Tensor]) {
    sameShape('mul', a.shape, b.shape);
    return { output: run('binary', Code.mul, a, b, 1, 0, 'mul'), saved: [a, b] };
  },
  backward({ saved: [a, b], needsGrad }, dy) {
    return [
      needsGrad[0] ? run('binary', Code.mul, dy, b, 1, 0, 'mul.backward') : null,
      needsGrad[1] ? run('binary', Code.mul, dy, a, 1, 0, 'mul.backward') : null,
    ];
  },
  reference([a, b]) {
    const y = cpuTensor(a.shape);
    for (let i = 0; i < y.data.length; i++) y.data[i] = a.data[i] * b.data[i];
    return y;
  },
});

export interface ReshapeAttrs {
  shape: readonly number[];
}

/** A view with another shape (no copy). */
export const reshape = defineOp({
  name: 'reshape',
  inputs: ['x'],
  forward([x]: [x: Tensor], { shape }: ReshapeAttrs) {
    return { output: x.reshape(shape), saved: [] };
  },
  backward({ inputShapes }, dy) {
    return [dy.reshape(inputShapes[0])];
  },
  reference([x], { shape }) {
    return cpuTensor(shape, x.data);
  },
});
