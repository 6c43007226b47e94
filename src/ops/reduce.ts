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

type SumEntry = 'sumValues' | 'sumSquaredDifferences' | 'sumTotalVariation';

function kernel(entryPoint: SumEntry | 'broadcast'): Kernel {
  return { name: `reduce.${entryPoint}`, code: source, entryPoint, constants: { WORKGROUP_SIZE, ITEMS_PER_THREAD } };
}

/** What the first pass sums; later passes sum its block sums. */
export type SumTerm =
  | { kind: 'values'; x: Tensor }
  | { kind: 'squaredDifferences'; a: Tensor; b: Tensor }
  /** x viewed as planes of height × width; weights are 1/count of each direction's differences (0 if none). */
  | { kind: 'totalVariation'; x: Tensor; width: number; height: number; weightH: number; weightV: number };

const entryOf: Record<SumTerm['kind'], SumEntry> = {
  values: 'sumValues',
  squaredDifferences: 'sumSquaredDifferences',
  totalVariation: 'sumTotalVariation',
};

/** scale · Σ term(i) over every element, as a new [1] tensor. */
export function sumToScalar(term: SumTerm, scale: number, label: string): Tensor {
  const first = term.kind === 'squaredDifferences' ? term.a : term.x;
  const engine = first.engine;
  const out = Tensor.empty(engine, [1], label);
  let n = first.size;
  let entry: SumEntry = entryOf[term.kind];
  let inputs: (GPUBuffer | null)[] =
    term.kind === 'squaredDifferences' ? [term.a.buffer, term.b.buffer] : [term.x.buffer, null];
  const [width, height, weightH, weightV] =
    term.kind === 'totalVariation' ? [term.width, term.height, term.weightH, term.weightV] : [1, 1, 0, 0];
  let previous: Tensor | null = null;
  for (;;) {
    // An empty input still runs one block so that the result is written (0).
    const blocks = Math.max(1, Math.ceil(n / TERMS_PER_BLOCK));
    const last = blocks === 1;
    const target = last ? out : Tensor.empty(engine, [blocks], `${label}.blockSums`);
    engine.dispatch({
      kernel: kernel(entry),
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
    entry = 'sumValues';
    inputs = [target.buffer, null];
  }
}

/** A new tensor of `shape` filled with upstream[0] · scale, read on the GPU (upstream is a [1] tensor). */
export function broadcastScalar(upstream: Tensor, shape: readonly number[], scale: number, label: string): Tensor {
  const engine = upstream.engine;
  const out = Tensor.empty(engine, shape, label);
  engine.dispatch({
    kernel: kernel('broadcast'),
    buffers: [upstream.buffer, null, out.buffer],
    params: packParams([out.size, 0, 1, 1], [scale, 0, 0]),
    workgroups: workgroups1d(engine, out.size, WORKGROUP_SIZE),
    label,
  });
  return out;
}
