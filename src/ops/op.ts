import type { Tensor } from '../engine/tensor.js';
import type { CpuTensor } from './cpu.js';

export interface BackwardContext<A> {
  /** The tensors the forward chose to keep, in its order. */
  saved: readonly (Tensor | null)[];
  attrs: A;
  inputShapes: readonly (readonly number[] | null)[];
  /** Which inputs want a gradient: compute only those. */
  needsGrad: readonly boolean[];
}

/**
 * A differentiable op: forward kernel(s), backward rule and float64 CPU reference, side by side.
 *
 * Ownership: forward returns a new output; `saved` may hold inputs, the output, or extra tensors the forward
 * made (the tape retains them for backward and disposes the extras when they are no longer needed).
 * backward returns one gradient per input (null where not needed); a gradient may be `gradOutput` itself
 * (pass-through): the tape copies where one tensor would otherwise have two owners.
 */
export interface OpDef<A = Record<string, never>> {
  name: string;
  /** Input names, in order (for errors and tests). */
  inputs: readonly string[];
  /** Inputs that may be null (e.g. an absent bias). */
  optional?: readonly string[];
  forward(inputs: readonly (Tensor | null)[], attrs: A): { output: Tensor; saved: (Tensor | null)[] };
  backward?(ctx: BackwardContext<A>, gradOutput: Tensor): (Tensor | null)[];
  reference(inputs: readonly (CpuTensor | null)[], attrs: A): CpuTensor;
}

export function defineOp<A>(def: OpDef<A>): OpDef<A> {
  return def;
}
