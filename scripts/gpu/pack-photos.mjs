#!/usr/bin/env node
// Packs training photos into a compact folder for a GPU session's carry (the working tree that travels is
// limited to 64 MiB): every JPEG/PNG under the given folders, shorter side scaled to --short (default 256,
// the training crop size: `train` scales the shorter side to --size and crops, so at --size 256 these
// photos are cropped without another resize) with the project's own resizeRgba, re-encoded as JPEG.
//
// Usage (project root, after npm ci):
//   node scripts/gpu/pack-photos.mjs --out DIR [--short 256] [--quality 90] [--limit N] SRC...
// SRC: folders (their JPEG/PNG files, sorted) or single image files.
// Output names: <folder>-<file>.jpg (e.g. train-100075.jpg), in a flat folder; a listing with the sha256
// of each source file is written to <out>/SOURCES.tsv. Deterministic: the same inputs give the same bytes.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

function parse(argv) {
  const o = { out: null, short: 256, quality: 90, limit: Infinity, dirs: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') o.out = argv[++i];
    else if (a === '--short') o.short = Number(argv[++i]);
    else if (a === '--quality') o.quality = Number(argv[++i]);
    else if (a === '--limit') o.limit = Number(argv[++i]);
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else o.dirs.push(a);
  }
  if (!o.out || o.dirs.length === 0)
    throw new Error('usage: pack-photos.mjs --out DIR [--short 256] [--quality 90] [--limit N] SRC...');
  if (!(Number.isInteger(o.short) && o.short >= 8)) throw new Error(`--short ${o.short}: an integer ≥ 8`);
  if (!(o.quality >= 1 && o.quality <= 100)) throw new Error(`--quality ${o.quality}: 1..100`);
  return o;
}

/** The project's image code (src/node/image-io.ts), bundled on the fly so that the packer resizes exactly as `train` does. */
async function imageIo() {
  const root = resolve(new URL('../..', import.meta.url).pathname);
  const cache = join(root, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const file = join(cache, 'pack-photos-image-io.mjs');
  await build({
    entryPoints: [join(root, 'src/node/image-io.ts')],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['sharp'],
    outfile: file,
    logLevel: 'warning',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  return import(pathToFileURL(file).href);
}

const o = parse(process.argv.slice(2));
const { decodeImage, encodeImage, resizeRgba } = await imageIo();
const files = [];
for (const src of o.dirs) {
  if (statSync(src).isFile()) {
    files.push({ dir: dirname(src), name: basename(src), path: src });
    continue;
  }
  const names = readdirSync(src)
    .filter((n) => /\.(jpe?g|png)$/i.test(n) && statSync(join(src, n)).isFile())
    .sort();
  for (const n of names) files.push({ dir: src, name: n, path: join(src, n) });
}
// --limit N: N files evenly spaced over the sorted list (so a subset draws from every folder given).
const chosen =
  files.length <= o.limit
    ? files
    : Array.from({ length: o.limit }, (_, i) => files[Math.floor((i * files.length) / o.limit)]);
rmSync(o.out, { recursive: true, force: true });
mkdirSync(o.out, { recursive: true });
let bytesIn = 0;
let bytesOut = 0;
const sources = ['packed\tsource\tsha256\twidth\theight'];
for (const f of chosen) {
  const raw = new Uint8Array(readFileSync(f.path));
  bytesIn += raw.length;
  const img = await decodeImage(raw, f.path);
  // As cropSample (src/node/data-sample.ts): shorter side to `short`, rounding the other.
  const scale = o.short / Math.min(img.width, img.height);
  const w = Math.max(o.short, Math.round(img.width * scale));
  const h = Math.max(o.short, Math.round(img.height * scale));
  const small = scale < 1 ? await resizeRgba(img, w, h) : img;
  const bytes = await encodeImage(small, 'jpeg', o.quality);
  const name = `${basename(f.dir)}-${basename(f.name, extname(f.name))}.jpg`;
  writeFileSync(join(o.out, name), bytes);
  bytesOut += bytes.length;
  sources.push(
    `${name}\t${f.path}\t${createHash('sha256').update(raw).digest('hex')}\t${small.width}\t${small.height}`,
  );
}
writeFileSync(join(o.out, 'SOURCES.tsv'), sources.join('\n') + '\n');
const mb = (n) => (n / 1e6).toFixed(2);
console.log(
  `packed ${chosen.length} photos into ${o.out}: ${mb(bytesIn)} MB → ${mb(bytesOut)} MB (shorter side ${o.short}, JPEG quality ${o.quality})`,
);
