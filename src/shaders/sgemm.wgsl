// Plain single-precision GEMM, C[M, N] = A[M, K] · B[K, N], all row-major, f32. Bench-only (bench/sgemm.ts):
// the "what this adapter can do" reference the conv kernels are measured against, so it is a clean,
// well-tiled GEMM and nothing else (no im2col, no epilogue).
//
// A workgroup of WG_X×WG_Y threads owns a TILE_M×TILE_N tile of C. Each thread owns a register block of
// TM rows × TN4 vec4 columns: rows TM·ly … TM·ly+TM−1, and vec4 columns lx + WG_X·j (j < TN4), interleaved so
// that, for each j, neighbouring threads read neighbouring vec4s of the staged B tile. Tiles of A (transposed,
// k-major) and B, TILE_K deep, are staged in workgroup memory; one k step costs TM/4 + TN4 vec4 loads from
// workgroup memory and 4·TM·TN4 vec4 FMAs.
//
// Bindings: 0 = params, 1 = a, 2 = b, 3 = c.

override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
// Rows per thread: 4 or 8 (the accumulators below are sized for at most 8 × 2 vec4s).
override TM: u32 = 4u;
// vec4 columns per thread: 1 or 2.
override TN4: u32 = 1u;
override TILE_K: u32 = 16u;

override THREADS: u32 = WG_X * WG_Y;
override TILE_M: u32 = WG_Y * TM;
override TILE_N4: u32 = WG_X * TN4;
override TILE_N: u32 = TILE_N4 * 4u;
// Row strides of the staged tiles, in vec4s (one vec4 of padding).
override A_ROW: u32 = TILE_M / 4u + 1u;
override B_ROW: u32 = TILE_N4 + 1u;

const MAX_TM: u32 = 8u;
const MAX_TN4: u32 = 2u;

struct Params {
  m: u32,
  n: u32,
  k: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

var<workgroup> tileA: array<vec4f, TILE_K * A_ROW>;
var<workgroup> tileB: array<vec4f, TILE_K * B_ROW>;

fn loadB(row: u32, col: u32) -> f32 {
  if (row < params.k && col < params.n) { return b[row * params.n + col]; }
  return 0.0;
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let tid = lid.y * WG_X + lid.x;
  let rowBase = wid.y * TILE_M;
  let colBase = wid.x * TILE_N;
  // B rows are whole vec4s when N is a multiple of 4: one vec4 load per staged element.
  let nAligned = params.n % 4u == 0u;

  var acc: array<array<vec4f, MAX_TN4>, MAX_TM>;

  for (var k0 = 0u; k0 < params.k; k0 += TILE_K) {
    // A tile: consecutive threads read consecutive k of one row (contiguous in A), stored k-major.
    for (var e = tid; e < TILE_M * TILE_K; e += THREADS) {
      let m = e / TILE_K;
      let kk = e % TILE_K;
      let row = rowBase + m;
      let k = k0 + kk;
      var v = 0.0;
      if (row < params.m && k < params.k) { v = a[row * params.k + k]; }
      tileA[kk * A_ROW + m / 4u][m % 4u] = v;
    }
    // B tile: one vec4 of a row per element.
    for (var e = tid; e < TILE_N4 * TILE_K; e += THREADS) {
      let kk = e / TILE_N4;
      let c4 = e % TILE_N4;
      let row = k0 + kk;
      let col = colBase + c4 * 4u;
      var v = vec4f(0.0);
      if (nAligned && row < params.k && col < params.n) {
        let i = row * params.n + col;
        v = vec4f(b[i], b[i + 1u], b[i + 2u], b[i + 3u]);
      } else if (!nAligned) {
        v = vec4f(loadB(row, col), loadB(row, col + 1u), loadB(row, col + 2u), loadB(row, col + 3u));
      }
      tileB[kk * B_ROW + c4] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TILE_K; kk++) {
      var bv: array<vec4f, MAX_TN4>;
      for (var j = 0u; j < TN4; j++) { bv[j] = tileB[kk * B_ROW + lid.x + j * WG_X]; }
      for (var i4 = 0u; i4 < TM / 4u; i4++) {
        let av = tileA[kk * A_ROW + lid.y * (TM / 4u) + i4];
        for (var j = 0u; j < TN4; j++) {
          acc[i4 * 4u][j] += av.x * bv[j];
          acc[i4 * 4u + 1u][j] += av.y * bv[j];
          acc[i4 * 4u + 2u][j] += av.z * bv[j];
          acc[i4 * 4u + 3u][j] += av.w * bv[j];
        }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < TM; i++) {
    let row = rowBase + lid.y * TM + i;
    if (row >= params.m) { break; }
    for (var j = 0u; j < TN4; j++) {
      let col = colBase + (lid.x + j * WG_X) * 4u;
      for (var q = 0u; q < 4u; q++) {
        if (col + q < params.n) { c[row * params.n + col + q] = acc[i][j][q]; }
      }
    }
  }
}
