import { choiceKey, workgroups1d, type Engine } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import { packParams, type Kernel } from '../engine/kernel.js';
import { Tensor } from '../engine/tensor.js';
import source from '../shaders/gram.wgsl';
import { cpuTensor } from './cpu.js';
import { resolveFeed, type FeedChoice } from './feed.js';
import { defineOp } from './op.js';

/** Threads per workgroup along each axis. */
const WG_SIDE = 16;
/** Reduction step held in workgroup memory. */
const TILE_K = 16;
/** Outputs per thread along each axis: gram.wgsl's THREAD_TILE (a WGSL const, kept in step by hand). */
const THREAD_TILE = 4;
/** Output tile edge of one workgroup. */
const TILE = WG_SIDE * THREAD_TILE;

/**
 * Split-K: with few channels (VGG relu1_2: C = 64, one tile per image) and a long H·W, G alone gives a GPU a
 * handful of workgroups. The reduction is split until about this many workgroups run…
 */
const TARGET_WORKGROUPS = 512;
/** …but no slice is shorter than this, since each slice adds a C×C partial to write and sum. */
const MIN_SLICE_LENGTH = 256;
/** Rows × columns per thread of the register-blocked entry points (gram.wgsl REG). */
const REG = 8;

/**
 * How gram and its backward get their operands on an engine (engine.setChoice; see Feed): staged
 * (gramPartial/inputGrad, tiles in workgroup memory) or registers (gramRegisters/inputGradRegisters, measured
 * on lavapipe in bench/RESULTS.md, `--profile-train --variants gram-staged`).
 */
export const GRAM_FEED = choiceKey<FeedChoice>('auto');

function useRegisters(engine: Engine): boolean {
  return resolveFeed(engine.choice(GRAM_FEED), engine.adapter.isFallbackAdapter) === 'registers';
}

type Entry = 'gramPartial' | 'sumSlices' | 'inputGrad' | 'gramRegisters' | 'inputGradRegisters';

function kernel(entryPoint: Entry): Kernel {
  return { name: `gram.${entryPoint}`, code: source, entryPoint, constants: { WG_SIDE, TILE_K } };
}

interface Dims {
  batch: number;
  channels: number;
  reduction: number;
}

function dims(shape: readonly number[]): Dims {
  if (shape.length !== 4 || shape.some((d) => d === 0)) {
    throw new ShapeError(`gram: x must be a non-empty [N, C, H, W], got ${shapeStr(shape)}`);
  }
  const [batch, channels, h, w] = shape;
  return { batch, channels, reduction: h * w };
}

interface SplitK {
  slices: number;
  sliceLength: number;
}

function splitK(d: Dims, maxZ: number): SplitK {
  const tiles = Math.ceil(d.channels / TILE);
  // Tiles below the diagonal exit at once: only the upper triangle counts.
  const busy = ((tiles * (tiles + 1)) / 2) * d.batch;
  const wanted = Math.ceil(TARGET_WORKGROUPS / busy);
  const most = Math.min(Math.ceil(d.reduction / MIN_SLICE_LENGTH), Math.floor(maxZ / d.batch));
  const slices = Math.max(1, Math.min(wanted, most));
  // Whole TILE_K steps per slice; rounding up may leave fewer slices than asked for.
  const sliceLength = Math.ceil(d.reduction / slices / TILE_K) * TILE_K;
  return { slices: Math.ceil(d.reduction / sliceLength), sliceLength };
}

function params(d: Dims, split: SplitK): ArrayBuffer {
  return packParams(
    [d.channels, d.reduction, d.batch, split.sliceLength, split.slices],
    [1 / (d.channels * d.reduction)],
  );
}

/**
 * Gram matrices for style losses: x [N, C, H, W] → G [N, C, C], G = F·Fᵀ/(C·H·W) with F = x as C × (H·W).
 * Backward: dF = (dG + dGᵀ)·F/(C·H·W).
 */
export const gram = defineOp({
  name: 'gram',
  inputs: ['x'],
  forward([x]: [x: Tensor]) {
    const d = dims(x.shape);
    const engine = x.engine;
    if (useRegisters(engine)) {
      const g = Tensor.empty(engine, [d.batch, d.channels, d.channels]);
      const blocks = Math.ceil(d.channels / REG);
      engine.dispatch({
        kernel: kernel('gramRegisters'),
        buffers: [x.buffer, null, g.buffer],
        params: params(d, { slices: 1, sliceLength: d.reduction }),
        workgroups: [Math.ceil(blocks / WG_SIDE), Math.ceil(blocks / WG_SIDE), d.batch],
        label: 'gram',
        flops: 2 * d.batch * d.channels * d.channels * d.reduction,
      });
      return { output: g, saved: [x] };
    }
    const tiles = Math.ceil(d.channels / TILE);
    const split = splitK(d, engine.limits.maxComputeWorkgroupsPerDimension);
    const p = params(d, split);
    const g = Tensor.empty(engine, [d.batch, d.channels, d.channels]);
    const partials = split.slices > 1 ? Tensor.empty(engine, [split.slices, ...g.shape], 'gram.partials') : null;
    engine.dispatch({
      kernel: kernel('gramPartial'),
      buffers: [x.buffer, null, (partials ?? g).buffer],
      params: p,
      workgroups: [tiles, tiles, d.batch * split.slices],
      label: 'gram',
    });
    if (partials) {
      engine.dispatch({
        kernel: kernel('sumSlices'),
        buffers: [null, partials.buffer, g.buffer],
        params: p,
        workgroups: workgroups1d(engine, g.size, WG_SIDE * WG_SIDE),
        label: 'gram.sumSlices',
      });
      partials.dispose();
    }
    return { output: g, saved: [x] };
  },
  backward({ saved: [x] }, dG) {
    const d = dims(x.shape);
    const engine = x.engine;
    const dx = Tensor.empty(engine, x.shape);
    if (useRegisters(engine)) {
      engine.dispatch({
        kernel: kernel('inputGradRegisters'),
        buffers: [x.buffer, dG.buffer, dx.buffer],
        params: params(d, { slices: 1, sliceLength: d.reduction }),
        workgroups: [Math.ceil(d.reduction / REG / WG_SIDE), Math.ceil(d.channels / REG / WG_SIDE), d.batch],
        label: 'gram.backward',
        flops: 2 * d.batch * d.channels * d.channels * d.reduction,
      });
      return [dx];
    }
    engine.dispatch({
      kernel: kernel('inputGrad'),
      buffers: [x.buffer, dG.buffer, dx.buffer],
      params: params(d, { slices: 1, sliceLength: d.reduction }),
      workgroups: [Math.ceil(d.reduction / TILE), Math.ceil(d.channels / TILE), d.batch],
      label: 'gram.backward',
    });
    return [dx];
  },
  reference([x]) {
    const { batch, channels, reduction } = dims(x.shape);
    const g = cpuTensor([batch, channels, channels]);
    const scale = 1 / (channels * reduction);
    for (let n = 0; n < batch; n++) {
      const f = (c: number, k: number): number => x.data[(n * channels + c) * reduction + k];
      for (let i = 0; i < channels; i++) {
        for (let j = 0; j < channels; j++) {
          let s = 0;
          for (let k = 0; k < reduction; k++) s += f(i, k) * f(j, k);
          g.data[(n * channels + i) * channels + j] = s * scale;
        }
      }
    }
    return g;
  },
});
