// Spatial padding and cropping of NCHW tensors, seen as `planes` = N·C planes of H×W.
//
// window:       out[p, oy, ox] = in[p, map(oy − top), map(ox − left)]
//               top/left may be negative (a crop); MODE says what lies outside the input:
//               0 zeros, 1 reflect (edge not repeated, as PyTorch's ReflectionPad2d), 2 replicate.
//               Also the backward of a crop (zeros mode with the crop offsets, into the input size).
// padBackward:  dx[p, iy, ix] = Σ dy[p, oy, ox] over the output positions whose source is (iy, ix)
//               (reflect and replicate pads; a gather, so no atomics and a fixed summation order).

override WORKGROUP_SIZE: u32 = 256u;
override MODE: u32 = 0u;

const MODE_ZEROS: u32 = 0u;
const MODE_REFLECT: u32 = 1u;

struct Params {
  planes: u32,
  // input size (window: the tensor read; padBackward: the gradient written)
  h: u32,
  w: u32,
  // output size (window: written; padBackward: the padded gradient read)
  ho: u32,
  wo: u32,
  bottom: u32,
  right: u32,
  top: i32,
  left: i32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn linearIndex(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
}

// Source index of i along an axis of n elements, or -1 when it reads zero.
fn sourceIndex(i: i32, n: i32) -> i32 {
  if (i >= 0 && i < n) { return i; }
  if (MODE == MODE_ZEROS) { return -1; }
  if (MODE == MODE_REFLECT) {
    var r = i;
    if (r < 0) { r = -r; }
    if (r >= n) { r = 2 * (n - 1) - r; }
    return clamp(r, 0, n - 1);
  }
  return clamp(i, 0, n - 1);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn window(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linearIndex(gid, nwg);
  let planeSize = params.ho * params.wo;
  if (i >= params.planes * planeSize) { return; }
  let p = i / planeSize;
  let r = i - p * planeSize;
  let oy = i32(r / params.wo);
  let ox = i32(r % params.wo);
  let sy = sourceIndex(oy - params.top, i32(params.h));
  let sx = sourceIndex(ox - params.left, i32(params.w));
  var v = 0.0;
  if (sy >= 0 && sx >= 0) {
    v = src[p * params.h * params.w + u32(sy) * params.w + u32(sx)];
  }
  dst[i] = v;
}

// The k-th output position (along one axis) that may read input index i: k = 0 is the direct one, the
// others walk the border (before: [0, before), after: [before + n, before + n + after)).
fn candidate(k: i32, i: i32, before: i32, n: i32) -> i32 {
  if (k == 0) { return i + before; }
  if (k - 1 < before) { return k - 1; }
  return n + k - 1;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn padBackward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linearIndex(gid, nwg);
  let planeSize = params.h * params.w;
  if (i >= params.planes * planeSize) { return; }
  let p = i / planeSize;
  let r = i - p * planeSize;
  let iy = i32(r / params.w);
  let ix = i32(r % params.w);
  let h = i32(params.h);
  let w = i32(params.w);
  let top = params.top;
  let left = params.left;
  let ky = 1 + top + i32(params.bottom);
  let kx = 1 + left + i32(params.right);
  let base = p * params.ho * params.wo;
  var sum = 0.0;
  for (var a = 0; a < ky; a++) {
    let oy = candidate(a, iy, top, h);
    if (a > 0 && sourceIndex(oy - top, h) != iy) { continue; }
    for (var b = 0; b < kx; b++) {
      let ox = candidate(b, ix, left, w);
      if (b > 0 && sourceIndex(ox - left, w) != ix) { continue; }
      sum += src[base + u32(oy) * params.wo + u32(ox)];
    }
  }
  dst[i] = sum;
}
