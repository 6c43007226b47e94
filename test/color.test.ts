// Colour preservation (luminance transfer, src/ops/color.ts) and strength (blend with the content): the op
// against its float64 reference and finite differences, and both options through stylizeRgba and the browser
// stylizer, at tiny sizes.
import { describe, expect, it } from 'vitest';
import { rgbToYcbcr, ycbcrToRgb } from '../src/ops/color.js';
import { blendRgba } from '../src/browser/pixels.js';
import { createStylizer } from '../src/browser/stylizer.js';
import { saveTransformNet } from '../src/models/model-file.js';
import { stylizeRgba } from '../src/models/stylize.js';
import { TransformNet } from '../src/models/transform-net.js';
import { testEngine } from './helpers/gpu.js';
import { preserveColorsCases } from './cases/color.js';
import type { RgbaImage } from '../src/models/rgba-image.js';

function photo(width: number, height: number): RgbaImage<Uint8Array> {
  // Smooth colours away from 0 and 255 (so that results are rarely clamped), alpha varying.
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      data[o] = 60 + Math.round((140 * x) / width);
      data[o + 1] = 70 + Math.round((120 * y) / height);
      data[o + 2] = 90 + Math.round(60 * Math.sin(x * 0.7 + y * 0.3) ** 2);
      data[o + 3] = 200 + ((x + y) % 56);
    }
  }
  return { width, height, data };
}

describe('YCbCr (BT.601 full range)', () => {
  it('round-trips and has the known primaries', () => {
    for (const rgb of [
      [0, 0, 0],
      [255, 255, 255],
      [255, 0, 0],
      [12, 200, 77],
    ]) {
      const [r, g, b] = rgb;
      const back = ycbcrToRgb(...rgbToYcbcr(r, g, b));
      back.forEach((v, i) => expect(Math.abs(v - rgb[i])).toBeLessThan(1e-3));
    }
    expect(rgbToYcbcr(255, 255, 255)[0]).toBeCloseTo(255, 9);
    expect(rgbToYcbcr(128, 128, 128).slice(1)).toEqual([expect.closeTo(128, 9), expect.closeTo(128, 9)]);
    expect(rgbToYcbcr(255, 0, 0)[2]).toBeCloseTo(255.5, 9);
  });
});

describe('preserveColors op', () => {
  // The cases live in test/cases/color.ts, shared with the Deno runner (test/deno/run.ts).
  for (const c of preserveColorsCases) it(c.name, async () => c.run(await testEngine()));
});

describe('stylize options: preserveColors and strength', () => {
  const W = 24;
  const H = 20;

  it('preserveColors keeps the content chroma and takes the stylized luminance', async () => {
    const e = await testEngine();
    const net = TransformNet.create(e, { widthMultiplier: 0.25, seed: 3 });
    const img = photo(W, H);
    const styled = await stylizeRgba(net, img);
    const kept = await stylizeRgba(net, img, { preserveColors: true });
    net.dispose();
    let checked = 0;
    let styledChromaOff = 0;
    for (let p = 0; p < W * H; p++) {
      const o = p * 4;
      const c = rgbToYcbcr(img.data[o], img.data[o + 1], img.data[o + 2]);
      const sY = rgbToYcbcr(styled.data[o], styled.data[o + 1], styled.data[o + 2]);
      const r = rgbToYcbcr(kept.data[o], kept.data[o + 1], kept.data[o + 2]);
      styledChromaOff = Math.max(styledChromaOff, Math.abs(sY[1] - c[1]), Math.abs(sY[2] - c[2]));
      expect(kept.data[o + 3], "alpha is the content's").toBe(img.data[o + 3]);
      // Skip pixels where the exact result would leave 0..255 (clamping changes the chroma), with a margin
      // for the stylized image's own rounding.
      const shift = sY[0] - c[0];
      if (![0, 1, 2].every((k) => img.data[o + k] + shift >= 1 && img.data[o + k] + shift <= 254)) continue;
      checked++;
      // Rounding each of R, G, B by ≤ 0.5 moves Cb and Cr by ≤ 0.5 (their coefficients' |sum| is 1).
      expect(Math.abs(r[1] - c[1]), `Cb at pixel ${p}`).toBeLessThanOrEqual(0.5 + 1e-6);
      expect(Math.abs(r[2] - c[2]), `Cr at pixel ${p}`).toBeLessThanOrEqual(0.5 + 1e-6);
      // Y of the result vs Y of the 8-bit stylized image: both are rounded (≤ 0.5 each).
      expect(Math.abs(r[0] - sY[0]), `Y at pixel ${p}`).toBeLessThanOrEqual(1 + 1e-6);
    }
    expect(checked, 'pixels inside 0..255 to check').toBeGreaterThan((W * H) / 2);
    // The net itself changes colours a lot: the test would notice a no-op.
    expect(styledChromaOff).toBeGreaterThan(5);
  });

  it('strength 0 is the content exactly, 1 the net output exactly, 0.5 the blend', async () => {
    const e = await testEngine();
    const net = TransformNet.create(e, { widthMultiplier: 0.25, seed: 5 });
    const img = photo(W, H);
    const full = await stylizeRgba(net, img);
    expect(Array.from((await stylizeRgba(net, img, { strength: 0 })).data)).toEqual(Array.from(img.data));
    expect(Array.from((await stylizeRgba(net, img, { strength: 1 })).data)).toEqual(Array.from(full.data));
    const half = await stylizeRgba(net, img, { strength: 0.5 });
    const cpu = blendRgba(img, full, 0.5);
    let worst = 0;
    for (let i = 0; i < cpu.length; i++) worst = Math.max(worst, Math.abs(half.data[i] - cpu[i]));
    // The GPU blends the unrounded output, the CPU the rounded bytes: at most one level apart.
    expect(worst).toBeLessThanOrEqual(1);
    // Tiled (16-pixel tiles): each tile is blended before the tiles are, the same up to rounding.
    const tiledFull = await stylizeRgba(net, img, { tile: 16, overlap: 4 });
    const tiledHalf = await stylizeRgba(net, img, { strength: 0.5, tile: 16, overlap: 4 });
    const tiledCpu = blendRgba(img, tiledFull, 0.5);
    worst = 0;
    for (let i = 0; i < cpu.length; i++) worst = Math.max(worst, Math.abs(tiledHalf.data[i] - tiledCpu[i]));
    expect(worst).toBeLessThanOrEqual(1);
    await expect(stylizeRgba(net, img, { strength: 1.5 })).rejects.toThrow(/strength must be in 0\.\.1/);
    net.dispose();
  });

  it('the browser stylizer takes strength and preserveColors through the same code', async () => {
    const e = await testEngine();
    const net = TransformNet.create(e, { widthMultiplier: 0.25, seed: 7 });
    const bytes = await saveTransformNet(net);
    const img = photo(W, H);
    const expected = await stylizeRgba(net, img, { preserveColors: true, strength: 0.7 });
    net.dispose();
    const stylizer = await createStylizer(bytes, { engine: e });
    const got = await stylizer.stylize(img, { preserveColors: true, strength: 0.7 });
    expect(Array.from(got.data)).toEqual(Array.from(expected.data));
    const none = await stylizer.stylize(img, { strength: 0 });
    expect(Array.from(none.data)).toEqual(Array.from(img.data));
    stylizer.dispose();
  });
});
