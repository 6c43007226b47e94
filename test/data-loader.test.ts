import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataLoader, listImages } from '../src/node/data-loader.js';
import { cropSample, photoScale } from '../src/node/data-sample.js';
import { decodeImage, encodeImage, resizeRgba } from '../src/node/image-io.js';
import type { RgbaImage } from '../src/models/rgba-image.js';
import { lossCurveSvg } from '../src/models/loss-curve.js';
import { SampleOrder } from '../src/models/sample-order.js';

const dir = mkdtempSync(join(tmpdir(), 'fsw-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An image whose red channel is the column and green the row: crops and flips are readable from it. */
function coordinates(w: number, h: number): RgbaImage<Uint8Array> {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) data.set([x, y, 7, 255], (y * w + x) * 4);
  }
  return { width: w, height: h, data };
}

describe('SampleOrder', () => {
  it('visits every file once per epoch, in a seeded order that differs between epochs and seeds', () => {
    const order = new SampleOrder(5, 7);
    const epoch = (e: number) => Array.from({ length: 7 }, (_, i) => order.at(e * 7 + i).file);
    expect([...epoch(0)].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect([...epoch(3)].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(epoch(0)).not.toEqual(epoch(1));
    expect(new SampleOrder(5, 7).at(12)).toEqual(order.at(12));
    expect(Array.from({ length: 7 }, (_, i) => new SampleOrder(6, 7).at(i).file)).not.toEqual(epoch(0));
    const flips = Array.from({ length: 200 }, (_, i) => order.at(i).flip).filter(Boolean).length;
    expect(flips).toBeGreaterThan(70);
    expect(flips).toBeLessThan(130);
  });
});

/** cropSample of an image, through a PNG file as the loader reads one. */
async function crop(
  img: RgbaImage,
  ...rest: Parameters<typeof cropSample> extends [Uint8Array, string, ...infer R] ? R : never
): Promise<Uint8Array> {
  return cropSample(await encodeImage(img, 'png'), 'test.png', ...rest);
}

describe('cropSample', () => {
  it('scales the shorter side to the size, crops at the fractions, flips left-right', async () => {
    // 8×4 → shorter side 4 is the size already: no resize; crop x0 = floor(0.99·5) = 4.
    const c = await crop(coordinates(8, 4), 4, 0.99, 0, false);
    expect([c[0], c[1]]).toEqual([4, 0]);
    expect([c[(3 * 4 + 3) * 4], c[(3 * 4 + 3) * 4 + 1]]).toEqual([7, 3]);
    const f = await crop(coordinates(8, 4), 4, 0, 0, true);
    expect([f[0], f[(0 * 4 + 3) * 4]]).toEqual([3, 0]);
    // 20×10 → 8×4 at size 4 (resized), the whole height.
    expect((await crop(coordinates(20, 10), 4, 0.5, 0.5, false)).length).toBe(4 * 4 * 4);
  });

  it('is the photo resized by libvips and then cropped: the same pixels as decode, resizeRgba, crop', async () => {
    // 60×40 at 16: resized to 24×16, the window at x0 = floor(0.5·9) = 4, mirrored.
    const img = coordinates(60, 40);
    const c = await crop(img, 16, 0.5, 0, true);
    const resized = await resizeRgba(await decodeImage(await encodeImage(img, 'png'), 'x.png'), 24, 16);
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 16; x++) {
        const s = (y * 24 + 4 + 15 - x) * 4;
        expect(Array.from(c.subarray((y * 16 + x) * 4, (y * 16 + x) * 4 + 4))).toEqual([
          ...resized.data.subarray(s, s + 3),
          255,
        ]);
      }
    }
  });
});

describe('random crop scale', () => {
  it('draws scales log-uniformly between "shorter side = crop" and the photo\'s own size, never enlarging', () => {
    // 481×321 at 128: whole = 128/321.
    const whole = 128 / 321;
    expect(photoScale(481, 321, 128, 'shorter-side', 0.9)).toBeCloseTo(whole, 12);
    expect(photoScale(481, 321, 128, 'random', 0)).toBeCloseTo(whole, 12);
    expect(photoScale(481, 321, 128, 'random', 0.5)).toBeCloseTo(Math.sqrt(whole), 12);
    expect(photoScale(481, 321, 128, 'random', 1)).toBeCloseTo(1, 12);
    // A photo smaller than the crop is enlarged to fit whatever the draw.
    expect(photoScale(100, 60, 128, 'random', 0.7)).toBeCloseTo(128 / 60, 12);
    // The draws of a seeded order cover the range: some near whole, some near full resolution.
    const order = new SampleOrder(1, 400);
    const scales = Array.from({ length: 400 }, (_, i) => order.at(i).scale);
    expect(Math.min(...scales)).toBeLessThan(0.05);
    expect(Math.max(...scales)).toBeGreaterThan(0.95);
  });

  it('at the largest scale crops pixels of the photo at its own resolution; at the smallest, the whole height', async () => {
    const img = coordinates(40, 20);
    // fraction → 1: scale 1, no resize: the crop at the fractions reads the coordinates directly.
    const full = await crop(img, 8, 0, 0.5, false, 0.999999, 'random');
    expect([full[0], full[1]]).toEqual([0, Math.floor(0.5 * 13)]);
    expect([full[(7 * 8 + 7) * 4], full[(7 * 8 + 7) * 4 + 1]]).toEqual([7, 6 + 7]);
    // fraction 0: the same as shorter-side (20 rows → 8): the crop spans the whole height.
    const whole = await crop(img, 8, 0, 0, false, 0, 'random');
    expect(whole).toEqual(await crop(img, 8, 0, 0, false));
    expect(whole[7 * 8 * 4 + 1]).toBeGreaterThan(16);
  });

  it('keeps the older draws (file, flip, crop) of a seed unchanged', () => {
    // The order of seed 1 over 400 photos as the code before the scale stream drew it (the shipped
    // starry_night run): a resumed or reproduced run must see the same files, flips and crop positions.
    const order = new SampleOrder(1, 400);
    const before = [
      [0, 235, true, 0.7649945083539933, 0.2997097328770906],
      [399, 101, true, 0.049852451076731086, 0.470291861332953],
      [1234, 398, true, 0.21800700621679425, 0.24618235020898283],
    ] as const;
    for (const [index, file, flip, cropX, cropY] of before) {
      expect(order.at(index)).toMatchObject({ file, flip, cropX, cropY });
    }
  });
});

describe('DataLoader', () => {
  beforeAll(async () => {
    mkdirSync(join(dir, 'a/deeper'), { recursive: true });
    writeFileSync(join(dir, 'a/one.png'), await encodeImage(coordinates(12, 10), 'png'));
    writeFileSync(join(dir, 'a/deeper/two.PNG'), await encodeImage(coordinates(10, 14), 'png'));
    writeFileSync(join(dir, 'three.jpg'), await encodeImage(coordinates(16, 9), 'jpeg'));
    writeFileSync(join(dir, 'four.webp'), await encodeImage(coordinates(11, 13), 'webp'));
    writeFileSync(join(dir, 'bad.jpeg'), 'not an image');
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
  });

  it('lists image files recursively, sorted', () => {
    expect(listImages(dir).map((p) => p.slice(dir.length + 1))).toEqual([
      'a/deeper/two.PNG',
      'a/one.png',
      'bad.jpeg',
      'four.webp',
      'three.jpg',
    ]);
  });

  it('gives the same batches whether it decodes one image at a time or several', async () => {
    const files = listImages(dir);
    const one = new DataLoader(files, { size: 8, batch: 3, seed: 4, start: 0, workers: 1 });
    const three = new DataLoader(files, { size: 8, batch: 3, seed: 4, start: 0, workers: 3 });
    for (let i = 0; i < 4; i++) expect(await three.next()).toEqual(await one.next());
    one.close();
    three.close();
  });

  it('skips an unreadable file with one warning and gives the same batches when started mid-way', async () => {
    const warnings: string[] = [];
    const files = listImages(dir);
    const all = new DataLoader(files, {
      size: 8,
      batch: 2,
      seed: 3,
      start: 0,
      workers: 0,
      onWarning: (m) => warnings.push(m),
    });
    const batches = [];
    for (let i = 0; i < 6; i++) batches.push(await all.next());
    all.close();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/skipping cannot read .*bad\.jpeg/);
    for (const b of batches) for (const img of b) expect(img.length).toBe(8 * 8 * 4);
    const later = new DataLoader(files, { size: 8, batch: 2, seed: 3, start: 6, workers: 0 });
    expect(await later.next()).toEqual(batches[3]);
    later.close();
  });

  it('fails with a clear error when no file can be read', async () => {
    const loader = new DataLoader([join(dir, 'bad.jpeg'), join(dir, 'notes.txt')], {
      size: 8,
      batch: 1,
      seed: 0,
      start: 0,
      workers: 0,
    });
    await expect(loader.next()).rejects.toThrow(/none of the 2 images can be read/);
    loader.close();
    expect(() => new DataLoader([], { size: 8, batch: 1, seed: 0, start: 0, workers: 0 })).toThrow(
      /no JPEG, PNG, WebP, AVIF, HEIC, TIFF or GIF images/,
    );
  });
});

describe('lossCurveSvg', () => {
  it('draws four series on a log axis covering their decades', () => {
    const records = Array.from({ length: 50 }, (_, i) => ({
      step: i + 1,
      content: 1e5 / (1 + i),
      style: 7e6 / (1 + i * i),
      tv: 200 + i,
      total: 1e6 / (1 + i),
    }));
    const svg = lossCurveSvg(records, 'a <b> run');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(4);
    expect(svg).toContain('1e2');
    expect(svg).toContain('1e7');
    expect(svg).toContain('a &lt;b&gt; run');
    expect(lossCurveSvg([])).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
  });
});
