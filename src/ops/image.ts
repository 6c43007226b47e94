import type { Engine } from '../engine/engine.js';
import { workgroups1d } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import { packParams, type Kernel } from '../engine/kernel.js';
import { Tensor } from '../engine/tensor.js';
import source from '../shaders/image.wgsl';

/**
 * 8-bit RGBA images to and from f32 [N, 3, H, W] tensors, on the GPU. Value convention:
 * value = (byte · scale − mean[c]) / std[c]; the default (scale 1, mean 0, std 1) keeps pixels as 0..255,
 * torchvision's is scale 1/255 with the ImageNet mean and std.
 */

const WORKGROUP_SIZE = 256;

export interface PixelConvention {
  scale?: number;
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
}

function kernel(entryPoint: 'decode' | 'encode'): Kernel {
  return { name: `image.${entryPoint}`, code: source, entryPoint, constants: { WORKGROUP_SIZE } };
}

function checkConvention(op: string, opts: PixelConvention): void {
  const scale = opts.scale ?? 1;
  const std = opts.std ?? [1, 1, 1];
  if (!(scale > 0) || !std.every((s) => s > 0)) {
    throw new RangeError(`${op}: scale ${scale} and std [${std.join(', ')}] must be positive`);
  }
}

function imageParams(pixels: number, base: number, opts: PixelConvention): ArrayBuffer {
  const [m0, m1, m2] = opts.mean ?? [0, 0, 0];
  const [s0, s1, s2] = opts.std ?? [1, 1, 1];
  // Layout of image.wgsl's Params: 4 u32 (2 used), mean vec4, std vec4, scale.
  return packParams([pixels, base, 0, 0], [m0, m1, m2, 0, s0, s1, s2, 1, opts.scale ?? 1]);
}

/** Checks `t` is [N, 3, height, width] with N > index and returns the offset of image `index`. */
function imageBase(op: string, t: Tensor, index: number, width?: number, height?: number): number {
  const [n, c, h, w] = t.shape;
  if (t.rank !== 4 || c !== 3 || (height !== undefined && h !== height) || (width !== undefined && w !== width)) {
    const want = `[N, 3, ${height ?? 'H'}, ${width ?? 'W'}]`;
    throw new ShapeError(`${op}: tensor ${shapeStr(t.shape)} is not ${want}`);
  }
  if (!Number.isInteger(index) || index < 0 || index >= n) {
    throw new RangeError(`${op}: image index ${index} outside a batch of ${n}`);
  }
  return index * 3 * h * w;
}

/**
 * Uploads RGBA bytes (row-major, width·height·4) packed as they are, one u32 per pixel, and converts them on
 * the GPU: into a new [1, 3, height, width] tensor, or into image `into.index` of `into.tensor` (returned).
 */
export function rgbaToTensor(
  engine: Engine,
  pixels: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  opts: PixelConvention = {},
  into?: { tensor: Tensor; index: number },
): Tensor {
  const count = width * height;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`rgbaToTensor: image size ${width}×${height}`);
  }
  if (pixels.length !== count * 4) {
    throw new RangeError(`rgbaToTensor: ${pixels.length} bytes for a ${width}×${height} RGBA image (${count * 4})`);
  }
  checkConvention('rgbaToTensor', opts);
  const base = into ? imageBase('rgbaToTensor', into.tensor, into.index, width, height) : 0;
  const target = into?.tensor ?? Tensor.empty(engine, [1, 3, height, width], 'image');
  const staging = engine.pool.acquire(count * 4, 'rgbaToTensor.pixels');
  try {
    engine.writeBuffer(staging, pixels);
    engine.dispatch({
      kernel: kernel('decode'),
      buffers: [staging, target.buffer],
      params: imageParams(count, base, opts),
      workgroups: workgroups1d(engine, count, WORKGROUP_SIZE),
      label: 'rgbaToTensor',
    });
  } finally {
    // Stream order makes the pooled buffer safe to hand out again: later writes to it are queued after this.
    engine.pool.release(staging);
  }
  return target;
}

/**
 * Image `index` of an [N, 3, H, W] tensor as RGBA bytes (alpha 255): value·std + mean, then /scale, rounded
 * and clamped to 0..255. Packed on the GPU; one readback.
 */
export async function tensorToRgba(t: Tensor, index = 0, opts: PixelConvention = {}): Promise<Uint8ClampedArray> {
  const engine = t.engine;
  checkConvention('tensorToRgba', opts);
  const base = imageBase('tensorToRgba', t, index);
  const count = t.shape[2] * t.shape[3];
  const packed = engine.pool.acquire(count * 4, 'tensorToRgba.pixels');
  try {
    engine.dispatch({
      kernel: kernel('encode'),
      buffers: [null, null, t.buffer, packed],
      params: imageParams(count, base, opts),
      workgroups: workgroups1d(engine, count, WORKGROUP_SIZE),
      label: 'tensorToRgba',
    });
    return new Uint8ClampedArray(await engine.read(packed, count * 4));
  } finally {
    engine.pool.release(packed);
  }
}
