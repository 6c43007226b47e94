// One Adam step, in place, in the order and form of PyTorch's torch.optim.Adam (single-tensor path):
//   g  = grad + weightDecay * p                     (L2, added to the gradient)
//   m  = m + (1 - beta1) * (g - m)                  (exp_avg.lerp_)
//   v  = beta2 * v + (1 - beta2) * g * g            (exp_avg_sq.mul_().addcmul_())
//   p  = p - stepSize * m / (sqrt(v) / bc2Sqrt + eps)
// with stepSize = lr / (1 - beta1^t) and bc2Sqrt = sqrt(1 - beta2^t), computed on the host in float64.

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  n: u32,
  oneMinusBeta1: f32,
  beta2: f32,
  oneMinusBeta2: f32,
  stepSize: f32,
  bc2Sqrt: f32,
  eps: f32,
  weightDecay: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn step(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WORKGROUP_SIZE;
  if (i >= params.n) { return; }
  let p = param[i];
  let g = grad[i] + params.weightDecay * p;
  let mi = m[i] + params.oneMinusBeta1 * (g - m[i]);
  let vi = params.beta2 * v[i] + params.oneMinusBeta2 * (g * g);
  m[i] = mi;
  v[i] = vi;
  param[i] = p - params.stepSize * (mi / (sqrt(vi) / params.bc2Sqrt + params.eps));
}
