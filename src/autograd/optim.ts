import { Tensor } from '../engine/tensor.js';
import { adamStep } from '../ops/adam.js';
import { zeroGrad } from './tape.js';

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** L2 penalty added to the gradient, as torch.optim.Adam's weight_decay. */
  weightDecay?: number;
}

/**
 * torch.optim.Adam over a list of parameters. The moments live on the GPU for the optimiser's life (outside
 * every engine scope) and go with dispose().
 *
 * One step count is shared by all parameters (PyTorch keeps one per parameter; they differ only for a
 * parameter that sometimes has no gradient).
 */
export class Adam {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Steps taken so far; the next step is stepCount + 1. */
  stepCount = 0;
  private readonly m: Tensor[];
  private readonly v: Tensor[];

  constructor(
    readonly params: readonly Tensor[],
    opts: AdamOptions = {},
  ) {
    this.lr = opts.lr ?? 1e-3;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    const moment = (p: Tensor, which: string) =>
      p.engine.keep(Tensor.zeros(p.engine, p.shape, `adam.${which}${p.label ? ` ${p.label}` : ''}`));
    this.m = params.map((p) => moment(p, 'm'));
    this.v = params.map((p) => moment(p, 'v'));
  }

  /** Updates every parameter that has a gradient from `p.grad` (others are left alone). */
  step(): void {
    this.stepCount++;
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      adamStep(p, p.grad, this.m[i], this.v[i], {
        lr: this.lr,
        beta1: this.beta1,
        beta2: this.beta2,
        eps: this.eps,
        step: this.stepCount,
        weightDecay: this.weightDecay,
      });
    });
  }

  zeroGrad(): void {
    zeroGrad(this.params);
  }

  /** The live moment tensors (owned by the optimiser: read them, do not dispose them). */
  state(): { step: number; m: Tensor[]; v: Tensor[] } {
    return { step: this.stepCount, m: [...this.m], v: [...this.v] };
  }

  /** Restores a saved state: the step count and the moments, one array per parameter in order. */
  loadState(step: number, m: readonly Float32Array[], v: readonly Float32Array[]): void {
    if (!Number.isInteger(step) || step < 0)
      throw new RangeError(`Adam.loadState: step ${step} must be an integer ≥ 0`);
    if (m.length !== this.params.length || v.length !== this.params.length) {
      throw new RangeError(
        `Adam.loadState: ${m.length} first and ${v.length} second moments for ${this.params.length} parameters`,
      );
    }
    this.params.forEach((p, i) => {
      if (m[i].length !== p.size || v[i].length !== p.size) {
        throw new RangeError(
          `Adam.loadState: moments of parameter ${i} have ${m[i].length}/${v[i].length} values for ${p.size}`,
        );
      }
    });
    this.m.forEach((t, i) => t.write(m[i]));
    this.v.forEach((t, i) => t.write(v[i]));
    this.stepCount = step;
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}
