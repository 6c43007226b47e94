import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/engine/tensor.js';
import { cpuTensor, rng, type CpuTensor } from '../src/ops/cpu.js';
import { rgbaToTensor, tensorToRgba, type PixelConvention } from '../src/ops/image.js';
import { expectClose } from './helpers/check.js';
import { testEngine, toCpu } from './helpers/gpu.js';

const torchvision: PixelConvention = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const conventions: [string, PixelConvention][] = [
  ['default (0..255)', {}],
  ['torchvision (1/255, ImageNet mean/std)', torchvision],
];
const sizes: [number, number][] = [
  [7, 5],
  [1, 1],
  [33, 17],
];

/** Random RGBA bytes that include 0 and 255 (the ends of the range are where rounding and clamping bite). */
function randomRgba(width: number, height: number, seed: number): Uint8ClampedArray {
  const r = rng(seed);
  const px = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < px.length; i++) px[i] = Math.floor(r() * 256);
  px[0] = 0;
  if (px.length > 1) px[1] = 255;
  return px;
}

/** The float64 value of each byte under a convention, as [1, 3, H, W]. */
function expectedTensor(px: ArrayLike<number>, width: number, height: number, opts: PixelConvention): CpuTensor {
  const scale = opts.scale ?? 1;
  const mean = opts.mean ?? [0, 0, 0];
  const std = opts.std ?? [1, 1, 1];
  const t = cpuTensor([1, 3, height, width]);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) t.data[c * width * height + p] = (px[p * 4 + c] * scale - mean[c]) / std[c];
  }
  return t;
}

function withOpaqueAlpha(px: Uint8ClampedArray): Uint8ClampedArray {
  const out = Uint8ClampedArray.from(px);
  for (let i = 3; i < out.length; i += 4) out[i] = 255;
  return out;
}

describe('rgbaToTensor / tensorToRgba', () => {
  for (const [name, opts] of conventions) {
    for (const [w, h] of sizes) {
      it(`${w}×${h}, ${name}: values match the float64 map and the round trip is exact`, async () => {
        const e = await testEngine();
        const px = randomRgba(w, h, w * 100 + h);
        await e.scopeAsync(async () => {
          const t = rgbaToTensor(e, px, w, h, opts);
          expect(t.shape).toEqual([1, 3, h, w]);
          expectClose(await toCpu(t), expectedTensor(px, w, h, opts), { atol: 1e-6, rtol: 1e-6 }, 'decoded');
          expect(await tensorToRgba(t, 0, opts)).toEqual(withOpaqueAlpha(px));
        });
      });
    }
  }

  it('accepts a Uint8Array view at a byte offset', async () => {
    const e = await testEngine();
    const backing = new Uint8Array(4 + 3 * 2 * 4);
    backing.set(randomRgba(3, 2, 5), 4);
    const view = backing.subarray(4);
    await e.scopeAsync(async () => {
      const t = rgbaToTensor(e, view, 3, 2);
      expect(await tensorToRgba(t)).toEqual(withOpaqueAlpha(Uint8ClampedArray.from(view)));
    });
  });

  it('rounds to the nearest byte and clamps out-of-range values', async () => {
    const e = await testEngine();
    // One 4×1 image; channel planes R, G, B.
    const r = [-10, 300, 254.6, -0.4];
    const g = [0.4, 254.4, 1e9, -1e9];
    const b = [127.6, 12.2, 255, 0];
    await e.scopeAsync(async () => {
      const t = Tensor.fromData(e, [1, 3, 1, 4], [...r, ...g, ...b]);
      const px = await tensorToRgba(t);
      expect([...px]).toEqual([0, 0, 128, 255, 255, 254, 12, 255, 255, 255, 255, 255, 0, 0, 0, 255]);
      // The same through torchvision's map: value·std + mean, then ·255.
      const tv = Tensor.fromData(e, [1, 3, 1, 2], [-5, 5, -5, 5, -5, 5]);
      expect([...(await tensorToRgba(tv, 0, torchvision))]).toEqual([0, 0, 0, 255, 255, 255, 255, 255]);
    });
  });

  it('writes and reads image 1 of a batch of 2, leaving image 0 alone', async () => {
    const e = await testEngine();
    const [w, h] = [9, 7];
    const px = randomRgba(w, h, 77);
    await e.scopeAsync(async () => {
      const batch = Tensor.full(e, [2, 3, h, w], 2.25);
      const same = rgbaToTensor(e, px, w, h, torchvision, { tensor: batch, index: 1 });
      expect(same).toBe(batch);
      const all = await batch.data();
      const plane = 3 * w * h;
      expect(all.subarray(0, plane).every((v) => v === 2.25)).toBe(true);
      expectClose(all.subarray(plane), expectedTensor(px, w, h, torchvision), { atol: 1e-6, rtol: 1e-6 }, 'image 1');
      expect(await tensorToRgba(batch, 1, torchvision)).toEqual(withOpaqueAlpha(px));
      const first = await tensorToRgba(batch, 0);
      expect(first.every((v, i) => v === (i % 4 === 3 ? 255 : 2))).toBe(true);
    });
  });

  it('rejects wrong sizes, shapes and indices', async () => {
    const e = await testEngine();
    await e.scopeAsync(async () => {
      expect(() => rgbaToTensor(e, new Uint8Array(7 * 5 * 4 - 1), 7, 5)).toThrow(/139 bytes for a 7×5/);
      const batch = Tensor.zeros(e, [2, 3, 5, 7]);
      expect(() => rgbaToTensor(e, new Uint8Array(5 * 7 * 4), 5, 7, {}, { tensor: batch, index: 0 })).toThrow(
        /\[2, 3, 5, 7\] is not \[N, 3, 7, 5\]/,
      );
      expect(() => rgbaToTensor(e, new Uint8Array(7 * 5 * 4), 7, 5, {}, { tensor: batch, index: 2 })).toThrow(
        /index 2 outside a batch of 2/,
      );
      await expect(tensorToRgba(Tensor.zeros(e, [1, 4, 2, 2]))).rejects.toThrow(/not \[N, 3, H, W\]/);
      expect(() => rgbaToTensor(e, new Uint8Array(4), 1, 1, { std: [1, 0, 1] })).toThrow(/must be positive/);
    });
  });
});
