// Which kernels a conv runs, with which tiles, feed and splits: one pure function of the pass, the conv's
// geometry, the device's limits and the engine's choices (planConv2d), readable and tested without a GPU
// (test/conv2d-plan.test.ts). conv2d.ts and conv2d-winograd.ts execute the plans; nothing else picks kernels.
import { choiceKey, type Engine, type EngineLimits } from '../engine/engine.js';
import {
  conv2dGeometry,
  gemmTileCols,
  gemmTileFor,
  gemmTileRows,
  type Conv2dGeometry,
  type GemmTile,
} from './conv2d-geometry.js';
import { winogradUnsupported, winogradWeightGradUnsupported } from './conv2d-winograd.js';
import { resolveFeed, type Feed, type FeedChoice } from './feed.js';

// ------------------------------------------------------------------ thresholds

/** Output channels conv2d_narrow.wgsl computes per thread (its vec4 accumulator): the most a narrow conv has. */
const NARROW_MAX_OUT_CHANNELS = 4;
/** Largest kernel conv2d_narrow.wgsl's weightGrad takes (its MAX_KSIZE). */
const NARROW_WEIGHT_GRAD_MAX_KSIZE = 9;
/** Split of the narrow weight gradient: aim for this many threads, each summing at least MIN_ROWS output rows. */
const NARROW_WEIGHT_GRAD_TARGET_THREADS = 16384;
const NARROW_WEIGHT_GRAD_MIN_ROWS = 4;

/** Split-K of the GEMM weight gradient: aim for this many workgroups, each summing at least MIN_CHUNK pixels. */
const WEIGHT_GRAD_TARGET_WORKGROUPS = 256;
const WEIGHT_GRAD_MIN_CHUNK = 256;

/**
 * GEMMs with fewer rows than this (3-channel image layers: the input gradient of the first layers, the
 * forward and weight gradient of the transform net's output layer) waste most of even the narrowest tile;
 * the direct kernels run them faster on lavapipe, also against register-blocked 8- or 16-row tiles
 * (`npm run bench -- --conv2d`; figures in bench/RESULTS.md).
 */
const MIN_TILED_ROWS = 8;

/** Fewest input channels for which the op picks Winograd (its GEMMs are Cin deep). */
const WINOGRAD_MIN_IN_CHANNELS = 16;
/** Fewest output channels (the weight gradient GEMM's rows) for which the op picks the Winograd weight gradient. */
const WINOGRAD_WEIGHT_GRAD_MIN_OUT_CHANNELS = 8;

// ------------------------------------------------------------------ inputs

export type Conv2dPass = 'forward' | 'backwardInput' | 'backwardWeight';

/**
 * What a caller asks the planner for. `auto`: what the op runs (Winograd where it qualifies and the choices
 * allow it, else the tiled kernels, but direct for GEMMs of fewer than MIN_TILED_ROWS rows). Tests and
 * benchmarks pin a family instead: `direct` (one thread per output, plain loops: the readable GPU reference),
 * `tiled` (the fast kernels for the shape: the narrow kernel, an implicit GEMM or the stride-phase GEMMs) or
 * `winograd` (F(2×2, 3×3): 3×3 stride-1 convs only; src/ops/conv2d-winograd.ts).
 */
export type Conv2dImpl = 'auto' | 'direct' | 'tiled' | 'winograd';

/**
 * Which kernels the op may pick on an engine (engine.setChoice), so that tests and benchmarks compare them in
 * one process. By default every speed-up is on and the feeds are `auto` (resolveFeed).
 */
export interface Conv2dChoices {
  /**
   * The forward runs Winograd F(2×2, 3×3) where the conv qualifies (winogradQualifies; bench/conv2d.ts
   * benchConv2dForwardVariants, `npm run bench -- --stylize-variants`; figures in bench/RESULTS.md).
   */
  readonly winogradForward: boolean;
  /**
   * The input gradient of 3×3 stride-1 convs likewise (measured in bench/RESULTS.md, `npm run bench --
   * --train-step --variants no-winograd-input-grad`).
   */
  readonly winogradInputGrad: boolean;
  /** The weight gradient likewise (`--variants no-winograd-weight-grad`). */
  readonly winogradWeightGrad: boolean;
  /** The weight gradient of ≤ 4 output channels runs conv2d_narrow.wgsl weightGrad, not direct. */
  readonly narrowWeightGrad: boolean;
  /**
   * How the forward GEMM (conv2d_gemm.wgsl) gets its operands: staged (entry point main) or registers
   * (forwardRegisters; `--variants conv-gemm-staged-forward`). The input-gradient GEMMs always stage.
   */
  readonly forwardFeed: FeedChoice;
  /** The weight-gradient GEMM likewise (weightGradRegisters; `--variants conv-gemm-staged-weight-grad`). */
  readonly weightGradFeed: FeedChoice;
  /**
   * The Winograd GEMM (conv2d_winograd_gemm.wgsl: main or mainRegisters; `--variants winograd-gemm-staged`),
   * for every pass.
   */
  readonly winogradFeed: FeedChoice;
}

export const CONV2D_CHOICES = choiceKey<Conv2dChoices>({
  winogradForward: true,
  winogradInputGrad: true,
  winogradWeightGrad: true,
  narrowWeightGrad: true,
  forwardFeed: 'auto',
  weightGradFeed: 'auto',
  winogradFeed: 'auto',
});

/** What the planner needs to know of the device, as plain data (conv2dDevice reads it off an engine). */
export interface Conv2dDevice {
  /**
   * Workgroup memory picks the GEMM tile; workgroups per dimension cap the weight gradient's splits; the
   * binding and buffer sizes bound Winograd's intermediates.
   */
  readonly limits: Pick<
    EngineLimits,
    | 'maxComputeWorkgroupStorageSize'
    | 'maxComputeWorkgroupsPerDimension'
    | 'maxStorageBufferBindingSize'
    | 'maxBufferSize'
  >;
  /** Resolves the `auto` feeds (resolveFeed). */
  readonly isFallbackAdapter: boolean;
}

export function conv2dDevice(engine: Engine): Conv2dDevice {
  return { limits: engine.limits, isFallbackAdapter: engine.adapter.isFallbackAdapter };
}

// ------------------------------------------------------------------ plans

/** One stride phase of the input gradient: padded positions ≡ (y, x) mod stride and the taps that meet them. */
export interface StridePhase {
  y: number;
  x: number;
  height: number;
  width: number;
  tapsY: number;
  tapsX: number;
}

/**
 * A weight gradient summed in `splits` partial sums of `chunk` output rows (narrow) or pixels (GEMM) each,
 * then added up by conv2d_reduce.wgsl sumSplits when there is more than one.
 */
export interface SplitK {
  splits: number;
  chunk: number;
}

/** The forward GEMM's k order (conv2d_gemm.wgsl K_ORDER) when staged; see forwardTapMajor. */
export type KOrder = 'channelMajor' | 'tapMajor';

/** conv2d_direct.wgsl: one thread per output element. */
export interface DirectPlan {
  kind: 'direct';
}

/** conv2d_narrow.wgsl forward: one thread per row of a few pixels, every (≤ 4) output channel at once. */
export interface NarrowPlan {
  kind: 'narrow';
}

/** conv2d_narrow.wgsl weightGrad, split over output rows. */
export interface NarrowWeightGradPlan {
  kind: 'narrow';
  split: SplitK;
}

/** The implicit GEMM of conv2d_gemm.wgsl. `kOrder` null: the registers entry point walks k its own way. */
export interface GemmForwardPlan {
  kind: 'gemm';
  tile: GemmTile;
  feed: Feed;
  kOrder: KOrder | null;
}

/** The input gradient's gather GEMM over every padded position (always staged). */
export interface GemmInputGradPlan {
  kind: 'gemm';
  tile: GemmTile;
  feed: 'staged';
}

/** The input gradient as one GEMM per stride phase, each summing only the taps that reach it (staged). */
export interface GemmPhasePlan {
  kind: 'gemmPhase';
  tile: GemmTile;
  feed: 'staged';
  phases: StridePhase[];
}

export interface GemmWeightGradPlan {
  kind: 'gemm';
  tile: GemmTile;
  feed: Feed;
  split: SplitK;
}

/** Winograd F(2×2, 3×3): `tile` and `feed` are its GEMM's (conv2d_winograd_gemm.wgsl). */
export interface WinogradPlan {
  kind: 'winograd';
  tile: GemmTile;
  feed: Feed;
}

/**
 * The input gradient by Winograd: the forward conv `transposed` (winogradInputGradGeometry) of dy; `padded`:
 * its result is the gradient of the padded, upsampled input, which conv2d_fold.wgsl folds onto x.
 */
export interface WinogradInputGradPlan extends WinogradPlan {
  transposed: Conv2dGeometry;
  padded: boolean;
}

export type ForwardPlan = DirectPlan | NarrowPlan | GemmForwardPlan | WinogradPlan;
export type InputGradPlan = DirectPlan | GemmInputGradPlan | GemmPhasePlan | WinogradInputGradPlan;
export type WeightGradPlan = DirectPlan | NarrowWeightGradPlan | GemmWeightGradPlan | WinogradPlan;

/** The plans each pass may get. */
export interface Conv2dPlans {
  forward: ForwardPlan;
  backwardInput: InputGradPlan;
  backwardWeight: WeightGradPlan;
}

export type Conv2dPlan = Conv2dPlans[Conv2dPass];

// ------------------------------------------------------------------ the planner

/**
 * The kernels one pass of a conv runs: the family `impl` asks for (`auto`: the op's own choice), then within
 * it the kernel, GEMM tile (the device's workgroup memory permitting), feed and splits.
 */
export function planConv2d<P extends Conv2dPass>(
  pass: P,
  g: Conv2dGeometry,
  device: Conv2dDevice,
  choices: Conv2dChoices,
  impl: Conv2dImpl = 'auto',
): Conv2dPlans[P] {
  const family = impl === 'auto' ? autoFamily(pass, g, device, choices) : impl;
  const planners: { [Q in Conv2dPass]: () => Conv2dPlans[Q] } = {
    forward: () => planForward(g, device, choices, family),
    backwardInput: () => planInputGrad(g, device, choices, family),
    backwardWeight: () => planWeightGrad(g, device, choices, family),
  };
  return planners[pass]();
}

/** planConv2d with the engine's limits, adapter and choices. */
export function planConv2dFor<P extends Conv2dPass>(
  engine: Engine,
  pass: P,
  g: Conv2dGeometry,
  impl: Conv2dImpl = 'auto',
): Conv2dPlans[P] {
  return planConv2d(pass, g, conv2dDevice(engine), engine.choice(CONV2D_CHOICES), impl);
}

type Family = Exclude<Conv2dImpl, 'auto'>;

/** The op's family for a pass: Winograd where it qualifies; else tiled, but direct for GEMMs of very few rows. */
function autoFamily(pass: Conv2dPass, g: Conv2dGeometry, device: Conv2dDevice, choices: Conv2dChoices): Family {
  if (winogradQualifies(pass, g, device, choices)) return 'winograd';
  if (narrowFits(pass, g) && (pass !== 'backwardWeight' || choices.narrowWeightGrad)) return 'tiled';
  const rows = pass === 'backwardInput' ? g.inChannels : g.outChannels;
  return rows < MIN_TILED_ROWS ? 'direct' : 'tiled';
}

/** Whether the narrow kernels run this pass when it is tiled (the input gradient has none). */
function narrowFits(pass: Conv2dPass, g: Conv2dGeometry): boolean {
  if (pass === 'forward') return g.outChannels <= NARROW_MAX_OUT_CHANNELS;
  if (pass === 'backwardWeight')
    return g.outChannels <= NARROW_MAX_OUT_CHANNELS && g.kernelSize <= NARROW_WEIGHT_GRAD_MAX_KSIZE;
  return false;
}

/**
 * Whether the op runs a pass by Winograd: 3×3 stride 1 (any padding, upsampling), intermediates within one
 * storage binding, and channels that fill its GEMMs: for the forward at least WINOGRAD_MIN_IN_CHANNELS input
 * and more than NARROW_MAX_OUT_CHANNELS output channels; for the input gradient (a forward conv from Cout to
 * Cin channels) the same with the roles swapped; for the weight gradient WINOGRAD_MIN_IN_CHANNELS input and
 * WINOGRAD_WEIGHT_GRAD_MIN_OUT_CHANNELS output channels.
 */
function winogradQualifies(pass: Conv2dPass, g: Conv2dGeometry, device: Conv2dDevice, choices: Conv2dChoices): boolean {
  const maxBinding = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  if (pass === 'forward') {
    return (
      choices.winogradForward &&
      g.inChannels >= WINOGRAD_MIN_IN_CHANNELS &&
      g.outChannels > NARROW_MAX_OUT_CHANNELS &&
      winogradUnsupported(g, maxBinding) === null
    );
  }
  if (pass === 'backwardInput') {
    if (!choices.winogradInputGrad || g.kernelSize !== 3 || g.stride !== 1) return false;
    if (g.outChannels < WINOGRAD_MIN_IN_CHANNELS || g.inChannels <= NARROW_MAX_OUT_CHANNELS) return false;
    return winogradUnsupported(winogradInputGradGeometry(g).geometry, maxBinding) === null;
  }
  return (
    choices.winogradWeightGrad &&
    g.inChannels >= WINOGRAD_MIN_IN_CHANNELS &&
    g.outChannels >= WINOGRAD_WEIGHT_GRAD_MIN_OUT_CHANNELS &&
    winogradWeightGradUnsupported(g, maxBinding) === null
  );
}

function tileFor(rows: number, device: Conv2dDevice): GemmTile {
  return gemmTileFor(rows, device.limits.maxComputeWorkgroupStorageSize);
}

function winogradFeed(device: Conv2dDevice, choices: Conv2dChoices): Feed {
  return resolveFeed(choices.winogradFeed, device.isFallbackAdapter);
}

function planForward(g: Conv2dGeometry, device: Conv2dDevice, choices: Conv2dChoices, family: Family): ForwardPlan {
  if (family === 'direct') return { kind: 'direct' };
  if (family === 'tiled' && narrowFits('forward', g)) return { kind: 'narrow' };
  const tile = tileFor(g.outChannels, device);
  if (family === 'winograd') return { kind: 'winograd', tile, feed: winogradFeed(device, choices) };
  const feed = resolveFeed(choices.forwardFeed, device.isFallbackAdapter);
  const kOrder = feed === 'registers' ? null : forwardTapMajor(g, tile) ? 'tapMajor' : 'channelMajor';
  return { kind: 'gemm', tile, feed, kOrder };
}

function planInputGrad(g: Conv2dGeometry, device: Conv2dDevice, choices: Conv2dChoices, family: Family): InputGradPlan {
  if (family === 'direct') return { kind: 'direct' };
  const tile = tileFor(g.inChannels, device);
  if (family === 'winograd') {
    const { geometry, padded } = winogradInputGradGeometry(g);
    return { kind: 'winograd', tile, feed: winogradFeed(device, choices), transposed: geometry, padded };
  }
  if (usePhaseGemm(g)) return { kind: 'gemmPhase', tile, feed: 'staged', phases: stridePhases(g) };
  return { kind: 'gemm', tile, feed: 'staged' };
}

function planWeightGrad(
  g: Conv2dGeometry,
  device: Conv2dDevice,
  choices: Conv2dChoices,
  family: Family,
): WeightGradPlan {
  if (family === 'direct') return { kind: 'direct' };
  if (family === 'tiled' && narrowFits('backwardWeight', g)) return { kind: 'narrow', split: narrowWeightGradSplit(g) };
  const tile = tileFor(g.outChannels, device);
  if (family === 'winograd') return { kind: 'winograd', tile, feed: winogradFeed(device, choices) };
  return {
    kind: 'gemm',
    tile,
    feed: resolveFeed(choices.weightGradFeed, device.isFallbackAdapter),
    split: gemmWeightGradSplit(g, tile, device.limits.maxComputeWorkgroupsPerDimension),
  };
}

// ------------------------------------------------------------------ what the plans are made of

/**
 * The forward GEMM's k order (conv2d_gemm.wgsl K_ORDER): tap-major, which resolves each tap's source pixel
 * once per tile column instead of per element, when Cin is a multiple of TILE_K (so rounding Cin up to
 * whole k tiles wastes nothing); channel-major otherwise (the 3-channel image layers).
 */
export function forwardTapMajor(g: Conv2dGeometry, tile: GemmTile = gemmTileFor(g.outChannels)): boolean {
  return g.inChannels % tile.TILE_K === 0;
}

/**
 * The phase GEMM of the input gradient skips the taps a strided conv never meets and has cheaper index math
 * (no per-element tap decomposition), but rounds Cout up to TILE_K per tap: with few output channels (the
 * transform net's last layer has 3) the plain gather GEMM wastes less.
 */
function usePhaseGemm(g: Conv2dGeometry): boolean {
  return g.stride > 1 || g.outChannels >= 16;
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

/** How many chunks the GEMM weight gradient's long reduction is split into (1: no split). */
export function weightGradSplits(g: Conv2dGeometry, tile: GemmTile = gemmTileFor(g.outChannels)): number {
  const depth = g.batch * g.outHeight * g.outWidth;
  const tiles =
    Math.ceil(g.outChannels / gemmTileRows(tile)) * Math.ceil((g.inChannels * g.kernelSize ** 2) / gemmTileCols(tile));
  const wanted = Math.ceil(WEIGHT_GRAD_TARGET_WORKGROUPS / tiles);
  const most = Math.max(1, Math.floor(depth / WEIGHT_GRAD_MIN_CHUNK));
  return Math.max(1, Math.min(wanted, most));
}

/** weightGradSplits within the grid's z limit, in whole k tiles (rounding up may leave fewer splits). */
function gemmWeightGradSplit(g: Conv2dGeometry, tile: GemmTile, maxWorkgroups: number): SplitK {
  const depth = g.batch * g.outHeight * g.outWidth;
  const splits = Math.min(weightGradSplits(g, tile), maxWorkgroups);
  const chunk = Math.ceil(depth / splits / tile.TILE_K) * tile.TILE_K;
  return { splits: Math.ceil(depth / chunk), chunk };
}

/** Output rows per thread of the narrow weight gradient (Cin·K threads per split). */
function narrowWeightGradSplit(g: Conv2dGeometry): SplitK {
  const rows = g.batch * g.outHeight;
  const wanted = Math.max(1, Math.ceil(NARROW_WEIGHT_GRAD_TARGET_THREADS / (g.inChannels * g.kernelSize)));
  const chunk = Math.max(NARROW_WEIGHT_GRAD_MIN_ROWS, Math.ceil(rows / wanted));
  return { splits: Math.ceil(rows / chunk), chunk };
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
