import { workgroups1d } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import { packParams, type Kernel } from '../engine/kernel.js';
import { Tensor } from '../engine/tensor.js';
import source from '../shaders/pad-crop.wgsl';
import { cpuTensor } from './cpu.js';
import { defineOp } from './op.js';
import { padSourceIndex, type Pad2dAttrs, type PadMode } from './padding.js';

const WORKGROUP_SIZE = 256;

const MODE_CODE: Record<PadMode, number> = { zeros: 0, reflect: 1, replicate: 2 };

function kernel(entryPoint: 'window' | 'padBackward', mode: PadMode): Kernel {
  return {
    name: `pad-crop.${entryPoint}`,
    code: source,
    entryPoint,
    constants: { MODE: MODE_CODE[mode], WORKGROUP_SIZE },
  };
}

function spatial(op: string, shape: readonly number[]): [number, number, number] {
  if (shape.length !== 4) throw new ShapeError(`${op}: expects an NCHW tensor, got ${shapeStr(shape)}`);
  return [shape[0] * shape[1], shape[2], shape[3]];
}

/** out = in shifted by (top, left) into an outH×outW frame; what falls outside the input follows `mode`. */
function windowKernel(
  x: Tensor,
  outH: number,
  outW: number,
  top: number,
  left: number,
  mode: PadMode,
  label: string,
): Tensor {
  const [planes, h, w] = spatial(label, x.shape);
  const out = Tensor.empty(x.engine, [x.shape[0], x.shape[1], outH, outW]);
  x.engine.dispatch({
    kernel: kernel('window', mode),
    buffers: [x.buffer, out.buffer],
    params: packParams([planes, h, w, outH, outW, 0, 0], [], [top, left]),
    workgroups: workgroups1d(x.engine, out.size, WORKGROUP_SIZE),
    label,
  });
  return out;
}

function checkPad(shape: readonly number[], a: Pad2dAttrs): void {
  spatial('pad2d', shape);
  for (const k of ['top', 'bottom', 'left', 'right'] as const) {
    if (!Number.isInteger(a[k]) || a[k] < 0)
      throw new ShapeError(`pad2d: ${k} = ${a[k]} is not a non-negative integer`);
  }
  if (a.mode === 'reflect' && (Math.max(a.top, a.bottom) >= shape[2] || Math.max(a.left, a.right) >= shape[3])) {
    throw new ShapeError(
      `pad2d: reflect padding (${a.top}, ${a.bottom}, ${a.left}, ${a.right}) must be smaller than the input ${shapeStr(shape)}; use replicate`,
    );
  }
}

/** Pads H (top/bottom) and W (left/right) with zeros, a reflection (edge not repeated) or the edge value. */
export const pad2d = defineOp({
  name: 'pad2d',
  inputs: ['x'],
  forward([x]: [x: Tensor], a: Pad2dAttrs) {
    checkPad(x.shape, a);
    const [, , h, w] = x.shape;
    return {
      output: windowKernel(x, h + a.top + a.bottom, w + a.left + a.right, a.top, a.left, a.mode, 'pad2d'),
      saved: [],
    };
  },
  backward({ attrs: a, inputShapes }, dy) {
    const [n, c, h, w] = inputShapes[0];
    if (a.mode === 'zeros') return [windowKernel(dy, h, w, -a.top, -a.left, 'zeros', 'pad2d.backward')];
    const dx = Tensor.empty(dy.engine, [n, c, h, w]);
    dy.engine.dispatch({
      kernel: kernel('padBackward', a.mode),
      buffers: [dy.buffer, dx.buffer],
      params: packParams([n * c, h, w, dy.shape[2], dy.shape[3], a.bottom, a.right], [], [a.top, a.left]),
      workgroups: workgroups1d(dy.engine, dx.size, WORKGROUP_SIZE),
      label: 'pad2d.backward',
    });
    return [dx];
  },
  reference([x], a) {
    checkPad(x.shape, a);
    const [n, c, h, w] = x.shape;
    const ho = h + a.top + a.bottom;
    const wo = w + a.left + a.right;
    const y = cpuTensor([n, c, ho, wo]);
    for (let p = 0; p < n * c; p++) {
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          const sy = padSourceIndex(oy - a.top, h, a.mode);
          const sx = padSourceIndex(ox - a.left, w, a.mode);
          y.data[(p * ho + oy) * wo + ox] = sy < 0 || sx < 0 ? 0 : x.data[(p * h + sy) * w + sx];
        }
      }
    }
    return y;
  },
});

export interface Crop2dAttrs {
  top: number;
  left: number;
  height: number;
  width: number;
}

function checkCrop(shape: readonly number[], a: Crop2dAttrs): void {
  const [, h, w] = spatial('crop2d', shape);
  const ok = [a.top, a.left, a.height, a.width].every((v) => Number.isInteger(v) && v >= 0);
  if (!ok || a.height < 1 || a.width < 1 || a.top + a.height > h || a.left + a.width > w) {
    throw new ShapeError(
      `crop2d: window (top ${a.top}, left ${a.left}, ${a.height}×${a.width}) does not fit in ${shapeStr(shape)}`,
    );
  }
}

/** The height×width window at (top, left) of every plane. */
export const crop2d = defineOp({
  name: 'crop2d',
  inputs: ['x'],
  forward([x]: [x: Tensor], a: Crop2dAttrs) {
    checkCrop(x.shape, a);
    return { output: windowKernel(x, a.height, a.width, -a.top, -a.left, 'zeros', 'crop2d'), saved: [] };
  },
  backward({ attrs: a, inputShapes }, dy) {
    const [, , h, w] = inputShapes[0];
    return [windowKernel(dy, h, w, a.top, a.left, 'zeros', 'crop2d.backward')];
  },
  reference([x], a) {
    checkCrop(x.shape, a);
    const [n, c, h, w] = x.shape;
    const y = cpuTensor([n, c, a.height, a.width]);
    for (let p = 0; p < n * c; p++) {
      for (let oy = 0; oy < a.height; oy++) {
        for (let ox = 0; ox < a.width; ox++) {
          y.data[(p * a.height + oy) * a.width + ox] = x.data[(p * h + oy + a.top) * w + ox + a.left];
        }
      }
    }
    return y;
  },
});
