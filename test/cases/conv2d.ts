// conv2d vs its float64 reference and finite differences: the small awkward shapes on both implementations
// (direct and tiled GEMM) and the op as registered, including the Winograd forward (test/conv2d.test.ts,
// test/conv2d-winograd.test.ts, Deno runner).
import type { Engine } from '../../src/engine/engine.js';
import {
  conv2d,
  conv2dBackwardBias,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  conv2dForward,
  type Conv2dAttrs,
} from '../../src/ops/conv2d.js';
import { CONV2D_CHOICES, type Conv2dImpl } from '../../src/ops/conv2d-plan.js';
import { cpuRandom, cpuTensor, type CpuTensor } from '../../src/ops/cpu.js';
import type { Feed } from '../../src/ops/feed.js';
import { expectClose, maxAbs } from '../helpers/check.js';
import { checkOp } from '../helpers/gradcheck.js';
import { toCpu, toGpu } from '../helpers/tensors.js';
import { withChoice } from '../helpers/choices.js';
import type { EngineCase } from './case.js';

export const forwardTol = { atol: 2e-5, rtol: 1e-5 };
export const gradTol = { atol: 1e-5, rtol: 1e-4 };

export interface Case {
  name: string;
  x: number[];
  w: number[];
  bias: boolean;
  attrs: Conv2dAttrs;
}

type ConvMore = { stride?: number; upsample?: number };
/** Reflect-padded conv attrs: stride 1 and no upsampling unless `more` says otherwise. */
export const reflect = (padding: number, more: ConvMore = {}): Conv2dAttrs => ({
  stride: 1,
  padding,
  padMode: 'reflect',
  ...more,
});
/** Zero-padded conv attrs: stride 1 and no upsampling unless `more` says otherwise. */
export const zeros = (padding: number, more: ConvMore = {}): Conv2dAttrs => ({
  stride: 1,
  padding,
  padMode: 'zeros',
  ...more,
});
/** What the attrs helpers take besides the padding: stride 2, upsampling ×2, or both (upsampled, then strided). */
export const s2 = { stride: 2 };
export const up2 = { upsample: 2 };
export const up2s2 = { stride: 2, upsample: 2 };

/** Seeds of the random inputs, consumed in order (the cases' data depends only on their order). */
export const seeds = { next: 100 };
/** A case's random x, w and bias (null without one), seeded in that order from `s`. */
export function inputs(c: Case, s = seeds): [x: CpuTensor, w: CpuTensor, b: CpuTensor | null] {
  return [cpuRandom(c.x, s.next++), cpuRandom(c.w, s.next++), c.bias ? cpuRandom([c.w[0]], s.next++) : null];
}

/** Runs fn with the forward and weight-gradient GEMMs fed one way (CONV2D_CHOICES; the op picks per adapter). */
export function withGemmFeed<T>(engine: Engine, feed: Feed, fn: () => Promise<T>): Promise<T> {
  const choices = { ...engine.choice(CONV2D_CHOICES), forwardFeed: feed, weightGradFeed: feed };
  return withChoice(engine, CONV2D_CHOICES, choices, fn);
}

/**
 * Runs forward, backward-input, -weight and -bias with both implementations (tiled: its GEMMs staged and
 * registers) on the same data; checks the forwards against the float64 reference and the tiled gradients
 * against the direct ones.
 */
export async function compareImpls(engine: Engine, c: Case, dyTol = { atol: 2e-5, rtol: 1e-5 }): Promise<void> {
  const [x, w, b] = inputs(c);
  const expected = conv2d.reference([x, w, b], c.attrs);
  const dyCpu = cpuRandom(expected.shape, seeds.next++);
  await engine.scopeAsync(async () => {
    const [gx, gw, gb] = [toGpu(engine, x)!, toGpu(engine, w)!, toGpu(engine, b)];
    const dy = toGpu(engine, dyCpu)!;
    // The tiled GEMMs both ways (staged and registers) on every adapter, each against direct.
    const runs = [
      { impl: 'direct', feed: 'staged' },
      { impl: 'tiled', feed: 'staged' },
      { impl: 'tiled', feed: 'registers' },
    ] as const;
    const results: CpuTensor[][] = [];
    for (const { impl, feed } of runs) {
      const label = impl === 'tiled' ? `${impl} ${feed}` : impl;
      results.push(
        await withGemmFeed(engine, feed, async () => {
          const y = conv2dForward(gx, gw, gb, c.attrs, impl);
          expectClose(
            await toCpu(y),
            expected,
            { atol: forwardTol.atol * Math.max(1, maxAbs(expected)), rtol: forwardTol.rtol },
            `${c.name} forward ${label}`,
          );
          return [
            await toCpu(conv2dBackwardInput(dy, gw, x!.shape, c.attrs, impl)),
            await toCpu(conv2dBackwardWeight(dy, gx, w!.shape, c.attrs, impl)),
          ];
        }),
      );
    }
    for (const [i, what] of ['dx', 'dweight'].entries()) {
      const ref = results[0][i];
      const scale = Math.max(maxAbs(ref), 1e-6);
      for (const r of [1, 2]) {
        expectClose(
          results[r][i],
          ref,
          { atol: dyTol.atol * scale, rtol: dyTol.rtol },
          `${c.name} ${what} tiled ${runs[r].feed} vs direct`,
        );
      }
    }
    if (gb) {
      // The bias gradient is dy summed per channel.
      const db = cpuTensor([c.w[0]]);
      const plane = expected.shape[2] * expected.shape[3];
      for (let i = 0; i < dyCpu.data.length; i++) db.data[Math.floor(i / plane) % c.w[0]] += dyCpu.data[i];
      expectClose(
        await toCpu(conv2dBackwardBias(dy)),
        db,
        { atol: 1e-5 * Math.max(1, maxAbs(db)), rtol: 1e-5 },
        `${c.name} dbias`,
      );
    }
  });
}

/** The conv2d op pinned to one family of kernels (the op itself picks per shape: planConv2d). */
export function conv2dWith(impl: Conv2dImpl): typeof conv2d {
  return {
    ...conv2d,
    name: `conv2d[${impl}]`,
    forward([x, w, b], attrs) {
      return { output: conv2dForward(x, w, b, attrs, impl), saved: [x, w] };
    },
    backward({ saved: [x, w], attrs, inputShapes, needsGrad }, dy) {
      return [
        needsGrad[0] ? conv2dBackwardInput(dy, w, inputShapes[0], attrs, impl) : null,
        needsGrad[1] ? conv2dBackwardWeight(dy, x, inputShapes[1], attrs, impl) : null,
        needsGrad[2] && inputShapes[2] ? conv2dBackwardBias(dy) : null,
      ];
    },
  };
}

// Small awkward shapes: odd sizes, batch 2, channels not a multiple of 4, everything below one 64×64×16 tile.
export const small: Case[] = [
  { name: 'K3 s1 zeros', x: [2, 3, 7, 6], w: [5, 3, 3, 3], bias: true, attrs: zeros(1) },
  { name: 'K3 s2 zeros (odd input)', x: [2, 3, 7, 6], w: [5, 3, 3, 3], bias: true, attrs: zeros(1, s2) },
  { name: 'K3 s1 reflect', x: [2, 3, 7, 6], w: [5, 3, 3, 3], bias: true, attrs: reflect(1) },
  { name: 'K3 s2 reflect (odd input)', x: [2, 3, 7, 6], w: [5, 3, 3, 3], bias: false, attrs: reflect(1, s2) },
  { name: 'K3 s1 no padding', x: [2, 3, 7, 6], w: [5, 3, 3, 3], bias: true, attrs: zeros(0) },
  { name: 'K1 s1', x: [2, 5, 4, 5], w: [3, 5, 1, 1], bias: true, attrs: zeros(0) },
  { name: 'K1 s2 (odd input)', x: [2, 5, 5, 3], w: [3, 5, 1, 1], bias: false, attrs: zeros(0, s2) },
  { name: 'K9 reflect 4', x: [2, 3, 11, 10], w: [4, 3, 9, 9], bias: true, attrs: reflect(4) },
  { name: 'upsample 2, K3 reflect 1', x: [2, 3, 5, 4], w: [4, 3, 3, 3], bias: true, attrs: reflect(1, up2) },
  { name: 'upsample 2, K3 zeros 2, stride 2', x: [2, 3, 5, 4], w: [4, 3, 3, 3], bias: true, attrs: zeros(2, up2s2) },
  {
    name: 'reflect 3 on a 4×5 input (reflections on both sides reach the same pixels)',
    x: [1, 2, 4, 5],
    w: [3, 2, 3, 3],
    bias: false,
    attrs: reflect(3),
  },
  { name: '1×1 input, K3 zeros 1', x: [3, 2, 1, 1], w: [3, 2, 3, 3], bias: true, attrs: zeros(1) },
];

/** Each small shape: finite differences on both pinned implementations, then the two against each other. */
export const conv2dSmallCases: EngineCase[] = small.map((c) => ({
  name: c.name,
  async run(engine) {
    const data = inputs(c);
    // The registered op picks the direct kernels for so few channels: pinned variants check both.
    for (const impl of ['tiled', 'direct'] as const) {
      await checkOp(engine, { op: conv2dWith(impl), inputs: data, attrs: c.attrs, forwardTol, gradTol });
    }
    await compareImpls(engine, c);
  },
}));

/** The op as registered for 8→9, 3→9 and 8→3 channels (tiled, direct, narrow forward): finite differences. */
export const conv2dRegisteredCase: EngineCase = {
  name: 'as registered, 8→9, 3→9 and 8→3 channels, stride 2 reflect: finite differences',
  async run(engine) {
    for (const [cin, cout] of [
      [8, 9],
      [3, 9],
      [8, 3],
    ]) {
      const c: Case = {
        name: `${cin}→${cout}`,
        x: [2, cin, 5, 4],
        w: [cout, cin, 3, 3],
        bias: true,
        attrs: reflect(1, s2),
      };
      await checkOp(engine, { op: conv2d, inputs: inputs(c), attrs: c.attrs, forwardTol, gradTol });
    }
  },
};

// ------------------------------------------------------------------ Winograd F(2×2, 3×3) forward

// Odd H/W (edge tiles clipped), batch 2, channels not multiples of 4 nor of the GEMM tiles, T not a multiple
// of 4, both padding modes, no padding and padding 2, the fused ×2 upsampling, with and without bias.
export const winogradShapes: Case[] = [
  { name: 'reflect 1, odd 7×6, batch 2', x: [2, 3, 7, 6], w: [5, 3, 3, 3], bias: true, attrs: reflect(1) },
  { name: 'zeros 1, odd 7×9, batch 2, no bias', x: [2, 5, 7, 9], w: [6, 5, 3, 3], bias: false, attrs: zeros(1) },
  { name: 'no padding, 7×6 (5×4 out)', x: [2, 3, 7, 6], w: [5, 3, 3, 3], bias: true, attrs: zeros(0) },
  { name: 'zeros 2, 5×4', x: [1, 3, 5, 4], w: [4, 3, 3, 3], bias: true, attrs: zeros(2) },
  { name: 'reflect 3 on 4×5', x: [1, 2, 4, 5], w: [3, 2, 3, 3], bias: false, attrs: reflect(3) },
  { name: '1×1 input, zeros 1, batch 3', x: [3, 2, 1, 1], w: [3, 2, 3, 3], bias: true, attrs: zeros(1) },
  { name: 'upsample 2, reflect 1, 5×4, batch 2', x: [2, 3, 5, 4], w: [4, 3, 3, 3], bias: true, attrs: reflect(1, up2) },
  { name: 'upsample 2, zeros 1, 3×5', x: [1, 6, 3, 5], w: [7, 6, 3, 3], bias: false, attrs: zeros(1, up2) },
  // Several GEMM tiles in every direction: Cout 70 > 64 rows, Cin 37 > 16 deep, T = 2·9·10 = 180 > 128 columns.
  { name: 'reflect 1, 37→70, 17×19, batch 2', x: [2, 37, 17, 19], w: [70, 37, 3, 3], bias: true, attrs: reflect(1) },
  {
    name: 'upsample 2, reflect 1, 21→18 (32-row tile), 9×7',
    x: [1, 21, 9, 7],
    w: [18, 21, 3, 3],
    bias: true,
    attrs: reflect(1, up2),
  },
  {
    name: 'reflect 1, 19→11 (16-row tile), 13×11, batch 2',
    x: [2, 19, 13, 11],
    w: [11, 19, 3, 3],
    bias: true,
    attrs: reflect(1),
  },
];

const winogradSeeds = { next: 500 };

/** The Winograd forward, forced, against the float64 reference, on random data seeded from `s`. */
export async function checkWinogradForward(engine: Engine, c: Case, s: { next: number }, label: string): Promise<void> {
  const [x, w, b] = inputs(c, s);
  const expected = conv2d.reference([x, w, b], c.attrs);
  await engine.scopeAsync(async () => {
    const y = conv2dForward(toGpu(engine, x)!, toGpu(engine, w)!, toGpu(engine, b), c.attrs, 'winograd');
    expectClose(
      await toCpu(y),
      expected,
      { atol: forwardTol.atol * Math.max(1, maxAbs(expected)), rtol: forwardTol.rtol },
      label,
    );
  });
}

export const winogradForwardCases: EngineCase[] = winogradShapes.map((c) => ({
  name: c.name,
  run: (engine) => checkWinogradForward(engine, c, winogradSeeds, `${c.name} winograd`),
}));

/** Shapes the registered op runs through the Winograd forward (3×3 stride 1, 16+ in and 5+ out channels). */
export const winogradRegistered = {
  x: [2, 16, 3, 5],
  w: [5, 16, 3, 3],
  attrs: [reflect(1), zeros(1, up2)],
};

/** The registered op on winogradRegistered: forward and finite-difference gradients. */
export const winogradRegisteredCase: EngineCase = {
  name: 'as registered on 3×3 stride 1, 16→5 channels (Winograd forward), reflect 1 and zeros 1 upsampled: finite differences',
  async run(engine) {
    const { x, w } = winogradRegistered;
    for (const attrs of winogradRegistered.attrs) {
      const s = winogradSeeds;
      const data = [cpuRandom(x, s.next++), cpuRandom(w, s.next++), cpuRandom([5], s.next++)];
      await checkOp(engine, { op: conv2d, inputs: data, attrs, forwardTol, gradTol });
    }
  },
};
