/**
 * "Black droplets": a failure of trained transform nets where the output layer saturates (150·tanh(x) + 127.5
 * with x far below −1 clips to 0) in blobs, in smooth regions of a photo that is not dark there. The measure
 * is the share of the image's pixels that lie in such blobs, so that nets can be compared by a number and not
 * only by eye.
 *
 * A pixel is a droplet candidate when the output is near black (every channel ≤ DARK_OUTPUT) while the photo
 * there is not dark (luma ≥ BRIGHT_PHOTO). Blobs are what survives a morphological opening of the candidates
 * with a BLOB_SIDE × BLOB_SIDE square: thin dark strokes that a style legitimately paints (outlines, hatching)
 * vanish in the erosion, solid patches come back whole in the dilation.
 */
import type { RgbaImage } from './rgba-image.js';

/** The output is near black: each of R, G, B at most this (8-bit). */
const DARK_OUTPUT = 24;
/** The photo is not dark there: Rec. 601 luma at least this (8-bit). */
const BRIGHT_PHOTO = 64;
/** Side of the square a blob must contain: strokes narrower than this are not droplets. */
export const BLOB_SIDE = 5;

export interface DropletMeasure {
  /** Pixels in droplets / all pixels. */
  share: number;
  /** The droplet pixels (1) of the image, row-major. */
  mask: Uint8Array;
}

function luma(d: Uint8Array | Uint8ClampedArray, i: number): number {
  return 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
}

/**
 * 1 where the whole side×side square centred on (x, y) (clipped to the image) is 1 in `mask`: the erosion
 * with a square, as separable running minima along rows then columns.
 */
function erode(mask: Uint8Array, w: number, h: number, side: number): Uint8Array {
  const r = side >> 1;
  const rows = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = 1;
      for (let k = Math.max(0, x - r); k <= Math.min(w - 1, x + r) && v; k++) v = mask[y * w + k];
      rows[y * w + x] = v;
    }
  }
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = 1;
      for (let k = Math.max(0, y - r); k <= Math.min(h - 1, y + r) && v; k++) v = rows[k * w + x];
      out[y * w + x] = v;
    }
  }
  return out;
}

/** 1 where any pixel of the side×side square centred on (x, y) is 1: the dilation with a square. */
function dilate(mask: Uint8Array, w: number, h: number, side: number): Uint8Array {
  const inverted = mask.map((v) => 1 - v);
  return erode(inverted, w, h, side).map((v) => 1 - v);
}

/** Droplets of `styled` (the net's output) over `photo` (its input), both RGBA of the same size. */
export function measureDroplets(photo: RgbaImage, styled: RgbaImage): DropletMeasure {
  const { width: w, height: h } = photo;
  if (styled.width !== w || styled.height !== h) {
    throw new RangeError(`measureDroplets: output ${styled.width}×${styled.height} is not the photo's ${w}×${h}`);
  }
  const candidates = new Uint8Array(w * h);
  for (let p = 0; p < w * h; p++) {
    const i = p * 4;
    const s = styled.data;
    const dark = s[i] <= DARK_OUTPUT && s[i + 1] <= DARK_OUTPUT && s[i + 2] <= DARK_OUTPUT;
    candidates[p] = dark && luma(photo.data, i) >= BRIGHT_PHOTO ? 1 : 0;
  }
  // Opening = dilation of the erosion; kept within the candidates so a blob never grows past its own pixels.
  const opened = dilate(erode(candidates, w, h, BLOB_SIDE), w, h, BLOB_SIDE);
  let count = 0;
  for (let p = 0; p < w * h; p++) {
    opened[p] &= candidates[p];
    count += opened[p];
  }
  return { share: count / (w * h), mask: opened };
}

/** The output with its droplets painted magenta and everything else faded: what the measure counted. */
export function dropletOverlay(styled: RgbaImage, mask: Uint8Array): RgbaImage {
  const data = new Uint8Array(styled.width * styled.height * 4);
  for (let p = 0; p < mask.length; p++) {
    const i = p * 4;
    if (mask[p]) data.set([255, 0, 255, 255], i);
    else for (let c = 0; c < 3; c++) data[i + c] = Math.round(styled.data[i + c] * 0.35 + 255 * 0.65);
    if (!mask[p]) data[i + 3] = 255;
  }
  return { width: styled.width, height: styled.height, data };
}
