// Issue 21: the flicker measure (src/models/temporal.ts). The panned clip moves by exactly the pan, its noise
// has the asked-for size, the error is 0 for a net that moves with the picture and large for one whose
// output is anchored to the frame, and a random transform net lands in between.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage, encodeImage } from '../src/node/image-io.js';
import { saveTransformNet } from '../src/models/model-file.js';
import { buildCliIfStale, runCli, workDir } from './helpers/cli.js';
import type { Tensor } from '../src/engine/tensor.js';
import { Tensor as TensorClass } from '../src/engine/tensor.js';
import { add } from '../src/autograd/functional.js';
import { measureTemporalError, pannedClip, pannedClipSize, temporalError } from '../src/models/temporal.js';
import { TransformNet } from '../src/models/transform-net.js';
import { rng } from '../src/ops/cpu.js';
import { testEngine } from './helpers/gpu.js';

function photo(width: number, height: number, seed: number) {
  const r = rng(seed);
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = i % 4 === 3 ? 255 : Math.floor(30 + 200 * r());
  return { width, height, data };
}

describe('panned clip and temporal error', () => {
  it('without noise, each frame is the previous one moved by the pan: error 0', () => {
    const p = photo(30, 20, 1);
    const frames = pannedClip(p, { frames: 4, pan: [2, 1], noise: 0, seed: 1 });
    expect(pannedClipSize(p, { frames: 4, pan: [2, 1] })).toEqual({ width: 24, height: 17 });
    expect(frames.map((f) => [f.width, f.height])).toEqual(Array(4).fill([24, 17]));
    // Frame 2 at (0, 0) is the photo at (4, 2).
    expect([...frames[2].data.subarray(0, 4)]).toEqual([...p.data.subarray((2 * 30 + 4) * 4, (2 * 30 + 4) * 4 + 4)]);
    expect(temporalError(frames, [2, 1]).mean).toBe(0);
    // The wrong pan is not 0: the measure looks where the content went.
    expect(temporalError(frames, [1, 1]).mean).toBeGreaterThan(20);
  });

  it('one changed pixel of one pair gives exactly its share', () => {
    const frames = pannedClip(photo(12, 10, 2), { frames: 3, pan: [1, 0], noise: 0, seed: 1 });
    frames[2].data[0] = frames[2].data[0] < 128 ? frames[2].data[0] + 60 : frames[2].data[0] - 60;
    const r = temporalError(frames, [1, 0]);
    expect(r.pairs[0]).toBe(0);
    // The pair shares 9×10 pixels (the 10×10 frames less the one-pixel pan).
    expect(r.pairs[1]).toBeCloseTo(60 / (9 * 10 * 3), 12);
    expect(r.mean).toBeCloseTo(30 / (9 * 10 * 3), 12);
  });

  it('Gaussian noise of σ gives the input clip an error of about 2σ/√π, the same for a seed', () => {
    const p = photo(70, 60, 3);
    const a = pannedClip(p, { frames: 3, pan: [1, 0], noise: 4, seed: 7 });
    const e = temporalError(a, [1, 0]).mean;
    expect(e).toBeGreaterThan((0.9 * (2 * 4)) / Math.sqrt(Math.PI));
    expect(e).toBeLessThan((1.1 * (2 * 4)) / Math.sqrt(Math.PI));
    expect(pannedClip(p, { frames: 3, pan: [1, 0], noise: 4, seed: 7 })[1].data).toEqual(a[1].data);
    expect(() => pannedClip(p, { frames: 3, pan: [0, 0], noise: 1, seed: 1 })).toThrow(/pan/);
  });

  it('measureTemporalError: a pointwise net keeps the input error; a frame-anchored pattern flickers; a random net is finite', async () => {
    const engine = await testEngine();
    const p = photo(40, 28, 4);
    const clip = { frames: 3, pan: [1, 0] as [number, number], noise: 2, seed: 5 };
    const identity = { engine, forward: (x: Tensor) => x };
    const same = await measureTemporalError(identity, p, clip);
    expect(same.net).toBeCloseTo(same.input, 10);
    expect(same.input).toBeGreaterThan(1);
    // A pattern fixed to the frame (as strokes that do not follow the picture): large error.
    const size = pannedClipSize(p, clip);
    const r = rng(9);
    const pattern = TensorClass.fromData(
      engine,
      [1, 3, size.height, size.width],
      Float32Array.from({ length: 3 * size.width * size.height }, () => 60 * (r() - 0.5)),
    );
    const anchored = await measureTemporalError({ engine, forward: (x: Tensor) => add(x, pattern) }, p, clip);
    expect(anchored.net).toBeGreaterThan(same.net + 10);
    pattern.dispose();
    const net = TransformNet.create(engine, { widthMultiplier: 0.25, seed: 2 });
    const m = await measureTemporalError(net, p, clip);
    net.dispose();
    expect(Number.isFinite(m.net)).toBe(true);
    expect(m.net).toBeGreaterThan(0);
    expect(m.stylised).toHaveLength(3);
  }, 120_000);
});

describe('flicker command', () => {
  const work = workDir('flicker-test-');

  it("prints the temporal error beside the input clip's and the style loss; writes the strip; refuses a pan of 0", async () => {
    buildCliIfStale();
    const engine = await testEngine();
    const net = TransformNet.create(engine, { widthMultiplier: 0.25, seed: 2 });
    writeFileSync(
      join(work, 'tiny.safetensors'),
      await saveTransformNet(net, {
        style: 'tiny',
        training: {
          loss: {
            contentLayer: 'relu2_2',
            styleLayers: ['relu1_2', 'relu2_2'],
            contentWeight: 1,
            styleWeight: 1,
            tvWeight: 0,
          },
        },
      }),
    );
    net.dispose();
    writeFileSync(join(work, 'photo.png'), await encodeImage(photo(48, 40, 6), 'png'));
    writeFileSync(join(work, 'style.png'), await encodeImage(photo(32, 28, 7), 'png'));
    const run = (...more: string[]) =>
      runCli(['flicker', '-m', 'tiny.safetensors', '--photo', 'photo.png', '--size', '24', '--frames', '3', ...more], {
        cwd: work,
        timeout: 240_000,
      });
    const r = run('--style-image', 'style.png', '--style-size', '32', '--strip', 'strip.png');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^temporal error \d+\.\d{3} levels \(input clip \d+\.\d{3}: the noise alone; 0 = perfectly stable; pairs \S+ \S+\)$/m,
    );
    expect(r.stdout).toMatch(
      /^style loss \d\.\d{3}e[+-]\d+ \(mean over the frames; style\.png at 32 px, layers relu1_2,relu2_2\)$/m,
    );
    const sheet = await decodeImage(new Uint8Array(readFileSync(join(work, 'strip.png'))), 'strip.png');
    // Frames 24×22 (the 48×40 photo at 26×22 px minus the 2-pixel travel); 3 per row, 2 rows, 2-pixel gaps.
    expect([sheet.width, sheet.height]).toEqual([3 * 24 + 2 * 2, 2 * 22 + 2]);
    const bad = run('--pan', '0,0');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/error: --pan expects DX or DX,DY/);
  }, 300_000);
});
