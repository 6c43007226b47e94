// The GPU vector reductions and the scalar axpy that L-BFGS reads through (src/ops/vector.ts) against float64
// (test/lbfgs.test.ts, Deno runner).
import { Tensor } from '../../src/engine/tensor.js';
import { cpuRandom } from '../../src/ops/cpu.js';
import { absMax, absSum, axpyScalars, dot, vectorReference } from '../../src/ops/vector.js';
import { assert, type EngineCase } from './case.js';

export const vectorReductionCases: EngineCase[] = [1, 7, 256 * 64, 70_001].map((n) => ({
  name: `dot, absSum, absMax of ${n} values match float64`,
  async run(e) {
    const a = cpuRandom([n], 3, -2, 2);
    const b = cpuRandom([n], 4, -2, 2);
    await e.scopeAsync(async () => {
      const ta = Tensor.fromData(e, [n], Float32Array.from(a.data));
      const tb = Tensor.fromData(e, [n], Float32Array.from(b.data));
      // float32 sums of n terms: error grows ~ sqrt(n)·eps·Σ|terms|.
      const tol = (s: number) => 1e-6 * Math.sqrt(n) * s + 1e-7;
      const refDot = vectorReference.dot(a.data, b.data);
      let absTerms = 0;
      for (let i = 0; i < n; i++) absTerms += Math.abs(a.data[i] * b.data[i]);
      const gotDot = await dot(ta, tb).item();
      assert(Math.abs(gotDot - refDot) <= tol(absTerms), `dot: ${gotDot}, float64 ${refDot}, allowed ${tol(absTerms)}`);
      const refSum = vectorReference.absSum(a.data);
      const gotSum = await absSum(ta).item();
      assert(Math.abs(gotSum - refSum) <= tol(refSum), `absSum: ${gotSum}, float64 ${refSum}, allowed ${tol(refSum)}`);
      const gotMax = await absMax(ta).item();
      assert(
        gotMax === vectorReference.absMax(a.data),
        `absMax: ${gotMax}, expected exactly ${vectorReference.absMax(a.data)}`,
      );
    });
  },
}));

export const axpyScalarsCase: EngineCase = {
  name: 'a + (c0·s0 + c1·s1)·b with the scalars read on the GPU',
  async run(e) {
    const n = 1031;
    const a = cpuRandom([n], 21);
    const b = cpuRandom([n], 22);
    await e.scopeAsync(async () => {
      const ta = Tensor.fromData(e, [n], Float32Array.from(a.data));
      const tb = Tensor.fromData(e, [n], Float32Array.from(b.data));
      const s0 = Tensor.fromData(e, [1], [1.5]);
      const s1 = Tensor.fromData(e, [1], [-4]);
      const got = await axpyScalars(ta, tb, s0, 2, s1, 0.25).data();
      const one = await axpyScalars(ta, tb, s1, -0.5).data();
      for (let i = 0; i < n; i++) {
        const want = a.data[i] + (2 * 1.5 + 0.25 * -4) * b.data[i];
        assert(Math.abs(got[i] - want) < 1e-6, `two scalars, element ${i}: ${got[i]}, expected ${want}`);
        const wantOne = a.data[i] + 2 * b.data[i];
        assert(Math.abs(one[i] - wantOne) < 1e-6, `one scalar, element ${i}: ${one[i]}, expected ${wantOne}`);
      }
    });
  },
};
