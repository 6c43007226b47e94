/**
 * Flicker, measured. A synthetic clip with known motion: a photo panned by whole pixels per frame, with
 * small sensor-like noise added to each frame. A perfectly stable net moves its strokes with the picture,
 * so frame t+1 of its output equals frame t shifted by the pan, up to the border: the temporal error is
 * mean |S(t+1) − shift(S(t))| over the pixels the two frames share (0..255 levels, RGB, averaged over the
 * pairs). The same measure on the input frames shows what the noise alone contributes (≈ 1.13 σ).
 * Instance-norm nets turn tiny input changes into visibly different strokes (Gupta et al. 2017): this
 * number is how much.
 */
import { rng } from '../ops/cpu.js';
import type { RgbaImage } from './rgba-image.js';
import { stylizeRgba, type StylizeOptions, type TransformNetLike } from './stylize.js';

export interface PannedClipOptions {
  frames: number;
  /** Whole pixels the picture moves per frame, in x and y (≥ 0; content moves left/up as the window moves right/down). */
  pan: readonly [number, number];
  /** Standard deviation of the Gaussian noise added to every frame, 0..255 levels (0: none). */
  noise: number;
  seed: number;
}

/** Frame size of a panned clip of `photo`: the photo less the distance the window travels. */
export function pannedClipSize(
  photo: { width: number; height: number },
  o: Pick<PannedClipOptions, 'frames' | 'pan'>,
): { width: number; height: number } {
  return { width: photo.width - (o.frames - 1) * o.pan[0], height: photo.height - (o.frames - 1) * o.pan[1] };
}

/**
 * The clip: frame t is the window of the photo at (t·dx, t·dy), plus fresh noise (rounded, clamped to
 * 0..255). Deterministic for a seed.
 */
export function pannedClip(photo: RgbaImage, o: PannedClipOptions): RgbaImage<Uint8Array>[] {
  const [dx, dy] = o.pan;
  if (!(Number.isInteger(o.frames) && o.frames >= 2))
    throw new RangeError(`pannedClip: frames must be an integer ≥ 2, got ${o.frames}`);
  if (!(Number.isInteger(dx) && Number.isInteger(dy) && dx >= 0 && dy >= 0 && dx + dy > 0))
    throw new RangeError(`pannedClip: the pan must be whole non-negative pixels, not both 0; got ${dx}, ${dy}`);
  const { width, height } = pannedClipSize(photo, o);
  if (width < 1 || height < 1)
    throw new RangeError(
      `pannedClip: a ${photo.width}×${photo.height} photo is too small to pan ${o.frames - 1} × (${dx}, ${dy}) pixels`,
    );
  const random = rng(o.seed);
  // Box–Muller: two uniforms per Gaussian sample (the second one is dropped; speed does not matter here).
  const gaussian = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const frames: RgbaImage<Uint8Array>[] = [];
  for (let t = 0; t < o.frames; t++) {
    const data = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const s = ((y + t * dy) * photo.width + x + t * dx) * 4;
        const d = (y * width + x) * 4;
        for (let c = 0; c < 3; c++) {
          const v = photo.data[s + c] + (o.noise > 0 ? o.noise * gaussian() : 0);
          data[d + c] = Math.min(255, Math.max(0, Math.round(v)));
        }
        data[d + 3] = 255;
      }
    }
    frames.push({ width, height, data });
  }
  return frames;
}

/**
 * Mean |S(t+1)(x, y) − S(t)(x + dx, y + dy)| over the shared pixels and RGB channels, per consecutive pair
 * and averaged: 0 when every frame is the previous one moved by the pan.
 */
export function temporalError(
  frames: readonly RgbaImage[],
  pan: readonly [number, number],
): { mean: number; pairs: number[] } {
  const [dx, dy] = pan;
  const pairs: number[] = [];
  for (let t = 0; t + 1 < frames.length; t++) {
    const a = frames[t];
    const b = frames[t + 1];
    if (a.width !== b.width || a.height !== b.height) throw new RangeError('temporalError: frames differ in size');
    const w = a.width - dx;
    const h = a.height - dy;
    if (w < 1 || h < 1)
      throw new RangeError(`temporalError: a ${a.width}×${a.height} frame has no overlap after a (${dx}, ${dy}) pan`);
    let sum = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const p = (y * a.width + x) * 4;
        const q = ((y + dy) * a.width + x + dx) * 4;
        sum +=
          Math.abs(b.data[p] - a.data[q]) +
          Math.abs(b.data[p + 1] - a.data[q + 1]) +
          Math.abs(b.data[p + 2] - a.data[q + 2]);
      }
    }
    pairs.push(sum / (w * h * 3));
  }
  return { mean: pairs.reduce((s, v) => s + v, 0) / pairs.length, pairs };
}

export interface TemporalResult {
  /** The net's temporal error (levels). */
  net: number;
  /** The input clip's own (the noise's share). */
  input: number;
  pairs: number[];
  frames: RgbaImage<Uint8Array>[];
  stylised: RgbaImage<Uint8Array>[];
}

/** Stylises the panned clip of `photo` frame by frame, as the video command does, and measures it. */
export async function measureTemporalError(
  net: TransformNetLike,
  photo: RgbaImage,
  o: PannedClipOptions,
  stylize: Pick<StylizeOptions, 'preserveColors' | 'strength'> = {},
): Promise<TemporalResult> {
  const frames = pannedClip(photo, o);
  const stylised: RgbaImage<Uint8Array>[] = [];
  for (const f of frames) {
    const out = await stylizeRgba(net, f, stylize);
    stylised.push({ width: out.width, height: out.height, data: out.data });
  }
  const result = temporalError(stylised, o.pan);
  return { net: result.mean, input: temporalError(frames, o.pan).mean, pairs: result.pairs, frames, stylised };
}
