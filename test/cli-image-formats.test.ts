// stylize through the CLI with the formats libvips brings (issue 23): WebP, AVIF, HEIF, TIFF and GIF in;
// WebP and AVIF out with --quality; EXIF orientation, Display P3, --keep-metadata, alpha into JPEG said.
// The shipped starry_night net on small pictures (a second or two per image on lavapipe).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodeImage } from '../src/node/image-io.js';
import type { RgbaImage } from '../src/models/rgba-image.js';
import { buildCliIfStale, ROOT, runCli, workDir } from './helpers/cli.js';

const MODEL = join(ROOT, 'models', 'starry_night.safetensors');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'images');
const work = workDir('cli-formats-');
const stylize = (args: string[]) => runCli(['stylize', '--model', MODEL, ...args], { cwd: work });

function picture(width: number, height: number, alpha = (_x: number, _y: number) => 255): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++)
      data.set([(x * 9) % 256, (y * 13) % 256, ((x + y) * 5) % 256, alpha(x, y)], (y * width + x) * 4);
  }
  return { width, height, data };
}

const raw = (img: RgbaImage) => sharp(img.data, { raw: { width: img.width, height: img.height, channels: 4 } });
const read = async (name: string) => decodeImage(new Uint8Array(readFileSync(join(work, name))), name);

describe.skipIf(!existsSync(MODEL))('stylize: image formats through libvips', () => {
  beforeAll(async () => {
    buildCliIfStale();
    const opaque = picture(30, 22);
    const translucent = picture(30, 22, (x) => (x < 10 ? 0 : x < 20 ? 128 : 255));
    writeFileSync(join(work, 'a.webp'), await encodeImage(translucent, 'webp', 100));
    writeFileSync(join(work, 'b.avif'), await encodeImage(opaque, 'avif', 90));
    writeFileSync(join(work, 'c.heic'), await raw(opaque).heif({ compression: 'av1', quality: 90 }).toBuffer());
    writeFileSync(
      join(work, 'd.tif'),
      await raw(opaque).toColourspace('rgb16').tiff({ compression: 'lzw' }).toBuffer(),
    );
    const frame = (v: number) =>
      sharp({ create: { width: 30, height: 22, channels: 4, background: { r: v, g: 90, b: 40, alpha: 1 } } })
        .png()
        .toBuffer();
    writeFileSync(
      join(work, 'e.gif'),
      await sharp([await frame(220), await frame(20)], { join: { animated: true } })
        .gif()
        .toBuffer(),
    );
    writeFileSync(join(work, 'clear.png'), await encodeImage(translucent, 'png'));
  });

  it('reads WebP, AVIF, HEIF, 16-bit TIFF and GIF; writes WebP and AVIF as themselves, the others as PNG; alpha kept', () => {
    const r = stylize(['a.webp', 'b.avif', 'c.heic', 'd.tif', 'e.gif', '--out-dir', '.']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/e\.gif: GIF with 2 frames: only the first is used/);
    const written = readdirSync(work)
      .filter((f) => f.includes('_starry_night'))
      .sort();
    expect(written).toEqual([
      'a_starry_night.webp',
      'b_starry_night.avif',
      'c_starry_night.png',
      'd_starry_night.png',
      'e_starry_night.png',
    ]);
  });

  it("keeps the WebP input's alpha in the WebP output, and sizes", async () => {
    const out = await read('a_starry_night.webp');
    expect([out.width, out.height]).toEqual([30, 22]);
    expect(out.data[(5 * 30 + 2) * 4 + 3]).toBeLessThan(5);
    expect(Math.abs(out.data[(5 * 30 + 15) * 4 + 3] - 128)).toBeLessThan(5);
    expect(out.data[(5 * 30 + 25) * 4 + 3]).toBe(255);
    for (const f of ['b_starry_night.avif', 'c_starry_night.png', 'd_starry_night.png', 'e_starry_night.png'])
      expect([(await read(f)).width, (await read(f)).height], f).toEqual([30, 22]);
  });

  it('-o NAME.avif / NAME.webp with --quality: smaller files at lower quality, tagged sRGB', async () => {
    for (const [name, q] of [
      ['hi.avif', 90],
      ['lo.avif', 20],
      ['hi.webp', 95],
      ['lo.webp', 20],
    ] as const) {
      const r = stylize(['b.avif', '-o', name, '--quality', String(q), '--quiet']);
      expect(r.status, r.stderr).toBe(0);
    }
    const size = (f: string) => readFileSync(join(work, f)).length;
    expect(size('lo.avif')).toBeLessThan(size('hi.avif'));
    expect(size('lo.webp')).toBeLessThan(size('hi.webp'));
    const meta = await sharp(readFileSync(join(work, 'hi.webp'))).metadata();
    expect([meta.format, meta.space, meta.icc !== undefined]).toEqual(['webp', 'srgb', true]);
  });

  it('a translucent PNG written as JPEG: the command says the alpha is composited on white', () => {
    const r = stylize(['clear.png', '-o', 'clear.jpg']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/clear\.png: JPEG has no alpha channel: translucent pixels are composited on white/);
  });

  it('a rotated phone photo comes out upright; --keep-metadata carries its EXIF over (orientation reset), else none', async () => {
    const photo = await raw(picture(40, 24))
      .withExif({ IFD0: { Copyright: 'Jane Doe' } })
      .withMetadata({ orientation: 6 })
      .jpeg({ quality: 95 })
      .toBuffer();
    writeFileSync(join(work, 'phone.jpg'), photo);
    expect(stylize(['phone.jpg', '-o', 'kept.jpg', '--keep-metadata', '--quiet']).status).toBe(0);
    expect(stylize(['phone.jpg', '-o', 'plain.jpg', '--quiet']).status).toBe(0);
    const kept = await sharp(readFileSync(join(work, 'kept.jpg'))).metadata();
    expect([kept.width, kept.height, kept.orientation ?? 1]).toEqual([24, 40, 1]);
    expect(kept.exif && Buffer.from(kept.exif).includes('Jane Doe')).toBe(true);
    const plain = await sharp(readFileSync(join(work, 'plain.jpg'))).metadata();
    expect([plain.width, plain.height, plain.exif]).toEqual([24, 40, undefined]);
  });

  it('a Display P3 photo is stylised as the colours it shows: the same output as its sRGB conversion', async () => {
    writeFileSync(join(work, 'p3.jpg'), readFileSync(join(FIXTURES, 'display-p3.jpg')));
    writeFileSync(
      join(work, 'p3-as-srgb.png'),
      await encodeImage(await decodeImage(new Uint8Array(readFileSync(join(FIXTURES, 'display-p3.jpg'))), 'p3'), 'png'),
    );
    expect(stylize(['p3.jpg', '-o', 'from-p3.png', '--quiet']).status).toBe(0);
    expect(stylize(['p3-as-srgb.png', '-o', 'from-srgb.png', '--quiet']).status).toBe(0);
    expect(Buffer.from((await read('from-p3.png')).data).equals(Buffer.from((await read('from-srgb.png')).data))).toBe(
      true,
    );
  });

  it('a truncated WebP: one line naming the file and the format, exit 1, no output', async () => {
    const webp = readFileSync(join(work, 'a.webp'));
    writeFileSync(join(work, 'cut.webp'), webp.subarray(0, Math.floor(webp.length / 2)));
    const r = stylize(['cut.webp', '-o', 'cut-out.webp']);
    expect(r.status).toBe(1);
    const lines = r.stderr.split('\n').filter((l) => l !== '' && !/^warning: /i.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: cannot read cut\.webp: truncated or corrupt WebP/);
    expect(existsSync(join(work, 'cut-out.webp'))).toBe(false);
  });
});
