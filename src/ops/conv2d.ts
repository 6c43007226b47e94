import { choiceKey, workgroups1d, type Engine } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import type { Kernel } from '../engine/kernel.js';
import { Tensor } from '../engine/tensor.js';
import paramsSource from '../shaders/conv2d_common.wgsl';
import sourceCoordSource from '../shaders/conv2d_source_coord.wgsl';
import directBody from '../shaders/conv2d_direct.wgsl';
import foldBody from '../shaders/conv2d_fold.wgsl';
import gemmBody from '../shaders/conv2d_gemm.wgsl';
import microkernelSource from '../shaders/gemm_microkernel.wgsl';
import stagedSource from '../shaders/gemm_staged.wgsl';
import narrowBody from '../shaders/conv2d_narrow.wgsl';
import reduceBody from '../shaders/conv2d_reduce.wgsl';
import {
  conv2dWinogradForward,
  conv2dWinogradWeightGrad,
  winogradUnsupported,
  winogradWeightGradUnsupported,
} from './conv2d-winograd.js';
import { cpuTensor, type CpuTensor } from './cpu.js';
import { defineOp } from './op.js';
import { convSourceIndex } from './padding.js';
import { geometryParams, packConv2dParams } from './conv2d-params.js';
import {
  conv2dFlops,
  conv2dGeometry,
  conv2dOutputShape,
  gemmTileCols,
  gemmTileFor,
  gemmTileRows,
  type Conv2dAttrs,
  type Conv2dForwardImpl,
  type Conv2dGeometry,
  type Conv2dImpl,
  type GemmTile,
} from './conv2d-geometry.js';

// The geometry module's names, for callers that know them from here.
export * from './conv2d-geometry.js';

// Every conv2d shader shares one Params layout and the padding/upsampling index map (conv2d_common.wgsl):
// WGSL has no includes, so the common part is prefixed here, once per shader.
const commonSource = paramsSource + sourceCoordSource;
const directSource = commonSource + directBody;
const foldSource = commonSource + foldBody;
// The GEMM's tiling, register block and staged tiles are shared with the Winograd GEMM (gemm_microkernel.wgsl
// before the body, gemm_staged.wgsl after it: see there why).
const gemmSource = commonSource + microkernelSource + gemmBody + stagedSource;
const narrowSource = commonSource + narrowBody;
const reduceSource = commonSource + reduceBody;

const PASS_CODE = { forward: 0, inputGrad: 1, weightGrad: 2, inputGradPhase: 3 } as const;
const WORKGROUP_SIZE = 256;
/** Output channels conv2d_narrow.wgsl computes per thread (its vec4 accumulator). */
const NARROW_MAX_OUT_CHANNELS = 4;
const NARROW_WORKGROUP_SIZE = 64;
/** Horizontally adjacent output pixels per thread of conv2d_narrow.wgsl (its PIXELS). */
const NARROW_PIXELS = 4;

function deviceTileFor(engine: Engine, rows: number): GemmTile {
  return gemmTileFor(rows, engine.limits.maxComputeWorkgroupStorageSize);
}

/** Split-K of the weight gradient: aim for this many workgroups, each summing at least MIN_CHUNK pixels. */
const WEIGHT_GRAD_TARGET_WORKGROUPS = 256;
const WEIGHT_GRAD_MIN_CHUNK = 256;

function sameShape(t: Tensor, shape: readonly number[], what: string): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new ShapeError(`conv2d: ${what} ${shapeStr(t.shape)} should be ${shapeStr(shape)}`);
  }
}

// ------------------------------------------------------------------ dispatch helpers

/** One stride phase of the input gradient: padded positions ≡ (y, x) mod stride and the taps that meet them. */
interface StridePhase {
  y: number;
  x: number;
  height: number;
  width: number;
  tapsY: number;
  tapsX: number;
}

function stridePhases(g: Conv2dGeometry): StridePhase[] {
  const s = g.stride;
  const phases: StridePhase[] = [];
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      phases.push({
        y,
        x,
        height: Math.ceil((g.paddedHeight - y) / s),
        width: Math.ceil((g.paddedWidth - x) / s),
        tapsY: Math.ceil((g.kernelSize - y) / s),
        tapsX: Math.ceil((g.kernelSize - x) / s),
      });
    }
  }
  return phases;
}

const NO_PHASE: StridePhase = { y: 0, x: 0, height: 0, width: 0, tapsY: 0, tapsX: 0 };

/**
 * The phase GEMM of the input gradient skips the taps a strided conv never meets and has cheaper index math
 * (no per-element tap decomposition), but rounds Cout up to TILE_K per tap: with few output channels (the
 * transform net's last layer has 3) the plain gather GEMM wastes less.
 */
function usePhaseGemm(g: Conv2dGeometry): boolean {
  return g.stride > 1 || g.outChannels >= 16;
}

function params(g: Conv2dGeometry, total: number, reduceChunk = 0, hasBias = false, phase = NO_PHASE): ArrayBuffer {
  return packConv2dParams({
    ...geometryParams(g),
    total,
    reduceChunk,
    hasBias: hasBias ? 1 : 0,
    phaseY: phase.y,
    phaseX: phase.x,
    phaseHeight: phase.height,
    phaseWidth: phase.width,
    phaseTapsY: phase.tapsY,
    phaseTapsX: phase.tapsX,
  });
}

// Only the kernel size and the pass/tile are pipeline constants: stride, upsampling, padding mode and bias
// are uniforms, so that the layers of a net share pipelines (each compile takes seconds on software GPUs).
function directKernel(entryPoint: 'forward' | 'paddedInputGrad' | 'weightGrad', g: Conv2dGeometry): Kernel {
  return { name: 'conv2d.direct', code: directSource, entryPoint, constants: { KSIZE: g.kernelSize, WORKGROUP_SIZE } };
}

/** How a GEMM gets its operands: 'auto' is 'registers' on fallback (CPU) adapters (like the Winograd GEMM), 'staged' elsewhere. */
export type GemmFeed = 'auto' | 'staged' | 'registers';

/**
 * How the forward and weight-gradient GEMMs (conv2d_gemm.wgsl) get their operands: `staged` (entry point
 * main) through tiles in workgroup memory (GPUs); `registers` (forwardRegisters, weightGradRegisters) each
 * thread straight from storage, without barriers, which is faster on lavapipe (bench/RESULTS.md, "GEMM
 * microkernel" section: `npm run bench -- --profile-train --variants conv-gemm-staged`). The input-gradient
 * GEMMs always stage.
 */
export const CONV2D_GEMM_FEED = choiceKey<{ forward: GemmFeed; weightGrad: GemmFeed }>({
  forward: 'auto',
  weightGrad: 'auto',
});

function registers(engine: Engine, feed: GemmFeed): boolean {
  return feed === 'registers' || (feed === 'auto' && engine.adapter.isFallbackAdapter);
}

function gemmKernel(engine: Engine, pass: keyof typeof PASS_CODE, g: Conv2dGeometry, tile: GemmTile): Kernel {
  const constants = { KSIZE: g.kernelSize, ...tile, PASS: PASS_CODE[pass] };
  // The registers entry points walk k in their own order (the forward: taps outer, channels inner, any Cin):
  // K_ORDER is the staged loaders' choice.
  const feed = engine.choice(CONV2D_GEMM_FEED);
  if (pass === 'forward' && registers(engine, feed.forward)) {
    return { name: 'conv2d.gemm', code: gemmSource, entryPoint: 'forwardRegisters', constants };
  }
  if (pass === 'weightGrad' && registers(engine, feed.weightGrad)) {
    return { name: 'conv2d.gemm', code: gemmSource, entryPoint: 'weightGradRegisters', constants };
  }
  const kOrder = pass === 'forward' && forwardTapMajor(g, tile) ? K_ORDER_CODE.tapMajor : K_ORDER_CODE.channelMajor;
  return { name: 'conv2d.gemm', code: gemmSource, constants: { ...constants, K_ORDER: kOrder } };
}

const K_ORDER_CODE = { channelMajor: 0, tapMajor: 1 } as const;

/**
 * The forward GEMM's k order (conv2d_gemm.wgsl K_ORDER): tap-major, which resolves each tap's source pixel
 * once per tile column instead of per element, when Cin is a multiple of TILE_K (so rounding Cin up to
 * whole k tiles wastes nothing); channel-major otherwise (the 3-channel image layers).
 */
export function forwardTapMajor(g: Conv2dGeometry, tile: GemmTile = gemmTileFor(g.outChannels)): boolean {
  return g.inChannels % tile.TILE_K === 0;
}

/** Workgroups for a GEMM of rows×cols tiles; an x-grid wider than the device allows folds into z. */
function gemmGrid(engine: Engine, tile: GemmTile, rows: number, cols: number): [number, number, number] {
  const tilesX = Math.ceil(cols / gemmTileCols(tile));
  const tilesY = Math.ceil(rows / gemmTileRows(tile));
  const max = engine.limits.maxComputeWorkgroupsPerDimension;
  if (tilesX <= max) return [tilesX, tilesY, 1];
  const z = Math.ceil(tilesX / max);
  return [Math.ceil(tilesX / z), tilesY, z];
}

// ------------------------------------------------------------------ forward

/** y = conv2d(upsample(x)) + bias with the chosen implementation (no gradient recorded). */
export function conv2dForward(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  attrs: Conv2dAttrs,
  impl: Conv2dForwardImpl = 'tiled',
): Tensor {
  const g = conv2dGeometry(x.shape, weight.shape, bias ? bias.shape : null, attrs);
  const engine = x.engine;
  if (impl === 'winograd') return conv2dWinogradForward(x, weight, bias, g, deviceTileFor(engine, g.outChannels));
  const y = Tensor.empty(engine, conv2dOutputShape(g), 'conv2d.y');
  // Without a bias the kernel never reads binding 3, but it is statically used: bind the weight in its place.
  const biasBuffer = bias ? bias.buffer : weight.buffer;
  if (impl === 'direct') {
    engine.dispatch({
      kernel: directKernel('forward', g),
      buffers: [x.buffer, weight.buffer, biasBuffer, y.buffer],
      params: params(g, y.size, 0, bias !== null),
      workgroups: workgroups1d(engine, y.size, WORKGROUP_SIZE),
      label: 'conv2d.forward.direct',
      flops: conv2dFlops(g),
    });
  } else if (g.outChannels <= NARROW_MAX_OUT_CHANNELS) {
    const threads = g.batch * g.outHeight * Math.ceil(g.outWidth / NARROW_PIXELS);
    engine.dispatch({
      kernel: {
        name: 'conv2d.narrow',
        code: narrowSource,
        constants: { KSIZE: g.kernelSize, WORKGROUP_SIZE: NARROW_WORKGROUP_SIZE, PIXELS: NARROW_PIXELS },
      },
      buffers: [x.buffer, weight.buffer, biasBuffer, y.buffer],
      params: params(g, threads, 0, bias !== null),
      workgroups: workgroups1d(engine, threads, NARROW_WORKGROUP_SIZE),
      label: 'conv2d.forward.narrow',
      flops: conv2dFlops(g),
    });
  } else {
    engine.dispatch({
      kernel: gemmKernel(engine, 'forward', g, deviceTileFor(engine, g.outChannels)),
      buffers: [x.buffer, weight.buffer, biasBuffer, y.buffer],
      params: params(g, y.size, 0, bias !== null),
      workgroups: gemmGrid(
        engine,
        deviceTileFor(engine, g.outChannels),
        g.outChannels,
        g.batch * g.outHeight * g.outWidth,
      ),
      label: 'conv2d.forward.tiled',
      flops: conv2dFlops(g),
    });
  }
  return y;
}

// ------------------------------------------------------------------ backward

/** dL/dx: the gradient w.r.t. the padded, upsampled input, folded back onto x. */
export function conv2dBackwardInput(
  dy: Tensor,
  weight: Tensor,
  xShape: readonly number[],
  attrs: Conv2dAttrs,
  impl: Conv2dForwardImpl = 'tiled',
): Tensor {
  const g = conv2dGeometry(xShape, weight.shape, null, attrs);
  sameShape(dy, conv2dOutputShape(g), 'output gradient');
  const engine = dy.engine;
  const paddedShape = [g.batch, g.inChannels, g.paddedHeight, g.paddedWidth];
  return engine.scope(() => {
    let paddedGrad: Tensor;
    if (impl === 'winograd') {
      const t = winogradInputGradGeometry(g);
      const grad = conv2dWinogradForward(dy, weight, null, t.geometry, deviceTileFor(engine, g.inChannels), {
        flipTransposed: true,
        label: 'conv2d.backwardInput.winograd',
      });
      if (!t.padded) return grad;
      paddedGrad = grad;
    } else if (impl === 'direct') {
      paddedGrad = Tensor.empty(engine, paddedShape, 'conv2d.paddedInputGrad');
      engine.dispatch({
        kernel: directKernel('paddedInputGrad', g),
        buffers: [dy.buffer, weight.buffer, null, paddedGrad.buffer],
        params: params(g, paddedGrad.size),
        workgroups: workgroups1d(engine, paddedGrad.size, WORKGROUP_SIZE),
        label: 'conv2d.backwardInput.direct',
        flops: conv2dFlops(g),
      });
    } else if (usePhaseGemm(g)) {
      paddedGrad = Tensor.empty(engine, paddedShape, 'conv2d.paddedInputGrad');
      // One GEMM per stride phase, each summing only the taps that reach its positions; together the phases
      // cover every padded position once.
      const tile = deviceTileFor(engine, g.inChannels);
      for (const phase of stridePhases(g)) {
        engine.dispatch({
          kernel: gemmKernel(engine, 'inputGradPhase', g, tile),
          buffers: [dy.buffer, weight.buffer, weight.buffer, paddedGrad.buffer],
          params: params(g, paddedGrad.size, 0, false, phase),
          workgroups: gemmGrid(engine, tile, g.inChannels, g.batch * phase.height * phase.width),
          label: 'conv2d.backwardInput.tiled',
          flops: conv2dFlops(g) / g.stride ** 2,
        });
      }
    } else {
      paddedGrad = Tensor.empty(engine, paddedShape, 'conv2d.paddedInputGrad');
      engine.dispatch({
        kernel: gemmKernel(engine, 'inputGrad', g, deviceTileFor(engine, g.inChannels)),
        // Binding 3 (bias) is statically used by the shared GEMM shader: any read-only buffer fills it.
        buffers: [dy.buffer, weight.buffer, weight.buffer, paddedGrad.buffer],
        params: params(g, paddedGrad.size),
        workgroups: gemmGrid(
          engine,
          deviceTileFor(engine, g.inChannels),
          g.inChannels,
          g.batch * g.paddedHeight * g.paddedWidth,
        ),
        label: 'conv2d.backwardInput.tiled',
        flops: conv2dFlops(g),
      });
    }
    const dx = Tensor.empty(engine, xShape, 'conv2d.dx');
    engine.dispatch({
      kernel: { name: 'conv2d.fold', code: foldSource, constants: { WORKGROUP_SIZE } },
      buffers: [paddedGrad.buffer, dx.buffer],
      params: params(g, dx.size),
      workgroups: workgroups1d(engine, dx.size, WORKGROUP_SIZE),
      label: 'conv2d.backwardInput.fold',
    });
    return dx;
  });
}

/** How many chunks the weight gradient's long reduction is split into (1: no split). */
export function weightGradSplits(g: Conv2dGeometry, tile: GemmTile = gemmTileFor(g.outChannels)): number {
  const depth = g.batch * g.outHeight * g.outWidth;
  const tiles =
    Math.ceil(g.outChannels / gemmTileRows(tile)) * Math.ceil((g.inChannels * g.kernelSize ** 2) / gemmTileCols(tile));
  const wanted = Math.ceil(WEIGHT_GRAD_TARGET_WORKGROUPS / tiles);
  const most = Math.max(1, Math.floor(depth / WEIGHT_GRAD_MIN_CHUNK));
  return Math.max(1, Math.min(wanted, most));
}

/** dL/dweight. */
export function conv2dBackwardWeight(
  dy: Tensor,
  x: Tensor,
  weightShape: readonly number[],
  attrs: Conv2dAttrs,
  impl: Conv2dForwardImpl = 'tiled',
): Tensor {
  const g = conv2dGeometry(x.shape, weightShape, null, attrs);
  sameShape(dy, conv2dOutputShape(g), 'output gradient');
  const engine = dy.engine;
  if (impl === 'winograd') return conv2dWinogradWeightGrad(dy, x, g, deviceTileFor(engine, g.outChannels));
  const size = g.outChannels * g.inChannels * g.kernelSize ** 2;
  if (impl === 'direct') {
    const dw = Tensor.empty(engine, weightShape, 'conv2d.dweight');
    engine.dispatch({
      kernel: directKernel('weightGrad', g),
      buffers: [dy.buffer, x.buffer, null, dw.buffer],
      params: params(g, size),
      workgroups: workgroups1d(engine, size, WORKGROUP_SIZE),
      label: 'conv2d.backwardWeight.direct',
      flops: conv2dFlops(g),
    });
    return dw;
  }
  if (g.outChannels <= NARROW_MAX_OUT_CHANNELS && g.kernelSize <= NARROW_WEIGHT_GRAD_MAX_KSIZE)
    return narrowWeightGrad(dy, x, weightShape, g);
  const depth = g.batch * g.outHeight * g.outWidth;
  const tile = deviceTileFor(engine, g.outChannels);
  const splits = Math.min(weightGradSplits(g, tile), engine.limits.maxComputeWorkgroupsPerDimension);
  const chunk = Math.ceil(depth / splits / tile.TILE_K) * tile.TILE_K;
  const usedSplits = Math.ceil(depth / chunk);
  const [tilesX, tilesY] = gemmGrid(engine, tile, g.outChannels, g.inChannels * g.kernelSize ** 2);
  return splitKWeightGrad(engine, weightShape, g, usedSplits, (partial) =>
    engine.dispatch({
      kernel: gemmKernel(engine, 'weightGrad', g, tile),
      buffers: [dy.buffer, x.buffer, x.buffer, partial.buffer],
      params: params(g, size, chunk),
      workgroups: [tilesX, tilesY, usedSplits],
      label: 'conv2d.backwardWeight.tiled',
      flops: conv2dFlops(g),
    }),
  );
}

/**
 * A split-K weight gradient: `dispatchPartial` writes `splits` partial sums of dw into `partial` ([splits,
 * size], or dw itself when splits is 1), then conv2d_reduce.wgsl sumSplits adds them up.
 */
function splitKWeightGrad(
  engine: Engine,
  weightShape: readonly number[],
  g: Conv2dGeometry,
  splits: number,
  dispatchPartial: (partial: Tensor) => void,
): Tensor {
  const size = g.outChannels * g.inChannels * g.kernelSize ** 2;
  return engine.scope(() => {
    const partial =
      splits === 1
        ? Tensor.empty(engine, weightShape, 'conv2d.dweight')
        : Tensor.empty(engine, [splits, size], 'conv2d.dweight.partial');
    dispatchPartial(partial);
    if (splits === 1) return partial;
    const dw = Tensor.empty(engine, weightShape, 'conv2d.dweight');
    engine.dispatch({
      kernel: { name: 'conv2d.reduce', code: reduceSource, entryPoint: 'sumSplits', constants: { WORKGROUP_SIZE } },
      buffers: [partial.buffer, dw.buffer],
      params: params(g, size, splits),
      workgroups: workgroups1d(engine, size, WORKGROUP_SIZE),
      label: 'conv2d.backwardWeight.sumSplits',
    });
    return dw;
  });
}

/** Largest kernel conv2d_narrow.wgsl's weightGrad takes (its MAX_KSIZE). */
const NARROW_WEIGHT_GRAD_MAX_KSIZE = 9;
/** Split-K of the narrow weight gradient: aim for this many threads, each summing at least MIN_ROWS rows. */
const NARROW_WEIGHT_GRAD_TARGET_THREADS = 16384;
const NARROW_WEIGHT_GRAD_MIN_ROWS = 4;

/**
 * dL/dweight of a conv with at most NARROW_MAX_OUT_CHANNELS output channels (the transform net's 32→3 output
 * layer): conv2d_narrow.wgsl weightGrad, split over output rows, then the partial sums added up.
 */
function narrowWeightGrad(dy: Tensor, x: Tensor, weightShape: readonly number[], g: Conv2dGeometry): Tensor {
  const engine = dy.engine;
  const rows = g.batch * g.outHeight;
  const perSplit = g.inChannels * g.kernelSize;
  const wanted = Math.max(1, Math.ceil(NARROW_WEIGHT_GRAD_TARGET_THREADS / perSplit));
  const chunk = Math.max(NARROW_WEIGHT_GRAD_MIN_ROWS, Math.ceil(rows / wanted));
  const splits = Math.ceil(rows / chunk);
  const threads = splits * perSplit;
  return splitKWeightGrad(engine, weightShape, g, splits, (partial) =>
    engine.dispatch({
      kernel: {
        name: 'conv2d.narrow',
        code: narrowSource,
        entryPoint: 'weightGrad',
        constants: { KSIZE: g.kernelSize, WORKGROUP_SIZE: NARROW_WORKGROUP_SIZE },
      },
      buffers: [x.buffer, dy.buffer, null, partial.buffer],
      params: params(g, threads, chunk),
      workgroups: workgroups1d(engine, threads, NARROW_WORKGROUP_SIZE),
      label: 'conv2d.backwardWeight.narrow',
      flops: conv2dFlops(g),
    }),
  );
}

/** dL/dbias: dy summed over batch and pixels, per channel. */
export function conv2dBackwardBias(dy: Tensor): Tensor {
  if (dy.shape.length !== 4)
    throw new ShapeError(`conv2d: output gradient ${shapeStr(dy.shape)} must be [N, Cout, Ho, Wo]`);
  const [batch, outChannels, outHeight, outWidth] = dy.shape;
  const engine = dy.engine;
  const db = Tensor.empty(engine, [outChannels], 'conv2d.dbias');
  engine.dispatch({
    kernel: { name: 'conv2d.reduce', code: reduceSource, entryPoint: 'biasGrad', constants: { WORKGROUP_SIZE } },
    buffers: [dy.buffer, db.buffer],
    params: packConv2dParams({ batch, outChannels, outHeight, outWidth, total: outChannels }),
    workgroups: [outChannels],
    label: 'conv2d.backwardBias',
  });
  return db;
}

// ------------------------------------------------------------------ CPU reference

/** The padded, upsampled input as a plain array (float64): what every tap of the reference reads. */
function padUpsampleCpu(x: CpuTensor, g: Conv2dGeometry): Float64Array {
  const { paddedHeight: hp, paddedWidth: wp, padding: p, upsample: up } = g;
  const out = new Float64Array(g.batch * g.inChannels * hp * wp);
  for (let plane = 0; plane < g.batch * g.inChannels; plane++) {
    for (let yp = 0; yp < hp; yp++) {
      const sy = convSourceIndex(yp, g.inHeight, up, g.upsampleMode, p, g.padMode);
      if (sy < 0) continue;
      for (let xp = 0; xp < wp; xp++) {
        const sx = convSourceIndex(xp, g.inWidth, up, g.upsampleMode, p, g.padMode);
        if (sx < 0) continue;
        out[(plane * hp + yp) * wp + xp] = x.data[(plane * g.inHeight + sy) * g.inWidth + sx];
      }
    }
  }
  return out;
}

function conv2dReference(x: CpuTensor, w: CpuTensor, b: CpuTensor | null, attrs: Conv2dAttrs): CpuTensor {
  const g = conv2dGeometry(x.shape, w.shape, b ? b.shape : null, attrs);
  const xp = padUpsampleCpu(x, g);
  const { kernelSize: k, stride: s, paddedHeight: hp, paddedWidth: wp } = g;
  const y = cpuTensor(conv2dOutputShape(g));
  let o = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let co = 0; co < g.outChannels; co++) {
      for (let oy = 0; oy < g.outHeight; oy++) {
        for (let ox = 0; ox < g.outWidth; ox++) {
          let acc = b ? b.data[co] : 0;
          for (let ci = 0; ci < g.inChannels; ci++) {
            const xPlane = (n * g.inChannels + ci) * hp;
            const wPlane = (co * g.inChannels + ci) * k;
            for (let ky = 0; ky < k; ky++) {
              const xRow = (xPlane + oy * s + ky) * wp + ox * s;
              const wRow = (wPlane + ky) * k;
              for (let kx = 0; kx < k; kx++) acc += xp[xRow + kx] * w.data[wRow + kx];
            }
          }
          y.data[o++] = acc;
        }
      }
    }
  }
  return y;
}

// ------------------------------------------------------------------ the op

/**
 * GEMMs with fewer rows than this (3-channel image layers: the input gradient of the first layers, the
 * forward and weight gradient of the transform net's output layer) waste most of even the narrowest tile;
 * the direct kernels run them faster on lavapipe, also against register-blocked 8- or 16-row tiles
 * (`npm run bench -- --conv2d`; figures in bench/RESULTS.md).
 */
const MIN_TILED_ROWS = 8;

/**
 * The implementation the op runs for one pass: tiled, except for GEMMs of very few rows, which run direct;
 * a forward pass of at most NARROW_MAX_OUT_CHANNELS output channels counts as tiled (conv2d_narrow.wgsl).
 */
export function conv2dImplFor(
  pass: 'forward' | 'backwardInput' | 'backwardWeight',
  g: Conv2dGeometry,
  engine: Engine,
): Conv2dImpl {
  if (pass === 'forward' && g.outChannels <= NARROW_MAX_OUT_CHANNELS) return 'tiled';
  if (
    pass === 'backwardWeight' &&
    engine.choice(CONV2D_CHOICES).narrowWeightGrad &&
    g.outChannels <= NARROW_MAX_OUT_CHANNELS &&
    g.kernelSize <= NARROW_WEIGHT_GRAD_MAX_KSIZE
  )
    return 'tiled';
  const rows = pass === 'backwardInput' ? g.inChannels : g.outChannels;
  return rows < MIN_TILED_ROWS ? 'direct' : 'tiled';
}

/**
 * Which kernels the op may pick on an engine (engine.setChoice), all on by default; switches so that tests and
 * benchmarks compare them in one process.
 */
export interface Conv2dChoices {
  /**
   * The forward runs Winograd F(2×2, 3×3) (src/ops/conv2d-winograd.ts) where the conv qualifies (see
   * useWinogradForward; bench/conv2d.ts benchConv2dForwardVariants, `npm run bench -- --stylize-variants`;
   * figures in bench/RESULTS.md).
   */
  readonly winogradForward: boolean;
  /**
   * The input gradient of 3×3 stride-1 convs likewise (useWinogradInputGrad; measured in bench/RESULTS.md,
   * `npm run bench -- --train-step --variants no-winograd-input-grad`).
   */
  readonly winogradInputGrad: boolean;
  /** The weight gradient likewise (useWinogradWeightGrad, `--variants no-winograd-weight-grad`). */
  readonly winogradWeightGrad: boolean;
  /** The weight gradient of ≤ 4 output channels runs conv2d_narrow.wgsl weightGrad (as 'tiled'), not direct. */
  readonly narrowWeightGrad: boolean;
}

export const CONV2D_CHOICES = choiceKey<Conv2dChoices>({
  winogradForward: true,
  winogradInputGrad: true,
  winogradWeightGrad: true,
  narrowWeightGrad: true,
});

/** Fewest input channels for which the op picks Winograd (its GEMMs are Cin deep). */
const WINOGRAD_MIN_IN_CHANNELS = 16;

/**
 * Whether the op's forward runs Winograd: 3×3 stride 1 (any padding, upsampling) with at least
 * WINOGRAD_MIN_IN_CHANNELS input and more than NARROW_MAX_OUT_CHANNELS output channels, and intermediates that
 * fit one storage binding.
 */
export function useWinogradForward(g: Conv2dGeometry, engine: Engine): boolean {
  return (
    engine.choice(CONV2D_CHOICES).winogradForward &&
    g.inChannels >= WINOGRAD_MIN_IN_CHANNELS &&
    g.outChannels > NARROW_MAX_OUT_CHANNELS &&
    winogradUnsupported(g, Math.min(engine.limits.maxStorageBufferBindingSize, engine.limits.maxBufferSize)) === null
  );
}

/**
 * The input gradient of a 3×3 stride-1 conv as a forward conv that Winograd runs: dy convolved with the
 * flipped, transposed kernel (Cout → Cin channels). Zero padding without upsampling (VGG): padding 2 − p
 * gives dx directly. Otherwise (reflect padding, upsampling): padding 2 gives the gradient w.r.t. the padded,
 * upsampled input (Hp×Wp), which conv2d_fold.wgsl folds onto x like the tiled path's.
 */
export function winogradInputGradGeometry(g: Conv2dGeometry): { geometry: Conv2dGeometry; padded: boolean } {
  const padded = !(g.padMode === 'zeros' && g.upsample === 1 && g.padding <= 2);
  const geometry = conv2dGeometry(
    [g.batch, g.outChannels, g.outHeight, g.outWidth],
    [g.inChannels, g.outChannels, 3, 3],
    null,
    {
      stride: 1,
      padding: padded ? 2 : 2 - g.padding,
      padMode: 'zeros',
    },
  );
  return { geometry, padded };
}

/**
 * Whether the op's input gradient runs Winograd: a 3×3 stride-1 conv whose transposed conv qualifies like a
 * forward one (at least WINOGRAD_MIN_IN_CHANNELS output channels, more than NARROW_MAX_OUT_CHANNELS input
 * channels, intermediates within one binding).
 */
export function useWinogradInputGrad(g: Conv2dGeometry, engine: Engine): boolean {
  if (!engine.choice(CONV2D_CHOICES).winogradInputGrad || g.kernelSize !== 3 || g.stride !== 1) return false;
  if (g.outChannels < WINOGRAD_MIN_IN_CHANNELS || g.inChannels <= NARROW_MAX_OUT_CHANNELS) return false;
  const t = winogradInputGradGeometry(g).geometry;
  return (
    winogradUnsupported(t, Math.min(engine.limits.maxStorageBufferBindingSize, engine.limits.maxBufferSize)) === null
  );
}

/** Fewest output channels (the weight gradient GEMM's rows) for which the op picks the Winograd weight gradient. */
const WINOGRAD_WEIGHT_GRAD_MIN_OUT_CHANNELS = 8;

/**
 * Whether the op's weight gradient runs Winograd (conv2dWinogradWeightGrad): 3×3 stride 1 with at least
 * WINOGRAD_MIN_IN_CHANNELS input and WINOGRAD_WEIGHT_GRAD_MIN_OUT_CHANNELS output channels, intermediates
 * within one binding.
 */
export function useWinogradWeightGrad(g: Conv2dGeometry, engine: Engine): boolean {
  return (
    engine.choice(CONV2D_CHOICES).winogradWeightGrad &&
    g.inChannels >= WINOGRAD_MIN_IN_CHANNELS &&
    g.outChannels >= WINOGRAD_WEIGHT_GRAD_MIN_OUT_CHANNELS &&
    winogradWeightGradUnsupported(
      g,
      Math.min(engine.limits.maxStorageBufferBindingSize, engine.limits.maxBufferSize),
    ) === null
  );
}

/**
 * 2-D convolution, NCHW, weight OIHW, optional bias; zero or reflect padding; optional nearest ×2 upsampling
 * of x fused into the input indexing (resize-conv). Runs the tiled implicit-GEMM kernels (direct ones for
 * GEMMs of a few rows, see conv2dImplFor); the forward of 3×3 stride-1 convs runs Winograd (useWinogradForward).
 */
export const conv2d = defineOp({
  name: 'conv2d',
  inputs: ['x', 'weight', 'bias'],
  optional: ['bias'],
  forward([x, weight, bias]: [x: Tensor, weight: Tensor, bias: Tensor | null], attrs: Conv2dAttrs) {
    const g = conv2dGeometry(x.shape, weight.shape, bias ? bias.shape : null, attrs);
    const impl = useWinogradForward(g, x.engine) ? 'winograd' : conv2dImplFor('forward', g, x.engine);
    return { output: conv2dForward(x, weight, bias, attrs, impl), saved: [x, weight] };
  },
  backward({ saved: [x, weight], attrs, inputShapes, needsGrad }, dy) {
    const g = conv2dGeometry(inputShapes[0], inputShapes[1], null, attrs);
    return [
      needsGrad[0]
        ? conv2dBackwardInput(
            dy,
            weight,
            inputShapes[0],
            attrs,
            useWinogradInputGrad(g, dy.engine) ? 'winograd' : conv2dImplFor('backwardInput', g, dy.engine),
          )
        : null,
      needsGrad[1]
        ? conv2dBackwardWeight(
            dy,
            x,
            inputShapes[1],
            attrs,
            useWinogradWeightGrad(g, dy.engine) ? 'winograd' : conv2dImplFor('backwardWeight', g, dy.engine),
          )
        : null,
      needsGrad[2] && inputShapes[2] ? conv2dBackwardBias(dy) : null,
    ];
  },
  reference([x, weight, bias], attrs) {
    return conv2dReference(x, weight, bias, attrs);
  },
});
