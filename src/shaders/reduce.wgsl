// Deterministic sums of whole tensors to one value, without float atomics.
//
// Each workgroup sums a contiguous block of WORKGROUP_SIZE * ITEMS_PER_THREAD terms: every thread adds
// ITEMS_PER_THREAD of them (strided by WORKGROUP_SIZE, so neighbouring threads read neighbouring words), then a
// tree in workgroup memory adds the threads' sums, and thread 0 writes the block's sum, times params.scale,
// to out[block]. The host repeats sumValues over the block sums until one value is left (the last pass
// carries the real scale, e.g. 1/n for a mean). The order of additions depends only on n: same input, same
// bits.
//
// Entry points (binding 0 is always the params uniform):
//   sum:        the block sums of term(i), one pipeline per TERM:
//     TERM_VALUES               in0[i]
//     TERM_SQUARED_DIFFERENCES  (in0[i] - in1[i])^2
//     TERM_TOTAL_VARIATION      weightH * (x[.., w+1] - x[.., w])^2 + weightV * (x[.., h+1, :] - x[.., h, :])^2,
//                               in0 = x viewed as planes of height x width
//     (in1 is bound for every TERM; only TERM_SQUARED_DIFFERENCES reads it)
//   broadcast:  out[i] = in0[0] * scale (the adjoint of a scaled sum: d(scale·Σx)/dx · upstream)

override WORKGROUP_SIZE: u32 = 256u;   // a power of two (the tree halves it)
override ITEMS_PER_THREAD: u32 = 8u;
override TERM: u32 = 0u;

const TERM_VALUES: u32 = 0u;
const TERM_SQUARED_DIFFERENCES: u32 = 1u;
const TERM_TOTAL_VARIATION: u32 = 2u;

struct Params {
  n: u32,          // terms to sum (broadcast: elements to write)
  blocks: u32,     // block sums to write (workgroups beyond it, from a folded 2-D grid, write nothing)
  width: u32,      // sumTotalVariation's plane geometry (1 elsewhere)
  height: u32,
  scale: f32,
  weightH: f32,    // 1 / number of horizontal differences (0 when width is 1)
  weightV: f32,    // 1 / number of vertical differences (0 when height is 1)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read> in1: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> threadSums: array<f32, WORKGROUP_SIZE>;

fn blockIndex(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x;
}

/** The k-th term index of thread `lid` in block `block`. */
fn termIndex(block: u32, lid: u32, k: u32) -> u32 {
  return (block * ITEMS_PER_THREAD + k) * WORKGROUP_SIZE + lid;
}

/** Adds the threads' sums of one workgroup in a fixed tree and writes the block's scaled sum. */
fn writeBlockSum(threadSum: f32, lid: u32, block: u32) {
  threadSums[lid] = threadSum;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      threadSums[lid] = threadSums[lid] + threadSums[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u && block < params.blocks) {
    out[block] = threadSums[0] * params.scale;
  }
}

fn totalVariationTerm(i: u32) -> f32 {
  let w = i % params.width;
  let h = (i / params.width) % params.height;
  let x = in0[i];
  var t = 0.0;
  if (w + 1u < params.width) {
    let d = in0[i + 1u] - x;
    t = t + params.weightH * d * d;
  }
  if (h + 1u < params.height) {
    let d = in0[i + params.width] - x;
    t = t + params.weightV * d * d;
  }
  return t;
}

fn term(i: u32) -> f32 {
  if (TERM == TERM_SQUARED_DIFFERENCES) {
    let d = in0[i] - in1[i];
    return d * d;
  }
  if (TERM == TERM_TOTAL_VARIATION) { return totalVariationTerm(i); }
  return in0[i];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn sum(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let block = blockIndex(wid, nwg);
  var s = 0.0;
  for (var k = 0u; k < ITEMS_PER_THREAD; k++) {
    let i = termIndex(block, lid, k);
    if (i < params.n) { s = s + term(i); }
  }
  writeBlockSum(s, lid, block);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn broadcast(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
  if (i >= params.n) { return; }
  out[i] = in0[0] * params.scale;
}
