// The weight of a transposed conv, [Cin, Cout, K, K], rearranged into the weight of the equivalent conv over
// the zero-inserted input, [Cout, Cin, K, K] with each K×K kernel rotated by 180°:
//   dst[b, a, ky, kx] = src[a, b, K−1−ky, K−1−kx]
// The map is its own inverse once the first two sizes are swapped, so the same entry point also turns the
// equivalent conv's weight gradient back into the transposed conv's (src/ops/conv2d-transpose.ts).
//
// Bindings: 0 = params, 1 = src [rows, cols, K, K], 2 = dst [cols, rows, K, K].

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  rows: u32,
  cols: u32,
  // K·K
  taps: u32,
  total: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
  if (i >= params.total) { return; }
  let tap = i % params.taps;
  let a = (i / params.taps) % params.rows;
  let b = i / (params.taps * params.rows);
  // Rotating a K×K kernel by 180° reverses its row-major tap order.
  dst[i] = src[(a * params.cols + b) * params.taps + (params.taps - 1u - tap)];
}
