// conv2d forward for at most 4 output channels (the transform net's 32→3 output layer, whose GEMM has too few
// rows for any tile): one thread computes PIXELS horizontally adjacent output pixels, all of their output
// channels (a vec4 accumulator per pixel), so that each input tap is read once for all channels (the direct
// kernel reads it once per channel) and each weight vec4 once for PIXELS pixels. Taps are the outer loops and
// input channels the inner one: the padding/reflection/upsampling index map is resolved once per tap, and the
// inner loop only steps the input index by a channel plane and the weight index by K².
//
// Geometry and Params as in conv2d_direct.wgsl. Bindings: 0 = params, 1 = x, 2 = weight [Cout ≤ 4, Cin, K, K],
// 3 = bias (read if hasBias; statically used), 4 = y. params.total = N·Ho·⌈Wo / PIXELS⌉ (threads).
//
// `weightGrad`: the weight gradient of the same layers (Cout ≤ 4, K ≤ MAX_KSIZE), split-K over output rows:
// one thread per (split, ci, ky) sums, over its chunk of params.reduceChunk rows (n, oy), all K taps kx of
// all output channels: acc[kx] += x̂[n, ci, oy·S + ky, ox·S + kx] · dy[n, 0…3, oy, ox] — each dy vec4 is read
// once for K taps, each tap's index map resolved once for all channels. Bindings: 1 = x, 2 = dy, 4 = partial
// sums [splits, Cout, Cin, K, K] (conv2d_reduce.wgsl sumSplits adds them up); params.total = splits·Cin·K.
//
// Params, PAD_REFLECT and sourceCoord come from conv2d_common.wgsl and conv2d_source_coord.wgsl (prefixed
// by src/ops/conv2d.ts).

override WORKGROUP_SIZE: u32 = 64u;
override KSIZE: u32 = 9u;
// Output pixels per thread (at most MAX_PIXELS).
override PIXELS: u32 = 4u;

const MAX_COUT: u32 = 4u;
const MAX_PIXELS: u32 = 4u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
  if (i >= params.total) { return; }
  let groupsPerRow = (params.outWidth + PIXELS - 1u) / PIXELS;
  let row = i / groupsPerRow;
  let ox0 = (i - row * groupsPerRow) * PIXELS;
  let n = row / params.outHeight;
  let oy = row - n * params.outHeight;
  let cout = params.outChannels;
  let inPlane = params.inHeight * params.inWidth;
  let xImage = n * params.inChannels * inPlane;
  // Weight offsets of output channels 1…3 from channel 0; channels past Cout re-read channel 0 (in bounds),
  // and their sums are never stored.
  let perChannel = params.inChannels * KSIZE * KSIZE;
  let w1 = min(1u, cout - 1u) * perChannel;
  let w2 = min(2u, cout - 1u) * perChannel;
  let w3 = min(3u, cout - 1u) * perChannel;

  var acc: array<vec4f, MAX_PIXELS>;
  let y0 = i32(oy << params.strideShift) - i32(params.pad);
  for (var ky = 0u; ky < KSIZE; ky++) {
    let sy = sourceCoord(y0 + i32(ky), i32(params.upHeight));
    if (sy < 0) { continue; }
    let xRow = xImage + u32(sy) * params.inWidth;
    for (var kx = 0u; kx < KSIZE; kx++) {
      // Each pixel's input index for this tap; a zero pad (or a pixel past the row's end) multiplies by 0
      // while reading the row's first element, which is in bounds.
      var xi: array<u32, MAX_PIXELS>;
      var keep: array<f32, MAX_PIXELS>;
      for (var p = 0u; p < PIXELS; p++) {
        let sx = sourceCoord(i32((ox0 + p) << params.strideShift) - i32(params.pad) + i32(kx), i32(params.upWidth));
        let inside = sx >= 0 && ox0 + p < params.outWidth;
        xi[p] = xRow + select(0u, u32(sx), inside);
        keep[p] = select(0.0, 1.0, inside);
      }
      var wi = ky * KSIZE + kx;
      for (var ci = 0u; ci < params.inChannels; ci++) {
        let w = vec4f(weight[wi], weight[wi + w1], weight[wi + w2], weight[wi + w3]);
        for (var p = 0u; p < PIXELS; p++) {
          acc[p] += (keep[p] * x[xi[p]]) * w;
          xi[p] += inPlane;
        }
        wi += KSIZE * KSIZE;
      }
    }
  }
  let plane = params.outHeight * params.outWidth;
  for (var p = 0u; p < PIXELS; p++) {
    if (ox0 + p >= params.outWidth) { break; }
    for (var c = 0u; c < min(cout, MAX_COUT); c++) {
      var v = acc[p][c];
      if (params.hasBias != 0u) { v += bias[c]; }
      y[(n * cout + c) * plane + oy * params.outWidth + ox0 + p] = v;
    }
  }
}

const MAX_KSIZE: u32 = 9u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn weightGrad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
  if (i >= params.total) { return; }
  let perSplit = params.inChannels * KSIZE;
  let split = i / perSplit;
  let r = i - split * perSplit;
  let ci = r / KSIZE;
  let ky = r - ci * KSIZE;
  let rows = params.batch * params.outHeight;
  let rowBegin = split * params.reduceChunk;
  let rowEnd = min(rowBegin + params.reduceChunk, rows);
  let cout = params.outChannels;
  let plane = params.outHeight * params.outWidth;
  // dy offsets of output channels 1…3 from channel 0; channels past Cout re-read channel 0 (their sums are
  // never stored).
  let c1 = min(1u, cout - 1u) * plane;
  let c2 = min(2u, cout - 1u) * plane;
  let c3 = min(3u, cout - 1u) * plane;

  var acc: array<vec4f, MAX_KSIZE>;
  for (var row = rowBegin; row < rowEnd; row++) {
    let n = row / params.outHeight;
    let oy = row - n * params.outHeight;
    let sy = sourceCoord(i32(oy << params.strideShift) - i32(params.pad) + i32(ky), i32(params.upHeight));
    if (sy < 0) { continue; }
    let xRow = ((n * params.inChannels + ci) * params.inHeight + u32(sy)) * params.inWidth;
    let dyRow = n * cout * plane + oy * params.outWidth;
    for (var ox = 0u; ox < params.outWidth; ox++) {
      let d = dyRow + ox;
      // Binding 2 (`weight` in the forward pass) holds dy here.
      let dv = vec4f(weight[d], weight[d + c1], weight[d + c2], weight[d + c3]);
      let x0 = i32(ox << params.strideShift) - i32(params.pad);
      for (var kx = 0u; kx < KSIZE; kx++) {
        let sx = sourceCoord(x0 + i32(kx), i32(params.upWidth));
        if (sx >= 0) { acc[kx] += x[xRow + u32(sx)] * dv; }
      }
    }
  }
  let size = cout * params.inChannels * KSIZE * KSIZE;
  for (var kx = 0u; kx < KSIZE; kx++) {
    for (var c = 0u; c < min(cout, MAX_COUT); c++) {
      y[split * size + ((c * params.inChannels + ci) * KSIZE + ky) * KSIZE + kx] = acc[kx][c];
    }
  }
}
