// Training photos in the browser: decoded by the browser (createImageBitmap), rescaled and cropped as Node's
// loader (src/node/data-loader.ts) does, in the same order (SampleOrder, sampleGeometry), so that a run sees the
// same windows of the same photos on either. No Node APIs.
import { SampleOrder, sampleGeometry, type CropScale } from '../models/sample-order.js';
import type { RgbaImage } from '../models/rgba-image.js';
import { canvas2d } from './pixels.js';

/** A training photo: its path relative to the folder the user picked (or its file name), and its bytes. */
export interface PhotoFile {
  name: string;
  blob: Blob;
}

/** File names the loaders take: the formats Node's reads (src/node/image-io.ts IMAGE_EXTENSIONS). */
export const PHOTO_EXTENSIONS = /\.(jpe?g|png|webp|avif|heic|heif|tiff?|gif)$/i;

/**
 * The photos among the files of a picker (several files, or a folder with webkitdirectory), by name as Node
 * lists them (src/node/data-loader.ts listImages: by extension, sorted), and how many other files were left out.
 */
export function photoFiles(files: Iterable<File>): { photos: PhotoFile[]; ignored: number } {
  const photos: PhotoFile[] = [];
  let ignored = 0;
  for (const f of files) {
    // A folder pick names each file from the folder down ("photos/a/b.jpg"): the folder's own name is
    // dropped, as Node names them relative to --data.
    const path = f.webkitRelativePath ? f.webkitRelativePath.split('/').slice(1).join('/') : f.name;
    if (PHOTO_EXTENSIONS.test(path)) photos.push({ name: path, blob: f });
    else ignored++;
  }
  photos.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { photos, ignored };
}

/** Why a photo could not be read, in a line. */
function reason(name: string, e: unknown): string {
  const why = e instanceof Error ? e.message : String(e);
  return `cannot read ${name}: ${why || 'the browser cannot decode it'}`;
}

/**
 * The photo decoded upright (EXIF orientation applied) and in sRGB (an embedded colour profile converted, as
 * Node's loader does); opaque photos come out with their exact bytes.
 */
function decodeBitmap(blob: Blob): Promise<ImageBitmap> {
  return createImageBitmap(blob, {
    imageOrientation: 'from-image',
    premultiplyAlpha: 'none',
    colorSpaceConversion: 'default',
  });
}

/**
 * A window of `bitmap` (resized first to resizeTo when that differs from its size, by the browser's
 * high-quality filter) as RGBA bytes, exact for an opaque bitmap that is not resized: drawn on a canvas at an
 * integer offset, no smoothing.
 */
async function readWindow(
  bitmap: ImageBitmap,
  resizeTo: { width: number; height: number },
  crop: { left: number; top: number; width: number; height: number },
): Promise<Uint8ClampedArray> {
  let source = bitmap;
  if (resizeTo.width !== bitmap.width || resizeTo.height !== bitmap.height) {
    source = await createImageBitmap(bitmap, {
      resizeWidth: resizeTo.width,
      resizeHeight: resizeTo.height,
      resizeQuality: 'high',
      premultiplyAlpha: 'none',
    });
  }
  try {
    const ctx = canvas2d(crop.width, crop.height);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(source, -crop.left, -crop.top);
    return ctx.getImageData(0, 0, crop.width, crop.height).data;
  } finally {
    if (source !== bitmap) source.close();
  }
}

/** Mirrors RGBA rows left-right in place. */
function flipRows(data: Uint8ClampedArray | Uint8Array, width: number, height: number): void {
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width >> 1; x++) {
      const a = (y * width + x) * 4;
      const b = (y * width + width - 1 - x) * 4;
      for (let c = 0; c < 4; c++) {
        const t = data[a + c];
        data[a + c] = data[b + c];
        data[b + c] = t;
      }
    }
  }
}

/**
 * A photo's training crop, size·size opaque RGBA bytes: the window sampleGeometry gives for the sample's
 * draws. The same bytes as Node's loader when the photo needs no rescaling (its shorter side is the crop
 * size, or the scale drawn is 1); a rescaled photo goes through the browser's filter instead of libvips'
 * Lanczos-3, which differ by a few levels.
 */
export async function photoCrop(
  blob: Blob,
  size: number,
  draw: { cropX: number; cropY: number; flip: boolean; scale: number },
  mode: CropScale,
): Promise<Uint8Array> {
  const bitmap = await decodeBitmap(blob);
  try {
    const g = sampleGeometry(bitmap.width, bitmap.height, size, draw.cropX, draw.cropY, draw.flip, draw.scale, mode);
    const data = await readWindow(bitmap, g, g.crop);
    if (g.flip) flipRows(data, size, size);
    for (let i = 3; i < data.length; i += 4) data[i] = 255;
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } finally {
    bitmap.close();
  }
}

/** A whole image file as RGBA bytes (upright, sRGB). */
export async function decodeRgba(blob: Blob, name: string): Promise<RgbaImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await decodeBitmap(blob);
  } catch (e) {
    throw new Error(reason(name, e));
  }
  try {
    const data = await readWindow(bitmap, bitmap, { left: 0, top: 0, width: bitmap.width, height: bitmap.height });
    return { width: bitmap.width, height: bitmap.height, data };
  } finally {
    bitmap.close();
  }
}

/** RGBA pixels resized by the browser's high-quality filter (equal sizes: the pixels as they are). */
export async function resizeRgba(img: RgbaImage, width: number, height: number): Promise<RgbaImage> {
  if (width === img.width && height === img.height) return img;
  const source = await createImageBitmap(
    new ImageData(new Uint8ClampedArray(img.data), img.width, img.height) as ImageData,
    { resizeWidth: width, resizeHeight: height, resizeQuality: 'high', premultiplyAlpha: 'none' },
  );
  try {
    return { width, height, data: await readWindow(source, source, { left: 0, top: 0, width, height }) };
  } finally {
    source.close();
  }
}

/** Which of `photos` the browser can decode (all of them are tried, `onProgress` after each), the rest with why. */
export async function checkPhotos(
  photos: readonly PhotoFile[],
  onProgress?: (done: number, total: number) => void,
): Promise<{ readable: PhotoFile[]; skipped: { name: string; reason: string }[] }> {
  const readable: PhotoFile[] = [];
  const skipped: { name: string; reason: string }[] = [];
  let done = 0;
  // A few at a time: the browser decodes off the main thread, and a folder of thousands must not decode all at once.
  const queue = [...photos.keys()];
  const ok = new Array<boolean>(photos.length).fill(false);
  const worker = async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      try {
        (await decodeBitmap(photos[i].blob)).close();
        ok[i] = true;
      } catch (e) {
        skipped.push({ name: photos[i].name, reason: reason(photos[i].name, e) });
      }
      onProgress?.(++done, photos.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, photos.length) }, worker));
  photos.forEach((p, i) => {
    if (ok[i]) readable.push(p);
  });
  skipped.sort((a, b) => (a.name < b.name ? -1 : 1));
  return { readable, skipped };
}

export interface BrowserDataLoaderOptions {
  size: number;
  batch: number;
  seed: number;
  cropScale: CropScale;
  /** Index of the first sample (the trainer's samplesSeen when resuming). */
  start: number;
  /** Batches prepared ahead. */
  prefetch?: number;
  /** Told once per photo that cannot be read. */
  onWarning?(message: string): void;
}

/**
 * Training batches in SampleOrder's order for (seed, sample index), as Node's DataLoader gives them: a photo
 * that cannot be read is reported once and replaced by the file SampleOrder.fileFor names next.
 */
export class BrowserDataLoader {
  private readonly order: SampleOrder;
  private readonly bad = new Set<number>();
  private readonly pending: Promise<Uint8Array>[] = [];
  private nextSample: number;
  private closed = false;

  constructor(
    readonly photos: readonly PhotoFile[],
    private readonly opts: BrowserDataLoaderOptions,
  ) {
    if (photos.length === 0) throw new Error('no photos to train on');
    this.order = new SampleOrder(opts.seed, photos.length);
    this.nextSample = opts.start;
    for (let i = 0; i < (opts.prefetch ?? 1) * opts.batch; i++) this.enqueue();
  }

  /** The next batch: `batch` RGBA crops of size² pixels. */
  async next(): Promise<Uint8Array[]> {
    if (this.closed) throw new Error('the data loader is closed');
    const batch: Uint8Array[] = [];
    for (let i = 0; i < this.opts.batch; i++) {
      batch.push(await this.pending.shift()!);
      this.enqueue();
    }
    return batch;
  }

  close(): void {
    this.closed = true;
    this.pending.length = 0;
  }

  private enqueue(): void {
    const sample = this.sample(this.nextSample++);
    sample.catch(() => undefined);
    this.pending.push(sample);
  }

  private async sample(index: number): Promise<Uint8Array> {
    const draw = this.order.at(index);
    const n = this.photos.length;
    for (let k = 0; k < n; k++) {
      const file = this.order.fileFor(index, k);
      if (this.bad.has(file)) continue;
      try {
        return await photoCrop(this.photos[file].blob, this.opts.size, draw, this.opts.cropScale);
      } catch (e) {
        if (!this.bad.has(file)) {
          this.bad.add(file);
          this.opts.onWarning?.(`skipping ${reason(this.photos[file].name, e)}`);
        }
      }
    }
    throw new Error(`none of the ${n} photos can be read`);
  }
}
