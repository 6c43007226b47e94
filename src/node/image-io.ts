/**
 * Image files on Node, through sharp (libvips): decoding any common format to 8-bit sRGB RGBA, encoding by
 * format, and resizing. libvips decodes JPEG with libjpeg-turbo, so pixels are the ones every other tool
 * (PIL, browsers, ffmpeg) gets; it applies EXIF orientation and converts ICC profiles (a Display P3 phone
 * photo, a CMYK scan) to sRGB. Inputs come from users: sizes are checked from the header before any pixel
 * is decoded, and every failure becomes one readable `cannot read NAME: why` line.
 */
import { extname } from 'node:path';
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import type { RgbaImage } from '../models/rgba-image.js';

/** What an input file was, beside its pixels: what the CLI says about it and what --keep-metadata carries. */
export interface ImageSource {
  /** libvips' name of the format: jpeg, png, webp, heif, tiff, gif… */
  format: string;
  /** The file had an alpha channel. */
  hasAlpha: boolean;
  /** Things the user should be told (only the first frame of an animation was used…). */
  notes: string[];
}

export interface DecodedImage extends RgbaImage<Uint8Array> {
  source: ImageSource;
}

/** Formats we write, chosen by the output's extension. */
export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'avif';
export const IMAGE_FORMATS: readonly ImageFormat[] = ['png', 'jpeg', 'webp', 'avif'];

/** Quality when --quality is not given: JPEG as before; WebP's and AVIF's scales run lower for the same look. */
const DEFAULT_QUALITY: Record<ImageFormat, number> = { png: 100, jpeg: 92, webp: 90, avif: 70 };

/** Formats that cannot hold an alpha channel. */
export const FORMATS_WITHOUT_ALPHA: ReadonlySet<ImageFormat> = new Set(['jpeg']);

/** An image file that cannot be decoded; the message names the file. */
export class ImageFileError extends Error {
  override name = 'ImageFileError';
}

/** Larger images would need gigabytes on the CPU and GPU: refuse them up front. */
const MAX_MEGAPIXELS = 100;
const MAX_PIXELS = MAX_MEGAPIXELS * 1_000_000;

/** File extensions the CLI treats as images (train --data lists these). */
export const IMAGE_EXTENSIONS = /\.(jpe?g|png|webp|avif|heic|heif|tiff?|gif)$/i;

/** Names users know the formats by (libvips says `heif` for HEIC and AVIF). */
const FORMAT_NAMES: Record<string, string> = {
  jpeg: 'JPEG',
  png: 'PNG',
  webp: 'WebP',
  heif: 'HEIF/AVIF',
  tiff: 'TIFF',
  gif: 'GIF',
  svg: 'SVG',
};

// libvips' own thread pool decodes one image at a time with every core; the callers (stylize, the training
// data loader) keep a few images in flight themselves. Its operation cache only helps repeated operations
// on the same image, which we never do, and holds memory.
sharp.cache(false);

function sharpInput(input: Uint8Array): Sharp {
  return sharp(input, {
    limitInputPixels: MAX_PIXELS,
    // 'warning' would refuse a photo whose only fault is trailing garbage after the image, which viewers
    // show; truncated and corrupt data are still errors.
    failOn: 'error',
    autoOrient: true,
  });
}

function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n')[0].trim();
}

/** Leading bytes of the formats we name in errors, for files too damaged for libvips to say what they are. */
const SIGNATURES: { format: string; magic: (number | null)[] }[] = [
  { format: 'png', magic: [0x89, 0x50, 0x4e, 0x47] },
  { format: 'jpeg', magic: [0xff, 0xd8, 0xff] },
  { format: 'gif', magic: [0x47, 0x49, 0x46, 0x38] },
  { format: 'webp', magic: [0x52, 0x49, 0x46, 0x46, null, null, null, null, 0x57, 0x45, 0x42, 0x50] },
  { format: 'tiff', magic: [0x49, 0x49, 0x2a, 0x00] },
  { format: 'tiff', magic: [0x4d, 0x4d, 0x00, 0x2a] },
  { format: 'heif', magic: [null, null, null, null, 0x66, 0x74, 0x79, 0x70] },
];

function formatBySignature(bytes: Uint8Array): string | undefined {
  return SIGNATURES.find(
    ({ magic }) => bytes.length >= magic.length && magic.every((b, i) => b === null || bytes[i] === b),
  )?.format;
}

/** A libvips message as the user should read it. */
function reason(e: unknown, format: string | undefined): string {
  const message = firstLine(e).replace(/^Input (buffer|file) has corrupt header:\s*/, '');
  if (/unsupported image format/i.test(message)) return 'not an image file (PNG, JPEG, WebP, AVIF, HEIC, TIFF or GIF)';
  if (/exceeds pixel limit/i.test(message)) return `the image is larger than the ${MAX_MEGAPIXELS}-megapixel limit`;
  if (format === 'heif' && /unsupported codec|no decoder|unsupported feature/i.test(message)) {
    return `this HEIF/HEIC file's codec cannot be decoded (sharp's libvips reads AV1, not HEVC); convert it to JPEG or AVIF (${message})`;
  }
  const name = format ? (FORMAT_NAMES[format] ?? format.toUpperCase()) : 'image';
  return `truncated or corrupt ${name}${message ? ` (${message})` : ''}`;
}

async function readMetadata(bytes: Uint8Array, fail: (why: string) => never): Promise<Metadata> {
  try {
    // The header alone: no pixel is decoded, so no limit is needed here (decodeImageFile checks the size
    // it reports, with a better message than libvips').
    return await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (e) {
    return fail(reason(e, formatBySignature(bytes)));
  }
}

/** The displayed size: EXIF orientations 5..8 swap width and height. */
function displayedSize(meta: Metadata): { width: number; height: number } {
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  return (meta.orientation ?? 1) >= 5 ? { width: h, height: w } : { width: w, height: h };
}

/** Where the decoded picture goes before it is returned: a size, then a window of it, maybe mirrored. */
export interface Geometry {
  /** Resized (libvips' Lanczos-3) to exactly this size. */
  width: number;
  height: number;
  /** Then this window of it (default: all of it). */
  crop?: { left: number; top: number; width: number; height: number };
  /** Then mirrored left-right. */
  flip?: boolean;
}

export interface DecodeOptions {
  /** Shrink (never enlarge) so that the longer side is at most this. */
  maxEdge?: number;
  /** Or any resize, crop and flip, chosen from the displayed (upright) size. */
  geometry?: (width: number, height: number) => Geometry;
}

/**
 * Decodes an image file to 8-bit sRGB RGBA, displayed upright (EXIF orientation applied), colour-managed
 * (an embedded ICC profile, or CMYK, converted to sRGB), 16-bit samples reduced to 8, the first frame of an
 * animation or the first page of a multi-page file.
 */
export async function decodeImageFile(
  bytes: Uint8Array,
  nameForErrors: string,
  options: DecodeOptions = {},
): Promise<DecodedImage> {
  const fail = (why: string): never => {
    throw new ImageFileError(`cannot read ${nameForErrors}: ${why}`);
  };
  if (bytes.length === 0) fail('the file is empty');
  const meta = await readMetadata(bytes, fail);
  const { width, height } = displayedSize(meta);
  if (width < 1 || height < 1) fail(`the image has no pixels (${width}×${height})`);
  // libvips refuses these too (limitInputPixels), but saying the size is more useful than its message.
  if (width * height > MAX_PIXELS) {
    fail(
      `${width}×${height} is ${((width * height) / 1e6).toFixed(0)} megapixels, more than the ${MAX_MEGAPIXELS}-megapixel limit`,
    );
  }
  const notes: string[] = [];
  const frames = meta.pages ?? 1;
  if (frames > 1)
    notes.push(
      `${FORMAT_NAMES[meta.format ?? ''] ?? meta.format} with ${frames} ${meta.format === 'gif' || meta.format === 'webp' ? 'frames' : 'pages'}: only the first is used`,
    );

  const geometry: Geometry = options.geometry
    ? options.geometry(width, height)
    : options.maxEdge !== undefined
      ? fitWithin(width, height, options.maxEdge)
      : { width, height };
  let pipeline = sharpInput(bytes);
  // libvips reads a JPEG at 1/2, 1/4 or 1/8 scale when that is still larger than the target (shrink on
  // load), then Lanczos-3 takes it the rest of the way.
  if (geometry.width !== width || geometry.height !== height)
    pipeline = pipeline.resize(geometry.width, geometry.height, { fit: 'fill', kernel: 'lanczos3' });
  if (geometry.crop) pipeline = pipeline.extract(geometry.crop);
  if (geometry.flip) pipeline = pipeline.flop();
  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await pipeline
      .toColourspace('srgb')
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    return fail(reason(e, meta.format ?? formatBySignature(bytes)));
  }
  if (out.info.channels !== 4 || out.data.length !== out.info.width * out.info.height * 4) {
    fail(`unexpected decoded layout (${out.info.channels} channels, ${out.info.width}×${out.info.height})`);
  }
  return {
    width: out.info.width,
    height: out.info.height,
    data: new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength),
    source: { format: meta.format ?? 'unknown', hasAlpha: meta.hasAlpha === true, notes },
  };
}

/** decodeImageFile's pixels alone. */
export async function decodeImage(
  bytes: Uint8Array,
  nameForErrors: string,
  options: DecodeOptions = {},
): Promise<RgbaImage<Uint8Array>> {
  const { width, height, data } = await decodeImageFile(bytes, nameForErrors, options);
  return { width, height, data };
}

/** The format of an image file from its first bytes (libvips' name), or null when libvips cannot read it. */
export async function sniffFormat(bytes: Uint8Array): Promise<string | null> {
  try {
    return (await sharp(bytes).metadata()).format ?? null;
  } catch {
    return null;
  }
}

function rawInput(img: RgbaImage): Sharp {
  if (img.data.length !== img.width * img.height * 4) {
    throw new RangeError(`${img.data.length} bytes for a ${img.width}×${img.height} RGBA image`);
  }
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 4 }, limitInputPixels: false });
}

function isOpaque(data: RgbaImage['data']): boolean {
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) return false;
  return true;
}

export interface EncodeOptions {
  /** 1..100 for JPEG, WebP and AVIF (DEFAULT_QUALITY when absent); PNG is lossless and ignores it. */
  quality?: number;
  /** The input file whose EXIF and XMP metadata the output carries (--keep-metadata). */
  metadataFrom?: Uint8Array;
}

/**
 * Encodes RGBA pixels, tagged sRGB. JPEG has no alpha channel: translucent pixels are composited on white
 * first (as viewers show them on a page), rather than their hidden colour showing. An opaque image is
 * written without an alpha channel (smaller files; it reads back the same).
 */
export async function encodeImage(
  img: RgbaImage,
  format: ImageFormat,
  options: EncodeOptions | number = {},
): Promise<Uint8Array> {
  const opts = typeof options === 'number' ? { quality: options } : options;
  const quality = opts.quality ?? DEFAULT_QUALITY[format];
  if (!(Number.isInteger(quality) && quality >= 1 && quality <= 100))
    throw new RangeError(`encodeImage: quality ${quality} is outside 1..100`);
  let pipeline = opts.metadataFrom ? await withSourceMetadata(img, opts.metadataFrom) : rawInput(img);
  if (FORMATS_WITHOUT_ALPHA.has(format) || isOpaque(img.data)) pipeline = pipeline.flatten({ background: '#ffffff' });
  pipeline = pipeline.withIccProfile('srgb');
  switch (format) {
    case 'png':
      pipeline = pipeline.png({ compressionLevel: 6 });
      break;
    case 'jpeg':
      // Stylised pictures are full of saturated strokes: keep full-resolution chroma at high qualities.
      pipeline = pipeline.jpeg({ quality, chromaSubsampling: quality >= 90 ? '4:4:4' : '4:2:0' });
      break;
    case 'webp':
      pipeline = pipeline.webp({ quality, alphaQuality: 100 });
      break;
    case 'avif':
      pipeline = pipeline.avif({ quality });
      break;
  }
  const out = await pipeline.toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * The pixels as a pipeline that starts from the source file, so libvips carries its EXIF and XMP over
 * (orientation reset, since the pixels are upright): the decoded source, sized as the output, is replaced
 * whole by the output's pixels.
 */
async function withSourceMetadata(img: RgbaImage, source: Uint8Array): Promise<Sharp> {
  const pixels = await rawInput(img).png({ compressionLevel: 0 }).toBuffer();
  return sharpInput(source)
    .resize(img.width, img.height, { fit: 'fill' })
    .ensureAlpha()
    .composite([{ input: pixels, blend: 'source' }])
    .keepExif()
    .keepXmp();
}

/** The output format a file name asks for, or null for other extensions. */
export function formatFromPath(path: string): ImageFormat | null {
  const ext = extname(path).toLowerCase();
  if (ext === '.png') return 'png';
  if (ext === '.jpg' || ext === '.jpeg') return 'jpeg';
  if (ext === '.webp') return 'webp';
  if (ext === '.avif') return 'avif';
  return null;
}

/** The usual extension of a format. */
export const EXTENSION: Record<ImageFormat, string> = { png: '.png', jpeg: '.jpg', webp: '.webp', avif: '.avif' };

// ---------------------------------------------------------------- resizing

/**
 * Resizes RGBA pixels with libvips: Lanczos-3 (shrinking by large factors first averages whole blocks, so
 * nothing aliases), colours premultiplied by alpha so that transparent pixels do not bleed their
 * (meaningless) colour into visible ones. Equal sizes copy.
 */
export async function resizeRgba(img: RgbaImage, newW: number, newH: number): Promise<RgbaImage> {
  if (!(Number.isInteger(newW) && Number.isInteger(newH) && newW >= 1 && newH >= 1)) {
    throw new RangeError(`resizeRgba: invalid size ${newW}×${newH}`);
  }
  if (newW === img.width && newH === img.height) return { width: newW, height: newH, data: img.data.slice() };
  const out = await rawInput(img).resize(newW, newH, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer();
  return { width: newW, height: newH, data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength) };
}

/** The size that fits within maxEdge on the longer side, keeping the aspect ratio (never enlarges). */
export function fitWithin(width: number, height: number, maxEdge: number): { width: number; height: number } {
  const long = Math.max(width, height);
  if (long <= maxEdge) return { width, height };
  const s = maxEdge / long;
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
}

/** Shrunk to fit `edge` on the long side (never enlarged), keeping the aspect ratio. */
export async function fitImage(img: RgbaImage, edge: number): Promise<RgbaImage> {
  const fit = fitWithin(img.width, img.height, edge);
  return fit.width === img.width && fit.height === img.height ? img : resizeRgba(img, fit.width, fit.height);
}

/** The size whose long side is `edge` (enlarging too), keeping the aspect ratio. */
export function sizeForEdge(width: number, height: number, edge: number): { width: number; height: number } {
  return width >= height
    ? { width: edge, height: Math.max(1, Math.round((height * edge) / width)) }
    : { width: Math.max(1, Math.round((width * edge) / height)), height: edge };
}

/** Resized so that the long side is `edge` (enlarging too), keeping the aspect ratio. */
export async function resizeToEdge(img: RgbaImage, edge: number): Promise<RgbaImage> {
  const fit = sizeForEdge(img.width, img.height, edge);
  return fit.width === img.width && fit.height === img.height ? img : resizeRgba(img, fit.width, fit.height);
}
