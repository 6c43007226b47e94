// Instance normalisation over NCHW planes (one plane = one (n, c) pair of H·W values).
//
// Forward:  computeStats (one workgroup per plane) -> normalizeInput (one thread per element).
// Backward: computePlaneSums (one workgroup per plane) -> inputGrad (one thread per element)
//           and affineGrads (one thread per channel, sums the planes of the batch).
//
// Bindings (binding 0 is the params uniform); each entry point uses a subset:
//   1 x, 2 dy, 3 gamma, 4 beta        read
//   5 stats      [planes][mean, inverse std]   written by `computeStats`, read by the rest
//   6 planeSums  [planes][Σ dy, Σ dy·x̂]         written by `computePlaneSums`
//   7 out        y, dx or dgamma
//   8 out2       dbeta

override WORKGROUP_SIZE: u32 = 256u; // a power of two: the tree reduction halves it

struct Params {
  elements: u32, // N·C·H·W
  planeSize: u32, // H·W
  channels: u32,
  planes: u32, // N·C
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<vec2f>;
@group(0) @binding(6) var<storage, read_write> planeSums: array<vec2f>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
@group(0) @binding(8) var<storage, read_write> out2: array<f32>;

var<workgroup> scratch: array<vec2f, WORKGROUP_SIZE>;

/** Sum of `v` over the workgroup, returned to every invocation. Call from uniform control flow. */
fn workgroupSum(lid: u32, v: vec2f) -> vec2f {
  scratch[lid] = v;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      scratch[lid] = scratch[lid] + scratch[lid + stride];
    }
    workgroupBarrier();
  }
  let total = scratch[0];
  // Nobody may overwrite scratch for a next reduction before everyone has read the total.
  workgroupBarrier();
  return total;
}

fn planeIndex(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x;
}

fn elementIndex(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
}

// Mean and inverse standard deviation (biased variance) of one plane. Two passes: a first estimate m0 of
// the mean, then Σ(x − m0) and Σ(x − m0)² over centred values. The first pass's rounding error in m0 is
// recovered by the correction Σ(x − m0)/n, and the variance never subtracts two large sums (pixels around
// 127 ± 1 keep their precision).
@compute @workgroup_size(WORKGROUP_SIZE)
fn computeStats(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                @builtin(num_workgroups) nwg: vec3u) {
  let plane = planeIndex(wid, nwg);
  if (plane >= params.planes) { return; }
  let n = params.planeSize;
  let base = plane * n;

  var s = 0.0;
  for (var i = lid; i < n; i = i + WORKGROUP_SIZE) {
    s = s + x[base + i];
  }
  let m0 = workgroupSum(lid, vec2f(s, 0.0)).x / f32(n);

  var centred = vec2f(0.0);
  for (var i = lid; i < n; i = i + WORKGROUP_SIZE) {
    let d = x[base + i] - m0;
    centred = centred + vec2f(d, d * d);
  }
  let sums = workgroupSum(lid, centred);
  if (lid == 0u) {
    let shift = sums.x / f32(n);
    let variance = max(sums.y / f32(n) - shift * shift, 0.0);
    stats[plane] = vec2f(m0 + shift, 1.0 / sqrt(variance + params.eps));
  }
}

// y = (x − mean)·invStd·gamma[c] + beta[c]
@compute @workgroup_size(WORKGROUP_SIZE)
fn normalizeInput(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = elementIndex(gid, nwg);
  if (i >= params.elements) { return; }
  let plane = i / params.planeSize;
  let c = plane % params.channels;
  let st = stats[plane];
  out[i] = (x[i] - st.x) * st.y * gamma[c] + beta[c];
}

// Per plane: Σ dy and Σ dy·x̂ (x̂ the normalised input), the two reductions of the backward pass.
@compute @workgroup_size(WORKGROUP_SIZE)
fn computePlaneSums(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                    @builtin(num_workgroups) nwg: vec3u) {
  let plane = planeIndex(wid, nwg);
  if (plane >= params.planes) { return; }
  let n = params.planeSize;
  let base = plane * n;
  let st = stats[plane];
  var acc = vec2f(0.0);
  for (var i = lid; i < n; i = i + WORKGROUP_SIZE) {
    let g = dy[base + i];
    let xhat = (x[base + i] - st.x) * st.y;
    acc = acc + vec2f(g, g * xhat);
  }
  let sums = workgroupSum(lid, acc);
  if (lid == 0u) {
    planeSums[plane] = sums;
  }
}

// dx = invStd·gamma[c]·(dy − mean(dy) − x̂·mean(dy·x̂))
@compute @workgroup_size(WORKGROUP_SIZE)
fn inputGrad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = elementIndex(gid, nwg);
  if (i >= params.elements) { return; }
  let plane = i / params.planeSize;
  let c = plane % params.channels;
  let st = stats[plane];
  let sums = planeSums[plane] / f32(params.planeSize);
  let xhat = (x[i] - st.x) * st.y;
  out[i] = st.y * gamma[c] * (dy[i] - sums.x - xhat * sums.y);
}

// dgamma[c] = Σ_n Σ dy·x̂ and dbeta[c] = Σ_n Σ dy over the planes of channel c.
@compute @workgroup_size(WORKGROUP_SIZE)
fn affineGrads(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= params.channels) { return; }
  var acc = vec2f(0.0);
  for (var plane = c; plane < params.planes; plane = plane + params.channels) {
    acc = acc + planeSums[plane];
  }
  out[c] = acc.y;
  out2[c] = acc.x;
}
