// Peer for the end-to-end benchmark: Johnson et al.'s transform net in TensorFlow.js ops on the WebGPU backend,
// running on the same Dawn GPU object as our engine. Weights come in pytorch/examples names and layouts
// (conv weights OIHW), so the net is built from exactly what our TransformNet holds. NHWC inside tfjs.
import type * as TF from '@tensorflow/tfjs-core';

export type Tfjs = typeof TF;

export interface NamedWeights {
  shape: readonly number[];
  data: Float32Array;
}

let loaded: Promise<Tfjs> | null = null;

/**
 * Loads tfjs-core and its WebGPU backend on `gpu` (from nodeNavigatorGpu()). The backend registers itself at
 * import time only if `navigator.gpu` exists, so navigator is set first and the modules imported afterwards.
 */
export function loadTfjsWebgpu(gpu: GPU): Promise<Tfjs> {
  if (!loaded) loaded = load(gpu);
  return loaded;
}

async function load(gpu: GPU): Promise<Tfjs> {
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (g.navigator) {
    if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  } else {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
  const tf = (await import('@tensorflow/tfjs-core')) as Tfjs;
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend failed to initialise');
  await tf.ready();
  return tf;
}

/** The adapter tfjs-webgpu opened (its own device on the same GPU object). */
export function tfjsAdapterInfo(tf: Tfjs): string {
  const b = tf.backend() as { adapterInfo?: { vendor?: string; architecture?: string; description?: string } };
  const i = b.adapterInfo;
  if (!i) return 'unknown';
  return [i.vendor, i.architecture, i.description].filter(Boolean).join(' ');
}

interface Conv {
  filter: TF.Tensor4D; // HWIO
  bias: TF.Tensor1D;
  k: number;
  stride: number;
  upsample: number;
}

interface Norm {
  gamma: TF.Tensor1D;
  beta: TF.Tensor1D;
}

const EPS = 1e-5;
const RESIDUAL_BLOCKS = 5;

/**
 * TransformNet (pytorch/examples fast_neural_style naming): conv1 9×9 s1, conv2 3×3 s2, conv3 3×3 s2 (each
 * reflection-padded by floor(K/2), then instance norm with affine, ReLU), res1..res5 (conv-IN-ReLU-conv-IN + skip,
 * no ReLU after the add), deconv1/deconv2 (nearest ×2, reflection pad, 3×3 conv, IN, ReLU), deconv3 9×9, then
 * 150·tanh(y) + 127.5. Channel counts come from the weight shapes, so any width multiplier works.
 */
export class TfjsTransformNet {
  private convs = new Map<string, Conv>();
  private norms = new Map<string, Norm>();

  constructor(
    private readonly tf: Tfjs,
    weights: ReadonlyMap<string, NamedWeights>,
  ) {
    const get = (name: string): NamedWeights => {
      const w = weights.get(name);
      if (!w) throw new Error(`TfjsTransformNet: missing weight ${name}`);
      return w;
    };
    const conv = (name: string, stride: number, upsample = 1): void => {
      const w = get(`${name}.conv2d.weight`);
      const b = get(`${name}.conv2d.bias`);
      const [cout, cin, kh, kw] = w.shape;
      if (w.shape.length !== 4 || kh !== kw || b.shape[0] !== cout) {
        throw new Error(`TfjsTransformNet: ${name} has weight [${w.shape}] and bias [${b.shape}]`);
      }
      const oihw = tf.tensor4d(w.data, [cout, cin, kh, kw]);
      const filter = tf.keep(tf.transpose(oihw, [2, 3, 1, 0]) as TF.Tensor4D);
      oihw.dispose();
      this.convs.set(name, { filter, bias: tf.keep(tf.tensor1d(b.data)), k: kh, stride, upsample });
    };
    const norm = (name: string): void => {
      this.norms.set(name, {
        gamma: tf.keep(tf.tensor1d(get(`${name}.weight`).data)),
        beta: tf.keep(tf.tensor1d(get(`${name}.bias`).data)),
      });
    };
    conv('conv1', 1);
    norm('in1');
    conv('conv2', 2);
    norm('in2');
    conv('conv3', 2);
    norm('in3');
    for (let r = 1; r <= RESIDUAL_BLOCKS; r++) {
      conv(`res${r}.conv1`, 1);
      norm(`res${r}.in1`);
      conv(`res${r}.conv2`, 1);
      norm(`res${r}.in2`);
    }
    conv('deconv1', 1, 2);
    norm('in4');
    conv('deconv2', 1, 2);
    norm('in5');
    conv('deconv3', 1);
  }

  /** x: NHWC pixels 0..255 → NHWC pixels, 150·tanh(y) + 127.5. */
  forward(x: TF.Tensor4D): TF.Tensor4D {
    const tf = this.tf;
    return tf.tidy(() => {
      let h = this.normRelu(this.conv('conv1', x), 'in1');
      h = this.normRelu(this.conv('conv2', h), 'in2');
      h = this.normRelu(this.conv('conv3', h), 'in3');
      for (let r = 1; r <= RESIDUAL_BLOCKS; r++) {
        const t = this.normRelu(this.conv(`res${r}.conv1`, h), `res${r}.in1`);
        h = tf.add(h, this.norm(this.conv(`res${r}.conv2`, t), `res${r}.in2`));
      }
      h = this.normRelu(this.conv('deconv1', h), 'in4');
      h = this.normRelu(this.conv('deconv2', h), 'in5');
      const y = this.conv('deconv3', h);
      return tf.add(tf.mul(tf.tanh(y), 150), 127.5) as TF.Tensor4D;
    });
  }

  /** Reflection-padded conv (after a nearest upsample for deconv1/2), bias fused. */
  private conv(name: string, x: TF.Tensor4D): TF.Tensor4D {
    const tf = this.tf;
    const c = this.convs.get(name)!;
    if (c.upsample > 1) {
      const [, h, w] = x.shape;
      x = tf.image.resizeNearestNeighbor(x, [h * c.upsample, w * c.upsample], false, false);
    }
    const p = Math.floor(c.k / 2);
    if (p > 0)
      x = tf.mirrorPad(
        x,
        [
          [0, 0],
          [p, p],
          [p, p],
          [0, 0],
        ],
        'reflect',
      );
    return tf.fused.conv2d({ x, filter: c.filter, bias: c.bias, strides: c.stride, pad: 'valid' });
  }

  /** Instance norm: per sample and channel over H, W; biased variance, eps 1e-5, affine. */
  private norm(x: TF.Tensor4D, name: string): TF.Tensor4D {
    const tf = this.tf;
    const n = this.norms.get(name)!;
    const { mean, variance } = tf.moments(x, [1, 2], true);
    // tf.batchNorm wants per-channel statistics shared by the batch; fold the per-sample ones into one
    // scale and shift on [N,1,1,C] instead, so the full-size work is one multiply and one add.
    const scale = tf.mul(tf.rsqrt(tf.add(variance, EPS)), n.gamma);
    const shift = tf.sub(n.beta, tf.mul(mean, scale));
    return tf.add(tf.mul(x, scale), shift);
  }

  private normRelu(x: TF.Tensor4D, name: string): TF.Tensor4D {
    return this.tf.relu(this.norm(x, name));
  }

  dispose(): void {
    for (const c of this.convs.values()) {
      c.filter.dispose();
      c.bias.dispose();
    }
    for (const n of this.norms.values()) {
      n.gamma.dispose();
      n.beta.dispose();
    }
    this.convs.clear();
    this.norms.clear();
  }
}

/** NCHW → NHWC on the CPU (inputs for tfjs). */
export function nchwToNhwc(data: Float32Array, n: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const src = (b * c + ch) * h * w;
      for (let i = 0; i < h * w; i++) out[(b * h * w + i) * c + ch] = data[src + i];
    }
  }
  return out;
}

/** NHWC → NCHW on the CPU (tfjs outputs, to compare with ours). */
export function nhwcToNchw(data: Float32Array, n: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const dst = (b * c + ch) * h * w;
      for (let i = 0; i < h * w; i++) out[dst + i] = data[(b * h * w + i) * c + ch];
    }
  }
  return out;
}
