// Folds the gradient w.r.t. the padded, upsampled input [N, C, Hp, Wp] back onto x [N, C, H, W]: each input
// pixel sums every padded position that reads it: its upsample×upsample copies (one position with zero
// insertion), and for reflect padding their mirror images in the border. One thread per input element (a gather: no atomics, deterministic).
//
// Bindings: 0 = params, 1 = paddedGrad, 2 = out (dx).
//
// Params, PAD_REFLECT and sourceCoord come from conv2d_common.wgsl and conv2d_source_coord.wgsl (prefixed
// by src/ops/conv2d.ts).

override WORKGROUP_SIZE: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> paddedGrad: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// The padded coordinates (at most three) whose source is upsampled coordinate u, -1 where there is none:
// u itself, its mirror in the leading border and its mirror in the trailing border. The conditions make
// them distinct, so nothing is counted twice.
fn paddedPositions(u: i32, upExtent: i32, pad: i32) -> vec3i {
  var p = vec3i(u + pad, -1, -1);
  if (params.padMode == PAD_REFLECT) {
    if (u >= 1 && u <= pad) { p.y = pad - u; }
    if (u <= upExtent - 2 && u >= upExtent - 1 - pad) { p.z = 2 * (upExtent - 1) + pad - u; }
  }
  return p;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
  if (i >= params.total) { return; }
  let x = i % params.inWidth;
  let y = (i / params.inWidth) % params.inHeight;
  let plane = i / (params.inWidth * params.inHeight);
  let base = plane * params.paddedHeight * params.paddedWidth;
  let pad = i32(params.pad);
  var acc = 0.0;
  let upsample = 1u << params.upsampleShift;
  let copies = select(upsample, 1u, params.upsampleZeros != 0u);
  for (var uy = 0u; uy < copies; uy++) {
    let rows = paddedPositions(i32(y * upsample + uy), i32(params.upHeight), pad);
    for (var ux = 0u; ux < copies; ux++) {
      let cols = paddedPositions(i32(x * upsample + ux), i32(params.upWidth), pad);
      for (var a = 0; a < 3; a++) {
        if (rows[a] < 0) { continue; }
        for (var b = 0; b < 3; b++) {
          if (cols[b] < 0) { continue; }
          acc += paddedGrad[base + u32(rows[a]) * params.paddedWidth + u32(cols[b])];
        }
      }
    }
  }
  out[i] = acc;
}
