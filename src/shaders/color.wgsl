// Colour preservation by luminance transfer (Gatys et al. 2016, "Preserving color in neural artistic style
// transfer"): the luma Y of the stylised image with the chroma (Cb, Cr) of the content, in BT.601 full-range
// YCbCr (JPEG's): Y = 0.299 R + 0.587 G + 0.114 B; Cb, Cr are linear in RGB with offsets 128.
//
// Converting both to YCbCr, swapping Y and converting back is, exactly, out_c = content_c + Y(styled) −
// Y(content) for each channel c (the inverse transform's Y column is (1, 1, 1) and the offsets cancel), which
// is what `forward` computes: fewer roundings than the round trip.
//
// Tensors are [N, 3, H, W]; one thread per pixel, plane = H·W.
//   forward:   in0 = styled, in1 = content                 -> out0
//   backward:  in0 = upstream g                             -> out0 = d/dstyled  (w_c · Σ g)
//                                                              out1 = d/dcontent (g_c − w_c · Σ g)

override WORKGROUP_SIZE: u32 = 256u;

const LUMA = vec3f(0.299, 0.587, 0.114);

struct Params {
  pixels: u32,   // N·H·W
  plane: u32,    // H·W
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read> in1: array<f32>;
@group(0) @binding(3) var<storage, read_write> out0: array<f32>;
@group(0) @binding(4) var<storage, read_write> out1: array<f32>;

/** Index of channel 0 of pixel p (p counts over N·H·W). */
fn base(p: u32) -> u32 {
  let n = p / params.plane;
  return n * 3u * params.plane + (p - n * params.plane);
}

fn rgb(buf: u32, i: u32) -> vec3f {
  let s = params.plane;
  if (buf == 0u) {
    return vec3f(in0[i], in0[i + s], in0[i + 2u * s]);
  }
  return vec3f(in1[i], in1[i + s], in1[i + 2u * s]);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let p = gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
  if (p >= params.pixels) {
    return;
  }
  let i = base(p);
  let styled = rgb(0u, i);
  let content = rgb(1u, i);
  let shift = dot(LUMA, styled) - dot(LUMA, content);
  let s = params.plane;
  out0[i] = content.x + shift;
  out0[i + s] = content.y + shift;
  out0[i + 2u * s] = content.z + shift;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let p = gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
  if (p >= params.pixels) {
    return;
  }
  let i = base(p);
  let s = params.plane;
  let g = vec3f(in0[i], in0[i + s], in0[i + 2u * s]);
  let total = g.x + g.y + g.z;
  let dStyled = LUMA * total;
  let dContent = g - dStyled;
  out0[i] = dStyled.x;
  out0[i + s] = dStyled.y;
  out0[i + 2u * s] = dStyled.z;
  out1[i] = dContent.x;
  out1[i + s] = dContent.y;
  out1[i + 2u * s] = dContent.z;
}
