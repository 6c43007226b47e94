import { sizeClass } from '../engine/buffer-pool.js';
import type { EngineLimits } from '../engine/engine.js';

/**
 * What a training run asks of the GPU, planned before it starts: a browser tab has tighter limits than the
 * CLI on a workstation (WebGPU's default maxStorageBufferBindingSize is 128 MiB), and a step that needs a
 * larger buffer fails deep inside a kernel; this says so before, in words.
 */

export interface TrainingShape {
  batch: number;
  /** Side of the square crops. */
  size: number;
  widthMultiplier: number;
  /** Long side of the style image the loss network reads once (default: no check). */
  styleSize?: number;
  /** Bytes of the loss network's largest weight tensor (VGG19's conv3 weights: 2.4 MB; default: not counted). */
  lossNetworkWeight?: number;
}

/**
 * The largest buffer one training step allocates that has no fallback, rounded up to the buffer pool's size
 * class: the 64-channel full-resolution activations (VGG's conv1 block, and the transform net's last
 * upsampling convolution's padded input at width ≥ 1), [B, 64·max(1, width), S+2, S+2] floats; the same for
 * the style image; and the weights (the transform net's residual convolutions, the loss network's largest),
 * as Winograd transforms them (16 points per 3×3 kernel: the check that sends a convolution to the direct
 * kernel when Winograd's buffers do not fit counts its activations, not its weights). Winograd's activation
 * buffers can be larger, but a convolution whose buffers do not fit runs the direct kernel instead
 * (test/train-plan.test.ts checks this bound against the buffers steps actually ask for).
 */
export function largestTrainingBuffer(shape: TrainingShape): number {
  const channels = 64 * Math.max(1, shape.widthMultiplier);
  const crops = 4 * shape.batch * channels * (shape.size + 2) ** 2;
  const style = shape.styleSize ? 4 * 64 * (shape.styleSize + 2) ** 2 : 0;
  const kernel3x3 = Math.max(4 * 9 * Math.round(128 * shape.widthMultiplier) ** 2, shape.lossNetworkWeight ?? 0);
  return sizeClass(Math.max(crops, style, (kernel3x3 * 16) / 9));
}

/**
 * About how many bytes of GPU buffers a step keeps live at its peak (weights, Adam's moments, the tape's
 * activations, the loss network): a fit of the buffer pool's peak over steps of width 0.25 and 1 at
 * 32–96 px, within ~10% there. No WebGPU API tells a page how much memory the GPU has, so this is said, not
 * checked.
 */
export function trainingMemoryEstimate(shape: TrainingShape): number {
  const w = shape.widthMultiplier;
  const perPixel = 2600 + 2030 * w;
  return Math.round(shape.batch * shape.size ** 2 * perPixel + 13.6e6 + 18.3e6 * w * w);
}

/** The batch and size a run will use, and why when they are not the ones asked for. */
export interface TrainingPlan {
  batch: number;
  size: number;
  /** Bytes of the largest buffer a step allocates, and the engine's limit. */
  largestBuffer: number;
  bufferLimit: number;
  /** trainingMemoryEstimate of the plan. */
  memoryEstimate: number;
  /** Set when the batch was lowered to fit: what was asked and what was chosen, in a sentence. */
  note: string | null;
}

/** The run cannot fit this GPU at any batch: the message says what does. */
export class TrainingShapeError extends Error {
  override name = 'TrainingShapeError';
}

const mib = (bytes: number): string => `${Math.round(bytes / 2 ** 20)} MiB`;

/**
 * Keeps the crop size (it sets how large the painted strokes come out) and lowers the batch until the largest
 * buffer fits the engine's limits; throws TrainingShapeError naming the largest crop size that fits at batch
 * 1 when even that does not.
 */
export function planTrainingShape(
  limits: Pick<EngineLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize'>,
  wanted: TrainingShape,
): TrainingPlan {
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const fits = (batch: number, size: number) => largestTrainingBuffer({ ...wanted, batch, size }) <= limit;
  if (wanted.styleSize && largestTrainingBuffer({ ...wanted, batch: 1, size: 1 }) > limit) {
    throw new TrainingShapeError(
      `The style image at ${wanted.styleSize} px needs a ${mib(largestTrainingBuffer({ ...wanted, batch: 1, size: 1 }))} buffer, ` +
        `more than this GPU allows in one buffer (${mib(limit)}): choose a smaller style size.`,
    );
  }
  let batch = wanted.batch;
  while (batch > 1 && !fits(batch, wanted.size)) batch--;
  if (!fits(batch, wanted.size)) {
    let size = wanted.size;
    while (size > 8 && !fits(1, size)) size -= 8;
    throw new TrainingShapeError(
      `${wanted.size} px crops need a ${mib(largestTrainingBuffer({ ...wanted, batch: 1 }))} buffer even at batch 1, ` +
        `more than this GPU allows in one buffer (${mib(limit)})` +
        (fits(1, size) ? `: choose a crop size of ${size} px or less.` : '.'),
    );
  }
  const plan = { ...wanted, batch };
  return {
    batch,
    size: wanted.size,
    largestBuffer: largestTrainingBuffer(plan),
    bufferLimit: limit,
    memoryEstimate: trainingMemoryEstimate(plan),
    note:
      batch === wanted.batch
        ? null
        : `Batch ${wanted.batch} at ${wanted.size} px needs a ${mib(largestTrainingBuffer(wanted))} buffer, more than ` +
          `this GPU allows in one buffer (${mib(limit)}): training with batch ${batch} instead.`,
  };
}
