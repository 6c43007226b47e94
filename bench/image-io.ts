// Image I/O before and after libvips (issue 23), in one run (`npm run bench -- --image-io`): decode and encode
// of a 12 MP photo with the old code (jpeg-js, pngjs: bench/legacy-image-io.ts) and with sharp, and the
// training data loader's crops (decode, resize, crop) per batch with each. CPU only: no GPU is used.
//
//   --width N --height N   the photo's size (default 4032×3024, a 12 MP phone photo)
//   --runs N               timed runs per case (default 3; the median is reported)
//   --size N --batch N     training crops (default 256, batch 4) over --batches N batches (default 8)
import { availableParallelism } from 'node:os';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { DataLoader } from '../src/node/data-loader.js';
import { decodeImage, encodeImage } from '../src/node/image-io.js';
import type { RgbaImage } from '../src/models/rgba-image.js';
import { legacyCropSample, legacyDecode, legacyEncode, loadLegacyCodecs } from './legacy-image-io.js';
import { median, type BenchCase } from './report.js';

const PHOTO = '../shared/assets/photos/kodak24/kodim23.png';
const DATA_DIRS = ['../shared/assets/photos/bsds500/train', '../shared/assets/photos/kodak24'];

export interface ImageIoBenchOptions {
  width: number;
  height: number;
  runs: number;
  size: number;
  batch: number;
  batches: number;
  log(line: string): void;
}

/** Median and minimum wall time of `runs` calls, after one untimed call (first-use costs: libvips start-up, JIT). */
async function time<T>(runs: number, fn: () => T | Promise<T>): Promise<{ medianMs: number; minMs: number; last: T }> {
  let last = await fn();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    last = await fn();
    ms.push(performance.now() - t);
  }
  return { medianMs: median(ms), minMs: Math.min(...ms), last };
}

/**
 * The test photo: Kodak 23 enlarged to width×height with a little seeded noise (±3 levels, as a sensor
 * leaves), so that the JPEG has a phone photo's entropy rather than an upscaled picture's smoothness.
 */
async function photo(width: number, height: number): Promise<RgbaImage<Uint8Array>> {
  const base = existsSync(PHOTO)
    ? sharp(readFileSync(PHOTO)).resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
    : sharp({ create: { width, height, channels: 3, background: { r: 90, g: 140, b: 60 } } });
  const data = new Uint8Array(await base.ensureAlpha().raw().toBuffer());
  let s = 12345;
  for (let i = 0; i < data.length; i++) {
    if (i % 4 === 3) continue;
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = Math.max(0, Math.min(255, data[i] + ((s >>> 16) % 7) - 3));
  }
  return { width, height, data };
}

function maxDiff(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / a.length };
}

function trainingPhotos(): string[] {
  for (const dir of DATA_DIRS) {
    if (existsSync(dir))
      return readdirSync(dir)
        .filter((f) => /\.(jpe?g|png)$/i.test(f))
        .sort()
        .map((f) => join(dir, f));
  }
  return [];
}

export async function runImageIoBench(o: ImageIoBenchOptions): Promise<{ cases: BenchCase[]; notes: string[] }> {
  await loadLegacyCodecs();
  const cases: BenchCase[] = [];
  const notes: string[] = [];
  const mp = ((o.width * o.height) / 1e6).toFixed(1);
  const img = await photo(o.width, o.height);
  const jpg = new Uint8Array(
    await sharp(img.data, { raw: { width: o.width, height: o.height, channels: 4 } })
      .removeAlpha()
      .jpeg({ quality: 92 })
      .toBuffer(),
  );
  const png = await encodeImage(img, 'png');
  notes.push(
    `image-io: a ${o.width}×${o.height} (${mp} MP) photo (Kodak 23 enlarged, ±3 levels of noise): JPEG q92 4:2:0 ${(jpg.length / 2 ** 20).toFixed(1)} MiB, PNG ${(png.length / 2 ** 20).toFixed(1)} MiB; median of ${o.runs} runs after one untimed run; libvips threads: ${sharp.concurrency()}`,
  );

  const row = (
    name: string,
    impl: string,
    t: { medianMs: number; minMs: number },
    extra: Partial<BenchCase> = {},
  ): void => {
    cases.push({ suite: 'image-io', name, impl, runs: o.runs, medianMs: t.medianMs, minMs: t.minMs, ...extra });
    o.log(`${name.padEnd(34)} ${impl.padEnd(34)} ${t.medianMs.toFixed(1).padStart(9)} ms`);
  };

  const oldJpeg = await time(o.runs, () => legacyDecode(jpg));
  row(`decode ${mp} MP JPEG`, 'jpeg-js (before)', oldJpeg);
  const newJpeg = await time(o.runs, () => decodeImage(jpg, 'photo.jpg'));
  const d = maxDiff(oldJpeg.last.data, newJpeg.last.data);
  row(`decode ${mp} MP JPEG`, 'sharp/libjpeg-turbo (after)', newJpeg, {
    maxAbsDiff: d.max,
    note: `mean |jpeg-js − libjpeg-turbo| ${d.mean.toFixed(3)} levels`,
  });

  row(`encode ${mp} MP JPEG q92`, 'jpeg-js (before)', await time(o.runs, () => legacyEncode(img, 'jpeg', 92)));
  row(`encode ${mp} MP JPEG q92`, 'sharp (after)', await time(o.runs, () => encodeImage(img, 'jpeg', 92)));
  row(`decode ${mp} MP PNG`, 'pngjs (before)', await time(o.runs, () => legacyDecode(png)));
  row(`decode ${mp} MP PNG`, 'sharp/libpng (after)', await time(o.runs, () => decodeImage(png, 'photo.png')));
  row(`encode ${mp} MP PNG`, 'pngjs (before)', await time(o.runs, () => legacyEncode(img, 'png')));
  row(`encode ${mp} MP PNG`, 'sharp (after)', await time(o.runs, () => encodeImage(img, 'png')));

  const files = trainingPhotos();
  if (files.length === 0) {
    notes.push(`image-io: no photos in ${DATA_DIRS.join(' or ')}: the data-loader rows were skipped`);
    return { cases, notes };
  }
  // One timed "run" is --batches batches; the rows' items are crops, so items/s is crops/s.
  const samples = o.batches * o.batch;
  const name = `train crops ${o.size}², ${o.batches}×${o.batch}`;
  const pick = (i: number) => files[i % files.length];
  const crops = { items: samples };
  row(
    name,
    'jpeg-js + hand resize, 1 thread (before)',
    await time(o.runs, () => {
      for (let i = 0; i < samples; i++)
        legacyCropSample(legacyDecode(new Uint8Array(readFileSync(pick(i)))), o.size, 0.5, 0.5, i % 2 === 1);
    }),
    crops,
  );
  const loader = async (workers: number) => {
    const l = new DataLoader(files, { size: o.size, batch: o.batch, seed: 1, start: 0, workers });
    for (let b = 0; b < o.batches; b++) await l.next();
    l.close();
  };
  const defaultWorkers = Math.max(1, availableParallelism() - 1);
  row(name, 'sharp DataLoader, 1 at once (after)', await time(o.runs, () => loader(1)), crops);
  if (defaultWorkers > 1)
    row(
      name,
      `sharp DataLoader, ${defaultWorkers} at once (after)`,
      await time(o.runs, () => loader(defaultWorkers)),
      crops,
    );
  notes.push(
    `image-io: training crops from ${files.length} photos in ${files[0].replace(/\/[^/]+$/, '')}; 'before' decodes and resizes on one thread as each of the old ` +
      "loader's worker threads did; batches/s = crops/s ÷ batch",
  );
  return { cases, notes };
}
