// Makes the README's result figure: images side by side, each scaled to the same height (libvips).
// Usage: node scripts/readme-figure.mjs OUT.png|OUT.jpg HEIGHT IMG... (any format sharp reads)
import { readFileSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';

const [out, heightArg, ...inputs] = process.argv.slice(2);
if (!out || !heightArg || inputs.length === 0) {
  console.error('usage: node scripts/readme-figure.mjs OUT.png HEIGHT IMG...');
  process.exit(2);
}
const height = Number(heightArg);
const GAP = 6;

/** An image file scaled to the figure's height (libvips, Lanczos-3), as opaque RGBA over white. */
async function scaledTile(path) {
  const { data, info } = await sharp(readFileSync(path), { autoOrient: true })
    .resize({ height, kernel: 'lanczos3' })
    .flatten({ background: '#ffffff' })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

const tiles = await Promise.all(inputs.map(scaledTile));
const width = tiles.reduce((s, t) => s + t.width, 0) + GAP * (tiles.length - 1);
const pixels = new Uint8Array(width * height * 4).fill(255);
let x0 = 0;
for (const t of tiles) {
  for (let y = 0; y < height; y++)
    pixels.set(t.data.subarray(y * t.width * 4, (y + 1) * t.width * 4), (y * width + x0) * 4);
  x0 += t.width + GAP;
}
const figure = sharp(pixels, { raw: { width, height, channels: 4 } })
  .removeAlpha()
  .withIccProfile('srgb');
writeFileSync(out, await (/\.jpe?g$/i.test(out) ? figure.jpeg({ quality: 90 }) : figure.png()).toBuffer());
console.log(`wrote ${out} (${width}×${height})`);
