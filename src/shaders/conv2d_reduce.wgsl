// Reductions of the conv2d backward pass.
//
// Entry points and bindings (binding 0 is the params uniform):
//   biasGrad:  in0 = dy [N, Cout, Ho, Wo] -> out [Cout]; one workgroup per channel, tree reduction.
//   sumSplits: in0 = partial sums [SPLITS, total] (split-K weight gradient) -> out [total].
//
// Params, PAD_REFLECT and sourceCoord come from conv2d_common.wgsl and conv2d_source_coord.wgsl (prefixed
// by src/ops/conv2d.ts).

override WORKGROUP_SIZE: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn biasGrad(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let co = wid.x;
  let plane = params.outHeight * params.outWidth;
  var acc = 0.0;
  for (var n = 0u; n < params.batch; n++) {
    let base = (n * params.outChannels + co) * plane;
    for (var p = lid; p < plane; p += WORKGROUP_SIZE) {
      acc += in0[base + p];
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var half = WORKGROUP_SIZE / 2u; half > 0u; half /= 2u) {
    if (lid < half) { partial[lid] += partial[lid + half]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[co] = partial[0]; }
}

// params.reduceChunk = number of splits.
@compute @workgroup_size(WORKGROUP_SIZE)
fn sumSplits(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
  if (i >= params.total) { return; }
  var acc = 0.0;
  for (var s = 0u; s < params.reduceChunk; s++) {
    acc += in0[s * params.total + i];
  }
  out[i] = acc;
}
