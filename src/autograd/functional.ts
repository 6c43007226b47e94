/**
 * The ops as typed functions: each names its inputs, says which may be null and takes its own attrs type, so
 * that a caller cannot pass a bias where a weight goes or forget an input. Each runs `apply` (recorded on the
 * tape where an input wants a gradient). Here rather than in ops/ because ops never import the tape.
 */
import type { Tensor } from '../engine/tensor.js';
import { channelAffine as channelAffineOp, type ChannelAffineAttrs } from '../ops/channel-affine.js';
import { preserveColors as preserveColorsOp } from '../ops/color.js';
import { conv2dTranspose as conv2dTransposeOp, type Conv2dTransposeAttrs } from '../ops/conv2d-transpose.js';
import { conv2d as conv2dOp, type Conv2dAttrs } from '../ops/conv2d.js';
import {
  add as addOp,
  relu as reluOp,
  scale as scaleOp,
  scaledTanh as scaledTanhOp,
  type ScaleAttrs,
  type ScaledTanhAttrs,
} from '../ops/elementwise.js';
import { gram as gramOp } from '../ops/gram.js';
import { instanceNorm as instanceNormOp, type InstanceNormAttrs } from '../ops/instance-norm.js';
import { mseLoss as mseLossOp, sumAll as sumAllOp, tvLoss as tvLossOp } from '../ops/losses.js';
import { crop2d as crop2dOp, pad2d as pad2dOp, type Crop2dAttrs } from '../ops/pad-crop.js';
import type { Pad2dAttrs } from '../ops/padding.js';
import { maxPool2d as maxPool2dOp } from '../ops/pool.js';
import { apply } from './tape.js';

/** x [N, Cin, H, W] ⊛ weight [Cout, Cin, K, K] (+ bias [Cout]). */
export const conv2d = (x: Tensor, weight: Tensor, bias: Tensor | null, attrs: Conv2dAttrs): Tensor =>
  apply(conv2dOp, [x, weight, bias], attrs);
/** Transposed conv of x [N, Cin, H, W] with weight [Cin, Cout, K, K] (+ bias [Cout]). */
export const conv2dTranspose = (x: Tensor, weight: Tensor, bias: Tensor | null, attrs: Conv2dTransposeAttrs): Tensor =>
  apply(conv2dTransposeOp, [x, weight, bias], attrs);
/** Per-image, per-channel normalisation, then gamma·x̂ + beta per channel (null: 1 and 0). */
export const instanceNorm = (x: Tensor, gamma: Tensor | null, beta: Tensor | null, attrs: InstanceNormAttrs): Tensor =>
  apply(instanceNormOp, [x, gamma, beta], attrs);
/** scale[c]·x + shift[c] per channel. */
export const channelAffine = (x: Tensor, attrs: ChannelAffineAttrs): Tensor => apply(channelAffineOp, [x], attrs);
/** 2×2 max pooling, stride 2. */
export const maxPool2d = (x: Tensor): Tensor => apply(maxPool2dOp, [x], {});
export const pad2d = (x: Tensor, attrs: Pad2dAttrs): Tensor => apply(pad2dOp, [x], attrs);
export const crop2d = (x: Tensor, attrs: Crop2dAttrs): Tensor => apply(crop2dOp, [x], attrs);

export const relu = (x: Tensor): Tensor => apply(reluOp, [x], {});
/** a + b, same shapes. */
export const add = (a: Tensor, b: Tensor): Tensor => apply(addOp, [a, b], {});
/** alpha·x + beta. */
export const scale = (x: Tensor, attrs: ScaleAttrs): Tensor => apply(scaleOp, [x], attrs);
/** alpha·tanh(x) + beta. */
export const scaledTanh = (x: Tensor, attrs: ScaledTanhAttrs): Tensor => apply(scaledTanhOp, [x], attrs);
/** The luminance of `styled` with the chroma of `content` (BT.601 YCbCr). */
export const preserveColors = (styled: Tensor, content: Tensor): Tensor =>
  apply(preserveColorsOp, [styled, content], {});

/** Per image: F·Fᵀ/(C·H·W) of the [C, H·W] features. */
export const gram = (features: Tensor): Tensor => apply(gramOp, [features], {});
/** mean((a − b)²) as a [1] tensor. */
export const mseLoss = (a: Tensor, b: Tensor): Tensor => apply(mseLossOp, [a, b], {});
/** mean(dx²) + mean(dy²) as a [1] tensor. */
export const tvLoss = (x: Tensor): Tensor => apply(tvLossOp, [x], {});
/** Σ x as a [1] tensor. */
export const sumAll = (x: Tensor): Tensor => apply(sumAllOp, [x], {});
