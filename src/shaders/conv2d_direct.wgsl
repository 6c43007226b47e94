// conv2d, direct variant: one thread per output element and plain loops. It is the readable GPU reference
// the tiled kernels are tested and benchmarked against, not the fast path.
//
// Geometry: see conv2d_common.wgsl. Only KSIZE is a pipeline constant; stride, upsampling, padding mode and bias are uniforms, so
// that one layer shape does not compile a pipeline per combination (compiles are slow on software GPUs).
//
// Entry points and bindings (binding 0 is the params uniform):
//   forward:           in0 = x,  in1 = weight, in2 = bias (read if hasBias) -> out = y
//   paddedInputGrad:   in0 = dy, in1 = weight                      -> out = d(padded, upsampled x) [N, Cin, Hp, Wp]
//   weightGrad:        in0 = dy, in1 = x                           -> out = dweight
//
// Params, PAD_REFLECT and sourceCoord come from conv2d_common.wgsl and conv2d_source_coord.wgsl (prefixed
// by src/ops/conv2d.ts).

override WORKGROUP_SIZE: u32 = 256u;
override KSIZE: u32 = 3u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read> in1: array<f32>;
@group(0) @binding(3) var<storage, read> in2: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn linearIndex(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linearIndex(gid, nwg);
  if (i >= params.total) { return; }
  let ox = i % params.outWidth;
  let oy = (i / params.outWidth) % params.outHeight;
  let co = (i / (params.outWidth * params.outHeight)) % params.outChannels;
  let n = i / (params.outWidth * params.outHeight * params.outChannels);
  let pad = i32(params.pad);
  var acc = 0.0;
  if (params.hasBias != 0u) { acc = in2[co]; }
  for (var ci = 0u; ci < params.inChannels; ci++) {
    let xPlane = (n * params.inChannels + ci) * params.inHeight;
    let wPlane = (co * params.inChannels + ci) * KSIZE;
    for (var ky = 0u; ky < KSIZE; ky++) {
      let sy = sourceCoord(i32((oy << params.strideShift) + ky) - pad, i32(params.upHeight));
      if (sy < 0) { continue; }
      for (var kx = 0u; kx < KSIZE; kx++) {
        let sx = sourceCoord(i32((ox << params.strideShift) + kx) - pad, i32(params.upWidth));
        if (sx < 0) { continue; }
        acc += in0[(xPlane + u32(sy)) * params.inWidth + u32(sx)] * in1[(wPlane + ky) * KSIZE + kx];
      }
    }
  }
  out[i] = acc;
}

// Gradient w.r.t. the padded, upsampled input: padded position (yp, xp) met output (oy, ox) through tap
// (ky, kx) when oy·stride + ky = yp. conv2d_fold.wgsl then folds it back onto x.
@compute @workgroup_size(WORKGROUP_SIZE)
fn paddedInputGrad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linearIndex(gid, nwg);
  if (i >= params.total) { return; }
  let xp = i % params.paddedWidth;
  let yp = (i / params.paddedWidth) % params.paddedHeight;
  let ci = (i / (params.paddedWidth * params.paddedHeight)) % params.inChannels;
  let n = i / (params.paddedWidth * params.paddedHeight * params.inChannels);
  let strideMask = (1u << params.strideShift) - 1u;
  var acc = 0.0;
  for (var co = 0u; co < params.outChannels; co++) {
    let dyPlane = (n * params.outChannels + co) * params.outHeight;
    let wPlane = (co * params.inChannels + ci) * KSIZE;
    for (var ky = 0u; ky < KSIZE; ky++) {
      if (yp < ky || ((yp - ky) & strideMask) != 0u) { continue; }
      let oy = (yp - ky) >> params.strideShift;
      if (oy >= params.outHeight) { continue; }
      for (var kx = 0u; kx < KSIZE; kx++) {
        if (xp < kx || ((xp - kx) & strideMask) != 0u) { continue; }
        let ox = (xp - kx) >> params.strideShift;
        if (ox >= params.outWidth) { continue; }
        acc += in0[(dyPlane + oy) * params.outWidth + ox] * in1[(wPlane + ky) * KSIZE + kx];
      }
    }
  }
  out[i] = acc;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn weightGrad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linearIndex(gid, nwg);
  if (i >= params.total) { return; }
  let kx = i % KSIZE;
  let ky = (i / KSIZE) % KSIZE;
  let ci = (i / (KSIZE * KSIZE)) % params.inChannels;
  let co = i / (KSIZE * KSIZE * params.inChannels);
  let pad = i32(params.pad);
  var acc = 0.0;
  for (var n = 0u; n < params.batch; n++) {
    let dyPlane = (n * params.outChannels + co) * params.outHeight;
    let xPlane = (n * params.inChannels + ci) * params.inHeight;
    for (var oy = 0u; oy < params.outHeight; oy++) {
      let sy = sourceCoord(i32((oy << params.strideShift) + ky) - pad, i32(params.upHeight));
      if (sy < 0) { continue; }
      for (var ox = 0u; ox < params.outWidth; ox++) {
        let sx = sourceCoord(i32((ox << params.strideShift) + kx) - pad, i32(params.upWidth));
        if (sx < 0) { continue; }
        acc += in0[(dyPlane + oy) * params.outWidth + ox] * in1[(xPlane + u32(sy)) * params.inWidth + u32(sx)];
      }
    }
  }
  out[i] = acc;
}
