// Element-wise kernels over flat f32 arrays. OP picks the function; being a pipeline-overridable constant,
// each op gets its own pipeline with the branch folded away.
//
// Entry points and bindings (binding 0 is always the params uniform):
//   unary:          in0 = x                  -> out
//   unaryBackward:  in0 = saved (x or y), in1 = dy -> out = dx
//   binary:         in0 = a, in1 = b         -> out

override WORKGROUP_SIZE: u32 = 256u;
override OP: u32 = 0u;

// unary
const OP_RELU: u32 = 0u;          // max(x, 0)
const OP_SCALED_TANH: u32 = 1u;   // alpha * tanh(x) + beta
const OP_SCALE: u32 = 2u;         // alpha * x + beta
// unaryBackward
const OP_RELU_BACKWARD: u32 = 10u;        // saved = y
const OP_SCALED_TANH_BACKWARD: u32 = 11u; // saved = x
// binary
const OP_ADD: u32 = 20u;          // alpha * a + beta * b
const OP_MUL: u32 = 21u;          // a * b

struct Params {
  n: u32,
  alpha: f32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read> in1: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn linearIndex(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
}

// tanh(x) for large |x| overflows exp() in some drivers' tanh; clamp where tanh is already ±1 in f32.
fn safeTanh(x: f32) -> f32 {
  return tanh(clamp(x, -15.0, 15.0));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn unary(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linearIndex(gid, nwg);
  if (i >= params.n) { return; }
  let x = in0[i];
  var y: f32;
  switch OP {
    case OP_RELU: { y = max(x, 0.0); }
    case OP_SCALED_TANH: { y = params.alpha * safeTanh(x) + params.beta; }
    default: { y = params.alpha * x + params.beta; }
  }
  out[i] = y;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn unaryBackward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linearIndex(gid, nwg);
  if (i >= params.n) { return; }
  let s = in0[i];
  let dy = in1[i];
  var dx: f32;
  switch OP {
    case OP_RELU_BACKWARD: { dx = select(0.0, dy, s > 0.0); }
    default: {
      let t = safeTanh(s);
      dx = dy * params.alpha * (1.0 - t * t);
    }
  }
  out[i] = dx;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn binary(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linearIndex(gid, nwg);
  if (i >= params.n) { return; }
  let a = in0[i];
  let b = in1[i];
  var y: f32;
  switch OP {
    case OP_MUL: { y = a * b; }
    default: { y = params.alpha * a + params.beta * b; }
  }
  out[i] = y;
}
