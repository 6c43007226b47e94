import { existsSync } from 'node:fs';
import { basename, dirname, extname, relative } from 'node:path';
import { createNodeEngine } from '../../engine/node.js';
import type { Engine } from '../../engine/engine.js';
import { Tensor } from '../../engine/tensor.js';
import { rgbaToTensor } from '../../ops/image.js';
import { defaultLossConfig } from '../../models/losses.js';
import {
  decodeCheckpoint,
  encodeCheckpoint,
  type TrainConfig,
  type TrainingSession,
  type TrainingState,
  type TrainProvenance,
} from '../../models/checkpoint.js';
import {
  CHECKPOINT_FORMAT,
  decodeMetadata,
  loadTransformNet,
  MODEL_FORMAT,
  type ModelMetadata,
} from '../../models/model-file.js';
import { readSafetensors } from '../../models/safetensors.js';
import { stylizeRgba } from '../../models/stylize.js';
import { NonFiniteLossError, Trainer } from '../../models/trainer.js';
import type { Vgg } from '../../models/vgg.js';
import { UsageError, type Command, type ParsedArgs } from '../args.js';
import { DataLoader, listImages } from '../../node/data-loader.js';
import {
  InputSet,
  isInside,
  readInputFile,
  removeStaleTemporaries,
  requireDirectory,
  requireOutputDirectory,
  writeOutputFile,
} from '../files.js';
import { decodeImage, encodeImage, fitImage } from '../../node/image-io.js';
import type { RgbaImage } from '../../models/rgba-image.js';
import { lossCurveSvg } from '../../models/loss-curve.js';
import {
  buildVgg,
  checkStyleImage,
  imageTensor,
  readVggFile,
  resolveLossConfig,
  type VggFile,
} from '../loss-network.js';
import { formatDuration } from '../progress.js';
import { STABILITY_PERTURBATION } from '../../models/stability.js';
import { CliError } from '../errors.js';
import { packageVersion } from '../package-files.js';
import { assertFiniteTrainingState, assertFiniteWeights } from '../finite.js';
import { releaseRunLock, runLockPath, takeRunLock } from '../run-lock.js';
import {
  checkResumeInputs,
  initLineage,
  LossLog,
  MODEL_EXTENSION,
  readLog,
  sessionsFromLog,
  trainPaths,
  trainProvenance,
} from '../train-run-record.js';
import { checkResumeOptions, readTrainArgs, trainOptionSpecs, type TrainOptions } from './train-options.js';

/** Exit statuses after a signal (128 + its number), as shells report them; a checkpoint has been written. */
const EXIT_STATUS: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143 };
type StopSignal = 'SIGINT' | 'SIGTERM';
/** The --sample image is stylised at most this large (long side), to keep checkpoints quick. */
const SAMPLE_MAX_EDGE = 512;

/** Everything a run needs that can be checked and read before the GPU is touched. */
interface TrainPlan {
  paths: ReturnType<typeof trainPaths>;
  files: string[];
  config: TrainConfig;
  /** Steps to reach. */
  total: number;
  styleImage: RgbaImage;
  sampleImage: RgbaImage | null;
  vgg: VggFile;
  /** --resume: the checkpoint's state, its config carrying the input hashes from now on. */
  resumed: TrainingState | null;
  /** --init: the model's bytes and metadata (read and checked before any GPU work). */
  init: { path: string; bytes: Uint8Array; metadata: ModelMetadata } | null;
}

/**
 * Checks the command line against the file system and reads every input, before any GPU work: a run that
 * cannot go far fails here with nothing written. Null when a resumed run is already at --iters (nothing to
 * do, nothing written).
 */
async function planTrain(o: TrainOptions, log: (line: string) => void): Promise<TrainPlan | null> {
  const { paths, files } = checkTrainPaths(o, log);
  const styleBytes = readInputFile(o.style, 'style image');
  const styleImage = await decodeImage(styleBytes, o.style);
  const sampleImage = o.sample ? await decodeImage(readInputFile(o.sample, 'sample image'), o.sample) : null;
  const vgg = readVggFile(o.vgg, o.vggArch, o.vggInput);
  const provenance = trainProvenance(styleBytes, o.data, files, o.vgg);
  const resumed = o.resume ? decodeCheckpoint(readInputFile(paths.checkpoint, 'checkpoint'), paths.checkpoint) : null;
  const init = readInitModel(o);
  let config: TrainConfig;
  if (resumed) {
    checkResumeOptions(o, resumed.config);
    checkResumeInputs(o, resumed.config, provenance, paths.checkpoint, log);
    // An older checkpoint's config gains the hashes, so that its next checkpoint records them.
    if (resumed.config.styleSha256 === undefined || resumed.config.vggSha256 === undefined)
      resumed.config = { ...resumed.config, ...provenance };
    config = resumed.config;
  } else {
    config = newTrainConfig(o, vgg, provenance, init);
  }
  checkStyleImage(styleImage, config.styleSize ?? o.styleSize, config.loss, config.vgg.architecture, o.style);
  const total = o.iters ?? Math.max(1, Math.ceil(((o.epochs ?? 2) * files.length) / config.batch));
  const startStep = resumed?.step ?? 0;
  if (startStep >= total) {
    log(
      `the checkpoint ${paths.checkpoint} is at step ${startStep}, already ≥ ${total}: nothing to do, nothing written (raise --iters)`,
    );
    return null;
  }
  // The run's own loss network: a resumed run's architecture and input convention are the checkpoint's
  // (the Trainer refuses a VGG file that does not match them).
  return { paths, files, config, total, styleImage, sampleImage, vgg: { ...vgg, ...config.vgg }, resumed, init };
}

/**
 * The command line's paths checked against the file system (no output replaces an input, nothing written
 * inside --data, a checkpoint present exactly when resuming), the run lock taken and the photos listed.
 */
function checkTrainPaths(
  o: TrainOptions,
  log: (line: string) => void,
): { paths: ReturnType<typeof trainPaths>; files: string[] } {
  if (!o.out.toLowerCase().endsWith(MODEL_EXTENSION)) {
    throw new UsageError(
      `--out ${o.out}: the model file's name must end in ${MODEL_EXTENSION} (its checkpoint, log, curve and sample are named after it)`,
    );
  }
  const paths = trainPaths(o.out);
  if (o.init !== undefined && o.resume)
    throw new UsageError('--init starts a new run from a model; --resume continues a run: give one of them');
  requireDirectory(o.data, '--data');
  const files = listImages(o.data, (m) => log(`warning: ${m}`));
  if (files.length === 0)
    throw new CliError(`no images (JPEG, PNG, WebP, AVIF, HEIF, TIFF or GIF) found under ${o.data}`);
  requireOutputDirectory(o.out);
  if (isInside(o.out, o.data)) {
    throw new CliError(
      `--out ${o.out} is inside --data ${o.data}: the files written beside it would join the training data; choose a folder outside it`,
    );
  }
  const inputs = new InputSet([o.style, o.vgg, ...(o.sample ? [o.sample] : []), ...(o.init ? [o.init] : []), ...files]);
  for (const output of [o.out, paths.checkpoint, paths.log, paths.curve, ...(o.sample ? [paths.sample] : [])]) {
    inputs.refuse(output, 'choose another --out');
  }
  // Before anything is read or written: one run per --out at a time (run-lock.ts), and the temporary files
  // a run killed mid-write left beside it are removed.
  takeRunLock(o.out, log, o.command);
  removeStaleTemporaries(dirname(o.out));
  if (!o.resume && existsSync(paths.checkpoint)) {
    throw new CliError(`${paths.checkpoint} exists: pass --resume to continue that run, or delete it to start over`);
  }
  if (o.resume && !existsSync(paths.checkpoint))
    throw new CliError(`--resume: no checkpoint ${paths.checkpoint} to continue from`);
  return { paths, files };
}

/**
 * --init: the model's bytes and metadata, checked before any GPU work (its metadata gives the net's width
 * and architecture); null without --init.
 */
function readInitModel(o: TrainOptions): TrainPlan['init'] {
  if (o.init === undefined) return null;
  const bytes = readInputFile(o.init, 'initial model');
  const metadata = decodeMetadata(readSafetensors(bytes, o.init).metadata, o.init, [MODEL_FORMAT, CHECKPOINT_FORMAT]);
  // NaN weights would train on silently (the output's tanh clamps them, the losses stay finite).
  assertFiniteWeights(bytes, o.init, 'a run cannot start from it');
  if (o.given?.has('width') && o.width !== metadata.architecture.widthMultiplier) {
    throw new UsageError(
      `--width ${o.width} differs from the width ${metadata.architecture.widthMultiplier} of --init ${o.init} (omit --width)`,
    );
  }
  return { path: o.init, bytes, metadata };
}

/** A new run's config from the options, the loss network, the input hashes and the model it starts from. */
function newTrainConfig(
  o: TrainOptions,
  vgg: VggFile,
  provenance: TrainProvenance,
  init: TrainPlan['init'],
): TrainConfig {
  return {
    size: o.size,
    batch: o.batch,
    lr: o.lr,
    widthMultiplier: init ? init.metadata.architecture.widthMultiplier : o.width,
    seed: o.seed,
    cropScale: o.cropScale,
    ...(o.warmup > 0 ? { warmupSteps: o.warmup } : {}),
    ...(o.stabilityWeight > 0 ? { stability: { weight: o.stabilityWeight, ...STABILITY_PERTURBATION } } : {}),
    ...(init ? { init: initLineage(init) } : {}),
    loss: resolveLossConfig(defaultLossConfig(vgg.architecture, vgg.input), o, vgg.architecture),
    vgg: { architecture: vgg.architecture, input: vgg.input },
    styleSize: o.styleSize,
    styleName: basename(o.style, extname(o.style)),
    ...provenance,
  };
}

/** A run in progress: the plan, the GPU objects, the loss log and how to write a checkpoint. */
interface TrainRun {
  plan: TrainPlan;
  engine: Engine;
  trainer: Trainer;
  loader: DataLoader;
  losses: LossLog;
  dtype: 'F32' | 'F16';
  /** Set by SIGINT/SIGTERM: the loop stops after the step in flight. */
  stop: { signal: StopSignal | null };
  /** The model file (--out). */
  outPath: string;
  /** This session's entry in trainer.history, updated after every step. */
  session: TrainingSession;
  /** performance.now() when the command started. */
  startedAt: number;
}

async function writeCheckpoint(run: TrainRun): Promise<void> {
  const { plan, trainer } = run;
  const state = await trainer.trainingState();
  assertFiniteTrainingState(state, plan.paths.checkpoint);
  writeOutputFile(plan.paths.checkpoint, encodeCheckpoint(state, { dtype: run.dtype }));
  writeOutputFile(
    plan.paths.curve,
    lossCurveSvg(run.losses.records, `${plan.config.styleName ?? 'style'}: losses (log scale)`),
  );
  if (plan.sampleImage) {
    const styled = await stylizeRgba(trainer.net, await fitImage(plan.sampleImage, SAMPLE_MAX_EDGE));
    writeOutputFile(plan.paths.sample, await encodeImage(styled, 'png'));
  }
}

/** Steps until the total or a stop signal, checkpointing every --checkpoint-every steps. */
async function trainSteps(run: TrainRun, o: TrainOptions, log: (line: string) => void): Promise<void> {
  const { plan, engine, trainer: t, loader } = run;
  const { config, total, paths } = plan;
  const batch = engine.keep(Tensor.empty(engine, [config.batch, 3, config.size, config.size], 'batch'));
  try {
    const started = performance.now();
    const firstStep = t.stepCount;
    let rate = 0;
    let last = started;
    while (t.stepCount < total && !run.stop.signal) {
      const crops = await loader.next();
      crops.forEach((px, i) => rgbaToTensor(engine, px, config.size, config.size, {}, { tensor: batch, index: i }));
      let losses: Awaited<ReturnType<typeof t.step>>;
      try {
        losses = await t.step(batch);
      } catch (e) {
        if (e instanceof NonFiniteLossError) {
          throw new CliError(
            `${e.message}; stopped, the last good checkpoint (${existsSync(paths.checkpoint) ? paths.checkpoint : 'none yet'}) is kept`,
          );
        }
        throw e;
      }
      const now = performance.now();
      const dt = (now - last) / 1000;
      last = now;
      // Rate over recent steps (the first ones include kernel compilation).
      rate = rate === 0 ? 1 / dt : 0.9 * rate + 0.1 / dt;
      run.losses.add({ step: t.stepCount, ...losses }, (now - started) / 1000);
      run.session.lastStep = t.stepCount;
      run.session.seconds = +((now - run.startedAt) / 1000).toFixed(3);
      const done = t.stepCount;
      const line =
        `step ${done}/${total}  ${rate.toFixed(2)} it/s  ETA ${formatDuration((total - done) / rate)}  ` +
        `content ${losses.content.toExponential(3)}  style ${losses.style.toExponential(3)}  tv ${losses.tv.toExponential(3)}` +
        (losses.stability !== undefined ? `  stability ${losses.stability.toExponential(3)}` : '');
      if (o.interactive) process.stderr.write(`\r${line}\x1b[K`);
      else if (done === firstStep + 1 || done % 10 === 0 || done === total) log(line);
      if (done % o.checkpointEvery === 0 && done < total) {
        await writeCheckpoint(run);
        if (o.interactive) process.stderr.write('\n');
        log(`checkpoint at step ${done}: ${paths.checkpoint}`);
        last = performance.now();
      }
    }
    if (o.interactive) process.stderr.write('\n');
  } finally {
    batch.dispose();
  }
}

/** The last checkpoint, then the model unless a signal stopped the run; returns the exit status. */
async function finishTrain(run: TrainRun, log: (line: string) => void): Promise<number> {
  const { plan, trainer } = run;
  // A session stopped before its first step leaves no entry.
  if (run.session.lastStep < run.session.firstStep) trainer.history = trainer.history.filter((s) => s !== run.session);
  await writeCheckpoint(run);
  if (run.stop.signal) {
    log(`checkpoint at step ${trainer.stepCount}: ${plan.paths.checkpoint} (continue with --resume)`);
    return EXIT_STATUS[run.stop.signal];
  }
  const out = run.outPath;
  writeOutputFile(out, await trainer.saveModel({ dtype: run.dtype }));
  log(
    `wrote ${out} (step ${trainer.stepCount}); checkpoint ${plan.paths.checkpoint}, losses ${plan.paths.log}, curve ${plan.paths.curve}${plan.sampleImage ? `, sample ${plan.paths.sample}` : ''}`,
  );
  return 0;
}

/**
 * Trains a transform net; returns the exit status (0 done or nothing to do; 130 after SIGINT, 143 after
 * SIGTERM, each with a checkpoint written).
 */
async function runTrain(o: TrainOptions): Promise<number> {
  try {
    return await trainLocked(o);
  } finally {
    // Taken by planTrain once --out is known to be usable.
    if (o.out.toLowerCase().endsWith(MODEL_EXTENSION)) releaseRunLock(runLockPath(o.out));
  }
}

async function trainLocked(o: TrainOptions): Promise<number> {
  const startedAt = performance.now();
  const startedDate = new Date().toISOString();
  const log = o.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const plan = await planTrain(o, log);
  if (!plan) return 0;
  const { config, paths } = plan;
  const engine = await createNodeEngine({ quietDawnStartup: true });
  let loader: DataLoader | null = null;
  let trainer: Trainer | null = null;
  let vgg: Vgg | null = null;
  const stop: TrainRun['stop'] = { signal: null };
  const stopListening = listenForStop(stop, log);
  try {
    if (engine.adapter.isFallbackAdapter)
      log(`warning: ${engine.describe()} is a software adapter; training will be slow`);
    vgg = buildVgg(engine, plan.vgg, config.loss);
    trainer = await createTrainer(engine, plan, vgg, o, log);
    const records = plan.resumed ? readLog(paths.log, trainer.stepCount) : [];
    if (plan.resumed && trainer.history.length === 0 && trainer.stepCount > 0)
      trainer.history = sessionsFromLog(records);
    const session: TrainingSession = {
      firstStep: trainer.stepCount + 1,
      lastStep: trainer.stepCount,
      seconds: 0,
      command: o.command ?? null,
      started: startedDate,
      adapter: engine.describe(),
      version: packageVersion(),
    };
    trainer.history.push(session);
    loader = new DataLoader(plan.files, {
      size: config.size,
      batch: config.batch,
      seed: config.seed,
      cropScale: config.cropScale ?? 'shorter-side',
      start: trainer.samplesSeen,
      workers: o.workers,
      onWarning: (m) => log(`warning: ${m}`),
    });
    log(startLine(plan, engine, trainer, loader));
    const run: TrainRun = {
      plan,
      engine,
      trainer,
      loader,
      losses: new LossLog(paths.log, records),
      dtype: o.saveDtype === 'f16' ? 'F16' : 'F32',
      stop,
      outPath: o.out,
      session,
      startedAt,
    };
    await trainSteps(run, o, log);
    return await finishTrain(run, log);
  } finally {
    stopListening();
    loader?.close();
    trainer?.dispose();
    vgg?.dispose();
    engine.destroy();
  }
}

/**
 * SIGINT and SIGTERM set `stop.signal` (the loop finishes its step and writes a checkpoint); a second one
 * exits at once. Returns the function that stops listening.
 */
function listenForStop(stop: TrainRun['stop'], log: (line: string) => void): () => void {
  const onSignal = (signal: StopSignal): void => {
    if (stop.signal) process.exit(EXIT_STATUS[signal]);
    stop.signal = signal;
    const how = signal === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM';
    log(`\ninterrupted: finishing this step and writing a checkpoint (${signal}; ${how} again to quit at once)`);
  };
  const onSigint = () => onSignal('SIGINT');
  const onSigterm = () => onSignal('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  return () => {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  };
}

/** The Trainer: resumed from the checkpoint, or new from --init's weights or random ones. */
async function createTrainer(
  engine: Engine,
  plan: TrainPlan,
  vgg: Vgg,
  o: TrainOptions,
  log: (line: string) => void,
): Promise<Trainer> {
  const { config, paths } = plan;
  const style = engine.keep(await imageTensor(engine, plan.styleImage, config.styleSize ?? o.styleSize));
  try {
    if (plan.resumed) return Trainer.resume(engine, plan.resumed, { vgg, styleImage: style }, paths.checkpoint);
    const initial = plan.init ? (await loadTransformNet(engine, plan.init.bytes, plan.init.path)).net : undefined;
    if (initial)
      log(`starting from the weights of ${plan.init!.path} (${initial.config.architecture}, width ${initial.width})`);
    return Trainer.create(engine, config, { vgg, styleImage: style }, initial);
  } finally {
    style.dispose();
  }
}

/** The line that starts a session: the data, the settings, the steps to take and the adapter. */
function startLine(plan: TrainPlan, engine: Engine, trainer: Trainer, loader: DataLoader): string {
  const { config } = plan;
  return (
    `training ${config.styleName ?? 'style'}: ${plan.files.length} images, ${config.size}² crops (${config.cropScale ?? 'shorter-side'} scale), batch ${config.batch}, ` +
    `steps ${trainer.stepCount + 1}..${plan.total}, ${config.vgg.architecture} (${config.vgg.input}) layers ` +
    `content ${config.loss.contentLayer} style ${config.loss.styleLayers.join(',')}, weights ${config.loss.contentWeight}/` +
    `${config.loss.styleWeight}/${config.loss.tvWeight}, lr ${config.lr}${config.warmupSteps ? ` (warm-up ${config.warmupSteps} steps)` : ''}, ${loader.threadCount} images decoded at once, on ${engine.describe()}`
  );
}

/** This process's command line as a shell would take it, the script's path relative to the working directory. */
function commandLine(): string {
  const [, script = 'cli.js', ...rest] = process.argv;
  const quote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`);
  return ['node', relative(process.cwd(), script) || script, ...rest].map(quote).join(' ');
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'Train a transform net for a style (Johnson et al. perceptual losses on a VGG).',
  usage: 'train --style IMG --data DIR --out MODEL [options]',
  options: trainOptionSpecs,
  details: [
    'Files beside MODEL (for MODEL = NAME.safetensors): NAME.ckpt.safetensors (checkpoint: weights, Adam state,',
    'step and data position), NAME.log.jsonl (losses per step), NAME.loss.svg (loss curve), NAME.sample.png.',
    'Ctrl-C (SIGINT) or SIGTERM finishes the step, writes a checkpoint and exits with status 130 or 143; --resume',
    'continues the run exactly, and refuses another --style image or --data (the checkpoint records their hashes).',
    'No output replaces an input; MODEL must be named *.safetensors, outside --data (docs/CLI-PROMISES.md).',
    '',
    'example:',
    '  fast-style-webgpu train --style starry_night.jpg --data photos/ \\',
    '    --out starry.safetensors --size 128 --iters 1000 --style-weight 0.1 --sample photo.jpg',
  ].join('\n'),
  async run(args: ParsedArgs): Promise<number> {
    return runTrain({
      ...readTrainArgs(args),
      given: args.given,
      command: commandLine(),
      interactive: process.stderr.isTTY === true,
    });
  },
};
