import type { LossConfig } from './losses.js';
import type { CropScale } from './sample-order.js';
import type { StabilityConfig } from './stability.js';
import {
  CHECKPOINT_EXTRA_PREFIX,
  CHECKPOINT_FORMAT,
  MODEL_FORMAT_VERSION,
  architectureOf,
  decodeMetadata,
  encodeMetadata,
  HISTORY_KEY,
  netConfigOf,
} from './model-file.js';
import { ModelFileError, readSafetensors, writeSafetensors, type Dtype } from './safetensors.js';
import { parameterSpecs, type ArchitectureName, type ResolvedTransformNetConfig } from './transform-net.js';
import type { VggArchitecture, VggInput } from './vgg.js';

/**
 * Training checkpoints: the whole state of a run (TrainingState) and its file form, a transform-net model
 * file (model-file.ts) of format CHECKPOINT_FORMAT whose extra tensors and metadata hold the rest:
 *   tensors    the net's weights under their own names; `adam.m.<param>` and `adam.v.<param>`, Adam's moments
 *   training   JSON TrainConfig        step       Adam's step count (= optimiser steps taken)
 *   data       JSON {seed, samplesSeen}: the data order's position (see SampleOrder)
 *   optimizer  JSON {name: 'adam', lr, beta1, beta2, eps} (informative; the run's are ADAM_HYPERPARAMETERS and config.lr)
 *   adamScales F16 files only: JSON {param: [scale of m, scale of v]} (see scaleToF16)
 *   history    JSON TrainingSession[]: the sessions the run went through (absent in older checkpoints)
 * Checkpoints written before `init`, `styleSha256`, `dataSha256` and `vggSha256` existed lack them in `training`, and
 * before convBias/outputNorm in `architecture`; both read as such (decodeMetadata fills the architecture).
 */

export interface TrainConfig {
  /** Side of the square training crops. */
  size: number;
  batch: number;
  lr: number;
  widthMultiplier: number;
  /** Seeds the net's initial weights and the data order (see SampleOrder). */
  seed: number;
  /** How photos were scaled before cropping; absent in runs before it was chosen (they used `shorter-side`). */
  cropScale?: CropScale;
  /**
   * Steps over which the learning rate ramps linearly up to `lr` (absent or 0: none). A run that starts from
   * a trained net (`init`) needs it: Adam's first steps move every weight by about ±lr whatever its gradient,
   * which knocks a converged net back to the losses of random weights.
   */
  warmupSteps?: number;
  loss: LossConfig;
  /** The loss network the run was set up with (checked again on resume). */
  vgg: { architecture: VggArchitecture; input: VggInput };
  /** Long side of the style image, in pixels (recorded; the caller resizes). */
  styleSize?: number;
  /** Name of the style, for the model's metadata. */
  styleName?: string;
  /**
   * The model file whose weights the run started from (`train --init`) and its architecture; absent: random
   * johnson2016 weights from `seed`. When that model was trained by us, its lineage comes along (its file's
   * sha256, steps, training config and sessions), so that a fine-tuned model still records every step that
   * made it even after the file it started from is replaced.
   */
  init?: {
    source: string;
    architecture: ArchitectureName;
    sha256?: string;
    step?: number;
    training?: Record<string, unknown>;
    history?: TrainingSession[];
  };
  /**
   * What the run was trained on, so that a resumed run can refuse other inputs: the SHA-256 (hex) of the
   * style image file's bytes and of the data list (see the CLI's dataListSha256). Absent in checkpoints
   * written before they were recorded.
   */
  styleSha256?: string;
  dataSha256?: string;
  /**
   * SHA-256 (hex) of the loss network's file (--vgg): another VGG file gives other losses, so a resumed run
   * would no longer continue the same run. Absent in checkpoints written before it was recorded.
   */
  vggSha256?: string;
  /** The stability term (train --stability-weight; models/stability.ts); absent: none. */
  stability?: StabilityConfig;
}

/** The input hashes of TrainConfig, which a resumed run records when its checkpoint has none. */
export type TrainProvenance = Required<Pick<TrainConfig, 'styleSha256' | 'dataSha256' | 'vggSha256'>>;

/** Adam's hyperparameters besides the learning rate: fixed for every run (the checkpoint records them). */
export const ADAM_HYPERPARAMETERS = { beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

/**
 * One session of a run: one process that took steps firstStep..lastStep. A run resumed across sessions (and
 * machines) lists them all, so that a shipped model says how it was made: every step, each command and its
 * wall time.
 */
export interface TrainingSession {
  firstStep: number;
  lastStep: number;
  /** Wall-clock seconds from the session's start to its last step (compilation and data loading included). */
  seconds: number;
  /** The command line as given (null when the session was reconstructed from the loss log). */
  command: string | null;
  /** ISO date of the session's start, when known. */
  started?: string;
  /** The adapter it ran on (engine.describe()), when known. */
  adapter?: string;
  /** The program's version, when known. */
  version?: string;
  /** How the entry was obtained when it is not a first-hand record. */
  note?: string;
}

/** Steps and wall time over a run's sessions. */
export function historyTotals(history: readonly TrainingSession[]): { steps: number; seconds: number } {
  let steps = 0;
  let seconds = 0;
  for (const s of history) {
    steps += Math.max(0, s.lastStep - s.firstStep + 1);
    seconds += s.seconds;
  }
  return { steps, seconds };
}

/** A tensor read back to the CPU. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** Everything a run needs to continue exactly where it stopped. */
export interface TrainingState {
  config: TrainConfig;
  /** The net that is being trained (architecture, width, output). */
  net: Pick<ResolvedTransformNetConfig, 'widthMultiplier' | 'output' | 'architecture'>;
  /** The net's weights by parameter name, in state_dict order. */
  weights: Map<string, HostTensor>;
  /** Adam's first and second moments by parameter name, in the order of `weights`. */
  moments: Map<string, { m: Float32Array; v: Float32Array }>;
  /** Optimiser steps taken. */
  step: number;
  /** Samples consumed so far: with config.seed, the position in the data order. */
  samplesSeen: number;
  /** The sessions that took the steps so far, oldest first (empty when a checkpoint predates the record). */
  history: TrainingSession[];
}

/** Metadata key of an F16 checkpoint's moment scales: JSON {param: [scale of m, scale of v]}, powers of two. */
const MOMENT_SCALES_KEY = 'adamScales';
/** A scaled moment's largest magnitude stays below 2^15 (float16's largest finite value is 65504). */
const F16_TOP_EXPONENT = 15;

const momentName = (which: 'm' | 'v', param: string): string => `${CHECKPOINT_EXTRA_PREFIX}${which}.${param}`;

/**
 * The checkpoint file of `state`. dtype F32 (default): resuming continues bit for bit. F16: half the size
 * (a width-1 net: 10 MB instead of 20 MB); the weights are rounded to float16 and each moment tensor is stored
 * divided by a power of two (metadata `adamScales`) so that it fits float16's range (moments reach 1e5, second
 * moments 1e10 with our loss scales); resuming is then close to, not exactly, the uninterrupted run.
 */
export function encodeCheckpoint(state: TrainingState, opts: { dtype?: Dtype } = {}): Uint8Array {
  const f16 = opts.dtype === 'F16';
  const tensors = new Map(state.weights);
  const scales: Record<string, [number, number]> = {};
  for (const [name, { m, v }] of state.moments) {
    const shape = [...state.weights.get(name)!.shape];
    // Scaled copies: the state stays as it was.
    const md = f16 ? m.slice() : m;
    const vd = f16 ? v.slice() : v;
    if (f16) scales[name] = [scaleToF16(md), scaleToF16(vd)];
    tensors.set(momentName('m', name), { shape, data: md });
    tensors.set(momentName('v', name), { shape, data: vd });
  }
  const { config } = state;
  const metadata = encodeMetadata(
    {
      format: CHECKPOINT_FORMAT,
      version: MODEL_FORMAT_VERSION,
      architecture: architectureOf({ ...state.net, seed: config.seed }),
      style: config.styleName,
      training: config as unknown as Record<string, unknown>,
      step: state.step,
    },
    {
      data: JSON.stringify({ seed: config.seed, samplesSeen: state.samplesSeen }),
      optimizer: JSON.stringify({ name: 'adam', lr: config.lr, ...ADAM_HYPERPARAMETERS }),
      ...(f16 ? { [MOMENT_SCALES_KEY]: JSON.stringify(scales) } : {}),
      ...(state.history.length ? { [HISTORY_KEY]: JSON.stringify(state.history) } : {}),
    },
  );
  return writeSafetensors(tensors, metadata, { dtype: f16 ? 'F16' : 'F32' });
}

/**
 * Reads a checkpoint file back into a TrainingState (F16 moments unscaled). A file that is not a usable
 * checkpoint throws ModelFileError naming `source`; the weights' names and shapes are checked when the net is
 * built from them (TransformNet.fromTensors).
 */
export function decodeCheckpoint(bytes: Uint8Array, source = 'checkpoint'): TrainingState {
  const file = readSafetensors(bytes, source);
  const metadata = decodeMetadata(file.metadata, source, [CHECKPOINT_FORMAT]);
  const config = metadata.training as unknown as TrainConfig | undefined;
  if (!config || typeof config !== 'object' || typeof config.size !== 'number' || !config.loss || !config.vgg) {
    throw new ModelFileError(`${source}: checkpoint metadata has no usable training config`);
  }
  const step = metadata.step ?? NaN;
  if (!Number.isInteger(step) || step < 0) throw new ModelFileError(`${source}: invalid step ${String(metadata.step)}`);
  const data = jsonObject(file.metadata.data, source, 'data');
  if (!Number.isInteger(data.samplesSeen) || data.seed !== config.seed)
    throw new ModelFileError(`${source}: invalid data-order state`);

  const net = netConfigOf(metadata);
  const weights = new Map([...file.tensors].filter(([name]) => !name.startsWith(CHECKPOINT_EXTRA_PREFIX)));
  const names = parameterSpecs(net).map((s) => s.name);
  const moment = (which: 'm' | 'v', name: string): Float32Array => {
    const t = file.tensors.get(momentName(which, name));
    if (!t) throw new ModelFileError(`${source}: missing optimiser state ${momentName(which, name)}`);
    return t.data;
  };
  const moments = new Map(names.map((name) => [name, { m: moment('m', name), v: moment('v', name) }]));
  if (file.metadata[MOMENT_SCALES_KEY] !== undefined) unscaleMoments(file.metadata[MOMENT_SCALES_KEY], moments, source);
  const history = decodeHistory(file.metadata[HISTORY_KEY], source);
  return { config, net, weights, moments, step, samplesSeen: data.samplesSeen as number, history };
}

/** The `history` metadata of a checkpoint or model ([] when absent); malformed entries throw ModelFileError. */
export function decodeHistory(json: string | undefined, source: string): TrainingSession[] {
  if (json === undefined) return [];
  let list: unknown;
  try {
    list = JSON.parse(json);
  } catch {
    throw new ModelFileError(`${source}: metadata "${HISTORY_KEY}" is not JSON`);
  }
  const isStep = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0;
  const ok = (e: Record<string, unknown>): boolean =>
    isStep(e.firstStep) &&
    isStep(e.lastStep) &&
    typeof e.seconds === 'number' &&
    e.seconds >= 0 &&
    (e.command === null || typeof e.command === 'string');
  if (!Array.isArray(list) || !list.every((e) => e && typeof e === 'object' && ok(e as Record<string, unknown>))) {
    throw new ModelFileError(`${source}: metadata "${HISTORY_KEY}" is not a list of training sessions`);
  }
  return list as TrainingSession[];
}

/**
 * Divides `data` in place by a power of two that brings its largest magnitude into [2^14, 2^15) and returns
 * that divisor (1 for all zeros). Exact in float32; float16 then keeps ~3 significant digits down to 2^-29
 * of the largest value (its smallest normal number), fewer below, and flushes what is under ~2^-40 of it.
 */
function scaleToF16(data: Float32Array): number {
  let max = 0;
  for (let i = 0; i < data.length; i++) max = Math.max(max, Math.abs(data[i]));
  if (!(max > 0) || !Number.isFinite(max)) return 1;
  let scale = 2 ** (Math.floor(Math.log2(max)) + 1 - F16_TOP_EXPONENT);
  if (max / scale >= 2 ** F16_TOP_EXPONENT) scale *= 2; // log2 rounded down across a power of two
  for (let i = 0; i < data.length; i++) data[i] /= scale;
  return scale;
}

/**
 * Undoes scaleToF16 on an F16 checkpoint's moments (in place). A second moment that float16 flushed to zero
 * beside a first moment that it kept would make Adam's step m/(√v + ε) explode: such a v becomes m², which
 * bounds that step by the learning rate.
 */
function unscaleMoments(json: string, moments: TrainingState['moments'], source: string): void {
  let scales: Record<string, unknown>;
  try {
    scales = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new ModelFileError(`${source}: checkpoint metadata "${MOMENT_SCALES_KEY}" is not JSON`);
  }
  for (const [name, { m, v }] of moments) {
    const s = scales?.[name];
    if (!Array.isArray(s) || s.length !== 2 || !s.every((x) => typeof x === 'number' && x > 0 && Number.isFinite(x))) {
      throw new ModelFileError(`${source}: checkpoint metadata "${MOMENT_SCALES_KEY}" has no valid scales for ${name}`);
    }
    const [sm, sv] = s as [number, number];
    for (let k = 0; k < m.length; k++) {
      m[k] *= sm;
      v[k] *= sv;
      if (v[k] === 0 && m[k] !== 0) v[k] = m[k] * m[k];
    }
  }
}

function jsonObject(text: string | undefined, source: string, key: string): Record<string, unknown> {
  if (text === undefined) throw new ModelFileError(`${source}: checkpoint metadata has no "${key}"`);
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object') return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new ModelFileError(`${source}: checkpoint metadata "${key}" is not a JSON object`);
}
