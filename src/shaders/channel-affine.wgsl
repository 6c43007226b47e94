// y[n, c, h, w] = scale[c] · x[n, c, h, w] + shift[c] for up to 16 channels held in the uniform.
// The backward is the same kernel with shift = 0 (dx = scale[c] · dy).

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  n: u32,
  channels: u32,
  planeSize: u32,
  unused: u32,
  // 16 per-channel values each, packed 4 to a vec4 (uniform arrays need a 16-byte stride).
  scale: array<vec4f, 4>,
  shift: array<vec4f, 4>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
  if (i >= params.n) { return; }
  let c = (i / params.planeSize) % params.channels;
  y[i] = params.scale[c / 4u][c % 4u] * x[i] + params.shift[c / 4u][c % 4u];
}
