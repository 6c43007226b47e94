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
import type { Feed } from '../src/ops/feed.js';
import { cpuRandom, cpuTensor, type CpuTensor } from '../src/ops/cpu.js';
import { expectClose, maxAbs } from './helpers/check.js';
import { withChoice } from './helpers/choices.js';
import { checkOp } from './helpers/gradcheck.js';
import { testEngine, toCpu, toGpu } from './helpers/gpu.js';
import { forwardTol, winogradShapes, type Case } from './cases/conv2d.js';

const reflect = (padding: number, upsample = 1): Conv2dAttrs => ({ stride: 1, padding, padMode: 'reflect', upsample });
const zeros = (padding: number, upsample = 1): Conv2dAttrs => ({ stride: 1, padding, padMode: 'zeros', upsample });

// The forward shapes are the shared ones (test/cases/conv2d.ts: the Deno runner runs their forward too);
// here every GEMM entry point and both gradients run on them.
const cases: Case[] = winogradShapes;

let seed = 500;

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

describe('conv2d forward, winograd F(2×2, 3×3), vs float64 reference', () => {
  for (const c of cases)
    for (const entry of GEMM_ENTRIES) {
      it(`${c.name} (${entry})`, () =>
        withGemm(entry, async () => {
          const engine = await testEngine();
          const [x, w, b] = [
            cpuRandom(c.x, seed++),
            cpuRandom(c.w, seed++),
            c.bias ? cpuRandom([c.w[0]], seed++) : null,
          ];
          const expected = conv2d.reference([x, w, b], c.attrs);
          await engine.scopeAsync(async () => {
            const y = conv2dForward(toGpu(engine, x)!, toGpu(engine, w)!, toGpu(engine, b), c.attrs, 'winograd');
            expectClose(
              await toCpu(y),
              expected,
              { atol: forwardTol.atol * Math.max(1, maxAbs(expected)), rtol: forwardTol.rtol },
              `${c.name} winograd ${entry}`,
            );
          });
        }));
    }

  it('tiles: 2×2 output blocks per image, padded to a multiple of 4', () => {
    const g = conv2dGeometry([2, 3, 7, 6], [5, 3, 3, 3], null, reflect(1));
    expect(winogradTiles(g)).toEqual({ tilesH: 4, tilesW: 3, tiles: 24, tilesPadded: 24 });
    const h = conv2dGeometry([1, 3, 5, 5], [5, 3, 3, 3], null, zeros(1));
    expect(winogradTiles(h)).toEqual({ tilesH: 3, tilesW: 3, tiles: 9, tilesPadded: 12 });
  });

  it('as registered: the op picks it for 3×3 stride 1 with 16+ input and 5+ output channels; forward and gradients pass', async () => {
    const engine = await testEngine();
    const gradTol = { atol: 1e-5, rtol: 1e-4 };
    const picked = (x: number[], w: number[], attrs: Conv2dAttrs): boolean =>
      picksWinograd(engine, 'forward', x, w, attrs);
    expect(engine.choice(CONV2D_CHOICES).winogradForward).toBe(true);
    expect(picked([1, 16, 5, 5], [5, 16, 3, 3], reflect(1))).toBe(true);
    expect(picked([1, 15, 5, 5], [5, 15, 3, 3], reflect(1))).toBe(false);
    expect(picked([1, 16, 5, 5], [4, 16, 3, 3], reflect(1))).toBe(false);
    expect(picked([1, 16, 5, 5], [5, 16, 3, 3], { stride: 2, padding: 1, padMode: 'reflect' })).toBe(false);
    for (const attrs of [reflect(1), zeros(1, 2)]) {
      const x = [2, 16, 3, 5];
      const w = [5, 16, 3, 3];
      expect(picked(x, w, attrs)).toBe(true);
      const data = [cpuRandom(x, seed++), cpuRandom(w, seed++), cpuRandom([5], seed++)];
      await checkOp(engine, { op: conv2d, inputs: data, attrs, forwardTol, gradTol });
    }
  });

  it('refuses what it cannot compute', async () => {
    const engine = await testEngine();
    expect(
      winogradUnsupported(
        conv2dGeometry([1, 3, 8, 8], [4, 3, 3, 3], null, { stride: 2, padding: 1, padMode: 'zeros' }),
      ),
    ).toMatch(/stride/);
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
 * Float64 input gradient of a stride-1 conv, written out: the gradient w.r.t. the padded, upsampled input
 * (dx̂p[n, ci, yp, xp] = Σ w[co, ci, ky, kx] · dy[n, co, yp − ky, xp − kx]), then each padded position added
 * onto the input pixel it reads (reflection and nearest upsampling), zero padding dropped.
 */
function inputGradReference(dy: CpuTensor, w: CpuTensor, xShape: number[], attrs: Conv2dAttrs): CpuTensor {
  const g = conv2dGeometry(xShape, w.shape, null, attrs);
  const k = g.kernelSize;
  const up = g.upsample;
  const source = (c: number, extent: number): number => {
    let r = c - g.padding;
    if (g.padMode === 'reflect') {
      if (r < 0) r = -r;
      if (r >= extent) r = 2 * (extent - 1) - r;
    } else if (r < 0 || r >= extent) {
      return -1;
    }
    return Math.floor(r / up);
  };
  const dx = cpuTensor(xShape);
  for (let n = 0; n < g.batch; n++) {
    for (let ci = 0; ci < g.inChannels; ci++) {
      for (let yp = 0; yp < g.paddedHeight; yp++) {
        const sy = source(yp, g.upHeight);
        if (sy < 0) continue;
        for (let xp = 0; xp < g.paddedWidth; xp++) {
          const sx = source(xp, g.upWidth);
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

// The same tolerance as test/conv2d.test.ts's gradients.
const gradTol = { atol: 1e-5, rtol: 1e-4 };

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
      attrs: reflect(1, 2),
    },
  ];
  for (const c of gradCases)
    for (const entry of GEMM_ENTRIES) {
      it(`${c.name} (${entry})`, () =>
        withGemm(entry, async () => {
          const engine = await testEngine();
          const w = cpuRandom(c.w, seed++);
          const g = conv2dGeometry(c.x, c.w, null, c.attrs);
          const dy = cpuRandom([g.batch, g.outChannels, g.outHeight, g.outWidth], seed++);
          const expected = inputGradReference(dy, w, c.x, c.attrs);
          await engine.scopeAsync(async () => {
            const dx = conv2dBackwardInput(toGpu(engine, dy)!, toGpu(engine, w)!, c.x, c.attrs, 'winograd');
            expect(dx.shape).toEqual(c.x);
            expectClose(
              await toCpu(dx),
              expected,
              { atol: gradTol.atol * Math.max(1, maxAbs(expected)), rtol: gradTol.rtol },
              `${c.name} dx winograd ${entry}`,
            );
          });
        }));
    }

  it('geometry: zero padding ≤ 2 without upsampling gives dx directly; reflect or upsampling the padded gradient', () => {
    const direct = winogradInputGradGeometry(conv2dGeometry([2, 8, 7, 9], [6, 8, 3, 3], null, zeros(1)));
    expect(direct.padded).toBe(false);
    expect([
      direct.geometry.inChannels,
      direct.geometry.outChannels,
      direct.geometry.outHeight,
      direct.geometry.outWidth,
    ]).toEqual([6, 8, 7, 9]);
    const padded = winogradInputGradGeometry(conv2dGeometry([2, 8, 7, 9], [6, 8, 3, 3], null, reflect(1, 2)));
    expect(padded.padded).toBe(true);
    expect([padded.geometry.outHeight, padded.geometry.outWidth]).toEqual([16, 20]);
  });

  it('as registered: the op picks it for 3×3 stride 1 with 16+ output and 5+ input channels; gradients pass finite differences', async () => {
    const engine = await testEngine();
    const picked = (x: number[], w: number[], attrs: Conv2dAttrs): boolean =>
      picksWinograd(engine, 'backwardInput', x, w, attrs);
    expect(engine.choice(CONV2D_CHOICES).winogradInputGrad).toBe(true);
    expect(picked([1, 5, 5, 5], [16, 5, 3, 3], reflect(1))).toBe(true);
    expect(picked([1, 5, 5, 5], [15, 5, 3, 3], reflect(1))).toBe(false);
    expect(picked([1, 4, 5, 5], [16, 4, 3, 3], reflect(1))).toBe(false);
    expect(picked([1, 5, 5, 5], [16, 5, 3, 3], { stride: 2, padding: 1, padMode: 'reflect' })).toBe(false);
    for (const attrs of [reflect(1), zeros(1), zeros(1, 2)]) {
      const x = [2, 5, 3, 5];
      const w = [16, 5, 3, 3];
      expect(picked(x, w, attrs)).toBe(true);
      const data = [cpuRandom(x, seed++), cpuRandom(w, seed++), cpuRandom([16], seed++)];
      await checkOp(engine, { op: conv2d, inputs: data, attrs, forwardTol, gradTol });
    }
  });
});

/** Float64 weight gradient: dw[co, ci, ky, kx] = Σ_(n, oy, ox) dy[n, co, oy, ox] · x̂[n, ci, oy + ky, ox + kx]. */
function weightGradReference(dy: CpuTensor, x: CpuTensor, wShape: number[], attrs: Conv2dAttrs): CpuTensor {
  const g = conv2dGeometry(x.shape, wShape, null, attrs);
  const k = g.kernelSize;
  const source = (c: number, extent: number): number => {
    let r = c - g.padding;
    if (g.padMode === 'reflect') {
      if (r < 0) r = -r;
      if (r >= extent) r = 2 * (extent - 1) - r;
    } else if (r < 0 || r >= extent) {
      return -1;
    }
    return Math.floor(r / g.upsample);
  };
  const xhat = (n: number, ci: number, yp: number, xp: number): number => {
    const sy = source(yp, g.upHeight);
    const sx = source(xp, g.upWidth);
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
  for (const c of wgradCases)
    for (const entry of GEMM_ENTRIES) {
      it(`${c.name} (${entry})`, () =>
        withGemm(entry, async () => {
          const engine = await testEngine();
          const x = cpuRandom(c.x, seed++);
          const g = conv2dGeometry(c.x, c.w, null, c.attrs);
          const dy = cpuRandom([g.batch, g.outChannels, g.outHeight, g.outWidth], seed++);
          const expected = weightGradReference(dy, x, c.w, c.attrs);
          await engine.scopeAsync(async () => {
            const dw = conv2dBackwardWeight(toGpu(engine, dy)!, toGpu(engine, x)!, c.w, c.attrs, 'winograd');
            expect(dw.shape).toEqual(c.w);
            expectClose(
              await toCpu(dw),
              expected,
              { atol: gradTol.atol * Math.max(1, maxAbs(expected)), rtol: gradTol.rtol },
              `${c.name} dw winograd ${entry}`,
            );
          });
        }));
    }

  it('as registered: the op picks it for 3×3 stride 1 with 16+ input and 8+ output channels; gradients pass finite differences', async () => {
    const engine = await testEngine();
    const picked = (x: number[], w: number[], attrs: Conv2dAttrs): boolean =>
      picksWinograd(engine, 'backwardWeight', x, w, attrs);
    expect(engine.choice(CONV2D_CHOICES).winogradWeightGrad).toBe(true);
    expect(picked([1, 16, 5, 5], [8, 16, 3, 3], reflect(1))).toBe(true);
    expect(picked([1, 15, 5, 5], [8, 15, 3, 3], reflect(1))).toBe(false);
    expect(picked([1, 16, 5, 5], [7, 16, 3, 3], reflect(1))).toBe(false);
    expect(picked([1, 16, 5, 5], [8, 16, 3, 3], { stride: 2, padding: 1, padMode: 'reflect' })).toBe(false);
    for (const attrs of [reflect(1), zeros(1, 2)]) {
      const x = [2, 16, 3, 5];
      const w = [8, 16, 3, 3];
      expect(picked(x, w, attrs)).toBe(true);
      const data = [cpuRandom(x, seed++), cpuRandom(w, seed++), cpuRandom([8], seed++)];
      await checkOp(engine, { op: conv2d, inputs: data, attrs, forwardTol, gradTol });
    }
  });
});
