// 2×2 max pooling, stride 2, floor: an odd last row or column is dropped (torchvision VGG's MaxPool2d(2, 2)).
//
// Entry points (binding 0 is the params uniform):
//   forward:   x -> out = y            one thread per output element
//   backward:  x, dy -> out = dx       one thread per input element; the argmax is recomputed from x
//
// Ties go to the first maximum in row-major window order, as in PyTorch.

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  elements: u32, // threads wanted: outputs (forward) or inputs (backward)
  height: u32, // input H and W
  width: u32,
  outHeight: u32, // floor(H / 2), floor(W / 2)
  outWidth: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn linearIndex(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
}

struct WindowMax {
  value: f32,
  /** Position in the window, 0..3 in row-major order. */
  slot: u32,
}

/** Max of the window at output (oy, ox) of `plane`; the first maximum wins ties. */
fn windowMax(plane: u32, oy: u32, ox: u32) -> WindowMax {
  let topLeft = (plane * params.height + 2u * oy) * params.width + 2u * ox;
  var best = WindowMax(x[topLeft], 0u);
  for (var slot = 1u; slot < 4u; slot = slot + 1u) {
    let v = x[topLeft + (slot / 2u) * params.width + slot % 2u];
    // Strict > keeps the earlier slot on ties.
    if (v > best.value) {
      best = WindowMax(v, slot);
    }
  }
  return best;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linearIndex(gid, nwg);
  if (i >= params.elements) { return; }
  let ox = i % params.outWidth;
  let oy = (i / params.outWidth) % params.outHeight;
  let plane = i / (params.outWidth * params.outHeight);
  out[i] = windowMax(plane, oy, ox).value;
}

// Each input element takes its window's gradient if it is that window's argmax, else 0 (also for the
// dropped last row/column). Gathering per input writes every dx element once: no zero-fill, no atomics.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linearIndex(gid, nwg);
  if (i >= params.elements) { return; }
  let ix = i % params.width;
  let iy = (i / params.width) % params.height;
  let plane = i / (params.width * params.height);
  let ox = ix / 2u;
  let oy = iy / 2u;
  var g = 0.0;
  if (ox < params.outWidth && oy < params.outHeight) {
    let slot = (iy % 2u) * 2u + ix % 2u;
    if (windowMax(plane, oy, ox).slot == slot) {
      g = dy[(plane * params.outHeight + oy) * params.outWidth + ox];
    }
  }
  out[i] = g;
}
