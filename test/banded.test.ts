import { describe, expect, it } from 'vitest';
import { noGrad } from '../src/autograd/tape.js';
import { Tensor } from '../src/engine/tensor.js';
import { axisSourceMap, bandRows, runBanded, type BandConv } from '../src/models/banded.js';
import { defaultTileEdge, peakFloatsPerPixel, stylizeRgba } from '../src/models/stylize.js';
import { TransformNet } from '../src/models/transform-net.js';
import { rgbaToTensor } from '../src/ops/image.js';
import { testEngine } from './helpers/gpu.js';
import { randomImage } from './helpers/images.js';
import type { RgbaImage } from '../src/models/rgba-image.js';

/** A seeded image smoothed along rows, so that the net sees structure, not only noise. */
function smoothImage(width: number, height: number, seed = 1): RgbaImage<Uint8Array> {
  const img = randomImage(width, height, seed);
  for (let i = 4; i < img.data.length; i++) img.data[i] = (img.data[i] + img.data[i - 4]) >> 1;
  return img;
}

/**
 * A small net whose instance-norm scales and shifts are random (not the initial 1 and 0), so that a band
 * that used the wrong statistics, scale, shift or residual would show.
 */
async function randomNet(seed: number): Promise<TransformNet> {
  const engine = await testEngine();
  const net = TransformNet.create(engine, { widthMultiplier: 0.25, seed });
  let s = seed * 7919;
  const next = () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s / 2 ** 32;
  };
  for (const [name, t] of net.parameters()) {
    if (/(^|\.)in\d\.(weight|bias)$/.test(name)) {
      const v = new Float32Array(t.size).map(() => (name.endsWith('weight') ? 0.5 + next() : next() - 0.5));
      t.write(v);
    }
  }
  return net;
}

/** Fraction of colour bytes that differ by more than 1 level, and the largest difference. */
function compareBytes(a: Uint8Array, b: Uint8Array): { over1: number; max: number } {
  let over = 0;
  let max = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    if (i % 4 === 3) continue;
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d);
    if (d > 1) over++;
    n++;
  }
  return { over1: over / n, max };
}

describe('axisSourceMap', () => {
  it('reflects without repeating the edge, pads zeros, upsamples by repetition or zero insertion', () => {
    expect([...axisSourceMap(4, 1, 'nearest', { before: 2, after: 2 }, 'reflect')]).toEqual([2, 1, 0, 1, 2, 3, 2, 1]);
    expect([...axisSourceMap(3, 1, 'nearest', { before: 1, after: 2 }, 'zeros')]).toEqual([-1, 0, 1, 2, -1, -1]);
    expect([...axisSourceMap(3, 2, 'nearest', { before: 1, after: 1 }, 'reflect')]).toEqual([0, 0, 0, 1, 1, 2, 2, 2]);
    // A transposed stride-2 convolution's view of its input: x0 0 x1 0 x2 0, padded 2 before.
    expect([...axisSourceMap(3, 2, 'zeros', { before: 2, after: 0 }, 'zeros')]).toEqual([-1, -1, 0, -1, 1, -1, 2, -1]);
    expect(() => axisSourceMap(2, 1, 'nearest', { before: 2, after: 2 }, 'reflect')).toThrow(/reflection padding/);
  });
});

describe('banded execution (whole-image instance-norm statistics)', () => {
  it('gives the one-pass output of the net, in floats, with bands of 1 to 5 rows', async () => {
    const net = await randomNet(3);
    const engine = net.engine;
    // Odd sides, padded internally to multiples of 4 as forward does.
    const img = smoothImage(29, 23, 5);
    const program = await net.bandProgram();
    const ph = program.internalSize(img.height);
    const pw = program.internalSize(img.width);
    expect([ph, pw]).toEqual([24, 32]);
    // The net at its internal size (no padding or cropping involved): both paths see the same input.
    const padded = smoothImage(pw, ph, 9);
    const whole = await engine.scopeAsync(async () => {
      const x = rgbaToTensor(engine, padded.data, pw, ph);
      return noGrad(() => net.forward(x)).data();
    });
    const input = { channels: 3, height: ph, width: pw, data: new Float32Array(3 * ph * pw) };
    for (let p = 0; p < ph * pw; p++) for (let c = 0; c < 3; c++) input.data[c * ph * pw + p] = padded.data[p * 4 + c];
    for (const rows of [1, 2, 5]) {
      const { output, stats } = await runBanded(engine, program, input, { budgetBytes: 1 << 30, maxBandRows: rows });
      expect(stats.maxBandsPerConv).toBe(Math.ceil(pw / rows) >= 1 ? Math.ceil(ph / rows) : 0);
      let max = 0;
      for (let i = 0; i < whole.length; i++) max = Math.max(max, Math.abs(whole[i] - output.data[i]));
      // Float32 conv sums in a different order and float64 statistics: far below one grey level.
      expect(max, `bands of ${rows} rows`).toBeLessThan(2e-2);
    }
    net.dispose();
  });

  it('stylizeRgba in forced small bands equals the one-pass result within 1 level on ≥ 99.9 % of bytes, odd and tiny sizes', async () => {
    const net = await randomNet(4);
    for (const [w, h] of [
      [37, 26],
      [9, 14],
      [3, 2],
      [1, 1],
    ]) {
      const img = smoothImage(w, h, w * 31 + h);
      const modes: string[] = [];
      const one = await stylizeRgba(net, img, { onMode: (m) => modes.push(m) });
      const banded = await stylizeRgba(net, img, { maxBandRows: 3, onMode: (m) => modes.push(m) });
      expect(modes).toEqual(['one-pass', 'banded']);
      expect([banded.width, banded.height]).toEqual([w, h]);
      const { over1, max } = compareBytes(one.data, banded.data);
      expect(over1, `${w}×${h}: max diff ${max}`).toBeLessThanOrEqual(0.001);
      // Alpha is carried over.
      for (let i = 3; i < img.data.length; i += 4) expect(banded.data[i]).toBe(img.data[i]);
    }
    net.dispose();
  });

  it('finishes banded output like the one pass (preserve colours, strength)', async () => {
    const net = await randomNet(5);
    const img = smoothImage(21, 18, 77);
    const opts = { preserveColors: true, strength: 0.6 };
    const one = await stylizeRgba(net, img, opts);
    const banded = await stylizeRgba(net, img, { ...opts, maxBandRows: 4 });
    const { over1, max } = compareBytes(one.data, banded.data);
    expect(over1, `max diff ${max}`).toBeLessThanOrEqual(0.001);
    net.dispose();
  });

  it('runs an image whose one pass exceeds the memory budget in bands that fit it, and frees every band', async () => {
    const net = await randomNet(6);
    const engine = net.engine;
    const img = smoothImage(64, 48, 12);
    const modes: string[] = [];
    const live0 = engine.poolStats().liveBytes;
    const budget = 256 * 1024;
    engine.pool.resetPeak();
    const banded = await stylizeRgba(net, img, { memoryBytes: budget, onMode: (m) => modes.push(m) });
    expect(modes).toEqual(['banded']);
    expect(engine.poolStats().liveBytes).toBe(live0);
    const peak = engine.poolStats().peakLiveBytes - live0;
    console.log(
      `banded 64×48 under a ${budget / 1024} KiB budget: peak ${(peak / 1024).toFixed(0)} KiB of GPU buffers`,
    );
    expect(peak).toBeLessThanOrEqual(budget);
    const one = await stylizeRgba(net, img, {});
    expect(compareBytes(one.data, banded.data).over1).toBeLessThanOrEqual(0.001);
    net.dispose();
  });

  it('sizes bands from the budget: more memory, more rows', async () => {
    const engine = await testEngine();
    const weight = Tensor.zeros(engine, [32, 3, 9, 9]);
    const step: BandConv = {
      kind: 'conv',
      name: 'conv1',
      weight,
      bias: null,
      stride: 1,
      upsample: 1,
      upsampleMode: 'nearest',
      pad: () => ({ before: 4, after: 4 }),
      padMode: 'reflect',
    };
    const input = { channels: 3, height: 4000, width: 3000, data: new Float32Array(0) };
    const small = bandRows(step, input, 64 << 20);
    const large = bandRows(step, input, 512 << 20);
    expect(small).toBeGreaterThan(1);
    expect(large).toBeGreaterThan(small * 7);
    // Input and output of a band alone stay within the budget.
    expect(4 * small * (3 * 3008 + 32 * 3000)).toBeLessThan(64 << 20);
    weight.dispose();
  });
});

describe('banded execution of the ml5-lengstrom architecture (zero SAME padding, transposed convs, output norm)', () => {
  it('stylizeRgba in forced small bands equals the one-pass result within 1 level on ≥ 99.9 % of bytes', async () => {
    const engine = await testEngine();
    const net = TransformNet.create(engine, { widthMultiplier: 0.25, seed: 8, architecture: 'ml5-lengstrom' });
    let s = 99;
    for (const [name, t] of net.parameters()) {
      if (/(^|\.)in\d\.(weight|bias)$/.test(name)) {
        const v = new Float32Array(t.size).map(() => {
          s = (s * 1103515245 + 12345) >>> 0;
          return name.endsWith('weight') ? 0.5 + s / 2 ** 32 : s / 2 ** 32 - 0.5;
        });
        t.write(v);
      }
    }
    for (const [w, h] of [
      [30, 21],
      [8, 13],
    ]) {
      const img = smoothImage(w, h, w + 7 * h);
      const modes: string[] = [];
      const one = await stylizeRgba(net, img, { onMode: (m) => modes.push(m) });
      const banded = await stylizeRgba(net, img, { maxBandRows: 2, onMode: (m) => modes.push(m) });
      expect(modes).toEqual(['one-pass', 'banded']);
      const { over1, max } = compareBytes(one.data, banded.data);
      expect(over1, `${w}×${h}: max diff ${max}`).toBeLessThanOrEqual(0.001);
    }
    const live = engine.poolStats().liveBytes;
    const program = await net.bandProgram();
    program.dispose();
    expect(engine.poolStats().liveBytes).toBe(live);
    net.dispose();
  });
});

describe('mode choice', () => {
  it('an image whose widest activation fits one binding runs in one pass even when it is wider than the square default tile', async () => {
    const engine = await testEngine();
    const net = TransformNet.create(engine, { widthMultiplier: 0.25, seed: 9 });
    // A wide strip: its area fits easily, its long side exceeds the default square tile edge.
    const edge = defaultTileEdge(engine, peakFloatsPerPixel(net));
    const img = smoothImage(edge + 40, 8, 3);
    const modes: string[] = [];
    await stylizeRgba(net, img, { onMode: (m) => modes.push(m) });
    expect(modes).toEqual(['one-pass']);
    net.dispose();
  });
});
