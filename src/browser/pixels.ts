// Pixels in and out of the browser: image sources to RGBA bytes, and blending with the content image.
// No Node APIs; the DOM types are only used where the browser provides them.

import type { RgbaImage } from '../models/rgba-image.js';

/** What stylize() accepts: anything that a canvas can draw, or raw RGBA pixels. */
export type ImageInput =
  | RgbaImage
  | ImageData
  | ImageBitmap
  | HTMLImageElement
  | HTMLCanvasElement
  | HTMLVideoElement
  | OffscreenCanvas
  | VideoFrame;

/** The result: ImageData where the environment has it (so it can go straight to putImageData). */
export type ImageDataLike = { width: number; height: number; data: Uint8ClampedArray };

function isRgba(x: unknown): x is RgbaImage {
  const d = (x as RgbaImage).data;
  return (
    typeof (x as RgbaImage).width === 'number' &&
    typeof (x as RgbaImage).height === 'number' &&
    (d instanceof Uint8Array || d instanceof Uint8ClampedArray)
  );
}

/** Natural size of a drawable source (video and images report their intrinsic size). */
function sourceSize(src: Exclude<ImageInput, RgbaImage | ImageData>): { width: number; height: number } {
  const g = globalThis as Record<string, unknown>;
  if (typeof g.HTMLImageElement === 'function' && src instanceof HTMLImageElement) {
    return { width: src.naturalWidth, height: src.naturalHeight };
  }
  if (typeof g.HTMLVideoElement === 'function' && src instanceof HTMLVideoElement) {
    return { width: src.videoWidth, height: src.videoHeight };
  }
  if (typeof g.VideoFrame === 'function' && src instanceof VideoFrame) {
    return { width: src.displayWidth, height: src.displayHeight };
  }
  const s = src as { width: number; height: number };
  return { width: s.width, height: s.height };
}

type Ctx2d = CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;

/** A 2-D canvas context of the given size: OffscreenCanvas where available (workers too), else a DOM canvas. */
export function canvas2d(width: number, height: number): Ctx2d {
  let ctx: Ctx2d | null = null;
  if (typeof OffscreenCanvas === 'function') {
    ctx = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
  } else if (typeof document !== 'undefined') {
    const c = document.createElement('canvas');
    c.width = width;
    c.height = height;
    ctx = c.getContext('2d', { willReadFrequently: true });
  }
  if (!ctx) throw new Error('no 2-D canvas available to read the image pixels (needs OffscreenCanvas or a DOM)');
  return ctx;
}

/**
 * RGBA bytes of an image source. Raw pixels and ImageData are used as they are (no copy); anything else is
 * drawn on a canvas of its natural size, or of `size` when given (scaled), and read back.
 */
export function toRgba(src: ImageInput, size?: { width: number; height: number }): RgbaImage {
  if (isRgba(src) && !size) {
    const { width, height, data } = src;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
      throw new RangeError(`image size ${width}×${height} is not a positive integer size`);
    }
    if (data.length !== width * height * 4) {
      throw new RangeError(`image ${width}×${height} needs ${width * height * 4} RGBA bytes, got ${data.length}`);
    }
    return { width, height, data };
  }
  let drawable: CanvasImageSource;
  let natural: { width: number; height: number };
  if (isRgba(src)) {
    // Raw pixels that must be resized: put them on a canvas first.
    const c = canvas2d(src.width, src.height);
    c.putImageData(new ImageData(new Uint8ClampedArray(src.data), src.width, src.height), 0, 0);
    drawable = c.canvas as CanvasImageSource;
    natural = src;
  } else {
    drawable = src as CanvasImageSource;
    natural = sourceSize(src);
  }
  const width = size?.width ?? natural.width;
  const height = size?.height ?? natural.height;
  if (!width || !height) throw new RangeError('image has no pixels yet (not loaded, or a video without a frame)');
  const ctx = canvas2d(width, height);
  ctx.drawImage(drawable, 0, 0, width, height);
  const img = ctx.getImageData(0, 0, width, height);
  return { width, height, data: img.data };
}

/** Wraps RGBA bytes as ImageData where the environment has it, else as a plain {width, height, data}. */
export function toImageData(width: number, height: number, data: Uint8ClampedArray): ImageDataLike {
  if (typeof ImageData === 'function') return new ImageData(data as Uint8ClampedArray<ArrayBuffer>, width, height);
  return { width, height, data };
}

/**
 * strength·styled + (1 − strength)·content per colour channel, rounded; alpha is the content's.
 * `styled` may be RGBA or RGB (3 bytes a pixel).
 */
export function blendRgba(content: RgbaImage, styled: RgbaImage, strength: number): Uint8ClampedArray {
  if (content.width !== styled.width || content.height !== styled.height) {
    throw new RangeError(
      `blend: content ${content.width}×${content.height} and styled ${styled.width}×${styled.height} differ`,
    );
  }
  if (!(strength >= 0 && strength <= 1)) throw new RangeError(`strength must be in 0..1, got ${strength}`);
  const n = content.width * content.height;
  const sc = styled.data.length / n;
  if (sc !== 3 && sc !== 4) throw new RangeError(`blend: styled image has ${styled.data.length} bytes for ${n} pixels`);
  const out = new Uint8ClampedArray(n * 4);
  const a = content.data;
  const b = styled.data;
  const k = 1 - strength;
  for (let p = 0; p < n; p++) {
    const i = p * 4;
    const j = p * sc;
    out[i] = Math.round(strength * b[j] + k * a[i]);
    out[i + 1] = Math.round(strength * b[j + 1] + k * a[i + 1]);
    out[i + 2] = Math.round(strength * b[j + 2] + k * a[i + 2]);
    out[i + 3] = a[i + 3];
  }
  return out;
}

/** Fits width×height inside maxSide (keeping the aspect ratio); never enlarges. */
export function fitSize(width: number, height: number, maxSide: number): { width: number; height: number } {
  const s = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
}
