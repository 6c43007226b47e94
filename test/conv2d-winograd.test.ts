import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/engine/errors.js';
import { conv2dForward, conv2dGeometry, conv2dSettings, useWinogradForward, type Conv2dAttrs } from '../src/ops/conv2d.js';
import { winogradTiles, winogradUnsupported } from '../src/ops/conv2d-winograd.js';
import { cpuRandom } from '../src/ops/cpu.js';
import { testEngine, toGpu } from './helpers/gpu.js';
import { winogradForwardCases, winogradRegistered, winogradRegisteredCase } from './cases/conv2d.js';

const reflect = (padding: number, upsample = 1): Conv2dAttrs => ({ stride: 1, padding, padMode: 'reflect', upsample });
const zeros = (padding: number, upsample = 1): Conv2dAttrs => ({ stride: 1, padding, padMode: 'zeros', upsample });

// The op-vs-reference cases live in test/cases/conv2d.ts, shared with the Deno runner (test/deno/run.ts).
describe('conv2d forward, winograd F(2×2, 3×3), vs float64 reference', () => {
  for (const c of winogradForwardCases) it(c.name, async () => c.run(await testEngine()));

  it('tiles: 2×2 output blocks per image, padded to a multiple of 4', () => {
    const g = conv2dGeometry([2, 3, 7, 6], [5, 3, 3, 3], null, reflect(1));
    expect(winogradTiles(g)).toEqual({ tilesH: 4, tilesW: 3, tiles: 24, tilesPadded: 24 });
    const h = conv2dGeometry([1, 3, 5, 5], [5, 3, 3, 3], null, zeros(1));
    expect(winogradTiles(h)).toEqual({ tilesH: 3, tilesW: 3, tiles: 9, tilesPadded: 12 });
  });

  it('as registered: the op picks it for 3×3 stride 1 with 16+ input and 5+ output channels', async () => {
    const engine = await testEngine();
    const picked = (x: number[], w: number[], attrs: Conv2dAttrs): boolean => useWinogradForward(conv2dGeometry(x, w, null, attrs), engine);
    expect(conv2dSettings.winogradForward).toBe(true);
    expect(picked([1, 16, 5, 5], [5, 16, 3, 3], reflect(1))).toBe(true);
    expect(picked([1, 15, 5, 5], [5, 15, 3, 3], reflect(1))).toBe(false);
    expect(picked([1, 16, 5, 5], [4, 16, 3, 3], reflect(1))).toBe(false);
    expect(picked([1, 16, 5, 5], [5, 16, 3, 3], { stride: 2, padding: 1, padMode: 'reflect' })).toBe(false);
    for (const attrs of winogradRegistered.attrs) expect(picked(winogradRegistered.x, winogradRegistered.w, attrs)).toBe(true);
  });

  it(winogradRegisteredCase.name, async () => winogradRegisteredCase.run(await testEngine()));

  it('refuses what it cannot compute', async () => {
    const engine = await testEngine();
    expect(winogradUnsupported(conv2dGeometry([1, 3, 8, 8], [4, 3, 3, 3], null, { stride: 2, padding: 1, padMode: 'zeros' }))).toMatch(/stride/);
    expect(winogradUnsupported(conv2dGeometry([1, 3, 8, 8], [4, 3, 1, 1], null, zeros(0)))).toMatch(/kernel/);
    expect(winogradUnsupported(conv2dGeometry([1, 3, 8, 8], [4, 3, 3, 3], null, zeros(1)))).toBeNull();
    await engine.scopeAsync(async () => {
      const x = toGpu(engine, cpuRandom([1, 3, 8, 8], 1))!;
      const w = toGpu(engine, cpuRandom([4, 3, 1, 1], 2))!;
      expect(() => conv2dForward(x, w, null, zeros(0), 'winograd')).toThrow(ShapeError);
    });
  });
});
