#!/usr/bin/env node
// Reads styles/config.json for scripts/gpu/train-styles.sh.
//   node scripts/gpu/style-args.mjs order                     → the style names, in training order, one a line
//   node scripts/gpu/style-args.mjs get KEY                   → assets.KEY (a string, or a list one a line)
//   node scripts/gpu/style-args.mjs image NAME                → style NAME's image, relative to the assets root
//   node scripts/gpu/style-args.mjs setting NAME KEY          → style NAME's setting KEY (the style's own, else
//     the defaults'), e.g. styleWeight or lr
//   node scripts/gpu/style-args.mjs args NAME ROOT [K=V ...]  → `train` options for style NAME, one a line
//     ROOT: the assets root (.carry/data on a GPU machine, ../shared/assets here); K=V overrides a
//     setting of the config's defaults/style (size, batch, iters, checkpointEvery, styleSize, ...).
//     Environment: VGG overrides the VGG file; NO_SAMPLE=1 leaves out --sample.
// Settings are merged: defaults, then the style's own keys, then the overrides.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const CONFIG = process.env.STYLES_CONFIG ?? 'styles/config.json';
const config = JSON.parse(readFileSync(CONFIG, 'utf8'));
const [cmd, ...rest] = process.argv.slice(2);

function fail(msg) {
  process.stderr.write(`style-args: ${msg}\n`);
  process.exit(2);
}

/** Style NAME's training settings: the config's defaults, then the style's own keys. */
function settingsOf(name) {
  const style = config.styles[name];
  if (!style) fail(`unknown style '${name}' (${Object.keys(config.styles).join(', ')})`);
  const s = { ...config.defaults };
  for (const [k, v] of Object.entries(style)) if (k in s) s[k] = v;
  return s;
}

if (cmd === 'order') {
  const names = config.order ?? Object.keys(config.styles);
  for (const n of names) if (!config.styles[n]) fail(`order names ${n}, which has no entry in styles`);
  console.log(names.join('\n'));
} else if (cmd === 'get') {
  const v = config.assets?.[rest[0]];
  if (v === undefined) fail(`no assets.${rest[0]} in ${CONFIG}`);
  console.log(Array.isArray(v) ? v.join('\n') : String(v));
} else if (cmd === 'image') {
  const style = config.styles[rest[0]];
  if (!style) fail(`no style '${rest[0]}' in ${CONFIG}`);
  console.log(style.image);
} else if (cmd === 'setting') {
  const [name, key] = rest;
  const s = settingsOf(name);
  if (!(key in s)) fail(`'${key}' is not a setting (${Object.keys(s).join(', ')})`);
  console.log(Array.isArray(s[key]) ? s[key].join(',') : String(s[key]));
} else if (cmd === 'args') {
  const [name, root, ...overrides] = rest;
  const style = config.styles[name];
  const s = settingsOf(name);
  for (const o of overrides) {
    const i = o.indexOf('=');
    if (i < 1) fail(`override '${o}' is not KEY=VALUE`);
    const k = o.slice(0, i);
    if (!(k in s)) fail(`override '${k}' is not a setting (${Object.keys(s).join(', ')})`);
    const raw = o.slice(i + 1);
    s[k] = Array.isArray(s[k]) ? raw.split(',') : typeof s[k] === 'number' ? Number(raw) : raw;
  }
  const a = config.assets;
  const args = [
    '--style',
    join(root, style.image),
    '--data',
    join(root, a.photos),
    '--vgg',
    process.env.VGG ?? join(root, a.vgg),
    '--size',
    s.size,
    '--batch',
    s.batch,
    '--lr',
    s.lr,
    '--style-size',
    s.styleSize,
    '--width',
    s.width,
    '--seed',
    s.seed,
    '--content-layer',
    s.contentLayer,
    '--style-layers',
    s.styleLayers.join(','),
    '--content-weight',
    s.contentWeight,
    '--style-weight',
    s.styleWeight,
    '--tv-weight',
    s.tvWeight,
    '--iters',
    s.iters,
    '--checkpoint-every',
    s.checkpointEvery,
    '--save-dtype',
    s.saveDtype,
  ];
  if (a.sample && !process.env.NO_SAMPLE) args.push('--sample', join(root, a.sample));
  console.log(args.map(String).join('\n'));
} else {
  fail('usage: style-args.mjs order | get KEY | image NAME | setting NAME KEY | args NAME ROOT [KEY=VALUE ...]');
}
