// Where a padded (and upsampled) pixel comes from: the one index map that the CPU references of pad2d and
// conv2d, the banded convolutions (models/banded.ts) and the banded stylisation's input (models/stylize.ts)
// share. The shaders do the same in WGSL (pad-crop.wgsl's sourceIndex, conv2d_source_coord.wgsl's sourceCoord).

export type PadMode = 'zeros' | 'reflect' | 'replicate';

/** How an axis is made n·factor long before padding: nearest copies, or zeros between the samples. */
export type UpsampleMode = 'nearest' | 'zeros';

/** Padding of one axis: pixels before and after. */
export interface AxisPadding {
  before: number;
  after: number;
}

/** Padding of H (top/bottom) and W (left/right), and what fills it. */
export interface Pad2dAttrs {
  top: number;
  bottom: number;
  left: number;
  right: number;
  mode: PadMode;
}

/**
 * The index along an axis of n pixels that position i (possibly outside 0..n−1) reads, or −1 for a zero.
 * Reflection excludes the edge (PyTorch 'reflect': −1 reads 1) and needs the padding to be under n; beyond
 * that, and for 'replicate', the edge pixel is read.
 */
export function padSourceIndex(i: number, n: number, mode: PadMode): number {
  if (i >= 0 && i < n) return i;
  if (mode === 'zeros') return -1;
  if (mode === 'reflect') {
    let r = Math.abs(i);
    if (r >= n) r = 2 * (n - 1) - r;
    return Math.min(Math.max(r, 0), n - 1);
  }
  return Math.min(Math.max(i, 0), n - 1);
}

/** The index along the original axis that position u of the axis upsampled by `factor` reads, or −1 for a zero. */
export function upsampleSourceIndex(u: number, factor: number, mode: UpsampleMode): number {
  if (mode === 'nearest') return Math.floor(u / factor);
  return u % factor === 0 ? u / factor : -1;
}

/**
 * A convolution's input along one axis: n pixels upsampled by `factor`, then padded by `before` pixels in
 * front (and any number behind). Position r of that axis reads this index of the original axis, or −1 for a
 * zero.
 */
export function convSourceIndex(
  r: number,
  n: number,
  factor: number,
  upsampleMode: UpsampleMode,
  before: number,
  padMode: 'zeros' | 'reflect',
): number {
  const u = padSourceIndex(r - before, n * factor, padMode);
  return u < 0 ? -1 : upsampleSourceIndex(u, factor, upsampleMode);
}

/**
 * The padding that brings an h×w image to ph×pw, centred (the odd pixel at the bottom and right): a reflection
 * where the image is larger than the padding on both axes, else edge replication (reflection would need the
 * image to be larger than the padding).
 */
export function centredPadding(h: number, w: number, ph: number, pw: number): Pad2dAttrs {
  const top = Math.floor((ph - h) / 2);
  const left = Math.floor((pw - w) / 2);
  const bottom = ph - h - top;
  const right = pw - w - left;
  const mode = Math.max(top, bottom) < h && Math.max(left, right) < w ? 'reflect' : 'replicate';
  return { top, bottom, left, right, mode };
}
