// The styles the web demo offers (scripts/serve.mjs serves them as /models/index.json) and their thumbnails.
//
// A file is a style when its safetensors header says so (metadata format fast-style-webgpu/transform-net), not
// because of its name: models/ also holds each style's loss log and curve, and a loss network lives in a
// subfolder (only the folder's own files are read). Read from the header alone: no weights are loaded.
//
// Thumbnails (/thumbnails/NAME.jpg), first found of: the painting the style was trained on (styles/config.json's
// image, under ../shared/assets, on machines that have that data), the first cell of docs/images/NAME-sheet.jpg
// (scripts/ship-style.sh puts the painting there), or a stylised photo that scripts/demo.sh left in demo-out/
// (the imported ml5.js nets). They are made on request and kept in memory; nothing is written to disk.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

export const STYLE_FORMAT = 'fast-style-webgpu/transform-net';
/** The same bound the library puts on a safetensors header (src/models/safetensors.ts). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
export const THUMBNAIL_HEIGHT = 192;
const THUMBNAIL_QUALITY = 82;
/** Gap between contact-sheet cells (scripts/contact-sheet.mjs). */
const SHEET_GAP = 4;

/** The `__metadata__` of a safetensors file, read from its header; null for anything that is not one. */
export function readSafetensorsMetadata(path) {
  let fd;
  try {
    fd = openSync(path, 'r');
    const size = statSync(path).size;
    const prefix = Buffer.alloc(8);
    if (readSync(fd, prefix, 0, 8, 0) !== 8) return null;
    const n = prefix.readBigUInt64LE(0);
    if (n < 2n || n > BigInt(Math.min(MAX_HEADER_BYTES, size - 8))) return null;
    const header = Buffer.alloc(Number(n));
    if (readSync(fd, header, 0, header.length, 8) !== header.length) return null;
    const parsed = JSON.parse(header.toString('utf8'));
    const meta = parsed?.__metadata__;
    return meta && typeof meta === 'object' ? meta : {};
  } catch {
    return null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** "Vincent van Gogh, The Starry Night (1889); public domain" → painter, title, year, rights. */
export function parsePainting(text) {
  if (typeof text !== 'string' || !text.trim()) return null;
  const [work, ...rest] = text.split(';');
  const rights = rest.join(';').trim() || null;
  const m = /^\s*([^,]+?),\s*(.+?)\s*\(([^)]+)\)\s*$/.exec(work);
  return m
    ? { painter: m[1], title: m[2], year: m[3], rights }
    : { painter: null, title: work.trim(), year: null, rights };
}

/** styles/config.json, or an empty one when it is missing or unreadable (the listing still works). */
export function readStyleConfig(path) {
  try {
    const c = JSON.parse(readFileSync(path, 'utf8'));
    return {
      order: Array.isArray(c.order) ? c.order : [],
      styles: c.styles && typeof c.styles === 'object' ? c.styles : {},
    };
  } catch {
    return { order: [], styles: {} };
  }
}

/** The style files directly in `dir` (not in subfolders), with what their headers say. */
function stylesIn(dir, origin) {
  if (!dir || !existsSync(dir)) return [];
  const out = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    if (!d.isFile() || d.name.startsWith('.')) continue;
    const path = join(dir, d.name);
    const meta = readSafetensorsMetadata(path);
    if (meta?.format !== STYLE_FORMAT) continue;
    const name = d.name.replace(/\.safetensors$/i, '');
    const step = Number(meta.step);
    out.push({
      name,
      file: d.name,
      path,
      bytes: statSync(path).size,
      origin,
      style: typeof meta.style === 'string' && meta.style ? meta.style : name,
      steps: Number.isInteger(step) && step > 0 ? step : null,
      licence: meta.licence ?? null,
      source: meta.source ?? null,
    });
  }
  return out;
}

/**
 * Every style the demo offers: ours (modelsDir) in styles/config.json's order, then the imported ones
 * (importedDir) by name, each file name once (models/ wins: its file is what /models/NAME serves).
 * Entries: name, file, path (on disk), bytes, origin ('ours' | 'imported'), style, steps, licence, source,
 * painting ({ painter, title, year, rights } from styles/config.json, or null).
 */
export function listStyles({ modelsDir, importedDir, configPath }) {
  const config = readStyleConfig(configPath);
  const rank = (s) => {
    const i = config.order.indexOf(s.style);
    return i < 0 ? config.order.length : i;
  };
  const byName = (a, b) => a.name.localeCompare(b.name);
  const ours = stylesIn(modelsDir, 'ours').sort((a, b) => rank(a) - rank(b) || byName(a, b));
  const taken = new Set(ours.map((s) => s.file));
  const imported = stylesIn(importedDir, 'imported')
    .filter((s) => !taken.has(s.file))
    .sort(byName);
  return [...ours, ...imported].map((s) => ({
    ...s,
    painting: parsePainting(config.styles[s.style]?.painting),
    image: config.styles[s.style]?.image ?? null,
  }));
}

/** The folder of models/ that holds the loss networks (VGG weights) that training reads. */
export const LOSS_NETWORK_DIR = 'loss-network';

/**
 * The loss networks the demo's Train panel can fetch: the safetensors files of modelsDir/loss-network/ that are
 * not a style or checkpoint of ours, by name. Entries: name (the file's), file (its path under models/), bytes.
 */
export function listLossNetworks(modelsDir) {
  const dir = join(modelsDir, LOSS_NETWORK_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors') && statSync(join(dir, f)).isFile())
    .filter((f) => {
      const meta = readSafetensorsMetadata(join(dir, f));
      return meta !== null && !String(meta.format ?? '').startsWith('fast-style-webgpu/');
    })
    .sort()
    .map((f) => ({ name: f, file: `${LOSS_NETWORK_DIR}/${f}`, bytes: statSync(join(dir, f)).size }));
}

// ------------------------------------------------------------------ thumbnails

/** An image file as opaque sRGB RGBA (libvips: any format, upright, colour-managed). */
export async function decodeImage(bytes) {
  const { data, info } = await sharp(bytes, { autoOrient: true })
    .flatten({ background: '#ffffff' })
    .ensureAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

/** The part of `img` at [x, y, width, height). */
function crop(img, x, y, width, height) {
  const data = new Uint8Array(width * height * 4);
  for (let r = 0; r < height; r++)
    data.set(img.data.subarray(((y + r) * img.width + x) * 4, ((y + r) * img.width + x + width) * 4), r * width * 4);
  return { width, height, data };
}

/**
 * The first cell of a shipped style's sheet: the painting. The sheet has two rows of equal height and a white
 * gap between cells; the painting's cell ends where the top row first turns white for a few columns (nearly
 * white: JPEG ringing leaves a few darker pixels at the cell edges).
 */
export function firstSheetCell(sheet) {
  const cellHeight = (sheet.height - SHEET_GAP) / 2;
  if (!Number.isInteger(cellHeight) || cellHeight < 8) return null;
  const isGapColumn = (x) => {
    let dark = 0;
    for (let y = 0; y < cellHeight; y++) {
      const i = (y * sheet.width + x) * 4;
      if (Math.min(sheet.data[i], sheet.data[i + 1], sheet.data[i + 2]) < 200) dark++;
    }
    return dark <= cellHeight * 0.05;
  };
  const run = SHEET_GAP - 1;
  for (let x = 1, white = 0; x < sheet.width; x++) {
    white = isGapColumn(x) ? white + 1 : 0;
    if (white === run) return crop(sheet, 0, 0, x - run + 1, cellHeight);
  }
  return null;
}

/**
 * Where a style's thumbnail comes from: { path, cell } (cell: take the sheet's first cell) or null.
 * `dirs`: sharedAssets (../shared/assets, may be missing), docsImages (docs/images), samples (demo-out).
 */
export function thumbnailSource(style, dirs) {
  if (style.image && dirs.sharedAssets) {
    const painting = join(dirs.sharedAssets, style.image);
    if (existsSync(painting)) return { path: painting, cell: false };
  }
  if (style.origin === 'ours' && dirs.docsImages) {
    const sheet = join(dirs.docsImages, `${style.style}-sheet.jpg`);
    if (existsSync(sheet)) return { path: sheet, cell: true };
  }
  if (dirs.samples && existsSync(dirs.samples)) {
    const suffix = `_${style.style}.png`;
    const sample = readdirSync(dirs.samples)
      .filter((f) => f.endsWith(suffix))
      .sort()[0];
    if (sample) return { path: join(dirs.samples, sample), cell: false };
  }
  return null;
}

/** The JPEG thumbnail of an image file (of the first sheet cell when `cell`), THUMBNAIL_HEIGHT rows high. */
export async function makeThumbnail(source) {
  let img = await decodeImage(readFileSync(source.path));
  if (source.cell) img = firstSheetCell(img);
  if (!img) return null;
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 4 } })
    .resize({ height: THUMBNAIL_HEIGHT, withoutEnlargement: true, kernel: 'lanczos3' })
    .removeAlpha()
    .jpeg({ quality: THUMBNAIL_QUALITY })
    .toBuffer();
}
