// Makes the README's result figure: images side by side, each scaled to the same height (area average).
// Usage: node scripts/readme-figure.mjs OUT.png|OUT.jpg HEIGHT IMG... (PNG or JPEG inputs)
import { readFileSync, writeFileSync } from 'node:fs';
import pngjs from 'pngjs';
import jpeg from 'jpeg-js';

const [out, heightArg, ...inputs] = process.argv.slice(2);
if (!out || !heightArg || inputs.length === 0) {
  console.error('usage: node scripts/readme-figure.mjs OUT.png HEIGHT IMG...');
  process.exit(2);
}
const height = Number(heightArg);
const GAP = 6;

function decode(path) {
  const bytes = readFileSync(path);
  if (bytes[0] === 0x89) return pngjs.PNG.sync.read(bytes);
  return jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
}

/** Area-average (or nearest when enlarging) resize of RGBA pixels to the given height. */
function scaleToHeight(img) {
  const w = Math.max(1, Math.round((img.width * height) / img.height));
  const data = new Uint8Array(w * height * 4);
  const sx = img.width / w;
  const sy = img.height / height;
  for (let y = 0; y < height; y++) {
    const y0 = Math.floor(y * sy);
    const y1 = Math.max(y0 + 1, Math.floor((y + 1) * sy));
    for (let x = 0; x < w; x++) {
      const x0 = Math.floor(x * sx);
      const x1 = Math.max(x0 + 1, Math.floor((x + 1) * sx));
      const sum = [0, 0, 0];
      for (let yy = y0; yy < y1; yy++)
        for (let xx = x0; xx < x1; xx++) for (let c = 0; c < 3; c++) sum[c] += img.data[(yy * img.width + xx) * 4 + c];
      const n = (y1 - y0) * (x1 - x0);
      for (let c = 0; c < 3; c++) data[(y * w + x) * 4 + c] = Math.round(sum[c] / n);
      data[(y * w + x) * 4 + 3] = 255;
    }
  }
  return { width: w, height, data };
}

const tiles = inputs.map((p) => scaleToHeight(decode(p)));
const width = tiles.reduce((s, t) => s + t.width, 0) + GAP * (tiles.length - 1);
const png = new pngjs.PNG({ width, height });
png.data.fill(255);
let x0 = 0;
for (const t of tiles) {
  for (let y = 0; y < height; y++) png.data.set(t.data.subarray(y * t.width * 4, (y + 1) * t.width * 4), (y * width + x0) * 4);
  x0 += t.width + GAP;
}
writeFileSync(out, /\.jpe?g$/i.test(out) ? jpeg.encode({ width, height, data: png.data }, 90).data : pngjs.PNG.sync.write(png));
console.log(`wrote ${out} (${width}×${height})`);
