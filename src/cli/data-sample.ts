import { readFileSync } from 'node:fs';
import type { CropScale } from '../models/sample-order.js';
import { decodeImage, resizeRgba, type RgbaImage } from './image-io.js';

/** One training sample to prepare: the first readable file of `candidates`, rescaled, cropped and maybe flipped. */
export interface DataJob {
  id: number;
  candidates: string[];
  size: number;
  flip: boolean;
  /** Crop position as a fraction of the free range along each axis. */
  cropX: number;
  cropY: number;
  /** The photo's scale as a fraction of its allowed range (see photoScale). */
  scale: number;
  cropScale: CropScale;
}

export interface DataResult {
  id: number;
  /** size·size·4 RGBA bytes, or null when no candidate could be read. */
  pixels: Uint8Array | null;
  /** Candidates that could not be read, with why (one line each). */
  failed: { path: string; reason: string }[];
}

/**
 * The factor a photo of w×h is resized by before a size×size crop. `shorter-side`: the shorter side becomes
 * the crop, so the crop sees (nearly) the whole photo. `random`: log-uniform between that and 1 (the photo's
 * own resolution; never enlarged beyond the shorter-side factor), so the net also meets regions at the scale
 * they have in a full-size photo: a net trained only on whole photos shrunk to the crop never sees a smooth
 * region as large as it is at stylisation size.
 */
export function photoScale(w: number, h: number, size: number, mode: CropScale, fraction: number): number {
  const whole = size / Math.min(w, h);
  if (mode === 'shorter-side' || whole >= 1) return whole;
  return whole * Math.pow(1 / whole, fraction);
}

/**
 * The photo resized by photoScale, then the size×size window at the given fractions of the free range,
 * mirrored left-right when `flip`.
 */
export function cropSample(img: RgbaImage, size: number, cropX: number, cropY: number, flip: boolean, scaleFraction = 0, mode: CropScale = 'shorter-side'): Uint8Array {
  const scale = photoScale(img.width, img.height, size, mode, scaleFraction);
  const w = Math.max(size, Math.round(img.width * scale));
  const h = Math.max(size, Math.round(img.height * scale));
  const resized = w === img.width && h === img.height ? img : resizeRgba(img, w, h);
  const x0 = Math.min(w - size, Math.floor(cropX * (w - size + 1)));
  const y0 = Math.min(h - size, Math.floor(cropY * (h - size + 1)));
  const out = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const sx = x0 + (flip ? size - 1 - x : x);
      const s = ((y0 + y) * w + sx) * 4;
      const o = (y * size + x) * 4;
      out[o] = resized.data[s];
      out[o + 1] = resized.data[s + 1];
      out[o + 2] = resized.data[s + 2];
      out[o + 3] = 255;
    }
  }
  return out;
}

export function runDataJob(job: DataJob): DataResult {
  const failed: DataResult['failed'] = [];
  for (const path of job.candidates) {
    try {
      const img = decodeImage(new Uint8Array(readFileSync(path)), path);
      return { id: job.id, pixels: cropSample(img, job.size, job.cropX, job.cropY, job.flip, job.scale, job.cropScale), failed };
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      failed.push({ path, reason: message.startsWith('cannot read') ? message : `cannot read ${path}: ${message}` });
    }
  }
  return { id: job.id, pixels: null, failed };
}
