import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/engine/errors.js';
import {
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  conv2dForward,
  conv2dGeometry,
  type Conv2dAttrs,
} from '../src/ops/conv2d.js';
import { CONV2D_CHOICES, planConv2dFor, winogradInputGradGeometry, type Conv2dPass } from '../src/ops/conv2d-plan.js';
import { winogradTiles, winogradUnsupported } from '../src/ops/conv2d-winograd.js';
import type { Engine } from '../src/engine/engine.js';
import type { Conv2dGeometry } from '../src/ops/conv2d-geometry.js';
import type { Feed } from '../src/ops/feed.js';
import { cpuRandom, cpuTensor, type CpuTensor } from '../src/ops/cpu.js';
import { expectClose, maxAbs } from './helpers/check.js';
import { withChoice } from './helpers/choices.js';
import { checkOp } from './helpers/gradcheck.js';
import { testEngine, toCpu, toGpu } from './helpers/gpu.js';
import {
  checkWinogradForward,
  forwardTol,
  gradTol,
  reflect,
  s2,
  up2,
  winogradShapes,
  zeros,
  type Case,
} from './cases/conv2d.js';

// The forward shapes are the shared ones (test/cases/conv2d.ts: the Deno runner runs their forward too);
// here every GEMM entry point and both gradients run on them.
const cases: Case[] = winogradShapes;

/** Seeds of the random data, consumed in the order the tests run. */
const seeds = { next: 500 };

/** Runs fn with the Winograd GEMM's feed forced (both are checked on every adapter). */
async function withGemm(feed: Feed, fn: () => Promise<void>): Promise<void> {
  const engine = await testEngine();
  await withChoice(engine, CONV2D_CHOICES, { ...engine.choice(CONV2D_CHOICES), winogradFeed: feed }, fn);
}

const GEMM_ENTRIES = ['staged', 'registers'] as const;

/** Whether the op as registered runs a pass of this conv by Winograd on the engine. */
function picksWinograd(engine: Engine, pass: Conv2dPass, x: number[], w: number[], attrs: Conv2dAttrs): boolean {
  return planConv2dFor(engine, pass, conv2dGeometry(x, w, null, attrs)).kind === 'winograd';
}

/** The choice that lets the op run each pass by Winograd. */
const WINOGRAD_CHOICE = {
  forward: 'winogradForward',
  backwardInput: 'winogradInputGrad',
  backwardWeight: 'winogradWeightGrad',
} as const;

/**
 * A test that the op as registered runs `pass` by Winograd on 3×3 stride 1 convs from `cin` input and `cout`
 * output channels up (not one channel fewer, nor at stride 2), and that on such a conv, with each of `attrs`, its
 * forward and gradients pass finite differences.
 */
function itPicksWinograd(pass: Conv2dPass, cin: number, cout: number, attrs: Conv2dAttrs[]): void {
  it(`as registered: the op picks it (${pass}) for 3×3 stride 1 with ${cin}+ input and ${cout}+ output channels; forward and gradients pass finite differences`, async () => {
    const engine = await testEngine();
    const picked = (x: number[], w: number[], a: Conv2dAttrs): boolean => picksWinograd(engine, pass, x, w, a);
    expect(engine.choice(CONV2D_CHOICES)[WINOGRAD_CHOICE[pass]]).toBe(true);
    expect(picked([1, cin, 5, 5], [cout, cin, 3, 3], reflect(1))).toBe(true);
    expect(picked([1, cin - 1, 5, 5], [cout, cin - 1, 3, 3], reflect(1))).toBe(false);
    expect(picked([1, cin, 5, 5], [cout - 1, cin, 3, 3], reflect(1))).toBe(false);
    expect(picked([1, cin, 5, 5], [cout, cin, 3, 3], reflect(1, s2))).toBe(false);
    for (const a of attrs) {
      const x = [2, cin, 3, 5];
      const w = [cout, cin, 3, 3];
      expect(picked(x, w, a)).toBe(true);
      const data = [cpuRandom(x, seeds.next++), cpuRandom(w, seeds.next++), cpuRandom([cout], seeds.next++)];
      await checkOp(engine, { op: conv2d, inputs: data, attrs: a, forwardTol, gradTol });
    }
  });
}

describe('conv2d forward, winograd F(2×2, 3×3), vs float64 reference', () => {
  for (const c of cases)
    for (const entry of GEMM_ENTRIES) {
      it(`${c.name} (${entry})`, () =>
        withGemm(entry, async () => checkWinogradForward(await testEngine(), c, seeds, `${c.name} winograd ${entry}`)));
    }

  it('tiles: 2×2 output blocks per image, padded to a multiple of 4', () => {
    const g = conv2dGeometry([2, 3, 7, 6], [5, 3, 3, 3], null, reflect(1));
    expect(winogradTiles(g)).toEqual({ tilesH: 4, tilesW: 3, tiles: 24, tilesPadded: 24 });
    const h = conv2dGeometry([1, 3, 5, 5], [5, 3, 3, 3], null, zeros(1));
    expect(winogradTiles(h)).toEqual({ tilesH: 3, tilesW: 3, tiles: 9, tilesPadded: 12 });
  });

  itPicksWinograd('forward', 16, 5, [reflect(1), zeros(1, up2)]);

  it('refuses what it cannot compute', async () => {
    const engine = await testEngine();
    expect(winogradUnsupported(conv2dGeometry([1, 3, 8, 8], [4, 3, 3, 3], null, zeros(1, s2)))).toMatch(/stride/);
    expect(winogradUnsupported(conv2dGeometry([1, 3, 8, 8], [4, 3, 1, 1], null, zeros(0)))).toMatch(/kernel/);
    expect(winogradUnsupported(conv2dGeometry([1, 3, 8, 8], [4, 3, 3, 3], null, zeros(1)))).toBeNull();
    await engine.scopeAsync(async () => {
      const x = toGpu(engine, cpuRandom([1, 3, 8, 8], 1))!;
      const w = toGpu(engine, cpuRandom([4, 3, 1, 1], 2))!;
      expect(() => conv2dForward(x, w, null, zeros(0), 'winograd')).toThrow(ShapeError);
    });
  });
});

/**
 * Which pixel of the upsampled input (`extent` wide) padded position `c` reads, or -1 for a zero pad: reflection
 * and nearest upsampling written out.
 */
function paddedSource(g: Conv2dGeometry, c: number, extent: number): number {
  let r = c - g.padding;
  if (g.padMode === 'reflect') {
    if (r < 0) r = -r;
    if (r >= extent) r = 2 * (extent - 1) - r;
  } else if (r < 0 || r >= extent) {
    return -1;
  }
  return Math.floor(r / g.upsample);
}

/**
 * Float64 input gradient of a stride-1 conv, written out: the gradient w.r.t. the padded, upsampled input
 * (dx̂p[n, ci, yp, xp] = Σ w[co, ci, ky, kx] · dy[n, co, yp − ky, xp − kx]), then each padded position added
 * onto the input pixel it reads (reflection and nearest upsampling), zero padding dropped.
 */
function inputGradReference(dy: CpuTensor, w: CpuTensor, xShape: number[], attrs: Conv2dAttrs): CpuTensor {
  const g = conv2dGeometry(xShape, w.shape, null, attrs);
  const k = g.kernelSize;
  const dx = cpuTensor(xShape);
  for (let n = 0; n < g.batch; n++) {
    for (let ci = 0; ci < g.inChannels; ci++) {
      for (let yp = 0; yp < g.paddedHeight; yp++) {
        const sy = paddedSource(g, yp, g.upHeight);
        if (sy < 0) continue;
        for (let xp = 0; xp < g.paddedWidth; xp++) {
          const sx = paddedSource(g, xp, g.upWidth);
          if (sx < 0) continue;
          let acc = 0;
          for (let co = 0; co < g.outChannels; co++) {
            for (let ky = 0; ky < k; ky++) {
              const oy = yp - ky;
              if (oy < 0 || oy >= g.outHeight) continue;
              for (let kx = 0; kx < k; kx++) {
                const ox = xp - kx;
                if (ox < 0 || ox >= g.outWidth) continue;
                acc +=
                  w.data[((co * g.inChannels + ci) * k + ky) * k + kx] *
                  dy.data[((n * g.outChannels + co) * g.outHeight + oy) * g.outWidth + ox];
              }
            }
          }
          dx.data[((n * g.inChannels + ci) * g.inHeight + sy) * g.inWidth + sx] += acc;
        }
      }
    }
  }
  return dx;
}

describe('conv2d input gradient, winograd (the flipped, transposed kernel), vs float64 reference', () => {
  // The forward cases (zero padding ≤ 2 without upsampling runs the direct-padding path, the others the
  // padded gradient + fold), and both directions of the channel counts, as the transposed conv swaps them.
  const gradCases: Case[] = [
    ...cases,
    {
      name: 'zeros 1, 70→37 (VGG-like, direct padding), 17×19, batch 2',
      x: [2, 70, 17, 19],
      w: [37, 70, 3, 3],
      bias: false,
      attrs: zeros(1),
    },
    {
      name: 'upsample 2, reflect 1, 18→21, 9×7',
      x: [1, 18, 9, 7],
      w: [21, 18, 3, 3],
      bias: false,
      attrs: reflect(1, up2),
    },
  ];
  itEachWinogradGradient(gradCases, 'dx');

  it('geometry: zero padding ≤ 2 without upsampling gives dx directly; reflect or upsampling the padded gradient', () => {
    const direct = winogradInputGradGeometry(conv2dGeometry([2, 8, 7, 9], [6, 8, 3, 3], null, zeros(1)));
    expect(direct.padded).toBe(false);
    expect([
      direct.geometry.inChannels,
      direct.geometry.outChannels,
      direct.geometry.outHeight,
      direct.geometry.outWidth,
    ]).toEqual([6, 8, 7, 9]);
    const padded = winogradInputGradGeometry(conv2dGeometry([2, 8, 7, 9], [6, 8, 3, 3], null, reflect(1, up2)));
    expect(padded.padded).toBe(true);
    expect([padded.geometry.outHeight, padded.geometry.outWidth]).toEqual([16, 20]);
  });

  itPicksWinograd('backwardInput', 5, 16, [reflect(1), zeros(1), zeros(1, up2)]);
});

/** Float64 weight gradient: dw[co, ci, ky, kx] = Σ_(n, oy, ox) dy[n, co, oy, ox] · x̂[n, ci, oy + ky, ox + kx]. */
function weightGradReference(dy: CpuTensor, x: CpuTensor, wShape: number[], attrs: Conv2dAttrs): CpuTensor {
  const g = conv2dGeometry(x.shape, wShape, null, attrs);
  const k = g.kernelSize;
  const xhat = (n: number, ci: number, yp: number, xp: number): number => {
    const sy = paddedSource(g, yp, g.upHeight);
    const sx = paddedSource(g, xp, g.upWidth);
    return sy < 0 || sx < 0 ? 0 : x.data[((n * g.inChannels + ci) * g.inHeight + sy) * g.inWidth + sx];
  };
  const dw = cpuTensor(wShape);
  for (let co = 0; co < g.outChannels; co++) {
    for (let ci = 0; ci < g.inChannels; ci++) {
      for (let ky = 0; ky < k; ky++) {
        for (let kx = 0; kx < k; kx++) {
          let acc = 0;
          for (let n = 0; n < g.batch; n++) {
            for (let oy = 0; oy < g.outHeight; oy++) {
              for (let ox = 0; ox < g.outWidth; ox++) {
                acc +=
                  dy.data[((n * g.outChannels + co) * g.outHeight + oy) * g.outWidth + ox] *
                  xhat(n, ci, oy + ky, ox + kx);
              }
            }
          }
          dw.data[((co * g.inChannels + ci) * k + ky) * k + kx] = acc;
        }
      }
    }
  }
  return dw;
}

/**
 * One test per case and GEMM feed: the Winograd gradient `what` (dx from random dy and w, dw from random dy and
 * x) against its float64 reference.
 */
function itEachWinogradGradient(cases: Case[], what: 'dx' | 'dw'): void {
  for (const c of cases)
    for (const entry of GEMM_ENTRIES) {
      it(`${c.name} (${entry})`, () =>
        withGemm(entry, async () => {
          const engine = await testEngine();
          const operand = cpuRandom(what === 'dx' ? c.w : c.x, seeds.next++);
          const g = conv2dGeometry(c.x, c.w, null, c.attrs);
          const dy = cpuRandom([g.batch, g.outChannels, g.outHeight, g.outWidth], seeds.next++);
          const [expected, shape] =
            what === 'dx'
              ? [inputGradReference(dy, operand, c.x, c.attrs), c.x]
              : [weightGradReference(dy, operand, c.w, c.attrs), c.w];
          await engine.scopeAsync(async () => {
            const [gdy, gop] = [toGpu(engine, dy)!, toGpu(engine, operand)!];
            const got =
              what === 'dx'
                ? conv2dBackwardInput(gdy, gop, c.x, c.attrs, 'winograd')
                : conv2dBackwardWeight(gdy, gop, c.w, c.attrs, 'winograd');
            expect(got.shape).toEqual(shape);
            expectClose(
              await toCpu(got),
              expected,
              { atol: gradTol.atol * Math.max(1, maxAbs(expected)), rtol: gradTol.rtol },
              `${c.name} ${what} winograd ${entry}`,
            );
          });
        }));
    }
}

describe('conv2d weight gradient, winograd (Gᵀ[Σ A dY Aᵀ ⊙ Bᵀ d B]G), vs float64 reference', () => {
  const wgradCases: Case[] = [
    ...cases,
    {
      name: 'zeros 1, 20→16, 17×19, batch 3 (many tiles)',
      x: [3, 20, 17, 19],
      w: [16, 20, 3, 3],
      bias: false,
      attrs: zeros(1),
    },
  ];
  itEachWinogradGradient(wgradCases, 'dw');

  itPicksWinograd('backwardWeight', 16, 8, [reflect(1), zeros(1, up2)]);
});
