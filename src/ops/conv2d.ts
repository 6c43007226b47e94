import { workgroups1d, type Engine } from '../engine/engine.js';
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
import { conv2dWinogradForward, conv2dWinogradWeightGrad } from './conv2d-winograd.js';
import { cpuTensor, type CpuTensor } from './cpu.js';
import type { Feed } from './feed.js';
import { defineOp } from './op.js';
import { convSourceIndex } from './padding.js';
import { geometryParams, packConv2dParams } from './conv2d-params.js';
import {
  conv2dFlops,
  conv2dGeometry,
  conv2dOutputShape,
  gemmTileCols,
  gemmTileRows,
  type Conv2dAttrs,
  type Conv2dGeometry,
  type GemmTile,
} from './conv2d-geometry.js';
import {
  planConv2dFor,
  type Conv2dImpl,
  type ForwardPlan,
  type GemmPhasePlan,
  type InputGradPlan,
  type KOrder,
  type SplitK,
  type StridePhase,
  type WeightGradPlan,
} from './conv2d-plan.js';

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
const K_ORDER_CODE: Record<KOrder, number> = { channelMajor: 0, tapMajor: 1 };
const WORKGROUP_SIZE = 256;
const NARROW_WORKGROUP_SIZE = 64;
/** Horizontally adjacent output pixels per thread of conv2d_narrow.wgsl (its PIXELS). */
const NARROW_PIXELS = 4;

function sameShape(t: Tensor, shape: readonly number[], what: string): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new ShapeError(`conv2d: ${what} ${shapeStr(t.shape)} should be ${shapeStr(shape)}`);
  }
}

// ------------------------------------------------------------------ dispatch helpers

const NO_PHASE: StridePhase = { y: 0, x: 0, height: 0, width: 0, tapsY: 0, tapsX: 0 };

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

/**
 * A conv2d_gemm.wgsl kernel. Staged: entry point main, with the k order of its loaders (K_ORDER). Registers:
 * the forward's and the weight gradient's own entry points, which walk k in their own order (the forward:
 * taps outer, channels inner, any Cin); the input-gradient GEMMs have none.
 */
function gemmKernel(
  pass: keyof typeof PASS_CODE,
  g: Conv2dGeometry,
  tile: GemmTile,
  feed: Feed,
  kOrder: KOrder = 'channelMajor',
): Kernel {
  const constants = { KSIZE: g.kernelSize, ...tile, PASS: PASS_CODE[pass] };
  if (feed === 'registers') {
    if (pass !== 'forward' && pass !== 'weightGrad') throw new Error(`conv2d: the ${pass} GEMM always stages`);
    return { name: 'conv2d.gemm', code: gemmSource, entryPoint: `${pass}Registers`, constants };
  }
  return { name: 'conv2d.gemm', code: gemmSource, constants: { ...constants, K_ORDER: K_ORDER_CODE[kOrder] } };
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

/**
 * y = conv2d(upsample(x)) + bias (no gradient recorded) by the plan planConv2d makes for `impl` (default: the
 * tiled kernels), or by a plan made by the caller.
 */
export function conv2dForward(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  attrs: Conv2dAttrs,
  impl: Conv2dImpl | ForwardPlan = 'tiled',
): Tensor {
  const g = conv2dGeometry(x.shape, weight.shape, bias ? bias.shape : null, attrs);
  const engine = x.engine;
  const plan = typeof impl === 'string' ? planConv2dFor(engine, 'forward', g, impl) : impl;
  if (plan.kind === 'winograd') return conv2dWinogradForward(x, weight, bias, g, plan);
  const y = Tensor.empty(engine, conv2dOutputShape(g), 'conv2d.y');
  // Without a bias the kernel never reads binding 3, but it is statically used: bind the weight in its place.
  const buffers = [x.buffer, weight.buffer, bias ? bias.buffer : weight.buffer, y.buffer];
  const hasBias = bias !== null;
  if (plan.kind === 'direct') {
    engine.dispatch({
      kernel: directKernel('forward', g),
      buffers,
      params: params(g, y.size, 0, hasBias),
      workgroups: workgroups1d(engine, y.size, WORKGROUP_SIZE),
      label: 'conv2d.forward.direct',
      flops: conv2dFlops(g),
    });
  } else if (plan.kind === 'narrow') {
    const threads = g.batch * g.outHeight * Math.ceil(g.outWidth / NARROW_PIXELS);
    engine.dispatch({
      kernel: {
        name: 'conv2d.narrow',
        code: narrowSource,
        constants: { KSIZE: g.kernelSize, WORKGROUP_SIZE: NARROW_WORKGROUP_SIZE, PIXELS: NARROW_PIXELS },
      },
      buffers,
      params: params(g, threads, 0, hasBias),
      workgroups: workgroups1d(engine, threads, NARROW_WORKGROUP_SIZE),
      label: 'conv2d.forward.narrow',
      flops: conv2dFlops(g),
    });
  } else {
    engine.dispatch({
      kernel: gemmKernel('forward', g, plan.tile, plan.feed, plan.kOrder ?? 'channelMajor'),
      buffers,
      params: params(g, y.size, 0, hasBias),
      workgroups: gemmGrid(engine, plan.tile, g.outChannels, g.batch * g.outHeight * g.outWidth),
      label: 'conv2d.forward.tiled',
      flops: conv2dFlops(g),
    });
  }
  return y;
}

// ------------------------------------------------------------------ backward

/**
 * dL/dx: the gradient w.r.t. the padded, upsampled input, folded back onto x (Winograd gives dx directly
 * where the conv pads with zeros and does not upsample). `impl` as for conv2dForward.
 */
export function conv2dBackwardInput(
  dy: Tensor,
  weight: Tensor,
  xShape: readonly number[],
  attrs: Conv2dAttrs,
  impl: Conv2dImpl | InputGradPlan = 'tiled',
): Tensor {
  const g = conv2dGeometry(xShape, weight.shape, null, attrs);
  sameShape(dy, conv2dOutputShape(g), 'output gradient');
  const engine = dy.engine;
  const plan = typeof impl === 'string' ? planConv2dFor(engine, 'backwardInput', g, impl) : impl;
  return engine.scope(() => {
    let paddedGrad: Tensor;
    if (plan.kind === 'winograd') {
      const grad = conv2dWinogradForward(dy, weight, null, plan.transposed, plan, {
        flipTransposed: true,
        label: 'conv2d.backwardInput.winograd',
      });
      if (!plan.padded) return grad;
      paddedGrad = grad;
    } else {
      paddedGrad = Tensor.empty(
        engine,
        [g.batch, g.inChannels, g.paddedHeight, g.paddedWidth],
        'conv2d.paddedInputGrad',
      );
      paddedInputGrad(dy, weight, paddedGrad, g, plan);
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

/** The gradient w.r.t. the padded, upsampled input, written into `paddedGrad`, by the direct kernel or a GEMM. */
function paddedInputGrad(
  dy: Tensor,
  weight: Tensor,
  paddedGrad: Tensor,
  g: Conv2dGeometry,
  plan: Exclude<InputGradPlan, { kind: 'winograd' }>,
): void {
  const engine = dy.engine;
  if (plan.kind === 'direct') {
    engine.dispatch({
      kernel: directKernel('paddedInputGrad', g),
      buffers: [dy.buffer, weight.buffer, null, paddedGrad.buffer],
      params: params(g, paddedGrad.size),
      workgroups: workgroups1d(engine, paddedGrad.size, WORKGROUP_SIZE),
      label: 'conv2d.backwardInput.direct',
      flops: conv2dFlops(g),
    });
  } else if (plan.kind === 'gemmPhase') {
    phaseInputGrad(dy, weight, paddedGrad, g, plan);
  } else {
    engine.dispatch({
      kernel: gemmKernel('inputGrad', g, plan.tile, plan.feed),
      // Binding 3 (bias) is statically used by the shared GEMM shader: any read-only buffer fills it.
      buffers: [dy.buffer, weight.buffer, weight.buffer, paddedGrad.buffer],
      params: params(g, paddedGrad.size),
      workgroups: gemmGrid(engine, plan.tile, g.inChannels, g.batch * g.paddedHeight * g.paddedWidth),
      label: 'conv2d.backwardInput.tiled',
      flops: conv2dFlops(g),
    });
  }
}

/**
 * One GEMM per stride phase, each summing only the taps that reach its positions; together they cover every
 * padded position once.
 */
function phaseInputGrad(dy: Tensor, weight: Tensor, paddedGrad: Tensor, g: Conv2dGeometry, plan: GemmPhasePlan): void {
  const engine = dy.engine;
  for (const phase of plan.phases) {
    engine.dispatch({
      kernel: gemmKernel('inputGradPhase', g, plan.tile, plan.feed),
      buffers: [dy.buffer, weight.buffer, weight.buffer, paddedGrad.buffer],
      params: params(g, paddedGrad.size, 0, false, phase),
      workgroups: gemmGrid(engine, plan.tile, g.inChannels, g.batch * phase.height * phase.width),
      label: 'conv2d.backwardInput.tiled',
      flops: conv2dFlops(g) / g.stride ** 2,
    });
  }
}

/** dL/dweight. `impl` as for conv2dForward. */
export function conv2dBackwardWeight(
  dy: Tensor,
  x: Tensor,
  weightShape: readonly number[],
  attrs: Conv2dAttrs,
  impl: Conv2dImpl | WeightGradPlan = 'tiled',
): Tensor {
  const g = conv2dGeometry(x.shape, weightShape, null, attrs);
  sameShape(dy, conv2dOutputShape(g), 'output gradient');
  const engine = dy.engine;
  const plan = typeof impl === 'string' ? planConv2dFor(engine, 'backwardWeight', g, impl) : impl;
  if (plan.kind === 'winograd') return conv2dWinogradWeightGrad(dy, x, g, plan);
  const size = g.outChannels * g.inChannels * g.kernelSize ** 2;
  if (plan.kind === 'direct') {
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
  if (plan.kind === 'narrow') return narrowWeightGrad(dy, x, weightShape, g, plan.split);
  const { tile, feed, split } = plan;
  const [tilesX, tilesY] = gemmGrid(engine, tile, g.outChannels, g.inChannels * g.kernelSize ** 2);
  return splitKWeightGrad(engine, weightShape, g, split.splits, (partial) =>
    engine.dispatch({
      kernel: gemmKernel('weightGrad', g, tile, feed),
      buffers: [dy.buffer, x.buffer, x.buffer, partial.buffer],
      params: params(g, size, split.chunk),
      workgroups: [tilesX, tilesY, split.splits],
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

/**
 * dL/dweight of a conv with at most 4 output channels (the transform net's 32→3 output layer):
 * conv2d_narrow.wgsl weightGrad, Cin·K threads per split of `split.chunk` output rows, then the partial sums
 * added up.
 */
function narrowWeightGrad(
  dy: Tensor,
  x: Tensor,
  weightShape: readonly number[],
  g: Conv2dGeometry,
  split: SplitK,
): Tensor {
  const engine = dy.engine;
  const threads = split.splits * g.inChannels * g.kernelSize;
  return splitKWeightGrad(engine, weightShape, g, split.splits, (partial) =>
    engine.dispatch({
      kernel: {
        name: 'conv2d.narrow',
        code: narrowSource,
        entryPoint: 'weightGrad',
        constants: { KSIZE: g.kernelSize, WORKGROUP_SIZE: NARROW_WORKGROUP_SIZE },
      },
      buffers: [x.buffer, dy.buffer, null, partial.buffer],
      params: params(g, threads, split.chunk),
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
 * 2-D convolution, NCHW, weight OIHW, optional bias; zero or reflect padding; optional nearest ×2 upsampling
 * of x fused into the input indexing (resize-conv). Each pass runs what planConv2d picks (src/ops/conv2d-plan.ts):
 * Winograd for 3×3 stride-1 convs with enough channels, the narrow kernels for ≤ 4 output channels, the
 * implicit GEMMs otherwise, the direct kernels for GEMMs of very few rows.
 */
export const conv2d = defineOp({
  name: 'conv2d',
  inputs: ['x', 'weight', 'bias'],
  optional: ['bias'],
  forward([x, weight, bias]: [x: Tensor, weight: Tensor, bias: Tensor | null], attrs: Conv2dAttrs) {
    return { output: conv2dForward(x, weight, bias, attrs, 'auto'), saved: [x, weight] };
  },
  backward({ saved: [x, weight], attrs, inputShapes, needsGrad }, dy) {
    return [
      needsGrad[0] ? conv2dBackwardInput(dy, weight, inputShapes[0], attrs, 'auto') : null,
      needsGrad[1] ? conv2dBackwardWeight(dy, x, inputShapes[1], attrs, 'auto') : null,
      needsGrad[2] && inputShapes[2] ? conv2dBackwardBias(dy) : null,
    ];
  },
  reference([x, weight, bias], attrs) {
    return conv2dReference(x, weight, bias, attrs);
  },
});
