import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, relative, sep } from 'node:path';
import { availableParallelism } from 'node:os';
import { createNodeEngine } from '../../engine/node.js';
import type { Engine } from '../../engine/engine.js';
import { Tensor } from '../../engine/tensor.js';
import { rgbaToTensor } from '../../ops/image.js';
import { defaultLossConfig } from '../../models/losses.js';
import {
  decodeCheckpoint,
  decodeHistory,
  encodeCheckpoint,
  type TrainConfig,
  type TrainingSession,
  type TrainingState,
  type TrainProvenance,
} from '../../models/checkpoint.js';
import {
  CHECKPOINT_FORMAT,
  decodeMetadata,
  HISTORY_KEY,
  loadTransformNet,
  MODEL_FORMAT,
  type ModelMetadata,
} from '../../models/model-file.js';
import { readSafetensors } from '../../models/safetensors.js';
import { stylizeRgba } from '../../models/stylize.js';
import { NonFiniteLossError, Trainer } from '../../models/trainer.js';
import type { Vgg, VggArchitecture, VggInput } from '../../models/vgg.js';
import { CROP_SCALES, dataListText, type CropScale } from '../../models/sample-order.js';
import { UsageError, type Command, type ParsedArgs } from '../args.js';
import { DataLoader, listImages } from '../data-loader.js';
import {
  appendOutputFile,
  InputSet,
  isInside,
  readInputFile,
  requireDirectory,
  requireOutputDirectory,
  writeOutputFile,
} from '../files.js';
import { decodeImage, encodeImage, fitImage, sizeForEdge, type RgbaImage } from '../image-io.js';
import { lossCurveSvg, type LossRecord } from '../../models/loss-curve.js';
import {
  buildVgg,
  checkImageSide,
  imageTensor,
  readVggFile,
  resolveLossConfig,
  vggOptions,
  vggPath,
  type LossOverrides,
  type VggFile,
} from '../loss-network.js';
import { formatDuration } from '../progress.js';
import { STABILITY_PERTURBATION } from '../../models/stability.js';
import { CliError } from '../errors.js';
import { packageVersion } from '../package-files.js';
import { fileSha256, removeStaleTemporaries } from '../files.js';
import { assertFiniteTrainingState, assertFiniteWeights } from '../finite.js';
import { releaseRunLock, runLockPath, takeRunLock } from '../run-lock.js';

/** Exit statuses after a signal (128 + its number), as shells report them; a checkpoint has been written. */
const EXIT_STATUS: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143 };
type StopSignal = 'SIGINT' | 'SIGTERM';
/** The --sample image is stylised at most this large (long side), to keep checkpoints quick. */
const SAMPLE_MAX_EDGE = 512;
const MODEL_EXTENSION = '.safetensors';

export interface TrainOptions extends LossOverrides {
  style: string;
  data: string;
  vgg: string;
  out: string;
  size: number;
  batch: number;
  iters?: number;
  epochs?: number;
  lr: number;
  styleSize: number;
  width: number;
  checkpointEvery: number;
  resume: boolean;
  /** A model file (or checkpoint) whose weights the run starts from instead of random ones. */
  init?: string;
  sample?: string;
  seed: number;
  /** How photos are scaled before cropping (a new run records it; a resumed run keeps the checkpoint's). */
  cropScale: CropScale;
  /** Steps of linear learning-rate warm-up (0: none). */
  warmup: number;
  /** Weight of the stability term (models/stability.ts; 0: none). */
  stabilityWeight?: number;
  vggArch: VggArchitecture | 'auto';
  vggInput: VggInput | 'auto';
  /** Decoding threads; 0 decodes on the main thread. */
  workers: number;
  /** Precision of the checkpoint and model files written (default f32; f16 halves them, see encodeCheckpoint). */
  saveDtype?: 'f32' | 'f16';
  /** Options given explicitly on the command line (a resumed run refuses to change them). */
  given?: ReadonlySet<string>;
  /** The command line, recorded in the run's history (checkpoints and the model). */
  command?: string;
  /** Where progress and warnings go (stderr). */
  log?(line: string): void;
  /** Progress line rewritten in place (a terminal), else printed every few steps. */
  interactive?: boolean;
}

/** Files written beside --out. */
export function trainPaths(out: string): { checkpoint: string; log: string; curve: string; sample: string } {
  const base = out.toLowerCase().endsWith(MODEL_EXTENSION) ? out.slice(0, -MODEL_EXTENSION.length) : out;
  return {
    checkpoint: `${base}.ckpt.safetensors`,
    log: `${base}.log.jsonl`,
    curve: `${base}.loss.svg`,
    sample: `${base}.sample.png`,
  };
}

/** SHA-256 of the data list (dataListText: each photo's path relative to --data and its size in bytes). */
export function dataListSha256(dataDir: string, files: readonly string[]): string {
  const size = (f: string): number => {
    try {
      return statSync(f).size;
    } catch {
      return -1; // gone since it was listed: the loader reports it when it comes up
    }
  };
  const entries = files.map((f) => ({ path: relative(dataDir, f).split(sep).join('/'), size: size(f) }));
  return createHash('sha256').update(dataListText(entries)).digest('hex');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
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
    ['crop-scale', o.cropScale, c.cropScale ?? 'shorter-side'],
    ['warmup', o.warmup, c.warmupSteps ?? 0],
    ['stability-weight', o.stabilityWeight ?? 0, c.stability?.weight ?? 0],
    ['style-size', o.styleSize, c.styleSize],
    ['content-weight', o.contentWeight, c.loss.contentWeight],
    ['style-weight', o.styleWeight, c.loss.styleWeight],
    ['tv-weight', o.tvWeight, c.loss.tvWeight],
    ['content-layer', o.contentLayer, c.loss.contentLayer],
    ['style-layers', o.styleLayers, c.loss.styleLayers],
  ];
  for (const [name, mine, theirs] of checks) {
    if (given.has(name) && !same(mine, theirs)) {
      throw new UsageError(
        `--${name} ${JSON.stringify(mine)} differs from the checkpoint's ${JSON.stringify(theirs)}: a resumed run keeps its settings (omit --${name})`,
      );
    }
  }
}

/**
 * A resumed run trains on what it started with: the style image and the data list must hash as the
 * checkpoint records. Returns the hashes to record when the checkpoint has none (written before they were).
 */
function checkResumeInputs(
  o: TrainOptions,
  c: TrainConfig,
  now: TrainProvenance,
  checkpoint: string,
  log: (line: string) => void,
): void {
  if (c.vggSha256 === undefined) {
    log(
      `warning: ${checkpoint} does not record which loss network (--vgg) it was trained with (an older checkpoint), so --vgg cannot be checked; it is recorded from now on`,
    );
  } else if (c.vggSha256 !== now.vggSha256) {
    throw new UsageError(
      `--vgg ${o.vgg} is not the loss network this run was trained with (sha256 ${now.vggSha256.slice(0, 12)}…, the checkpoint's ${c.vggSha256.slice(0, 12)}…): ` +
        'another VGG file gives other losses, so the run would not continue as it was; give the same --vgg, or use another --out for a new run',
    );
  }
  if (c.styleSha256 === undefined || c.dataSha256 === undefined) {
    log(
      `warning: ${checkpoint} does not record which style image and data it was trained on (an older checkpoint), so --style and --data cannot be checked; they are recorded from now on`,
    );
    return;
  }
  if (c.styleSha256 !== now.styleSha256) {
    throw new UsageError(
      `--style ${o.style} is not the image this run was trained on (sha256 ${now.styleSha256.slice(0, 12)}…, the checkpoint's ${c.styleSha256.slice(0, 12)}…): ` +
        'a resumed run keeps its style; use another --out for a new run',
    );
  }
  if (c.dataSha256 !== now.dataSha256) {
    throw new UsageError(
      `--data ${o.data} does not hold the photos this run was trained on (its list of names and sizes differs from the checkpoint's): ` +
        'a resumed run keeps its data; restore the folder or use another --out for a new run',
    );
  }
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

/**
 * The sessions of a run whose checkpoint predates the session record, recovered from its loss log: each
 * session's clock starts at zero, so a record whose `seconds` is below its predecessor's starts a new one.
 */
export function sessionsFromLog(records: readonly LossRecord[]): TrainingSession[] {
  const sessions: TrainingSession[] = [];
  let previous = Infinity;
  for (const r of records) {
    const seconds = r.seconds ?? 0;
    if (seconds < previous || sessions.length === 0) {
      sessions.push({
        firstStep: r.step,
        lastStep: r.step,
        seconds,
        command: null,
        note: 'reconstructed from the loss log (the checkpoint predates the session record)',
      });
    }
    const current = sessions[sessions.length - 1];
    current.lastStep = r.step;
    current.seconds = seconds;
    previous = seconds;
  }
  return sessions;
}

/**
 * The losses per step (NAME.log.jsonl). Nothing is written before the first step finishes, so that a run
 * that fails to start leaves no log (and a resumed one leaves the old log as it was); the first write
 * replaces the file with the records up to the checkpoint plus the new step, later ones append.
 */
class LossLog {
  private started = false;

  constructor(
    readonly path: string,
    /** Every record so far (the loss curve's points). */
    readonly records: LossRecord[],
  ) {}

  add(record: LossRecord, seconds: number): void {
    this.records.push(record);
    const line = JSON.stringify({ ...record, seconds: +seconds.toFixed(3) }) + '\n';
    if (this.started) {
      appendOutputFile(this.path, line);
    } else {
      const before = this.records
        .slice(0, -1)
        .map((r) => JSON.stringify(r) + '\n')
        .join('');
      writeOutputFile(this.path, before + line);
      this.started = true;
    }
  }
}

/** What a new run records of the model it starts from: the file, and the run that trained it when it was ours. */
function initLineage(init: {
  path: string;
  bytes: Uint8Array;
  metadata: ModelMetadata;
}): NonNullable<TrainConfig['init']> {
  const m = init.metadata;
  const history = decodeHistory(readSafetensors(init.bytes, init.path).metadata[HISTORY_KEY], init.path);
  return {
    source: init.path,
    architecture: m.architecture.name,
    sha256: sha256(init.bytes),
    ...(m.step !== undefined ? { step: m.step } : {}),
    ...(m.training ? { training: m.training } : {}),
    ...(history.length ? { history } : {}),
  };
}

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
  if (files.length === 0) throw new CliError(`no JPEG or PNG images found under ${o.data}`);
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

  const styleBytes = readInputFile(o.style, 'style image');
  const styleImage = await decodeImage(styleBytes, o.style);
  const sampleImage = o.sample ? await decodeImage(readInputFile(o.sample, 'sample image'), o.sample) : null;
  const vgg = readVggFile(o.vgg, o.vggArch, o.vggInput);
  const provenance: TrainProvenance = {
    styleSha256: sha256(styleBytes),
    dataSha256: dataListSha256(o.data, files),
    vggSha256: fileSha256(o.vgg, 'VGG weights'),
  };
  const resumed = o.resume ? decodeCheckpoint(readInputFile(paths.checkpoint, 'checkpoint'), paths.checkpoint) : null;
  // The initial model is checked before any GPU work: its metadata gives the net's width and architecture.
  const initBytes = o.init !== undefined ? readInputFile(o.init, 'initial model') : null;
  const init = initBytes
    ? {
        path: o.init!,
        bytes: initBytes,
        metadata: decodeMetadata(readSafetensors(initBytes, o.init).metadata, o.init!, [
          MODEL_FORMAT,
          CHECKPOINT_FORMAT,
        ]),
      }
    : null;
  // NaN weights would train on silently (the output's tanh clamps them, the losses stay finite).
  if (init) assertFiniteWeights(init.bytes, init.path, 'a run cannot start from it');
  if (init && o.given?.has('width') && o.width !== init.metadata.architecture.widthMultiplier) {
    throw new UsageError(
      `--width ${o.width} differs from the width ${init.metadata.architecture.widthMultiplier} of --init ${o.init} (omit --width)`,
    );
  }

  let config: TrainConfig;
  if (resumed) {
    checkResumeOptions(o, resumed.config);
    checkResumeInputs(o, resumed.config, provenance, paths.checkpoint, log);
    // An older checkpoint's config gains the hashes, so that its next checkpoint records them.
    if (resumed.config.styleSha256 === undefined || resumed.config.vggSha256 === undefined)
      resumed.config = { ...resumed.config, ...provenance };
    config = resumed.config;
  } else {
    config = {
      size: o.size,
      batch: o.batch,
      lr: o.lr,
      widthMultiplier: init ? init.metadata.architecture.widthMultiplier : o.width,
      seed: o.seed,
      cropScale: o.cropScale,
      ...(o.warmup > 0 ? { warmupSteps: o.warmup } : {}),
      ...((o.stabilityWeight ?? 0) > 0 ? { stability: { weight: o.stabilityWeight!, ...STABILITY_PERTURBATION } } : {}),
      ...(init ? { init: initLineage(init) } : {}),
      loss: resolveLossConfig(defaultLossConfig(vgg.architecture, vgg.input), o, vgg.architecture),
      vgg: { architecture: vgg.architecture, input: vgg.input },
      styleSize: o.styleSize,
      styleName: basename(o.style, extname(o.style)),
      ...provenance,
    };
  }
  checkImageSide(
    sizeForEdge(styleImage.width, styleImage.height, config.styleSize ?? o.styleSize),
    config.loss,
    config.vgg.architecture,
    `style image ${o.style}`,
  );
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
export async function runTrain(o: TrainOptions): Promise<number> {
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
  try {
    if (engine.adapter.isFallbackAdapter)
      log(`warning: ${engine.describe()} is a software adapter; training will be slow`);
    vgg = buildVgg(engine, plan.vgg, config.loss);
    const style = engine.keep(await imageTensor(engine, plan.styleImage, config.styleSize ?? o.styleSize));
    try {
      if (plan.resumed) {
        trainer = Trainer.resume(engine, plan.resumed, { vgg, styleImage: style }, paths.checkpoint);
      } else {
        const initial = plan.init ? (await loadTransformNet(engine, plan.init.bytes, plan.init.path)).net : undefined;
        if (initial)
          log(
            `starting from the weights of ${plan.init!.path} (${initial.config.architecture}, width ${initial.width})`,
          );
        trainer = Trainer.create(engine, config, { vgg, styleImage: style }, initial);
      }
    } finally {
      style.dispose();
    }
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
    log(
      `training ${config.styleName ?? 'style'}: ${plan.files.length} images, ${config.size}² crops (${config.cropScale ?? 'shorter-side'} scale), batch ${config.batch}, ` +
        `steps ${trainer.stepCount + 1}..${plan.total}, ${config.vgg.architecture} (${config.vgg.input}) layers ` +
        `content ${config.loss.contentLayer} style ${config.loss.styleLayers.join(',')}, weights ${config.loss.contentWeight}/` +
        `${config.loss.styleWeight}/${config.loss.tvWeight}, lr ${config.lr}${config.warmupSteps ? ` (warm-up ${config.warmupSteps} steps)` : ''}, ${loader.threadCount} images decoded at once, on ${engine.describe()}`,
    );
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
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    loader?.close();
    trainer?.dispose();
    vgg?.dispose();
    engine.destroy();
  }
}

/** This process's command line as a shell would take it, the script's path relative to the working directory. */
function commandLine(): string {
  const [, script = 'cli.js', ...rest] = process.argv;
  const quote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`);
  return ['node', relative(process.cwd(), script) || script, ...rest].map(quote).join(' ');
}

function optionalNumber(args: ParsedArgs, name: string): number | undefined {
  return args.given.has(name) ? args.number(name) : undefined;
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'Train a transform net for a style (Johnson et al. perceptual losses on a VGG).',
  usage: 'train --style IMG --data DIR --out MODEL [options]',
  options: [
    { name: 'style', type: 'string', valueName: 'IMG', description: 'style image (JPEG or PNG)' },
    {
      name: 'data',
      type: 'string',
      valueName: 'DIR',
      description: 'folder of training photos, searched recursively for JPEG/PNG',
    },
    {
      name: 'out',
      alias: 'o',
      type: 'string',
      valueName: 'MODEL',
      description: 'model file to write (.safetensors); checkpoint, log, curve and sample go beside it',
    },
    {
      name: 'size',
      type: 'number',
      integer: true,
      min: 8,
      max: 2048,
      default: 256,
      description: 'side of the square training crops',
    },
    { name: 'batch', type: 'number', integer: true, min: 1, max: 256, default: 4, description: 'images per step' },
    {
      name: 'iters',
      type: 'number',
      integer: true,
      min: 1,
      description: 'total optimiser steps (instead of --epochs)',
    },
    {
      name: 'epochs',
      type: 'number',
      min: 0.001,
      description: 'passes over the data (default 2 when --iters is not given)',
    },
    { name: 'lr', type: 'number', min: 1e-12, max: 10, default: 1e-3, description: 'Adam learning rate' },
    {
      name: 'content-weight',
      type: 'number',
      min: 0,
      description: 'content loss weight (default: 1 for caffe-input VGGs, 1e5 torchvision)',
    },
    {
      name: 'style-weight',
      type: 'number',
      min: 0,
      description: 'style loss weight (default: 0.1 caffe, 1e10 torchvision; calibrate per style)',
    },
    { name: 'tv-weight', type: 'number', min: 0, description: 'total-variation weight (default 1)' },
    {
      name: 'style-size',
      type: 'number',
      integer: true,
      min: 16,
      max: 4096,
      default: 256,
      description: 'long side of the style image, pixels',
    },
    {
      name: 'content-layer',
      type: 'string',
      valueName: 'LAYER',
      description: 'VGG layer of the content loss (default relu2_2)',
    },
    {
      name: 'style-layers',
      type: 'list',
      valueName: 'L1,L2,...',
      description:
        'VGG layers of the style loss (default: relu1_2,relu2_2,relu3_4 on VGG19; relu1_2,relu2_2,relu3_3,relu4_3 on VGG16)',
    },
    {
      name: 'width',
      type: 'number',
      min: 0.01,
      max: 4,
      default: 1,
      description: 'channel width multiplier of the net (1 = 32/64/128 channels)',
    },
    {
      name: 'checkpoint-every',
      type: 'number',
      integer: true,
      min: 1,
      default: 200,
      description: 'steps between checkpoints (and loss-curve / sample updates)',
    },
    { name: 'resume', type: 'boolean', description: 'continue the run from the checkpoint beside --out, exactly' },
    {
      name: 'init',
      type: 'string',
      valueName: 'MODEL',
      description:
        "start from this model's weights (either architecture, e.g. an imported ml5 net) instead of random ones",
    },
    {
      name: 'sample',
      type: 'string',
      valueName: 'IMG',
      description: 'photo stylised at each checkpoint (written beside it)',
    },
    {
      name: 'seed',
      type: 'number',
      integer: true,
      min: 0,
      max: 2 ** 31 - 1,
      default: 1,
      description: 'seed of the initial weights and the data order',
    },
    {
      name: 'crop-scale',
      type: 'string',
      choices: [...CROP_SCALES],
      default: 'random',
      description:
        "how each photo is scaled before its crop: random (between 'shorter side = crop' and the photo's own size) or shorter-side (always the whole photo shrunk; runs before random existed)",
    },
    {
      name: 'warmup',
      type: 'number',
      integer: true,
      min: 0,
      default: 0,
      valueName: 'N',
      description:
        'ramp the learning rate up linearly over the first N steps (use ~100 with --init: fresh Adam steps wreck a trained net)',
    },
    {
      name: 'stability-weight',
      type: 'number',
      min: 0,
      max: 1e12,
      default: 0,
      valueName: 'W',
      description:
        "add W · mean (f(x moved 1 px + noise σ 2) − f(x) moved 1 px)² to the loss (squared levels): less flicker in video (a second forward pass per step; see 'flicker')",
    },
    ...vggOptions,
    {
      name: 'workers',
      type: 'number',
      integer: true,
      min: 0,
      max: 64,
      description: 'images decoded at once by libvips, off the JavaScript thread (default: cores − 1, at least 1)',
    },
    {
      name: 'save-dtype',
      type: 'string',
      choices: ['f32', 'f16'],
      default: 'f32',
      description:
        'precision of the checkpoint and model written: f16 halves them (checkpoint 10 MB instead of 20 at width 1); a resume from an f16 checkpoint is close, not bit-exact',
    },
  ],
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
    if (args.given.has('iters') && args.given.has('epochs'))
      throw new UsageError('give either --iters or --epochs, not both');
    return runTrain({
      style: args.required('style'),
      data: args.required('data'),
      vgg: vggPath(args, 'train'),
      out: args.required('out'),
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
      cropScale: args.string('crop-scale') as CropScale,
      warmup: args.number('warmup')!,
      stabilityWeight: args.number('stability-weight')!,
      vggArch: args.string('vgg-arch') as VggArchitecture | 'auto',
      vggInput: args.string('vgg-input') as VggInput | 'auto',
      workers: args.given.has('workers') ? args.number('workers')! : Math.max(1, availableParallelism() - 1),
      saveDtype: args.string('save-dtype') as 'f32' | 'f16',
      given: args.given,
      command: commandLine(),
      interactive: process.stderr.isTTY === true,
    });
  },
};
