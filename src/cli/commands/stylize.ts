import { existsSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { createNodeEngine } from '../../engine/node.js';
import { stylizeRgba, type StylizeMode } from '../../models/stylize.js';
import { UsageError, type Command, type ParsedArgs } from '../args.js';
import { CliError } from '../errors.js';
import {
  checkInputFile,
  InputSet,
  MAX_INPUT_BYTES,
  readInputFile,
  requireDirectory,
  requireOutputDirectory,
  writeOutputFile,
} from '../files.js';
import {
  decodeImageFile,
  encodeImage,
  EXTENSION,
  FORMATS_WITHOUT_ALPHA,
  IMAGE_FORMATS,
  ImageFileError,
  formatFromPath,
  type ImageFormat,
} from '../../node/image-io.js';
import { loadCheckedNet, type CheckedNet } from '../finite.js';
import { resolveStyle, styleDirs, styleListing, StyleNotFoundError } from '../package-files.js';

/** What the CLI says when an image does not run in one pass. */
const MODE_NOTE: Record<StylizeMode, string> = {
  'one-pass': 'in one pass',
  banded: 'exceeds one GPU pass: running layer by layer in row bands (exact whole-image result)',
  tiled: 'in overlapping tiles (--tile: each tile normalised on its own, tones may shift between tiles)',
};

interface Job {
  input: string;
  output: string;
  format: ImageFormat;
}

/** Which model file to load (--model or --style) and the style name used in output file names. */
export function chooseModel(args: ParsedArgs, command = 'stylize'): { path: string; styleName: string } {
  const model = args.string('model');
  const style = args.string('style');
  if (model !== undefined && style !== undefined) throw new UsageError('give either --model or --style, not both');
  if (model !== undefined) return { path: model, styleName: basename(model, extname(model)) };
  if (style !== undefined) {
    try {
      return { path: resolveStyle(style), styleName: style };
    } catch (e) {
      if (e instanceof StyleNotFoundError) throw new UsageError(e.message);
      throw e;
    }
  }
  throw new UsageError(`missing --model PATH (or --style NAME) for '${command}'`);
}

/** Plans every output before any work, so that naming mistakes fail fast and nothing is half done. */
function planJobs(args: ParsedArgs, styleName: string, modelPath: string): Job[] {
  const inputs = args.positionals;
  const output = args.string('output');
  const outDir = args.string('out-dir');
  const format = args.string('format') as ImageFormat | undefined;
  if (output !== undefined && outDir !== undefined) throw new UsageError('give either --output or --out-dir, not both');
  if (output !== undefined && inputs.length > 1)
    throw new UsageError(`--output names one file but ${inputs.length} inputs were given; use --out-dir`);

  const jobs: Job[] = [];
  if (output !== undefined) {
    const fromName = formatFromPath(output);
    if (fromName === null && format === undefined) {
      throw new UsageError(
        `cannot tell the image format of ${output}: name it .png, .jpg, .jpeg, .webp or .avif, or pass --format`,
      );
    }
    if (fromName !== null && format !== undefined && fromName !== format) {
      throw new UsageError(`--format ${format} contradicts the output name ${output}`);
    }
    requireOutputDirectory(output);
    jobs.push({ input: inputs[0], output, format: format ?? fromName! });
  } else {
    const dir = outDir ?? '.';
    requireDirectory(dir, 'output directory');
    for (const input of inputs) {
      const f = format ?? formatFromPath(input) ?? 'png';
      jobs.push({
        input,
        output: join(dir, `${basename(input, extname(input))}_${styleName}${EXTENSION[f]}`),
        format: f,
      });
    }
  }

  const inputFiles = new InputSet([...inputs, modelPath]);
  // A missing or unreadable input is reported when its turn comes, like a corrupt one: the others still run.
  for (const job of jobs) {
    inputFiles.refuse(job.output, 'choose another --output or --out-dir');
    if (existsSync(job.output) && statSync(job.output).isDirectory())
      throw new CliError(`output ${job.output} is a directory`);
  }
  if (args.given.has('quality') && jobs.every((j) => j.format === 'png'))
    throw new UsageError('--quality applies to JPEG, WebP and AVIF output only (PNG is lossless)');
  const seen = new Map<string, string>();
  for (const job of jobs) {
    const key = resolve(job.output);
    const other = seen.get(key);
    if (other !== undefined)
      throw new CliError(`inputs ${other} and ${job.input} would both be written to ${job.output}`);
    seen.set(key, job.input);
  }
  return jobs;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/**
 * When no input can be read at all, says so before any work (the model is not read, the GPU not started):
 * true after printing the errors.
 */
function noInputReadable(jobs: readonly Job[]): boolean {
  const problems = jobs.map((job) => {
    try {
      checkInputFile(job.input, 'image', MAX_INPUT_BYTES.image);
      return null;
    } catch (e) {
      return e instanceof CliError ? e.message : String(e);
    }
  });
  if (!problems.every((p) => p !== null)) return false;
  for (const p of problems) process.stderr.write(`error: ${p}\n`);
  if (jobs.length > 1)
    process.stderr.write(
      `error: ${jobs.length} of ${jobs.length} images failed: ${jobs.map((j) => j.input).join(', ')}\n`,
    );
  return true;
}

/** One image read, stylised, encoded and written, reporting as it goes (errors are the caller's to report). */
async function stylizeJob(
  net: CheckedNet,
  job: Job,
  prefix: string,
  args: ParsedArgs,
  log: (line: string) => void,
): Promise<void> {
  const quiet = args.flag('quiet');
  const tty = process.stderr.isTTY && !quiet;
  const started = performance.now();
  const inputBytes = readInputFile(job.input, 'image', MAX_INPUT_BYTES.image);
  const img = await decodeImageFile(inputBytes, job.input, { maxEdge: args.number('max-size') });
  for (const note of img.source.notes) log(`${prefix}: ${note}`);
  if (img.source.hasAlpha && FORMATS_WITHOUT_ALPHA.has(job.format)) {
    log(
      `${prefix}: JPEG has no alpha channel: translucent pixels are composited on white (write .png, .webp or .avif to keep it)`,
    );
  }
  if (tty) process.stderr.write(`\r\x1b[K${prefix}: stylising ${img.width}×${img.height}…`);
  let mode: StylizeMode = 'one-pass';
  const out = await stylizeRgba(net, img, {
    tile: args.number('tile'),
    memoryBytes: args.given.has('memory') ? args.number('memory')! * 1024 * 1024 : undefined,
    onMode: (m) => {
      mode = m;
      if (m !== 'one-pass' && !quiet) log(`${prefix}: ${img.width}×${img.height} ${MODE_NOTE[m]}`);
    },
    preserveColors: args.flag('preserve-colors'),
    strength: args.number('strength'),
    onProgress: tty
      ? (done, total) =>
          total > 1 &&
          process.stderr.write(
            `\r\x1b[K${prefix}: ${img.width}×${img.height}, ${mode === 'banded' ? 'layer' : 'tile'} ${done}/${total} done`,
          )
      : undefined,
  });
  await net.check();
  const bytes = await encodeImage(out, job.format, {
    quality: args.number('quality'),
    metadataFrom: args.flag('keep-metadata') ? inputBytes : undefined,
  });
  writeOutputFile(job.output, bytes);
  if (tty) process.stderr.write('\r\x1b[K');
  log(`${prefix} → ${job.output} (${out.width}×${out.height}, ${out.mode}, ${seconds(performance.now() - started)})`);
}

export const stylizeCommand: Command = {
  name: 'stylize',
  summary: 'Stylise photos with a trained transform net (one GPU pass per image; exact row bands when large).',
  usage: 'stylize (--model MODEL | --style NAME) INPUT... [-o OUT | --out-dir DIR] [options]',
  options: [
    {
      name: 'model',
      alias: 'm',
      type: 'string',
      valueName: 'PATH',
      description: 'model file (.safetensors) written by train',
    },
    {
      name: 'style',
      alias: 's',
      type: 'string',
      valueName: 'NAME',
      description: 'a style in the package models/ folder, or imported into .models-ml5/ (see --list-styles)',
    },
    {
      name: 'output',
      alias: 'o',
      type: 'string',
      valueName: 'PATH',
      description:
        "output file (one input only); format from its extension; '-' writes to standard output (give --format)",
    },
    {
      name: 'out-dir',
      alias: 'd',
      type: 'string',
      valueName: 'DIR',
      description: 'output directory: writes INPUTNAME_STYLE.png|jpg (default: current directory)',
    },
    {
      name: 'format',
      type: 'string',
      choices: [...IMAGE_FORMATS],
      description: "output format (default: from --output, else the input's format when it is one of these, else png)",
    },
    {
      name: 'quality',
      alias: 'q',
      type: 'number',
      integer: true,
      min: 1,
      max: 100,
      valueName: 'Q',
      description: 'JPEG, WebP or AVIF quality (default 92, 90, 70)',
    },
    {
      name: 'keep-metadata',
      type: 'boolean',
      description:
        "carry the photo's EXIF and XMP metadata (camera, date, place) over to the output (default: none; the output is tagged sRGB)",
    },
    {
      name: 'max-size',
      type: 'number',
      integer: true,
      min: 16,
      max: 65536,
      valueName: 'N',
      description: 'shrink images whose longer side exceeds N pixels first',
    },
    {
      name: 'memory',
      type: 'number',
      min: 1,
      max: 1048576,
      valueName: 'MB',
      description:
        "GPU memory budget per image in MiB: larger images run in exact row bands that fit it (default: the adapter's buffer binding limit)",
    },
    {
      name: 'tile',
      type: 'number',
      integer: true,
      min: 64,
      max: 4096,
      valueName: 'N',
      description:
        'approximate mode: overlapping tiles of at most N pixels, each normalised on its own (tones may shift between tiles; default: off, exact bands)',
    },
    {
      name: 'preserve-colors',
      type: 'boolean',
      description: "keep the photo's colours: the stylised luminance with the photo's chroma (YCbCr)",
    },
    {
      name: 'strength',
      type: 'number',
      min: 0,
      max: 1,
      default: 1,
      valueName: 'S',
      description: 'blend with the photo: S·stylised + (1 − S)·photo (0 = the photo unchanged)',
    },
    {
      name: 'list-styles',
      type: 'boolean',
      description: 'list the shipped and imported styles (with their folders) and exit',
    },
    { name: 'quiet', type: 'boolean', description: 'print errors only' },
  ],
  positionals: { name: 'INPUT', min: 0, max: Infinity },
  details: [
    'Inputs: PNG, JPEG, WebP, AVIF, HEIF, TIFF or GIF (the first frame), read by libvips: turned upright by',
    'their EXIF orientation, colour profiles (Display P3, CMYK) converted to sRGB, 16-bit samples to 8.',
    'Outputs: PNG, JPEG, WebP or AVIF by the output name or --format, tagged sRGB. An image too large for one',
    'GPU pass (or for --memory) runs layer by layer in row bands with whole-image instance-norm statistics:',
    "the same result as one pass, at any size. The output has the input's size (or --max-size, shrunk with",
    'Lanczos-3) and keeps its alpha channel (PNG, WebP, AVIF). An input is never overwritten, and a failed',
    'image leaves no output file; the other inputs are still processed. An output that is a symlink is',
    'followed; a device or FIFO (-o /dev/stdout) is written through. JPEG output has no alpha: translucent',
    'pixels are composited on white, and the command says so. See docs/CLI-PROMISES.md.',
    '',
    'examples:',
    '  fast-style-webgpu stylize --model starry.safetensors photo.jpg -o photo_starry.jpg',
    '  fast-style-webgpu stylize --style starry_night --out-dir out/ --max-size 1024 photos/*.jpg',
    '  fast-style-webgpu stylize --model starry.safetensors --preserve-colors --strength 0.7 photo.jpg -o soft.jpg',
  ].join('\n'),

  async run(args) {
    if (args.flag('list-styles')) {
      const rows = styleListing();
      console.log(rows.length ? rows.join('\n') : `(no styles are installed in ${styleDirs().join(' or ')})`);
      return 0;
    }
    if (args.positionals.length === 0) throw new UsageError("missing INPUT for 'stylize'");
    const model = chooseModel(args);
    const jobs = planJobs(args, model.styleName, model.path);
    const quiet = args.flag('quiet');
    if (noInputReadable(jobs)) return 1;
    const modelBytes = readInputFile(model.path, 'model');
    const log = (line: string): void => {
      if (!quiet) process.stderr.write(line + '\n');
    };
    const tty = process.stderr.isTTY && !quiet;

    const engine = await createNodeEngine({ quietDawnStartup: true });
    try {
      if (engine.adapter.isFallbackAdapter)
        log(`warning: ${engine.describe()} is a software adapter; stylising will be slow`);
      const net = (await loadCheckedNet(engine, modelBytes, model.path)).net;
      const failures: string[] = [];
      for (const [i, job] of jobs.entries()) {
        const prefix = `[${i + 1}/${jobs.length}] ${job.input}`;
        try {
          await stylizeJob(net, job, prefix, args, log);
        } catch (e) {
          if (tty) process.stderr.write('\r\x1b[K');
          const message = e instanceof Error ? e.message : String(e);
          // Our file errors name their file; anything else (a GPU error) gets the image it happened on.
          const named = e instanceof CliError || e instanceof ImageFileError;
          process.stderr.write(`error: ${named ? message : `${job.input}: ${message}`}\n`);
          failures.push(job.input);
        }
      }
      net.dispose();
      if (failures.length > 0) {
        if (jobs.length > 1)
          process.stderr.write(`error: ${failures.length} of ${jobs.length} images failed: ${failures.join(', ')}\n`);
        return 1;
      }
      return 0;
    } finally {
      engine.destroy();
    }
  },
};
