import { readFile } from 'node:fs/promises';
import type { CropScale } from '../models/sample-order.js';
import { decodeImage, type Geometry } from './image-io.js';

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
  return whole * (1 / whole) ** fraction;
}

/**
 * For a photo of width×height: resized by photoScale, then the size×size window at the given fractions of
 * the free range, mirrored left-right when `flip`.
 */
export function sampleGeometry(
  width: number,
  height: number,
  size: number,
  cropX: number,
  cropY: number,
  flip: boolean,
  scaleFraction = 0,
  mode: CropScale = 'shorter-side',
): Geometry {
  const scale = photoScale(width, height, size, mode, scaleFraction);
  const w = Math.max(size, Math.round(width * scale));
  const h = Math.max(size, Math.round(height * scale));
  const left = Math.min(w - size, Math.floor(cropX * (w - size + 1)));
  const top = Math.min(h - size, Math.floor(cropY * (h - size + 1)));
  return { width: w, height: h, crop: { left, top, width: size, height: size }, flip };
}

/** A photo file's training crop (see sampleGeometry) as size·size RGBA bytes, opaque: libvips decodes, resizes and crops. */
export async function cropSample(
  bytes: Uint8Array,
  name: string,
  size: number,
  cropX: number,
  cropY: number,
  flip: boolean,
  scaleFraction = 0,
  mode: CropScale = 'shorter-side',
): Promise<Uint8Array> {
  const img = await decodeImage(bytes, name, {
    geometry: (w, h) => sampleGeometry(w, h, size, cropX, cropY, flip, scaleFraction, mode),
  });
  // Photos are opaque; a transparent PNG among them trains on its colours as they are.
  for (let i = 3; i < img.data.length; i += 4) img.data[i] = 255;
  return img.data;
}

export async function runDataJob(job: DataJob): Promise<DataResult> {
  const failed: DataResult['failed'] = [];
  for (const path of job.candidates) {
    try {
      const bytes = new Uint8Array(await readFile(path));
      return {
        id: job.id,
        pixels: await cropSample(bytes, path, job.size, job.cropX, job.cropY, job.flip, job.scale, job.cropScale),
        failed,
      };
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      failed.push({ path, reason: message.startsWith('cannot read') ? message : `cannot read ${path}: ${message}` });
    }
  }
  return { id: job.id, pixels: null, failed };
}
