// Peer for the end-to-end benchmark of the 'ml5-lengstrom' architecture: lengstrom's fast-style-transfer net
// written with the TensorFlow.js ops that ml5.js's styleTransfer uses (conv2d and conv2dTranspose with 'same'
// padding, instance norm from moments with eps 1e-3, no conv biases), on the WebGPU backend on the same Dawn
// GPU object as our engine. Built from our TransformNet's parameters (src/models/transform-net.ts names and
// layouts: conv OIHW, transposed conv [Cin, Cout, K, K]), so both run the same weights. NHWC inside tfjs.
import type * as TF from '@tensorflow/tfjs-core';
import type { NamedWeights, Tfjs } from './tfjs-transform-net.js';

const EPS = 1e-3;
const RESIDUAL_BLOCKS = 5;

interface Layer {
  filter: TF.Tensor4D;
  stride: number;
  transposed: boolean;
  gamma: TF.Tensor1D;
  beta: TF.Tensor1D;
}

export class TfjsMl5Net {
  private layers = new Map<string, Layer>();

  constructor(
    private readonly tf: Tfjs,
    weights: ReadonlyMap<string, NamedWeights>,
  ) {
    const get = (name: string): NamedWeights => {
      const w = weights.get(name);
      if (!w) throw new Error(`TfjsMl5Net: missing weight ${name}`);
      return w;
    };
    const layer = (conv: string, norm: string, stride: number, transposed = false): void => {
      const w = get(`${conv}.conv2d.weight`);
      const [a, b, k] = w.shape;
      const raw = tf.tensor4d(w.data, [a, b, k, k]);
      // conv2d: OIHW → HWIO [K, K, Cin, Cout]; conv2dTranspose: [Cin, Cout, K, K] → [K, K, Cout, Cin]. Both
      // are the same permutation of [A, B, K, K].
      const filter = tf.keep(tf.transpose(raw, [2, 3, 1, 0]) as TF.Tensor4D);
      raw.dispose();
      this.layers.set(conv, {
        filter,
        stride,
        transposed,
        gamma: tf.keep(tf.tensor1d(get(`${norm}.weight`).data)),
        beta: tf.keep(tf.tensor1d(get(`${norm}.bias`).data)),
      });
    };
    layer('conv1', 'in1', 1);
    layer('conv2', 'in2', 2);
    layer('conv3', 'in3', 2);
    for (let r = 1; r <= RESIDUAL_BLOCKS; r++) {
      layer(`res${r}.conv1`, `res${r}.in1`, 1);
      layer(`res${r}.conv2`, `res${r}.in2`, 1);
    }
    layer('deconv1', 'in4', 2, true);
    layer('deconv2', 'in5', 2, true);
    layer('deconv3', 'in6', 1);
  }

  /** x: NHWC pixels 0..255 → NHWC pixels, 150·tanh(y) + 127.5. */
  forward(x: TF.Tensor4D): TF.Tensor4D {
    const tf = this.tf;
    return tf.tidy(() => {
      let h = tf.relu(this.convNorm('conv1', x));
      h = tf.relu(this.convNorm('conv2', h));
      h = tf.relu(this.convNorm('conv3', h));
      for (let r = 1; r <= RESIDUAL_BLOCKS; r++) {
        const t = tf.relu(this.convNorm(`res${r}.conv1`, h));
        h = tf.add(h, this.convNorm(`res${r}.conv2`, t));
      }
      h = tf.relu(this.convNorm('deconv1', h));
      h = tf.relu(this.convNorm('deconv2', h));
      const y = this.convNorm('deconv3', h);
      return tf.add(tf.mul(tf.tanh(y), 150), 127.5) as TF.Tensor4D;
    });
  }

  /** 'same' conv or stride-2 transposed conv (output 2H × 2W), then instance norm (per sample and channel). */
  private convNorm(name: string, x: TF.Tensor4D): TF.Tensor4D {
    const tf = this.tf;
    const l = this.layers.get(name)!;
    const [n, h, w] = x.shape;
    const y = l.transposed
      ? tf.conv2dTranspose(x, l.filter, [n, h * l.stride, w * l.stride, l.filter.shape[2]], l.stride, 'same')
      : tf.conv2d(x, l.filter, l.stride, 'same');
    const { mean, variance } = tf.moments(y, [1, 2], true);
    const scale = tf.mul(tf.rsqrt(tf.add(variance, EPS)), l.gamma);
    const shift = tf.sub(l.beta, tf.mul(mean, scale));
    return tf.add(tf.mul(y, scale), shift);
  }

  dispose(): void {
    for (const l of this.layers.values()) {
      l.filter.dispose();
      l.gamma.dispose();
      l.beta.dispose();
    }
    this.layers.clear();
  }
}
