/**
 * The stability term of training (Gupta et al. 2017, ReCoNet): a net that flickers answers a
 * one-pixel pan or a little sensor noise with different strokes. The term shows the net its batch moved by
 * `shift` pixels (to the left, the way the flicker measure pans) with Gaussian noise added, and penalises
 * the mean squared difference between that output and its output on the batch itself, moved the same way:
 * mean (f(shift(x) + n) − shift(f(x)))², in squared 0..255 levels. It is what src/models/temporal.ts
 * measures, made differentiable.
 */
import { add, crop2d, mseLoss } from '../autograd/functional.js';
import type { Tensor } from '../engine/tensor.js';
import { Tensor as TensorClass } from '../engine/tensor.js';
import { rng } from '../ops/cpu.js';

export interface StabilityConfig {
  /** Weight of the term in the total loss (> 0). */
  weight: number;
  /** Standard deviation of the noise, 0..255 levels. */
  noise: number;
  /** Whole pixels the batch is moved by (≥ 0; 0 and noise 0 make the term 0). */
  shift: number;
}

/** The perturbation of the measure (`flicker`'s defaults): one pixel, noise σ 2. */
export const STABILITY_PERTURBATION = { noise: 2, shift: 1 } as const;

export function checkStability(s: StabilityConfig): void {
  if (!(s.weight > 0 && Number.isFinite(s.weight)))
    throw new RangeError(`stability weight must be a number > 0, got ${s.weight}`);
  if (!(s.noise >= 0 && Number.isFinite(s.noise)))
    throw new RangeError(`stability noise must be a number ≥ 0, got ${s.noise}`);
  if (!(Number.isInteger(s.shift) && s.shift >= 0))
    throw new RangeError(`stability shift must be a whole number ≥ 0, got ${s.shift}`);
}

/** The noise of training step `step` of a run seeded `seed`: the same on a resumed run, so resume stays exact. */
function stepNoise(seed: number, step: number, count: number, sigma: number): Float32Array {
  const random = rng((seed * 0x9e3779b1 + step * 0x85ebca77) >>> 0);
  const out = new Float32Array(count);
  if (sigma === 0) return out;
  for (let i = 0; i < count; i++)
    out[i] = sigma * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return out;
}

/**
 * The unweighted term for a batch x ([B, 3, S, S]) and the net's output on it: runs the net once more, on
 * the moved, noisy batch. Recorded on the tape (the gradient flows into both outputs).
 */
export function stabilityTerm(
  forward: (x: Tensor) => Tensor,
  x: Tensor,
  out: Tensor,
  s: StabilityConfig,
  seed: number,
  step: number,
): Tensor {
  const [b, c, h, w] = x.shape;
  if (s.shift >= w) throw new RangeError(`stability shift ${s.shift} is not smaller than the training size ${w}`);
  const window = { top: 0, left: s.shift, height: h, width: w - s.shift };
  const moved = s.shift > 0 ? crop2d(x, window) : x;
  const noise = TensorClass.fromData(
    x.engine,
    [b, c, h, w - s.shift],
    stepNoise(seed, step, b * c * h * (w - s.shift), s.noise),
    'stability.noise',
  );
  const perturbed = forward(add(moved, noise));
  return mseLoss(perturbed, s.shift > 0 ? crop2d(out, window) : out);
}
