import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataLoader, listImages } from '../src/cli/data-loader.js';
import { cropSample } from '../src/cli/data-sample.js';
import { encodeImage } from '../src/cli/image-io.js';
import { lossCurveSvg } from '../src/cli/loss-curve.js';
import { SampleOrder } from '../src/models/sample-order.js';

const dir = mkdtempSync(join(tmpdir(), 'fsw-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An image whose red channel is the column and green the row: crops and flips are readable from it. */
function coordinates(w: number, h: number): { width: number; height: number; data: Uint8Array } {
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

describe('cropSample', () => {
  it('scales the shorter side to the size, crops at the fractions, flips left-right', () => {
    // 8×4 → shorter side 4 is the size already: no resize; crop x0 = floor(0.99·5) = 4.
    const c = cropSample(coordinates(8, 4), 4, 0.99, 0, false);
    expect([c[0], c[1]]).toEqual([4, 0]);
    expect([c[(3 * 4 + 3) * 4], c[(3 * 4 + 3) * 4 + 1]]).toEqual([7, 3]);
    const f = cropSample(coordinates(8, 4), 4, 0, 0, true);
    expect([f[0], f[(0 * 4 + 3) * 4]]).toEqual([3, 0]);
    // 20×10 → 8×4 at size 4 (resized), the whole height.
    expect(cropSample(coordinates(20, 10), 4, 0.5, 0.5, false).length).toBe(4 * 4 * 4);
  });
});

describe('DataLoader (decoding on the calling thread)', () => {
  mkdirSync(join(dir, 'a/deeper'), { recursive: true });
  writeFileSync(join(dir, 'a/one.png'), encodeImage(coordinates(12, 10), 'png'));
  writeFileSync(join(dir, 'a/deeper/two.PNG'), encodeImage(coordinates(10, 14), 'png'));
  writeFileSync(join(dir, 'three.jpg'), encodeImage(coordinates(16, 9), 'jpeg'));
  writeFileSync(join(dir, 'bad.jpeg'), 'not an image');
  writeFileSync(join(dir, 'notes.txt'), 'ignored');

  it('lists JPEG and PNG files recursively, sorted', () => {
    expect(listImages(dir).map((p) => p.slice(dir.length + 1))).toEqual(['a/deeper/two.PNG', 'a/one.png', 'bad.jpeg', 'three.jpg']);
  });

  it('skips an unreadable file with one warning and gives the same batches when started mid-way', async () => {
    const warnings: string[] = [];
    const files = listImages(dir);
    const all = new DataLoader(files, { size: 8, batch: 2, seed: 3, start: 0, workers: 0, onWarning: (m) => warnings.push(m) });
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
    const loader = new DataLoader([join(dir, 'bad.jpeg'), join(dir, 'notes.txt')], { size: 8, batch: 1, seed: 0, start: 0, workers: 0 });
    await expect(loader.next()).rejects.toThrow(/none of the 2 images can be read/);
    loader.close();
    expect(() => new DataLoader([], { size: 8, batch: 1, seed: 0, start: 0, workers: 0 })).toThrow(/no JPEG or PNG images/);
  });
});

describe('lossCurveSvg', () => {
  it('draws four series on a log axis covering their decades', () => {
    const records = Array.from({ length: 50 }, (_, i) => ({ step: i + 1, content: 1e5 / (1 + i), style: 7e6 / (1 + i * i), tv: 200 + i, total: 1e6 / (1 + i) }));
    const svg = lossCurveSvg(records, 'a <b> run');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(4);
    expect(svg).toContain('1e2');
    expect(svg).toContain('1e7');
    expect(svg).toContain('a &lt;b&gt; run');
    expect(lossCurveSvg([])).toMatch(/^<svg[^]*<\/svg>\n$/);
  });
});
