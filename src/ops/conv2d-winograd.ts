// Winograd F(2×2, 3×3) forward pass of a 3×3 stride-1 conv (with zero/reflect padding and the fused nearest ×2
// upsampling of resize-convs): 16 GEMMs of Cout×Cin×tiles instead of one of Cout×9·Cin×pixels, i.e. 2.25×
// fewer multiplies, plus three cheap transforms. conv2dForward(…, 'winograd'); the conv2d op runs it (and the
// input and weight gradients below) where planConv2d (conv2d-plan.ts) says so.
//
//   1. U = G g Gᵀ per (co, ci)                    → [16, Cin, Cout]   (recomputed each call: Cout·Cin threads)
//   2. V = Bᵀ d B per (ci, tile), d read through the padding/upsampling index map → [16, Cin, T4]
//   3. M[ξ] = U[ξ]ᵀ · V[ξ], ξ < 16                → [16, Cout, T4]    (tiled GEMM, ξ in workgroup z)
//   4. y = Aᵀ M A + bias, edge tiles clipped      → [N, Cout, Ho, Wo]
// Tiles are the 2×2 output blocks of every image (T = N·⌈Ho/2⌉·⌈Wo/2⌉), T4 = T rounded up to a multiple of 4.
import { workgroups1d, type Engine } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import { packParams, type Kernel } from '../engine/kernel.js';
import { Tensor } from '../engine/tensor.js';
import gemmBody from '../shaders/conv2d_winograd_gemm.wgsl';
import microkernelSource from '../shaders/gemm_microkernel.wgsl';
import stagedSource from '../shaders/gemm_staged.wgsl';
import paramsSource from '../shaders/conv2d_common.wgsl';
import sourceCoordSource from '../shaders/conv2d_source_coord.wgsl';
import transformBody from '../shaders/conv2d_winograd_transform.wgsl';
import type { Conv2dGeometry } from './conv2d-geometry.js';
import { geometryParams, packConv2dParams } from './conv2d-params.js';
import type { WinogradPlan } from './conv2d-plan.js';

// The Params layout and the padding/upsampling index map are the ones the other conv2d shaders use, the
// GEMM's register block and staged tiles those of conv2d_gemm.wgsl (WGSL has no includes).
const transformSource = paramsSource + sourceCoordSource + transformBody;
const gemmSource = microkernelSource + gemmBody + stagedSource;

const TRANSFORM_WORKGROUP_SIZE = 64;
/** Winograd-domain points of F(2×2, 3×3): 4×4. */
const POINTS = 16;

export interface WinogradTiles {
  tilesH: number;
  tilesW: number;
  /** N·tilesH·tilesW. */
  tiles: number;
  /** tiles rounded up to a multiple of 4 (the GEMM's vec4 columns). */
  tilesPadded: number;
}

export function winogradTiles(g: Conv2dGeometry): WinogradTiles {
  const tilesH = Math.ceil(g.outHeight / 2);
  const tilesW = Math.ceil(g.outWidth / 2);
  const tiles = g.batch * tilesH * tilesW;
  return { tilesH, tilesW, tiles, tilesPadded: Math.ceil(tiles / 4) * 4 };
}

/** Bytes of the largest intermediate: the transformed weights U (16·Cin·Cout), V or M. */
function winogradScratchBytes(g: Conv2dGeometry): number {
  const weights = g.inChannels * g.outChannels;
  const tiles = Math.max(g.inChannels, g.outChannels) * winogradTiles(g).tilesPadded;
  return POINTS * Math.max(weights, tiles) * 4;
}

/**
 * Why Winograd cannot run this conv on this device, or null when it can: 3×3 kernels, stride 1, and
 * intermediates (the transformed weights among them) within one storage binding.
 */
export function winogradUnsupported(g: Conv2dGeometry, maxBindingBytes = Infinity): string | null {
  if (g.kernelSize !== 3) return `kernel ${g.kernelSize}×${g.kernelSize} is not 3×3`;
  if (g.stride !== 1) return `stride ${g.stride} is not 1`;
  const bytes = winogradScratchBytes(g);
  if (bytes > maxBindingBytes)
    return `its ${bytes}-byte transformed tensor exceeds the ${maxBindingBytes}-byte binding limit`;
  // The GEMM's x grid (at least 128 tile columns per workgroup in conv2d's tile table, at most 65535
  // workgroups) is far from this whenever V fits a binding, but say so rather than dispatch a refused grid.
  if (Math.ceil(winogradTiles(g).tilesPadded / 128) > 65535)
    return `${winogradTiles(g).tiles} tiles are too many for one GEMM grid`;
  return null;
}

function transformParams(
  g: Conv2dGeometry,
  t: WinogradTiles,
  total: number,
  hasBias: boolean,
  channelsPadded = 0,
): ArrayBuffer {
  return packConv2dParams({
    ...geometryParams(g),
    total,
    hasBias: hasBias ? 1 : 0,
    tilesH: t.tilesH,
    tilesW: t.tilesW,
    tiles: t.tiles,
    tilesPadded: t.tilesPadded,
    channelsPadded,
  });
}

type TransformEntry =
  | 'weightTransform'
  | 'inputTransform'
  | 'outputTransform'
  | 'outputGradTransform'
  | 'weightGradTransform';

function transformKernel(
  entryPoint: TransformEntry,
  flags: { flipTranspose?: boolean; vTileMajor?: boolean } = {},
): Kernel {
  const constants: Record<string, number> = { WORKGROUP_SIZE: TRANSFORM_WORKGROUP_SIZE };
  if (flags.flipTranspose) constants.FLIP_TRANSPOSE = 1;
  if (flags.vTileMajor) constants.V_TILE_MAJOR = 1;
  return { name: 'conv2d.winograd.transform', code: transformSource, entryPoint, constants };
}

/** One transform pass: `threads` threads of the entry point (one per (co, ci), (ci, tile) or (co, tile): see the shader). */
interface TransformPass {
  entryPoint: TransformEntry;
  flags?: { flipTranspose?: boolean; vTileMajor?: boolean };
  /** in0, in1 (or null), out. */
  buffers: readonly (GPUBuffer | null)[];
  threads: number;
  hasBias?: boolean;
  label: string;
}

function dispatchTransform(
  engine: Engine,
  g: Conv2dGeometry,
  t: WinogradTiles,
  pass: TransformPass,
  channelsPadded = 0,
): void {
  engine.dispatch({
    kernel: transformKernel(pass.entryPoint, pass.flags),
    buffers: pass.buffers,
    params: transformParams(g, t, pass.threads, pass.hasBias ?? false, channelsPadded),
    workgroups: workgroups1d(engine, pass.threads, TRANSFORM_WORKGROUP_SIZE),
    label: pass.label,
  });
}

/** The GEMM (conv2d_winograd_gemm.wgsl): `main` stages its tiles, `mainRegisters` reads storage directly. */
function gemmKernel({ tile, feed }: WinogradGemm): Kernel {
  const entryPoint = feed === 'registers' ? 'mainRegisters' : 'main';
  return { name: 'conv2d.winograd.gemm', code: gemmSource, entryPoint, constants: { ...tile } };
}

/** The GEMM's tile (conv2d's table, for the device's workgroup memory) and feed, as planConv2d chose them. */
type WinogradGemm = Pick<WinogradPlan, 'tile' | 'feed'>;

/**
 * y = conv2d(upsample(x), weight) + bias by Winograd F(2×2, 3×3), its GEMM as `gemm` says. Throws ShapeError
 * where winogradUnsupported says so.
 * `flipTransposed`: the weight is a forward weight [g.inChannels, g.outChannels, 3, 3] and the conv runs with
 * its flipped transpose (rot180 of w[ci, co] as the kernel from channel ci to co): the input gradient of that
 * forward conv, when x is its output gradient (conv2dBackwardInput's Winograd path). `label` names the pass.
 */
export function conv2dWinogradForward(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  g: Conv2dGeometry,
  gemm: WinogradGemm,
  opts: { flipTransposed?: boolean; label?: string } = {},
): Tensor {
  const label = opts.label ?? 'conv2d.forward.winograd';
  const engine: Engine = x.engine;
  const why = winogradUnsupported(g, Math.min(engine.limits.maxStorageBufferBindingSize, engine.limits.maxBufferSize));
  if (why) throw new ShapeError(`conv2d (winograd): x ${shapeStr(x.shape)}, weight ${shapeStr(weight.shape)}: ${why}`);
  const t = winogradTiles(g);
  const y = Tensor.empty(engine, [g.batch, g.outChannels, g.outHeight, g.outWidth], 'conv2d.y');
  engine.scope(() => {
    const u = Tensor.empty(engine, [POINTS, g.inChannels, g.outChannels], 'conv2d.winograd.u');
    const v = Tensor.empty(engine, [POINTS, g.inChannels, t.tilesPadded], 'conv2d.winograd.v');
    const m = Tensor.empty(engine, [POINTS, g.outChannels, t.tilesPadded], 'conv2d.winograd.m');
    dispatchTransform(engine, g, t, {
      entryPoint: 'weightTransform',
      flags: { flipTranspose: opts.flipTransposed },
      buffers: [weight.buffer, null, u.buffer],
      threads: g.outChannels * g.inChannels,
      label: `${label}.weights`,
    });
    dispatchTransform(engine, g, t, {
      entryPoint: 'inputTransform',
      buffers: [x.buffer, null, v.buffer],
      threads: g.inChannels * t.tilesPadded,
      label: `${label}.input`,
    });
    const tileRows = gemm.tile.WG_Y * gemm.tile.TM;
    const tileCols4 = gemm.tile.WG_X * gemm.tile.TN4;
    engine.dispatch({
      kernel: gemmKernel(gemm),
      buffers: [u.buffer, v.buffer, m.buffer],
      params: packParams([g.outChannels, t.tilesPadded / 4, g.inChannels]),
      workgroups: [Math.ceil(t.tilesPadded / 4 / tileCols4), Math.ceil(g.outChannels / tileRows), POINTS],
      label: `${label}.gemm`,
      flops: 2 * g.batch * g.outChannels * g.outHeight * g.outWidth * g.inChannels * 9,
    });
    dispatchTransform(engine, g, t, {
      entryPoint: 'outputTransform',
      // Without a bias the shader never reads binding 2, but it is statically used: bind M in its place.
      buffers: [m.buffer, bias ? bias.buffer : m.buffer, y.buffer],
      threads: g.outChannels * t.tiles,
      hasBias: bias !== null,
      label: `${label}.output`,
    });
  });
  return y;
}

/** Bytes of the weight gradient's largest intermediate: tile-major V, Ŷ, or M (16·Cout·Cin, Cin padded to 4). */
function winogradWeightGradScratchBytes(g: Conv2dGeometry): number {
  const c4 = Math.ceil(g.inChannels / 4) * 4;
  return POINTS * Math.max(winogradTiles(g).tiles * Math.max(c4, g.outChannels), g.outChannels * c4) * 4;
}

/**
 * Why the Winograd weight gradient cannot run this conv on this device, or null: what the forward needs, and
 * its tile-major intermediates within one binding.
 */
export function winogradWeightGradUnsupported(g: Conv2dGeometry, maxBindingBytes = Infinity): string | null {
  const why = winogradUnsupported(g, maxBindingBytes);
  if (why) return why;
  const bytes = winogradWeightGradScratchBytes(g);
  if (bytes > maxBindingBytes)
    return `its ${bytes}-byte transformed tensor exceeds the ${maxBindingBytes}-byte binding limit`;
  return null;
}

/**
 * dL/dweight of a 3×3 stride-1 conv by Winograd F(2×2, 3×3) (see conv2d_winograd_transform.wgsl, "weight
 * gradient"): Ŷ = A dY Aᵀ per output tile, V = Bᵀ d B per input tile (as in the forward), 16 GEMMs
 * M[ξ] = Ŷ[ξ]ᵀ V[ξ] summing over the tiles, dw = Gᵀ M G. 2.25× fewer multiplies than the implicit GEMM.
 */
export function conv2dWinogradWeightGrad(dy: Tensor, x: Tensor, g: Conv2dGeometry, gemm: WinogradGemm): Tensor {
  const engine: Engine = x.engine;
  const why = winogradWeightGradUnsupported(
    g,
    Math.min(engine.limits.maxStorageBufferBindingSize, engine.limits.maxBufferSize),
  );
  if (why)
    throw new ShapeError(`conv2d weight gradient (winograd): x ${shapeStr(x.shape)}, dy ${shapeStr(dy.shape)}: ${why}`);
  const t = winogradTiles(g);
  const c4 = Math.ceil(g.inChannels / 4) * 4;
  const dw = Tensor.empty(engine, [g.outChannels, g.inChannels, 3, 3], 'conv2d.dweight');
  engine.scope(() => {
    const yHat = Tensor.empty(engine, [POINTS, t.tiles, g.outChannels], 'conv2d.winograd.dyhat');
    const v = Tensor.empty(engine, [POINTS, t.tiles, c4], 'conv2d.winograd.v');
    const m = Tensor.empty(engine, [POINTS, g.outChannels, c4], 'conv2d.winograd.m');
    dispatchTransform(
      engine,
      g,
      t,
      {
        entryPoint: 'outputGradTransform',
        buffers: [dy.buffer, null, yHat.buffer],
        threads: g.outChannels * t.tiles,
        label: 'conv2d.backwardWeight.winograd.dy',
      },
      c4,
    );
    dispatchTransform(
      engine,
      g,
      t,
      {
        entryPoint: 'inputTransform',
        flags: { vTileMajor: true },
        buffers: [x.buffer, null, v.buffer],
        threads: g.inChannels * t.tilesPadded,
        label: 'conv2d.backwardWeight.winograd.input',
      },
      c4,
    );
    const { tile } = gemm;
    engine.dispatch({
      kernel: gemmKernel(gemm),
      buffers: [yHat.buffer, v.buffer, m.buffer],
      params: packParams([g.outChannels, c4 / 4, t.tiles]),
      workgroups: [
        Math.ceil(c4 / 4 / (tile.WG_X * tile.TN4)),
        Math.ceil(g.outChannels / (tile.WG_Y * tile.TM)),
        POINTS,
      ],
      label: 'conv2d.backwardWeight.winograd.gemm',
      flops: 2 * g.batch * g.outChannels * g.outHeight * g.outWidth * g.inChannels * 9,
    });
    dispatchTransform(
      engine,
      g,
      t,
      {
        entryPoint: 'weightGradTransform',
        buffers: [m.buffer, null, dw.buffer],
        threads: g.outChannels * g.inChannels,
        label: 'conv2d.backwardWeight.winograd.output',
      },
      c4,
    );
  });
  return dw;
}
