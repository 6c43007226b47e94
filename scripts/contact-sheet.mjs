// A contact sheet: rows of images, each scaled to one cell height (libvips), written as a JPEG.
// Usage: node scripts/contact-sheet.mjs OUT.jpg CELL_HEIGHT COLUMNS IMG... (any format sharp reads, row by row;
// `-` leaves a cell blank). scripts/demo.sh makes one of the Kodak photos (first column) and their imported ml5
// styles; scripts/ship-style.sh one of a shipped style (its image, then the photos over their stylisations).
import { writeFileSync } from 'node:fs';
import { scaledToHeight, sheetOf } from './image-sheet.mjs';

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

const BLANK = '-';
const cells = await Promise.all(
  inputs.map((p) => (p === BLANK ? { width: 0, height, data: new Uint8Array(0) } : scaledToHeight(p, height))),
);
const sheet = sheetOf(cells, columns, height, GAP);
const encoded = await sheet.image.jpeg({ quality: JPEG_QUALITY }).toBuffer();
writeFileSync(out, encoded);
console.log(
  `${out}: ${sheet.width}×${sheet.height}, ${sheet.rows}×${columns} cells, ${(encoded.length / 1024).toFixed(0)} kB`,
);
