import { describe, expect, it } from 'vitest';
import { apply, backward } from '../src/autograd/tape.js';
import { ShapeError } from '../src/engine/errors.js';
import { Tensor } from '../src/engine/tensor.js';
import { cpuRandom, cpuTensor, type CpuTensor } from '../src/ops/cpu.js';
import { instanceNorm } from '../src/ops/instance-norm.js';
import { expectClose } from './helpers/check.js';
import { numericGradient } from './helpers/gradcheck.js';
import { expectNoBufferLeft } from './helpers/memory.js';
import { testEngine, toCpu, toGpu } from './helpers/gpu.js';
import { affineParams, forwardTol, instanceNormCases } from './cases/instance-norm.js';

// The op-vs-reference cases live in test/cases/instance-norm.ts, shared with the Deno runner (test/deno/run.ts).
describe('instanceNorm vs float64 reference', () => {
  for (const c of instanceNormCases) it(c.name, async () => c.run(await testEngine()));
});

/** Float64 backward of instanceNorm: dx, dgamma, dbeta for upstream dy. */
function referenceBackward(x: CpuTensor, gamma: CpuTensor, dy: CpuTensor, eps: number): CpuTensor[] {
  const [batch, channels, h, w] = x.shape;
  const n = h * w;
  const dx = cpuTensor(x.shape);
  const dgamma = cpuTensor([channels]);
  const dbeta = cpuTensor([channels]);
  for (let plane = 0; plane < batch * channels; plane++) {
    const c = plane % channels;
    const base = plane * n;
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x.data[base + i];
    mean /= n;
    let variance = 0;
    for (let i = 0; i < n; i++) variance += (x.data[base + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / n + eps);
    let sumDy = 0;
    let sumDyXhat = 0;
    for (let i = 0; i < n; i++) {
      sumDy += dy.data[base + i];
      sumDyXhat += dy.data[base + i] * (x.data[base + i] - mean) * inv;
    }
    dgamma.data[c] += sumDyXhat;
    dbeta.data[c] += sumDy;
    for (let i = 0; i < n; i++) {
      const xhat = (x.data[base + i] - mean) * inv;
      dx.data[base + i] = inv * gamma.data[c] * (dy.data[base + i] - sumDy / n - (xhat * sumDyXhat) / n);
    }
  }
  return [dx, dgamma, dbeta];
}

describe('instanceNorm, mid-size (GPU vs float64, no finite differences)', () => {
  it('2×3×67×45 around 127 ± 1: forward and backward', async () => {
    const e = await testEngine();
    const shape = [2, 3, 67, 45];
    const x = cpuRandom(shape, 70, 126, 128);
    const [gamma, beta] = affineParams(3, 71);
    const dy = cpuRandom(shape, 72);
    const eps = 1e-5;
    const expected = instanceNorm.reference([x, gamma, beta], { eps });
    const [dxRef, dgRef, dbRef] = referenceBackward(x, gamma, dy, eps);
    await e.scopeAsync(async () => {
      const gx = toGpu(e, x)!;
      const gg = toGpu(e, gamma)!;
      const gb = toGpu(e, beta)!;
      const { output, saved } = instanceNorm.forward([gx, gg, gb], { eps });
      expectClose(await toCpu(output), expected, forwardTol, 'instanceNorm forward');
      const grads = instanceNorm.backward!(
        { saved, attrs: { eps }, inputShapes: [shape, [3], [3]], needsGrad: [true, true, true] },
        toGpu(e, dy)!,
      );
      // dx is O(10) here (1/std ≈ 1.7, times gamma); dgamma and dbeta are sums of 3015·2 terms.
      expectClose(await toCpu(grads[0]!), dxRef, { atol: 1e-4, rtol: 1e-4 }, 'instanceNorm dx');
      expectClose(await toCpu(grads[1]!), dgRef, { atol: 1e-3, rtol: 1e-4 }, 'instanceNorm dgamma');
      expectClose(await toCpu(grads[2]!), dbRef, { atol: 1e-3, rtol: 1e-4 }, 'instanceNorm dbeta');
    });
  });

  it('the float64 backward above agrees with finite differences', async () => {
    // Guards the mid-size test's own reference.
    const shape = [2, 2, 3, 5];
    const x = cpuRandom(shape, 80);
    const [gamma, beta] = affineParams(2, 81);
    const dy = cpuRandom(shape, 82);
    const analytic = referenceBackward(x, gamma, dy, 1e-5);
    for (let i = 0; i < 3; i++) {
      const numeric = numericGradient(instanceNorm, [x, gamma, beta], { eps: 1e-5 }, dy, i);
      expectClose(analytic[i], numeric, { atol: 1e-6, rtol: 1e-5 }, `reference backward ${i}`);
    }
  });

  it('one 1024×1024 plane of 127 ± 1 (a long per-thread loop)', async () => {
    const e = await testEngine();
    const x = cpuRandom([1, 1, 1024, 1024], 90, 126, 128);
    const expected = instanceNorm.reference([x, null, null], { eps: 1e-5 });
    await e.scopeAsync(async () => {
      const y = apply(instanceNorm, [toGpu(e, x), null, null], { eps: 1e-5 });
      expectClose(await toCpu(y), expected, forwardTol, 'instanceNorm forward 1024²');
    });
  });
});

describe('instanceNorm shape errors', () => {
  it('names the op and the shapes', async () => {
    const e = await testEngine();
    e.scope(() => {
      const x3 = Tensor.zeros(e, [2, 3, 4]);
      expect(() => apply(instanceNorm, [x3, null, null], { eps: 1e-5 })).toThrow(ShapeError);
      expect(() => apply(instanceNorm, [x3, null, null], { eps: 1e-5 })).toThrow(/instanceNorm.*\[2, 3, 4\]/);
      const x = Tensor.zeros(e, [2, 3, 4, 4]);
      const gamma4 = Tensor.zeros(e, [4]);
      expect(() => apply(instanceNorm, [x, gamma4, null], { eps: 1e-5 })).toThrow(
        /instanceNorm: gamma must be \[3\].*\[4\]/,
      );
      expect(() => apply(instanceNorm, [x, null, gamma4], { eps: 1e-5 })).toThrow(/instanceNorm: beta must be \[3\]/);
    });
  });
});

describe('instanceNorm memory', () => {
  it('forward + backward leave no buffer behind (stats, plane sums, stand-in gamma/beta)', async () => {
    const e = await testEngine();
    await expectNoBufferLeft(e, () => {
      for (const affine of [true, false]) {
        const x = Tensor.fromData(e, [2, 3, 5, 4], cpuRandom([2, 3, 5, 4], 100).data);
        const gamma = affine ? Tensor.full(e, [3], 1.5) : null;
        const beta = affine ? Tensor.full(e, [3], 0.25) : null;
        for (const t of [x, gamma, beta]) if (t) t.requiresGrad = true;
        const y = apply(instanceNorm, [x, gamma, beta], { eps: 1e-5 });
        const dy = Tensor.full(e, y.shape, 1);
        backward(y, dy);
        expect(x.grad?.shape).toEqual([2, 3, 5, 4]);
        for (const t of [x, gamma, beta, y, dy]) t?.dispose();
      }
    });
  });
});
