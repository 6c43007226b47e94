// A training run in the browser: the same Trainer, loss network, data order and checkpoint file as
// `fast-style-webgpu train`, with the photos decoded by the browser (train-data.ts) and the run kept in the
// browser's storage (run-store.ts), so that a reload resumes it exactly as `train --resume` does. No Node APIs.
import type { Engine } from '../engine/engine.js';
import { Tensor } from '../engine/tensor.js';
import { rgbaToTensor } from '../ops/image.js';
import { decodeCheckpoint, encodeCheckpoint, type TrainConfig, type TrainingSession } from '../models/checkpoint.js';
import type { LossRecord } from '../models/loss-curve.js';
import { defaultLossConfig, minImageSide, type LossConfig } from '../models/losses.js';
import { CHECKPOINT_FORMAT, MODEL_FORMAT } from '../models/model-file.js';
import { ModelFileError, readSafetensors } from '../models/safetensors.js';
import { dataListText, type CropScale } from '../models/sample-order.js';
import { stylizeRgba } from '../models/stylize.js';
import { planTrainingShape, type TrainingPlan } from '../models/train-plan.js';
import { NonFiniteLossError, Trainer, type TrainStepLosses } from '../models/trainer.js';
import {
  assertVggTensors,
  detectArchitecture,
  detectInput,
  Vgg,
  type VggArchitecture,
  type VggInput,
} from '../models/vgg.js';
import type { RgbaImage } from '../models/rgba-image.js';
import { fitSize } from './pixels.js';
import { BrowserDataLoader, decodeRgba, resizeRgba, type PhotoFile } from './train-data.js';
import type { RunStore } from './run-store.js';

/** What the person training chooses. */
export interface TrainSettings {
  /** Name of the style (the model's metadata and file name). */
  styleName: string;
  /** Optimiser steps in all. */
  steps: number;
  /** Side of the square crops. */
  size: number;
  batch: number;
  lr: number;
  /** Long side of the style image, pixels. */
  styleSize: number;
  /** Channel width multiplier of the net (1: 32/64/128 channels). */
  width: number;
  seed: number;
  contentWeight: number;
  styleWeight: number;
  tvWeight: number;
  cropScale: CropScale;
  /** Steps between checkpoints written to the browser's storage. */
  checkpointEvery: number;
  /** Steps between refreshes of the live sample. */
  sampleEvery: number;
}

/**
 * The recipe of the styles we ship (styles/config.json and scripts/train-on-cpu.sh: 128 px crops, batch 4,
 * Adam 5e-4, style 256 px, cw 1, sw 0.1, tvw 1, random crop scale, seed 1), 1000 steps as the shipped
 * starry_night. Adam's step is half of Johnson's 1e-3, which grows droplets (docs/DROPLETS.md).
 */
export const RECIPE: Omit<TrainSettings, 'styleName'> = {
  steps: 1000,
  size: 128,
  batch: 4,
  lr: 5e-4,
  styleSize: 256,
  width: 1,
  seed: 1,
  contentWeight: 1,
  styleWeight: 0.1,
  tvWeight: 1,
  cropScale: 'random',
  checkpointEvery: 50,
  sampleEvery: 25,
};

/** The run's description in the store (run.json). */
interface RunMeta {
  format: typeof RUN_FORMAT;
  version: 1;
  settings: TrainSettings;
  /** The Trainer's config (the batch as planned, the inputs' hashes). */
  config: TrainConfig;
  photos: { name: string; size: number }[];
  style: { name: string; type: string };
  vgg: { name: string };
  /** Why the batch differs from the settings', when it does. */
  planNote: string | null;
  created: string;
}

const RUN_FORMAT = 'fast-style-webgpu/browser-run';

/** A saved run as the page describes it before resuming. */
export interface SavedRun {
  settings: TrainSettings;
  config: TrainConfig;
  photoCount: number;
  /** Steps in the checkpoint (0: none written yet; the run restarts from its first step, the same way). */
  step: number;
  created: string;
}

export interface RunInputs {
  style: { name: string; blob: Blob };
  /** The photos to train on, sorted by name (photoFiles), the unreadable ones already left out (checkPhotos). */
  photos: PhotoFile[];
  /** A VGG16/VGG19 safetensors file (the shipped models/loss-network/ one, or another). */
  vgg: { name: string; bytes: Uint8Array };
}

export interface StepReport {
  step: number;
  total: number;
  losses: TrainStepLosses;
  /** Recent steps per second (a moving average); 0 after the first step of a session, which compiles the kernels. */
  stepsPerSecond: number;
  /** Infinity while the rate is not known. */
  etaSeconds: number;
}

export interface TrainingRunEvents {
  onStep?(report: StepReport): void;
  onCheckpoint?(step: number): void;
  /** The sample photo through the current net. */
  onSample?(image: RgbaImage, step: number): void;
  onWarning?(message: string): void;
  /** Setting up: what is being done (copying photos to storage…). */
  onStatus?(text: string): void;
}

/** A loss network file read and checked: its weights, architecture and input convention. */
interface VggFile {
  tensors: ReturnType<typeof readSafetensors>['tensors'];
  architecture: VggArchitecture;
  input: VggInput;
}

function readVgg(bytes: Uint8Array, name: string): VggFile {
  const file = readSafetensors(bytes, name);
  const format = file.metadata.format;
  if (format === MODEL_FORMAT || format === CHECKPOINT_FORMAT) {
    throw new ModelFileError(
      `${name} is not a loss network: it is a ${format === MODEL_FORMAT ? 'style model' : 'training checkpoint'} of this project; the loss network is a VGG16/VGG19 file such as models/loss-network/vgg19_conv1_1-conv3_4.safetensors`,
    );
  }
  assertVggTensors(file.tensors, name);
  return { tensors: file.tensors, architecture: detectArchitecture(file.tensors), input: detectInput(file.metadata) };
}

/** Bytes of the largest weight tensor of a loss network file (what one buffer of it needs). */
function largestTensor(vgg: VggFile): number {
  let largest = 0;
  for (const t of vgg.tensors.values()) largest = Math.max(largest, t.data.byteLength);
  return largest;
}

async function sha256(data: Blob | Uint8Array | string): Promise<string> {
  const bytes =
    typeof data === 'string'
      ? new TextEncoder().encode(data)
      : data instanceof Uint8Array
        ? data
        : new Uint8Array(await data.arrayBuffer());
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The size whose long side is `edge`, keeping the aspect ratio (the CLI's sizeForEdge). */
function sizeForEdge(width: number, height: number, edge: number): { width: number; height: number } {
  return width >= height
    ? { width: edge, height: Math.max(1, Math.round((height * edge) / width)) }
    : { width: Math.max(1, Math.round((width * edge) / height)), height: edge };
}

function checkSettings(s: TrainSettings): void {
  const int = (v: number, min: number, what: string) => {
    if (!Number.isInteger(v) || v < min)
      throw new RangeError(`${what} must be a whole number of at least ${min}, got ${v}`);
  };
  int(s.steps, 1, 'steps');
  int(s.size, 8, 'the crop size');
  int(s.batch, 1, 'the batch');
  int(s.styleSize, 16, 'the style size');
  int(s.seed, 0, 'the seed');
  int(s.checkpointEvery, 1, 'checkpoint every');
  int(s.sampleEvery, 1, 'sample every');
  if (!(s.width > 0 && s.width <= 4)) throw new RangeError(`the width must be in (0, 4], got ${s.width}`);
  if (!s.styleName.trim()) throw new RangeError('the style needs a name');
}

/** The checks of the CLI's checkImageSide, in words for the page. */
function checkSide(img: { width: number; height: number }, loss: LossConfig, arch: VggArchitecture, what: string) {
  const min = minImageSide(loss, arch);
  if (Math.min(img.width, img.height) < min) {
    throw new RangeError(
      `${what} is ${img.width}×${img.height}: too small for the loss network, which needs at least ${min} pixels on each side`,
    );
  }
}

/** Long side of the live sample: large enough to judge the strokes, small enough to be quick on a slow GPU. */
const sampleEdge = (size: number) => Math.min(256, Math.max(64, 2 * size));

/** One run of the Trainer over the stored inputs; `run()` trains until the last step or `pause()`. */
export class TrainingRun {
  /** Every step's losses so far (the loss curve's points). */
  readonly records: LossRecord[];
  /** Set when the GPU device was lost: its reason and message. */
  lost: string | null = null;
  private pauseWanted = false;
  private checkpointWanted = false;
  private running = false;
  private session: TrainingSession;
  private readonly batchTensor: Tensor;
  private readonly loader: BrowserDataLoader;
  private readonly startedAt = performance.now();
  /** The step of the checkpoint in the store (-1: none yet). */
  savedStep: number;

  private constructor(
    readonly engine: Engine,
    readonly trainer: Trainer,
    private readonly vgg: Vgg,
    readonly settings: TrainSettings,
    readonly plan: TrainingPlan,
    readonly store: RunStore,
    private readonly photos: PhotoFile[],
    private readonly sampleImage: RgbaImage,
    records: LossRecord[],
    restored: boolean,
    private readonly events: TrainingRunEvents,
  ) {
    this.records = records;
    this.savedStep = restored ? trainer.stepCount : -1;
    const c = trainer.config;
    this.batchTensor = engine.keep(Tensor.empty(engine, [c.batch, 3, c.size, c.size], 'batch'));
    this.loader = new BrowserDataLoader(photos, {
      size: c.size,
      batch: c.batch,
      seed: c.seed,
      cropScale: c.cropScale ?? 'shorter-side',
      start: trainer.samplesSeen,
      onWarning: (m) => events.onWarning?.(m),
    });
    this.session = {
      firstStep: trainer.stepCount + 1,
      lastStep: trainer.stepCount,
      seconds: 0,
      command: 'the demo page: Train your own style',
      started: new Date().toISOString(),
      adapter: engine.describe(),
    };
    trainer.history.push(this.session);
    engine.device.lost.then((info) => {
      this.lost = `${info.reason}: ${info.message}`;
    });
  }

  /** The run saved in `store`, if any. */
  static async saved(store: RunStore): Promise<SavedRun | null> {
    const meta = (await store.readMeta()) as RunMeta | null;
    if (!meta || meta.format !== RUN_FORMAT) return null;
    const checkpoint = await store.readCheckpoint();
    const step = checkpoint ? decodeCheckpoint(checkpoint.bytes, 'the saved checkpoint').step : 0;
    return {
      settings: meta.settings,
      config: meta.config,
      photoCount: meta.photos.length,
      step,
      created: meta.created,
    };
  }

  /**
   * A new run: checks the inputs and plans the batch against the engine's limits (RangeError,
   * TrainingShapeError or ModelFileError in words when something does not fit), saves the inputs in `store`
   * (replacing the run it held), and sets up the Trainer at step 0.
   */
  static async start(
    engine: Engine,
    inputs: RunInputs,
    settings: TrainSettings,
    store: RunStore,
    events: TrainingRunEvents = {},
  ): Promise<TrainingRun> {
    checkSettings(settings);
    if (inputs.photos.length === 0) throw new RangeError('no photos to train on');
    const vgg = readVgg(inputs.vgg.bytes, inputs.vgg.name);
    const loss: LossConfig = {
      ...defaultLossConfig(vgg.architecture, vgg.input),
      contentWeight: settings.contentWeight,
      styleWeight: settings.styleWeight,
      tvWeight: settings.tvWeight,
    };
    checkSide({ width: settings.size, height: settings.size }, loss, vgg.architecture, 'the crop');
    const plan = planTrainingShape(engine.limits, {
      batch: settings.batch,
      size: settings.size,
      widthMultiplier: settings.width,
      styleSize: settings.styleSize,
      lossNetworkWeight: largestTensor(vgg),
    });
    events.onStatus?.('Reading the style image…');
    const style = await decodeRgba(inputs.style.blob, inputs.style.name);
    checkSide(
      sizeForEdge(style.width, style.height, settings.styleSize),
      loss,
      vgg.architecture,
      `the style image at ${settings.styleSize} px`,
    );
    const photoList = inputs.photos.map((p) => ({ name: p.name, size: p.blob.size }));
    const config: TrainConfig = {
      size: settings.size,
      batch: plan.batch,
      lr: settings.lr,
      widthMultiplier: settings.width,
      seed: settings.seed,
      cropScale: settings.cropScale,
      loss,
      vgg: { architecture: vgg.architecture, input: vgg.input },
      styleSize: settings.styleSize,
      styleName: settings.styleName,
      styleSha256: await sha256(inputs.style.blob),
      dataSha256: await sha256(dataListText(photoList.map((p) => ({ path: p.name, size: p.size })))),
      vggSha256: await sha256(inputs.vgg.bytes),
    };
    const meta: RunMeta = {
      format: RUN_FORMAT,
      version: 1,
      settings,
      config,
      photos: photoList,
      style: { name: inputs.style.name, type: inputs.style.blob.type },
      vgg: { name: inputs.vgg.name },
      planNote: plan.note,
      created: new Date().toISOString(),
    };
    await checkRoom(store, inputs);
    events.onStatus?.(`Copying ${inputs.photos.length} photos to the browser's storage…`);
    await store.writeInputs(
      meta,
      { style: inputs.style.blob, vgg: inputs.vgg.bytes, photos: inputs.photos.map((p) => p.blob) },
      (done, total) => events.onStatus?.(`Copying photos to the browser's storage: ${done} of ${total}…`),
    );
    return TrainingRun.assemble(engine, meta, inputs.photos, inputs.vgg, vgg, style, null, store, events);
  }

  /** Continues the run saved in `store` from its checkpoint (or from its start when it has none yet). */
  static async restore(engine: Engine, store: RunStore, events: TrainingRunEvents = {}): Promise<TrainingRun> {
    const meta = (await store.readMeta()) as RunMeta | null;
    if (!meta || meta.format !== RUN_FORMAT) throw new Error('no saved run to resume');
    events.onStatus?.('Reading the saved run…');
    const inputs = await store.readInputs(meta.photos.length);
    // The stored inputs are the run's own, unless the storage was damaged: the hashes tell.
    if (
      (await sha256(inputs.style)) !== meta.config.styleSha256 ||
      (await sha256(inputs.vgg)) !== meta.config.vggSha256
    )
      throw new Error(
        "the saved run's style image or loss network in the browser's storage is damaged: start a new run",
      );
    const photos = meta.photos.map((p, i) => ({ name: p.name, blob: inputs.photos[i] }));
    const vgg = readVgg(inputs.vgg, meta.vgg.name);
    const style = await decodeRgba(inputs.style, meta.style.name);
    const checkpoint = await store.readCheckpoint();
    return TrainingRun.assemble(
      engine,
      meta,
      photos,
      { name: meta.vgg.name, bytes: inputs.vgg },
      vgg,
      style,
      checkpoint,
      store,
      events,
    );
  }

  private static async assemble(
    engine: Engine,
    meta: RunMeta,
    photos: PhotoFile[],
    vggSource: { name: string; bytes: Uint8Array },
    vggFile: VggFile,
    styleImage: RgbaImage,
    checkpoint: { bytes: Uint8Array; records: LossRecord[] } | null,
    store: RunStore,
    events: TrainingRunEvents,
  ): Promise<TrainingRun> {
    const state = checkpoint ? decodeCheckpoint(checkpoint.bytes, 'the saved checkpoint') : null;
    const config = state?.config ?? meta.config;
    // Planned again: a resumed run may meet a GPU with smaller limits than the one it started on.
    const plan = planTrainingShape(engine.limits, {
      batch: config.batch,
      size: config.size,
      widthMultiplier: config.widthMultiplier,
      styleSize: config.styleSize,
      lossNetworkWeight: largestTensor(vggFile),
    });
    if (plan.batch !== config.batch)
      throw new RangeError(
        `${plan.note!.replace(/ training with batch \d+ instead\.$/, '')} a resumed run keeps its batch`,
      );
    events.onStatus?.('Loading the loss network…');
    const vgg = Vgg.fromTensors(engine, vggFile.tensors, {
      architecture: config.vgg.architecture,
      input: config.vgg.input,
      layers: [config.loss.contentLayer, ...config.loss.styleLayers],
      source: vggSource.name,
    });
    let trainer: Trainer | null = null;
    try {
      const sized = sizeForEdge(styleImage.width, styleImage.height, config.styleSize ?? meta.settings.styleSize);
      const resized = await resizeRgba(styleImage, sized.width, sized.height);
      const style = rgbaToTensor(engine, resized.data, resized.width, resized.height);
      try {
        trainer = state
          ? Trainer.resume(engine, state, { vgg, styleImage: style }, 'the saved checkpoint')
          : Trainer.create(engine, config, { vgg, styleImage: style });
      } finally {
        style.dispose();
      }
      const first = await decodeRgba(photos[0].blob, photos[0].name);
      const fit = fitSize(first.width, first.height, sampleEdge(config.size));
      const sample = await resizeRgba(first, fit.width, fit.height);
      const records = (checkpoint?.records ?? []).filter((r) => r.step <= trainer!.stepCount);
      return new TrainingRun(
        engine,
        trainer,
        vgg,
        meta.settings,
        plan,
        store,
        photos,
        sample,
        records,
        state !== null,
        events,
      );
    } catch (e) {
      trainer?.dispose();
      vgg.dispose();
      throw e;
    }
  }

  /** Optimiser steps taken. */
  get step(): number {
    return this.trainer.stepCount;
  }

  get total(): number {
    return this.settings.steps;
  }

  get config(): TrainConfig {
    return this.trainer.config;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Stops after the step in flight (a checkpoint is written then); run() resolves to 'paused'. */
  pause(): void {
    this.pauseWanted = true;
  }

  /** Writes a checkpoint after the step in flight (a tab going to the background). */
  requestCheckpoint(): void {
    this.checkpointWanted = true;
  }

  /**
   * Trains until the last step ('done') or pause() ('paused'), checkpointing every checkpointEvery steps and at
   * the end, and refreshing the sample every sampleEvery steps. A step whose loss is not finite stops the run
   * (the last checkpoint is kept); so does a lost GPU (`lost` says why).
   */
  async run(): Promise<'done' | 'paused'> {
    if (this.running) throw new Error('the run is already training');
    this.running = true;
    this.pauseWanted = false;
    const t = this.trainer;
    const { batch, size } = t.config;
    const { checkpointEvery, sampleEvery } = this.settings;
    let rate = 0;
    let stepsThisSession = 0;
    let last = performance.now();
    try {
      await this.emitSample();
      while (t.stepCount < this.total && !this.pauseWanted) {
        const crops = await this.loader.next();
        for (let i = 0; i < batch; i++)
          rgbaToTensor(this.engine, crops[i], size, size, {}, { tensor: this.batchTensor, index: i });
        let losses: TrainStepLosses;
        try {
          losses = await t.step(this.batchTensor);
        } catch (e) {
          if (e instanceof NonFiniteLossError)
            throw new Error(`${e.message.replace(/: lower --lr.*$/, '')}: lower the learning rate or the style weight`);
          throw e;
        }
        const now = performance.now();
        const dt = (now - last) / 1000;
        last = now;
        // The session's first step compiles the kernels: the rate starts from the second.
        if (++stepsThisSession > 1) rate = rate === 0 ? 1 / dt : 0.9 * rate + 0.1 / dt;
        this.records.push({ step: t.stepCount, ...losses, seconds: +((now - this.startedAt) / 1000).toFixed(3) });
        this.session.lastStep = t.stepCount;
        this.session.seconds = +((now - this.startedAt) / 1000).toFixed(3);
        this.events.onStep?.({
          step: t.stepCount,
          total: this.total,
          losses,
          stepsPerSecond: rate,
          etaSeconds: rate > 0 ? (this.total - t.stepCount) / rate : Infinity,
        });
        const end = t.stepCount === this.total;
        if (t.stepCount % sampleEvery === 0 || end) await this.emitSample();
        if (t.stepCount % checkpointEvery === 0 || end || this.checkpointWanted || this.pauseWanted) {
          await this.checkpoint();
          last = performance.now();
        }
      }
      return t.stepCount >= this.total ? 'done' : 'paused';
    } finally {
      this.running = false;
    }
  }

  /** Writes the run's state (float32: a resume continues bit for bit) and its losses to the store. */
  async checkpoint(): Promise<void> {
    this.checkpointWanted = false;
    if (this.savedStep === this.step) return;
    const state = await this.trainer.trainingState();
    // A session that took no step leaves no entry, as in the CLI.
    state.history = state.history.filter((s) => s.lastStep >= s.firstStep);
    await this.store.writeCheckpoint(encodeCheckpoint(state, { dtype: 'F32' }), this.records);
    this.savedStep = this.step;
    this.events.onCheckpoint?.(this.step);
  }

  /** The sample photo through the current net. */
  async sample(): Promise<RgbaImage> {
    const out = await stylizeRgba(this.trainer.net, this.sampleImage);
    return { width: out.width, height: out.height, data: out.data };
  }

  private async emitSample(): Promise<void> {
    if (this.events.onSample) this.events.onSample(await this.sample(), this.step);
  }

  /** The trained net as our model file (`stylize --model` and the demo's Stylize panel take it). */
  async model(dtype: 'F32' | 'F16' = 'F16'): Promise<Uint8Array> {
    const all = this.trainer.history;
    // A session that took no step (a resumed run downloaded before training on) leaves no entry.
    this.trainer.history = all.filter((s) => s.lastStep >= s.firstStep);
    try {
      return await this.trainer.saveModel({ dtype });
    } finally {
      this.trainer.history = all;
    }
  }

  /** The photos the run trains on (the sample is the first). */
  get photoCount(): number {
    return this.photos.length;
  }

  dispose(): void {
    this.pauseWanted = true;
    this.loader.close();
    this.batchTensor.dispose();
    this.trainer.dispose();
    this.vgg.dispose();
  }
}

/** Refuses a run whose inputs do not fit the storage the browser gives the page, before copying any. */
async function checkRoom(store: RunStore, inputs: RunInputs): Promise<void> {
  if (store.kind !== 'opfs' || typeof navigator.storage?.estimate !== 'function') return;
  const { quota, usage } = await navigator.storage.estimate();
  if (quota === undefined || usage === undefined) return;
  const photoBytes = inputs.photos.reduce((s, p) => s + p.blob.size, 0);
  // The checkpoint (weights and Adam's two moments, float32) besides the inputs.
  const need = photoBytes + inputs.style.blob.size + inputs.vgg.bytes.length + 25e6;
  if (usage + need > quota) {
    const mb = (b: number) => `${Math.round(b / 1e6)} MB`;
    throw new RangeError(
      `the photos (${mb(photoBytes)}) and the run's files need ${mb(need)}, but the browser gives this page ${mb(quota - usage)} more: pick fewer photos, or free space`,
    );
  }
}
