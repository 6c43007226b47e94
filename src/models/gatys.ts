/**
 * The slow original: Gatys et al.'s per-image optimisation. The pixels of one image are the parameters; the
 * objective is the same perceptual loss a transform net is trained on (StyleLoss of ./losses.ts: the same
 * VGG, layers, Grams and weights), minimised by L-BFGS (as Gatys et al. and jcjohnson/neural-style) or Adam.
 *
 * Pixel space: the optimised tensor holds RGB in 0..255 (the convention of every image tensor here; the VGG
 * applies its own input transform). The objective is taken at the image clamped to 0..255, so the clamped
 * result handed back is the point that was optimised (an unconstrained run lost much of its style loss to
 * the final clamp: 6.1e4 → 1.1e5 total at 160 px).
 * Learning rates are in that space: Adam's default 10 moves a pixel by up to ~10 grey levels a step.
 */
import type { Engine } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import { Tensor } from '../engine/tensor.js';
import { Adam } from '../autograd/optim.js';
import { LBFGS } from '../autograd/lbfgs.js';
import { backward, noGrad, zeroGrad } from '../autograd/tape.js';
import { rng } from '../ops/cpu.js';
import { readLosses, type StepLosses, type StyleLoss } from './losses.js';
import { clamp0to255, clampPixels } from './stylize.js';

export type GatysOptimizer = 'lbfgs' | 'adam';
export type GatysInit = 'content' | 'noise';

export interface GatysProgress {
  /** Iterations done (L-BFGS: iterations, each one line search; Adam: steps). */
  iteration: number;
  total: number;
  /** Objective evaluations (forward + backward through the VGG) so far. */
  evaluations: number;
  /** Losses at the current image (Adam: before this step's update, as in training). */
  losses: StepLosses;
}

export interface GatysOptions {
  /**
   * L-BFGS iterations or Adam steps. L-BFGS may evaluate the objective at most `lbfgsMaxEvaluations(n)` times:
   * torch.optim.LBFGS's 1.25·n plus one full line search (25), which the first iteration's step-size search
   * from torch's 1/‖g‖₁ start can need; so n iterations run unless the optimiser converges first.
   */
  iterations: number;
  optimizer?: GatysOptimizer;
  /** Default: 1 for L-BFGS (torch's), 10 for Adam (pixels are 0..255). */
  lr?: number;
  /** Start from the content image (default) or seeded white noise (uniform 0..255). */
  init?: GatysInit;
  seed?: number;
  /** L-BFGS history (pairs kept), 10..100 typical. Default 100. */
  historySize?: number;
  onProgress?(p: GatysProgress): void | Promise<void>;
  /**
   * Iteration counts at which `onSnapshot` receives the current image (clamped to 0..255; the tensor is only
   * valid during the call). Counts not reached because the optimiser converged early get the final image.
   */
  snapshots?: readonly number[];
  onSnapshot?(iteration: number, image: Tensor): void | Promise<void>;
}

export interface GatysResult {
  /** [1, 3, H, W], clamped to 0..255; the caller disposes it. */
  image: Tensor;
  /** Losses of the clamped result. */
  losses: StepLosses;
  iterations: number;
  evaluations: number;
  /** L-BFGS: why it stopped ('max-iter' when it used its budget); Adam: 'max-iter'. */
  stop: string;
}

/** The evaluation budget of `iterations` L-BFGS iterations (see GatysOptions.iterations). */
export function lbfgsMaxEvaluations(iterations: number): number {
  return Math.ceil(iterations * 1.25) + 25;
}

/** Seeded white noise, uniform over 0..255, as [1, 3, H, W]. */
export function noiseImage(engine: Engine, height: number, width: number, seed: number): Tensor {
  const r = rng(seed);
  const data = new Float32Array(3 * height * width);
  for (let i = 0; i < data.length; i++) data[i] = 255 * r();
  return Tensor.fromData(engine, [1, 3, height, width], data, 'gatys.noise');
}

/** The loss terms of `image` against `content` (no gradient), read back. */
export async function evaluateLosses(loss: StyleLoss, image: Tensor, content: Tensor): Promise<StepLosses> {
  return image.engine.scopeAsync(async () => readLosses(noGrad(() => loss.compute(image, content))));
}

/**
 * Long because both optimisers' loops share the image, the evaluation count and the snapshot queue.
 * Optimises an image for `loss` (whose style Grams are already computed) against `content` ([1, 3, H, W],
 * 0..255). The VGG and loss stay the caller's.
 */
export async function optimizeImage(loss: StyleLoss, content: Tensor, opts: GatysOptions): Promise<GatysResult> {
  if (content.rank !== 4 || content.shape[0] !== 1 || content.shape[1] !== 3) {
    throw new ShapeError(`optimizeImage: the content must be [1, 3, H, W], got ${shapeStr(content.shape)}`);
  }
  const total = opts.iterations;
  if (!(Number.isInteger(total) && total >= 1))
    throw new RangeError(`optimizeImage: iterations must be an integer ≥ 1, got ${total}`);
  const optimizer = opts.optimizer ?? 'lbfgs';
  const lr = opts.lr ?? (optimizer === 'lbfgs' ? 1 : 10);
  if (!(lr > 0 && Number.isFinite(lr))) throw new RangeError(`optimizeImage: lr must be a positive number, got ${lr}`);
  const engine = content.engine;
  const [, , H, W] = content.shape;
  const x = engine.keep(
    (opts.init ?? 'content') === 'noise' ? noiseImage(engine, H, W, opts.seed ?? 0) : clampPixels(content),
  );
  x.label = 'gatys.image';
  x.requiresGrad = true;
  const pending = [...new Set(opts.snapshots ?? [])].filter((n) => n >= 1).sort((a, b) => a - b);
  const snapshot = async (iteration: number, final = false): Promise<void> => {
    if (!opts.onSnapshot) return;
    while (pending.length > 0 && (pending[0] <= iteration || final)) {
      const n = pending.shift()!;
      const img = clampPixels(x);
      try {
        await opts.onSnapshot(n, img);
      } finally {
        img.dispose();
      }
    }
  };

  let evaluations = 0;
  const evaluate = () =>
    engine.scopeAsync(async () => {
      const terms = loss.compute(clamp0to255(x), content);
      backward(terms.total);
      evaluations++;
      const losses = await readLosses(terms);
      return { loss: losses.total, losses };
    });

  let stop = 'max-iter';
  let iterations = 0;
  try {
    if (optimizer === 'adam') {
      const adam = new Adam([x], { lr });
      try {
        for (let i = 1; i <= total; i++) {
          zeroGrad([x]);
          const { losses } = await evaluate();
          if (!Number.isFinite(losses.total))
            throw new RangeError(
              `the loss became ${losses.total} at iteration ${i}: lower the learning rate or the loss weights`,
            );
          adam.step();
          iterations = i;
          await opts.onProgress?.({ iteration: i, total, evaluations, losses });
          await snapshot(i);
        }
      } finally {
        zeroGrad([x]);
        adam.dispose();
      }
    } else {
      const lbfgs = new LBFGS<{ loss: number; losses: StepLosses }>(x, {
        lr,
        maxIter: total,
        maxEval: lbfgsMaxEvaluations(total),
        historySize: opts.historySize ?? 100,
        lineSearch: 'strong-wolfe',
      });
      lbfgs.onIteration = async ({ iteration, value }) => {
        iterations = iteration;
        await opts.onProgress?.({ iteration, total, evaluations, losses: value.losses });
        await snapshot(iteration);
      };
      try {
        const r = await lbfgs.step(evaluate);
        if (!Number.isFinite(r.first.loss))
          throw new RangeError(`the loss is ${r.first.loss} at the start: check the loss weights`);
        stop = r.stop;
      } finally {
        zeroGrad([x]);
        lbfgs.dispose();
      }
    }
    await snapshot(iterations, true);
    const image = clampPixels(x);
    const losses = await evaluateLosses(loss, image, content);
    return { image, losses, iterations, evaluations, stop };
  } finally {
    x.dispose();
  }
}
