import { workgroups1d } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import { packParams, type Kernel } from '../engine/kernel.js';
import { Tensor } from '../engine/tensor.js';
import source from '../shaders/vector.wgsl';

/**
 * Host side of shaders/vector.wgsl: reductions of whole tensors (seen as flat vectors) to a [1] tensor, for
 * optimisers that need inner products and norms (L-BFGS). Not differentiable (no autograd op): like
 * `axpby`, kernels used on values, not on the tape. Two dispatches, deterministic order of additions.
 */

const WORKGROUP_SIZE = 256;
const PARTIALS = 64;

const Code = { dot: 0, absSum: 1, absMax: 2 } as const;
type Reduction = keyof typeof Code;

function kernel(entryPoint: 'partial' | 'finish' | 'axpyScalars', op: Reduction): Kernel {
  return {
    name: `vector.${entryPoint}`,
    code: source,
    entryPoint,
    constants: { WORKGROUP_SIZE, PARTIALS, OP: Code[op] },
  };
}

function reduce(op: Reduction, a: Tensor, b: Tensor | null, label: string): Tensor {
  const engine = a.engine;
  const partials = Tensor.empty(engine, [PARTIALS], `${label}.partials`);
  const out = Tensor.empty(engine, [1], label);
  engine.dispatch({
    kernel: kernel('partial', op),
    buffers: [a.buffer, (b ?? a).buffer, partials.buffer],
    params: packParams([a.size], [0, 0]),
    workgroups: [PARTIALS],
    label,
  });
  engine.dispatch({
    kernel: kernel('finish', op),
    buffers: [partials.buffer, null, out.buffer],
    params: packParams([PARTIALS], [0, 0]),
    workgroups: [1],
    label,
  });
  // Stream order: the pooled buffer is handed out again only to work recorded after this.
  partials.dispose();
  return out;
}

/** Σ a[i]·b[i] over all elements (any shapes of equal size), as a [1] tensor. */
export function dot(a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size) throw new ShapeError(`dot: sizes of ${shapeStr(a.shape)} and ${shapeStr(b.shape)} differ`);
  return reduce('dot', a, b, 'dot');
}

/** Σ |x[i]| (the L1 norm), as a [1] tensor. */
export function absSum(x: Tensor): Tensor {
  return reduce('absSum', x, null, 'absSum');
}

/** max |x[i]| (the max norm; 0 for an empty tensor), as a [1] tensor. */
export function absMax(x: Tensor): Tensor {
  return reduce('absMax', x, null, 'absMax');
}

/**
 * a + (c0·s0[0] + c1·s1[0])·b with s0, s1 [1] tensors read on the GPU (e.g. dot results): an axpy whose
 * coefficient never comes back to the CPU. s1 defaults to s0 (pass c1 = 0 to use one scalar).
 */
export function axpyScalars(a: Tensor, b: Tensor, s0: Tensor, c0: number, s1: Tensor = s0, c1 = 0): Tensor {
  if (a.size !== b.size)
    throw new ShapeError(`axpyScalars: sizes of ${shapeStr(a.shape)} and ${shapeStr(b.shape)} differ`);
  if (s0.size < 1 || s1.size < 1) throw new ShapeError('axpyScalars: the scalars must have an element');
  const engine = a.engine;
  const out = Tensor.empty(engine, a.shape, 'axpyScalars');
  engine.dispatch({
    kernel: kernel('axpyScalars', 'dot'),
    buffers: [a.buffer, b.buffer, out.buffer, s0.buffer, s1.buffer],
    params: packParams([a.size], [c0, c1]),
    workgroups: workgroups1d(engine, a.size, WORKGROUP_SIZE),
    label: 'axpyScalars',
  });
  return out;
}

/** Float64 references of the three reductions, for tests. */
export const vectorReference = {
  dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  },
  absSum(x: ArrayLike<number>): number {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += Math.abs(x[i]);
    return s;
  },
  absMax(x: ArrayLike<number>): number {
    let m = 0;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
    return m;
  },
};
