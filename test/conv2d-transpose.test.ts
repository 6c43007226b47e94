import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/engine/errors.js';
import { apply } from '../src/autograd/tape.js';
import {
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  conv2dForward,
  conv2dGeometry,
  tfSameConv2dAttrs,
  tfSamePadding,
  type Conv2dAttrs,
  type Conv2dImpl,
} from '../src/ops/conv2d.js';
import { conv2dTranspose, conv2dTransposeAsConv, conv2dTransposeSettings, type Conv2dTransposeAttrs, type Conv2dTransposeImpl } from '../src/ops/conv2d-transpose.js';
import { cpuRandom, type CpuTensor } from '../src/ops/cpu.js';
import type { OpDef } from '../src/ops/op.js';
import { expectClose, maxAbs } from './helpers/check.js';
import { checkOp } from './helpers/gradcheck.js';
import { testEngine, toCpu, toGpu } from './helpers/gpu.js';

const forwardTol = { atol: 2e-5, rtol: 1e-5 };
const gradTol = { atol: 1e-5, rtol: 1e-4 };

let seed = 300;
const rand = (shape: number[]): CpuTensor => cpuRandom(shape, seed++);

/** The conv2d op pinned to one implementation, so that both the direct and the tiled kernels are checked. */
function conv2dWith(impl: Conv2dImpl): OpDef<Conv2dAttrs> {
  return {
    ...conv2d,
    name: `conv2d[${impl}]`,
    forward([x, w, b], attrs) {
      return { output: conv2dForward(x!, w!, b, attrs, impl), saved: [x, w] };
    },
    backward({ saved: [x, w], attrs, inputShapes, needsGrad }, dy) {
      return [
        needsGrad[0] ? conv2dBackwardInput(dy, w!, inputShapes[0]!, attrs, impl) : null,
        needsGrad[1] ? conv2dBackwardWeight(dy, x!, inputShapes[1]!, attrs, impl) : null,
        null,
      ];
    },
  };
}

describe('TensorFlow SAME padding', () => {
  it('matches tf.nn.conv2d: ceil(size / stride) outputs, the odd pixel of padding after', () => {
    expect(tfSamePadding(8, 3, 2)).toEqual({ before: 0, after: 1 });
    expect(tfSamePadding(7, 3, 2)).toEqual({ before: 1, after: 1 });
    expect(tfSamePadding(10, 9, 1)).toEqual({ before: 4, after: 4 });
    expect(tfSamePadding(6, 4, 1)).toEqual({ before: 1, after: 2 });
    expect(tfSamePadding(1, 3, 2)).toEqual({ before: 1, after: 1 });
    for (const [h, w, k, s] of [[8, 6, 3, 2], [7, 9, 3, 2], [5, 6, 9, 1], [6, 6, 4, 1], [7, 7, 4, 2]]) {
      const g = conv2dGeometry([1, 1, h, w], [1, 1, k, k], null, tfSameConv2dAttrs(h, w, k, s));
      expect([g.outHeight, g.outWidth], `${h}×${w} k${k} s${s}`).toEqual([Math.ceil(h / s), Math.ceil(w / s)]);
    }
  });

  it('refuses sizes whose leading padding differs between the axes, and padEnd with reflect padding', () => {
    expect(() => tfSameConv2dAttrs(8, 7, 3, 2)).toThrow(ShapeError);
    expect(() => conv2dGeometry([1, 1, 5, 5], [1, 1, 3, 3], null, { stride: 1, padding: 1, padMode: 'reflect', padEnd: [0, 1] })).toThrow(/reflect/);
    expect(() => conv2dGeometry([1, 1, 5, 5], [1, 1, 3, 3], null, { stride: 1, padding: 1, padMode: 'reflect', upsample: 2, upsampleMode: 'zeros' })).toThrow(/zero padding/);
  });

  // Odd and even sizes, batch 2, channels not a multiple of 4; the padding after differs from before.
  const cases: { name: string; x: number[]; w: number[]; attrs: Conv2dAttrs }[] = [
    { name: 'K3 s2 on an even 6×8 input (0 before, 1 after)', x: [2, 3, 6, 8], w: [5, 3, 3, 3], attrs: tfSameConv2dAttrs(6, 8, 3, 2) },
    { name: 'K3 s2 on an odd 7×5 input (1 before and after)', x: [2, 3, 7, 5], w: [5, 3, 3, 3], attrs: tfSameConv2dAttrs(7, 5, 3, 2) },
    { name: 'K4 s1 on 5×6 (1 before, 2 after)', x: [1, 5, 5, 6], w: [3, 5, 4, 4], attrs: tfSameConv2dAttrs(5, 6, 4, 1) },
    { name: 'K5 s1 on 3×4: padding larger than half the input', x: [2, 2, 3, 4], w: [3, 2, 5, 5], attrs: tfSameConv2dAttrs(3, 4, 5, 1) },
  ];
  for (const c of cases) {
    it(`conv2d ${c.name}: direct and tiled vs float64 reference and finite differences`, async () => {
      const engine = await testEngine();
      const data = [rand(c.x), rand(c.w), null];
      for (const impl of ['direct', 'tiled'] as const) {
        await checkOp(engine, { op: conv2dWith(impl), inputs: data, attrs: c.attrs, forwardTol, gradTol });
      }
    });
  }

  it('conv2d as registered with 16+ channels (tiled GEMM, phase input gradient) on an even input', async () => {
    const engine = await testEngine();
    const attrs = tfSameConv2dAttrs(6, 4, 3, 2);
    await checkOp(engine, { op: conv2d, inputs: [rand([2, 16, 6, 4]), rand([17, 16, 3, 3]), rand([17])], attrs, forwardTol, gradTol });
  });
});

describe('conv2dTranspose (TensorFlow SAME, via conv2d over the zero-inserted input)', () => {
  const cases: { name: string; x: number[]; w: number[]; bias: boolean; attrs: Conv2dTransposeAttrs }[] = [
    { name: 'K3 s2, odd 3×5, batch 2, 3→5 channels, no bias', x: [2, 3, 3, 5], w: [3, 5, 3, 3], bias: false, attrs: { stride: 2 } },
    { name: 'K3 s2, 4×2, 5→3 channels, bias', x: [1, 5, 4, 2], w: [5, 3, 3, 3], bias: true, attrs: { stride: 2 } },
    { name: 'K3 s2, 1×1 input', x: [2, 2, 1, 1], w: [2, 3, 3, 3], bias: true, attrs: { stride: 2 } },
    { name: 'K4 s2 (even kernel: 1 before)', x: [1, 2, 3, 4], w: [2, 3, 4, 4], bias: false, attrs: { stride: 2 } },
    { name: 'K3 s1', x: [2, 3, 5, 3], w: [3, 2, 3, 3], bias: true, attrs: { stride: 1 } },
  ];
  /** Runs fn with the op switched to one implementation (restored afterwards). */
  async function withImpl(impl: Conv2dTransposeImpl, fn: () => Promise<void>): Promise<void> {
    const before = conv2dTransposeSettings.impl;
    conv2dTransposeSettings.impl = impl;
    try {
      await fn();
    } finally {
      conv2dTransposeSettings.impl = before;
    }
  }

  for (const c of cases) {
    // The adjoint implementation takes no bias: with one, the op runs zero-insert whatever the setting.
    for (const impl of c.bias ? (['zero-insert'] as const) : (['zero-insert', 'adjoint'] as const)) {
      it(`${c.name} [${impl}]`, async () => {
        const engine = await testEngine();
        const inputs = [rand(c.x), rand(c.w), c.bias ? rand([c.w[1]]) : null];
        await withImpl(impl, () => checkOp(engine, { op: conv2dTranspose, inputs, attrs: c.attrs, forwardTol, gradTol }));
      });
    }
  }

  it('16 → 17 channels, batch 2 (zero-insert: the 3×3 forward runs Winograd, the backward the tiled GEMMs)', async () => {
    const engine = await testEngine();
    await checkOp(engine, { op: conv2dTranspose, inputs: [rand([2, 16, 3, 4]), rand([16, 17, 3, 3]), rand([17])], attrs: { stride: 2 }, forwardTol, gradTol });
  });

  it('16 → 17 channels, batch 2, no bias [adjoint: phase GEMMs forward, tiled conv and weight gradient backward]', async () => {
    const engine = await testEngine();
    await withImpl('adjoint', () => checkOp(engine, { op: conv2dTranspose, inputs: [rand([2, 16, 3, 4]), rand([16, 17, 3, 3]), null], attrs: { stride: 2 }, forwardTol, gradTol }));
  });

  it('its reference is the adjoint of the SAME stride-2 conv: <conv(u), v> = <u, convT(v)>', () => {
    // conv: [Cout=4, Cin=3] weight; its transpose maps 4 channels back to 3 with the same weight as [Cin', Cout'] = [4, 3].
    const u = rand([2, 3, 6, 8]);
    const w = rand([4, 3, 3, 3]);
    const y = conv2d.reference([u, w, null], tfSameConv2dAttrs(6, 8, 3, 2));
    const v = rand(y.shape);
    const back = conv2dTranspose.reference([v, w, null], { stride: 2 });
    expect(back.shape).toEqual(u.shape);
    let lhs = 0;
    let rhs = 0;
    for (let i = 0; i < y.data.length; i++) lhs += y.data[i] * v.data[i];
    for (let i = 0; i < u.data.length; i++) rhs += u.data[i] * back.data[i];
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-9 * Math.max(1, Math.abs(lhs)));
  });

  it('the equivalent conv pads K − 1 − b before and b after the dilated input', () => {
    expect(conv2dTransposeAsConv(3, { stride: 2 })).toMatchObject({ stride: 1, padding: 2, padEnd: [0, 0], upsample: 2, upsampleMode: 'zeros' });
    expect(conv2dTransposeAsConv(4, { stride: 2 })).toMatchObject({ padding: 2, padEnd: [1, 1] });
  });

  it('bad shapes throw ShapeError naming the op', async () => {
    const engine = await testEngine();
    engine.scope(() => {
      const x = toGpu(engine, rand([1, 3, 4, 4]))!;
      expect(() => apply(conv2dTranspose, [x, toGpu(engine, rand([4, 3, 3, 3])), null], { stride: 2 })).toThrow(/conv2dTranspose.*input channels/);
      expect(() => apply(conv2dTranspose, [x, toGpu(engine, rand([3, 3, 3, 3])), null], { stride: 3 })).toThrow(/stride 3/);
    });
  });

  it('GPU output at 32×24 with 32 → 16 channels matches the reference (sizes past one GEMM tile)', async () => {
    const engine = await testEngine();
    const x = rand([1, 32, 12, 16]);
    const w = rand([32, 16, 3, 3]);
    const expected = conv2dTranspose.reference([x, w, null], { stride: 2 });
    await engine.scopeAsync(async () => {
      const y = apply(conv2dTranspose, [toGpu(engine, x), toGpu(engine, w), null], { stride: 2 });
      expectClose(await toCpu(y), expected, { atol: forwardTol.atol * Math.max(1, maxAbs(expected)), rtol: forwardTol.rtol }, 'forward');
    });
  });
});
