import { workgroups1d } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import { packParams, type Kernel } from '../engine/kernel.js';
import { Tensor, sizeOf } from '../engine/tensor.js';
import source from '../shaders/losses.wgsl';
import { cpuTensor } from './cpu.js';
import { defineOp } from './op.js';
import { broadcastScalar, sumToScalar } from './reduce.js';

/** Scalar reductions and losses: each output is a [1] tensor; backward reads the upstream [1] on the GPU. */

const WORKGROUP_SIZE = 256;

type Entry = 'squaredDifferenceBackward' | 'totalVariationBackward';

function kernel(entryPoint: Entry): Kernel {
  return { name: `losses.${entryPoint}`, code: source, entryPoint, constants: { WORKGROUP_SIZE } };
}

function scalar(v: number) {
  return cpuTensor([1], [v]);
}

// ------------------------------------------------------------------ sums

/** Σ x over every element → [1]. */
export const sumAll = defineOp({
  name: 'sumAll',
  inputs: ['x'],
  forward([x]: [x: Tensor]) {
    return { output: sumToScalar({ kind: 'values', x: x }, 1, 'sumAll'), saved: [] };
  },
  backward({ inputShapes }, dy) {
    return [broadcastScalar(dy, inputShapes[0], 1, 'sumAll.backward')];
  },
  reference([x]) {
    let s = 0;
    for (const v of x.data) s += v;
    return scalar(s);
  },
});

/** mean of x over every element → [1]. */
export const meanAll = defineOp({
  name: 'meanAll',
  inputs: ['x'],
  forward([x]: [x: Tensor]) {
    if (x.size === 0) throw new ShapeError(`meanAll: input ${shapeStr(x.shape)} has no elements`);
    return { output: sumToScalar({ kind: 'values', x: x }, 1 / x.size, 'meanAll'), saved: [] };
  },
  backward({ inputShapes }, dy) {
    const shape = inputShapes[0];
    return [broadcastScalar(dy, shape, 1 / sizeOf(shape), 'meanAll.backward')];
  },
  reference([x]) {
    let s = 0;
    for (const v of x.data) s += v;
    return scalar(s / x.data.length);
  },
});

// ------------------------------------------------------------------ mean squared error

function squaredDifferenceBackward(a: Tensor, b: Tensor, upstream: Tensor, coef: number): Tensor {
  const out = Tensor.empty(a.engine, a.shape);
  a.engine.dispatch({
    kernel: kernel('squaredDifferenceBackward'),
    buffers: [a.buffer, b.buffer, upstream.buffer, out.buffer],
    params: packParams([a.size, 1, 1], [coef, 0, 0]),
    workgroups: workgroups1d(a.engine, a.size, WORKGROUP_SIZE),
    label: 'mseLoss.backward',
  });
  return out;
}

/** mean((a − b)²) over every element of two same-shaped tensors → [1]. */
export const mseLoss = defineOp({
  name: 'mseLoss',
  inputs: ['a', 'b'],
  forward([a, b]: [a: Tensor, b: Tensor]) {
    const sa = a.shape;
    const sb = b.shape;
    if (sa.length !== sb.length || sa.some((d, i) => d !== sb[i])) {
      throw new ShapeError(`mseLoss: shapes ${shapeStr(sa)} and ${shapeStr(sb)} differ`);
    }
    if (a.size === 0) throw new ShapeError(`mseLoss: inputs ${shapeStr(sa)} have no elements`);
    return { output: sumToScalar({ kind: 'squaredDifferences', a: a, b: b }, 1 / a.size, 'mseLoss'), saved: [a, b] };
  },
  backward({ saved: [a, b], needsGrad }, dy) {
    const coef = 2 / a.size;
    return [
      needsGrad[0] ? squaredDifferenceBackward(a, b, dy, coef) : null,
      needsGrad[1] ? squaredDifferenceBackward(a, b, dy, -coef) : null,
    ];
  },
  reference([a, b]) {
    let s = 0;
    for (let i = 0; i < a.data.length; i++) s += (a.data[i] - b.data[i]) ** 2;
    return scalar(s / a.data.length);
  },
});

// ------------------------------------------------------------------ total variation

interface TvGeometry {
  width: number;
  height: number;
  /** 1 / number of horizontal differences, N·C·H·(W−1); 0 when W = 1 (the term is then 0). */
  weightH: number;
  /** 1 / number of vertical differences, N·C·(H−1)·W; 0 when H = 1. */
  weightV: number;
}

function tvGeometry(shape: readonly number[]): TvGeometry {
  if (shape.length !== 4) throw new ShapeError(`tvLoss: input ${shapeStr(shape)} is not [N, C, H, W]`);
  const [n, c, height, width] = shape;
  const horizontal = n * c * height * (width - 1);
  const vertical = n * c * (height - 1) * width;
  return {
    width,
    height,
    weightH: horizontal > 0 ? 1 / horizontal : 0,
    weightV: vertical > 0 ? 1 / vertical : 0,
  };
}

/**
 * Total variation of an [N, C, H, W] image batch → [1]: mean squared horizontal neighbour difference plus
 * mean squared vertical neighbour difference (a direction with a single row or column contributes 0).
 */
export const tvLoss = defineOp({
  name: 'tvLoss',
  inputs: ['x'],
  forward([x]: [x: Tensor]) {
    const g = tvGeometry(x.shape);
    return { output: sumToScalar({ kind: 'totalVariation', x: x, ...g }, 1, 'tvLoss'), saved: [x] };
  },
  backward({ saved: [x] }, dy) {
    const g = tvGeometry(x.shape);
    const out = Tensor.empty(x.engine, x.shape);
    x.engine.dispatch({
      kernel: kernel('totalVariationBackward'),
      buffers: [x.buffer, null, dy.buffer, out.buffer],
      params: packParams([x.size, g.width, g.height], [0, g.weightH, g.weightV]),
      workgroups: workgroups1d(x.engine, x.size, WORKGROUP_SIZE),
      label: 'tvLoss.backward',
    });
    return [out];
  },
  reference([x]) {
    const [n, c, h, w] = x.shape;
    const at = (p: number, i: number, j: number) => x.data[(p * h + i) * w + j];
    let sh = 0;
    let sv = 0;
    for (let p = 0; p < n * c; p++) {
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          if (j + 1 < w) sh += (at(p, i, j + 1) - at(p, i, j)) ** 2;
          if (i + 1 < h) sv += (at(p, i + 1, j) - at(p, i, j)) ** 2;
        }
      }
    }
    const countH = n * c * h * (w - 1);
    const countV = n * c * (h - 1) * w;
    return scalar((countH > 0 ? sh / countH : 0) + (countV > 0 ? sv / countV : 0));
  },
});
