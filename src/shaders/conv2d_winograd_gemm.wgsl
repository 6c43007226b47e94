// The 16 GEMMs of Winograd F(2×2, 3×3) (src/ops/conv2d-winograd.ts), one per workgroup z:
//   M[ξ, co, t] = Σ_ci U[ξ, ci, co] · V[ξ, ci, t]        (ξ < 16)
// U is k-major ([16, Cin, Cout], as conv2d_winograd_transform.wgsl writes it), V is [16, Cin, T4] and M
// [16, Cout, T4], with T4 (tiles, padded to a multiple of 4) read and written as whole vec4s.
//
// Tiling and the register block are gemm_microkernel.wgsl's (prefixed by src/ops/conv2d-winograd.ts, which
// appends gemm_staged.wgsl): a TILE_M×TILE_N4 vec4 tile of one M[ξ] per workgroup.
//   `main` stages TILE_K-deep tiles of U and V in workgroup memory (GPUs).
//   `mainRegisters` has no workgroup memory or barriers: each thread reads its rows of U and vec4 columns of
//   V straight from the storage buffers at every k (rows and columns past the edge clamped to the last one,
//   their results discarded); faster on CPU adapters (lavapipe).
//
// Bindings: 0 = params, 1 = U, 2 = V, 3 = M.

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

// Writes a thread's block of M[ξ] (rows row0…, vec4 columns col40 + WG_X·j), clipped at the edges.
fn storeBlock(acc: ptr<function, Block>, xi: u32, row0: u32, col40: u32) {
  let mBase = xi * params.m * params.n4;
  for (var i = 0u; i < TM; i++) {
    let row = row0 + i;
    if (row >= params.m) { break; }
    for (var j = 0u; j < TN4; j++) {
      let col4 = col40 + j * WG_X;
      if (col4 < params.n4) { m[mBase + row * params.n4 + col4] = (*acc)[i][j]; }
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let tid = lid.y * WG_X + lid.x;
  let rowBase = wid.y * TILE_M;
  let col4Base = wid.x * TILE_N4;
  let xi = wid.z;
  let uBase = xi * params.k * params.m;
  let vBase = xi * params.k * params.n4;

  var acc: Block;

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
    accumulateStaged(&acc, lid);
    workgroupBarrier();
  }

  storeBlock(&acc, xi, rowBase + lid.y * TM, col4Base + lid.x);
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

  var acc: Block;
  for (var k = 0u; k < params.k; k++) {
    let uRow = uBase + k * params.m;
    let vRow = vBase + k * params.n4;
    var a: BlockA;
    for (var i4 = 0u; i4 < TM / 4u; i4++) {
      a[i4] = vec4f(u[uRow + rows[4u * i4]], u[uRow + rows[4u * i4 + 1u]], u[uRow + rows[4u * i4 + 2u]], u[uRow + rows[4u * i4 + 3u]]);
    }
    var b: BlockB;
    for (var j = 0u; j < TN4; j++) { b[j] = v[vRow + cols[j]]; }
    accumulate(&acc, a, b);
  }

  storeBlock(&acc, xi, row0, col40);
}
