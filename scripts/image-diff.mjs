// How far two PNG images of the same size differ, in 8-bit levels over the colour channels (alpha ignored).
// Usage: node scripts/image-diff.mjs A.png B.png [MAX_LEVELS]
// Prints the largest difference and the share of values that differ; exits 1 when they differ by more than
// MAX_LEVELS (when given) or in size. scripts/ship-style.sh uses it to check a float16 model against float32.
import { readFileSync } from 'node:fs';
import pngjs from 'pngjs';

const [a, b, limitArg] = process.argv.slice(2);
if (!a || !b) {
  console.error('usage: node scripts/image-diff.mjs A.png B.png [MAX_LEVELS]');
  process.exit(2);
}
const read = (path) => pngjs.PNG.sync.read(readFileSync(path));
const x = read(a);
const y = read(b);
if (x.width !== y.width || x.height !== y.height) {
  console.log(`${a} is ${x.width}×${x.height}, ${b} is ${y.width}×${y.height}`);
  process.exit(1);
}
let max = 0;
let differing = 0;
let values = 0;
for (let i = 0; i < x.data.length; i++) {
  if (i % 4 === 3) continue;
  const d = Math.abs(x.data[i] - y.data[i]);
  if (d > max) max = d;
  if (d > 0) differing++;
  values++;
}
console.log(`${b} vs ${a}: max ${max} levels, ${((100 * differing) / values).toFixed(3)} % of values differ`);
process.exit(limitArg !== undefined && max > Number(limitArg) ? 1 : 0);
