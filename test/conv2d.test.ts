import { describe, expect, it } from 'vitest';
import type { Engine, EngineLimits } from '../src/engine/engine.js';
import { ShapeError } from '../src/engine/errors.js';
import { createNodeEngine } from '../src/engine/node.js';
import { Tensor } from '../src/engine/tensor.js';
import {
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  conv2dForward,
  conv2dGeometry,
  gemmTileFor,
  gemmTileWorkgroupBytes,
  type Conv2dAttrs,
} from '../src/ops/conv2d.js';
import { forwardTapMajor, planConv2dFor, weightGradSplits } from '../src/ops/conv2d-plan.js';
import { cpuRandom, cpuTensor, type CpuTensor } from '../src/ops/cpu.js';
import { expectClose, maxAbs } from './helpers/check.js';
import { testEngine, toCpu, toGpu } from './helpers/gpu.js';
import {
  compareImpls,
  conv2dRegisteredCase,
  conv2dSmallCases,
  forwardTol,
  gradTol,
  inputs,
  reflect,
  s2,
  seeds,
  up2,
  up2s2,
  withGemmFeed,
  zeros,
  type Case,
} from './cases/conv2d.js';

/**
 * Float64 gradient of sum(dy ⊙ conv(x, w, b)) w.r.t. x or w by linearity: conv is linear in x and in w
 * separately, so d/dx_i = Σ dy ⊙ conv(e_i, w, 0), one basis vector at a time. Exact (no finite-difference
 * step), used for shapes too big for checkOp's central differences to be quick, but still O(size²): keep shapes
 * moderate.
 */
function exactGradient(which: 'x' | 'w', x: CpuTensor, w: CpuTensor, attrs: Conv2dAttrs, dy: CpuTensor): CpuTensor {
  const t = which === 'x' ? x : w;
  const g = cpuTensor(t.shape);
  const e = cpuTensor(t.shape);
  for (let i = 0; i < e.data.length; i++) {
    e.data[i] = 1;
    const y = conv2d.reference(which === 'x' ? [e, w, null] : [x, e, null], attrs);
    let s = 0;
    for (let j = 0; j < y.data.length; j++) s += y.data[j] * dy.data[j];
    g.data[i] = s;
    e.data[i] = 0;
  }
  return g;
}

/** The forward against the float64 reference, within forwardTol scaled by the reference's largest value. */
async function expectForward(y: Tensor, expected: CpuTensor, label: string): Promise<void> {
  expectClose(await toCpu(y), expected, { atol: forwardTol.atol * maxAbs(expected), rtol: forwardTol.rtol }, label);
}

// The op-vs-reference cases live in test/cases/conv2d.ts, shared with the Deno runner (test/deno/run.ts).
describe('conv2d vs float64 reference and finite differences', () => {
  for (const c of conv2dSmallCases) it(c.name, async () => c.run(await testEngine()));
});

describe('conv2d as registered', () => {
  it(conv2dRegisteredCase.name, async () => conv2dRegisteredCase.run(await testEngine()));

  it('picks a GEMM for 8+ channels (and the narrow kernels for ≤ 4 output channels), direct otherwise', async () => {
    const engine = await testEngine();
    const g = conv2dGeometry([1, 8, 5, 4], [3, 8, 3, 3], null, zeros(1));
    // Forward and weight gradient with ≤ 4 output channels: the narrow kernels.
    const kinds = (['forward', 'backwardInput', 'backwardWeight'] as const).map(
      (pass) => planConv2dFor(engine, pass, g).kind,
    );
    expect(kinds).toEqual(['narrow', 'gemm', 'narrow']);
    const g5 = conv2dGeometry([1, 8, 5, 4], [5, 8, 3, 3], null, zeros(1));
    expect(planConv2dFor(engine, 'forward', g5).kind).toBe('direct');
  });
});

describe('conv2d over several tiles', () => {
  it('Cout, N·Ho·Wo and Cin·K·K past and not multiples of the tile sizes: exact float64 gradients', async () => {
    // Cout 67 = 2 row tiles, N·Ho·Wo = 2·9·7 = 126 = 2 column tiles, Cin·K·K = 54 = 4 partial k tiles.
    const c: Case = { name: 'multi-tile', x: [2, 6, 9, 7], w: [67, 6, 3, 3], bias: true, attrs: reflect(1) };
    const engine = await testEngine();
    const [x, w, b] = inputs(c);
    const expected = conv2d.reference([x, w, b], c.attrs);
    const dyCpu = cpuRandom(expected.shape, seeds.next++);
    await engine.scopeAsync(async () => {
      const gx = toGpu(engine, x)!;
      const gw = toGpu(engine, w)!;
      const dy = toGpu(engine, dyCpu)!;
      await expectForward(conv2dForward(gx, gw, toGpu(engine, b), c.attrs, 'tiled'), expected, 'forward');
      for (const which of ['x', 'w'] as const) {
        const exact = exactGradient(which, x, w, c.attrs, dyCpu);
        const got =
          which === 'x'
            ? conv2dBackwardInput(dy, gw, x.shape, c.attrs)
            : conv2dBackwardWeight(dy, gx, w.shape, c.attrs);
        expectClose(await toCpu(got), exact, { atol: gradTol.atol * maxAbs(exact), rtol: gradTol.rtol }, `d/d${which}`);
      }
    });
    await compareImpls(engine, c);
  });

  it('Cin 32, Cout 48, 17×19, K3, batch 2: tiled vs direct (split-K weight gradient)', async () => {
    const c: Case = { name: 'large K3', x: [2, 32, 17, 19], w: [48, 32, 3, 3], bias: true, attrs: reflect(1) };
    expect(weightGradSplits(conv2dGeometry(c.x, c.w, null, c.attrs))).toBeGreaterThan(1);
    await compareImpls(await testEngine(), c);
  });

  it('9×9 reflect 4 layers of the transform net (3→32, 32→3) on 13×10, batch 2', async () => {
    await compareAll([
      { name: 'K9 3→32', x: [2, 3, 13, 10], w: [32, 3, 9, 9], bias: true, attrs: reflect(4) },
      { name: 'K9 32→3', x: [2, 32, 13, 10], w: [3, 32, 9, 9], bias: true, attrs: reflect(4) },
    ]);
  });

  it('resize-conv 20→12 channels, 9×11 → 18×22, stride 2 down-conv 12→70, batch 3', async () => {
    await compareAll([
      { name: 'resize-conv', x: [3, 20, 9, 11], w: [12, 20, 3, 3], bias: true, attrs: reflect(1, up2) },
      { name: 'down-conv', x: [3, 12, 18, 21], w: [70, 12, 3, 3], bias: false, attrs: reflect(1, s2) },
    ]);
  });
});

describe('conv2d GEMM variants', () => {
  // The forward GEMM runs k tap-major when Cin is a multiple of TILE_K (16), channel-major otherwise; GEMMs of
  // 17–32 rows run 64-thread 32×128 tiles whose B loader gives each thread two columns.
  it('tap-major forward with upsampling, zero padding and stride 2; Cin 16, 48 and 32 (1×1)', async () => {
    expect(forwardTapMajor(conv2dGeometry([1, 16, 5, 4], [24, 16, 3, 3], null, zeros(1)))).toBe(true);
    expect(forwardTapMajor(conv2dGeometry([1, 12, 5, 4], [24, 12, 3, 3], null, zeros(1)))).toBe(false);
    await compareAll([
      { name: 'tap-major up2 s2 zeros', x: [2, 16, 7, 5], w: [24, 16, 3, 3], bias: true, attrs: zeros(2, up2s2) },
      { name: 'tap-major reflect s2', x: [2, 48, 9, 11], w: [20, 48, 3, 3], bias: false, attrs: reflect(1, s2) },
      { name: 'tap-major 1×1', x: [3, 32, 5, 7], w: [70, 32, 1, 1], bias: true, attrs: zeros(0) },
    ]);
  });

  it('narrow forward (≤ 4 output channels): 1, 2 and 4 channels, stride 2, upsampling, reflect 4 on K9', async () => {
    await compareAll([
      { name: 'narrow 1 ch, up2 s2 zeros', x: [2, 5, 7, 6], w: [1, 5, 3, 3], bias: true, attrs: zeros(2, up2s2) },
      { name: 'narrow 2 ch, K9 reflect 4', x: [2, 6, 11, 10], w: [2, 6, 9, 9], bias: false, attrs: reflect(4) },
      { name: 'narrow 4 ch, K1', x: [3, 7, 5, 3], w: [4, 7, 1, 1], bias: true, attrs: zeros(0) },
    ]);
  });

  it('32-row tiles over several column tiles (B loader with two columns per thread), batch 2', async () => {
    // 2·15·19 = 570 output columns: 5 tiles of 128, the last partial.
    await compareAll([
      { name: '32 rows, K3 reflect', x: [2, 16, 15, 19], w: [32, 16, 3, 3], bias: true, attrs: reflect(1) },
      { name: '17 rows, K5 channel-major', x: [2, 5, 15, 19], w: [17, 5, 5, 5], bias: true, attrs: zeros(2) },
    ]);
  });
});

describe('conv2d grids wider than the device allows', () => {
  it('folds the GEMM column tiles into z, GEMMs staged and registers (device limit faked down to 4 workgroups per dimension)', async () => {
    const engine = await testEngine();
    // 5 output channels: a forward GEMM (3 or 4 would run the narrow kernel, which has no GEMM grid).
    const c: Case = { name: 'folded grid', x: [2, 1, 40, 40], w: [5, 1, 3, 3], bias: true, attrs: reflect(1) };
    const [x, w, b] = inputs(c);
    const expected = conv2d.reference([x, w, b], c.attrs);
    const dyCpu = cpuRandom(expected.shape, seeds.next++);
    const direct = await engine.scopeAsync(async () => {
      const [gx, gw, dy] = [toGpu(engine, x), toGpu(engine, w), toGpu(engine, dyCpu)];
      return [
        await toCpu(conv2dBackwardInput(dy, gw, c.x, c.attrs, 'direct')),
        await toCpu(conv2dBackwardWeight(dy, gx, c.w, c.attrs, 'direct')),
      ];
    });
    // 3200 output columns = 13 tiles of 256 → a 4×1×4 grid with 3 idle tiles; the split-K weight gradient is
    // capped at 4 splits.
    await withLimits({ maxComputeWorkgroupsPerDimension: 4 }, async (small) => {
      const [gx, gw, gb, dy] = [toGpu(small, x), toGpu(small, w), toGpu(small, b), toGpu(small, dyCpu)];
      for (const feed of ['staged', 'registers'] as const) {
        const tiled = await withGemmFeed(small, feed, async () => [
          conv2dForward(gx, gw, gb, c.attrs),
          conv2dBackwardInput(dy, gw, c.x, c.attrs),
          conv2dBackwardWeight(dy, gx, c.w, c.attrs),
        ]);
        await expectForward(tiled[0], expected, `forward (${feed})`);
        for (let i = 0; i < 2; i++) {
          expectClose(
            await toCpu(tiled[i + 1]),
            direct[i],
            { atol: 2e-5 * maxAbs(direct[i]), rtol: 1e-5 },
            `${i ? 'dweight' : 'dx'} (${feed})`,
          );
        }
      }
    });
  });
});

describe("conv2d on adapters with WebGPU's default 16 KiB of workgroup memory", () => {
  it('never picks a tile that needs more, and still computes the same result', async () => {
    for (const rows of [1, 3, 16, 17, 32, 33, 512]) {
      expect(gemmTileWorkgroupBytes(gemmTileFor(rows, 16384))).toBeLessThanOrEqual(16384);
    }
    // The 16-row tile needs more than 16 KiB: this shape would use it on an adapter that offers more.
    expect(gemmTileWorkgroupBytes(gemmTileFor(10))).toBeGreaterThan(16384);
    const c: Case = { name: '10 rows, 16 KiB', x: [2, 6, 9, 7], w: [10, 6, 3, 3], bias: true, attrs: zeros(1) };
    const [x, w, b] = inputs(c);
    const expected = conv2d.reference([x, w, b], c.attrs);
    await withLimits({ maxComputeWorkgroupStorageSize: 16384 }, async (small) => {
      await expectForward(
        conv2dForward(toGpu(small, x), toGpu(small, w), toGpu(small, b), c.attrs),
        expected,
        'forward',
      );
    });
  });
});

/** compareImpls on each case in turn, on the shared test engine. */
async function compareAll(cases: Case[]): Promise<void> {
  const engine = await testEngine();
  for (const c of cases) await compareImpls(engine, c);
}

/** Runs fn on an engine of its own whose kernels plan with lower limits than the device's, destroyed afterwards. */
async function withLimits(limits: Partial<EngineLimits>, fn: (engine: Engine) => Promise<void>): Promise<void> {
  const engine = await createNodeEngine({ limits });
  try {
    expect(engine.limits).toMatchObject(limits);
    await engine.scopeAsync(() => fn(engine));
    await engine.sync();
  } finally {
    engine.destroy();
  }
}

describe('conv2d shape errors', () => {
  const attrs = zeros(1);
  const cases: [string, number[], number[], number[] | null, Conv2dAttrs, RegExp][] = [
    ['channel mismatch', [1, 3, 5, 5], [4, 2, 3, 3], null, attrs, /conv2d.*\[1, 3, 5, 5\].*\[4, 2, 3, 3\]/],
    ['rank', [3, 5, 5], [4, 3, 3, 3], null, attrs, /conv2d.*\[3, 5, 5\]/],
    ['bias size', [1, 3, 5, 5], [4, 3, 3, 3], [3], attrs, /conv2d.*bias \[3\]/],
    ['empty output', [1, 3, 2, 2], [4, 3, 5, 5], null, zeros(0), /conv2d.*\[1, 3, 2, 2\].*\[4, 3, 5, 5\].*empty/],
    ['stride 3', [1, 3, 5, 5], [4, 3, 3, 3], null, zeros(1, { stride: 3 }), /conv2d.*\[1, 3, 5, 5\].*stride 3/],
    [
      'reflect padding ≥ input',
      [1, 3, 4, 3],
      [4, 3, 9, 9],
      null,
      reflect(4),
      /conv2d.*\[1, 3, 4, 3\].*reflect padding 4/,
    ],
  ];
  for (const [name, xs, ws, bs, a, pattern] of cases) {
    it(name, async () => {
      const engine = await testEngine();
      engine.scope(() => {
        const x = Tensor.zeros(engine, xs);
        const w = Tensor.zeros(engine, ws);
        const b = bs ? Tensor.zeros(engine, bs) : null;
        let err: unknown;
        try {
          conv2dForward(x, w, b, a);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ShapeError);
        expect((err as Error).message).toMatch(pattern);
      });
    });
  }

  it('reflect padding 1 of an upsampled 1×1 input is allowed (2×2 after upsampling)', () => {
    const g = conv2dGeometry([1, 1, 1, 1], [1, 1, 3, 3], null, reflect(1, up2));
    expect([g.outHeight, g.outWidth]).toEqual([2, 2]);
  });
});

describe('conv2d narrow weight gradient (≤ 4 output channels, conv2d_narrow.wgsl weightGrad)', () => {
  it('Cout 1–4, K 9 and 3, stride 2, upsampling, both paddings, split over rows: exact float64 gradients', async () => {
    const engine = await testEngine();
    const cases: Case[] = [
      { name: 'K9 reflect 4, 5→3, 13×7, batch 2', x: [2, 5, 13, 7], w: [3, 5, 9, 9], bias: false, attrs: reflect(4) },
      { name: 'K3 stride 2 zeros, 6→1, 9×8', x: [2, 6, 9, 8], w: [1, 6, 3, 3], bias: false, attrs: zeros(1, s2) },
      {
        name: 'K3 upsample 2 reflect, 3→4, 5×3',
        x: [1, 3, 5, 3],
        w: [4, 3, 3, 3],
        bias: false,
        attrs: reflect(1, up2),
      },
      { name: 'K5 zeros 2, 7→2, 11×6, batch 3', x: [3, 7, 11, 6], w: [2, 7, 5, 5], bias: false, attrs: zeros(2) },
    ];
    for (const c of cases) {
      const [x, w] = inputs(c);
      const y = conv2d.reference([x, w, null], c.attrs);
      const dyCpu = cpuRandom(y.shape, seeds.next++);
      const exact = exactGradient('w', x, w, c.attrs, dyCpu);
      expect(planConv2dFor(engine, 'backwardWeight', conv2dGeometry(c.x, c.w, null, c.attrs)).kind).toBe('narrow');
      await engine.scopeAsync(async () => {
        const got = conv2dBackwardWeight(toGpu(engine, dyCpu)!, toGpu(engine, x)!, w.shape, c.attrs, 'tiled');
        expectClose(
          await toCpu(got),
          exact,
          { atol: gradTol.atol * maxAbs(exact), rtol: gradTol.rtol },
          `${c.name} dw`,
        );
      });
    }
  });
});
