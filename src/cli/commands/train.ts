import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname } from 'node:path';
import { availableParallelism } from 'node:os';
import { createNodeEngine } from '../../engine/node.js';
import type { Engine } from '../../engine/engine.js';
import { Tensor } from '../../engine/tensor.js';
import { rgbaToTensor } from '../../ops/image.js';
import { defaultLossConfig, type LossConfig } from '../../models/losses.js';
import { CHECKPOINT_FORMAT, decodeMetadata, loadTransformNet, MODEL_FORMAT } from '../../models/model-file.js';
import { readSafetensors, ModelFileError } from '../../models/safetensors.js';
import { stylizeRgba } from '../../models/stylize.js';
import { NonFiniteLossError, Trainer, type TrainConfig } from '../../models/trainer.js';
import { Vgg, detectArchitecture, detectInput, vggLayers, type VggArchitecture, type VggInput } from '../../models/vgg.js';
import { UsageError, type Command, type ParsedArgs } from '../args.js';
import { DataLoader, listImages } from '../data-loader.js';
import { decodeImage, encodeImage, fitWithin, resizeRgba, writeFileAtomic, type RgbaImage } from '../image-io.js';
import { lossCurveSvg, type LossRecord } from '../loss-curve.js';
import { CliError } from '../errors.js';

/** Exit status after Ctrl-C (128 + SIGINT), as shells report it. */
const EXIT_INTERRUPTED = 130;
/** The --sample image is stylised at most this large (long side), to keep checkpoints quick. */
const SAMPLE_MAX_EDGE = 512;

export interface TrainOptions {
  style: string;
  data: string;
  vgg: string;
  out: string;
  size: number;
  batch: number;
  iters?: number;
  epochs?: number;
  lr: number;
  contentWeight?: number;
  styleWeight?: number;
  tvWeight?: number;
  styleSize: number;
  contentLayer?: string;
  styleLayers?: string[];
  width: number;
  checkpointEvery: number;
  resume: boolean;
  /** A model file (or checkpoint) whose weights the run starts from instead of random ones. */
  init?: string;
  sample?: string;
  seed: number;
  vggArch: VggArchitecture | 'auto';
  vggInput: VggInput | 'auto';
  /** Decoding threads; 0 decodes on the main thread. */
  workers: number;
  /** Precision of the checkpoint and model files written (default f32; f16 halves them, see Trainer.checkpoint). */
  saveDtype?: 'f32' | 'f16';
  /** Options given explicitly on the command line (a resumed run refuses to change them). */
  given?: ReadonlySet<string>;
  /** Where progress and warnings go (stderr). */
  log?(line: string): void;
  /** Progress line rewritten in place (a terminal), else printed every few steps. */
  interactive?: boolean;
}

/** Files written beside --out. */
export function trainPaths(out: string): { checkpoint: string; log: string; curve: string; sample: string } {
  const base = out.toLowerCase().endsWith('.safetensors') ? out.slice(0, -'.safetensors'.length) : out;
  return { checkpoint: `${base}.ckpt.safetensors`, log: `${base}.log.jsonl`, curve: `${base}.loss.svg`, sample: `${base}.sample.png` };
}

function readInput(path: string, what: string): Uint8Array {
  if (!existsSync(path)) throw new CliError(`cannot read ${what} ${path}: no such file`);
  if (statSync(path).isDirectory()) throw new CliError(`cannot read ${what} ${path}: it is a directory`);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new CliError(`cannot read ${what} ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function writeOut(path: string, bytes: Uint8Array | string): void {
  try {
    writeFileAtomic(path, typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
  } catch (e) {
    throw new CliError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e))}`);
  }
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** The loss settings: the VGG's defaults, overridden by the options given. */
function lossConfig(o: TrainOptions, architecture: VggArchitecture, input: VggInput): LossConfig {
  const d = defaultLossConfig(architecture, input);
  const config: LossConfig = {
    contentLayer: o.contentLayer ?? d.contentLayer,
    styleLayers: o.styleLayers ?? d.styleLayers,
    contentWeight: o.contentWeight ?? d.contentWeight,
    styleWeight: o.styleWeight ?? d.styleWeight,
    tvWeight: o.tvWeight ?? d.tvWeight,
  };
  const relus = vggLayers(architecture).filter((l) => l.kind === 'relu').map((l) => l.name);
  for (const layer of [config.contentLayer, ...config.styleLayers]) {
    if (!relus.includes(layer)) throw new UsageError(`unknown VGG layer '${layer}' (${architecture} layers: ${relus.join(', ')})`);
  }
  return config;
}

/** A resumed run keeps its settings: an option given that contradicts the checkpoint is a mistake. */
function checkResumeOptions(o: TrainOptions, c: TrainConfig): void {
  const given = o.given ?? new Set<string>();
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const checks: [string, unknown, unknown][] = [
    ['size', o.size, c.size],
    ['batch', o.batch, c.batch],
    ['lr', o.lr, c.lr],
    ['width', o.width, c.widthMultiplier],
    ['seed', o.seed, c.seed],
    ['style-size', o.styleSize, c.styleSize],
    ['content-weight', o.contentWeight, c.loss.contentWeight],
    ['style-weight', o.styleWeight, c.loss.styleWeight],
    ['tv-weight', o.tvWeight, c.loss.tvWeight],
    ['content-layer', o.contentLayer, c.loss.contentLayer],
    ['style-layers', o.styleLayers, c.loss.styleLayers],
  ];
  for (const [name, mine, theirs] of checks) {
    if (given.has(name) && !same(mine, theirs)) {
      throw new UsageError(`--${name} ${JSON.stringify(mine)} differs from the checkpoint's ${JSON.stringify(theirs)}: a resumed run keeps its settings (omit --${name})`);
    }
  }
}

function styleTensor(engine: Engine, img: RgbaImage, styleSize: number): Tensor {
  const fit = img.width >= img.height ? { width: styleSize, height: Math.max(1, Math.round((img.height * styleSize) / img.width)) } : { width: Math.max(1, Math.round((img.width * styleSize) / img.height)), height: styleSize };
  const resized = fit.width === img.width && fit.height === img.height ? img : resizeRgba(img, fit.width, fit.height);
  return rgbaToTensor(engine, resized.data, resized.width, resized.height);
}

function readLog(path: string, upToStep: number): LossRecord[] {
  if (!existsSync(path)) return [];
  const records: LossRecord[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as LossRecord;
      if (typeof r.step === 'number' && r.step <= upToStep) records.push(r);
    } catch {
      // A line cut short by a crash: dropped.
    }
  }
  return records;
}

/** Trains a transform net; returns the exit status (0 done, 130 interrupted with a checkpoint written). */
export async function runTrain(o: TrainOptions): Promise<number> {
  const log = o.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const paths = trainPaths(o.out);
  if (o.init !== undefined && o.resume) throw new UsageError('--init starts a new run from a model; --resume continues a run: give one of them');
  if (!existsSync(o.data) || !statSync(o.data).isDirectory()) throw new CliError(`--data ${o.data} is not a directory`);
  const files = listImages(o.data);
  if (files.length === 0) throw new CliError(`no JPEG or PNG images found under ${o.data}`);
  const outDir = dirname(o.out) || '.';
  if (!existsSync(outDir)) throw new CliError(`cannot write ${o.out}: directory ${outDir} does not exist`);
  if (!o.resume && existsSync(paths.checkpoint)) {
    throw new CliError(`${paths.checkpoint} exists: pass --resume to continue that run, or delete it to start over`);
  }
  if (o.resume && !existsSync(paths.checkpoint)) throw new CliError(`--resume: no checkpoint ${paths.checkpoint} to continue from`);
  const styleImage = decodeImage(readInput(o.style, 'style image'), o.style);
  const sampleImage = o.sample ? decodeImage(readInput(o.sample, 'sample image'), o.sample) : null;
  const vggFile = readSafetensors(readInput(o.vgg, 'VGG weights'), o.vgg);
  const architecture = o.vggArch === 'auto' ? detectArchitecture(vggFile.tensors) : o.vggArch;
  const input = o.vggInput === 'auto' ? detectInput(vggFile.metadata) : o.vggInput;
  const checkpointBytes = o.resume ? readInput(paths.checkpoint, 'checkpoint') : null;
  // The initial model is checked before any GPU work: its metadata gives the net's width and architecture.
  const initBytes = o.init !== undefined ? readInput(o.init, 'initial model') : null;
  const initMeta = initBytes ? decodeMetadata(readSafetensors(initBytes, o.init).metadata, o.init!, [MODEL_FORMAT, CHECKPOINT_FORMAT]) : null;
  if (initMeta && o.given?.has('width') && o.width !== initMeta.architecture.widthMultiplier) {
    throw new UsageError(`--width ${o.width} differs from the width ${initMeta.architecture.widthMultiplier} of --init ${o.init} (omit --width)`);
  }

  let config: TrainConfig;
  if (checkpointBytes) {
    const meta = readSafetensors(checkpointBytes, paths.checkpoint).metadata;
    let training: TrainConfig;
    try {
      training = JSON.parse(meta.training ?? 'null') as TrainConfig;
    } catch {
      throw new ModelFileError(`${paths.checkpoint}: checkpoint metadata "training" is not JSON`);
    }
    if (!training || typeof training !== 'object' || !training.loss) throw new ModelFileError(`${paths.checkpoint}: not a training checkpoint`);
    checkResumeOptions(o, training);
    config = training;
  } else {
    config = {
      size: o.size,
      batch: o.batch,
      lr: o.lr,
      widthMultiplier: initMeta ? initMeta.architecture.widthMultiplier : o.width,
      seed: o.seed,
      ...(initMeta ? { init: { source: o.init!, architecture: initMeta.architecture.name } } : {}),
      loss: lossConfig(o, architecture, input),
      vgg: { architecture, input },
      styleSize: o.styleSize,
      styleName: basename(o.style, extname(o.style)),
    };
  }
  const engine = await createNodeEngine();
  let loader: DataLoader | null = null;
  let trainer: Trainer | null = null;
  let vgg: Vgg | null = null;
  let onSigint: (() => void) | null = null;
  try {
    if (engine.adapter.isFallbackAdapter) log(`warning: ${engine.describe()} is a software adapter; training will be slow`);
    vgg = Vgg.fromTensors(engine, vggFile.tensors, {
      architecture: config.vgg.architecture,
      input: config.vgg.input,
      layers: [config.loss.contentLayer, ...config.loss.styleLayers],
      source: o.vgg,
    });
    const style = engine.keep(styleTensor(engine, styleImage, config.styleSize ?? o.styleSize));
    try {
      if (checkpointBytes) {
        trainer = Trainer.resume(engine, checkpointBytes, { vgg, styleImage: style }, paths.checkpoint);
      } else {
        const initial = initBytes ? (await loadTransformNet(engine, initBytes, o.init!)).net : undefined;
        if (initial) log(`starting from the weights of ${o.init} (${initial.config.architecture}, width ${initial.width})`);
        trainer = Trainer.create(engine, config, { vgg, styleImage: style }, initial);
      }
    } finally {
      style.dispose();
    }
    const total = o.iters ?? Math.max(1, Math.ceil(((o.epochs ?? 2) * files.length) / config.batch));
    if (trainer.stepCount >= total) {
      log(`the checkpoint is at step ${trainer.stepCount}, already ≥ ${total}: nothing to do (raise --iters)`);
    }
    const records = checkpointBytes ? readLog(paths.log, trainer.stepCount) : [];
    writeFileSync(paths.log, records.map((r) => JSON.stringify(r) + '\n').join(''));

    loader = new DataLoader(files, {
      size: config.size,
      batch: config.batch,
      seed: config.seed,
      start: trainer.samplesSeen,
      workers: o.workers,
      onWarning: (m) => log(`warning: ${m}`),
    });
    log(
      `training ${config.styleName ?? 'style'}: ${files.length} images, ${config.size}² crops, batch ${config.batch}, ` +
        `steps ${trainer.stepCount + 1}..${total}, ${config.vgg.architecture} (${config.vgg.input}) layers ` +
        `content ${config.loss.contentLayer} style ${config.loss.styleLayers.join(',')}, weights ${config.loss.contentWeight}/` +
        `${config.loss.styleWeight}/${config.loss.tvWeight}, ${loader.threadCount || 'no'} decoding threads, on ${engine.describe()}`,
    );

    let interrupted = false;
    onSigint = () => {
      if (interrupted) process.exit(EXIT_INTERRUPTED);
      interrupted = true;
      log('\ninterrupted: finishing this step and writing a checkpoint (Ctrl-C again to quit at once)');
    };
    process.on('SIGINT', onSigint);

    const t = trainer;
    const dtype = o.saveDtype === 'f16' ? 'F16' : 'F32';
    const writeCheckpoint = async (): Promise<void> => {
      writeOut(paths.checkpoint, await t.checkpoint({ dtype }));
      writeOut(paths.curve, lossCurveSvg(records, `${config.styleName ?? 'style'}: losses (log scale)`));
      if (sampleImage) {
        const fit = fitWithin(sampleImage.width, sampleImage.height, SAMPLE_MAX_EDGE);
        const img = fit.width === sampleImage.width && fit.height === sampleImage.height ? sampleImage : resizeRgba(sampleImage, fit.width, fit.height);
        const styled = await stylizeRgba(t.net, img);
        writeOut(paths.sample, encodeImage(styled, 'png'));
      }
    };

    const batch = engine.keep(Tensor.empty(engine, [config.batch, 3, config.size, config.size], 'batch'));
    try {
      const started = performance.now();
      const firstStep = t.stepCount;
      let rate = 0;
      let last = started;
      while (t.stepCount < total && !interrupted) {
        const crops = await loader.next();
        crops.forEach((px, i) => rgbaToTensor(engine, px, config.size, config.size, {}, { tensor: batch, index: i }));
        let losses;
        try {
          losses = await t.step(batch);
        } catch (e) {
          if (e instanceof NonFiniteLossError) {
            throw new CliError(`${e.message}; stopped, the last good checkpoint (${existsSync(paths.checkpoint) ? paths.checkpoint : 'none yet'}) is kept`);
          }
          throw e;
        }
        const now = performance.now();
        const dt = (now - last) / 1000;
        last = now;
        // Rate over recent steps (the first ones include kernel compilation).
        rate = rate === 0 ? 1 / dt : 0.9 * rate + 0.1 / dt;
        const record: LossRecord = { step: t.stepCount, ...losses };
        records.push(record);
        appendFileSync(paths.log, JSON.stringify({ ...record, seconds: +((now - started) / 1000).toFixed(3) }) + '\n');
        const done = t.stepCount;
        const line =
          `step ${done}/${total}  ${rate.toFixed(2)} it/s  ETA ${formatDuration((total - done) / rate)}  ` +
          `content ${losses.content.toExponential(3)}  style ${losses.style.toExponential(3)}  tv ${losses.tv.toExponential(3)}`;
        if (o.interactive) process.stderr.write(`\r${line}\x1b[K`);
        else if (done === firstStep + 1 || done % 10 === 0 || done === total) log(line);
        if (done % o.checkpointEvery === 0 && done < total) {
          await writeCheckpoint();
          if (o.interactive) process.stderr.write('\n');
          log(`checkpoint at step ${done}: ${paths.checkpoint}`);
          last = performance.now();
        }
      }
      if (o.interactive) process.stderr.write('\n');
      await writeCheckpoint();
      if (interrupted) {
        log(`checkpoint at step ${t.stepCount}: ${paths.checkpoint} (continue with --resume)`);
        return EXIT_INTERRUPTED;
      }
      writeOut(o.out, await t.saveModel({ dtype }));
      log(`wrote ${o.out} (step ${t.stepCount}); checkpoint ${paths.checkpoint}, losses ${paths.log}, curve ${paths.curve}${sampleImage ? `, sample ${paths.sample}` : ''}`);
      return 0;
    } finally {
      batch.dispose();
    }
  } finally {
    if (onSigint) process.off('SIGINT', onSigint);
    loader?.close();
    trainer?.dispose();
    vgg?.dispose();
    engine.destroy();
  }
}

function optionalNumber(args: ParsedArgs, name: string): number | undefined {
  return args.given.has(name) ? args.number(name) : undefined;
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'Train a transform net for a style (Johnson et al. perceptual losses on a VGG).',
  usage: 'train --style IMG --data DIR --vgg FILE --out MODEL [options]',
  options: [
    { name: 'style', type: 'string', valueName: 'IMG', description: 'style image (JPEG or PNG)' },
    { name: 'data', type: 'string', valueName: 'DIR', description: 'folder of training photos, searched recursively for JPEG/PNG' },
    { name: 'vgg', type: 'string', valueName: 'FILE', description: 'VGG16/VGG19 weights (safetensors, torchvision names features.N.weight)' },
    { name: 'out', alias: 'o', type: 'string', valueName: 'MODEL', description: 'model file to write (.safetensors); checkpoint, log, curve and sample go beside it' },
    { name: 'size', type: 'number', integer: true, min: 8, max: 2048, default: 256, description: 'side of the square training crops' },
    { name: 'batch', type: 'number', integer: true, min: 1, max: 256, default: 4, description: 'images per step' },
    { name: 'iters', type: 'number', integer: true, min: 1, description: 'total optimiser steps (instead of --epochs)' },
    { name: 'epochs', type: 'number', min: 0.001, description: 'passes over the data (default 2 when --iters is not given)' },
    { name: 'lr', type: 'number', min: 1e-12, max: 10, default: 1e-3, description: 'Adam learning rate' },
    { name: 'content-weight', type: 'number', min: 0, description: 'content loss weight (default: 1 for caffe-input VGGs, 1e5 torchvision)' },
    { name: 'style-weight', type: 'number', min: 0, description: 'style loss weight (default: 0.1 caffe, 1e10 torchvision; calibrate per style)' },
    { name: 'tv-weight', type: 'number', min: 0, description: 'total-variation weight (default 1)' },
    { name: 'style-size', type: 'number', integer: true, min: 16, max: 4096, default: 256, description: 'long side of the style image, pixels' },
    { name: 'content-layer', type: 'string', valueName: 'LAYER', description: 'VGG layer of the content loss (default relu2_2)' },
    { name: 'style-layers', type: 'list', valueName: 'L1,L2,...', description: 'VGG layers of the style loss (default: relu1_2,relu2_2,relu3_4 on VGG19; relu1_2,relu2_2,relu3_3,relu4_3 on VGG16)' },
    { name: 'width', type: 'number', min: 0.01, max: 4, default: 1, description: 'channel width multiplier of the net (1 = 32/64/128 channels)' },
    { name: 'checkpoint-every', type: 'number', integer: true, min: 1, default: 200, description: 'steps between checkpoints (and loss-curve / sample updates)' },
    { name: 'resume', type: 'boolean', description: 'continue the run from the checkpoint beside --out, exactly' },
    { name: 'init', type: 'string', valueName: 'MODEL', description: "start from this model's weights (either architecture, e.g. an imported ml5 net) instead of random ones" },
    { name: 'sample', type: 'string', valueName: 'IMG', description: 'photo stylised at each checkpoint (written beside it)' },
    { name: 'seed', type: 'number', integer: true, min: 0, max: 2 ** 31 - 1, default: 1, description: 'seed of the initial weights and the data order' },
    { name: 'vgg-arch', type: 'string', choices: ['auto', 'vgg16', 'vgg19'], default: 'auto', description: 'VGG architecture of --vgg (auto: from its layers)' },
    { name: 'vgg-input', type: 'string', choices: ['auto', 'caffe', 'torchvision'], default: 'auto', description: "input convention of --vgg: caffe (0..255 minus mean) or torchvision (/255, mean/std); auto: from the file's metadata" },
    { name: 'workers', type: 'number', integer: true, min: 0, max: 64, description: 'image decoding threads (default: cores − 1, at least 1)' },
    { name: 'save-dtype', type: 'string', choices: ['f32', 'f16'], default: 'f32', description: 'precision of the checkpoint and model written: f16 halves them (checkpoint 10 MB instead of 20 at width 1); a resume from an f16 checkpoint is close, not bit-exact' },
  ],
  details: [
    'Files beside MODEL (for MODEL = NAME.safetensors): NAME.ckpt.safetensors (checkpoint: weights, Adam state,',
    'step and data position), NAME.log.jsonl (losses per step), NAME.loss.svg (loss curve), NAME.sample.png.',
    'Ctrl-C writes a checkpoint and exits with status 130; --resume continues the run exactly.',
    '',
    'example:',
    '  fast-style-webgpu train --style starry_night.jpg --data photos/ --vgg vgg19.safetensors \\',
    '    --out starry.safetensors --size 128 --iters 1000 --style-weight 0.1 --sample photo.jpg',
  ].join('\n'),
  async run(args: ParsedArgs): Promise<number> {
    const required = (name: string): string => {
      const v = args.string(name);
      if (v === undefined) throw new UsageError(`missing --${name} for 'train' (see train --help)`);
      return v;
    };
    if (args.given.has('iters') && args.given.has('epochs')) throw new UsageError('give either --iters or --epochs, not both');
    return runTrain({
      style: required('style'),
      data: required('data'),
      vgg: required('vgg'),
      out: required('out'),
      size: args.number('size')!,
      batch: args.number('batch')!,
      iters: optionalNumber(args, 'iters'),
      epochs: optionalNumber(args, 'epochs'),
      lr: args.number('lr')!,
      contentWeight: optionalNumber(args, 'content-weight'),
      styleWeight: optionalNumber(args, 'style-weight'),
      tvWeight: optionalNumber(args, 'tv-weight'),
      styleSize: args.number('style-size')!,
      contentLayer: args.string('content-layer'),
      styleLayers: args.given.has('style-layers') ? args.list('style-layers') : undefined,
      width: args.number('width')!,
      checkpointEvery: args.number('checkpoint-every')!,
      resume: args.flag('resume'),
      init: args.string('init'),
      sample: args.string('sample'),
      seed: args.number('seed')!,
      vggArch: args.string('vgg-arch') as VggArchitecture | 'auto',
      vggInput: args.string('vgg-input') as VggInput | 'auto',
      workers: args.given.has('workers') ? args.number('workers')! : Math.max(1, availableParallelism() - 1),
      saveDtype: args.string('save-dtype') as 'f32' | 'f16',
      given: args.given,
      interactive: process.stderr.isTTY === true,
    });
  },
};

