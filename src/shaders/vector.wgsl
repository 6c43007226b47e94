// Whole-vector reductions to one value for optimisers (L-BFGS): dot products and norms, in two passes with a
// fixed order of additions (no float atomics: same input, same bits).
//
// Pass 1 (`partial`): PARTIALS workgroups; thread t of workgroup g folds the terms g·WG + t, then every
// PARTIALS·WG further, into one value; a tree in workgroup memory combines the threads and out[g] gets it.
// Pass 2 (`finish`): one workgroup combines the params.n (= PARTIALS) values of pass 1 into out[0].
// `partial` binds in1 for every OP (the layout is made before OP folds the branch; it may alias in0);
// `finish` reads in0 only.
//
// `axpyScalars` (no reduction): out[i] = in0[i] + (c0 · scalar0[0] + c1 · scalar1[0]) · in1[i], the scalars
// being [1] results of earlier reductions still on the GPU (L-BFGS's two-loop recursion needs no readback).
//
// OP picks the term and how terms combine:
//   OP_DOT      in0[i] * in1[i], summed
//   OP_ABS_SUM  |in0[i]|, summed
//   OP_ABS_MAX  |in0[i]|, max (0 for an empty vector)

override WORKGROUP_SIZE: u32 = 256u;   // a power of two, ≥ PARTIALS
override PARTIALS: u32 = 64u;
override OP: u32 = 0u;

const OP_DOT: u32 = 0u;
const OP_ABS_SUM: u32 = 1u;
const OP_ABS_MAX: u32 = 2u;

struct Params {
  n: u32,
  c0: f32,   // axpyScalars only
  c1: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read> in1: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> scalar0: array<f32>;
@group(0) @binding(5) var<storage, read> scalar1: array<f32>;

var<workgroup> scratch: array<f32, WORKGROUP_SIZE>;

fn combine(a: f32, b: f32) -> f32 {
  if (OP == OP_ABS_MAX) {
    return max(a, b);
  }
  return a + b;
}

fn term(i: u32) -> f32 {
  if (OP == OP_DOT) {
    return in0[i] * in1[i];
  }
  return abs(in0[i]);
}

/** Combines the threads' values of one workgroup in a fixed tree; the result is in scratch[0]. */
fn tree(value: f32, lid: u32) {
  scratch[lid] = value;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      scratch[lid] = combine(scratch[lid], scratch[lid + stride]);
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn partial(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  var acc = 0.0;
  let step = PARTIALS * WORKGROUP_SIZE;
  for (var i = wid.x * WORKGROUP_SIZE + lid; i < params.n; i = i + step) {
    acc = combine(acc, term(i));
  }
  tree(acc, lid);
  if (lid == 0u) {
    out[wid.x] = scratch[0];
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn finish(@builtin(local_invocation_index) lid: u32) {
  var v = 0.0;
  if (lid < params.n) {
    v = in0[lid];
  }
  tree(v, lid);
  if (lid == 0u) {
    out[0] = scratch[0];
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn axpyScalars(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
  if (i >= params.n) {
    return;
  }
  let coef = params.c0 * scalar0[0] + params.c1 * scalar1[0];
  out[i] = in0[i] + coef * in1[i];
}
