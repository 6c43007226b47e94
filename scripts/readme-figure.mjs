// Makes the README's result figure: images side by side, each scaled to the same height (libvips).
// Usage: node scripts/readme-figure.mjs OUT.png|OUT.jpg HEIGHT IMG... (any format sharp reads)
import { writeFileSync } from 'node:fs';
import { scaledToHeight, sheetOf } from './image-sheet.mjs';

const [out, heightArg, ...inputs] = process.argv.slice(2);
if (!out || !heightArg || inputs.length === 0) {
  console.error('usage: node scripts/readme-figure.mjs OUT.png HEIGHT IMG...');
  process.exit(2);
}
const height = Number(heightArg);
const GAP = 6;

const tiles = await Promise.all(inputs.map((p) => scaledToHeight(p, height)));
const { image: figure, width } = sheetOf(tiles, tiles.length, height, GAP);
writeFileSync(out, await (/\.jpe?g$/i.test(out) ? figure.jpeg({ quality: 90 }) : figure.png()).toBuffer());
console.log(`wrote ${out} (${width}×${height})`);
