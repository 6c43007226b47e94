import { workgroups1d } from '../engine/engine.js';
import { packParams, type Kernel } from '../engine/kernel.js';
import { Tensor } from '../engine/tensor.js';
import source from '../shaders/reduce.wgsl';

/**
 * Host side of shaders/reduce.wgsl: whole-tensor sums to a [1] tensor in a fixed order (deterministic),
 * in passes of block sums, and the broadcast that is their adjoint.
 */

const WORKGROUP_SIZE = 256;
const ITEMS_PER_THREAD = 8;
/** Terms one workgroup sums per pass. */
export const TERMS_PER_BLOCK = WORKGROUP_SIZE * ITEMS_PER_THREAD;

/** reduce.wgsl's TERM_* codes: what its `sum` entry point adds up (one pipeline each). */
const TERM_CODE = { values: 0, squaredDifferences: 1, totalVariation: 2 } as const;

function sumKernel(kind: SumTerm['kind']): Kernel {
  return {
    name: 'reduce.sum',
    code: source,
    entryPoint: 'sum',
    constants: { WORKGROUP_SIZE, ITEMS_PER_THREAD, TERM: TERM_CODE[kind] },
  };
}

const BROADCAST_KERNEL: Kernel = {
  name: 'reduce.broadcast',
  code: source,
  entryPoint: 'broadcast',
  constants: { WORKGROUP_SIZE, ITEMS_PER_THREAD },
};

/** What the first pass sums; later passes sum its block sums. */
export type SumTerm =
  | { kind: 'values'; x: Tensor }
  | { kind: 'squaredDifferences'; a: Tensor; b: Tensor }
  /** x viewed as planes of height × width; weights are 1/count of each direction's differences (0 if none). */
  | { kind: 'totalVariation'; x: Tensor; width: number; height: number; weightH: number; weightV: number };

/** scale · Σ term(i) over every element, as a new [1] tensor. */
export function sumToScalar(term: SumTerm, scale: number, label: string): Tensor {
  const first = term.kind === 'squaredDifferences' ? term.a : term.x;
  const engine = first.engine;
  const out = Tensor.empty(engine, [1], label);
  let n = first.size;
  let kind: SumTerm['kind'] = term.kind;
  // in1 is bound for every term (the shader's one `sum` entry point declares it); only squared differences read it.
  let inputs: GPUBuffer[] =
    term.kind === 'squaredDifferences' ? [term.a.buffer, term.b.buffer] : [term.x.buffer, term.x.buffer];
  const [width, height, weightH, weightV] =
    term.kind === 'totalVariation' ? [term.width, term.height, term.weightH, term.weightV] : [1, 1, 0, 0];
  let previous: Tensor | null = null;
  for (;;) {
    // An empty input still runs one block so that the result is written (0).
    const blocks = Math.max(1, Math.ceil(n / TERMS_PER_BLOCK));
    const last = blocks === 1;
    const target = last ? out : Tensor.empty(engine, [blocks], `${label}.blockSums`);
    engine.dispatch({
      kernel: sumKernel(kind),
      buffers: [...inputs, target.buffer],
      params: packParams([n, blocks, width, height], [last ? scale : 1, weightH, weightV]),
      workgroups: workgroups1d(engine, blocks, 1),
      label,
    });
    // Buffers are reused in stream order, so the block sums can go back to the pool once the next pass
    // that reads them is recorded.
    previous?.dispose();
    if (last) return out;
    previous = target;
    n = blocks;
    kind = 'values';
    inputs = [target.buffer, target.buffer];
  }
}

/** A new tensor of `shape` filled with upstream[0] · scale, read on the GPU (upstream is a [1] tensor). */
export function broadcastScalar(upstream: Tensor, shape: readonly number[], scale: number, label: string): Tensor {
  const engine = upstream.engine;
  const out = Tensor.empty(engine, shape, label);
  engine.dispatch({
    kernel: BROADCAST_KERNEL,
    buffers: [upstream.buffer, null, out.buffer],
    params: packParams([out.size, 0, 1, 1], [scale, 0, 0]),
    workgroups: workgroups1d(engine, out.size, WORKGROUP_SIZE),
    label,
  });
  return out;
}
