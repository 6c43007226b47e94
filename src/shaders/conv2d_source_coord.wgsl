// The padding/upsampling index map of every conv2d shader (src/ops/conv2d.ts and conv2d-winograd.ts prefix
// it): needs `params.padMode`, `params.upsampleShift` and `params.upsampleZeros` in the shader's own Params.

const PAD_REFLECT: u32 = 1u;

// Maps a coordinate of the padded image (minus pad) to the input row/column it reads, or -1 for a zero pad.
// Reflection needs pad < upExtent, so one reflection always lands inside. Zero-insertion upsampling (the
// transposed conv as a conv over the dilated input) reads x only at multiples of the factor, zero between.
fn sourceCoord(c: i32, upExtent: i32) -> i32 {
  var r = c;
  if (params.padMode == PAD_REFLECT) {
    if (r < 0) { r = -r; }
    if (r >= upExtent) { r = 2 * (upExtent - 1) - r; }
  } else if (r < 0 || r >= upExtent) {
    return -1;
  }
  let source = r >> params.upsampleShift;
  if (params.upsampleZeros != 0u && (source << params.upsampleShift) != r) {
    return -1;
  }
  return source;
}
