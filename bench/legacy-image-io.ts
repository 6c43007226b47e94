// The image code the CLI used before libvips (issue 23), kept for `npm run bench -- --image-io` only, so one
// run can compare decode, encode and the training crops before and after: jpeg-js and pngjs (both now
// devDependencies) and the hand-written area/bilinear resize. Not used by the CLI; EXIF handling and the error
// messages are left out (they cost nothing measurable). The codecs are loaded on first use, so that
// dist/bench.js still runs its other suites where devDependencies are not installed.
import type JpegJs from 'jpeg-js';
import type { PNG as PngJs } from 'pngjs';
import type { RgbaImage } from '../src/models/rgba-image.js';

let codecs: { jpeg: typeof JpegJs; PNG: typeof PngJs } | null = null;

export async function loadLegacyCodecs(): Promise<void> {
  const [jpeg, pngjs] = await Promise.all([import('jpeg-js'), import('pngjs')]);
  codecs = { jpeg: (jpeg.default ?? jpeg) as typeof JpegJs, PNG: (pngjs.default ?? pngjs).PNG };
}

function loaded(): NonNullable<typeof codecs> {
  if (!codecs) throw new Error('call loadLegacyCodecs() first');
  return codecs;
}

export function legacyDecode(bytes: Uint8Array): RgbaImage<Uint8Array> {
  const { jpeg, PNG } = loaded();
  if (bytes[0] === 0x89) {
    const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return {
      width: png.width,
      height: png.height,
      data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength),
    };
  }
  const img = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: true,
    maxResolutionInMP: 100,
    maxMemoryUsageInMB: 2048,
  });
  return { width: img.width, height: img.height, data: img.data };
}

export function legacyEncode(img: RgbaImage<Uint8Array>, format: 'png' | 'jpeg', quality = 92): Uint8Array {
  const { jpeg, PNG } = loaded();
  const data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  if (format === 'png') return PNG.sync.write({ width: img.width, height: img.height, data } as PngJs);
  return jpeg.encode({ width: img.width, height: img.height, data }, quality).data;
}

/** The training crop as data-sample.ts made it: hand resize to the photo scale, then a window, maybe mirrored. */
export function legacyCropSample(
  img: RgbaImage<Uint8Array>,
  size: number,
  cropX: number,
  cropY: number,
  flip: boolean,
): Uint8Array {
  const scale = size / Math.min(img.width, img.height);
  const w = Math.max(size, Math.round(img.width * scale));
  const h = Math.max(size, Math.round(img.height * scale));
  const resized = w === img.width && h === img.height ? img : resizeRgba(img, w, h);
  const x0 = Math.min(w - size, Math.floor(cropX * (w - size + 1)));
  const y0 = Math.min(h - size, Math.floor(cropY * (h - size + 1)));
  const out = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const s = ((y0 + y) * w + x0 + (flip ? size - 1 - x : x)) * 4;
      out.set(resized.data.subarray(s, s + 3), (y * size + x) * 4);
      out[(y * size + x) * 4 + 3] = 255;
    }
  }
  return out;
}

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
function resizeRgba(img: RgbaImage<Uint8Array>, newW: number, newH: number): RgbaImage<Uint8Array> {
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
