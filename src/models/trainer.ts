import type { Engine } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import type { Tensor } from '../engine/tensor.js';
import { backward } from '../autograd/tape.js';
import { add, scale } from '../autograd/functional.js';
import { Adam } from '../autograd/optim.js';
import { ADAM_HYPERPARAMETERS, type TrainConfig, type TrainingSession, type TrainingState } from './checkpoint.js';
import { readLosses, StyleLoss, type StepLosses } from './losses.js';
import { HISTORY_KEY, saveTransformNet, transformNetTensors } from './model-file.js';
import { ModelFileError } from './safetensors.js';
import { checkStability, stabilityTerm } from './stability.js';
import { TransformNet } from './transform-net.js';
import type { Vgg } from './vgg.js';

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

function checkConfig(c: TrainConfig): void {
  const positiveInt = (v: number) => Number.isInteger(v) && v >= 1;
  if (!positiveInt(c.size)) throw new RangeError(`training size must be a positive integer, got ${c.size}`);
  if (!positiveInt(c.batch)) throw new RangeError(`batch must be a positive integer, got ${c.batch}`);
  if (!(c.lr > 0 && Number.isFinite(c.lr)))
    throw new RangeError(`learning rate must be a positive number, got ${c.lr}`);
  for (const k of ['contentWeight', 'styleWeight', 'tvWeight'] as const) {
    if (!(c.loss[k] >= 0 && Number.isFinite(c.loss[k])))
      throw new RangeError(`${k} must be a number ≥ 0, got ${c.loss[k]}`);
  }
  if (c.stability) checkStability(c.stability);
}

/** A step's losses; `stability` (unweighted, squared levels) when the run has the stability term. */
export type TrainStepLosses = StepLosses & { stability?: number };

/**
 * Training of a transform net against a style: one `step` = forward, losses, backward and an Adam update,
 * with one readback (the three loss values). Holds the net, loss and optimiser (not the VGG, which the caller
 * owns) and the data order's state (seed and samples drawn), so that a checkpoint resumes exactly.
 */
export class Trainer {
  /** Samples consumed so far: with the seed, the position in the data order. */
  samplesSeen = 0;
  /**
   * The sessions of the run so far (a resumed run's, then the caller's own entry, which it keeps up to date):
   * written into checkpoints and into the model.
   */
  history: TrainingSession[] = [];

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
  static create(
    engine: Engine,
    config: TrainConfig,
    deps: { vgg: Vgg; styleImage: Tensor },
    initial?: TransformNet,
  ): Trainer {
    checkConfig(config);
    checkVgg(config, deps.vgg);
    if (initial && initial.width !== config.widthMultiplier) {
      throw new RangeError(`the initial net has width ${initial.width}, the training config ${config.widthMultiplier}`);
    }
    const net = initial ?? TransformNet.create(engine, { widthMultiplier: config.widthMultiplier, seed: config.seed });
    return Trainer.assemble(engine, config, net, deps);
  }

  /**
   * Continues a run from its state (`trainingState()`, or a checkpoint file through decodeCheckpoint) with
   * the same VGG and style image; the state's config is used. `source` names the state's file in errors.
   */
  static resume(
    engine: Engine,
    state: TrainingState,
    deps: { vgg: Vgg; styleImage: Tensor },
    source = 'checkpoint',
  ): Trainer {
    checkConfig(state.config);
    checkVgg(state.config, deps.vgg);
    const net = TransformNet.fromTensors(engine, state.net, state.weights, source);
    let trainer: Trainer | null = null;
    try {
      trainer = Trainer.assemble(engine, state.config, net, deps);
      const moments = [...net.parameters().keys()].map((name) => {
        const moment = state.moments.get(name);
        if (!moment) throw new ModelFileError(`${source}: missing optimiser state of ${name}`);
        return moment;
      });
      trainer.adam.loadState(
        state.step,
        moments.map((x) => x.m),
        moments.map((x) => x.v),
      );
      trainer.samplesSeen = state.samplesSeen;
      trainer.history = state.history.map((s) => ({ ...s }));
      return trainer;
    } catch (e) {
      if (trainer) trainer.dispose();
      else net.dispose();
      throw e;
    }
  }

  private static assemble(
    engine: Engine,
    config: TrainConfig,
    net: TransformNet,
    deps: { vgg: Vgg; styleImage: Tensor },
  ): Trainer {
    const loss = StyleLoss.create(deps.vgg, deps.styleImage, config.loss);
    const adam = new Adam([...net.parameters().values()], { lr: config.lr, ...ADAM_HYPERPARAMETERS });
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
  async step(batch: Tensor): Promise<TrainStepLosses> {
    if (batch.rank !== 4 || batch.shape[1] !== 3)
      throw new ShapeError(`Trainer.step: expects a [B, 3, S, S] batch, got ${shapeStr(batch.shape)}`);
    const stable = this.config.stability;
    const losses: TrainStepLosses = await this.engine.scopeAsync(async () => {
      this.adam.zeroGrad();
      const out = this.net.forward(batch);
      const terms = this.loss.compute(out, batch);
      // The stability term (train --stability-weight): a second forward pass on the moved, noisy batch.
      const stability = stable
        ? stabilityTerm((x) => this.net.forward(x), batch, out, stable, this.config.seed, this.stepCount + 1)
        : null;
      const total = stability ? add(terms.total, scale(stability, { alpha: stable!.weight, beta: 0 })) : terms.total;
      backward(total);
      const read = await readLosses({ ...terms, total });
      return stability ? { ...read, stability: (await stability.data())[0] } : read;
    });
    if (![losses.content, losses.style, losses.tv, losses.total, losses.stability ?? 0].every(Number.isFinite)) {
      this.adam.zeroGrad();
      throw new NonFiniteLossError(this.stepCount + 1, losses);
    }
    this.adam.lr = learningRateAt(this.config, this.stepCount + 1);
    this.adam.step();
    this.samplesSeen += batch.shape[0];
    return losses;
  }

  /**
   * The run's whole state read back from the GPU (weights, Adam moments and step, data position, config):
   * what encodeCheckpoint writes and `resume` continues from.
   */
  async trainingState(): Promise<TrainingState> {
    const weights = await transformNetTensors(this.net);
    const { m, v } = this.adam.state();
    const moments: TrainingState['moments'] = new Map();
    let i = 0;
    for (const name of this.net.parameters().keys()) {
      moments.set(name, { m: await m[i].data(), v: await v[i].data() });
      i++;
    }
    const { widthMultiplier, output, architecture } = this.net.config;
    return {
      config: this.config,
      net: { widthMultiplier, output, architecture },
      weights,
      moments,
      step: this.stepCount,
      samplesSeen: this.samplesSeen,
      history: this.history.map((s) => ({ ...s })),
    };
  }

  /** The trained net as a model file (no optimiser state; the config, step and sessions in its metadata). */
  saveModel(opts: { dtype?: 'F32' | 'F16' } = {}): Promise<Uint8Array> {
    const extra: Record<string, string> = this.history.length ? { [HISTORY_KEY]: JSON.stringify(this.history) } : {};
    return saveTransformNet(
      this.net,
      {
        style: this.config.styleName,
        training: this.config as unknown as Record<string, unknown>,
        step: this.stepCount,
      },
      opts,
      extra,
    );
  }

  dispose(): void {
    this.adam.zeroGrad();
    this.adam.dispose();
    this.loss.dispose();
    this.net.dispose();
  }
}

/** The learning rate of step `step` (1-based): config.lr, ramped up linearly over the warm-up steps. */
export function learningRateAt(config: Pick<TrainConfig, 'lr' | 'warmupSteps'>, step: number): number {
  const warmup = config.warmupSteps ?? 0;
  return warmup > 0 && step < warmup ? (config.lr * step) / warmup : config.lr;
}

function checkVgg(config: TrainConfig, vgg: Vgg): void {
  if (vgg.architecture !== config.vgg.architecture || vgg.input !== config.vgg.input) {
    throw new RangeError(
      `the run was set up with a ${config.vgg.architecture} (${config.vgg.input} input) loss network, but the VGG given is a ` +
        `${vgg.architecture} (${vgg.input} input)`,
    );
  }
}
