// Backward kernels of the scalar losses (their forwards are sums in reduce.wgsl). The upstream gradient is the
// [1] tensor `upstream`, read here on the GPU so that a training step never waits for a readback.
//
// Entry points (binding 0 is always the params uniform):
//   squaredDifferenceBackward:  in0 = a, in1 = b, upstream -> out = coef * upstream * (a - b)
//                               (coef = 2/n for d/da of mean((a-b)^2), -2/n for d/db)
//   totalVariationBackward:     in0 = x, upstream -> out = dx of weightH * Σ dH^2 + weightV * Σ dV^2

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  n: u32,
  width: u32,     // totalVariationBackward's plane geometry (x viewed as planes of height x width)
  height: u32,
  coef: f32,
  weightH: f32,
  weightV: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read> in1: array<f32>;
@group(0) @binding(3) var<storage, read> upstream: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn linearIndex(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn squaredDifferenceBackward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linearIndex(gid, nwg);
  if (i >= params.n) { return; }
  out[i] = params.coef * upstream[0] * (in0[i] - in1[i]);
}

// x[i] enters the difference to its right/lower neighbour with sign -1 and the one from its left/upper
// neighbour with sign +1: d/dx[i] Σ d^2 = 2 (x[i] - x[left]) - 2 (x[right] - x[i]), each where it exists.
@compute @workgroup_size(WORKGROUP_SIZE)
fn totalVariationBackward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linearIndex(gid, nwg);
  if (i >= params.n) { return; }
  let w = i % params.width;
  let h = (i / params.width) % params.height;
  let x = in0[i];
  var gh = 0.0;
  if (w > 0u) { gh = gh + (x - in0[i - 1u]); }
  if (w + 1u < params.width) { gh = gh - (in0[i + 1u] - x); }
  var gv = 0.0;
  if (h > 0u) { gv = gv + (x - in0[i - params.width]); }
  if (h + 1u < params.height) { gv = gv - (in0[i + params.width] - x); }
  out[i] = 2.0 * upstream[0] * (params.weightH * gh + params.weightV * gv);
}
