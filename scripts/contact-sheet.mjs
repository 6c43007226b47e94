// A contact sheet: rows of images, each scaled to one cell height (area average), written as a JPEG.
// Usage: node scripts/contact-sheet.mjs OUT.jpg CELL_HEIGHT COLUMNS IMG... (PNG or JPEG inputs, row by row;
// `-` leaves a cell blank). scripts/demo.sh makes one of the Kodak photos (first column) and their imported ml5
// styles; scripts/ship-style.sh one of a shipped style (its image, then the photos over their stylisations).
import { readFileSync, writeFileSync } from 'node:fs';
import pngjs from 'pngjs';
import jpeg from 'jpeg-js';

const [out, heightArg, columnsArg, ...inputs] = process.argv.slice(2);
const height = Number(heightArg);
const columns = Number(columnsArg);
if (!out || !(height > 0) || !(columns > 0) || inputs.length === 0 || inputs.length % columns !== 0) {
  console.error('usage: node scripts/contact-sheet.mjs OUT.jpg CELL_HEIGHT COLUMNS IMG... (a multiple of COLUMNS images)');
  process.exit(2);
}
const GAP = 4;
const JPEG_QUALITY = 85;

function decode(path) {
  const bytes = readFileSync(path);
  if (bytes[0] === 0x89) return pngjs.PNG.sync.read(bytes);
  return jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
}

/** Area-average resize to the cell height (nearest when enlarging), keeping the aspect ratio. */
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
      for (let yy = y0; yy < y1; yy++) {
        for (let xx = x0; xx < x1; xx++) for (let c = 0; c < 3; c++) sum[c] += img.data[(yy * img.width + xx) * 4 + c];
      }
      const n = (y1 - y0) * (x1 - x0);
      for (let c = 0; c < 3; c++) data[(y * w + x) * 4 + c] = Math.round(sum[c] / n);
      data[(y * w + x) * 4 + 3] = 255;
    }
  }
  return { width: w, height, data };
}

const BLANK = '-';
const cells = inputs.map((p) => (p === BLANK ? { width: 0, height, data: new Uint8Array(0) } : scaleToHeight(decode(p))));
const rows = cells.length / columns;
// Column widths: the widest cell of each column, so that rows of different aspect ratios still line up.
const widths = Array.from({ length: columns }, (_, c) => Math.max(...cells.filter((_, i) => i % columns === c).map((img) => img.width)));
const sheetWidth = widths.reduce((a, b) => a + b, 0) + GAP * (columns - 1);
const sheetHeight = rows * height + GAP * (rows - 1);
const sheet = new Uint8Array(sheetWidth * sheetHeight * 4).fill(255);
cells.forEach((img, i) => {
  const row = Math.floor(i / columns);
  const col = i % columns;
  const left = widths.slice(0, col).reduce((a, b) => a + b, 0) + GAP * col;
  const top = row * (height + GAP);
  for (let y = 0; y < img.height; y++) {
    sheet.set(img.data.subarray(y * img.width * 4, (y + 1) * img.width * 4), ((top + y) * sheetWidth + left) * 4);
  }
});
const encoded = jpeg.encode({ width: sheetWidth, height: sheetHeight, data: sheet }, JPEG_QUALITY).data;
writeFileSync(out, encoded);
console.log(`${out}: ${sheetWidth}×${sheetHeight}, ${rows}×${columns} cells, ${(encoded.length / 1024).toFixed(0)} kB`);
