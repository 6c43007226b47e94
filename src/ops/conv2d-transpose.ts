import { choiceKey, workgroups1d } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import { packParams } from '../engine/kernel.js';
import { Tensor } from '../engine/tensor.js';
import weightSource from '../shaders/conv2d_transpose_weight.wgsl';
import {
  conv2dBackwardBias,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  conv2dForward,
  conv2dGeometry,
  tfSameConv2dAttrs,
  tfSamePadding,
  type Conv2dAttrs,
  type Conv2dGeometry,
} from './conv2d.js';
import { conv2dDevice, CONV2D_CHOICES, planConv2d, type Conv2dPass, type Conv2dPlans } from './conv2d-plan.js';
import type { Engine } from '../engine/engine.js';
import { cpuTensor, type CpuTensor } from './cpu.js';
import { defineOp } from './op.js';

// A transposed conv with TensorFlow's SAME output size (stride·H × stride·W), as in lengstrom's
// fast-style-transfer (tf.nn.conv2d_transpose): the gradient of a SAME conv of a stride·H × stride·W image,
//   y[n, co, s·i + ky − b, s·j + kx − b] += w[ci, co, ky, kx] · x[n, ci, i, j],  cropped to s·H × s·W,
// with b = floor(max(K − s, 0) / 2) the SAME conv's padding before (0 for 3×3 stride 2).
//
// Two implementations on conv2d's kernels (CONV2D_TRANSPOSE_IMPL picks):
// - `zero-insert`: a stride-1 conv of the rotated, transposed weight (conv2d_transpose_weight.wgsl) over x
//   with zeros inserted between its pixels, padded by K − 1 − b before and b after: the dilation and the
//   padding are conv2d's index map (upsampleMode 'zeros', padEnd), so the conv kernels (tiled GEMM, Winograd
//   for 3×3) run it unchanged; its gradients are that conv's. Three quarters of its multiply-adds (stride 2)
//   meet inserted zeros.
// - `adjoint`: the transposed conv is the input gradient of the SAME conv of a stride·H × stride·W image with
//   the same weight ([Cin, Cout, K, K] is that conv's OIHW), so conv2dBackwardInput computes it (one GEMM per
//   stride phase, only the taps that meet it) and its gradients are that conv's forward (dx) and weight
//   gradient with the roles of input and output gradient swapped (dw): no multiply-add meets a zero.

export interface Conv2dTransposeAttrs {
  /** 1 or 2: the output is stride·H × stride·W. */
  stride: number;
}

export type Conv2dTransposeImpl = 'zero-insert' | 'adjoint';

/**
 * Which implementation the op runs without a bias on an engine (see the top of this file; engine.setChoice),
 * so that tests and benchmarks run both. `adjoint` by default because it measured faster on the ml5 net's
 * upsampling layers, forward and backward (bench/conv2d-transpose.ts, `npm run bench -- --conv2d-transpose`;
 * figures in bench/RESULTS.md).
 */
export const CONV2D_TRANSPOSE_IMPL = choiceKey<Conv2dTransposeImpl>('adjoint');

/** The SAME conv of a stride·H × stride·W image whose input gradient the transposed conv of an H×W x is. */
function conv2dTransposeAdjointAttrs(
  height: number,
  width: number,
  kernelSize: number,
  attrs: Conv2dTransposeAttrs,
): Conv2dAttrs {
  return tfSameConv2dAttrs(attrs.stride * height, attrs.stride * width, kernelSize, attrs.stride);
}

const WORKGROUP_SIZE = 256;

/**
 * conv2d's plan for a pass of the equivalent conv, without Winograd: only the zero-insert forward runs it (as
 * conv2d's own forward would). The other passes keep the tiled and direct kernels they were written with
 * (bench/conv2d-transpose.ts measured the adjoint's phase GEMMs); Winograd for them is unmeasured.
 */
function planWithoutWinograd<P extends Conv2dPass>(engine: Engine, pass: P, g: Conv2dGeometry): Conv2dPlans[P] {
  const choices = {
    ...engine.choice(CONV2D_CHOICES),
    winogradForward: false,
    winogradInputGrad: false,
    winogradWeightGrad: false,
  };
  return planConv2d(pass, g, conv2dDevice(engine), choices);
}

function check(
  xShape: readonly number[],
  wShape: readonly number[],
  bShape: readonly number[] | null,
  attrs: Conv2dTransposeAttrs,
): void {
  const what = `conv2dTranspose: x ${shapeStr(xShape)}, weight ${shapeStr(wShape)}${bShape ? `, bias ${shapeStr(bShape)}` : ''}`;
  if (xShape.length !== 4) throw new ShapeError(`${what}: x must be [N, Cin, H, W]`);
  if (wShape.length !== 4 || wShape[2] !== wShape[3]) throw new ShapeError(`${what}: weight must be [Cin, Cout, K, K]`);
  if (wShape[0] !== xShape[1])
    throw new ShapeError(`${what}: weight has ${wShape[0]} input channels, x has ${xShape[1]}`);
  if (bShape && (bShape.length !== 1 || bShape[0] !== wShape[1]))
    throw new ShapeError(`${what}: bias must be [${wShape[1]}]`);
  if (attrs.stride !== 1 && attrs.stride !== 2) throw new ShapeError(`${what}: stride ${attrs.stride} is not 1 or 2`);
}

/** The SAME conv's padding before, b above: that of any axis of stride·n pixels (the same for every n). */
function sameBefore(kernelSize: number, stride: number): number {
  return tfSamePadding(stride, kernelSize, stride).before;
}

/** The attrs of the equivalent conv over the zero-inserted input. */
export function conv2dTransposeAsConv(kernelSize: number, attrs: Conv2dTransposeAttrs): Conv2dAttrs {
  const before = sameBefore(kernelSize, attrs.stride);
  return {
    stride: 1,
    padding: kernelSize - 1 - before,
    padEnd: [before, before],
    padMode: 'zeros',
    upsample: attrs.stride,
    upsampleMode: 'zeros',
  };
}

/** [A, B, K, K] → [B, A, K, K], each kernel rotated by 180° (the transposed conv's weight ⇄ the conv's). */
export function transposeRotateWeight(w: Tensor): Tensor {
  if (w.rank !== 4 || w.shape[2] !== w.shape[3])
    throw new ShapeError(`conv2dTranspose: weight ${shapeStr(w.shape)} must be [A, B, K, K]`);
  const [rows, cols, k] = w.shape;
  const out = Tensor.empty(w.engine, [cols, rows, k, k], 'conv2dTranspose.weight');
  w.engine.dispatch({
    kernel: { name: 'conv2dTranspose.weight', code: weightSource, constants: { WORKGROUP_SIZE } },
    buffers: [w.buffer, out.buffer],
    params: packParams([rows, cols, k * k, out.size]),
    workgroups: workgroups1d(w.engine, out.size, WORKGROUP_SIZE),
    label: 'conv2dTranspose.weight',
  });
  return out;
}

function conv2dTransposeReference(
  x: CpuTensor,
  w: CpuTensor,
  b: CpuTensor | null,
  attrs: Conv2dTransposeAttrs,
): CpuTensor {
  check(x.shape, w.shape, b ? b.shape : null, attrs);
  const [batch, inChannels, h, wd] = x.shape;
  const [, outChannels, k] = w.shape;
  const s = attrs.stride;
  const before = sameBefore(k, s);
  const oh = s * h;
  const ow = s * wd;
  const y = cpuTensor([batch, outChannels, oh, ow]);
  for (let n = 0; n < batch; n++) {
    for (let co = 0; co < outChannels; co++) {
      const plane = (n * outChannels + co) * oh * ow;
      if (b) y.data.fill(b.data[co], plane, plane + oh * ow);
      for (let ci = 0; ci < inChannels; ci++) {
        for (let i = 0; i < h; i++) {
          for (let j = 0; j < wd; j++) {
            const v = x.data[((n * inChannels + ci) * h + i) * wd + j];
            for (let ky = 0; ky < k; ky++) {
              const oy = s * i + ky - before;
              if (oy < 0 || oy >= oh) continue;
              for (let kx = 0; kx < k; kx++) {
                const ox = s * j + kx - before;
                if (ox < 0 || ox >= ow) continue;
                y.data[plane + oy * ow + ox] += w.data[((ci * outChannels + co) * k + ky) * k + kx] * v;
              }
            }
          }
        }
      }
    }
  }
  return y;
}

/** y = conv2dTranspose(x, weight) + bias with the chosen implementation (no gradient recorded). */
function conv2dTransposeForward(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  attrs: Conv2dTransposeAttrs,
  impl: Conv2dTransposeImpl,
): Tensor {
  check(x.shape, weight.shape, bias ? bias.shape : null, attrs);
  if (impl === 'adjoint') {
    // conv2dBackwardInput has no bias term; the nets that need this op have none.
    if (bias)
      throw new ShapeError(`conv2dTranspose: the adjoint implementation takes no bias (x ${shapeStr(x.shape)})`);
    const [n, , h, w] = x.shape;
    const [, outChannels, k] = weight.shape;
    const yShape = [n, outChannels, attrs.stride * h, attrs.stride * w];
    const adjoint = conv2dTransposeAdjointAttrs(h, w, k, attrs);
    const g = conv2dGeometry(yShape, weight.shape, null, adjoint);
    return conv2dBackwardInput(x, weight, yShape, adjoint, planWithoutWinograd(x.engine, 'backwardInput', g));
  }
  return x.engine.scope(() => {
    const convWeight = transposeRotateWeight(weight);
    return conv2dForward(x, convWeight, bias, conv2dTransposeAsConv(weight.shape[2], attrs), 'auto');
  });
}

/** dL/dx and dL/dweight (null where not wanted) of the adjoint implementation. */
function adjointBackward(
  x: Tensor,
  weight: Tensor,
  dy: Tensor,
  attrs: Conv2dTransposeAttrs,
  needsGrad: readonly boolean[],
): [Tensor | null, Tensor | null] {
  const [, , h, w] = x.shape;
  const adjoint = conv2dTransposeAdjointAttrs(h, w, weight.shape[2], attrs);
  const g = conv2dGeometry(dy.shape, weight.shape, null, adjoint);
  // y = Aᵀx for the conv A: dL/dx = A·dy (a forward conv of dy), dL/dW = the weight gradient of A at input dy
  // and output gradient x.
  const dx = needsGrad[0]
    ? conv2dForward(dy, weight, null, adjoint, planWithoutWinograd(dy.engine, 'forward', g))
    : null;
  const dw = needsGrad[1]
    ? conv2dBackwardWeight(x, dy, weight.shape, adjoint, planWithoutWinograd(dy.engine, 'backwardWeight', g))
    : null;
  return [dx, dw];
}

/**
 * Transposed 2-D convolution with TensorFlow's SAME output size: x [N, Cin, H, W], weight [Cin, Cout, K, K]
 * (PyTorch's ConvTranspose2d layout; TensorFlow's [K, K, Cout, Cin] transposed), optional bias [Cout] →
 * [N, Cout, stride·H, stride·W]. Runs on conv2d's kernels (see the comment at the top of this file); with a
 * bias always as `zero-insert`.
 */
export const conv2dTranspose = defineOp({
  name: 'conv2dTranspose',
  inputs: ['x', 'weight', 'bias'],
  optional: ['bias'],
  forward(
    [x, weight, bias]: [x: Tensor, weight: Tensor, bias: Tensor | null],
    attrs: Conv2dTransposeAttrs,
  ): { output: Tensor; saved: [x: Tensor, weight: Tensor, convWeight: Tensor | null] } {
    check(x.shape, weight.shape, bias ? bias.shape : null, attrs);
    if (!bias && x.engine.choice(CONV2D_TRANSPOSE_IMPL) === 'adjoint') {
      return { output: conv2dTransposeForward(x, weight, null, attrs, 'adjoint'), saved: [x, weight, null] };
    }
    const convWeight = transposeRotateWeight(weight);
    const convAttrs = conv2dTransposeAsConv(weight.shape[2], attrs);
    // The rotated weight is saved (and disposed by the tape) for the input gradient.
    return { output: conv2dForward(x, convWeight, bias, convAttrs, 'auto'), saved: [x, weight, convWeight] };
  },
  backward({ saved: [x, weight, convWeight], attrs, inputShapes, needsGrad }, dy) {
    if (!convWeight) {
      const [dx, dw] = adjointBackward(x, weight, dy, attrs, needsGrad);
      return [dx, dw, null];
    }
    const convAttrs = conv2dTransposeAsConv(inputShapes[1][2], attrs);
    const g = conv2dGeometry(inputShapes[0], convWeight.shape, null, convAttrs);
    let dw: Tensor | null = null;
    if (needsGrad[1]) {
      const convGrad = conv2dBackwardWeight(
        dy,
        x,
        convWeight.shape,
        convAttrs,
        planWithoutWinograd(dy.engine, 'backwardWeight', g),
      );
      dw = transposeRotateWeight(convGrad);
      convGrad.dispose();
    }
    return [
      needsGrad[0]
        ? conv2dBackwardInput(
            dy,
            convWeight,
            inputShapes[0],
            convAttrs,
            planWithoutWinograd(dy.engine, 'backwardInput', g),
          )
        : null,
      dw,
      needsGrad[2] && inputShapes[2] ? conv2dBackwardBias(dy) : null,
    ];
  },
  reference([x, weight, bias], attrs) {
    return conv2dTransposeReference(x, weight, bias, attrs);
  },
});
