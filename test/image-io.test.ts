import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  applyOrientation,
  decodeImage,
  jpegOrientation,
  encodeImage,
  fitWithin,
  formatFromPath,
  ImageFileError,
  resizeRgba,
  sniffFormat,
  type RgbaImage,
} from '../src/cli/image-io.js';
import { writeFileAtomic } from '../src/cli/files.js';

const BSDS_DIR = resolve(__dirname, '../../shared/assets/photos/bsds500/train');

function gradient(width: number, height: number, alpha = (_x: number, _y: number) => 255): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      data[o] = Math.round((x / Math.max(width - 1, 1)) * 255);
      data[o + 1] = Math.round((y / Math.max(height - 1, 1)) * 255);
      data[o + 2] = 128;
      data[o + 3] = alpha(x, y);
    }
  }
  return { width, height, data };
}

function expectImageError(bytes: Uint8Array, name: string, message: RegExp): void {
  let err: unknown;
  try {
    decodeImage(bytes, name);
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a throw').toBeInstanceOf(ImageFileError);
  expect((err as Error).message).toMatch(new RegExp(`^cannot read ${name.replace('.', '\\.')}: `));
  expect((err as Error).message).toMatch(message);
}

describe('decodeImage / encodeImage', () => {
  it('round-trips PNG exactly, alpha included', () => {
    const img = gradient(37, 23, (x, y) => (x * 7 + y * 3) % 256);
    const png = encodeImage(img, 'png');
    expect(sniffFormat(png)).toBe('png');
    const back = decodeImage(png, 'a.png');
    expect(back.width).toBe(37);
    expect(back.height).toBe(23);
    expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
  });

  it('round-trips JPEG closely at quality 95', () => {
    const img = gradient(40, 24);
    const jpg = encodeImage(img, 'jpeg', 95);
    expect(sniffFormat(jpg)).toBe('jpeg');
    const back = decodeImage(jpg, 'a.jpg');
    expect([back.width, back.height]).toEqual([40, 24]);
    let err = 0;
    for (let p = 0; p < 40 * 24; p++) {
      for (let c = 0; c < 3; c++) err += Math.abs(back.data[p * 4 + c] - img.data[p * 4 + c]);
      expect(back.data[p * 4 + 3]).toBe(255);
    }
    expect(err / (40 * 24 * 3)).toBeLessThan(2);
  });

  it('JPEG has no alpha: translucent pixels are composited on white, not written with their hidden colour', () => {
    // Left half transparent, right half 40% opaque, over the same colours as the opaque gradient.
    const img = gradient(40, 24, (x) => (x < 20 ? 0 : 102));
    const back = decodeImage(encodeImage(img, 'jpeg', 95), 'a.jpg');
    let err = 0;
    for (let p = 0; p < 40 * 24; p++) {
      const a = img.data[p * 4 + 3] / 255;
      for (let c = 0; c < 3; c++) err += Math.abs(back.data[p * 4 + c] - (img.data[p * 4 + c] * a + 255 * (1 - a)));
      expect(back.data[p * 4 + 3]).toBe(255);
    }
    expect(err / (40 * 24 * 3)).toBeLessThan(2);
  });

  it('sniffs the format from the bytes, not the name', () => {
    const png = encodeImage(gradient(5, 4), 'png');
    expect(decodeImage(png, 'misnamed.jpg').width).toBe(5);
  });

  it('expands greyscale PNG to RGBA', () => {
    const grey = new PNG({ width: 3, height: 2, colorType: 0, inputColorType: 0, bitDepth: 8 });
    grey.data = Buffer.from([0, 50, 100, 150, 200, 250]);
    const bytes = PNG.sync.write(grey, { colorType: 0, inputColorType: 0 });
    const img = decodeImage(bytes, 'grey.png');
    expect(Array.from(img.data.subarray(4, 8))).toEqual([50, 50, 50, 255]);
  });

  it('rejects a bad JPEG quality', () => {
    expect(() => encodeImage(gradient(2, 2), 'jpeg', 0)).toThrow(/quality/);
    expect(() => encodeImage(gradient(2, 2), 'jpeg', 101)).toThrow(/quality/);
  });

  it.skipIf(!existsSync(BSDS_DIR))('decodes a shared BSDS500 photo', () => {
    const name = readdirSync(BSDS_DIR).find((f) => f.endsWith('.jpg'))!;
    const img = decodeImage(new Uint8Array(readFileSync(join(BSDS_DIR, name))), name);
    expect([img.width, img.height].sort()).toEqual([321, 481]);
    expect(img.data.length).toBe(481 * 321 * 4);
  });
});

describe('decodeImage rejects unreadable files with one clear line', () => {
  const png = encodeImage(gradient(30, 20), 'png');
  const jpg = encodeImage(gradient(64, 48), 'jpeg', 90);

  it('empty file', () => expectImageError(new Uint8Array(0), 'photo.jpg', /empty/));
  it('text file', () => expectImageError(new TextEncoder().encode('hello, world'), 'photo.jpg', /not a PNG or JPEG file$/));
  it('GIF', () => expectImageError(new TextEncoder().encode('GIF89a.....'), 'anim.gif', /GIF images are not supported/));
  it('truncated PNG', () => expectImageError(png.subarray(0, png.length - 30), 'cut.png', /truncated or corrupt PNG/));
  it('PNG cut inside the signature chunk', () => expectImageError(png.subarray(0, 16), 'cut.png', /truncated or corrupt PNG/));
  it('truncated JPEG', () => expectImageError(jpg.subarray(0, Math.floor(jpg.length / 2)), 'cut.jpg', /truncated or corrupt JPEG/));

  it('PNG whose header claims 400 megapixels (refused before allocating)', () => {
    const huge = png.slice();
    const dv = new DataView(huge.buffer);
    dv.setUint32(16, 20000);
    dv.setUint32(20, 20000);
    expectImageError(huge, 'bomb.png', /megapixel limit/);
  });

  it('JPEG whose frame header claims 400 megapixels', () => {
    const huge = jpg.slice();
    // SOF0 marker: FF C0, length (2), precision (1), height (2), width (2).
    let sof = -1;
    for (let i = 2; i < huge.length - 1; i++) if (huge[i] === 0xff && huge[i + 1] === 0xc0) { sof = i; break; }
    expect(sof).toBeGreaterThan(0);
    const dv = new DataView(huge.buffer);
    dv.setUint16(sof + 5, 20000);
    dv.setUint16(sof + 7, 20000);
    expectImageError(huge, 'bomb.jpg', /megapixel limit/);
  });
});

/** A JPEG with an EXIF APP1 segment holding `orientation`, inserted right after SOI. */
function withOrientation(jpg: Uint8Array, orientation: number, littleEndian: boolean): Uint8Array {
  const tiff = new DataView(new ArrayBuffer(26));
  tiff.setUint16(0, littleEndian ? 0x4949 : 0x4d4d);
  tiff.setUint16(2, 42, littleEndian);
  tiff.setUint32(4, 8, littleEndian);
  tiff.setUint16(8, 1, littleEndian); // one entry
  tiff.setUint16(10, 0x0112, littleEndian);
  tiff.setUint16(12, 3, littleEndian); // SHORT
  tiff.setUint32(14, 1, littleEndian);
  tiff.setUint16(18, orientation, littleEndian);
  tiff.setUint32(22, 0, littleEndian); // no next IFD
  const body = new Uint8Array([...new TextEncoder().encode('Exif'), 0, 0, ...new Uint8Array(tiff.buffer)]);
  const app1 = new Uint8Array([0xff, 0xe1, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body]);
  return new Uint8Array([...jpg.subarray(0, 2), ...app1, ...jpg.subarray(2)]);
}

describe('EXIF orientation', () => {
  // 16×8: left half red, right half blue; large flat areas survive JPEG.
  const img = { width: 16, height: 8, data: new Uint8Array(16 * 8 * 4) };
  for (let p = 0; p < 16 * 8; p++) img.data.set((p % 16) < 8 ? [255, 0, 0, 255] : [0, 0, 255, 255], p * 4);
  const jpg = encodeImage(img, 'jpeg', 95);
  const isRed = (im: RgbaImage, x: number, y: number) => im.data[(y * im.width + x) * 4] > 200 && im.data[(y * im.width + x) * 4 + 2] < 60;
  const isBlue = (im: RgbaImage, x: number, y: number) => im.data[(y * im.width + x) * 4] < 60 && im.data[(y * im.width + x) * 4 + 2] > 200;

  it('is applied when decoding (6: rotate clockwise, 8: anticlockwise, 3: 180°), in both byte orders', () => {
    for (const le of [true, false]) {
      const r6 = decodeImage(withOrientation(jpg, 6, le), 'r6.jpg');
      expect([r6.width, r6.height]).toEqual([8, 16]);
      expect(isRed(r6, 4, 2) && isBlue(r6, 4, 13)).toBe(true);
      const r8 = decodeImage(withOrientation(jpg, 8, le), 'r8.jpg');
      expect([r8.width, r8.height]).toEqual([8, 16]);
      expect(isBlue(r8, 4, 2) && isRed(r8, 4, 13)).toBe(true);
      const r3 = decodeImage(withOrientation(jpg, 3, le), 'r3.jpg');
      expect([r3.width, r3.height]).toEqual([16, 8]);
      expect(isBlue(r3, 2, 4) && isRed(r3, 13, 4)).toBe(true);
      const r1 = decodeImage(withOrientation(jpg, 1, le), 'r1.jpg');
      expect(isRed(r1, 2, 4) && isBlue(r1, 13, 4)).toBe(true);
    }
  });

  it('maps all eight orientations exactly on raw pixels', () => {
    // 3×2 pixels numbered 0..5 in the red channel.
    const raw = { width: 3, height: 2, data: Uint8Array.from([0, 1, 2, 3, 4, 5].flatMap((v) => [v, 0, 0, 255])) };
    const red = (im: RgbaImage) => Array.from({ length: im.width * im.height }, (_, p) => im.data[p * 4]);
    const expected: Record<number, number[]> = {
      1: [0, 1, 2, 3, 4, 5],
      2: [2, 1, 0, 5, 4, 3],
      3: [5, 4, 3, 2, 1, 0],
      4: [3, 4, 5, 0, 1, 2],
      5: [0, 3, 1, 4, 2, 5],
      6: [3, 0, 4, 1, 5, 2],
      7: [5, 2, 4, 1, 3, 0],
      8: [2, 5, 1, 4, 0, 3],
    };
    for (let o = 1; o <= 8; o++) expect(red(applyOrientation(raw, o)), `orientation ${o}`).toEqual(expected[o]);
  });

  it('ignores missing, out-of-range and truncated EXIF data', () => {
    expect(jpegOrientation(jpg)).toBe(1);
    expect(jpegOrientation(withOrientation(jpg, 9, true))).toBe(1);
    const cut = withOrientation(jpg, 6, true).subarray(0, 30);
    expect(jpegOrientation(cut)).toBe(1);
  });
});

describe('formatFromPath / fitWithin', () => {
  it('maps extensions case-insensitively', () => {
    expect(formatFromPath('a/b.PNG')).toBe('png');
    expect(formatFromPath('x.jpg')).toBe('jpeg');
    expect(formatFromPath('x.JPEG')).toBe('jpeg');
    expect(formatFromPath('x.webp')).toBe(null);
    expect(formatFromPath('noext')).toBe(null);
  });
  it('fits the long side and never enlarges', () => {
    expect(fitWithin(1000, 500, 256)).toEqual({ width: 256, height: 128 });
    expect(fitWithin(300, 900, 300)).toEqual({ width: 100, height: 300 });
    expect(fitWithin(100, 50, 256)).toEqual({ width: 100, height: 50 });
    expect(fitWithin(1000, 1, 10)).toEqual({ width: 10, height: 1 });
  });
});

describe('resizeRgba', () => {
  it('is the identity at the same size', () => {
    const img = gradient(7, 5);
    expect(Array.from(resizeRgba(img, 7, 5).data)).toEqual(Array.from(img.data));
  });

  it('averages 2×2 blocks exactly when halving', () => {
    const data = Uint8Array.from([
      0, 0, 0, 255, 100, 20, 0, 255, 200, 0, 0, 255, 40, 0, 0, 255,
      60, 40, 0, 255, 40, 60, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255,
    ]);
    const out = resizeRgba({ width: 4, height: 2, data }, 2, 1);
    expect(Array.from(out.data)).toEqual([50, 30, 0, 255, 60, 0, 0, 255]);
  });

  it('keeps the mean over a non-integer downscale (5 → 3) and a constant image constant when enlarging', () => {
    const row = Uint8Array.from([0, 30, 60, 90, 120].flatMap((v) => [v, v, v, 255]));
    const out = resizeRgba({ width: 5, height: 1, data: row }, 3, 1);
    // Footprints of 5/3 pixels: [0, 1.667), [1.667, 3.333), [3.333, 5).
    expect([out.data[0], out.data[4], out.data[8]]).toEqual([Math.round((0 + 30 * 2 / 3) * 3 / 5), 60, Math.round((90 * 2 / 3 + 120) * 3 / 5)]);
    const flat = { width: 3, height: 2, data: new Uint8Array(24).fill(77) };
    const up = resizeRgba(flat, 10, 7);
    expect(up.data.every((v) => v === 77)).toBe(true);
  });

  it('enlarges bilinearly between pixel centres', () => {
    const row = Uint8Array.from([0, 0, 0, 255, 200, 200, 200, 255]);
    const out = resizeRgba({ width: 2, height: 1, data: row }, 4, 1);
    // Output centres map to source x = -0.25 (clamped 0), 0.25, 0.75, 1.25 (clamped 1).
    expect([out.data[0], out.data[4], out.data[8], out.data[12]]).toEqual([0, 50, 150, 200]);
  });

  it('does not bleed the colour of transparent pixels', () => {
    const data = Uint8Array.from([255, 0, 0, 255, 0, 255, 0, 0]);
    const out = resizeRgba({ width: 2, height: 1, data }, 1, 1);
    expect(Array.from(out.data)).toEqual([255, 0, 0, 128]);
  });

  it('rejects invalid sizes', () => {
    expect(() => resizeRgba(gradient(2, 2), 0, 2)).toThrow(RangeError);
    expect(() => resizeRgba(gradient(2, 2), 1.5, 2)).toThrow(RangeError);
  });
});

describe('writeFileAtomic', () => {
  const dir = mkdtempSync(join(tmpdir(), 'image-io-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes and replaces a file, leaving no temporary file', () => {
    const path = join(dir, 'out.bin');
    writeFileAtomic(path, Uint8Array.from([1, 2, 3]));
    writeFileSync(join(dir, 'other'), 'x');
    writeFileAtomic(path, Uint8Array.from([4, 5]));
    expect(Array.from(readFileSync(path))).toEqual([4, 5]);
    expect(readdirSync(dir).sort()).toEqual(['other', 'out.bin']);
  });

  it('throws and leaves nothing when the directory does not exist', () => {
    expect(() => writeFileAtomic(join(dir, 'missing', 'x.png'), Uint8Array.from([1]))).toThrow(/ENOENT/);
    expect(existsSync(join(dir, 'missing'))).toBe(false);
  });

  it('throws and leaves no temporary file when the target is a directory', () => {
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    expect(() => writeFileAtomic(sub, Uint8Array.from([1]))).toThrow();
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
