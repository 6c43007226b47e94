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
