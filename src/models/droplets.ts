/**
 * "Droplets": a failure of trained transform nets where the output layer saturates (150·tanh(x) + 127.5 with
 * |x| far above 1 clips to 0 or 255 on every channel) in blobs, in smooth regions of a photo that is not that
 * dark or that bright there. Nets make them black or white (the same failure with the other sign: a net that
 * lost its black droplets can grow white ones), so both count. The measure is the share of the image's
 * pixels that lie in such blobs, so that nets can be compared by a number and not only by eye.
 *
 * A pixel is a black candidate when the output is near black (every channel ≤ DARK_OUTPUT) while the photo
 * there is not dark (luma ≥ BRIGHT_PHOTO), a white candidate when the output is near white (every channel ≥
 * LIGHT_OUTPUT) while the photo is not bright (luma ≤ DIM_PHOTO). Blobs are what survives a morphological
 * opening of the candidates with a BLOB_SIDE × BLOB_SIDE square: thin strokes that a style legitimately
 * paints (outlines, hatching, highlights) vanish in the erosion, solid patches come back whole in the dilation.
 */
import type { RgbaImage } from './rgba-image.js';

/** The output is near black: each of R, G, B at most this (8-bit). */
const DARK_OUTPUT = 24;
/** The photo is not dark there: Rec. 601 luma at least this (8-bit). */
const BRIGHT_PHOTO = 64;
/** The output is near white: each of R, G, B at least this (8-bit). */
const LIGHT_OUTPUT = 255 - DARK_OUTPUT;
/** The photo is not bright there: Rec. 601 luma at most this (8-bit). */
const DIM_PHOTO = 255 - BRIGHT_PHOTO;
/** Side of the square a blob must contain: strokes narrower than this are not droplets. */
export const BLOB_SIDE = 5;

export interface DropletMeasure {
  /** Pixels in droplets, black or white / all pixels. */
  share: number;
  /** Pixels in white droplets / all pixels (the rest of `share` is black). */
  whiteShare: number;
  /** The droplet pixels of the image, row-major: 1 black, 2 white, 0 none. */
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

/** The candidates that lie in a BLOB_SIDE square of candidates: the opening, kept within the candidates. */
function blobs(candidates: Uint8Array, w: number, h: number): Uint8Array {
  const opened = dilate(erode(candidates, w, h, BLOB_SIDE), w, h, BLOB_SIDE);
  for (let p = 0; p < w * h; p++) opened[p] &= candidates[p];
  return opened;
}

/** Droplets of `styled` (the net's output) over `photo` (its input), both RGBA of the same size. */
export function measureDroplets(photo: RgbaImage, styled: RgbaImage): DropletMeasure {
  const { width: w, height: h } = photo;
  if (styled.width !== w || styled.height !== h) {
    throw new RangeError(`measureDroplets: output ${styled.width}×${styled.height} is not the photo's ${w}×${h}`);
  }
  const black = new Uint8Array(w * h);
  const white = new Uint8Array(w * h);
  const s = styled.data;
  for (let p = 0; p < w * h; p++) {
    const i = p * 4;
    const y = luma(photo.data, i);
    black[p] = s[i] <= DARK_OUTPUT && s[i + 1] <= DARK_OUTPUT && s[i + 2] <= DARK_OUTPUT && y >= BRIGHT_PHOTO ? 1 : 0;
    white[p] = s[i] >= LIGHT_OUTPUT && s[i + 1] >= LIGHT_OUTPUT && s[i + 2] >= LIGHT_OUTPUT && y <= DIM_PHOTO ? 1 : 0;
  }
  const blackBlobs = blobs(black, w, h);
  const whiteBlobs = blobs(white, w, h);
  const mask = new Uint8Array(w * h);
  let blackCount = 0;
  let whiteCount = 0;
  for (let p = 0; p < w * h; p++) {
    blackCount += blackBlobs[p];
    whiteCount += whiteBlobs[p];
    mask[p] = blackBlobs[p] ? 1 : whiteBlobs[p] ? 2 : 0;
  }
  return { share: (blackCount + whiteCount) / (w * h), whiteShare: whiteCount / (w * h), mask };
}

/** The output with its black droplets painted magenta, its white ones cyan, everything else faded: what the measure counted. */
export function dropletOverlay(styled: RgbaImage, mask: Uint8Array): RgbaImage {
  const data = new Uint8Array(styled.width * styled.height * 4);
  for (let p = 0; p < mask.length; p++) {
    const i = p * 4;
    if (mask[p] === 1) data.set([255, 0, 255, 255], i);
    else if (mask[p] === 2) data.set([0, 255, 255, 255], i);
    else for (let c = 0; c < 3; c++) data[i + c] = Math.round(styled.data[i + c] * 0.35 + 255 * 0.65);
    if (!mask[p]) data[i + 3] = 255;
  }
  return { width: styled.width, height: styled.height, data };
}
