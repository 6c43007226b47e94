import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeImage,
  decodeImageFile,
  encodeImage,
  fitWithin,
  formatFromPath,
  ImageFileError,
  resizeRgba,
  sniffFormat,
  type ImageFormat,
} from '../src/node/image-io.js';
import type { RgbaImage } from '../src/models/rgba-image.js';
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

async function expectImageError(bytes: Uint8Array, name: string, message: RegExp): Promise<void> {
  let err: unknown;
  try {
    await decodeImage(bytes, name);
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a throw').toBeInstanceOf(ImageFileError);
  const text = (err as Error).message;
  expect(text).toMatch(new RegExp(`^cannot read ${name.replace('.', '\\.')}: `));
  expect(text).toMatch(message);
  expect(text, 'one line').not.toMatch(/\n/);
}

/** Mean absolute difference over the colour channels. */
function meanColourError(a: RgbaImage, b: RgbaImage): number {
  let err = 0;
  for (let p = 0; p < a.width * a.height; p++)
    for (let c = 0; c < 3; c++) err += Math.abs(a.data[p * 4 + c] - b.data[p * 4 + c]);
  return err / (a.width * a.height * 3);
}

function raw(img: RgbaImage) {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 4 } });
}

describe('decodeImage / encodeImage', () => {
  it('round-trips PNG exactly, alpha included', async () => {
    const img = gradient(37, 23, (x, y) => (x * 7 + y * 3) % 256);
    const png = await encodeImage(img, 'png');
    expect(await sniffFormat(png)).toBe('png');
    const back = await decodeImage(png, 'a.png');
    expect([back.width, back.height]).toEqual([37, 23]);
    expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
  });

  it('round-trips JPEG closely at quality 95', async () => {
    const img = gradient(40, 24);
    const jpg = await encodeImage(img, 'jpeg', 95);
    expect(await sniffFormat(jpg)).toBe('jpeg');
    const back = await decodeImage(jpg, 'a.jpg');
    expect([back.width, back.height]).toEqual([40, 24]);
    for (let p = 0; p < 40 * 24; p++) expect(back.data[p * 4 + 3]).toBe(255);
    expect(meanColourError(back, img)).toBeLessThan(2);
  });

  it('JPEG has no alpha: translucent pixels are composited on white, not written with their hidden colour', async () => {
    // Left half transparent, right half 40% opaque, over the same colours as the opaque gradient.
    const img = gradient(40, 24, (x) => (x < 20 ? 0 : 102));
    const back = await decodeImage(await encodeImage(img, 'jpeg', 95), 'a.jpg');
    let err = 0;
    for (let p = 0; p < 40 * 24; p++) {
      const a = img.data[p * 4 + 3] / 255;
      for (let c = 0; c < 3; c++) err += Math.abs(back.data[p * 4 + c] - (img.data[p * 4 + c] * a + 255 * (1 - a)));
      expect(back.data[p * 4 + 3]).toBe(255);
    }
    expect(err / (40 * 24 * 3)).toBeLessThan(2);
  });

  it('WebP and AVIF round trips keep the size and the alpha channel; WebP at quality 100 is close', async () => {
    const img = gradient(41, 27, (x) => (x < 10 ? 0 : x < 20 ? 128 : 255));
    for (const format of ['webp', 'avif'] as ImageFormat[]) {
      const bytes = await encodeImage(img, format, 95);
      expect(await sniffFormat(bytes)).toBe(format === 'webp' ? 'webp' : 'heif');
      const back = await decodeImage(bytes, `a.${format}`);
      expect([back.width, back.height]).toEqual([41, 27]);
      for (const x of [2, 15, 30])
        expect(
          Math.abs(back.data[(5 * 41 + x) * 4 + 3] - img.data[(5 * 41 + x) * 4 + 3]),
          `${format} alpha at x ${x}`,
        ).toBeLessThanOrEqual(2);
      // Compare where the picture is opaque (hidden colours under alpha 0 are the encoder's business).
      let err = 0;
      let n = 0;
      for (let p = 0; p < 41 * 27; p++) {
        if (img.data[p * 4 + 3] !== 255) continue;
        for (let c = 0; c < 3; c++) err += Math.abs(back.data[p * 4 + c] - img.data[p * 4 + c]);
        n += 3;
      }
      expect(err / n, format).toBeLessThan(format === 'webp' ? 3 : 4);
    }
  });

  it('reads TIFF (8 and 16 bits), HEIF (AV1), and the first frame of an animated GIF, saying so', async () => {
    const img = gradient(19, 11);
    // LZW: sharp's TIFF default is JPEG compression.
    const tiff8 = await raw(img).tiff({ compression: 'lzw' }).toBuffer();
    expect(Buffer.from((await decodeImage(tiff8, 'a.tif')).data).equals(Buffer.from(img.data))).toBe(true);
    // 16-bit samples v·257 come back as v.
    const tiff16 = await raw(img).toColourspace('rgb16').tiff({ compression: 'lzw' }).toBuffer();
    expect((await sharp(tiff16).metadata()).depth).toBe('ushort');
    expect(Buffer.from((await decodeImage(tiff16, 'a16.tif')).data).equals(Buffer.from(img.data))).toBe(true);
    const heif = await raw(img).heif({ compression: 'av1', quality: 95 }).toBuffer();
    const h = await decodeImageFile(heif, 'a.heic');
    expect([h.width, h.height, h.source.format]).toEqual([19, 11, 'heif']);
    expect(meanColourError(h, img)).toBeLessThan(4);
    const frame = (v: number) =>
      sharp({ create: { width: 6, height: 4, channels: 4, background: { r: v, g: 10, b: 20, alpha: 1 } } })
        .png()
        .toBuffer();
    const gif = await sharp([await frame(200), await frame(40)], { join: { animated: true } })
      .gif()
      .toBuffer();
    const g = await decodeImageFile(gif, 'anim.gif');
    expect([g.width, g.height]).toEqual([6, 4]);
    expect(g.data[0]).toBeGreaterThan(150);
    expect(g.source.notes).toEqual(['GIF with 2 frames: only the first is used']);
  });

  it('reads 16-bit PNG as 8 bits, and expands greyscale and palette PNG to RGBA', async () => {
    const img = gradient(9, 5);
    const png16 = await raw(img).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    expect(Buffer.from((await decodeImage(png16, 'a16.png')).data).equals(Buffer.from(img.data))).toBe(true);
    const grey = await sharp(Buffer.from([0, 50, 100, 150, 200, 250]), { raw: { width: 3, height: 2, channels: 1 } })
      .png()
      .toBuffer();
    expect(Array.from((await decodeImage(grey, 'grey.png')).data.subarray(4, 8))).toEqual([50, 50, 50, 255]);
  });

  it('tags its output sRGB, in every format', async () => {
    for (const format of ['png', 'jpeg', 'webp', 'avif'] as ImageFormat[]) {
      const meta = await sharp(await encodeImage(gradient(8, 8), format)).metadata();
      expect(meta.icc, format).toBeDefined();
      expect(meta.space, format).toBe('srgb');
    }
  });

  it('sniffs the format from the bytes, not the name', async () => {
    const png = await encodeImage(gradient(5, 4), 'png');
    expect((await decodeImage(png, 'misnamed.jpg')).width).toBe(5);
  });

  it('rejects a bad quality', async () => {
    await expect(encodeImage(gradient(2, 2), 'jpeg', 0)).rejects.toThrow(/quality/);
    await expect(encodeImage(gradient(2, 2), 'webp', 101)).rejects.toThrow(/quality/);
  });

  it('shrinks to --max-size while decoding (Lanczos-3), never enlarging', async () => {
    const png = await encodeImage(gradient(200, 100), 'png');
    const small = await decodeImage(png, 'a.png', { maxEdge: 50 });
    expect([small.width, small.height]).toEqual([50, 25]);
    expect(meanColourError(small, await resizeRgba(gradient(200, 100), 50, 25))).toBeLessThan(1);
    expect((await decodeImage(png, 'a.png', { maxEdge: 1000 })).width).toBe(200);
  });

  it.skipIf(!existsSync(BSDS_DIR))('decodes a shared BSDS500 photo', async () => {
    const name = readdirSync(BSDS_DIR).find((f) => f.endsWith('.jpg'))!;
    const img = await decodeImage(new Uint8Array(readFileSync(join(BSDS_DIR, name))), name);
    expect([img.width, img.height].sort()).toEqual([321, 481]);
    expect(img.data.length).toBe(481 * 321 * 4);
  });
});

describe('decodeImage rejects unreadable files with one clear line', () => {
  let png: Uint8Array;
  let jpg: Uint8Array;
  let webp: Uint8Array;
  it('makes its test files', async () => {
    png = await encodeImage(gradient(30, 20), 'png');
    jpg = await encodeImage(gradient(64, 48), 'jpeg', 90);
    webp = await encodeImage(gradient(64, 48), 'webp', 90);
  });

  it('empty file', () => expectImageError(new Uint8Array(0), 'photo.jpg', /empty/));
  it('text file', () =>
    expectImageError(
      new TextEncoder().encode('hello, world'),
      'photo.jpg',
      /not an image file \(PNG, JPEG, WebP, AVIF, HEIC, TIFF or GIF\)$/,
    ));
  it('truncated PNG', () => expectImageError(png.subarray(0, png.length - 30), 'cut.png', /truncated or corrupt PNG/));
  it('PNG cut inside the header chunk', () =>
    expectImageError(png.subarray(0, 16), 'cut.png', /truncated or corrupt PNG$/));
  it('truncated JPEG', () =>
    expectImageError(jpg.subarray(0, Math.floor(jpg.length / 2)), 'cut.jpg', /truncated or corrupt JPEG/));
  it('truncated WebP', () =>
    expectImageError(webp.subarray(0, Math.floor(webp.length / 2)), 'cut.webp', /truncated or corrupt WebP/));
  it('a GIF header and nothing else', () =>
    expectImageError(new TextEncoder().encode('GIF89a.....'), 'anim.gif', /truncated or corrupt GIF/));

  it('PNG whose header claims 400 megapixels (refused before decoding)', async () => {
    const huge = png.slice();
    const dv = new DataView(huge.buffer);
    dv.setUint32(16, 20000);
    dv.setUint32(20, 20000);
    await expectImageError(huge, 'bomb.png', /20000×20000 is 400 megapixels, more than the 100-megapixel limit/);
  });

  it('JPEG whose frame header claims 400 megapixels', async () => {
    const huge = jpg.slice();
    // SOF0 marker: FF C0, length (2), precision (1), height (2), width (2).
    let sof = -1;
    for (let i = 2; i < huge.length - 1; i++)
      if (huge[i] === 0xff && huge[i + 1] === 0xc0) {
        sof = i;
        break;
      }
    expect(sof).toBeGreaterThan(0);
    const dv = new DataView(huge.buffer);
    dv.setUint16(sof + 5, 20000);
    dv.setUint16(sof + 7, 20000);
    await expectImageError(huge, 'bomb.jpg', /megapixel limit/);
  });
});

describe('EXIF orientation', () => {
  // 3×2 pixels numbered 0..5 in the red channel, written losslessly with each orientation tag.
  const numbered: RgbaImage = {
    width: 3,
    height: 2,
    data: Uint8Array.from([0, 1, 2, 3, 4, 5].flatMap((v) => [v * 40, 0, 0, 255])),
  };
  const red = (im: RgbaImage) => Array.from({ length: im.width * im.height }, (_, p) => im.data[p * 4] / 40);
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

  it('is applied when decoding: all eight orientations, exactly', async () => {
    for (let o = 1; o <= 8; o++) {
      const file = await raw(numbered).withMetadata({ orientation: o }).png().toBuffer();
      const img = await decodeImage(file, `o${o}.png`);
      expect([img.width, img.height], `orientation ${o}`).toEqual(o >= 5 ? [2, 3] : [3, 2]);
      expect(red(img), `orientation ${o}`).toEqual(expected[o]);
    }
  });

  it('is applied to JPEG photos (6: rotate clockwise), and --max-size fits the upright size', async () => {
    const img = { width: 16, height: 8, data: new Uint8Array(16 * 8 * 4) };
    for (let p = 0; p < 16 * 8; p++) img.data.set(p % 16 < 8 ? [255, 0, 0, 255] : [0, 0, 255, 255], p * 4);
    const jpg = await raw(img).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
    const r6 = await decodeImage(jpg, 'r6.jpg');
    expect([r6.width, r6.height]).toEqual([8, 16]);
    const at = (x: number, y: number) => Array.from(r6.data.subarray((y * 8 + x) * 4, (y * 8 + x) * 4 + 3));
    expect(at(4, 2)[0]).toBeGreaterThan(200);
    expect(at(4, 13)[2]).toBeGreaterThan(200);
    const fitted = await decodeImage(jpg, 'r6.jpg', { maxEdge: 8 });
    expect([fitted.width, fitted.height]).toEqual([4, 8]);
  });
});

describe('--keep-metadata', () => {
  it("carries the photo's EXIF and XMP over, with the orientation reset (the pixels are upright)", async () => {
    const xmp =
      '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="image/jpeg"/></rdf:RDF></x:xmpmeta>';
    const photo = await raw(gradient(12, 8))
      .withExif({ IFD0: { Copyright: 'Jane Doe', Artist: 'Jane' } })
      .withMetadata({ orientation: 6 })
      .withXmp(xmp)
      .jpeg()
      .toBuffer();
    const decoded = await decodeImage(photo, 'photo.jpg');
    expect([decoded.width, decoded.height]).toEqual([8, 12]);
    for (const format of ['jpeg', 'png', 'webp'] as ImageFormat[]) {
      const kept = await sharp(await encodeImage(decoded, format, { metadataFrom: photo })).metadata();
      expect(kept.exif && Buffer.from(kept.exif).includes('Jane Doe'), format).toBe(true);
      expect(kept.xmp && Buffer.from(kept.xmp).includes('dc:format'), format).toBe(true);
      expect(kept.orientation ?? 1, format).toBe(1);
      expect([kept.width, kept.height]).toEqual([8, 12]);
      const plain = await sharp(await encodeImage(decoded, format)).metadata();
      expect(plain.exif, format).toBeUndefined();
    }
    // The pixels are the output's, not the photo's.
    const out = { ...decoded, data: decoded.data.map((v, i) => (i % 4 === 3 ? 255 : 255 - v)) };
    const back = await decodeImage(await encodeImage(out, 'png', { metadataFrom: photo }), 'out.png');
    expect(Buffer.from(back.data).equals(Buffer.from(out.data))).toBe(true);
  });
});

describe('formatFromPath / fitWithin', () => {
  it('maps extensions case-insensitively', () => {
    expect(formatFromPath('a/b.PNG')).toBe('png');
    expect(formatFromPath('x.jpg')).toBe('jpeg');
    expect(formatFromPath('x.JPEG')).toBe('jpeg');
    expect(formatFromPath('x.webp')).toBe('webp');
    expect(formatFromPath('x.AVIF')).toBe('avif');
    expect(formatFromPath('x.gif')).toBe(null);
    expect(formatFromPath('noext')).toBe(null);
  });
  it('fits the long side and never enlarges', () => {
    expect(fitWithin(1000, 500, 256)).toEqual({ width: 256, height: 128 });
    expect(fitWithin(300, 900, 300)).toEqual({ width: 100, height: 300 });
    expect(fitWithin(100, 50, 256)).toEqual({ width: 100, height: 50 });
    expect(fitWithin(1000, 1, 10)).toEqual({ width: 10, height: 1 });
  });
});

describe('resizeRgba (libvips)', () => {
  it('is the identity at the same size', async () => {
    const img = gradient(7, 5);
    expect(Array.from((await resizeRgba(img, 7, 5)).data)).toEqual(Array.from(img.data));
  });

  it('keeps a constant image constant, shrinking and enlarging', async () => {
    const flat = gradient(30, 20);
    for (let p = 0; p < 30 * 20; p++) flat.data.set([77, 130, 9], p * 4);
    for (const [w, h] of [
      [10, 7],
      [3, 2],
      [97, 61],
    ])
      expect(
        (await resizeRgba(flat, w, h)).data.every((v, i) => v === [77, 130, 9, 255][i % 4]),
        `${w}×${h}`,
      ).toBe(true);
  });

  it('averages when halving: a 1-pixel checkerboard becomes flat grey (no aliasing)', async () => {
    const data = new Uint8Array(32 * 32 * 4);
    for (let p = 0; p < 32 * 32; p++)
      data.fill(((p % 32) + Math.floor(p / 32)) % 2 ? 200 : 0, p * 4, p * 4 + 3), (data[p * 4 + 3] = 255);
    const out = await resizeRgba({ width: 32, height: 32, data }, 16, 16);
    // Point sampling would give 0 or 200; Lanczos-3's lobes leave a few levels of ripple near the edges.
    let sum = 0;
    for (let p = 0; p < 16 * 16; p++) {
      expect(Math.abs(out.data[p * 4] - 100)).toBeLessThanOrEqual(5);
      sum += out.data[p * 4];
    }
    expect(Math.abs(sum / 256 - 100)).toBeLessThan(1);
  });

  it('does not bleed the colour of transparent pixels', async () => {
    const data = new Uint8Array(8 * 8 * 4);
    for (let p = 0; p < 64; p++) data.set(p % 8 < 4 ? [255, 0, 0, 255] : [0, 255, 0, 0], p * 4);
    const out = await resizeRgba({ width: 8, height: 8, data }, 2, 2);
    // The right half was transparent green: what shows is red, at whatever alpha.
    for (let p = 0; p < 4; p++) {
      if (out.data[p * 4 + 3] > 0) expect(out.data[p * 4] >= 250 && out.data[p * 4 + 1] <= 2, `pixel ${p}`).toBe(true);
    }
  });

  it('rejects invalid sizes', async () => {
    await expect(resizeRgba(gradient(2, 2), 0, 2)).rejects.toThrow(RangeError);
    await expect(resizeRgba(gradient(2, 2), 1.5, 2)).rejects.toThrow(RangeError);
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
