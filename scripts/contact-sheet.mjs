// A contact sheet: rows of images, each scaled to one cell height (libvips), written as a JPEG.
// Usage: node scripts/contact-sheet.mjs OUT.jpg CELL_HEIGHT COLUMNS IMG... (any format sharp reads, row by row;
// `-` leaves a cell blank). scripts/demo.sh makes one of the Kodak photos (first column) and their imported ml5
// styles; scripts/ship-style.sh one of a shipped style (its image, then the photos over their stylisations).
import { readFileSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';

const [out, heightArg, columnsArg, ...inputs] = process.argv.slice(2);
const height = Number(heightArg);
const columns = Number(columnsArg);
if (!out || !(height > 0) || !(columns > 0) || inputs.length === 0 || inputs.length % columns !== 0) {
  console.error(
    'usage: node scripts/contact-sheet.mjs OUT.jpg CELL_HEIGHT COLUMNS IMG... (a multiple of COLUMNS images)',
  );
  process.exit(2);
}
const GAP = 4;
const JPEG_QUALITY = 85;

/** An image file scaled to the cell height (libvips, Lanczos-3), as opaque RGBA over white. */
async function scaledCell(path) {
  const { data, info } = await sharp(readFileSync(path), { autoOrient: true })
    .resize({ height, kernel: 'lanczos3' })
    .flatten({ background: '#ffffff' })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

const BLANK = '-';
const cells = await Promise.all(
  inputs.map((p) => (p === BLANK ? { width: 0, height, data: new Uint8Array(0) } : scaledCell(p))),
);
const rows = cells.length / columns;
// Column widths: the widest cell of each column, so that rows of different aspect ratios still line up.
const widths = Array.from({ length: columns }, (_, c) =>
  Math.max(...cells.filter((_, i) => i % columns === c).map((img) => img.width)),
);
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
const encoded = await sharp(sheet, { raw: { width: sheetWidth, height: sheetHeight, channels: 4 } })
  .removeAlpha()
  .withIccProfile('srgb')
  .jpeg({ quality: JPEG_QUALITY })
  .toBuffer();
writeFileSync(out, encoded);
console.log(`${out}: ${sheetWidth}×${sheetHeight}, ${rows}×${columns} cells, ${(encoded.length / 1024).toFixed(0)} kB`);
