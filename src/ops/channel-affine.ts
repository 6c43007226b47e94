import { workgroups1d } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import { packParams } from '../engine/kernel.js';
import { Tensor } from '../engine/tensor.js';
import source from '../shaders/channel-affine.wgsl';
import { cpuTensor } from './cpu.js';
import { defineOp } from './op.js';

const WORKGROUP_SIZE = 256;
/** The constants travel in the dispatch's uniform; 16 channels per vector is plenty for image conventions. */
const CHANNEL_AFFINE_MAX_CHANNELS = 16;

export interface ChannelAffineAttrs {
  /** One factor per channel. */
  scale: readonly number[];
  /** One offset per channel. */
  shift: readonly number[];
}

function check(shape: readonly number[], a: ChannelAffineAttrs): void {
  if (shape.length < 2) throw new ShapeError(`channelAffine: expects [N, C, ...], got ${shapeStr(shape)}`);
  const c = shape[1];
  if (a.scale.length !== c || a.shift.length !== c) {
    throw new ShapeError(
      `channelAffine: ${a.scale.length} scales and ${a.shift.length} shifts for ${c} channels of ${shapeStr(shape)}`,
    );
  }
  if (c > CHANNEL_AFFINE_MAX_CHANNELS)
    throw new ShapeError(`channelAffine: at most ${CHANNEL_AFFINE_MAX_CHANNELS} channels, got ${shapeStr(shape)}`);
}

function run(x: Tensor, scale: readonly number[], shift: readonly number[], label: string): Tensor {
  const c = x.shape[1];
  const y = Tensor.empty(x.engine, x.shape);
  const f32 = new Array<number>(2 * CHANNEL_AFFINE_MAX_CHANNELS).fill(0);
  for (let i = 0; i < c; i++) {
    f32[i] = scale[i];
    f32[CHANNEL_AFFINE_MAX_CHANNELS + i] = shift[i];
  }
  x.engine.dispatch({
    kernel: { name: 'channel-affine', code: source, constants: { WORKGROUP_SIZE } },
    buffers: [x.buffer, y.buffer],
    params: packParams([x.size, c, x.size / (x.shape[0] * c) || 1, 0], f32),
    workgroups: workgroups1d(x.engine, x.size, WORKGROUP_SIZE),
    label,
  });
  return y;
}

/**
 * y = scale[c]·x + shift[c] per channel, with constant factors: image normalisations such as a loss
 * network's (pixels − mean) / std. Differentiable in x.
 */
export const channelAffine = defineOp({
  name: 'channelAffine',
  inputs: ['x'],
  forward([x]: [x: Tensor], a: ChannelAffineAttrs) {
    check(x.shape, a);
    return { output: run(x, a.scale, a.shift, 'channelAffine'), saved: [] };
  },
  backward({ attrs }, dy) {
    return [
      run(
        dy,
        attrs.scale,
        attrs.scale.map(() => 0),
        'channelAffine.backward',
      ),
    ];
  },
  reference([x], a) {
    check(x.shape, a);
    const c = x.shape[1];
    const plane = x.data.length / (x.shape[0] * c);
    const y = cpuTensor(x.shape);
    for (let i = 0; i < y.data.length; i++) {
      const ch = Math.floor(i / plane) % c;
      y.data[i] = a.scale[ch] * x.data[i] + a.shift[ch];
    }
    return y;
  },
});
