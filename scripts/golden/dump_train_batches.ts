// Writes the first STEPS batches that `train` feeds its net (the same DataLoader, seed 1, order and crops) and
// the style image as the trainer sizes it, as raw uint8 RGB, for `train_reference.py --batches DIR`: a PyTorch
// run on exactly our data, so that what differs between the two runs is the engine alone.
//
//   npx esbuild scripts/golden/dump_train_batches.ts --bundle --platform=node --format=esm --external:sharp \
//       --outfile=.data/dump_train_batches.mjs
//   node .data/dump_train_batches.mjs DATA_DIR STYLE_IMAGE OUT_DIR STEPS [random|shorter-side]
//
// Size 128, batch 4, style edge 256: the shipped recipe (scripts/train-on-cpu.sh).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { DataLoader, listImages } from '../../src/node/data-loader.js';
import { decodeImage, resizeToEdge } from '../../src/node/image-io.js';

const SIZE = 128;
const BATCH = 4;
const STYLE_EDGE = 256;

const [dataDir, styleFile, outDir, stepsArg, cropScale = 'random'] = process.argv.slice(2);
const steps = Number(stepsArg);
if (!dataDir || !styleFile || !outDir || !(steps > 0) || !['random', 'shorter-side'].includes(cropScale)) {
  console.error('usage: dump_train_batches DATA_DIR STYLE_IMAGE OUT_DIR STEPS [random|shorter-side]');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

const rgb = (rgba: Uint8Array): Uint8Array => {
  const out = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    out[j] = rgba[i];
    out[j + 1] = rgba[i + 1];
    out[j + 2] = rgba[i + 2];
  }
  return out;
};

const style = await resizeToEdge(await decodeImage(readFileSync(styleFile), styleFile), STYLE_EDGE);
writeFileSync(`${outDir}/style.rgb`, rgb(style.data));
writeFileSync(`${outDir}/style.json`, JSON.stringify({ width: style.width, height: style.height }));
const loader = new DataLoader(listImages(dataDir), {
  size: SIZE,
  batch: BATCH,
  seed: 1,
  cropScale: cropScale as 'random' | 'shorter-side',
  start: 0,
  workers: 1,
});
for (let s = 1; s <= steps; s++) {
  const crops = await loader.next();
  writeFileSync(`${outDir}/batch${String(s).padStart(5, '0')}.rgb`, Buffer.concat(crops.map(rgb)));
}
loader.close();
console.log(`wrote ${steps} batches and the style image to ${outDir}`);
