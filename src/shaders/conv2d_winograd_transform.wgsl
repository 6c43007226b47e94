// Winograd F(2×2, 3×3) for the forward pass of a 3×3 stride-1 conv (src/ops/conv2d-winograd.ts): the three
// transforms around the 16 batched GEMMs of conv2d_winograd_gemm.wgsl. One entry point per transform.
//
//   weightTransform  U[ξ, ci, co] = (G g Gᵀ)[ξ]          g = w[co, ci] (3×3), ξ = 4·row + col of the 4×4 result
//                                                         (FLIP_TRANSPOSE: g = rot180(w[ci, co]), see below)
//   inputTransform   V[ξ, ci, t]  = (Bᵀ d B)[ξ]          d = the 4×4 patch of tile t of the padded, upsampled
//                                                         image, read through the same index map as
//                                                         conv2d_gemm.wgsl (reflect/zero pad, nearest ×2)
//   outputTransform  y[n, co, 2·ty + i, 2·tx + j] = (Aᵀ m A)[i, j] + bias[co],  m[ξ] = M[ξ, co, t]
//
// Tiles t = (n, ty, tx) run over the batch and a ⌈Ho/2⌉×⌈Wo/2⌉ grid; the tile dimension of V and M is
// padded to a multiple of 4 (tilesPadded) so that the GEMM reads and writes whole vec4s; the padding
// columns of V are zeros. Outputs past Ho or Wo (edge tiles of odd sizes) are not written.
//
//   Bᵀ = | 1  0 −1  0 |     G = | 1    0    0  |     Aᵀ = | 1  1  1  0 |
//        | 0  1  1  0 |         | ½    ½    ½  |          | 0  1 −1 −1 |
//        | 0 −1  1  0 |         | ½   −½    ½  |
//        | 0  1  0 −1 |         | 0    0    1  |
//
// Bindings: 0 = params, 1 = in0, 2 = in1, 3 = out.
//   weightTransform: in0 = weight, out = U;  inputTransform: in0 = x, out = V;
//   outputTransform: in0 = M, in1 = bias (statically used: bind any read-only buffer without a bias), out = y.

// Params (the tiles* and channelsPadded fields are this shader's) comes from conv2d_common.wgsl, PAD_REFLECT
// and sourceCoord from conv2d_source_coord.wgsl (both prefixed by src/ops/conv2d-winograd.ts).

override WORKGROUP_SIZE: u32 = 64u;
// weightTransform of the input gradient (conv2dBackwardInput's Winograd path): the conv of dy with the
// flipped, transposed kernel g'[ci', co'] = rot180(w[ci', co']), i.e. in0 is the forward weight
// [Cout', … ] read as [inChannels, outChannels, 3, 3] of this (transposed) conv's Params.
override FLIP_TRANSPOSE: bool = false;
// inputTransform for the weight gradient: V tile-major, [16, tiles, channelsPadded] (the GEMM's k runs over
// tiles there), instead of [16, Cin, tilesPadded].
override V_TILE_MAJOR: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read> in1: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn threadIndex(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
}

// The 16 Winograd-domain values of one (channel, tile) or (co, ci) pair lie `plane` apart: value ξ = 4·r + c
// at ξ·plane + at. Row r of in0's 4×4 block, and out's, as a vec4.
fn loadPoints(plane: u32, at: u32) -> array<vec4f, 4> {
  var m: array<vec4f, 4>;
  for (var r = 0u; r < 4u; r++) {
    m[r] = vec4f(in0[(4u * r) * plane + at], in0[(4u * r + 1u) * plane + at], in0[(4u * r + 2u) * plane + at], in0[(4u * r + 3u) * plane + at]);
  }
  return m;
}

fn storePointRow(r: u32, plane: u32, at: u32, v: vec4f) {
  out[(4u * r) * plane + at] = v.x;
  out[(4u * r + 1u) * plane + at] = v.y;
  out[(4u * r + 2u) * plane + at] = v.z;
  out[(4u * r + 3u) * plane + at] = v.w;
}

// Tile t's image n and the top-left output position (y, x) = (2·ty, 2·tx) of its 2×2 block.
fn tileOrigin(t: u32) -> PlanePosition {
  let p = planePosition(t, params.tilesH, params.tilesW);
  return PlanePosition(p.n, 2u * p.y, 2u * p.x);
}

// ---------------------------------------------------------------- weights: one thread per (co, ci)

@compute @workgroup_size(WORKGROUP_SIZE)
fn weightTransform(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = threadIndex(gid, nwg);
  if (idx >= params.total) { return; }
  let base = idx * 9u;
  var g: array<vec3f, 3>;
  // U[ξ, ci, co] sits at ξ·plane + at.
  var at: u32;
  if (FLIP_TRANSPOSE) {
    // idx runs over the forward weight [inChannels, outChannels] = (ci, co) of this conv: at = idx.
    at = idx;
    for (var r = 0u; r < 3u; r++) {
      let row = base + 3u * (2u - r);
      g[r] = vec3f(in0[row + 2u], in0[row + 1u], in0[row]);
    }
  } else {
    let co = idx / params.inChannels;
    let ci = idx - co * params.inChannels;
    at = ci * params.outChannels + co;
    for (var r = 0u; r < 3u; r++) {
      g[r] = vec3f(in0[base + 3u * r], in0[base + 3u * r + 1u], in0[base + 3u * r + 2u]);
    }
  }
  // G g: 4 rows of 3.
  var gg: array<vec3f, 4>;
  gg[0] = g[0];
  gg[1] = 0.5 * (g[0] + g[1] + g[2]);
  gg[2] = 0.5 * (g[0] - g[1] + g[2]);
  gg[3] = g[2];
  // (G g) Gᵀ: each row r of 3 becomes 4.
  let plane = params.inChannels * params.outChannels;
  for (var r = 0u; r < 4u; r++) {
    let v = gg[r];
    storePointRow(r, plane, at, vec4f(v.x, 0.5 * (v.x + v.y + v.z), 0.5 * (v.x - v.y + v.z), v.z));
  }
}

// ---------------------------------------------------------------- input: one thread per (ci, tile)

// Source row (or column) of padded coordinate p, or -1 for zero (padding, or past the padded image: rows
// that only an edge tile's clipped outputs would read).
fn sourceOf(p: u32, paddedExtent: u32, upExtent: u32) -> i32 {
  if (p >= paddedExtent) { return -1; }
  return sourceCoord(i32(p) - i32(params.pad), i32(upExtent));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn inputTransform(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = threadIndex(gid, nwg);
  if (idx >= params.total) { return; }
  let ci = idx / params.tilesPadded;
  let t = idx - ci * params.tilesPadded;
  var plane = params.inChannels * params.tilesPadded;
  var at = ci * params.tilesPadded + t;
  if (V_TILE_MAJOR) {
    if (t >= params.tiles) { return; }
    plane = params.tiles * params.channelsPadded;
    at = t * params.channelsPadded + ci;
  }
  var d: array<vec4f, 4>;
  if (t < params.tiles) {
    // The tile's 4×4 patch starts at padded position (2·ty, 2·tx), its output block's origin.
    let origin = tileOrigin(t);
    var cols: array<i32, 4>;
    for (var j = 0u; j < 4u; j++) { cols[j] = sourceOf(origin.x + j, params.paddedWidth, params.upWidth); }
    let image = (origin.n * params.inChannels + ci) * params.inHeight;
    for (var i = 0u; i < 4u; i++) {
      let sy = sourceOf(origin.y + i, params.paddedHeight, params.upHeight);
      if (sy < 0) { continue; }
      let row = (image + u32(sy)) * params.inWidth;
      var v = vec4f(0.0);
      for (var j = 0u; j < 4u; j++) {
        if (cols[j] >= 0) { v[j] = in0[row + u32(cols[j])]; }
      }
      d[i] = v;
    }
  }
  // Bᵀ d: combine rows; then (Bᵀ d) B: the same on the columns of each row.
  var bd: array<vec4f, 4>;
  bd[0] = d[0] - d[2];
  bd[1] = d[1] + d[2];
  bd[2] = d[2] - d[1];
  bd[3] = d[1] - d[3];
  for (var r = 0u; r < 4u; r++) {
    let v = bd[r];
    storePointRow(r, plane, at, vec4f(v.x - v.z, v.y + v.z, v.z - v.y, v.y - v.w));
  }
}

// ---------------------------------------------------------------- output: one thread per (co, tile)

@compute @workgroup_size(WORKGROUP_SIZE)
fn outputTransform(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = threadIndex(gid, nwg);
  if (idx >= params.total) { return; }
  let co = idx / params.tiles;
  let t = idx - co * params.tiles;
  let plane = params.outChannels * params.tilesPadded;
  let at = co * params.tilesPadded + t;
  // Aᵀ m: two rows of 4.
  let m = loadPoints(plane, at);
  let top = m[0] + m[1] + m[2];
  let bottom = m[1] - m[2] - m[3];
  var b = 0.0;
  if (params.hasBias != 0u) { b = in1[co]; }
  // (Aᵀ m) A: two columns of each row.
  let y = array<vec2f, 2>(
    vec2f(top.x + top.y + top.z, top.y - top.z - top.w) + b,
    vec2f(bottom.x + bottom.y + bottom.z, bottom.y - bottom.z - bottom.w) + b,
  );
  let origin = tileOrigin(t);
  let oy = origin.y;
  let ox = origin.x;
  let image = (origin.n * params.outChannels + co) * params.outHeight;
  for (var i = 0u; i < 2u; i++) {
    if (oy + i >= params.outHeight) { break; }
    let row = (image + oy + i) * params.outWidth;
    out[row + ox] = y[i].x;
    if (ox + 1u < params.outWidth) { out[row + ox + 1u] = y[i].y; }
  }
}

// ---------------------------------------------------------------- weight gradient (src/ops/conv2d-winograd.ts)
//
// y_t = Aᵀ[U ⊙ V_t]A with U = G g Gᵀ is linear in g, so dL/dg = Gᵀ (Σ_t (A dY_t Aᵀ) ⊙ V_t) G: the output
// gradient's 2×2 blocks go through A·Aᵀ (outputGradTransform), the input through the forward's Bᵀ·B
// (inputTransform, V_TILE_MAJOR), the sum over tiles is 16 GEMMs M[ξ, co, ci] = Σ_t Ŷ[ξ, t, co]·V[ξ, t, ci],
// and Gᵀ·G turns each 4×4 M[·, co, ci] into the 3×3 gradient (weightGradTransform).
//
//   A = | 1  0 |     Gᵀ = | 1  ½  ½  0 |
//       | 1  1 |          | 0  ½ −½  0 |
//       | 1 −1 |          | 0  ½  ½  1 |
//       | 0 −1 |

// One thread per (co, tile): Ŷ[ξ, t, co] = (A dY_t Aᵀ)[ξ], dY_t the tile's 2×2 block of dy (zero past Ho, Wo).
// in0 = dy, out = Ŷ [16, tiles, outChannels].
@compute @workgroup_size(WORKGROUP_SIZE)
fn outputGradTransform(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = threadIndex(gid, nwg);
  if (idx >= params.total) { return; }
  let co = idx / params.tiles;
  let t = idx - co * params.tiles;
  let origin = tileOrigin(t);
  let oy = origin.y;
  let ox = origin.x;
  let image = (origin.n * params.outChannels + co) * params.outHeight;
  var d: array<vec2f, 2>;
  for (var i = 0u; i < 2u; i++) {
    if (oy + i >= params.outHeight) { break; }
    let row = (image + oy + i) * params.outWidth;
    var v = vec2f(in0[row + ox], 0.0);
    if (ox + 1u < params.outWidth) { v.y = in0[row + ox + 1u]; }
    d[i] = v;
  }
  // A dY: 4 rows of 2; then each row (a, b) times Aᵀ: (a, a + b, a − b, −b).
  let rows = array<vec2f, 4>(d[0], d[0] + d[1], d[0] - d[1], -d[1]);
  let plane = params.tiles * params.outChannels;
  let at = t * params.outChannels + co;
  for (var q = 0u; q < 4u; q++) {
    let v = rows[q];
    storePointRow(q, plane, at, vec4f(v.x, v.x + v.y, v.x - v.y, -v.y));
  }
}

// One thread per (co, ci): dw[co, ci] = Gᵀ M[·, co, ci] G. in0 = M [16, outChannels, channelsPadded],
// out = dw [Cout, Cin, 3, 3].
@compute @workgroup_size(WORKGROUP_SIZE)
fn weightGradTransform(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = threadIndex(gid, nwg);
  if (idx >= params.total) { return; }
  let co = idx / params.inChannels;
  let ci = idx - co * params.inChannels;
  let plane = params.outChannels * params.channelsPadded;
  let at = co * params.channelsPadded + ci;
  let m = loadPoints(plane, at);
  // Gᵀ M: 3 rows of 4; then each row times G: 3 columns.
  let half12 = 0.5 * (m[1] + m[2]);
  let gm = array<vec4f, 3>(m[0] + half12, 0.5 * (m[1] - m[2]), half12 + m[3]);
  let base = idx * 9u;
  for (var r = 0u; r < 3u; r++) {
    let v = gm[r];
    let h = 0.5 * (v.y + v.z);
    out[base + 3u * r] = v.x + h;
    out[base + 3u * r + 1u] = 0.5 * (v.y - v.z);
    out[base + 3u * r + 2u] = h + v.w;
  }
}
