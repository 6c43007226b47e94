import { readFile } from 'node:fs/promises';
import { sampleGeometry, type CropScale } from '../models/sample-order.js';
import { decodeImage } from './image-io.js';

export { photoScale, sampleGeometry } from '../models/sample-order.js';

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
