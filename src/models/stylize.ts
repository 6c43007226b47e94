/**
 * Stylising a whole photo with a transform net: one pass for images that fit; larger ones run layer by layer
 * over row bands with whole-image instance-norm statistics (models/banded.ts), which gives the one-pass
 * result exactly at any size within a GPU memory budget. Overlapping, blended tiles remain for nets that
 * cannot run banded and when a tile size is asked for explicitly (each tile then normalises with its own
 * statistics, so tones can shift between tiles).
 */
import { preserveColors, relu, scale } from '../autograd/functional.js';
import { noGrad } from '../autograd/tape.js';
import { sizeClass } from '../engine/buffer-pool.js';
import type { Engine } from '../engine/engine.js';
import { shapeStr } from '../engine/errors.js';
import { Tensor } from '../engine/tensor.js';
import { axpby } from '../ops/elementwise.js';
import { rgbaToTensor, tensorToRgba } from '../ops/image.js';
import { centredPadding, padSourceIndex } from '../ops/padding.js';
import { onePassBytes, runBanded, type Activation, type BandProgram } from './banded.js';
import type { RgbaImage } from './rgba-image.js';

export interface TransformNetLike {
  engine: Engine;
  /** [N, 3, H, W] pixels 0..255 in, the same shape out; any H, W ≥ 1. */
  forward(x: Tensor): Tensor;
  /** Channel multiplier of the net (1 = Johnson et al.'s 32/64/128 channels), for callers that report it. */
  width?: number;
  /**
   * Floats per input pixel of the net's widest activation (TransformNet: 32·width channels at full
   * resolution): sizes the one-pass check and the default tile. Absent: 32 · width.
   */
  peakFloatsPerPixel?: number;
  /** The net as banded steps: when present, images beyond one pass run exactly in bands. */
  bandProgram?(): Promise<BandProgram>;
}

/** How an image was run: in one pass, exactly in row bands, or in overlapping tiles (approximate). */
export type StylizeMode = 'one-pass' | 'banded' | 'tiled';

export interface StylizeOptions {
  /**
   * Largest tile edge in pixels: asks for the approximate tiled mode (each tile normalised on its own).
   * Default: none — images that do not fit one pass run exactly in bands (or, for a net without a band
   * program, in tiles sized from the adapter's limits).
   */
  tile?: number;
  /**
   * GPU memory budget in bytes for one image: images whose one pass would need more run in bands that fit
   * it. Default: the adapter's storage-buffer binding limit.
   */
  memoryBytes?: number;
  /** Test hook: at most this many output rows per band (forces the banded mode at any size). */
  maxBandRows?: number;
  /** Told which mode runs, before it runs (not called for strength 0, when the net does not run). */
  onMode?(mode: StylizeMode): void;
  /** Pixels shared by neighbouring tiles, blended across. Default min(64, tile / 4). */
  overlap?: number;
  onProgress?(done: number, total: number): void;
  /**
   * Keep the content's colours: luminance transfer in BT.601 full-range YCbCr (Y from the stylised image, Cb
   * and Cr from the content; ops/color.ts), on the GPU. Default false.
   */
  preserveColors?: boolean;
  /**
   * 0..1: strength·stylised + (1 − strength)·content, on the GPU (after preserveColors). 1 (default) is the
   * net's output exactly; 0 returns the content's pixels exactly (the net does not run).
   */
  strength?: number;
}

/** How the net's output is finished before it is written: the pointwise options of StylizeOptions. */
interface Finish {
  preserveColors: boolean;
  strength: number;
}

/** min(max(x, 0), 255) with existing ops (255 − relu(255 − relu(x))), no gradient: pixels as an image holds them. */
export function clampPixels(x: Tensor): Tensor {
  return x.engine.scope(() => noGrad(() => clamp0to255(x)));
}

/**
 * 255 − relu(255 − relu(x)): x clamped to 0..255 through ops that record on the tape, so an objective can
 * be taken at the clamped image (the gradient passes where 0 < x < 255).
 */
export function clamp0to255(x: Tensor): Tensor {
  const flip = { alpha: -1, beta: 255 };
  return scale(relu(scale(relu(x), flip)), flip);
}

/**
 * The net's output `y` finished by the pointwise options against its input `x` (both [N, 3, H, W], 0..255):
 * clamped to 0..255, then colours preserved, then blended with x. Returns y itself when there is nothing to do.
 * Pointwise, so tiles can be finished one by one.
 */
function finishStylized(y: Tensor, x: Tensor, opts: { preserveColors?: boolean; strength?: number }): Tensor {
  const strength = opts.strength ?? 1;
  checkStrength(strength);
  if (!opts.preserveColors && strength === 1) return y;
  let out = clampPixels(y);
  if (opts.preserveColors) out = noGrad(() => preserveColors(out, x));
  if (strength !== 1) out = axpby(out, x, strength, 1 - strength);
  return out;
}

function checkStrength(strength: number): void {
  if (!(strength >= 0 && strength <= 1)) throw new RangeError(`strength must be in 0..1, got ${strength}`);
}

/** Beyond this a tile costs more time per pixel (cache misses, long dispatches) and gains nothing. */
const MAX_TILE_EDGE = 1024;
const MIN_TILE_EDGE = 16;
/** Floats per input pixel of a net that does not say (a width-1 transform net: 32 channels at full resolution). */
const DEFAULT_PEAK_FLOATS_PER_PIXEL = 32;

/** Floats per input pixel of `net`'s widest activation. */
export function peakFloatsPerPixel(net: Pick<TransformNetLike, 'peakFloatsPerPixel' | 'width'>): number {
  return net.peakFloatsPerPixel ?? DEFAULT_PEAK_FLOATS_PER_PIXEL * (net.width ?? 1);
}
/** The widest reflection padding (9×9 convolutions) grows an activation by this many pixels per axis. */
const PADDING_MARGIN = 8;

/**
 * The largest square tile whose widest (padded) activation fits one storage buffer binding; `floatsPerPixel`
 * from peakFloatsPerPixel(net).
 */
export function defaultTileEdge(engine: Engine, floatsPerPixel = DEFAULT_PEAK_FLOATS_PER_PIXEL): number {
  const edge = Math.floor(Math.sqrt(usableBindingBytes(engine) / (4 * floatsPerPixel))) - PADDING_MARGIN;
  return Math.max(MIN_TILE_EDGE, Math.min(MAX_TILE_EDGE, edge));
}

/** One axis split into segments of at most `tile` that overlap by at least `overlap`, spread evenly. */
export function tileStarts(length: number, tile: number, overlap: number): number[] {
  if (length <= tile) return [0];
  const n = Math.ceil((length - overlap) / (tile - overlap));
  const starts: number[] = [];
  for (let i = 0; i < n; i++) starts.push(Math.round((i * (length - tile)) / (n - 1)));
  return starts;
}

/**
 * Blend weight along one axis of a tile at [start, start + size): a ramp from the tile's edge across the
 * part it shares with its neighbour on that side, 1 elsewhere. Ramps of two neighbours sum to 1 across
 * their overlap; every weight is > 0 so that each pixel is covered.
 */
function axisWeights(size: number, overlapBefore: number, overlapAfter: number): Float32Array {
  const w = new Float32Array(size).fill(1);
  for (let d = 0; d < overlapBefore; d++) w[d] *= (d + 0.5) / overlapBefore;
  for (let d = 0; d < overlapAfter; d++) w[size - 1 - d] *= (d + 0.5) / overlapAfter;
  return w;
}

function overlaps(starts: number[], size: (s: number) => number): { before: number[]; after: number[] } {
  const before = starts.map((s, i) => (i === 0 ? 0 : Math.max(0, starts[i - 1] + size(starts[i - 1]) - s)));
  const after = starts.map((s, i) => (i === starts.length - 1 ? 0 : Math.max(0, s + size(s) - starts[i + 1])));
  return { before, after };
}

/** Runs the net on one RGBA image (in a scope of its own, gradients off) and reads back RGBA bytes. */
async function forwardRgba(
  net: TransformNetLike,
  pixels: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  finish?: Finish,
): Promise<Uint8ClampedArray> {
  return net.engine.scopeAsync(async () => {
    const x = rgbaToTensor(net.engine, pixels, width, height);
    const y = noGrad(() => net.forward(x));
    const s = y.shape;
    if (s.length !== 4 || s[0] !== 1 || s[1] !== 3 || s[2] !== height || s[3] !== width) {
      throw new Error(`stylize: the net turned a [1, 3, ${height}, ${width}] image into ${shapeStr(s)}`);
    }
    return tensorToRgba(finish ? finishStylized(y, x, finish) : y);
  });
}
/**
 * The largest square tile that one pass can stylise: its widest (padded) activation fits one storage buffer
 * binding and, given a budget, the one-pass memory (onePassBytes) fits it. At least MIN_TILE_EDGE.
 */
export function largestTileEdge(engine: Engine, floatsPerPixel: number, memoryBytes?: number): number {
  let bytesPerPixel = 4 * floatsPerPixel;
  let budget = usableBindingBytes(engine);
  if (memoryBytes !== undefined && memoryBytes / onePassBytes(floatsPerPixel, 1, 1) < budget / bytesPerPixel) {
    budget = memoryBytes;
    bytesPerPixel = onePassBytes(floatsPerPixel, 1, 1);
  }
  return Math.max(MIN_TILE_EDGE, Math.floor(Math.sqrt(budget / bytesPerPixel)) - PADDING_MARGIN);
}

/**
 * Stylises RGBA pixels with `net`; the alpha channel is carried over from the input unchanged. chooseMode
 * picks how the image runs: in one pass when it fits; exactly, layer by layer in row bands (models/banded.ts),
 * when it does not and the net has a band program; in overlapping, blended tiles (approximate: each tile
 * normalised on its own; a pointwise net gives exactly the untiled result) when `tile` is given or the net
 * cannot run banded. Strength 0 returns the content's pixels without running the net. `mode` says which ran.
 */
export async function stylizeRgba(
  net: TransformNetLike,
  img: RgbaImage,
  opts: StylizeOptions = {},
): Promise<{ width: number; height: number; data: Uint8Array; mode: StylizeMode }> {
  const { width: W, height: H, data: src } = img;
  checkRgba(img);
  const tiles = tileSize(net, W, H, opts);
  const finish: Finish = { preserveColors: opts.preserveColors ?? false, strength: opts.strength ?? 1 };
  checkStrength(finish.strength);
  if (finish.strength === 0) return contentAsIs(img, opts);

  const plan = chooseMode(net, W, H, tiles, opts);
  opts.onMode?.(plan.mode);
  const out = new Uint8Array(W * H * 4);
  if (plan.mode === 'banded') await stylizeBanded(net, img, out, finish, opts);
  else if (plan.mode === 'one-pass') await stylizeOnePass(net, img, out, finish, opts);
  else await stylizeTiled(net, img, out, finish, { ...tiles, xs: plan.xs, ys: plan.ys }, opts);
  copyAlpha(src, out);
  return { width: W, height: H, data: out, mode: plan.mode };
}

function checkRgba({ width: W, height: H, data }: RgbaImage): void {
  if (!(Number.isInteger(W) && Number.isInteger(H) && W >= 1 && H >= 1))
    throw new RangeError(`stylizeRgba: invalid size ${W}×${H}`);
  if (data.length !== W * H * 4) throw new RangeError(`stylizeRgba: ${data.length} bytes for a ${W}×${H} RGBA image`);
}

/** Strength 0: nothing of the net is wanted, so the content exactly, and the net does not run. */
function contentAsIs(
  img: RgbaImage,
  opts: StylizeOptions,
): { width: number; height: number; data: Uint8Array; mode: StylizeMode } {
  const out = new Uint8Array(img.data);
  opts.onProgress?.(1, 1);
  return { width: img.width, height: img.height, data: out, mode: 'one-pass' };
}

/** The one-pass mode: the whole image through the net at once (alpha left). */
async function stylizeOnePass(
  net: TransformNetLike,
  img: RgbaImage,
  out: Uint8Array,
  finish: Finish,
  opts: StylizeOptions,
): Promise<void> {
  out.set(await forwardRgba(net, img.data, img.width, img.height, finish));
  opts.onProgress?.(1, 1);
}

/** Tiles' edge and overlap (checked): the largest tile that one pass can hold, or `tile` shrunk to that. */
function tileSize(
  net: TransformNetLike,
  W: number,
  H: number,
  opts: StylizeOptions,
): { tile: number; overlap: number } {
  const peak = peakFloatsPerPixel(net);
  // A net that runs banded never needs tiles: it runs in one pass whenever that fits (chooseMode), else in bands.
  // A tile asked for is shrunk to what one pass can hold within the binding limit and the memory budget.
  const tile =
    opts.tile !== undefined
      ? Math.min(opts.tile, largestTileEdge(net.engine, peak, opts.memoryBytes))
      : net.bandProgram
        ? Math.max(W, H, MIN_TILE_EDGE)
        : defaultTileEdge(net.engine, peak);
  if (!(Number.isInteger(tile) && tile >= MIN_TILE_EDGE))
    throw new RangeError(`stylizeRgba: tile ${tile} must be an integer ≥ ${MIN_TILE_EDGE}`);
  const overlap = opts.overlap ?? Math.min(64, Math.floor(tile / 4));
  if (!(Number.isInteger(overlap) && overlap >= 0 && overlap < tile / 2)) {
    throw new RangeError(
      `stylizeRgba: overlap ${overlap} must be an integer in [0, ${Math.ceil(tile / 2) - 1}] for tile ${tile}`,
    );
  }
  return { tile, overlap };
}

/**
 * How a W×H image runs: in bands when the net has a band program, no tile was asked for and one pass would not
 * fit (or the bands are forced); otherwise in tiles, which is one pass when a single tile covers the image.
 */
function chooseMode(
  net: TransformNetLike,
  W: number,
  H: number,
  { tile, overlap }: { tile: number; overlap: number },
  opts: StylizeOptions,
): { mode: 'banded' } | { mode: 'one-pass' } | { mode: 'tiled'; xs: number[]; ys: number[] } {
  if (opts.tile === undefined && net.bandProgram) {
    const peak = peakFloatsPerPixel(net);
    const ph = H + PADDING_MARGIN;
    const pw = W + PADDING_MARGIN;
    const widest = 4 * peak * ph * pw;
    const fitsOnePass =
      widest <= usableBindingBytes(net.engine) &&
      (opts.memoryBytes === undefined || onePassBytes(peak, ph, pw) <= opts.memoryBytes);
    if (opts.maxBandRows !== undefined || !fitsOnePass) return { mode: 'banded' };
  }
  const xs = tileStarts(W, tile, overlap);
  const ys = tileStarts(H, tile, overlap);
  return xs.length * ys.length === 1 ? { mode: 'one-pass' } : { mode: 'tiled', xs, ys };
}

/** The tiled mode: each tile stylised on its own and blended into `out` across the overlaps (alpha left). */
async function stylizeTiled(
  net: TransformNetLike,
  img: RgbaImage,
  out: Uint8Array,
  finish: Finish,
  { tile, xs, ys }: { tile: number; xs: number[]; ys: number[] },
  opts: StylizeOptions,
): Promise<void> {
  const { width: W, height: H, data: src } = img;
  const total = xs.length * ys.length;
  const tw = Math.min(tile, W);
  const th = Math.min(tile, H);
  const ox = overlaps(xs, () => tw);
  const oy = overlaps(ys, () => th);
  // Blending accumulates into a band of `th` rows that slides down with the tile rows: rows above the next
  // tile row are final and leave the band, so CPU memory stays O(width · tile) for any image height.
  const acc = new Float32Array(W * th * 3);
  const weightSum = new Float32Array(W * th);
  let bandTop = 0;
  const finishRows = (until: number): void => {
    for (let p = 0; p < (until - bandTop) * W; p++) {
      const inv = 1 / weightSum[p];
      const o = (bandTop * W + p) * 4;
      for (let c = 0; c < 3; c++) out[o + c] = Math.min(255, Math.max(0, Math.round(acc[p * 3 + c] * inv)));
    }
    const shift = (until - bandTop) * W;
    acc.copyWithin(0, shift * 3);
    acc.fill(0, acc.length - shift * 3);
    weightSum.copyWithin(0, shift);
    weightSum.fill(0, weightSum.length - shift);
    bandTop = until;
  };

  const crop = new Uint8Array(tw * th * 4);
  let done = 0;
  for (let j = 0; j < ys.length; j++) {
    const y0 = ys[j];
    const wy = axisWeights(th, oy.before[j], oy.after[j]);
    for (let i = 0; i < xs.length; i++) {
      const x0 = xs[i];
      const wx = axisWeights(tw, ox.before[i], ox.after[i]);
      for (let y = 0; y < th; y++)
        crop.set(src.subarray(((y0 + y) * W + x0) * 4, ((y0 + y) * W + x0 + tw) * 4), y * tw * 4);
      const rgba = await forwardRgba(net, crop, tw, th, finish);
      for (let y = 0; y < th; y++) {
        const row = (y0 - bandTop + y) * W + x0;
        for (let x = 0; x < tw; x++) {
          const w = wy[y] * wx[x];
          const p = row + x;
          const q = (y * tw + x) * 4;
          acc[p * 3] += w * rgba[q];
          acc[p * 3 + 1] += w * rgba[q + 1];
          acc[p * 3 + 2] += w * rgba[q + 2];
          weightSum[p] += w;
        }
      }
      opts.onProgress?.(++done, total);
    }
    finishRows(j + 1 < ys.length ? ys[j + 1] : H);
  }
}

/** The largest buffer one binding can hold, after the pool's size classes. */
function usableBindingBytes(engine: Engine): number {
  const limit = Math.min(engine.limits.maxStorageBufferBindingSize, engine.limits.maxBufferSize);
  // The pool rounds sizes up to its classes (≤ 2^(1/4) apart): below a limit that is not itself a class,
  // the largest usable buffer is one class step smaller.
  return sizeClass(limit) <= limit ? limit : limit / 2 ** 0.25;
}

/** The banded mode (alpha left), within `memoryBytes` or else the binding limit. */
async function stylizeBanded(
  net: TransformNetLike,
  img: RgbaImage,
  out: Uint8Array,
  finish: Finish,
  opts: StylizeOptions,
): Promise<void> {
  const program = await net.bandProgram!();
  try {
    await runBandProgram(net, program, img, out, finish, opts.memoryBytes ?? usableBindingBytes(net.engine), opts);
  } finally {
    program.dispose();
  }
}

/**
 * The image padded as TransformNet.forward pads it (reflection, or edge replication when too small), run by
 * runBanded, cropped back, then finished (clamp, colours, strength) and turned into bytes on the GPU in row
 * chunks, through the same kernels as the one-pass mode.
 */
async function runBandProgram(
  net: TransformNetLike,
  program: BandProgram,
  img: RgbaImage,
  out: Uint8Array,
  finish: Finish,
  budget: number,
  opts: StylizeOptions,
): Promise<void> {
  const { width: W, height: H, data: src } = img;
  const ph = program.internalSize(H);
  const pw = program.internalSize(W);
  const { top, left, mode } = centredPadding(H, W, ph, pw);
  const input: Activation = { channels: 3, height: ph, width: pw, data: new Float32Array(3 * ph * pw) };
  for (let y = 0; y < ph; y++) {
    const sy = padSourceIndex(y - top, H, mode);
    for (let x = 0; x < pw; x++) {
      const s = (sy * W + padSourceIndex(x - left, W, mode)) * 4;
      const p = y * pw + x;
      input.data[p] = src[s];
      input.data[ph * pw + p] = src[s + 1];
      input.data[2 * ph * pw + p] = src[s + 2];
    }
  }
  const { output } = await runBanded(net.engine, program, input, {
    budgetBytes: budget,
    maxBandRows: opts.maxBandRows,
    onProgress: (done, total) => opts.onProgress?.(done, total + 1),
  });
  // Finishing reads the input and output rows of a chunk and writes bytes: ~13 floats per pixel.
  const chunk = Math.max(1, Math.min(H, Math.floor(budget / (4 * 16 * W))));
  for (let y0 = 0; y0 < H; y0 += chunk) {
    const rows = Math.min(chunk, H - y0);
    const y = new Float32Array(3 * rows * W);
    for (let c = 0; c < 3; c++) {
      for (let r = 0; r < rows; r++) {
        const from = (c * ph + top + y0 + r) * pw + left;
        y.set(output.data.subarray(from, from + W), (c * rows + r) * W);
      }
    }
    const rgba = await net.engine.scopeAsync(async () => {
      const x = rgbaToTensor(net.engine, src.subarray(y0 * W * 4, (y0 + rows) * W * 4), W, rows);
      const yt = Tensor.fromData(net.engine, [1, 3, rows, W], y, 'banded.output');
      return tensorToRgba(finishStylized(yt, x, finish));
    });
    out.set(rgba, y0 * W * 4);
  }
  opts.onProgress?.(1, 1);
}

function copyAlpha(src: Uint8Array | Uint8ClampedArray, dst: Uint8Array): void {
  for (let i = 3; i < dst.length; i += 4) dst[i] = src[i];
}
