/**
 * The order in which training samples are drawn, as a pure function of (seed, sample index): epoch e visits
 * the dataset in a seeded permutation of its own, and each sample gets its own crop position, scale and flip. Being
 * counter-based, the whole random state of the data pipeline is (seed, samples drawn so far): it prefetches
 * ahead freely and resumes exactly from a checkpoint that records the count.
 */

/** A 32-bit mix of integers (murmur3's finaliser applied to a running combination). */
export function hash32(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    h = Math.imul(h ^ (v >>> 0), 0x85ebca6b);
    h = (h ^ (h >>> 13)) >>> 0;
    h = Math.imul(h, 0xc2b2ae35);
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h >>> 0;
}

/** A number in [0, 1) fixed by its integer coordinates. */
export function uniformAt(...values: number[]): number {
  return hash32(...values) / 4294967296;
}

/**
 * How a photo is scaled before its training crop: `random` (the default of new runs) draws a scale between
 * "the shorter side fits the crop" and the photo's own resolution; `shorter-side` always shrinks the shorter
 * side to the crop (runs before `random` existed, whose checkpoints do not record a mode).
 */
export type CropScale = 'random' | 'shorter-side';
export const CROP_SCALES: readonly CropScale[] = ['random', 'shorter-side'];

export interface SampleChoice {
  /** Index into the dataset's (sorted) file list. */
  file: number;
  flip: boolean;
  /** Crop position as fractions of the free range: x0 = floor(cropX · (width − size + 1)). */
  cropX: number;
  cropY: number;
  /**
   * Where the photo's scale falls in its allowed range, in [0, 1): 0 shrinks the shorter side to the crop,
   * values towards 1 approach the photo's own resolution (read only by the `random-scale` crop mode).
   */
  scale: number;
}

const STREAM_PERMUTATION = 1;
const STREAM_FLIP = 2;
const STREAM_CROP_X = 3;
const STREAM_CROP_Y = 4;
// A stream of its own, so that the older choices (file, flip, crop position) stay exactly what they were.
const STREAM_SCALE = 5;

export class SampleOrder {
  /** The last two epochs' permutations: prefetching across an epoch boundary alternates between them. */
  private readonly permutations = new Map<number, Uint32Array>();

  constructor(
    readonly seed: number,
    readonly datasetSize: number,
  ) {
    if (!Number.isInteger(datasetSize) || datasetSize < 1)
      throw new RangeError(`SampleOrder: dataset size ${datasetSize}`);
  }

  /**
   * The file that sample `index` reads on its `attempt`-th try: attempt 0 is its own file, attempt k the file k
   * places after it in its epoch's order (wrapping within the epoch), so that a file that cannot be read is
   * replaced by the same file on every run and on every platform.
   */
  fileFor(index: number, attempt: number): number {
    if (attempt === 0) return this.at(index).file;
    const n = this.datasetSize;
    const epochStart = index - (index % n);
    return this.at(epochStart + ((index - epochStart + attempt) % n)).file;
  }

  /** The choice for the sample with global index `index` (0, 1, 2, … across epochs). */
  at(index: number): SampleChoice {
    const n = this.datasetSize;
    const epoch = Math.floor(index / n);
    let p = this.permutations.get(epoch);
    if (!p) {
      p = permutation(n, this.seed, epoch);
      this.permutations.set(epoch, p);
      if (this.permutations.size > 2) this.permutations.delete(this.permutations.keys().next().value!);
    }
    return {
      file: p[index % n],
      flip: uniformAt(this.seed, STREAM_FLIP, index) < 0.5,
      cropX: uniformAt(this.seed, STREAM_CROP_X, index),
      cropY: uniformAt(this.seed, STREAM_CROP_Y, index),
      scale: uniformAt(this.seed, STREAM_SCALE, index),
    };
  }
}

/** Fisher–Yates with counter-based draws. */
function permutation(n: number, seed: number, epoch: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(uniformAt(seed, STREAM_PERMUTATION, epoch, i) * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** A photo's training crop: resized to width×height, then the size×size window at (left, top), maybe mirrored. */
export interface SampleGeometry {
  width: number;
  height: number;
  crop: { left: number; top: number; width: number; height: number };
  flip: boolean;
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
 * the free range, mirrored left-right when `flip`. Node's loader and the browser's both crop by it, so that a
 * run sees the same windows of its photos on either.
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
): SampleGeometry {
  const scale = photoScale(width, height, size, mode, scaleFraction);
  const w = Math.max(size, Math.round(width * scale));
  const h = Math.max(size, Math.round(height * scale));
  const left = Math.min(w - size, Math.floor(cropX * (w - size + 1)));
  const top = Math.min(h - size, Math.floor(cropY * (h - size + 1)));
  return { width: w, height: h, crop: { left, top, width: size, height: size }, flip };
}

/**
 * The text whose SHA-256 identifies a run's data list (TrainConfig.dataSha256): each photo's path relative to
 * the data folder (with `/`) and its size in bytes, one per line, sorted. Names and sizes rather than contents:
 * cheap for thousands of photos, and what changes when photos are added, removed, renamed or replaced.
 */
export function dataListText(entries: readonly { path: string; size: number }[]): string {
  return entries
    .map((e) => `${e.path}\t${e.size}\n`)
    .sort()
    .join('');
}
