// Elementwise comparison against float64 references. Plain Errors, no test framework: the shared case
// tables of test/cases (run by vitest and by the Deno runner) use it too.
import type { CpuTensor } from '../../src/ops/cpu.js';

export interface Tolerance {
  /** Allowed |a − b| ≤ atol + rtol·|b|. */
  atol: number;
  rtol: number;
}

/** Asserts two tensors agree elementwise; on failure reports the worst element with its index. */
export function expectClose(
  actual: CpuTensor | ArrayLike<number>,
  expected: CpuTensor,
  tol: Tolerance,
  what = '',
): void {
  const a = 'data' in actual ? actual.data : actual;
  if ('shape' in actual && actual.shape.join(',') !== expected.shape.join(',')) {
    throw new Error(`${what} shape: [${actual.shape.join(', ')}], expected [${expected.shape.join(', ')}]`);
  }
  if (a.length !== expected.data.length)
    throw new Error(`${what} length: ${a.length}, expected ${expected.data.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    const e = expected.data[i];
    const err = Math.abs(a[i] - e);
    const excess = err - (tol.atol + tol.rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${what}: element ${worst} of [${expected.shape.join(', ')}] is ${a[worst]}, expected ${expected.data[worst]} ` +
        `(atol ${tol.atol}, rtol ${tol.rtol})`,
    );
  }
}

/** Largest absolute value, to scale tolerances to the data. */
export function maxAbs(t: CpuTensor): number {
  let m = 0;
  for (const v of t.data) m = Math.max(m, Math.abs(v));
  return m;
}
