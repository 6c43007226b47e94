// 8-bit RGBA pixels <-> one f32 image of an [N, 3, H, W] tensor. A pixel is one u32 word: its bytes R, G, B, A
// in memory order, so R is the low byte (WebGPU buffers are little-endian). One thread per pixel.
//
//   decode:  pixelsIn (u32 per pixel)  -> tensorOut[base + c * pixels + p] = (byte_c * scale - mean[c]) / std[c]
//   encode:  tensorIn[base + c * pixels + p] -> pixelsOut: round((v * std[c] + mean[c]) / scale) clamped to
//            0..255, alpha 255
//
// The two entry points use distinct bindings (1-2 and 3-4) so that no binding changes type between them.

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  pixels: u32,     // H * W
  base: u32,       // index of the image's first element in the tensor: index * 3 * H * W
  pad0: u32,
  pad1: u32,
  mean: vec4f,     // per channel (w unused)
  stdDev: vec4f,
  scale: f32,      // byte -> value before normalisation (1, or 1/255 for torchvision's convention)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> pixelsIn: array<u32>;
@group(0) @binding(2) var<storage, read_write> tensorOut: array<f32>;
@group(0) @binding(3) var<storage, read> tensorIn: array<f32>;
@group(0) @binding(4) var<storage, read_write> pixelsOut: array<u32>;

fn pixelIndex(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn decode(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let p = pixelIndex(gid, nwg);
  if (p >= params.pixels) { return; }
  let word = pixelsIn[p];
  for (var c = 0u; c < 3u; c++) {
    let byte = f32((word >> (8u * c)) & 0xffu);
    tensorOut[params.base + c * params.pixels + p] = (byte * params.scale - params.mean[c]) / params.stdDev[c];
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn encode(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let p = pixelIndex(gid, nwg);
  if (p >= params.pixels) { return; }
  var word = 0xff000000u;
  for (var c = 0u; c < 3u; c++) {
    let v = tensorIn[params.base + c * params.pixels + p];
    // NaN compares false both ways and would survive clamp on some drivers: map it to 0 first.
    let safe = select(0.0, v, v == v);
    let byte = clamp(round((safe * params.stdDev[c] + params.mean[c]) / params.scale), 0.0, 255.0);
    word = word | (u32(byte) << (8u * c));
  }
  pixelsOut[p] = word;
}
