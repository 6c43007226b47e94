import { workgroups1d } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import { packParams, type Kernel } from '../engine/kernel.js';
import { Tensor } from '../engine/tensor.js';
import source from '../shaders/pool.wgsl';
import { cpuTensor } from './cpu.js';
import { defineOp } from './op.js';

const WORKGROUP_SIZE = 256;

function kernel(entryPoint: 'forward' | 'backward'): Kernel {
  return { name: `maxPool2d.${entryPoint}`, code: source, entryPoint, constants: { WORKGROUP_SIZE } };
}

/** [N, C, H, W] → [N, C, floor(H/2), floor(W/2)]. */
function outputShape(shape: readonly number[]): number[] {
  if (shape.length !== 4 || shape[2] < 2 || shape[3] < 2) {
    throw new ShapeError(`maxPool2d: x must be [N, C, H, W] with H, W ≥ 2, got ${shapeStr(shape)}`);
  }
  const [n, c, h, w] = shape;
  return [n, c, Math.floor(h / 2), Math.floor(w / 2)];
}

function params(threads: number, inShape: readonly number[], outShape: readonly number[]): ArrayBuffer {
  return packParams([threads, inShape[2], inShape[3], outShape[2], outShape[3]]);
}

/**
 * 2×2 max pooling with stride 2 (floor: an odd last row/column is dropped). The backward routes each
 * gradient to its window's first maximum in row-major order, recomputed from the saved input.
 */
export const maxPool2d = defineOp({
  name: 'maxPool2d',
  inputs: ['x'],
  forward([x]: [x: Tensor]) {
    const shape = outputShape(x.shape);
    const y = Tensor.empty(x.engine, shape);
    x.engine.dispatch({
      kernel: kernel('forward'),
      buffers: [x.buffer, null, y.buffer],
      params: params(y.size, x.shape, shape),
      workgroups: workgroups1d(x.engine, y.size, WORKGROUP_SIZE),
      label: 'maxPool2d',
    });
    return { output: y, saved: [x] };
  },
  backward({ saved: [x] }, dy) {
    const dx = Tensor.empty(x.engine, x.shape);
    x.engine.dispatch({
      kernel: kernel('backward'),
      buffers: [x.buffer, dy.buffer, dx.buffer],
      params: params(dx.size, x.shape, dy.shape),
      workgroups: workgroups1d(x.engine, dx.size, WORKGROUP_SIZE),
      label: 'maxPool2d.backward',
    });
    return [dx];
  },
  reference([x]) {
    const [n, c, h, w] = x.shape;
    const shape = outputShape(x.shape);
    const [, , oh, ow] = shape;
    const y = cpuTensor(shape);
    for (let plane = 0; plane < n * c; plane++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let best = -Infinity;
          for (let dy = 0; dy < 2; dy++) {
            for (let dx = 0; dx < 2; dx++) best = Math.max(best, x.data[(plane * h + 2 * oy + dy) * w + 2 * ox + dx]);
          }
          y.data[(plane * oh + oy) * ow + ox] = best;
        }
      }
    }
    return y;
  },
});
