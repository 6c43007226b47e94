// Helpers shared by the end-to-end cases and the peers: the transform net's weight names and shapes
// (pytorch/examples fast_neural_style naming), seeded random weights (src/ops/cpu.ts's mulberry32, so that every
// peer gets the same weights and inputs from a seed), and its FLOP count.
import { rng } from '../src/ops/cpu.js';
import type { NamedWeights } from './peers/tfjs-transform-net.js';

interface ConvSpec {
  name: string;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  upsample: number;
  norm: string | null;
}

/** The layers in forward order; channels 32/64/128 scaled by the width multiplier. */
export function johnsonLayers(widthMultiplier = 1): ConvSpec[] {
  const c1 = Math.max(1, Math.round(32 * widthMultiplier));
  const c2 = Math.max(1, Math.round(64 * widthMultiplier));
  const c3 = Math.max(1, Math.round(128 * widthMultiplier));
  const layers: ConvSpec[] = [
    { name: 'conv1', cin: 3, cout: c1, k: 9, stride: 1, upsample: 1, norm: 'in1' },
    { name: 'conv2', cin: c1, cout: c2, k: 3, stride: 2, upsample: 1, norm: 'in2' },
    { name: 'conv3', cin: c2, cout: c3, k: 3, stride: 2, upsample: 1, norm: 'in3' },
  ];
  for (let r = 1; r <= 5; r++) {
    layers.push({ name: `res${r}.conv1`, cin: c3, cout: c3, k: 3, stride: 1, upsample: 1, norm: `res${r}.in1` });
    layers.push({ name: `res${r}.conv2`, cin: c3, cout: c3, k: 3, stride: 1, upsample: 1, norm: `res${r}.in2` });
  }
  layers.push({ name: 'deconv1', cin: c3, cout: c2, k: 3, stride: 1, upsample: 2, norm: 'in4' });
  layers.push({ name: 'deconv2', cin: c2, cout: c1, k: 3, stride: 1, upsample: 2, norm: 'in5' });
  layers.push({ name: 'deconv3', cin: c1, cout: 3, k: 9, stride: 1, upsample: 1, norm: null });
  return layers;
}

/** Random weights in pytorch naming: conv weights uniform ±1/sqrt(fan_in) (PyTorch's default), IN γ≈1, β≈0. */
export function randomJohnsonWeights(seed: number, widthMultiplier = 1): Map<string, NamedWeights> {
  const rand = rng(seed);
  const uniform = (n: number, lo: number, hi: number): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rand();
    return a;
  };
  const out = new Map<string, NamedWeights>();
  for (const l of johnsonLayers(widthMultiplier)) {
    const bound = 1 / Math.sqrt(l.cin * l.k * l.k);
    out.set(`${l.name}.conv2d.weight`, {
      shape: [l.cout, l.cin, l.k, l.k],
      data: uniform(l.cout * l.cin * l.k * l.k, -bound, bound),
    });
    out.set(`${l.name}.conv2d.bias`, { shape: [l.cout], data: uniform(l.cout, -bound, bound) });
    if (l.norm) {
      out.set(`${l.norm}.weight`, { shape: [l.cout], data: uniform(l.cout, 0.8, 1.2) });
      out.set(`${l.norm}.bias`, { shape: [l.cout], data: uniform(l.cout, -0.1, 0.1) });
    }
  }
  return out;
}

/** Random pixels 0..255, NCHW. */
export function randomImage(seed: number, n: number, h: number, w: number): Float32Array {
  const rand = rng(seed);
  const a = new Float32Array(n * 3 * h * w);
  for (let i = 0; i < a.length; i++) a[i] = 255 * rand();
  return a;
}

/** Multiply-adds ×2 of every conv in one forward pass of batch n at h×w (norms and elementwise ops not counted). */
export function johnsonForwardFlops(widthMultiplier: number, n: number, h: number, w: number): number {
  let flops = 0;
  let hh = h;
  let ww = w;
  for (const l of johnsonLayers(widthMultiplier)) {
    hh *= l.upsample;
    ww *= l.upsample;
    const p = Math.floor(l.k / 2);
    hh = Math.floor((hh + 2 * p - l.k) / l.stride) + 1;
    ww = Math.floor((ww + 2 * p - l.k) / l.stride) + 1;
    flops += 2 * n * l.cout * l.cin * l.k * l.k * hh * ww;
  }
  return flops;
}
