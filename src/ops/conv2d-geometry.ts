// Conv geometry: the attributes of a conv, what they mean for the sizes every kernel works with (after
// upsampling, padding and striding), TensorFlow SAME padding, and the GEMM tile table the kernels share.
// One module that conv2d.ts and conv2d-winograd.ts both read, so that neither imports the other for it.
import { ShapeError, shapeStr } from '../engine/errors.js';
import type { AxisPadding } from './padding.js';

export interface Conv2dAttrs {
  /** 1 or 2. */
  stride: number;
  /** Padding before each axis (top and left), and after it unless padEnd says otherwise. */
  padding: number;
  padMode: 'zeros' | 'reflect';
  /**
   * Zero padding after the last row and after the last column when it differs from `padding` (TensorFlow's
   * SAME pads more after than before on a stride-2 conv of an even size: see tfSamePadding). Zeros only.
   */
  padEnd?: readonly [number, number];
  /** Upsampling of x before padding and conv: 1 (default) or 2. */
  upsample?: number;
  /**
   * `nearest` (default): each pixel repeated (resize-conv). `zeros`: zeros inserted between the pixels (the
   * dilated input that turns a strided transposed conv into a stride-1 conv: see conv2dTranspose). Zeros
   * upsampling needs zero padding.
   */
  upsampleMode?: 'nearest' | 'zeros';
}

/**
 * TensorFlow's SAME padding of one axis: the output has ceil(size / stride) positions and the padding this
 * needs is split with the odd pixel after, e.g. 0 before and 1 after for a 3×3 stride-2 conv of an even size.
 */
export function tfSamePadding(size: number, kernelSize: number, stride: number): AxisPadding {
  const outSize = Math.ceil(size / stride);
  const total = Math.max((outSize - 1) * stride + kernelSize - size, 0);
  const before = Math.floor(total / 2);
  return { before, after: total - before };
}

/**
 * Conv2d attrs for TensorFlow's SAME zero padding of an H×W input. The padding before must be equal on both
 * axes: true unless H and W differ in parity on a strided conv, which throws a ShapeError.
 */
export function tfSameConv2dAttrs(height: number, width: number, kernelSize: number, stride: number): Conv2dAttrs {
  return paddedConv2dAttrs(
    tfSamePadding(height, kernelSize, stride),
    tfSamePadding(width, kernelSize, stride),
    { stride, padMode: 'zeros' },
    `SAME padding of a ${height}×${width} input (kernel ${kernelSize}, stride ${stride})`,
  );
}

/**
 * Conv2d attrs for a conv whose rows and columns are padded as `rows` and `cols` say (counted after any
 * upsampling). The shaders take one padding before both axes, so the two must agree: a ShapeError, naming
 * `what`, otherwise. Zero padding may pad more after (padEnd); reflection pads alike on both sides of an axis.
 */
export function paddedConv2dAttrs(
  rows: AxisPadding,
  cols: AxisPadding,
  conv: { stride: number; padMode: Conv2dAttrs['padMode']; upsample?: number },
  what: string,
): Conv2dAttrs {
  if (rows.before !== cols.before) {
    throw new ShapeError(
      `conv2d: ${what} pads ${rows.before} before the rows but ${cols.before} before the columns; only equal leading padding is supported`,
    );
  }
  if (conv.padMode === 'reflect' && (rows.after !== rows.before || cols.after !== cols.before)) {
    throw new ShapeError(`conv2d: ${what} reflects unequally before and after an axis`);
  }
  const attrs: Conv2dAttrs = { stride: conv.stride, padding: rows.before, padMode: conv.padMode };
  if (conv.padMode === 'zeros') attrs.padEnd = [rows.after, cols.after];
  if (conv.upsample !== undefined) attrs.upsample = conv.upsample;
  return attrs;
}

/** Everything the kernels need to know about one conv: sizes after upsampling, padding and striding. */
export interface Conv2dGeometry {
  batch: number;
  inChannels: number;
  inHeight: number;
  inWidth: number;
  outChannels: number;
  kernelSize: number;
  stride: number;
  padding: number;
  padBottom: number;
  padRight: number;
  padMode: 'zeros' | 'reflect';
  upsample: number;
  upsampleMode: 'nearest' | 'zeros';
  upHeight: number;
  upWidth: number;
  paddedHeight: number;
  paddedWidth: number;
  outHeight: number;
  outWidth: number;
}

/**
 * Tile configurations of the implicit GEMM: WG_X×WG_Y threads, each a TM×(4·TN4) register block, so a
 * workgroup owns a (TM·WG_Y)×(4·TN4·WG_X) tile of the output; TILE_K deep staging. GEMM rows are channels, and
 * the first and last layers of the nets have 3: narrow row tiles keep those from computing mostly padding.
 * The loaders assume the thread count is a multiple of the row edge and of TILE_K, and a multiple or a half
 * of the column edge (checked below).
 *
 * 8×8 blocks: on lavapipe they beat the former 4×4 blocks on 64×64 tiles, and 32-row GEMMs run faster on
 * 64-thread 32×128 tiles than on 32×128 tiles of 4×8 blocks (`npm run bench -- --conv2d --sgemm`; figures in
 * bench/RESULTS.md). 64×128 tiles of 8×8 blocks on 128 threads, 16 deep, are also the textbook shape for
 * discrete GPUs (12.5 KiB of workgroup memory), so one table serves every adapter until a GPU measurement
 * says otherwise.
 */
export interface GemmTile {
  WG_X: number;
  WG_Y: number;
  /** Rows per thread (4 or 8) and vec4 columns per thread (1 or 2). */
  TM: number;
  TN4: number;
  TILE_K: number;
}

export function gemmTileRows(t: GemmTile): number {
  return t.WG_Y * t.TM;
}

export function gemmTileCols(t: GemmTile): number {
  return t.WG_X * t.TN4 * 4;
}

const GEMM_TILES: readonly { maxRows: number; tile: GemmTile }[] = [
  { maxRows: 16, tile: { WG_X: 64, WG_Y: 4, TM: 4, TN4: 1, TILE_K: 16 } }, // 16 × 256
  { maxRows: 32, tile: { WG_X: 16, WG_Y: 4, TM: 8, TN4: 2, TILE_K: 16 } }, // 32 × 128, 64 threads
  { maxRows: Infinity, tile: { WG_X: 16, WG_Y: 8, TM: 8, TN4: 2, TILE_K: 16 } }, // 64 × 128
];

for (const { tile } of GEMM_TILES) {
  const threads = tile.WG_X * tile.WG_Y;
  const tm = gemmTileRows(tile);
  const tn = gemmTileCols(tile);
  const columnsOk = threads >= tn ? threads % tn === 0 : tn === threads || tn === 2 * threads; // B_COLS ≤ 2
  if (
    (tile.TM !== 4 && tile.TM !== 8) ||
    (tile.TN4 !== 1 && tile.TN4 !== 2) ||
    threads % tm ||
    !columnsOk ||
    threads % tile.TILE_K ||
    (tm * tile.TILE_K) % threads ||
    (tn * tile.TILE_K) % threads
  ) {
    throw new Error(`conv2d: GEMM tile ${JSON.stringify(tile)} does not fit the loaders of conv2d_gemm.wgsl`);
  }
}

/** Workgroup memory of a tile's staging arrays (gemm_staged.wgsl tileA/tileB: rows padded by one vec4). */
export function gemmTileWorkgroupBytes(t: GemmTile): number {
  return t.TILE_K * (gemmTileRows(t) / 4 + 1 + gemmTileCols(t) / 4 + 1) * 16;
}

/**
 * The tile for a GEMM with this many rows (output channels, or input channels for the input gradient) that
 * fits the device's workgroup memory: the 16-row tile needs ~17.5 KiB, more than WebGPU's default 16 KiB, so
 * adapters that offer only the default get the next tile instead.
 */
export function gemmTileFor(rows: number, maxWorkgroupBytes = Infinity): GemmTile {
  const fits = GEMM_TILES.filter((t) => gemmTileWorkgroupBytes(t.tile) <= maxWorkgroupBytes);
  if (!fits.length) throw new Error(`conv2d: no GEMM tile fits ${maxWorkgroupBytes} bytes of workgroup memory`);
  return (fits.find((t) => rows <= t.maxRows) ?? fits[fits.length - 1]).tile;
}

// ------------------------------------------------------------------ shapes

export function conv2dGeometry(
  xShape: readonly number[],
  wShape: readonly number[],
  bShape: readonly number[] | null,
  attrs: Conv2dAttrs,
): Conv2dGeometry {
  const up = attrs.upsample ?? 1;
  const what = `conv2d: x ${shapeStr(xShape)}, weight ${shapeStr(wShape)}${bShape ? `, bias ${shapeStr(bShape)}` : ''}`;
  if (xShape.length !== 4) throw new ShapeError(`${what}: x must be [N, Cin, H, W]`);
  if (wShape.length !== 4 || wShape[2] !== wShape[3]) throw new ShapeError(`${what}: weight must be [Cout, Cin, K, K]`);
  const [batch, inChannels, inHeight, inWidth] = xShape;
  const [outChannels, wIn, kernelSize] = wShape;
  if (wIn !== inChannels) throw new ShapeError(`${what}: weight has ${wIn} input channels, x has ${inChannels}`);
  if (bShape && (bShape.length !== 1 || bShape[0] !== outChannels))
    throw new ShapeError(`${what}: bias must be [${outChannels}]`);
  if (attrs.stride !== 1 && attrs.stride !== 2) throw new ShapeError(`${what}: stride ${attrs.stride} is not 1 or 2`);
  if (!Number.isInteger(attrs.padding) || attrs.padding < 0)
    throw new ShapeError(`${what}: padding ${attrs.padding} is not a non-negative integer`);
  if (up !== 1 && up !== 2) throw new ShapeError(`${what}: upsample ${up} is not 1 or 2`);
  if (attrs.padMode !== 'zeros' && attrs.padMode !== 'reflect')
    throw new ShapeError(`${what}: unknown padMode ${String(attrs.padMode)}`);
  const upsampleMode = attrs.upsampleMode ?? 'nearest';
  if (upsampleMode !== 'nearest' && upsampleMode !== 'zeros')
    throw new ShapeError(`${what}: unknown upsampleMode ${String(upsampleMode)}`);
  if (upsampleMode === 'zeros' && attrs.padMode !== 'zeros')
    throw new ShapeError(`${what}: zero-insertion upsampling needs zero padding`);
  const [padBottom, padRight] = attrs.padEnd ?? [attrs.padding, attrs.padding];
  if (!(Number.isInteger(padBottom) && padBottom >= 0 && Number.isInteger(padRight) && padRight >= 0)) {
    throw new ShapeError(`${what}: padEnd [${attrs.padEnd?.join(', ')}] is not two non-negative integers`);
  }
  if (attrs.padMode === 'reflect' && (padBottom !== attrs.padding || padRight !== attrs.padding)) {
    throw new ShapeError(`${what}: reflect padding must be the same on every side (padEnd is for zero padding)`);
  }
  const upHeight = inHeight * up;
  const upWidth = inWidth * up;
  if (attrs.padMode === 'reflect' && (attrs.padding >= upHeight || attrs.padding >= upWidth)) {
    throw new ShapeError(
      `${what}: reflect padding ${attrs.padding} needs an input larger than it (${upHeight}×${upWidth} after upsampling)`,
    );
  }
  const paddedHeight = upHeight + attrs.padding + padBottom;
  const paddedWidth = upWidth + attrs.padding + padRight;
  const outHeight = Math.floor((paddedHeight - kernelSize) / attrs.stride) + 1;
  const outWidth = Math.floor((paddedWidth - kernelSize) / attrs.stride) + 1;
  if (!(outHeight > 0 && outWidth > 0) || batch < 1 || inChannels < 1 || outChannels < 1 || kernelSize < 1) {
    throw new ShapeError(
      `${what}, stride ${attrs.stride}, padding ${attrs.padding}, upsample ${up}: output would be empty`,
    );
  }
  return {
    batch,
    inChannels,
    inHeight,
    inWidth,
    outChannels,
    kernelSize,
    stride: attrs.stride,
    padding: attrs.padding,
    padBottom,
    padRight,
    padMode: attrs.padMode,
    upsample: up,
    upsampleMode,
    upHeight,
    upWidth,
    paddedHeight,
    paddedWidth,
    outHeight,
    outWidth,
  };
}

/**
 * FLOPs of the direct convolution (2 per multiply-add of x̂ and the weight): what every pass and
 * implementation (Winograd included) is credited with in profiles, so that their GFLOP/s compare.
 */
export function conv2dFlops(g: Conv2dGeometry): number {
  return 2 * g.batch * g.outChannels * g.outHeight * g.outWidth * g.inChannels * g.kernelSize ** 2;
}

export function conv2dOutputShape(g: Conv2dGeometry): number[] {
  return [g.batch, g.outChannels, g.outHeight, g.outWidth];
}
