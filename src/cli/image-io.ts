/**
 * Image files on Node: PNG and JPEG decoding/encoding to 8-bit RGBA and CPU resizing (files.ts writes them).
 * Inputs come from users, so the format is sniffed from the bytes (not the name), sizes are checked before
 * anything large is allocated, and every failure becomes one readable `cannot read NAME: why` line.
 */
import { extname } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

export interface RgbaImage {
  width: number;
  height: number;
  /** width·height·4 bytes, row-major RGBA. */
  data: Uint8Array;
}

export type ImageFormat = 'png' | 'jpeg';

/** An image file that cannot be decoded; the message names the file. */
export class ImageFileError extends Error {
  override name = 'ImageFileError';
}

/** Larger images would need gigabytes on the CPU and GPU: refuse them up front. */
export const MAX_MEGAPIXELS = 100;
const MAX_PIXELS = MAX_MEGAPIXELS * 1_000_000;
/** jpeg-js's own accounting of its working buffers (RGBA output plus per-component planes). */
const JPEG_MAX_MEMORY_MB = 2048;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Formats we recognise only to name them in the error. */
const OTHER_FORMATS: { name: string; magic: (number | null)[] }[] = [
  { name: 'GIF', magic: [0x47, 0x49, 0x46, 0x38] },
  { name: 'WebP', magic: [0x52, 0x49, 0x46, 0x46, null, null, null, null, 0x57, 0x45, 0x42, 0x50] },
  { name: 'BMP', magic: [0x42, 0x4d] },
  { name: 'TIFF', magic: [0x49, 0x49, 0x2a, 0x00] },
  { name: 'TIFF', magic: [0x4d, 0x4d, 0x00, 0x2a] },
  { name: 'HEIC/AVIF', magic: [null, null, null, null, 0x66, 0x74, 0x79, 0x70] },
];

function startsWith(bytes: Uint8Array, magic: readonly (number | null)[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => b === null || bytes[i] === b);
}

/** The format of an image file from its first bytes, or null when it is neither PNG nor JPEG. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (startsWith(bytes, PNG_SIGNATURE)) return 'png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  return null;
}

export function decodeImage(bytes: Uint8Array, nameForErrors: string): RgbaImage {
  const fail = (why: string): never => {
    throw new ImageFileError(`cannot read ${nameForErrors}: ${why}`);
  };
  if (bytes.length === 0) fail('the file is empty');
  const format = sniffFormat(bytes);
  if (format === null) {
    const other = OTHER_FORMATS.find((f) => startsWith(bytes, f.magic));
    fail(other ? `${other.name} images are not supported (use PNG or JPEG)` : 'not a PNG or JPEG file');
  }
  const image = format === 'png' ? decodePng(bytes, fail) : decodeJpeg(bytes, fail);
  if (image.width < 1 || image.height < 1) fail(`the image has no pixels (${image.width}×${image.height})`);
  return image;
}

function checkPixelCount(width: number, height: number, fail: (why: string) => never): void {
  if (width * height > MAX_PIXELS) {
    fail(`${width}×${height} is ${((width * height) / 1e6).toFixed(0)} megapixels, more than the ${MAX_MEGAPIXELS}-megapixel limit`);
  }
}

function decodePng(bytes: Uint8Array, fail: (why: string) => never): RgbaImage {
  // pngjs allocates width·height·4 from the IHDR before it reads any pixel: check the size first.
  if (bytes.length < 24 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') fail('truncated or corrupt PNG (no IHDR chunk)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  checkPixelCount(dv.getUint32(16), dv.getUint32(20), fail);
  let png: { width: number; height: number; data: Uint8Array };
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    return fail(`truncated or corrupt PNG (${errorText(e)})`);
  }
  return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
}

function decodeJpeg(bytes: Uint8Array, fail: (why: string) => never): RgbaImage {
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: true,
      maxResolutionInMP: MAX_MEGAPIXELS,
      maxMemoryUsageInMB: JPEG_MAX_MEMORY_MB,
    });
  } catch (e) {
    const msg = errorText(e);
    if (/maxResolutionInMP/.test(msg)) return fail(`the image is larger than the ${MAX_MEGAPIXELS}-megapixel limit`);
    if (/maxMemoryUsageInMB/.test(msg)) return fail(`decoding would need more than ${JPEG_MAX_MEMORY_MB} MB`);
    if (/color mode/i.test(msg)) return fail(`unsupported JPEG colour mode (${msg}); save it as RGB`);
    return fail(`truncated or corrupt JPEG (${msg})`);
  }
  checkPixelCount(img.width, img.height, fail);
  return applyOrientation(img, jpegOrientation(bytes));
}

/**
 * The EXIF orientation (1..8) of a JPEG, 1 when absent or unreadable. Cameras and phones store pixels as
 * the sensor saw them and record the rotation here; viewers apply it, so we must too.
 */
export function jpegOrientation(bytes: Uint8Array): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 2;
  while (at + 4 <= bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1];
    if (marker === 0xda || marker === 0xd9) break; // start of scan / end of image: no more metadata
    const length = dv.getUint16(at + 2);
    const body = at + 4;
    const end = at + 2 + length;
    if (length < 2 || end > bytes.length) break;
    const isExif = marker === 0xe1 && end - body >= 14 && String.fromCharCode(...bytes.subarray(body, body + 6)) === 'Exif\0\0';
    if (isExif) return tiffOrientation(dv, body + 6, end);
    at = end;
  }
  return 1;
}

/** Orientation tag (0x0112) of IFD0 in the TIFF structure at [tiff, end), or 1. */
function tiffOrientation(dv: DataView, tiff: number, end: number): number {
  const order = dv.getUint16(tiff);
  if (order !== 0x4949 && order !== 0x4d4d) return 1;
  const le = order === 0x4949;
  if (dv.getUint16(tiff + 2, le) !== 42) return 1;
  const ifd = tiff + dv.getUint32(tiff + 4, le);
  if (ifd + 2 > end) return 1;
  const count = dv.getUint16(ifd, le);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > end) return 1;
    if (dv.getUint16(entry, le) === 0x0112) {
      const v = dv.getUint16(entry + 8, le);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

/** The image as EXIF orientation `o` says to display it (5..8 swap width and height). */
export function applyOrientation(img: RgbaImage, o: number): RgbaImage {
  if (o === 1) return img;
  const { width: W, height: H, data } = img;
  const swap = o >= 5;
  const w = swap ? H : W;
  const h = swap ? W : H;
  // Source coordinates of displayed pixel (x, y), per orientation.
  const source: Record<number, (x: number, y: number) => [number, number]> = {
    2: (x, y) => [W - 1 - x, y],
    3: (x, y) => [W - 1 - x, H - 1 - y],
    4: (x, y) => [x, H - 1 - y],
    5: (x, y) => [y, x],
    6: (x, y) => [y, H - 1 - x],
    7: (x, y) => [W - 1 - y, H - 1 - x],
    8: (x, y) => [W - 1 - y, x],
  };
  const map = source[o];
  if (!map) return img;
  const out = new Uint8Array(w * h * 4);
  const aligned = data.byteOffset % 4 === 0 ? data : data.slice();
  const src32 = new Uint32Array(aligned.buffer, aligned.byteOffset, W * H);
  const dst32 = new Uint32Array(out.buffer);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [sx, sy] = map(x, y);
      dst32[y * w + x] = src32[sy * W + sx];
    }
  }
  return { width: w, height: h, data: out };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Encodes RGBA pixels; quality is JPEG's 1..100. JPEG has no alpha channel: translucent pixels are
 * composited on white first (as viewers show them on a page), rather than their hidden colour showing.
 */
export function encodeImage(img: RgbaImage, format: ImageFormat, quality = 92): Uint8Array {
  if (img.data.length !== img.width * img.height * 4) {
    throw new RangeError(`encodeImage: ${img.data.length} bytes for a ${img.width}×${img.height} RGBA image`);
  }
  const data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  if (format === 'png') {
    const out = PNG.sync.write({ width: img.width, height: img.height, data } as PNG);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
  if (!(quality >= 1 && quality <= 100)) throw new RangeError(`encodeImage: JPEG quality ${quality} is outside 1..100`);
  const rgb = onWhite(img.data);
  const out = jpeg.encode({ width: img.width, height: img.height, data: Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength) }, quality).data;
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** RGBA over an opaque white background (the input itself when it is already opaque). */
export function onWhite(data: Uint8Array): Uint8Array {
  let opaque = true;
  for (let i = 3; i < data.length && opaque; i += 4) opaque = data[i] === 255;
  if (opaque) return data;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i += 4) {
    const a = data[i + 3] / 255;
    for (let c = 0; c < 3; c++) out[i + c] = Math.round(data[i + c] * a + 255 * (1 - a));
    out[i + 3] = 255;
  }
  return out;
}

/** The output format a file name asks for, or null for other extensions. */
export function formatFromPath(path: string): ImageFormat | null {
  const ext = extname(path).toLowerCase();
  if (ext === '.png') return 'png';
  if (ext === '.jpg' || ext === '.jpeg') return 'jpeg';
  return null;
}

// ---------------------------------------------------------------- resizing

/** For one axis: each output index's source taps (start index and weights summing to 1). */
interface AxisTaps {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array[];
}

/**
 * Downscaling averages each output pixel's footprint exactly (area/box filter, no aliasing); upscaling is
 * bilinear between pixel centres. Equal sizes are the identity.
 */
function axisTaps(src: number, dst: number): AxisTaps {
  const start = new Int32Array(dst);
  const count = new Int32Array(dst);
  const weights: Float32Array[] = [];
  const ratio = src / dst;
  for (let i = 0; i < dst; i++) {
    if (dst < src) {
      const a = i * ratio;
      const b = (i + 1) * ratio;
      const j0 = Math.floor(a);
      const j1 = Math.min(Math.ceil(b), src);
      const w = new Float32Array(j1 - j0);
      for (let j = j0; j < j1; j++) w[j - j0] = (Math.min(b, j + 1) - Math.max(a, j)) / ratio;
      start[i] = j0;
      count[i] = j1 - j0;
      weights.push(w);
    } else {
      const x = Math.min(Math.max((i + 0.5) * ratio - 0.5, 0), src - 1);
      const j0 = Math.floor(x);
      const f = x - j0;
      start[i] = j0;
      count[i] = j0 + 1 < src ? 2 : 1;
      weights.push(count[i] === 2 ? Float32Array.from([1 - f, f]) : Float32Array.from([1]));
    }
  }
  return { start, count, weights };
}

/**
 * Resizes RGBA pixels on the CPU (separable: rows, then columns). Colours are averaged premultiplied by
 * alpha so that transparent pixels do not bleed their (meaningless) colour into visible ones.
 */
export function resizeRgba(img: RgbaImage, newW: number, newH: number): RgbaImage {
  if (!(Number.isInteger(newW) && Number.isInteger(newH) && newW >= 1 && newH >= 1)) {
    throw new RangeError(`resizeRgba: invalid size ${newW}×${newH}`);
  }
  const { width: w, height: h, data } = img;
  if (newW === w && newH === h) return { width: w, height: h, data: data.slice() };
  const premul = new Float32Array(w * h * 4);
  for (let p = 0; p < w * h; p++) {
    const a = data[p * 4 + 3] / 255;
    premul[p * 4] = data[p * 4] * a;
    premul[p * 4 + 1] = data[p * 4 + 1] * a;
    premul[p * 4 + 2] = data[p * 4 + 2] * a;
    premul[p * 4 + 3] = data[p * 4 + 3];
  }

  const tx = axisTaps(w, newW);
  const rows = new Float32Array(newW * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < newW; x++) {
      const wts = tx.weights[x];
      const o = (y * newW + x) * 4;
      for (let k = 0; k < tx.count[x]; k++) {
        const s = (y * w + tx.start[x] + k) * 4;
        for (let c = 0; c < 4; c++) rows[o + c] += premul[s + c] * wts[k];
      }
    }
  }

  const ty = axisTaps(h, newH);
  const out = new Uint8Array(newW * newH * 4);
  const acc = new Float32Array(4);
  for (let y = 0; y < newH; y++) {
    const wts = ty.weights[y];
    for (let x = 0; x < newW; x++) {
      acc.fill(0);
      for (let k = 0; k < ty.count[y]; k++) {
        const s = ((ty.start[y] + k) * newW + x) * 4;
        for (let c = 0; c < 4; c++) acc[c] += rows[s + c] * wts[k];
      }
      const o = (y * newW + x) * 4;
      const a = acc[3];
      const unpremul = a > 0 ? 255 / a : 0;
      for (let c = 0; c < 3; c++) out[o + c] = clampByte(acc[c] * unpremul);
      out[o + 3] = clampByte(a);
    }
  }
  return { width: newW, height: newH, data: out };
}

function clampByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/** The size that fits within maxEdge on the longer side, keeping the aspect ratio (never enlarges). */
export function fitWithin(width: number, height: number, maxEdge: number): { width: number; height: number } {
  const long = Math.max(width, height);
  if (long <= maxEdge) return { width, height };
  const s = maxEdge / long;
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
}

/** Shrunk to fit `edge` on the long side (never enlarged), keeping the aspect ratio. */
export function fitImage(img: RgbaImage, edge: number): RgbaImage {
  const fit = fitWithin(img.width, img.height, edge);
  return fit.width === img.width && fit.height === img.height ? img : resizeRgba(img, fit.width, fit.height);
}

/** Resized so that the long side is `edge` (enlarging too), keeping the aspect ratio. */
export function resizeToEdge(img: RgbaImage, edge: number): RgbaImage {
  const fit =
    img.width >= img.height
      ? { width: edge, height: Math.max(1, Math.round((img.height * edge) / img.width)) }
      : { width: Math.max(1, Math.round((img.width * edge) / img.height)), height: edge };
  return fit.width === img.width && fit.height === img.height ? img : resizeRgba(img, fit.width, fit.height);
}
