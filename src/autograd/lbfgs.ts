import type { Tensor } from '../engine/tensor.js';
import { axpby, affine } from '../ops/elementwise.js';
import { absMax, absSum, axpyScalars, dot } from '../ops/vector.js';
import { zeroGrad } from './tape.js';

/**
 * L-BFGS (Nocedal & Wright, Algorithm 7.4/7.5): the two-loop recursion over the last `historySize` pairs
 * (s, y) and, optionally, a strong-Wolfe line search, following torch.optim.LBFGS step for step (same
 * defaults, same stopping tests, same cubic-interpolation line search) so that results compare with it.
 *
 * It optimises one tensor in place. The vectors (iterate, gradient, direction, history) stay on the GPU;
 * inner products and norms are reduced there (ops/vector.ts); the two-loop recursion's coefficients never
 * leave it, and only the scalars the control flow needs (curvature y·s, y·y, directional derivatives, norms
 * for the stopping tests, the loss) are read back: a handful per iteration, whatever the history size.
 *
 * The closure evaluates the objective at the tensor's current value and fills its `.grad` (by `backward`);
 * it returns the loss (and anything else the caller wants back for the accepted point, e.g. loss terms).
 * Gradients are cleared before each evaluation.
 */
export interface LbfgsOptions {
  /** Step length scale (torch's lr). Default 1. */
  lr?: number;
  /** Iterations per step() call. Default 20. */
  maxIter?: number;
  /** Objective evaluations per step() call. Default maxIter · 1.25. */
  maxEval?: number;
  /** Stop when max |gradient| ≤ this. Default 1e-7. */
  toleranceGrad?: number;
  /** Stop when the loss or the step changes less than this. Default 1e-9. */
  toleranceChange?: number;
  /** Pairs (s, y) kept. Default 100. */
  historySize?: number;
  /** `strong-wolfe` (default) or `none` (fixed step lr, as torch with line_search_fn=None). */
  lineSearch?: 'strong-wolfe' | 'none';
}

export interface Evaluation {
  loss: number;
}

export interface LbfgsIteration<E extends Evaluation> {
  /** Iterations so far (over every step() call). */
  iteration: number;
  /** Objective evaluations so far. */
  evaluations: number;
  /** The evaluation at the new iterate (the tensor's value now). */
  value: E;
  /** Step length taken along the search direction. */
  step: number;
}

export type Closure<E extends Evaluation> = () => Promise<E>;

/** Why step() returned. */
export type LbfgsStop = 'max-iter' | 'max-eval' | 'gradient' | 'step-change' | 'loss-change' | 'no-descent';

interface Pair {
  s: Tensor;
  y: Tensor;
  rho: number;
}

export class LBFGS<E extends Evaluation = Evaluation> {
  readonly lr: number;
  readonly maxIter: number;
  readonly maxEval: number;
  readonly toleranceGrad: number;
  readonly toleranceChange: number;
  readonly historySize: number;
  readonly lineSearch: 'strong-wolfe' | 'none';
  /** Totals over all step() calls. */
  iterations = 0;
  evaluations = 0;
  /** Called after each iteration with the new iterate's evaluation. */
  onIteration?: (info: LbfgsIteration<E>) => void | Promise<void>;

  private history: Pair[] = [];
  private direction: Tensor | null = null;
  private stepLength = 0;
  private hDiag = 1;
  private prevGrad: Tensor | null = null;

  constructor(
    readonly param: Tensor,
    opts: LbfgsOptions = {},
  ) {
    this.lr = opts.lr ?? 1;
    this.maxIter = opts.maxIter ?? 20;
    this.maxEval = opts.maxEval ?? Math.floor(this.maxIter * 1.25);
    this.toleranceGrad = opts.toleranceGrad ?? 1e-7;
    this.toleranceChange = opts.toleranceChange ?? 1e-9;
    this.historySize = opts.historySize ?? 100;
    this.lineSearch = opts.lineSearch ?? 'strong-wolfe';
    if (!(this.lr > 0)) throw new RangeError(`LBFGS: lr must be > 0, got ${this.lr}`);
    if (!(Number.isInteger(this.maxIter) && this.maxIter >= 1))
      throw new RangeError(`LBFGS: maxIter must be an integer ≥ 1, got ${this.maxIter}`);
    if (!(Number.isInteger(this.historySize) && this.historySize >= 1))
      throw new RangeError(`LBFGS: historySize must be an integer ≥ 1, got ${this.historySize}`);
  }

  private get engine() {
    return this.param.engine;
  }

  /** Runs the closure at the tensor's current value; returns its evaluation and the gradient (owned by the caller). */
  private async evaluate(closure: Closure<E>): Promise<{ value: E; grad: Tensor }> {
    zeroGrad([this.param]);
    const value = await closure();
    const grad = this.param.grad;
    if (!grad) throw new Error('LBFGS: the closure left no gradient on the parameter (call backward on the loss)');
    this.param.grad = null;
    this.evaluations++;
    return { value, grad };
  }

  /** Evaluates at x + t·d, then puts the tensor back to x. */
  private async evaluateAt(closure: Closure<E>, x: Tensor, t: number, d: Tensor): Promise<{ value: E; grad: Tensor }> {
    this.setParam(x, t, d);
    try {
      return await this.evaluate(closure);
    } finally {
      this.param.copyFrom(x);
    }
  }

  /** param ← x + t·d. */
  private setParam(x: Tensor, t: number, d: Tensor): void {
    const moved = axpby(x, d, 1, t);
    this.param.copyFrom(moved);
    moved.dispose();
  }

  private async scalar(t: Tensor): Promise<number> {
    try {
      return await t.item();
    } finally {
      t.dispose();
    }
  }

  private dot(a: Tensor, b: Tensor): Promise<number> {
    return this.scalar(dot(a, b));
  }

  /**
   * −H·g by the two-loop recursion over the history (H₀ = hDiag·I). The α_i and β_i stay on the GPU: each is a
   * dot product feeding an axpy directly (axpyScalars), so the recursion reads nothing back.
   */
  private twoLoop(grad: Tensor): Tensor {
    const n = this.history.length;
    const sq: Tensor[] = new Array(n);
    let q = this.engine.keep(affine(grad, -1, 0));
    for (let i = n - 1; i >= 0; i--) {
      const { s, y, rho } = this.history[i];
      // α_i = ρ_i·(s_i·q);  q ← q − α_i·y_i
      sq[i] = this.engine.keep(dot(s, q));
      const next = this.engine.keep(axpyScalars(q, y, sq[i], -rho));
      q.dispose();
      q = next;
    }
    let r = this.engine.keep(affine(q, this.hDiag, 0));
    q.dispose();
    for (let i = 0; i < n; i++) {
      const { s, y, rho } = this.history[i];
      // β_i = ρ_i·(y_i·r);  r ← r + (α_i − β_i)·s_i
      const yr = dot(y, r);
      const next = this.engine.keep(axpyScalars(r, s, sq[i], rho, yr, -rho));
      yr.dispose();
      sq[i].dispose();
      r.dispose();
      r = next;
    }
    return r;
  }

  /**
   * Long because it follows torch.optim.LBFGS.step statement for statement, so that the two compare.
   * Up to maxIter iterations (maxEval evaluations) from the tensor's current value; returns the first
   * evaluation (at the starting point, as torch does) and why it stopped.
   */
  async step(closure: Closure<E>): Promise<{ first: E; stop: LbfgsStop }> {
    const engine = this.engine;
    let { value, grad } = await this.evaluate(closure);
    const first = value;
    let currentEvals = 1;
    let loss = value.loss;
    let stop: LbfgsStop = 'max-iter';
    try {
      if ((await this.scalar(absMax(grad))) <= this.toleranceGrad) return { first, stop: 'gradient' };
      let nIter = 0;
      while (nIter < this.maxIter) {
        nIter++;
        this.iterations++;
        // ---- direction
        let d: Tensor;
        if (this.iterations === 1) {
          d = engine.keep(affine(grad, -1, 0));
          this.clearHistory();
          this.hDiag = 1;
        } else {
          const y = engine.keep(axpby(grad, this.prevGrad!, 1, -1));
          const s = engine.keep(affine(this.direction!, this.stepLength, 0));
          const ys = await this.dot(y, s);
          if (ys > 1e-10) {
            if (this.history.length === this.historySize) {
              const old = this.history.shift()!;
              old.s.dispose();
              old.y.dispose();
            }
            this.history.push({ s, y, rho: 1 / ys });
            this.hDiag = ys / (await this.dot(y, y));
          } else {
            s.dispose();
            y.dispose();
          }
          d = this.twoLoop(grad);
        }
        this.direction?.dispose();
        this.direction = d;
        this.prevGrad?.dispose();
        this.prevGrad = engine.keep(affine(grad, 1, 0));
        const prevLoss = loss;
        // ---- step length
        const t0 = this.iterations === 1 ? Math.min(1, 1 / (await this.scalar(absSum(grad)))) * this.lr : this.lr;
        const gtd = await this.dot(grad, d);
        if (!(gtd <= -this.toleranceChange)) {
          stop = 'no-descent';
          break;
        }
        // max |d|: the line search's scale of a step and the step-change test's.
        const dMax = await this.scalar(absMax(d));
        let lsEvals: number;
        let gradientSmall = false;
        if (this.lineSearch === 'strong-wolfe') {
          const x = engine.keep(affine(this.param, 1, 0));
          try {
            const r = await this.strongWolfe(closure, x, t0, d, dMax, value, grad, gtd);
            grad.dispose();
            ({ value, grad } = r);
            this.stepLength = r.t;
            lsEvals = r.evaluations;
            this.setParam(x, r.t, d);
          } finally {
            x.dispose();
          }
          loss = value.loss;
          gradientSmall = (await this.scalar(absMax(grad))) <= this.toleranceGrad;
        } else {
          this.stepLength = t0;
          const moved = axpby(this.param, d, 1, t0);
          this.param.copyFrom(moved);
          moved.dispose();
          lsEvals = 0;
          if (nIter !== this.maxIter) {
            grad.dispose();
            ({ value, grad } = await this.evaluate(closure));
            loss = value.loss;
            lsEvals = 1;
            gradientSmall = (await this.scalar(absMax(grad))) <= this.toleranceGrad;
          }
        }
        currentEvals += lsEvals;
        await this.onIteration?.({
          iteration: this.iterations,
          evaluations: this.evaluations,
          value,
          step: this.stepLength,
        });
        // ---- stopping tests (torch's order)
        if (nIter === this.maxIter) {
          stop = 'max-iter';
          break;
        }
        if (currentEvals >= this.maxEval) {
          stop = 'max-eval';
          break;
        }
        if (gradientSmall) {
          stop = 'gradient';
          break;
        }
        if (Math.abs(this.stepLength) * dMax <= this.toleranceChange) {
          stop = 'step-change';
          break;
        }
        if (Math.abs(loss - prevLoss) < this.toleranceChange) {
          stop = 'loss-change';
          break;
        }
      }
      return { first, stop };
    } finally {
      grad.dispose();
    }
  }

  /**
   * Long because it follows torch's _strong_wolfe statement for statement, so that the two compare.
   * torch's _strong_wolfe: bracketing with cubic extrapolation, then zoom with cubic interpolation and
   * safeguards (c1 1e-4, c2 0.9, at most 25 evaluations). `grad` stays the caller's; the returned gradient
   * is new. A non-finite loss counts as failing the sufficient-decrease test (the step is too long).
   */
  private async strongWolfe(
    closure: Closure<E>,
    x: Tensor,
    tInit: number,
    d: Tensor,
    dNorm: number,
    value0: E,
    grad0: Tensor,
    gtd0: number,
  ): Promise<{ value: E; grad: Tensor; t: number; evaluations: number }> {
    const c1 = 1e-4;
    const c2 = 0.9;
    const maxLs = 25;
    const f0 = value0.loss;
    // Every gradient made here; all but the returned one are disposed at the end.
    const made = new Set<Tensor>();
    const evalAt = async (t: number) => {
      const r = await this.evaluateAt(closure, x, t, d);
      made.add(r.grad);
      return { ...r, gtd: await this.dot(r.grad, d) };
    };
    const failsDecrease = (f: number, t: number) => !Number.isFinite(f) || f > f0 + c1 * t * gtd0;

    let t = tInit;
    let cur = await evalAt(t);
    let evaluations = 1;
    let prev = { t: 0, value: value0, grad: grad0, gtd: gtd0 };
    type Point = { t: number; value: E; grad: Tensor; gtd: number };
    let bracket: Point[] = [];
    let done = false;
    let lsIter = 0;
    while (lsIter < maxLs) {
      const f = cur.value.loss;
      if (failsDecrease(f, t) || (lsIter > 1 && f >= prev.value.loss)) {
        bracket = [prev, { t, ...cur }];
        break;
      }
      if (Math.abs(cur.gtd) <= -c2 * gtd0) {
        bracket = [{ t, ...cur }];
        done = true;
        break;
      }
      if (cur.gtd >= 0) {
        bracket = [prev, { t, ...cur }];
        break;
      }
      const minStep = t + 0.01 * (t - prev.t);
      const maxStep = t * 10;
      const tNext = cubicInterpolate(prev.t, prev.value.loss, prev.gtd, t, f, cur.gtd, [minStep, maxStep]);
      prev = { t, ...cur };
      t = tNext;
      cur = await evalAt(t);
      evaluations++;
      lsIter++;
    }
    if (lsIter === maxLs)
      bracket = [
        { t: 0, value: value0, grad: grad0, gtd: gtd0 },
        { t, ...cur },
      ];

    // Zoom.
    let insufficientProgress = false;
    let [low, high] = bracket.length > 1 && bracket[0].value.loss > bracket[1].value.loss ? [1, 0] : [0, 1];
    while (!done && lsIter < maxLs && bracket.length > 1) {
      const a = bracket[0];
      const b = bracket[1];
      if (Math.abs(b.t - a.t) * dNorm < this.toleranceChange) break;
      t = cubicInterpolate(a.t, a.value.loss, a.gtd, b.t, b.value.loss, b.gtd);
      const hi = Math.max(a.t, b.t);
      const lo = Math.min(a.t, b.t);
      const eps = 0.1 * (hi - lo);
      if (Math.min(hi - t, t - lo) < eps) {
        if (insufficientProgress || t >= hi || t <= lo) {
          t = Math.abs(t - hi) < Math.abs(t - lo) ? hi - eps : lo + eps;
          insufficientProgress = false;
        } else {
          insufficientProgress = true;
        }
      } else {
        insufficientProgress = false;
      }
      cur = await evalAt(t);
      evaluations++;
      lsIter++;
      const point = { t, ...cur };
      if (failsDecrease(cur.value.loss, t) || cur.value.loss >= bracket[low].value.loss) {
        bracket[high] = point;
        [low, high] = bracket[0].value.loss <= bracket[1].value.loss ? [0, 1] : [1, 0];
      } else {
        if (Math.abs(cur.gtd) <= -c2 * gtd0) done = true;
        else if (cur.gtd * (bracket[high].t - bracket[low].t) >= 0) bracket[high] = bracket[low];
        bracket[low] = point;
      }
    }
    const best = bracket[bracket.length > 1 ? low : 0];
    let grad = best.grad;
    if (grad === grad0) {
      // No evaluation beat the start (t = 0): return a copy, the caller disposes its own.
      grad = this.engine.keep(affine(grad0, 1, 0));
    }
    made.delete(grad);
    for (const g of made) g.dispose();
    return { value: best.value, grad, t: best.t, evaluations };
  }

  private clearHistory(): void {
    for (const { s, y } of this.history) {
      s.dispose();
      y.dispose();
    }
    this.history = [];
  }

  dispose(): void {
    this.clearHistory();
    this.direction?.dispose();
    this.direction = null;
    this.prevGrad?.dispose();
    this.prevGrad = null;
  }
}

/**
 * Minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clamped to bounds (default the
 * interval); the bounds' midpoint when the cubic has no minimum (or the numbers are not finite).
 */
export function cubicInterpolate(
  x1: number,
  f1: number,
  g1: number,
  x2: number,
  f2: number,
  g2: number,
  bounds?: [number, number],
): number {
  const [lo, hi] = bounds ?? (x1 <= x2 ? [x1, x2] : [x2, x1]);
  const d1 = g1 + g2 - (3 * (f1 - f2)) / (x1 - x2);
  const d2sq = d1 * d1 - g1 * g2;
  if (d2sq >= 0) {
    const d2 = Math.sqrt(d2sq);
    const minPos =
      x1 <= x2
        ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    if (Number.isFinite(minPos)) return Math.min(Math.max(minPos, lo), hi);
  }
  return (lo + hi) / 2;
}
