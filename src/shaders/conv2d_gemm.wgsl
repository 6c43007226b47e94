// conv2d as implicit GEMM: C[M, Ncols] = A[M, Kred] · B[Kred, Ncols], where B is never materialised: its
// tiles are gathered straight from the tensors (im2col on the fly, through the padding/upsampling index map).
// PASS picks the product; being an override, each pass gets its own pipeline with the others folded
// away.
//
//   PASS_FORWARD       y[co, (n,oy,ox)]   = Σ_(ci,ky,kx)  w[co, (ci,ky,kx)] · x̂[(ci,ky,kx), (n,oy,ox)]    (+ bias)
//                      K_ORDER picks how k enumerates (ci, ky, kx): K_CHANNEL_MAJOR walks the weight's own
//                      layout; K_TAP_MAJOR runs k = (ky, kx, ci) with Cin rounded up to TILE_K, so that a k tile
//                      is one tap of TILE_K channels: the tile's source pixel (padding, reflection, upsampling)
//                      is resolved once per column per tile and each element is one load at a channel-plane
//                      stride, where channel-major decodes and resolves every element (used when Cin is a
//                      multiple of TILE_K: nothing is wasted on rounding).
//   PASS_INPUT_GRAD    dx̂p[ci, (n,yp,xp)] = Σ_(co,ky,kx)  w[co, ci, ky, kx] · dy[n, co, (yp−ky)/S, (xp−kx)/S]
//                      (gradient w.r.t. the padded, upsampled input; conv2d_fold.wgsl folds it onto x)
//   PASS_WEIGHT_GRAD   dw[co, (ci,ky,kx)] = Σ_(n,oy,ox)   dy[n, co, oy, ox] · x̂[(ci,ky,kx), (n,oy,ox)]
//                      (split-K: workgroup z sums one chunk of the long reduction into out[z, co, ·])
//   PASS_INPUT_GRAD_PHASE  the input gradient of a strided conv, one stride phase (py, px) per dispatch:
//                      dx̂p[ci, (n, py+S·i, px+S·j)] = Σ_(a,b,co) w[co, ci, py+S·a, px+S·b] · dy[n, co, i−a, j−b]
//                      Only the taps that meet the phase are summed, where PASS_INPUT_GRAD multiplies zeros
//                      for the (S²−1)/S² that do not. k runs tap-major, Cout rounded up to TILE_K, so that a
//                      k tile is one tap: (a, b) cost one division per tile, not per element.
//
// Tiling and the register block are gemm_microkernel.wgsl's: TILE_M×TILE_N tiles of C per workgroup. `main`
// (every pass) stages TILE_K-deep tiles of A and B in workgroup memory (gemm_staged.wgsl) with the loaders
// below (GPUs); `forwardRegisters` and `weightGradRegisters` gather each thread's own A and B at every k
// instead (CPU adapters).
//
// Loads: forward and both input-grad passes give each thread fixed columns of the B tile (their pixels
// decomposed once) and walk k, whose decomposition into (channel, ky, kx) divides by override constants only.
// B element e = tid + THREADS·j of a tile sits at column e % TILE_N, k row e / TILE_N: with THREADS ≥ TILE_N a
// thread has one column and every B_KSTEP-th k row; with THREADS < TILE_N (small workgroups, e.g. 64 threads
// of 8×8 blocks on a 32×128 tile) it has B_COLS = TILE_N / THREADS columns, tid + THREADS·c.
// Weight grad's k is a pixel, so there each thread keeps one k row per tile (one runtime division per tile)
// and walks columns.
//
// Bindings: 0 = params, 1 = in0, 2 = in1, 3 = bias (read by the forward pass only, but statically used:
// the other passes bind any read-only buffer there), 4 = out.
//   forward: in0 = x, in1 = weight;  input grad: in0 = dy, in1 = weight;  weight grad: in0 = dy, in1 = x.
//
// Params, PAD_REFLECT and sourceCoord come from conv2d_common.wgsl and conv2d_source_coord.wgsl, the tiling
// and register block from gemm_microkernel.wgsl (all prefixed by src/ops/conv2d.ts), tileA, tileB and
// accumulateStaged from gemm_staged.wgsl (appended).

override KSIZE: u32 = 3u;
override PASS: u32 = 0u;
override K_ORDER: u32 = 0u;

const PASS_FORWARD: u32 = 0u;
const PASS_INPUT_GRAD: u32 = 1u;
const PASS_WEIGHT_GRAD: u32 = 2u;
const PASS_INPUT_GRAD_PHASE: u32 = 3u;
const K_CHANNEL_MAJOR: u32 = 0u;
const K_TAP_MAJOR: u32 = 1u;
const MAX_B_COLS: u32 = 2u;

override TILE_N: u32 = TILE_N4 * 4u;
override KK: u32 = KSIZE * KSIZE;
// B loader of the forward and input-grad passes (see "Loads" above); one of TILE_N, THREADS divides the other.
override B_COLS: u32 = max(1u, TILE_N / THREADS);
override B_KSTEP: u32 = max(1u, THREADS / TILE_N);

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read> in1: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn gemmRows() -> u32 {
  if (PASS == PASS_INPUT_GRAD || PASS == PASS_INPUT_GRAD_PHASE) { return params.inChannels; }
  return params.outChannels;
}

fn gemmCols() -> u32 {
  switch PASS {
    case PASS_FORWARD: { return params.batch * params.outHeight * params.outWidth; }
    case PASS_INPUT_GRAD: { return params.batch * params.paddedHeight * params.paddedWidth; }
    case PASS_INPUT_GRAD_PHASE: { return params.batch * params.phaseHeight * params.phaseWidth; }
    default: { return params.inChannels * KK; }
  }
}

fn channelTiles(channels: u32) -> u32 {
  return (channels + TILE_K - 1u) / TILE_K;
}

fn gemmDepth() -> u32 {
  switch PASS {
    case PASS_FORWARD: {
      if (K_ORDER == K_TAP_MAJOR) { return KK * channelTiles(params.inChannels) * TILE_K; }
      return params.inChannels * KK;
    }
    case PASS_INPUT_GRAD: { return params.outChannels * KK; }
    case PASS_INPUT_GRAD_PHASE: { return params.phaseTapsY * params.phaseTapsX * channelTiles(params.outChannels) * TILE_K; }
    default: { return params.batch * params.outHeight * params.outWidth; }
  }
}

// Where a thread's fixed column of B sits (forward and input grad): the first element of its image and the
// top-left coordinate its taps are relative to.
struct Column {
  valid: bool,
  imageBase: u32,
  y: i32,
  x: i32,
}

fn fixedColumn(col: u32, cols: u32) -> Column {
  var c = Column(col < cols, 0u, 0, 0);
  if (PASS == PASS_FORWARD) {
    let p = planePosition(col, params.outHeight, params.outWidth);
    c.imageBase = p.n * params.inChannels * params.inHeight * params.inWidth;
    c.y = i32(p.y << params.strideShift) - i32(params.pad);
    c.x = i32(p.x << params.strideShift) - i32(params.pad);
  } else {
    // Input gradient: a padded position (yp, xp), or position (i, j) of one stride phase's grid.
    var p: PlanePosition;
    if (PASS == PASS_INPUT_GRAD_PHASE) {
      p = planePosition(col, params.phaseHeight, params.phaseWidth);
    } else {
      p = planePosition(col, params.paddedHeight, params.paddedWidth);
    }
    c.imageBase = p.n * params.outChannels * params.outHeight * params.outWidth;
    c.y = i32(p.y);
    c.x = i32(p.x);
  }
  return c;
}

// The input pixel that column c reads at tap (ky, kx), through the padding/upsampling map: `inside` false
// where it reads a zero (padding, or between zero-inserted pixels); `offset` in x (c.imageBase included) of
// channel 0 (add ci·inHeight·inWidth), 0 when outside so that a load there needs no branch.
struct TapPixel {
  inside: bool,
  offset: u32,
}

fn tapPixel(c: Column, ky: u32, kx: u32) -> TapPixel {
  let sy = sourceCoord(c.y + i32(ky), i32(params.upHeight));
  let sx = sourceCoord(c.x + i32(kx), i32(params.upWidth));
  let inside = sy >= 0 && sx >= 0;
  return TapPixel(inside, select(0u, c.imageBase + u32(sy) * params.inWidth + u32(sx), inside));
}

// x̂[(ci,ky,kx), pixel] for the forward pass.
fn loadImagePatch(c: Column, k: u32) -> f32 {
  let ci = k / KK;
  let tap = k - ci * KK;
  let ky = tap / KSIZE;
  let kx = tap - ky * KSIZE;
  let p = tapPixel(c, ky, kx);
  if (!p.inside) { return 0.0; }
  return in0[p.offset + ci * params.inHeight * params.inWidth];
}

// dy[n, co, (yp−ky)/S, (xp−kx)/S] for the input-grad pass, zero where the tap reads no output.
fn loadOutputGradTap(c: Column, k: u32) -> f32 {
  let co = k / KK;
  let tap = k - co * KK;
  let ky = tap / KSIZE;
  let kx = tap - ky * KSIZE;
  let ty = c.y - i32(ky);
  let tx = c.x - i32(kx);
  if (ty < 0 || tx < 0) { return 0.0; }
  let oy = u32(ty) >> params.strideShift;
  let ox = u32(tx) >> params.strideShift;
  if ((oy << params.strideShift) != u32(ty) || (ox << params.strideShift) != u32(tx) || oy >= params.outHeight || ox >= params.outWidth) { return 0.0; }
  return in0[c.imageBase + (co * params.outHeight + oy) * params.outWidth + ox];
}

// A[row, k] for the forward and input-grad passes: the weight, read as [Cout, Cin·K·K] or transposed.
fn loadWeight(row: u32, k: u32) -> f32 {
  if (PASS == PASS_FORWARD) {
    return in1[row * params.inChannels * KK + k];
  }
  let co = k / KK;
  let tap = k - co * KK;
  return in1[(co * params.inChannels + row) * KK + tap];
}

fn storeA(kRow: u32, m: u32, v: f32) {
  tileA[kRow * A_ROW + m / 4u][m % 4u] = v;
}

fn storeB(kRow: u32, n: u32, v: f32) {
  tileB[kRow * B_ROW + n / 4u][n % 4u] = v;
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let tid = lid.y * WG_X + lid.x;
  let rows = gemmRows();
  let cols = gemmCols();
  let depth = gemmDepth();

  // Weight grad splits the reduction over z; the other passes fold an x-grid too wide for one dimension.
  var tileCol = wid.x;
  var kBegin = 0u;
  var kEnd = depth;
  if (PASS == PASS_WEIGHT_GRAD) {
    kBegin = wid.z * params.reduceChunk;
    kEnd = min(depth, kBegin + params.reduceChunk);
  } else {
    tileCol = wid.x + wid.z * nwg.x;
  }
  let rowBase = wid.y * TILE_M;
  let colBase = tileCol * TILE_N;
  if (colBase >= cols) { return; }

  // Forward / input grad: this thread's fixed columns of B (tile columns myCol + THREADS·c) and row of A
  // (k-slow load order).
  let myCol = tid % TILE_N;
  let myKRow = tid / TILE_N;
  let myRow = tid % TILE_M;
  var columns: array<Column, MAX_B_COLS>;
  if (PASS != PASS_WEIGHT_GRAD) {
    for (var c = 0u; c < B_COLS; c++) {
      columns[c] = fixedColumn(colBase + myCol + c * THREADS, cols);
    }
  }
  // Weight grad: this thread's fixed k row of both tiles (k-fast load order).
  let myK = tid % TILE_K;

  var acc: Block;

  for (var k0 = kBegin; k0 < kEnd; k0 += TILE_K) {
    if (PASS == PASS_WEIGHT_GRAD) {
      let k = k0 + myK;
      let kOk = k < kEnd;
      let plane = params.outHeight * params.outWidth;
      let n = k / plane;
      let pix = k - n * plane;
      let oy = pix / params.outWidth;
      let ox = pix - oy * params.outWidth;
      let dyBase = n * params.outChannels * plane + pix;
      for (var j = 0u; j < TILE_M * TILE_K / THREADS; j++) {
        let m = tid / TILE_K + j * (THREADS / TILE_K);
        var v = 0.0;
        if (kOk && rowBase + m < rows) { v = in0[dyBase + (rowBase + m) * plane]; }
        storeA(myK, m, v);
      }
      let pixelTaps = Column(true, n * params.inChannels * params.inHeight * params.inWidth,
                         i32(oy << params.strideShift) - i32(params.pad), i32(ox << params.strideShift) - i32(params.pad));
      for (var j = 0u; j < TILE_N * TILE_K / THREADS; j++) {
        let c = tid / TILE_K + j * (THREADS / TILE_K);
        var v = 0.0;
        if (kOk && colBase + c < cols) {
          // Column (ci, ky, kx) of the weight gradient reads the image pixelTaps at the same k.
          let tapIndex = colBase + c;
          let ci = tapIndex / KK;
          let tap = tapIndex - ci * KK;
          let ky = tap / KSIZE;
          let kx = tap - ky * KSIZE;
          let p = tapPixel(pixelTaps, ky, kx);
          if (p.inside) { v = in1[p.offset + ci * params.inHeight * params.inWidth]; }
        }
        storeB(myK, c, v);
      }
    } else if (PASS == PASS_FORWARD && K_ORDER == K_TAP_MAJOR) {
      // This k tile is tap (ky, kx) of input channels ciBase…ciBase+TILE_K.
      let ciTiles = channelTiles(params.inChannels);
      let kTile = k0 / TILE_K;
      let tap = kTile / ciTiles;
      let ciBase = (kTile - tap * ciTiles) * TILE_K;
      let ky = tap / KSIZE;
      let kx = tap - ky * KSIZE;
      for (var j = 0u; j < TILE_M * TILE_K / THREADS; j++) {
        let kRow = tid / TILE_M + j * (THREADS / TILE_M);
        let ci = ciBase + kRow;
        var v = 0.0;
        if (ci < params.inChannels && rowBase + myRow < rows) {
          v = in1[((rowBase + myRow) * params.inChannels + ci) * KK + tap];
        }
        storeA(kRow, myRow, v);
      }
      let inPlane = params.inHeight * params.inWidth;
      for (var c = 0u; c < B_COLS; c++) {
        let column = columns[c];
        let p = tapPixel(column, ky, kx);
        let inside = column.valid && p.inside;
        let pixel = p.offset;
        for (var j = 0u; j < TILE_K / B_KSTEP; j++) {
          let kRow = myKRow + j * B_KSTEP;
          let ci = ciBase + kRow;
          var v = 0.0;
          if (inside && ci < params.inChannels) { v = in0[pixel + ci * inPlane]; }
          storeB(kRow, myCol + c * THREADS, v);
        }
      }
    } else if (PASS == PASS_INPUT_GRAD_PHASE) {
      // This k tile is tap (a, b) of the phase and output channels coBase…coBase+TILE_K.
      let coTiles = channelTiles(params.outChannels);
      let kTile = k0 / TILE_K;
      let tap = kTile / coTiles;
      let coBase = (kTile - tap * coTiles) * TILE_K;
      let a = tap / params.phaseTapsX;
      let b = tap - a * params.phaseTapsX;
      let ky = params.phaseY + (a << params.strideShift);
      let kx = params.phaseX + (b << params.strideShift);
      for (var j = 0u; j < TILE_M * TILE_K / THREADS; j++) {
        let kRow = tid / TILE_M + j * (THREADS / TILE_M);
        let co = coBase + kRow;
        var v = 0.0;
        if (co < params.outChannels && rowBase + myRow < rows) {
          v = in1[((co * params.inChannels + rowBase + myRow) * KSIZE + ky) * KSIZE + kx];
        }
        storeA(kRow, myRow, v);
      }
      for (var c = 0u; c < B_COLS; c++) {
        let column = columns[c];
        let oy = column.y - i32(a);
        let ox = column.x - i32(b);
        let inside = column.valid && oy >= 0 && ox >= 0 && u32(oy) < params.outHeight && u32(ox) < params.outWidth;
        for (var j = 0u; j < TILE_K / B_KSTEP; j++) {
          let kRow = myKRow + j * B_KSTEP;
          let co = coBase + kRow;
          var v = 0.0;
          if (inside && co < params.outChannels) {
            v = in0[column.imageBase + (co * params.outHeight + u32(oy)) * params.outWidth + u32(ox)];
          }
          storeB(kRow, myCol + c * THREADS, v);
        }
      }
    } else {
      for (var j = 0u; j < TILE_M * TILE_K / THREADS; j++) {
        let kRow = tid / TILE_M + j * (THREADS / TILE_M);
        let k = k0 + kRow;
        var v = 0.0;
        if (k < kEnd && rowBase + myRow < rows) { v = loadWeight(rowBase + myRow, k); }
        storeA(kRow, myRow, v);
      }
      for (var c = 0u; c < B_COLS; c++) {
        let column = columns[c];
        for (var j = 0u; j < TILE_K / B_KSTEP; j++) {
          let kRow = myKRow + j * B_KSTEP;
          let k = k0 + kRow;
          var v = 0.0;
          if (k < kEnd && column.valid) {
            if (PASS == PASS_FORWARD) { v = loadImagePatch(column, k); } else { v = loadOutputGradTap(column, k); }
          }
          storeB(kRow, myCol + c * THREADS, v);
        }
      }
    }
    workgroupBarrier();
    accumulateStaged(&acc, lid);
    workgroupBarrier();
  }

  storeBlock(&acc, rows, cols, rowBase + lid.y * TM, colBase + lid.x * 4u, wid.z);
}

// The forward pass without workgroup memory, for CPU adapters (see gemm_microkernel.wgsl): each thread
// gathers its own TM weight rows and TN4·4 pixel columns at every k. With no k tiles there is nothing to round
// up, so k runs taps outer, channels inner for any Cin: a column's source pixel is resolved once per tap and
// each channel is one load at a channel-plane stride. Rows past the edge read the last row, pixels outside
// the image (padding, columns past the edge) a zero; neither is stored.
@compute @workgroup_size(WG_X, WG_Y)
fn forwardRegisters(
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let rows = gemmRows();
  let cols = gemmCols();
  let colBase = (wid.x + wid.z * nwg.x) * TILE_N;
  if (colBase >= cols) { return; }
  let row0 = wid.y * TILE_M + lid.y * TM;
  let col0 = colBase + lid.x * 4u;
  var weightRows: array<u32, MAX_TM>;
  for (var i = 0u; i < TM; i++) { weightRows[i] = min(row0 + i, rows - 1u) * params.inChannels * KK; }
  // Scalar column c of the block is component c % 4 of vec4 column c / 4.
  var columns: array<Column, MAX_TN4 * 4u>;
  for (var c = 0u; c < TN4 * 4u; c++) { columns[c] = fixedColumn(col0 + (c / 4u) * WG_X * 4u + c % 4u, cols); }
  let inPlane = params.inHeight * params.inWidth;

  var acc: Block;
  for (var tap = 0u; tap < KK; tap++) {
    let ky = tap / KSIZE;
    let kx = tap - ky * KSIZE;
    var pixels: array<u32, MAX_TN4 * 4u>;
    var inside: array<bool, MAX_TN4 * 4u>;
    for (var c = 0u; c < TN4 * 4u; c++) {
      let p = tapPixel(columns[c], ky, kx);
      inside[c] = columns[c].valid && p.inside;
      // Outside: any in-bounds pixel, so that the loads below need no branch.
      pixels[c] = select(0u, p.offset, inside[c]);
    }
    for (var ci = 0u; ci < params.inChannels; ci++) {
      let channel = ci * inPlane;
      var b: BlockB;
      for (var c = 0u; c < TN4 * 4u; c++) { b[c / 4u][c % 4u] = select(0.0, in0[pixels[c] + channel], inside[c]); }
      let k = ci * KK + tap;
      var a: BlockA;
      for (var i4 = 0u; i4 < TM / 4u; i4++) {
        a[i4] = vec4f(in1[weightRows[4u * i4] + k], in1[weightRows[4u * i4 + 1u] + k], in1[weightRows[4u * i4 + 2u] + k], in1[weightRows[4u * i4 + 3u] + k]);
      }
      accumulate(&acc, a, b);
    }
  }

  storeBlock(&acc, rows, cols, row0, col0, 0u);
}

// The weight gradient without workgroup memory, for CPU adapters: k is a pixel of this split's chunk, walked
// in order so that its (n, oy, ox) steps without divisions; each thread gathers its TM rows of dy and, for
// each of its TN4·4 columns (ci, ky, kx), decomposed once, the input pixel that tap reads from k.
@compute @workgroup_size(WG_X, WG_Y)
fn weightGradRegisters(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let rows = gemmRows();
  let cols = gemmCols();
  let kBegin = wid.z * params.reduceChunk;
  let kEnd = min(gemmDepth(), kBegin + params.reduceChunk);
  let row0 = wid.y * TILE_M + lid.y * TM;
  let col0 = wid.x * TILE_N + lid.x * 4u;
  let plane = params.outHeight * params.outWidth;
  var dyRows: array<u32, MAX_TM>;
  for (var i = 0u; i < TM; i++) { dyRows[i] = min(row0 + i, rows - 1u) * plane; }
  var channels: array<u32, MAX_TN4 * 4u>;
  var taps: array<vec2i, MAX_TN4 * 4u>;
  var valid: array<bool, MAX_TN4 * 4u>;
  for (var c = 0u; c < TN4 * 4u; c++) {
    let col = col0 + (c / 4u) * WG_X * 4u + c % 4u;
    valid[c] = col < cols;
    let ci = min(col, cols - 1u) / KK;
    let tap = min(col, cols - 1u) - ci * KK;
    channels[c] = ci * params.inHeight * params.inWidth;
    taps[c] = vec2i(i32(tap / KSIZE), i32(tap % KSIZE));
  }

  var n = kBegin / plane;
  var oy = (kBegin - n * plane) / params.outWidth;
  var ox = kBegin - n * plane - oy * params.outWidth;
  // Per column, the input row its tap reads from k's output row (resolved once per output row).
  var sourceRows: array<u32, MAX_TN4 * 4u>;
  var rowInside: array<bool, MAX_TN4 * 4u>;
  var acc: Block;
  for (var k = kBegin; k < kEnd; k++) {
    if (k == kBegin || ox == 0u) {
      let image = n * params.inChannels * params.inHeight * params.inWidth;
      let y = i32(oy << params.strideShift) - i32(params.pad);
      for (var c = 0u; c < TN4 * 4u; c++) {
        let sy = sourceCoord(y + taps[c].x, i32(params.upHeight));
        rowInside[c] = valid[c] && sy >= 0;
        sourceRows[c] = image + channels[c] + u32(sy) * params.inWidth;
      }
    }
    let dyBase = n * params.outChannels * plane + oy * params.outWidth + ox;
    var a: BlockA;
    for (var i4 = 0u; i4 < TM / 4u; i4++) {
      a[i4] = vec4f(in0[dyBase + dyRows[4u * i4]], in0[dyBase + dyRows[4u * i4 + 1u]], in0[dyBase + dyRows[4u * i4 + 2u]], in0[dyBase + dyRows[4u * i4 + 3u]]);
    }
    let x = i32(ox << params.strideShift) - i32(params.pad);
    var b: BlockB;
    for (var c = 0u; c < TN4 * 4u; c++) {
      let sx = sourceCoord(x + taps[c].y, i32(params.upWidth));
      let inside = rowInside[c] && sx >= 0;
      // Outside: any in-bounds pixel, so that the load needs no branch.
      b[c / 4u][c % 4u] = select(0.0, in1[select(0u, sourceRows[c] + u32(sx), inside)], inside);
    }
    accumulate(&acc, a, b);
    ox++;
    if (ox == params.outWidth) {
      ox = 0u;
      oy++;
      if (oy == params.outHeight) {
        oy = 0u;
        n++;
      }
    }
  }

  storeBlock(&acc, rows, cols, row0, col0, wid.z);
}

// Scatters a thread's block (rows row0…, scalar columns col0 + WG_X·4·j + q) to NCHW (forward, input grad) or
// to split `split` of the weight gradient, clipped at the edges.
fn storeBlock(acc: ptr<function, Block>, rows: u32, cols: u32, row0: u32, col0: u32, split: u32) {
  for (var jq = 0u; jq < TN4 * 4u; jq++) {
    let j = jq / 4u;
    let q = jq % 4u;
    let col = col0 + j * WG_X * 4u + q;
    if (col >= cols) { continue; }
    var outBase = 0u;
    var rowStride = 0u;
    if (PASS == PASS_WEIGHT_GRAD) {
      outBase = split * rows * cols + col;
      rowStride = cols;
    } else if (PASS == PASS_INPUT_GRAD_PHASE) {
      let p = planePosition(col, params.phaseHeight, params.phaseWidth);
      let yp = params.phaseY + (p.y << params.strideShift);
      let xp = params.phaseX + (p.x << params.strideShift);
      rowStride = params.paddedHeight * params.paddedWidth;
      outBase = p.n * rows * rowStride + yp * params.paddedWidth + xp;
    } else {
      var plane = params.outHeight * params.outWidth;
      if (PASS == PASS_INPUT_GRAD) { plane = params.paddedHeight * params.paddedWidth; }
      let n = col / plane;
      outBase = n * rows * plane + (col - n * plane);
      rowStride = plane;
    }
    for (var i = 0u; i < TM; i++) {
      let row = row0 + i;
      if (row >= rows) { break; }
      var v = (*acc)[i][j][q];
      if (PASS == PASS_FORWARD && params.hasBias != 0u) { v += bias[row]; }
      out[outBase + row * rowStride] = v;
    }
  }
}
