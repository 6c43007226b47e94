// Reductions of the conv2d backward pass.
//
// Entry points and bindings (binding 0 is the params uniform):
//   biasGrad:  in0 = dy [N, Cout, Ho, Wo] -> out [Cout]; one workgroup per channel, tree reduction.
//   sumSplits: in0 = partial sums [SPLITS, total] (split-K weight gradient) -> out [total].

override WORKGROUP_SIZE: u32 = 256u;

// Same layout as conv2d_direct.wgsl's Params (one packing for every conv2d kernel).
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
}

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
