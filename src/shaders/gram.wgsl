// Gram matrices of feature maps: per image, F = x as C × K (K = H·W), G = F·Fᵀ·scale with scale = 1/(C·K).
//
// Both passes are tiled matrix products: a workgroup of WG_SIDE × WG_SIDE threads computes an output tile
// of TILE × TILE (TILE = WG_SIDE·THREAD_TILE), each thread a THREAD_TILE × THREAD_TILE block of it held in
// registers, stepping through the reduction TILE_K at a time with both operand slices in workgroup memory.
//
// Entry points (binding 0 is the params uniform):
//   gramPartial: x -> out        G over one slice of K (split-K: a few channels and a long K leave too few
//                                output tiles to fill a GPU). With one slice, out is G itself; else out is
//                                [slices][N][C][C], summed by sumSlices.
//   sumSlices:   gradGram = partials -> out = G
//   inputGrad:   x, gradGram -> out = dF = (dG + dGᵀ)·F·scale
//   gramRegisters, inputGradRegisters: the same products without workgroup memory or barriers (CPU adapters
//                such as lavapipe, where workgroup memory is ordinary memory and a barrier ends a SIMD loop
//                over the invocations): each thread an REG × REG block, operands read straight from storage
//                (rows and columns past the edge clamped, their results discarded); G whole, no split-K.
//
// Operand slices are stored as [reduction index][output row or column], so the inner loop reads a row of
// each and multiplies every pair.

/** Outputs per thread along each axis; a const because the register block is an array sized by it. */
const THREAD_TILE: u32 = 4u;
const BLOCK: u32 = THREAD_TILE * THREAD_TILE;

override WG_SIDE: u32 = 16u;
override TILE_K: u32 = 16u;

struct Params {
  channels: u32, // C
  reduction: u32, // K = H·W
  batch: u32, // N
  sliceLength: u32, // K per split-K slice, a multiple of TILE_K (gramPartial)
  slices: u32, // split-K slices (sumSlices)
  scale: f32, // 1/(C·K)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gradGram: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> sliceA: array<f32, TILE_K * WG_SIDE * THREAD_TILE>;
var<workgroup> sliceB: array<f32, TILE_K * WG_SIDE * THREAD_TILE>;

fn tileSize() -> u32 {
  return WG_SIDE * THREAD_TILE;
}

/** F[row][k] of the image at `base`, 0 outside the matrix (ragged edge tiles). */
fn feature(base: u32, row: u32, k: u32) -> f32 {
  if (row < params.channels && k < params.reduction) {
    return x[base + row * params.reduction + k];
  }
  return 0.0;
}

/** dG[i][j] + dG[j][i] of the image at `base`, 0 outside the matrix. */
fn symmetricGrad(base: u32, i: u32, j: u32) -> f32 {
  let c = params.channels;
  if (i < c && j < c) {
    return gradGram[base + i * c + j] + gradGram[base + j * c + i];
  }
  return 0.0;
}

/** acc[r][s] += Σ_kk sliceA[kk][row r of this thread] · sliceB[kk][column s of this thread]. */
fn multiplySlices(acc: ptr<function, array<f32, BLOCK>>, lid: vec2u) {
  let tile = tileSize();
  for (var kk = 0u; kk < TILE_K; kk = kk + 1u) {
    var a: array<f32, THREAD_TILE>;
    var b: array<f32, THREAD_TILE>;
    for (var t = 0u; t < THREAD_TILE; t = t + 1u) {
      // Rows and columns interleave across threads (stride WG_SIDE) so that neighbours read neighbours.
      a[t] = sliceA[kk * tile + lid.y + t * WG_SIDE];
      b[t] = sliceB[kk * tile + lid.x + t * WG_SIDE];
    }
    for (var r = 0u; r < THREAD_TILE; r = r + 1u) {
      for (var s = 0u; s < THREAD_TILE; s = s + 1u) {
        (*acc)[r * THREAD_TILE + s] = fma(a[r], b[s], (*acc)[r * THREAD_TILE + s]);
      }
    }
  }
}

// G is symmetric: only tiles on or above the diagonal are computed, and off-diagonal ones are written twice.
@compute @workgroup_size(WG_SIDE, WG_SIDE)
fn gramPartial(@builtin(local_invocation_id) lid3: vec3u, @builtin(local_invocation_index) flat: u32,
               @builtin(workgroup_id) wid: vec3u) {
  let tileRow = wid.y;
  let tileCol = wid.x;
  if (tileRow > tileCol) { return; }
  let lid = lid3.xy;
  let tile = tileSize();
  let c = params.channels;
  let image = wid.z % params.batch;
  let slice = wid.z / params.batch;
  let base = image * c * params.reduction;
  let rowBase = tileRow * tile;
  let colBase = tileCol * tile;
  let kBegin = slice * params.sliceLength;
  let kEnd = min(kBegin + params.sliceLength, params.reduction);

  var acc: array<f32, BLOCK>;
  for (var k0 = kBegin; k0 < kEnd; k0 = k0 + TILE_K) {
    // k fastest: consecutive threads read consecutive addresses of a feature row.
    for (var e = flat; e < tile * TILE_K; e = e + WG_SIDE * WG_SIDE) {
      // Slices are whole multiples of TILE_K, so a step never reaches into the next slice.
      let r = e / TILE_K;
      let kk = e % TILE_K;
      let k = k0 + kk;
      sliceA[kk * tile + r] = feature(base, rowBase + r, k);
      sliceB[kk * tile + r] = feature(base, colBase + r, k);
    }
    workgroupBarrier();
    multiplySlices(&acc, lid);
    workgroupBarrier();
  }

  let outBase = (slice * params.batch + image) * c * c;
  for (var r = 0u; r < THREAD_TILE; r = r + 1u) {
    for (var s = 0u; s < THREAD_TILE; s = s + 1u) {
      let i = rowBase + lid.y + r * WG_SIDE;
      let j = colBase + lid.x + s * WG_SIDE;
      if (i < c && j < c) {
        let v = acc[r * THREAD_TILE + s] * params.scale;
        out[outBase + i * c + j] = v;
        if (tileRow != tileCol) {
          out[outBase + j * c + i] = v;
        }
      }
    }
  }
}

// G[n][i][j] = Σ over slices of the partial products (already scaled).
@compute @workgroup_size(WG_SIDE * WG_SIDE)
fn sumSlices(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG_SIDE * WG_SIDE;
  let total = params.batch * params.channels * params.channels;
  if (i >= total) { return; }
  var sum = 0.0;
  for (var slice = 0u; slice < params.slices; slice = slice + 1u) {
    sum = sum + gradGram[slice * total + i];
  }
  out[i] = sum;
}

// dF[i][k] = scale · Σ_j (dG[i][j] + dG[j][i]) · F[j][k]; output tiles are rows i × columns k.
@compute @workgroup_size(WG_SIDE, WG_SIDE)
fn inputGrad(@builtin(local_invocation_id) lid3: vec3u, @builtin(local_invocation_index) flat: u32,
             @builtin(workgroup_id) wid: vec3u) {
  let lid = lid3.xy;
  let tile = tileSize();
  let c = params.channels;
  let k = params.reduction;
  let image = wid.z;
  let featureBase = image * c * k;
  let gramBase = image * c * c;
  let rowBase = wid.y * tile;
  let colBase = wid.x * tile;

  var acc: array<f32, BLOCK>;
  for (var j0 = 0u; j0 < c; j0 = j0 + TILE_K) {
    for (var e = flat; e < tile * TILE_K; e = e + WG_SIDE * WG_SIDE) {
      // sliceA[jj][r] = S[rowBase + r][j0 + jj], jj fastest (dG rows are read along j).
      let r = e / TILE_K;
      let jj = e % TILE_K;
      sliceA[jj * tile + r] = symmetricGrad(gramBase, rowBase + r, j0 + jj);
      // sliceB[jj][col] = F[j0 + jj][colBase + col], col fastest (feature rows are read along k).
      let jb = e / tile;
      let col = e % tile;
      sliceB[jb * tile + col] = feature(featureBase, j0 + jb, colBase + col);
    }
    workgroupBarrier();
    multiplySlices(&acc, lid);
    workgroupBarrier();
  }

  for (var r = 0u; r < THREAD_TILE; r = r + 1u) {
    for (var s = 0u; s < THREAD_TILE; s = s + 1u) {
      let i = rowBase + lid.y + r * WG_SIDE;
      let col = colBase + lid.x + s * WG_SIDE;
      if (i < c && col < k) {
        out[featureBase + i * k + col] = acc[r * THREAD_TILE + s] * params.scale;
      }
    }
  }
}

// ---------------------------------------------------------------- register-blocked entry points

const REG: u32 = 8u;

// One thread per REG × REG block of G[n] on or above the diagonal (gid.z = image); off-diagonal blocks are
// written twice. Reads F rows 4 k at a time: acc[r][s] += dot(F[i_r][k..k+3], F[j_s][k..k+3]).
@compute @workgroup_size(WG_SIDE, WG_SIDE)
fn gramRegisters(@builtin(global_invocation_id) gid: vec3u) {
  let c = params.channels;
  let kLen = params.reduction;
  let blockRow = gid.y;
  let blockCol = gid.x;
  let row0 = blockRow * REG;
  let col0 = blockCol * REG;
  if (blockRow > blockCol || col0 >= c || gid.z >= params.batch) { return; }
  let base = gid.z * c * kLen;
  var rows: array<u32, REG>;
  var cols: array<u32, REG>;
  for (var t = 0u; t < REG; t++) {
    rows[t] = base + min(row0 + t, c - 1u) * kLen;
    cols[t] = base + min(col0 + t, c - 1u) * kLen;
  }
  var acc: array<array<f32, REG>, REG>;
  let k4End = kLen & ~3u;
  for (var k = 0u; k < k4End; k += 4u) {
    var b: array<vec4f, REG>;
    for (var t = 0u; t < REG; t++) {
      let at = cols[t] + k;
      b[t] = vec4f(x[at], x[at + 1u], x[at + 2u], x[at + 3u]);
    }
    for (var r = 0u; r < REG; r++) {
      let at = rows[r] + k;
      let a = vec4f(x[at], x[at + 1u], x[at + 2u], x[at + 3u]);
      for (var t = 0u; t < REG; t++) { acc[r][t] += dot(a, b[t]); }
    }
  }
  for (var k = k4End; k < kLen; k++) {
    for (var r = 0u; r < REG; r++) {
      let a = x[rows[r] + k];
      for (var t = 0u; t < REG; t++) { acc[r][t] = fma(a, x[cols[t] + k], acc[r][t]); }
    }
  }
  let outBase = gid.z * c * c;
  for (var r = 0u; r < REG; r++) {
    let i = row0 + r;
    if (i >= c) { break; }
    for (var t = 0u; t < REG; t++) {
      let j = col0 + t;
      if (j >= c) { break; }
      let v = acc[r][t] * params.scale;
      out[outBase + i * c + j] = v;
      out[outBase + j * c + i] = v;
    }
  }
}

// One thread per REG rows i × REG columns k of dF[n] (gid.z = image):
// dF[i][k] = scale · Σ_j (dG[i][j] + dG[j][i]) · F[j][k].
@compute @workgroup_size(WG_SIDE, WG_SIDE)
fn inputGradRegisters(@builtin(global_invocation_id) gid: vec3u) {
  let c = params.channels;
  let kLen = params.reduction;
  let row0 = gid.y * REG;
  let col0 = gid.x * REG;
  if (row0 >= c || col0 >= kLen || gid.z >= params.batch) { return; }
  let featureBase = gid.z * c * kLen;
  let gramBase = gid.z * c * c;
  var rows: array<u32, REG>;
  var cols: array<u32, REG>;
  for (var t = 0u; t < REG; t++) {
    rows[t] = min(row0 + t, c - 1u);
    cols[t] = min(col0 + t, kLen - 1u);
  }
  var acc: array<array<f32, REG>, REG>;
  for (var j = 0u; j < c; j++) {
    let fRow = featureBase + j * kLen;
    var b: array<f32, REG>;
    for (var t = 0u; t < REG; t++) { b[t] = x[fRow + cols[t]]; }
    for (var r = 0u; r < REG; r++) {
      let sym = gradGram[gramBase + rows[r] * c + j] + gradGram[gramBase + j * c + rows[r]];
      for (var t = 0u; t < REG; t++) { acc[r][t] = fma(sym, b[t], acc[r][t]); }
    }
  }
  for (var r = 0u; r < REG; r++) {
    let i = row0 + r;
    if (i >= c) { break; }
    for (var t = 0u; t < REG; t++) {
      let k = col0 + t;
      if (k >= kLen) { break; }
      out[featureBase + i * kLen + k] = acc[r][t] * params.scale;
    }
  }
}
