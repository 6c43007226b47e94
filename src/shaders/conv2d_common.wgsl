// Shared by the conv2d shaders (direct, gemm, narrow, fold, reduce, winograd transform): src/ops/conv2d.ts
// and conv2d-winograd.ts prefix each of them with this file and conv2d_source_coord.wgsl, so the uniform
// layout that src/ops/conv2d-params.ts packs is declared once. Each shader declares `params: Params` at
// binding 0.
//
// Geometry: x [N, Cin, H, W] is upsampled ×2^upsampleShift to Hu×Wu (nearest, or by zero insertion for a
// transposed conv), padded by `pad` before each axis and by Hp − Hu − pad, Wp − Wu − pad after it (zeros or
// reflect; more after than before for TensorFlow's SAME), then convolved with weight [Cout, Cin, KSIZE, KSIZE]
// at stride 2^strideShift to y [N, Cout, Ho, Wo]. Upsampling and padding are never materialised: they are
// index maps.

struct Params {
  batch: u32,
  inChannels: u32,
  inHeight: u32,
  inWidth: u32,
  outChannels: u32,
  outHeight: u32,
  outWidth: u32,
  pad: u32,
  upHeight: u32,
  upWidth: u32,
  paddedHeight: u32,
  paddedWidth: u32,
  total: u32,
  reduceChunk: u32,
  // Stride and upsampling factor are powers of two (1 or 2): shifts, not divisions.
  strideShift: u32,
  upsampleShift: u32,
  padMode: u32,
  hasBias: u32,
  // Input gradient by stride phase (conv2d_gemm.wgsl PASS_INPUT_GRAD_PHASE): padded positions
  // (phaseY + stride·i, phaseX + stride·j), i < phaseHeight, j < phaseWidth, which meet taps
  // (phaseY + stride·a, phaseX + stride·b), a < phaseTapsY, b < phaseTapsX.
  phaseY: u32,
  phaseX: u32,
  phaseHeight: u32,
  phaseWidth: u32,
  phaseTapsY: u32,
  phaseTapsX: u32,
  // 1: upsampling inserts zeros between the pixels (UPSAMPLE_ZEROS in conv2d_source_coord.wgsl), 0: nearest.
  upsampleZeros: u32,
  // Winograd transforms (conv2d_winograd_transform.wgsl): the 2×2 output tiles per image row and column,
  // their number over the batch and that rounded up to a multiple of 4; the weight gradient's channel
  // stride of tile-major V (inChannels rounded up to a multiple of 4).
  tilesH: u32,
  tilesW: u32,
  tiles: u32,
  tilesPadded: u32,
  channelsPadded: u32,
}

// Index i of a batch of height×width planes (pixels, padded positions, tiles), row-major: image n, row y,
// column x.
struct PlanePosition {
  n: u32,
  y: u32,
  x: u32,
}

fn planePosition(i: u32, height: u32, width: u32) -> PlanePosition {
  let plane = height * width;
  let n = i / plane;
  let pix = i - n * plane;
  let y = pix / width;
  return PlanePosition(n, y, pix - y * width);
}
