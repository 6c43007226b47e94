import { basename, extname, join } from 'node:path';
import { createNodeEngine } from '../../engine/node.js';
import type { LossConfig } from '../../models/losses.js';
import { evaluatePhoto, matchSentence, methodLabel, summarize, type MethodResult } from '../../models/evaluate.js';
import { dropletOverlay, measureDroplets } from '../../models/droplets.js';
import type { GatysInit, GatysOptimizer } from '../../models/gatys.js';
import type { VggArchitecture, VggInput } from '../../models/vgg.js';
import { UsageError, type Command, type ParsedArgs } from '../args.js';
import { listImages } from '../../node/data-loader.js';
import { CliError } from '../errors.js';
import { InputSet, isInside, readInputFile, requireDirectory, writeOutputFile } from '../files.js';
import { encodeImage, ImageFileError, resizeRgba, resizeToEdge } from '../../node/image-io.js';
import type { RgbaImage } from '../../models/rgba-image.js';
import {
  buildStyleLoss,
  checkImageSide,
  checkStyleImage,
  lossSettings,
  lossWeightOptions,
  readImageFile,
  readVggFile,
  vggOptions,
  vggPath,
} from '../loss-network.js';
import { progressReporter } from '../progress.js';
import { loadCheckedNet } from '../finite.js';

export const CSV_HEADER =
  'image,method,iterations,evaluations,seconds,content_loss,style_loss,tv_loss,total_loss,droplet_share,style_ratio';
/** Pixels between the panels of a contact sheet (white). */
const GAP = 4;

/** Panels side by side, each scaled to `height` (keeping its aspect ratio), on white. */
async function contactSheet(panels: readonly RgbaImage[], height: number): Promise<RgbaImage> {
  const scaled = await Promise.all(
    panels.map((p) =>
      p.height === height ? p : resizeRgba(p, Math.max(1, Math.round((p.width * height) / p.height)), height),
    ),
  );
  const width = scaled.reduce((w, p) => w + p.width, 0) + GAP * (scaled.length - 1);
  const data = new Uint8Array(width * height * 4).fill(255);
  let x0 = 0;
  for (const p of scaled) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < p.width; x++) {
        const s = (y * p.width + x) * 4;
        const d = (y * width + x0 + x) * 4;
        // Composited over white, opaque (alpha would hide the comparison).
        const a = p.data[s + 3] / 255;
        for (let c = 0; c < 3; c++) data[d + c] = Math.round(p.data[s + c] * a + 255 * (1 - a));
        data[d + 3] = 255;
      }
    }
    x0 += p.width + GAP;
  }
  return { width, height, data };
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A share as a percentage with two decimals ("0.73 %"). */
function percent(share: number): string {
  return `${(share * 100).toFixed(2)} %`;
}

function csvRow(image: string, r: MethodResult): string {
  const l = r.losses;
  return [
    csvField(image),
    r.method,
    r.iterations ?? '',
    r.evaluations ?? '',
    r.seconds.toFixed(3),
    l.content,
    l.style,
    l.tv,
    l.total,
    r.droplets,
    r.styleRatio,
  ].join(',');
}

function parseCounts(args: ParsedArgs): number[] {
  if (args.flag('net-only')) {
    if (args.given.has('gatys-iters'))
      throw new UsageError('--net-only measures the net alone: give it or --gatys-iters, not both');
    return [];
  }
  const counts = args.list('gatys-iters').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1 || n > 100000)
      throw new UsageError(`--gatys-iters: '${s}' is not a whole number between 1 and 100000`);
    return n;
  });
  return [...new Set(counts)].sort((a, b) => a - b);
}

/**
 * The photos to evaluate (--limit of them) and the VGG file, checked against the outputs before any work: every
 * photo gets its own sheet, and no output lands inside --data or replaces an input.
 */
function checkEvalPaths(
  args: ParsedArgs,
  modelPath: string,
  stylePath: string,
  dataDir: string,
  outDir: string,
): { files: string[]; vggFilePath: string } {
  requireDirectory(dataDir, '--data');
  requireDirectory(outDir, 'output directory');
  let files = listImages(dataDir, (m) => process.stderr.write(`warning: ${m}\n`));
  if (files.length === 0)
    throw new CliError(`no images (JPEG, PNG, WebP, AVIF, HEIF, TIFF or GIF) found under ${dataDir}`);
  if (args.number('limit') !== undefined) files = files.slice(0, args.number('limit'));
  const names = new Map<string, string>();
  for (const f of files) {
    const name = basename(f, extname(f));
    if (names.has(name))
      throw new CliError(`photos ${names.get(name)} and ${f} would both be written as ${name}_eval.png`);
    names.set(name, f);
  }

  if (isInside(join(outDir, 'eval.csv'), dataDir)) {
    throw new CliError(
      `--out-dir ${outDir} is inside --data ${dataDir}: the contact sheets would join the photos; choose another --out-dir`,
    );
  }
  const vggFilePath = vggPath(args, 'eval');
  const inputs = new InputSet([modelPath, stylePath, vggFilePath, ...files]);
  for (const output of [
    join(outDir, 'eval.csv'),
    ...[...names.keys()].map((name) => join(outDir, `${name}_eval.png`)),
  ]) {
    inputs.refuse(output, 'choose another --out-dir');
  }
  return { files, vggFilePath };
}

/** NAME_eval.png: photo | net | the net's droplets | Gatys at each count | style, at the photo's height. */
async function writeSheet(
  path: string,
  photo: RgbaImage,
  results: readonly MethodResult[],
  styleImage: RgbaImage,
): Promise<void> {
  const images = results.map((r) => ({ width: photo.width, height: photo.height, data: r.rgba }));
  const droplets = dropletOverlay(images[0], measureDroplets(photo, images[0]).mask);
  const panels: RgbaImage[] = [
    photo,
    images[0],
    { ...droplets, data: new Uint8Array(droplets.data) },
    ...images.slice(1),
    styleImage,
  ];
  writeOutputFile(path, await encodeImage(await contactSheet(panels, photo.height), 'png'));
}

/** The summary on stdout: each method's mean losses, and where the net falls among Gatys's counts. */
function printSummary(all: MethodResult[], evaluated: number, skipped: readonly string[], csvPath: string): void {
  const summary = summarize(all);
  const means = [...summary.means].map(
    ([label, m]) =>
      `${label} ${m.total.toExponential(3)} (content ${m.content.toExponential(2)}, style ${m.style.toExponential(2)}, tv ${m.tv.toExponential(2)}, droplets ${percent(m.droplets)}, style/photo ${m.styleRatio.toFixed(3)})`,
  );
  process.stdout.write(
    `mean total loss over ${evaluated} photos${skipped.length ? ` (${skipped.length} skipped: ${skipped.join(', ')})` : ''}: ${means.join('; ')}\n`,
  );
  process.stdout.write(`${matchSentence(summary)} (${csvPath})\n`);
}

/**
 * A photo at `size` (long side), or null when it cannot be read or is too thin for the loss network: as
 * train does, one unreadable (or unusable) photo does not end a long run; it is reported and skipped.
 */
async function readPhoto(
  file: string,
  size: number,
  config: LossConfig,
  architecture: VggArchitecture,
): Promise<RgbaImage | null> {
  try {
    const photo = await resizeToEdge(await readImageFile(file, 'photo'), size);
    checkImageSide(photo, config, architecture, `photo ${file}`);
    return photo;
  } catch (e) {
    if (!(e instanceof CliError || e instanceof ImageFileError)) throw e;
    process.stderr.write(`warning: skipping ${e.message}\n`);
    return null;
  }
}

/** One method's losses on one photo, as logged. */
function resultLine(r: MethodResult): string {
  return `  ${methodLabel(r).padEnd(12)} content ${r.losses.content.toExponential(3)}  style ${r.losses.style.toExponential(3)}  tv ${r.losses.tv.toExponential(3)}  total ${r.losses.total.toExponential(3)}  droplets ${percent(r.droplets)}${r.droplets > 0 ? ` (${percent(r.whiteDroplets)} white)` : ''}  style/photo ${r.styleRatio.toFixed(3)}  (${r.seconds.toFixed(2)} s)`;
}

export const evalCommand: Command = {
  name: 'eval',
  summary: "Measure a trained net against Gatys's optimisation: losses per photo (CSV), contact sheets, summary.",
  usage: 'eval --model MODEL --style IMG --data DIR [options]',
  options: [
    {
      name: 'model',
      alias: 'm',
      type: 'string',
      valueName: 'MODEL',
      description: 'transform net (.safetensors) written by train',
    },
    {
      name: 'style',
      alias: 's',
      type: 'string',
      valueName: 'IMG',
      description: 'the style image the net was trained on',
    },
    {
      name: 'data',
      type: 'string',
      valueName: 'DIR',
      description: 'folder of photos, searched recursively for images (JPEG, PNG, WebP, AVIF, HEIF, TIFF, GIF)',
    },
    {
      name: 'gatys-iters',
      type: 'list',
      valueName: 'N1,N2,...',
      default: ['50', '100', '300'],
      description: 'Gatys iteration counts to measure (one run to the largest)',
    },
    {
      name: 'net-only',
      type: 'boolean',
      description: "the net's losses and droplets only, no Gatys optimisation (quick; for checkpoints during a run)",
    },
    {
      name: 'size',
      type: 'number',
      integer: true,
      min: 16,
      max: 4096,
      default: 256,
      description: 'long side the photos are resized to, pixels',
    },
    {
      name: 'style-size',
      type: 'number',
      integer: true,
      min: 16,
      max: 4096,
      description: "long side of the style image (default: the model's training setting, else --size)",
    },
    {
      name: 'limit',
      type: 'number',
      integer: true,
      min: 1,
      valueName: 'K',
      description: 'evaluate the first K photos only (sorted by path)',
    },
    {
      name: 'out-dir',
      alias: 'd',
      type: 'string',
      valueName: 'DIR',
      default: '.',
      description: 'where eval.csv and the contact sheets NAME_eval.png go',
    },
    ...lossWeightOptions,
    {
      name: 'optimizer',
      type: 'string',
      choices: ['lbfgs', 'adam'],
      default: 'lbfgs',
      description: "Gatys's optimiser",
    },
    {
      name: 'lr',
      type: 'number',
      min: 1e-9,
      max: 1e6,
      description: "Gatys's learning rate, 0..255 pixel units (default: 1 L-BFGS, 10 Adam)",
    },
    {
      name: 'init',
      type: 'string',
      choices: ['content', 'noise'],
      default: 'content',
      description: "Gatys's starting image",
    },
    {
      name: 'seed',
      type: 'number',
      integer: true,
      min: 0,
      max: 2 ** 31 - 1,
      default: 1,
      description: 'seed of the noise initialisation',
    },
    ...vggOptions,
    { name: 'quiet', type: 'boolean', description: 'print errors and the summary only' },
  ],
  details: [
    "Losses are the training loss's terms (content, style, TV and the weighted total; the model's training",
    'weights when it records them, else cw 1, sw 0.3, tvw 0), measured on the 8-bit images. eval.csv has one row',
    "per photo and method (net, and gatys at each count); NAME_eval.png shows photo | net | the net's droplets |",
    "Gatys at each count | style at the same height. The last line says where the net's mean total loss falls",
    "among Gatys's iteration counts (Johnson et al. report a trained net ≈ 50–100 L-BFGS iterations).",
    'style_ratio: the style loss over that of the unstylised photo (lower: further toward the style).',
    'Droplets: the share of pixels in solid blobs (≥ 5×5) of near-black output where the photo is not dark, or of',
    'near-white output where it is not bright: the failure of a net whose output saturates; the sheet paints black',
    'ones magenta and white ones cyan over the faded output.',
    'A photo that cannot be read (or is too thin for the loss network) is skipped with a warning.',
    '',
    'example:',
    '  fast-style-webgpu eval --model starry.safetensors --style starry_night.jpg --data kodak24/ --limit 4 --size 256',
  ].join('\n'),

  async run(args: ParsedArgs): Promise<number> {
    const modelPath = args.required('model', 'MODEL');
    const stylePath = args.required('style', 'IMG');
    const dataDir = args.required('data', 'DIR');
    const counts = parseCounts(args);
    const outDir = args.string('out-dir')!;
    const quiet = args.flag('quiet');
    const log = (line: string): void => {
      if (!quiet) process.stderr.write(line + '\n');
    };
    const { files, vggFilePath } = checkEvalPaths(args, modelPath, stylePath, dataDir, outDir);
    const modelBytes = readInputFile(modelPath, 'model');
    const vggFile = readVggFile(
      vggFilePath,
      args.string('vgg-arch') as VggArchitecture | 'auto',
      args.string('vgg-input') as VggInput | 'auto',
    );
    const styleImage = await readImageFile(stylePath, 'style image');
    const size = args.number('size')!;

    const engine = await createNodeEngine({ quietDawnStartup: true });
    try {
      if (engine.adapter.isFallbackAdapter)
        log(`warning: ${engine.describe()} is a software adapter; Gatys's optimisation will be slow`);
      const { net, metadata } = await loadCheckedNet(engine, modelBytes, modelPath);
      const training = metadata.training as { loss?: LossConfig; styleSize?: number } | undefined;
      const config = lossSettings(args, vggFile, training?.loss);
      const styleEdge = args.number('style-size') ?? training?.styleSize ?? size;
      checkStyleImage(styleImage, styleEdge, config, vggFile.architecture, stylePath);
      const { vgg, loss } = await buildStyleLoss(engine, vggFile, config, styleImage, styleEdge);
      log(
        `evaluating ${files.length} photos at ${size} px: ` +
          (counts.length
            ? `net vs Gatys (${args.string('optimizer')}) at ${counts.join(', ')} iterations; `
            : 'the net only (no Gatys); ') +
          `weights ${config.contentWeight}/${config.styleWeight}/${config.tvWeight}, on ${engine.describe()}`,
      );
      const csv = [CSV_HEADER];
      const all: MethodResult[] = [];
      const csvPath = join(outDir, 'eval.csv');
      const skipped: string[] = [];
      for (const [i, file] of files.entries()) {
        const name = basename(file, extname(file));
        const photo = await readPhoto(file, size, config, vggFile.architecture);
        if (!photo) {
          skipped.push(file);
          continue;
        }
        log(`[${i + 1}/${files.length}] ${file} (${photo.width}×${photo.height})`);
        const results = await evaluatePhoto(net, loss, photo, {
          gatysIterations: counts,
          gatys: {
            optimizer: args.string('optimizer') as GatysOptimizer,
            lr: args.number('lr'),
            init: args.string('init') as GatysInit,
            seed: args.number('seed'),
          },
          onProgress: quiet ? undefined : progressReporter(process.stderr.isTTY === true, (l) => log(`  ${l}`)),
        });
        await net.check();
        for (const r of results) {
          csv.push(csvRow(file, r));
          log(resultLine(r));
        }
        all.push(...results.map((r) => ({ ...r, rgba: new Uint8Array(0) })));
        const sheetPath = join(outDir, `${name}_eval.png`);
        await writeSheet(sheetPath, photo, results, styleImage);
        // The CSV so far, so that an interrupted run keeps its finished photos.
        writeOutputFile(csvPath, csv.join('\n') + '\n');
        log(`  wrote ${sheetPath}`);
      }
      if (all.length === 0)
        throw new CliError(`none of the ${files.length} photos under ${dataDir} could be evaluated`);
      const evaluated = files.length - skipped.length;
      printSummary(all, evaluated, skipped, csvPath);
      loss.dispose();
      vgg.dispose();
      net.dispose();
      return 0;
    } finally {
      engine.destroy();
    }
  },
};
