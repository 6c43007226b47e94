import type { Engine } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import { Tensor } from '../engine/tensor.js';
import { backward } from '../autograd/tape.js';
import { Adam } from '../autograd/optim.js';
import { StyleLoss, type LossConfig } from './losses.js';
import {
  CHECKPOINT_EXTRA_PREFIX,
  CHECKPOINT_FORMAT,
  MODEL_FORMAT_VERSION,
  architectureOf,
  netConfigOf,
  decodeMetadata,
  encodeMetadata,
  saveTransformNet,
  transformNetTensors,
} from './model-file.js';
import { ModelFileError, readSafetensors, writeSafetensors, type Dtype } from './safetensors.js';
import { TransformNet, type ArchitectureName } from './transform-net.js';
import type { Vgg, VggArchitecture, VggInput } from './vgg.js';

export interface TrainConfig {
  /** Side of the square training crops. */
  size: number;
  batch: number;
  lr: number;
  widthMultiplier: number;
  /** Seeds the net's initial weights and the data order (see SampleOrder). */
  seed: number;
  loss: LossConfig;
  /** The loss network the run was set up with (checked again on resume). */
  vgg: { architecture: VggArchitecture; input: VggInput };
  /** Long side of the style image, in pixels (recorded; the caller resizes). */
  styleSize?: number;
  /** Name of the style, for the model's metadata. */
  styleName?: string;
  /**
   * The model file whose weights the run started from (`train --init`) and its architecture; absent: random
   * johnson2016 weights from `seed`.
   */
  init?: { source: string; architecture: ArchitectureName };
  /**
   * What the run was trained on, so that a resumed run can refuse other inputs: the SHA-256 (hex) of the
   * style image file's bytes and of the data list (see the CLI's dataListSha256). Absent in checkpoints
   * written before they were recorded.
   */
  styleSha256?: string;
  dataSha256?: string;
}

/** The input hashes of TrainConfig, given to `Trainer.resume` to record them in a checkpoint that has none. */
export type TrainProvenance = Required<Pick<TrainConfig, 'styleSha256' | 'dataSha256'>>;

export interface StepLosses {
  content: number;
  style: number;
  tv: number;
  /** cw·content + sw·style + tvw·tv. */
  total: number;
}

/** A step's loss was NaN or infinite; the weights were not updated by it. */
export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
  constructor(
    readonly step: number,
    readonly losses: StepLosses,
  ) {
    super(
      `loss became ${Number.isNaN(losses.total) ? 'NaN' : 'infinite'} at step ${step} ` +
        `(content ${losses.content}, style ${losses.style}, tv ${losses.tv}): lower --lr or the loss weights`,
    );
  }
}

const ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

function checkConfig(c: TrainConfig): void {
  const positiveInt = (v: number) => Number.isInteger(v) && v >= 1;
  if (!positiveInt(c.size)) throw new RangeError(`training size must be a positive integer, got ${c.size}`);
  if (!positiveInt(c.batch)) throw new RangeError(`batch must be a positive integer, got ${c.batch}`);
  if (!(c.lr > 0 && Number.isFinite(c.lr))) throw new RangeError(`learning rate must be a positive number, got ${c.lr}`);
  for (const k of ['contentWeight', 'styleWeight', 'tvWeight'] as const) {
    if (!(c.loss[k] >= 0 && Number.isFinite(c.loss[k]))) throw new RangeError(`${k} must be a number ≥ 0, got ${c.loss[k]}`);
  }
}

/**
 * Training of a transform net against a style: one `step` = forward, losses, backward and an Adam update,
 * with one readback (the three loss values). Holds the net, loss and optimiser (not the VGG, which the caller
 * owns) and the data order's state (seed and samples drawn), so that a checkpoint resumes exactly.
 */
export class Trainer {
  /** Samples consumed so far: with the seed, the position in the data order. */
  samplesSeen = 0;

  private constructor(
    readonly engine: Engine,
    readonly config: TrainConfig,
    readonly net: TransformNet,
    readonly vgg: Vgg,
    readonly loss: StyleLoss,
    readonly adam: Adam,
  ) {}

  /**
   * A fresh run. styleImage: [1, 3, H, W] pixels 0..255 (already resized to the style size). `initial`: a net
   * to start from instead of random weights (fine-tuning; the trainer owns it from here), of
   * config.widthMultiplier.
   */
  static create(engine: Engine, config: TrainConfig, deps: { vgg: Vgg; styleImage: Tensor }, initial?: TransformNet): Trainer {
    checkConfig(config);
    checkVgg(config, deps.vgg);
    if (initial && initial.width !== config.widthMultiplier) {
      throw new RangeError(`the initial net has width ${initial.width}, the training config ${config.widthMultiplier}`);
    }
    const net = initial ?? TransformNet.create(engine, { widthMultiplier: config.widthMultiplier, seed: config.seed });
    return Trainer.assemble(engine, config, net, deps);
  }

  /**
   * Continues from `checkpoint()` bytes with the same VGG and style image. The checkpoint's config is used;
   * `source` names the file in errors. `provenance` is recorded from now on when the checkpoint has none (an
   * older checkpoint); the caller checks it against the checkpoint's own when it has them.
   */
  static resume(engine: Engine, bytes: Uint8Array, deps: { vgg: Vgg; styleImage: Tensor; provenance?: TrainProvenance }, source = 'checkpoint'): Trainer {
    const file = readSafetensors(bytes, source);
    const metadata = decodeMetadata(file.metadata, source, [CHECKPOINT_FORMAT]);
    const recorded = metadata.training as unknown as TrainConfig;
    const config = recorded && typeof recorded === 'object' && recorded.styleSha256 === undefined && deps.provenance ? { ...recorded, ...deps.provenance } : recorded;
    const data = parseJson(file.metadata.data, source, 'data') as { seed?: unknown; samplesSeen?: unknown };
    if (!config || typeof config !== 'object' || typeof config.size !== 'number' || !config.loss) {
      throw new ModelFileError(`${source}: checkpoint metadata has no usable training config`);
    }
    const step = metadata.step ?? NaN;
    if (!Number.isInteger(step) || step < 0) throw new ModelFileError(`${source}: invalid step ${String(metadata.step)}`);
    if (!Number.isInteger(data.samplesSeen) || data.seed !== config.seed) throw new ModelFileError(`${source}: invalid data-order state`);
    checkConfig(config);
    checkVgg(config, deps.vgg);
    const weights = new Map([...file.tensors].filter(([name]) => !name.startsWith(CHECKPOINT_EXTRA_PREFIX)));
    const net = TransformNet.fromTensors(engine, netConfigOf(metadata), weights, source);
    let trainer: Trainer | null = null;
    try {
      trainer = Trainer.assemble(engine, config, net, deps);
      const moments = (which: 'm' | 'v') =>
        [...net.parameters().keys()].map((name) => {
          const t = file.tensors.get(`${CHECKPOINT_EXTRA_PREFIX}${which}.${name}`);
          if (!t) throw new ModelFileError(`${source}: missing optimiser state ${CHECKPOINT_EXTRA_PREFIX}${which}.${name}`);
          return t.data;
        });
      const m = moments('m');
      const v = moments('v');
      if (file.metadata[MOMENT_SCALES_KEY] !== undefined) unscaleMoments(file.metadata[MOMENT_SCALES_KEY], [...net.parameters().keys()], m, v, source);
      trainer.adam.loadState(step, m, v);
      trainer.samplesSeen = data.samplesSeen as number;
      return trainer;
    } catch (e) {
      if (trainer) trainer.dispose();
      else net.dispose();
      throw e;
    }
  }

  private static assemble(engine: Engine, config: TrainConfig, net: TransformNet, deps: { vgg: Vgg; styleImage: Tensor }): Trainer {
    const loss = StyleLoss.create(deps.vgg, deps.styleImage, config.loss);
    const adam = new Adam([...net.parameters().values()], { lr: config.lr, ...ADAM });
    return new Trainer(engine, config, net, deps.vgg, loss, adam);
  }

  /** Optimiser steps taken. */
  get stepCount(): number {
    return this.adam.stepCount;
  }

  /**
   * One training step on `batch` ([B, 3, S, S], pixels 0..255). The loss values are read back before the
   * update is recorded: a NaN/Inf loss throws NonFiniteLossError and leaves the weights as they were. The
   * update's kernels go to the GPU with the next submit (the next step, or a checkpoint's readback).
   */
  async step(batch: Tensor): Promise<StepLosses> {
    if (batch.rank !== 4 || batch.shape[1] !== 3) throw new ShapeError(`Trainer.step: expects a [B, 3, S, S] batch, got ${shapeStr(batch.shape)}`);
    const values = await this.engine.scopeAsync(async () => {
      this.adam.zeroGrad();
      const out = this.net.forward(batch);
      const terms = this.loss.compute(out, batch);
      backward(terms.total);
      const packed = Tensor.empty(this.engine, [4], 'losses');
      [terms.content, terms.style, terms.tv, terms.total].forEach((t, i) => this.engine.copyBuffer(t.buffer, 0, packed.buffer, 4 * i, 4));
      return packed.data();
    });
    const losses: StepLosses = { content: values[0], style: values[1], tv: values[2], total: values[3] };
    if (![values[0], values[1], values[2], values[3]].every(Number.isFinite)) {
      this.adam.zeroGrad();
      throw new NonFiniteLossError(this.stepCount + 1, losses);
    }
    this.adam.step();
    this.samplesSeen += batch.shape[0];
    return losses;
  }

  /**
   * Weights, Adam moments (`adam.m.<param>`, `adam.v.<param>`), step, config and data-order state.
   * dtype F32 (default): resuming continues bit for bit. F16: half the size (a width-1 net: 10 MB instead of
   * 20 MB); the weights are rounded to float16 and each moment tensor is stored divided by a power of two
   * (metadata `adamScales`) so that it fits float16's range (moments reach 1e5, second moments 1e10 with
   * our loss scales); resuming is then close to, not exactly, the uninterrupted run.
   */
  async checkpoint(opts: { dtype?: Dtype } = {}): Promise<Uint8Array> {
    const f16 = opts.dtype === 'F16';
    const tensors = await transformNetTensors(this.net);
    const { m, v } = this.adam.state();
    const names = [...this.net.parameters().keys()];
    const scales: Record<string, [number, number]> = {};
    for (let i = 0; i < names.length; i++) {
      const md = await m[i].data();
      const vd = await v[i].data();
      if (f16) scales[names[i]] = [scaleToF16(md), scaleToF16(vd)];
      tensors.set(`${CHECKPOINT_EXTRA_PREFIX}m.${names[i]}`, { shape: [...m[i].shape], data: md });
      tensors.set(`${CHECKPOINT_EXTRA_PREFIX}v.${names[i]}`, { shape: [...v[i].shape], data: vd });
    }
    const extra: Record<string, string> = f16 ? { [MOMENT_SCALES_KEY]: JSON.stringify(scales) } : {};
    const metadata = encodeMetadata(
      {
        format: CHECKPOINT_FORMAT,
        version: MODEL_FORMAT_VERSION,
        architecture: architectureOf(this.net.config),
        style: this.config.styleName,
        training: this.config as unknown as Record<string, unknown>,
        step: this.stepCount,
      },
      { data: JSON.stringify({ seed: this.config.seed, samplesSeen: this.samplesSeen }), optimizer: JSON.stringify({ name: 'adam', lr: this.config.lr, ...ADAM }), ...extra },
    );
    return writeSafetensors(tensors, metadata, { dtype: f16 ? 'F16' : 'F32' });
  }

  /** The trained net as a model file (no optimiser state). */
  saveModel(opts: { dtype?: 'F32' | 'F16' } = {}): Promise<Uint8Array> {
    return saveTransformNet(this.net, { style: this.config.styleName, training: this.config as unknown as Record<string, unknown>, step: this.stepCount }, opts);
  }

  dispose(): void {
    this.adam.zeroGrad();
    this.adam.dispose();
    this.loss.dispose();
    this.net.dispose();
  }
}

/** Metadata key of an F16 checkpoint's moment scales: JSON {param: [scale of m, scale of v]}, powers of two. */
const MOMENT_SCALES_KEY = 'adamScales';
/** A scaled moment's largest magnitude stays below 2^15 (float16's largest finite value is 65504). */
const F16_TOP_EXPONENT = 15;

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
function unscaleMoments(json: string, names: string[], m: Float32Array[], v: Float32Array[], source: string): void {
  let scales: Record<string, unknown>;
  try {
    scales = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new ModelFileError(`${source}: checkpoint metadata "${MOMENT_SCALES_KEY}" is not JSON`);
  }
  names.forEach((name, i) => {
    const s = scales?.[name];
    if (!Array.isArray(s) || s.length !== 2 || !s.every((x) => typeof x === 'number' && x > 0 && Number.isFinite(x))) {
      throw new ModelFileError(`${source}: checkpoint metadata "${MOMENT_SCALES_KEY}" has no valid scales for ${name}`);
    }
    const [sm, sv] = s as [number, number];
    const mi = m[i];
    const vi = v[i];
    for (let k = 0; k < mi.length; k++) {
      mi[k] *= sm;
      vi[k] *= sv;
      if (vi[k] === 0 && mi[k] !== 0) vi[k] = mi[k] * mi[k];
    }
  });
}

function checkVgg(config: TrainConfig, vgg: Vgg): void {
  if (vgg.architecture !== config.vgg.architecture || vgg.input !== config.vgg.input) {
    throw new RangeError(
      `the run was set up with a ${config.vgg.architecture} (${config.vgg.input} input) loss network, but the VGG given is a ` +
        `${vgg.architecture} (${vgg.input} input)`,
    );
  }
}

function parseJson(text: string | undefined, source: string, key: string): Record<string, unknown> {
  if (text === undefined) throw new ModelFileError(`${source}: checkpoint metadata has no "${key}"`);
  try {
    const v = JSON.parse(text);
    if (v && typeof v === 'object') return v;
  } catch {
    // reported below
  }
  throw new ModelFileError(`${source}: checkpoint metadata "${key}" is not a JSON object`);
}
