import type { CpuTensor } from '../../src/ops/cpu.js';
import { cpuRandom, cpuTensor } from '../../src/ops/cpu.js';
import type { OpDef, OpInputs } from '../../src/ops/op.js';
import { backward, apply } from '../../src/autograd/tape.js';
import type { Engine } from '../../src/engine/engine.js';
import { expectClose, maxAbs, type Tolerance } from './check.js';
import { toCpu, toGpu } from './tensors.js';

/**
 * d/d(input) of sum(R ⊙ op(inputs)) by central differences on the float64 CPU reference: the true gradient
 * the GPU backward must match, free of float32 noise.
 */
export function numericGradient<A>(
  op: OpDef<A, OpInputs>,
  inputs: readonly (CpuTensor | null)[],
  attrs: A,
  upstream: CpuTensor,
  wrt: number,
  eps = 1e-4,
): CpuTensor {
  const x = inputs[wrt]!;
  const g = cpuTensor(x.shape);
  const probe = inputs.map((t) => (t ? { shape: t.shape, data: Float64Array.from(t.data) } : null));
  const px = probe[wrt]!;
  const objective = (): number => {
    const y = op.reference(probe, attrs);
    let s = 0;
    for (let i = 0; i < y.data.length; i++) s += y.data[i] * upstream.data[i];
    return s;
  };
  for (let i = 0; i < px.data.length; i++) {
    const v = px.data[i];
    px.data[i] = v + eps;
    const plus = objective();
    px.data[i] = v - eps;
    const minus = objective();
    px.data[i] = v;
    g.data[i] = (plus - minus) / (2 * eps);
  }
  return g;
}

export interface OpCase<A> {
  op: OpDef<A, OpInputs>;
  inputs: (CpuTensor | null)[];
  attrs: A;
  forwardTol: Tolerance;
  /** Tolerance for gradients, relative to the largest gradient magnitude (atol scaled by it). */
  gradTol: Tolerance;
  /** Inputs to check gradients for (default: all non-null). */
  wrt?: number[];
  seed?: number;
}

/**
 * Runs an op on the GPU against its float64 reference (forward), then checks the GPU backward of
 * sum(R ⊙ y) for random R against central differences of the reference.
 */
export async function checkOp<A>(engine: Engine, c: OpCase<A>): Promise<void> {
  const expected = c.op.reference(c.inputs, c.attrs);
  await engine.scopeAsync(async () => {
    const gpuInputs = c.inputs.map((t) => toGpu(engine, t));
    const wrt = c.wrt ?? c.inputs.flatMap((t, i) => (t ? [i] : []));
    for (const i of wrt) gpuInputs[i]!.requiresGrad = true;
    const y = apply(c.op, gpuInputs, c.attrs);
    expectClose(await toCpu(y), expected, c.forwardTol, `${c.op.name} forward`);
    const upstream = cpuRandom(expected.shape, c.seed ?? 7);
    backward(y, toGpu(engine, upstream)!);
    for (const i of wrt) {
      const numeric = numericGradient(c.op, c.inputs, c.attrs, upstream, i);
      const got = await toCpu(gpuInputs[i]!.grad!);
      const scale = Math.max(maxAbs(numeric), 1e-6);
      expectClose(
        got,
        numeric,
        { atol: c.gradTol.atol * scale, rtol: c.gradTol.rtol },
        `${c.op.name} d/d${c.op.inputs[i]}`,
      );
    }
  });
}
