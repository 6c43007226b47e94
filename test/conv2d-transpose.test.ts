import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/engine/errors.js';
import { apply } from '../src/autograd/tape.js';
import { conv2d, conv2dGeometry, paddedConv2dAttrs, tfSameConv2dAttrs, tfSamePadding } from '../src/ops/conv2d.js';
import { conv2dTranspose, conv2dTransposeAsConv } from '../src/ops/conv2d-transpose.js';
import { cpuRandom, type CpuTensor } from '../src/ops/cpu.js';
import { expectClose, maxAbs } from './helpers/check.js';
import { conv2dTransposeCases, tfSameConvCases } from './cases/conv2d-transpose.js';
import { testEngine, toCpu, toGpu } from './helpers/gpu.js';

const forwardTol = { atol: 2e-5, rtol: 1e-5 };

// Seeds apart from the shared cases' (test/cases/conv2d-transpose.ts).
let seed = 900;
const rand = (shape: number[]): CpuTensor => cpuRandom(shape, seed++);

describe('TensorFlow SAME padding', () => {
  it('matches tf.nn.conv2d: ceil(size / stride) outputs, the odd pixel of padding after', () => {
    expect(tfSamePadding(8, 3, 2)).toEqual({ before: 0, after: 1 });
    expect(tfSamePadding(7, 3, 2)).toEqual({ before: 1, after: 1 });
    expect(tfSamePadding(10, 9, 1)).toEqual({ before: 4, after: 4 });
    expect(tfSamePadding(6, 4, 1)).toEqual({ before: 1, after: 2 });
    expect(tfSamePadding(1, 3, 2)).toEqual({ before: 1, after: 1 });
    for (const [h, w, k, s] of [
      [8, 6, 3, 2],
      [7, 9, 3, 2],
      [5, 6, 9, 1],
      [6, 6, 4, 1],
      [7, 7, 4, 2],
    ]) {
      const g = conv2dGeometry([1, 1, h, w], [1, 1, k, k], null, tfSameConv2dAttrs(h, w, k, s));
      expect([g.outHeight, g.outWidth], `${h}×${w} k${k} s${s}`).toEqual([Math.ceil(h / s), Math.ceil(w / s)]);
    }
  });

  it('conv2d attrs from the padding of each axis: one padding before both, padEnd for zero padding only', () => {
    const same = { before: 0, after: 1 };
    expect(paddedConv2dAttrs(same, same, { stride: 2, padMode: 'zeros' }, 'test')).toEqual({
      stride: 2,
      padding: 0,
      padMode: 'zeros',
      padEnd: [1, 1],
    });
    const half = { before: 4, after: 4 };
    expect(paddedConv2dAttrs(half, half, { stride: 1, padMode: 'reflect', upsample: 2 }, 'test')).toEqual({
      stride: 1,
      padding: 4,
      padMode: 'reflect',
      upsample: 2,
    });
    expect(() => paddedConv2dAttrs(same, { before: 1, after: 1 }, { stride: 2, padMode: 'zeros' }, 'x')).toThrow(
      /x pads 0 before the rows but 1 before the columns/,
    );
    expect(() => paddedConv2dAttrs(same, same, { stride: 2, padMode: 'reflect' }, 'x')).toThrow(ShapeError);
  });

  it('refuses sizes whose leading padding differs between the axes, and padEnd with reflect padding', () => {
    expect(() => tfSameConv2dAttrs(8, 7, 3, 2)).toThrow(ShapeError);
    expect(() =>
      conv2dGeometry([1, 1, 5, 5], [1, 1, 3, 3], null, { stride: 1, padding: 1, padMode: 'reflect', padEnd: [0, 1] }),
    ).toThrow(/reflect/);
    expect(() =>
      conv2dGeometry([1, 1, 5, 5], [1, 1, 3, 3], null, {
        stride: 1,
        padding: 1,
        padMode: 'reflect',
        upsample: 2,
        upsampleMode: 'zeros',
      }),
    ).toThrow(/zero padding/);
  });

  // The op-vs-reference cases live in test/cases/conv2d-transpose.ts, shared with the Deno runner.
  for (const c of tfSameConvCases) it(c.name, async () => c.run(await testEngine()));
});

describe('conv2dTranspose (TensorFlow SAME, via conv2d over the zero-inserted input)', () => {
  for (const c of conv2dTransposeCases) it(c.name, async () => c.run(await testEngine()));

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
    expect(conv2dTransposeAsConv(3, { stride: 2 })).toMatchObject({
      stride: 1,
      padding: 2,
      padEnd: [0, 0],
      upsample: 2,
      upsampleMode: 'zeros',
    });
    expect(conv2dTransposeAsConv(4, { stride: 2 })).toMatchObject({ padding: 2, padEnd: [1, 1] });
  });

  it('bad shapes throw ShapeError naming the op', async () => {
    const engine = await testEngine();
    engine.scope(() => {
      const x = toGpu(engine, rand([1, 3, 4, 4]))!;
      expect(() => apply(conv2dTranspose, [x, toGpu(engine, rand([4, 3, 3, 3])), null], { stride: 2 })).toThrow(
        /conv2dTranspose.*input channels/,
      );
      expect(() => apply(conv2dTranspose, [x, toGpu(engine, rand([3, 3, 3, 3])), null], { stride: 3 })).toThrow(
        /stride 3/,
      );
    });
  });

  it('GPU output at 32×24 with 32 → 16 channels matches the reference (sizes past one GEMM tile)', async () => {
    const engine = await testEngine();
    const x = rand([1, 32, 12, 16]);
    const w = rand([32, 16, 3, 3]);
    const expected = conv2dTranspose.reference([x, w, null], { stride: 2 });
    await engine.scopeAsync(async () => {
      const y = apply(conv2dTranspose, [toGpu(engine, x), toGpu(engine, w), null], { stride: 2 });
      expectClose(
        await toCpu(y),
        expected,
        { atol: forwardTol.atol * Math.max(1, maxAbs(expected)), rtol: forwardTol.rtol },
        'forward',
      );
    });
  });
});
