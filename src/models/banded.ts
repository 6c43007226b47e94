/**
 * Exact stylisation of images of any size within a GPU memory budget.
 *
 * Tiling a transform net changes its result: every instance norm would normalise each tile with that tile's
 * own statistics. Here the net runs layer by layer instead. A layer's whole activation lives in CPU memory;
 * each convolution runs on the GPU over row bands (each band carrying the halo rows its kernel reads, and
 * its padding — reflection or zeros, nearest or zero-inserting upsampling — materialised from the whole
 * activation, so a band sees exactly what the whole image would); each instance norm takes its per-channel
 * statistics over the whole activation (float64) before normalising anything. The result is the whole-image
 * result up to float rounding, for any image size, with GPU memory bounded by the band size.
 *
 * The convolutions — nearly all of the arithmetic — stay on the GPU; the pointwise work between them (norm,
 * ReLU, residual add, tanh) runs on the CPU over the whole activation, where it has to meet the statistics.
 */
import { conv2d } from '../autograd/functional.js';
import { noGrad } from '../autograd/tape.js';
import type { Engine } from '../engine/engine.js';
import { Tensor } from '../engine/tensor.js';
import { convSourceIndex, type AxisPadding } from '../ops/padding.js';

/** One image's activation, CHW float32, in CPU memory. */
export interface Activation {
  channels: number;
  height: number;
  width: number;
  data: Float32Array;
}

/**
 * A convolution as the banded executor runs it: the input is first upsampled by `upsample` (nearest: each
 * pixel repeated; zeros: each pixel followed by `upsample` − 1 zeros, as the conv shaders' index map does
 * for a transposed convolution's input), then padded, then convolved with no further padding.
 */
export interface BandConv {
  kind: 'conv';
  name: string;
  /** [Cout, Cin, K, K] on the GPU, owned by the net. */
  weight: Tensor;
  bias: Tensor | null;
  stride: 1 | 2;
  upsample: 1 | 2;
  upsampleMode: 'nearest' | 'zeros';
  /** Padding of an axis of n pixels (after upsampling): fixed for reflection, size-dependent for TF SAME. */
  pad(n: number): AxisPadding;
  padMode: 'reflect' | 'zeros';
}

/** Instance norm with per-channel scale and shift, then what follows it pointwise. */
export interface BandNorm {
  kind: 'norm';
  name: string;
  gamma: Float32Array;
  beta: Float32Array;
  eps: number;
  /** relu: max(0, ·); add-residual: + the activation saved by the last save-residual; none. */
  after: 'relu' | 'add-residual' | 'none';
}

export type BandStep =
  | BandConv
  | BandNorm
  | { kind: 'save-residual' }
  | { kind: 'scaled-tanh'; scale: number; offset: number }
  /** Looks at the activation without changing it (e.g. a caller checking the output for NaN). */
  | { kind: 'inspect'; inspect(a: Activation): void };

/** A net as a sequence of banded steps plus how it pads its input (see TransformNet.forward). */
export interface BandProgram {
  steps: BandStep[];
  /** The size the net computes at for an input side (the output is cropped back). */
  internalSize(n: number): number;
  /** Frees what the program made for itself (e.g. transposed convs' weights as plain convs). */
  dispose(): void;
}

/** Floats of GPU scratch per float of a band's input and output (conv workspaces: Winograd transforms, GEMM tiles). */
const WORKSPACE_FACTOR = 6;

export interface BandedRunOptions {
  /** Upper bound on the GPU memory the bands may use, bytes. */
  budgetBytes: number;
  /** Force at most this many output rows per band (tests; 0 = from the budget). */
  maxBandRows?: number;
  onProgress?(layer: number, layers: number): void;
}

export interface BandedRunStats {
  /** Bands run, over all convolutions. */
  bands: number;
  /** Largest number of bands one convolution took. */
  maxBandsPerConv: number;
}

/**
 * For each index of the padded, upsampled axis (n·up positions before padding), the source index along the
 * original axis (−1: a zero). Reflection excludes the edge (PyTorch 'reflect').
 */
export function axisSourceMap(
  n: number,
  upsample: number,
  mode: BandConv['upsampleMode'],
  padding: AxisPadding | ((n: number) => AxisPadding),
  padMode: BandConv['padMode'],
): Int32Array {
  const upsampled = n * upsample;
  const pad = typeof padding === 'function' ? padding(upsampled) : padding;
  if (padMode === 'reflect' && (pad.before >= upsampled || pad.after >= upsampled)) {
    throw new RangeError(`reflection padding ${Math.max(pad.before, pad.after)} needs more than ${upsampled} pixels`);
  }
  const map = new Int32Array(upsampled + pad.before + pad.after);
  for (let r = 0; r < map.length; r++) map[r] = convSourceIndex(r, n, upsample, mode, pad.before, padMode);
  return map;
}

function convOutputSize(padded: number, kernel: number, stride: number): number {
  return Math.floor((padded - kernel) / stride) + 1;
}

/** Output rows per band so that the band's input, output and conv workspace fit `budgetBytes`. */
export function bandRows(step: BandConv, input: Activation, budgetBytes: number): number {
  const [cout, cin, k] = step.weight.shape;
  const paddedWidth = axisSourceMap(input.width, step.upsample, step.upsampleMode, step.pad, step.padMode).length;
  const outWidth = convOutputSize(paddedWidth, k, step.stride);
  // A band of R output rows reads (R − 1)·stride + K input rows.
  const bytesPerRow = 4 * WORKSPACE_FACTOR * (cin * step.stride * paddedWidth + cout * outWidth);
  const fixed = 4 * WORKSPACE_FACTOR * cin * (k - step.stride) * paddedWidth;
  return Math.max(1, Math.floor((budgetBytes - fixed) / bytesPerRow));
}

/** Runs one convolution over row bands; returns the whole output activation. */
async function convBanded(
  engine: Engine,
  step: BandConv,
  input: Activation,
  maxRows: number,
  stats: BandedRunStats,
): Promise<Activation> {
  const [cout, cin, k] = step.weight.shape;
  if (cin !== input.channels) throw new RangeError(`${step.name}: expects ${cin} channels, got ${input.channels}`);
  const rowMap = axisSourceMap(input.height, step.upsample, step.upsampleMode, step.pad, step.padMode);
  const colMap = axisSourceMap(input.width, step.upsample, step.upsampleMode, step.pad, step.padMode);
  const outHeight = convOutputSize(rowMap.length, k, step.stride);
  const outWidth = convOutputSize(colMap.length, k, step.stride);
  if (outHeight < 1 || outWidth < 1)
    throw new RangeError(`${step.name}: a ${input.height}×${input.width} input is too small`);
  const out: Activation = {
    channels: cout,
    height: outHeight,
    width: outWidth,
    data: new Float32Array(cout * outHeight * outWidth),
  };
  const paddedWidth = colMap.length;
  const inPlane = input.height * input.width;
  const outPlane = outHeight * outWidth;
  let bands = 0;
  for (let o0 = 0; o0 < outHeight; o0 += maxRows) {
    const o1 = Math.min(outHeight, o0 + maxRows);
    const r0 = o0 * step.stride;
    const rows = (o1 - 1) * step.stride + k - r0;
    const band = new Float32Array(cin * rows * paddedWidth);
    for (let c = 0; c < cin; c++) {
      const plane = c * inPlane;
      for (let r = 0; r < rows; r++) {
        const src = rowMap[r0 + r];
        if (src < 0) continue;
        const srcRow = plane + src * input.width;
        const dst = (c * rows + r) * paddedWidth;
        for (let x = 0; x < paddedWidth; x++) {
          const s = colMap[x];
          if (s >= 0) band[dst + x] = input.data[srcRow + s];
        }
      }
    }
    const result = await engine.scopeAsync(async () => {
      const x = Tensor.fromData(engine, [1, cin, rows, paddedWidth], band, `${step.name}.band`);
      const y = noGrad(() => conv2d(x, step.weight, step.bias, { stride: step.stride, padding: 0, padMode: 'zeros' }));
      return y.data();
    });
    const bandRowsOut = o1 - o0;
    for (let c = 0; c < cout; c++) {
      out.data.set(
        result.subarray(c * bandRowsOut * outWidth, (c + 1) * bandRowsOut * outWidth),
        c * outPlane + o0 * outWidth,
      );
    }
    bands++;
  }
  stats.bands += bands;
  stats.maxBandsPerConv = Math.max(stats.maxBandsPerConv, bands);
  return out;
}

/** Instance norm over the whole activation (statistics in float64, biased variance), then `after`, in place. */
function normInPlace(step: BandNorm, a: Activation, residual: Activation | null): void {
  const plane = a.height * a.width;
  if (step.gamma.length !== a.channels)
    throw new RangeError(`${step.name}: ${step.gamma.length} scales for ${a.channels} channels`);
  if (step.after === 'add-residual' && (!residual || residual.data.length !== a.data.length)) {
    throw new RangeError(`${step.name}: no residual of the same shape to add`);
  }
  const d = a.data;
  for (let c = 0; c < a.channels; c++) {
    const base = c * plane;
    let sum = 0;
    for (let i = base; i < base + plane; i++) sum += d[i];
    const mean = sum / plane;
    let sq = 0;
    for (let i = base; i < base + plane; i++) {
      const t = d[i] - mean;
      sq += t * t;
    }
    const scale = step.gamma[c] / Math.sqrt(sq / plane + step.eps);
    const shift = step.beta[c] - mean * scale;
    if (step.after === 'relu') {
      for (let i = base; i < base + plane; i++) {
        const v = d[i] * scale + shift;
        // biome-ignore lint/complexity/useMathMinMax: this maps NaN to 0; Math.max would keep it
        d[i] = v > 0 ? v : 0;
      }
    } else if (step.after === 'add-residual') {
      const r = residual!.data;
      for (let i = base; i < base + plane; i++) d[i] = d[i] * scale + shift + r[i];
    } else {
      for (let i = base; i < base + plane; i++) d[i] = d[i] * scale + shift;
    }
  }
}

/**
 * Runs `program` on one image (CHW pixels 0..255, already at the net's internal size) and returns the net's
 * raw output (pixels, not clamped).
 */
export async function runBanded(
  engine: Engine,
  program: BandProgram,
  input: Activation,
  opts: BandedRunOptions,
): Promise<{ output: Activation; stats: BandedRunStats }> {
  let a = input;
  let residual: Activation | null = null;
  const stats: BandedRunStats = { bands: 0, maxBandsPerConv: 0 };
  const steps = program.steps;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (step.kind === 'conv') {
      const fit = bandRows(step, a, opts.budgetBytes);
      const rows = opts.maxBandRows ? Math.min(opts.maxBandRows, fit) : fit;
      a = await convBanded(engine, step, a, rows, stats);
    } else if (step.kind === 'norm') {
      normInPlace(step, a, residual);
      if (step.after === 'add-residual') residual = null;
    } else if (step.kind === 'save-residual') {
      residual = { ...a, data: a.data.slice() };
    } else if (step.kind === 'inspect') {
      step.inspect(a);
    } else {
      const d = a.data;
      for (let j = 0; j < d.length; j++) d[j] = step.scale * Math.tanh(d[j]) + step.offset;
    }
    opts.onProgress?.(i + 1, steps.length);
  }
  return { output: a, stats };
}

/**
 * GPU bytes the one-pass forward needs for an h×w image, as a multiple of its widest activation (that
 * activation, its neighbour layers' and the conv workspace); what decides between one pass and bands.
 */
export function onePassBytes(widestFloatsPerPixel: number, height: number, width: number): number {
  return 4 * WORKSPACE_FACTOR * widestFloatsPerPixel * height * width;
}
