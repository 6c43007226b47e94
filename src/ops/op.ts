import type { Tensor } from '../engine/tensor.js';
import type { CpuTensor } from './cpu.js';

/**
 * An op's inputs as a tuple, null where an input is optional: e.g. [x: Tensor, weight: Tensor, bias: Tensor | null].
 * `apply` checks at run time that the required ones are there, so that forward and backward need not.
 */
export type OpInputs = readonly (Tensor | null)[];

/** The attrs of an op that takes none. */
export type NoAttrs = Record<string, never>;

/** Per input, a value of type T, or of type T | null where the input is optional. */
type PerInput<I extends OpInputs, T> = { readonly [K in keyof I]: I[K] extends Tensor ? T : T | null };

/** The reference's inputs: float64 CPU tensors where the op's inputs are GPU tensors. */
export type CpuInputs<I extends OpInputs> = PerInput<I, CpuTensor>;

export interface BackwardContext<A, I extends OpInputs, S extends OpInputs> {
  /** The tensors the forward chose to keep, in its order. */
  saved: readonly [...S];
  attrs: A;
  inputShapes: PerInput<I, readonly number[]>;
  /** Which inputs want a gradient: compute only those. */
  needsGrad: { readonly [K in keyof I]: boolean };
}

/**
 * A differentiable op: forward kernel(s), backward rule and float64 CPU reference, side by side. `I` is the
 * tuple of its inputs, `S` the tuple of what its forward saves for the backward.
 *
 * Ownership: forward returns a new output; `saved` may hold inputs, the output, or extra tensors the forward
 * made (the tape retains them for backward and disposes the extras when they are no longer needed).
 * backward returns one gradient per input (null where not needed); a gradient may be `gradOutput` itself
 * (pass-through): the tape copies where one tensor would otherwise have two owners.
 */
export interface OpDef<A, I extends OpInputs, S extends OpInputs = OpInputs> {
  name: string;
  /** Input names, in order (for errors and tests). */
  inputs: { readonly [K in keyof I]: string };
  /** Inputs that may be null (e.g. an absent bias). */
  optional?: readonly string[];
  // `readonly [...S]` makes TypeScript infer the saved array literal as a tuple.
  forward(inputs: I, attrs: A): { output: Tensor; saved: readonly [...S] };
  backward?(ctx: BackwardContext<A, I, S>, gradOutput: Tensor): { [K in keyof I]: Tensor | null };
  reference(inputs: CpuInputs<I>, attrs: A): CpuTensor;
}

/**
 * Any op, its attrs and inputs unknown statically: what the tape records and registries list. Every OpDef is
 * one (its methods' parameters compare both ways); `apply` checks the inputs at run time.
 */
export type AnyOpDef = OpDef<unknown, OpInputs, OpInputs>;

/** Declares an op; A, I and S are inferred from the forward's parameter and return types. */
export function defineOp<A = NoAttrs, I extends OpInputs = OpInputs, S extends OpInputs = OpInputs>(
  def: OpDef<A, I, S>,
): OpDef<A, I, S> {
  return def;
}
