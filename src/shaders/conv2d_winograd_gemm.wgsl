// The 16 GEMMs of Winograd F(2×2, 3×3) (src/ops/conv2d-winograd.ts), one per workgroup z:
//   M[ξ, co, t] = Σ_ci U[ξ, ci, co] · V[ξ, ci, t]        (ξ < 16)
// U is k-major ([16, Cin, Cout], as conv2d_winograd_transform.wgsl writes it), V is [16, Cin, T4] and M
// [16, Cout, T4], with T4 (tiles, padded to a multiple of 4) read and written as whole vec4s.
//
// Same tiling as src/shaders/sgemm.wgsl and conv2d_gemm.wgsl: a workgroup of WG_X×WG_Y threads owns a
// TILE_M×TILE_N tile of one M[ξ]; each thread a register block of TM rows (TM·ly …) × TN4 vec4 columns
// (vec4 columns lx + WG_X·j, so that neighbouring threads read neighbouring vec4s of the staged B tile).
// TILE_K-deep tiles of U and V are staged in workgroup memory, rows padded by one vec4; one k step costs
// TM/4 + TN4 vec4 loads from workgroup memory and 4·TM·TN4 vec4 FMAs.
//
// `mainRegisters`: the same register blocks without workgroup memory or barriers: each thread reads its rows
// of U and vec4 columns of V straight from the storage buffers at every k (rows and columns past the edge
// clamped to the last one, their results discarded). On CPU adapters (lavapipe), where workgroup memory is
// ordinary memory and a barrier ends a SIMD loop over the invocations, staging only adds copies.
//
// Bindings: 0 = params, 1 = U, 2 = V, 3 = M.

override WG_X: u32 = 16u;
override WG_Y: u32 = 8u;
// Rows per thread: 4 or 8; vec4 columns per thread: 1 or 2 (the accumulators hold at most 8 × 2 vec4s).
override TM: u32 = 8u;
override TN4: u32 = 2u;
override TILE_K: u32 = 16u;

const MAX_TM: u32 = 8u;
const MAX_TN4: u32 = 2u;

override THREADS: u32 = WG_X * WG_Y;
override TILE_M: u32 = WG_Y * TM;
override TILE_N4: u32 = WG_X * TN4;
override A_ROW: u32 = TILE_M / 4u + 1u;
override B_ROW: u32 = TILE_N4 + 1u;

struct Params {
  // Rows (Cout), vec4 columns (T4 / 4), depth (Cin).
  m: u32,
  n4: u32,
  k: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> m: array<vec4f>;

var<workgroup> tileA: array<vec4f, TILE_K * A_ROW>;
var<workgroup> tileB: array<vec4f, TILE_K * B_ROW>;

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let tid = lid.y * WG_X + lid.x;
  let rowBase = wid.y * TILE_M;
  let col4Base = wid.x * TILE_N4;
  let xi = wid.z;
  let uBase = xi * params.k * params.m;
  let vBase = xi * params.k * params.n4;

  var acc: array<array<vec4f, MAX_TN4>, MAX_TM>;

  for (var k0 = 0u; k0 < params.k; k0 += TILE_K) {
    // A tile: U is k-major, so consecutive threads read consecutive rows of one k.
    for (var e = tid; e < TILE_M * TILE_K; e += THREADS) {
      let kk = e / TILE_M;
      let r = e - kk * TILE_M;
      let row = rowBase + r;
      let k = k0 + kk;
      var a = 0.0;
      if (row < params.m && k < params.k) { a = u[uBase + k * params.m + row]; }
      tileA[kk * A_ROW + r / 4u][r % 4u] = a;
    }
    // B tile: one vec4 of V per element.
    for (var e = tid; e < TILE_N4 * TILE_K; e += THREADS) {
      let kk = e / TILE_N4;
      let c4 = e - kk * TILE_N4;
      let k = k0 + kk;
      let col4 = col4Base + c4;
      var b = vec4f(0.0);
      if (k < params.k && col4 < params.n4) { b = v[vBase + k * params.n4 + col4]; }
      tileB[kk * B_ROW + c4] = b;
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

  let mBase = xi * params.m * params.n4;
  for (var i = 0u; i < TM; i++) {
    let row = rowBase + lid.y * TM + i;
    if (row >= params.m) { break; }
    for (var j = 0u; j < TN4; j++) {
      let col4 = col4Base + lid.x + j * WG_X;
      if (col4 < params.n4) { m[mBase + row * params.n4 + col4] = acc[i][j]; }
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn mainRegisters(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let xi = wid.z;
  let uBase = xi * params.k * params.m;
  let vBase = xi * params.k * params.n4;
  let row0 = wid.y * TILE_M + lid.y * TM;
  let col40 = wid.x * TILE_N4 + lid.x;
  var rows: array<u32, MAX_TM>;
  for (var i = 0u; i < TM; i++) { rows[i] = min(row0 + i, params.m - 1u); }
  var cols: array<u32, MAX_TN4>;
  for (var j = 0u; j < TN4; j++) { cols[j] = min(col40 + j * WG_X, params.n4 - 1u); }

  var acc: array<array<vec4f, MAX_TN4>, MAX_TM>;
  for (var k = 0u; k < params.k; k++) {
    let uRow = uBase + k * params.m;
    let vRow = vBase + k * params.n4;
    var bv: array<vec4f, MAX_TN4>;
    for (var j = 0u; j < TN4; j++) { bv[j] = v[vRow + cols[j]]; }
    for (var i4 = 0u; i4 < TM / 4u; i4++) {
      let av = vec4f(u[uRow + rows[4u * i4]], u[uRow + rows[4u * i4 + 1u]], u[uRow + rows[4u * i4 + 2u]], u[uRow + rows[4u * i4 + 3u]]);
      for (var j = 0u; j < TN4; j++) {
        acc[i4 * 4u][j] += av.x * bv[j];
        acc[i4 * 4u + 1u][j] += av.y * bv[j];
        acc[i4 * 4u + 2u][j] += av.z * bv[j];
        acc[i4 * 4u + 3u][j] += av.w * bv[j];
      }
    }
  }

  let mBase = xi * params.m * params.n4;
  for (var i = 0u; i < TM; i++) {
    let row = row0 + i;
    if (row >= params.m) { break; }
    for (var j = 0u; j < TN4; j++) {
      let col4 = col40 + j * WG_X;
      if (col4 < params.n4) { m[mBase + row * params.n4 + col4] = acc[i][j]; }
    }
  }
}
