// The conv planner without a GPU: which kernels, tiles, feed and splits every conv of a training step gets on
// a CPU (fallback) adapter and on a discrete GPU, as a table to read. planConv2d is pure: the device is plain
// data here, and the dispatches the engine records follow the plan.
import { describe, expect, it } from 'vitest';
import { conv2dGeometry, gemmTileCols, gemmTileRows, type Conv2dAttrs } from '../src/ops/conv2d-geometry.js';
import {
  CONV2D_CHOICES,
  planConv2d,
  type Conv2dChoices,
  type Conv2dDevice,
  type Conv2dImpl,
  type Conv2dPass,
  type Conv2dPlan,
} from '../src/ops/conv2d-plan.js';

/** Mesa's lavapipe as Dawn reports it: 128 MiB bindings bound Winograd's intermediates; the feeds are registers. */
const FALLBACK: Conv2dDevice = {
  limits: {
    maxComputeWorkgroupStorageSize: 32768,
    maxComputeWorkgroupsPerDimension: 65535,
    maxStorageBufferBindingSize: 128 * 2 ** 20,
    maxBufferSize: 2 ** 32 - 1,
  },
  isFallbackAdapter: true,
};

/** Limits of the order a discrete GPU reports (2 GiB bindings): Winograd everywhere it applies, GEMMs staged. */
const DISCRETE: Conv2dDevice = {
  limits: {
    maxComputeWorkgroupStorageSize: 32768,
    maxComputeWorkgroupsPerDimension: 65535,
    maxStorageBufferBindingSize: 2 ** 31 - 4,
    maxBufferSize: 2 ** 32,
  },
  isFallbackAdapter: false,
};

const DEFAULTS: Conv2dChoices = CONV2D_CHOICES.defaultValue;

interface Layer {
  x: number[];
  w: number[];
  attrs: Conv2dAttrs;
}

const reflect = (padding: number, stride = 1, upsample = 1): Conv2dAttrs => ({
  stride,
  padding,
  padMode: 'reflect',
  upsample,
});
const zeros1: Conv2dAttrs = { stride: 1, padding: 1, padMode: 'zeros' };

/** The transform net (johnson2016, width 1) and VGG19 up to conv3_4 on a training batch: 4 images of 256². */
const LAYERS: Record<string, Layer> = {
  'tn.conv1 9×9 3→32': { x: [4, 3, 256, 256], w: [32, 3, 9, 9], attrs: reflect(4) },
  'tn.conv2 s2 32→64': { x: [4, 32, 256, 256], w: [64, 32, 3, 3], attrs: reflect(1, 2) },
  'tn.conv3 s2 64→128': { x: [4, 64, 128, 128], w: [128, 64, 3, 3], attrs: reflect(1, 2) },
  'tn.res 128→128 @64²': { x: [4, 128, 64, 64], w: [128, 128, 3, 3], attrs: reflect(1) },
  'tn.up1 ×2 128→64': { x: [4, 128, 64, 64], w: [64, 128, 3, 3], attrs: reflect(1, 1, 2) },
  'tn.up2 ×2 64→32': { x: [4, 64, 128, 128], w: [32, 64, 3, 3], attrs: reflect(1, 1, 2) },
  'tn.out 9×9 32→3': { x: [4, 32, 256, 256], w: [3, 32, 9, 9], attrs: reflect(4) },
  'vgg.conv1_1 3→64 @256²': { x: [4, 3, 256, 256], w: [64, 3, 3, 3], attrs: zeros1 },
  'vgg.conv1_2 64→64 @256²': { x: [4, 64, 256, 256], w: [64, 64, 3, 3], attrs: zeros1 },
  'vgg.conv2_1 64→128 @128²': { x: [4, 64, 128, 128], w: [128, 64, 3, 3], attrs: zeros1 },
  'vgg.conv2_2 128→128 @128²': { x: [4, 128, 128, 128], w: [128, 128, 3, 3], attrs: zeros1 },
  'vgg.conv3_1 128→256 @64²': { x: [4, 128, 64, 64], w: [256, 128, 3, 3], attrs: zeros1 },
  'vgg.conv3_2 256→256 @64²': { x: [4, 256, 64, 64], w: [256, 256, 3, 3], attrs: zeros1 },
};

/**
 * A plan in a few words: kind, GEMM tile (rows×columns), feed, then what else it decided (the staged forward's
 * k order, the stride phases, the weight gradient's splits, whether Winograd's input gradient is folded).
 */
function describePlan(plan: Conv2dPlan): string {
  if (plan.kind === 'direct') return 'direct';
  if (plan.kind === 'narrow') return 'split' in plan ? `narrow ${plan.split.splits} splits` : 'narrow';
  const words = [plan.kind, `${gemmTileRows(plan.tile)}×${gemmTileCols(plan.tile)}`, plan.feed];
  if ('kOrder' in plan && plan.kOrder) words.push(plan.kOrder === 'tapMajor' ? 'tap-major' : 'channel-major');
  if ('phases' in plan) words.push(plan.phases.length === 1 ? '1 phase' : `${plan.phases.length} phases`);
  if ('split' in plan) words.push(`${plan.split.splits} splits`);
  if ('padded' in plan && plan.padded) words.push('folded');
  return words.join(' ');
}

function plan(
  name: string,
  pass: Conv2dPass,
  device: Conv2dDevice,
  choices = DEFAULTS,
  impl: Conv2dImpl = 'auto',
): string {
  const l = LAYERS[name];
  return describePlan(planConv2d(pass, conv2dGeometry(l.x, l.w, null, l.attrs), device, choices, impl));
}

/** The table's passes: the forward, the input gradient (dx) and the weight gradient (dw). */
type Pass = 'forward' | 'dx' | 'dw';
const PASSES: Record<Pass, Conv2dPass> = { forward: 'forward', dx: 'backwardInput', dw: 'backwardWeight' };

// Each conv pass of the step: its plan on FALLBACK and on DISCRETE, in describePlan's words.
// biome-ignore format: a table, one conv pass per line
const TABLE: [layer: string, pass: Pass, fallback: string, discrete: string][] = [
  ['tn.conv1 9×9 3→32',         'forward', 'gemm 32×128 registers',            'gemm 32×128 staged channel-major'],
  ['tn.conv1 9×9 3→32',         'dx',      'direct',                           'direct'],
  ['tn.conv1 9×9 3→32',         'dw',      'gemm 32×128 registers 128 splits', 'gemm 32×128 staged 128 splits'],
  ['tn.conv2 s2 32→64',         'forward', 'gemm 64×128 registers',            'gemm 64×128 staged tap-major'],
  ['tn.conv2 s2 32→64',         'dx',      'gemmPhase 32×128 staged 4 phases', 'gemmPhase 32×128 staged 4 phases'],
  ['tn.conv2 s2 32→64',         'dw',      'gemm 64×128 registers 86 splits',  'gemm 64×128 staged 86 splits'],
  ['tn.conv3 s2 64→128',        'forward', 'gemm 64×128 registers',            'gemm 64×128 staged tap-major'],
  ['tn.conv3 s2 64→128',        'dx',      'gemmPhase 64×128 staged 4 phases', 'gemmPhase 64×128 staged 4 phases'],
  ['tn.conv3 s2 64→128',        'dw',      'gemm 64×128 registers 26 splits',  'gemm 64×128 staged 26 splits'],
  ['tn.res 128→128 @64²',       'forward', 'winograd 64×128 registers',        'winograd 64×128 staged'],
  ['tn.res 128→128 @64²',       'dx',      'winograd 64×128 registers folded', 'winograd 64×128 staged folded'],
  ['tn.res 128→128 @64²',       'dw',      'winograd 64×128 registers',        'winograd 64×128 staged'],
  // Winograd's intermediates must fit one binding, 128 MiB on lavapipe. tn.up1's forward and weight gradient
  // fill it exactly (16 points × 128 channels × 64² tiles × 4 images × 4 bytes); its input gradient (130²
  // outputs) and the full-resolution layers' (tn.up2, vgg.conv1_2: 128² tiles) do not.
  ['tn.up1 ×2 128→64',          'forward', 'winograd 64×128 registers',        'winograd 64×128 staged'],
  ['tn.up1 ×2 128→64',          'dx',      'gemmPhase 64×128 staged 1 phase',  'winograd 64×128 staged folded'],
  ['tn.up1 ×2 128→64',          'dw',      'winograd 64×128 registers',        'winograd 64×128 staged'],
  ['tn.up2 ×2 64→32',           'forward', 'gemm 32×128 registers',            'winograd 32×128 staged'],
  ['tn.up2 ×2 64→32',           'dx',      'gemmPhase 64×128 staged 1 phase',  'winograd 64×128 staged folded'],
  ['tn.up2 ×2 64→32',           'dw',      'gemm 32×128 registers 52 splits',  'winograd 32×128 staged'],
  ['tn.out 9×9 32→3',           'forward', 'narrow',                           'narrow'],
  ['tn.out 9×9 32→3',           'dx',      'gemm 32×128 staged',               'gemm 32×128 staged'],
  ['tn.out 9×9 32→3',           'dw',      'narrow 57 splits',                 'narrow 57 splits'],
  // The VGG's weights take no gradient: forward and input gradient only.
  ['vgg.conv1_1 3→64 @256²',    'forward', 'gemm 64×128 registers',            'gemm 64×128 staged channel-major'],
  ['vgg.conv1_1 3→64 @256²',    'dx',      'direct',                           'direct'],
  ['vgg.conv1_2 64→64 @256²',   'forward', 'gemm 64×128 registers',            'winograd 64×128 staged'],
  ['vgg.conv1_2 64→64 @256²',   'dx',      'gemmPhase 64×128 staged 1 phase',  'winograd 64×128 staged'],
  ['vgg.conv2_1 64→128 @128²',  'forward', 'winograd 64×128 registers',        'winograd 64×128 staged'],
  ['vgg.conv2_1 64→128 @128²',  'dx',      'winograd 64×128 registers',        'winograd 64×128 staged'],
  ['vgg.conv2_2 128→128 @128²', 'forward', 'winograd 64×128 registers',        'winograd 64×128 staged'],
  ['vgg.conv2_2 128→128 @128²', 'dx',      'winograd 64×128 registers',        'winograd 64×128 staged'],
  ['vgg.conv3_1 128→256 @64²',  'forward', 'winograd 64×128 registers',        'winograd 64×128 staged'],
  ['vgg.conv3_1 128→256 @64²',  'dx',      'winograd 64×128 registers',        'winograd 64×128 staged'],
  ['vgg.conv3_2 256→256 @64²',  'forward', 'winograd 64×128 registers',        'winograd 64×128 staged'],
  ['vgg.conv3_2 256→256 @64²',  'dx',      'winograd 64×128 registers',        'winograd 64×128 staged'],
];

describe('planConv2d on a training step (256², batch 4), default choices', () => {
  for (const [layer, pass, fallback, discrete] of TABLE) {
    it(`${layer} ${pass}`, () => {
      expect(plan(layer, PASSES[pass], FALLBACK)).toBe(fallback);
      expect(plan(layer, PASSES[pass], DISCRETE)).toBe(discrete);
    });
  }
});

describe('planConv2d: limits and choices', () => {
  it('GEMMs of fewer than 8 rows run direct, but ≤ 4 output channels the narrow kernels', () => {
    const kinds = (x: number[], w: number[]) =>
      (['forward', 'backwardInput', 'backwardWeight'] as const).map(
        (pass) => planConv2d(pass, conv2dGeometry(x, w, null, zeros1), FALLBACK, DEFAULTS).kind,
      );
    expect(kinds([1, 7, 9, 9], [4, 7, 3, 3])).toEqual(['narrow', 'direct', 'narrow']);
    expect(kinds([1, 7, 9, 9], [5, 7, 3, 3])).toEqual(['direct', 'direct', 'direct']);
    expect(kinds([1, 8, 9, 9], [8, 8, 3, 3])).toEqual(['gemm', 'gemm', 'gemm']);
    // An 11×11 kernel is beyond the narrow weight gradient's (9×9 at most): direct.
    expect(kinds([1, 8, 20, 20], [4, 8, 11, 11])).toEqual(['narrow', 'gemm', 'direct']);
  });

  it("WebGPU's default 16 KiB of workgroup memory: a GEMM of ≤ 16 rows gets the 32-row tile", () => {
    const g = conv2dGeometry([1, 6, 9, 7], [10, 6, 3, 3], null, zeros1);
    const small: Conv2dDevice = {
      ...DISCRETE,
      limits: { ...DISCRETE.limits, maxComputeWorkgroupStorageSize: 16384 },
    };
    expect(describePlan(planConv2d('forward', g, DISCRETE, DEFAULTS))).toBe('gemm 16×256 staged channel-major');
    expect(describePlan(planConv2d('forward', g, small, DEFAULTS))).toBe('gemm 32×128 staged channel-major');
  });

  it("Winograd's transformed weights (16·Cin·Cout floats) must fit a binding too, not only V and M", () => {
    // 128→144 channels on 8² images: V and M are 144 KiB, the transformed weights 1.125 MiB.
    const g = conv2dGeometry([1, 128, 8, 8], [144, 128, 3, 3], null, zeros1);
    const binding = (bytes: number): Conv2dDevice => ({
      ...DISCRETE,
      limits: { ...DISCRETE.limits, maxStorageBufferBindingSize: bytes },
    });
    const kinds = (device: Conv2dDevice) =>
      (['forward', 'backwardInput', 'backwardWeight'] as const).map(
        (pass) => planConv2d(pass, g, device, DEFAULTS).kind,
      );
    expect(kinds(binding(2 * 2 ** 20))).toEqual(['winograd', 'winograd', 'winograd']);
    expect(kinds(binding(2 ** 20))).toEqual(['gemm', 'gemmPhase', 'gemm']);
  });

  it('the weight gradient splits no further than the grid allows', () => {
    const capped: Conv2dDevice = { ...FALLBACK, limits: { ...FALLBACK.limits, maxComputeWorkgroupsPerDimension: 5 } };
    expect(plan('tn.conv1 9×9 3→32', 'backwardWeight', capped)).toBe('gemm 32×128 registers 5 splits');
  });

  it('choices: Winograd off, the narrow weight gradient off, feeds forced', () => {
    const noWinograd = { ...DEFAULTS, winogradForward: false, winogradInputGrad: false, winogradWeightGrad: false };
    expect(plan('tn.res 128→128 @64²', 'forward', FALLBACK, noWinograd)).toBe('gemm 64×128 registers');
    expect(plan('tn.res 128→128 @64²', 'backwardInput', FALLBACK, noWinograd)).toBe('gemmPhase 64×128 staged 1 phase');
    expect(plan('tn.res 128→128 @64²', 'backwardWeight', DISCRETE, noWinograd)).toBe('gemm 64×128 staged 15 splits');
    expect(plan('tn.out 9×9 32→3', 'backwardWeight', FALLBACK, { ...DEFAULTS, narrowWeightGrad: false })).toBe(
      'direct',
    );
    const flipped = { ...DEFAULTS, forwardFeed: 'staged', weightGradFeed: 'staged', winogradFeed: 'staged' } as const;
    expect(plan('tn.conv2 s2 32→64', 'forward', FALLBACK, flipped)).toBe('gemm 64×128 staged tap-major');
    expect(plan('tn.conv2 s2 32→64', 'backwardWeight', FALLBACK, flipped)).toBe('gemm 64×128 staged 86 splits');
    expect(plan('tn.res 128→128 @64²', 'forward', FALLBACK, flipped)).toBe('winograd 64×128 staged');
    const registers = { ...DEFAULTS, forwardFeed: 'registers', winogradFeed: 'registers' } as const;
    expect(plan('tn.conv3 s2 64→128', 'forward', DISCRETE, registers)).toBe('gemm 64×128 registers');
    expect(plan('vgg.conv1_2 64→64 @256²', 'forward', DISCRETE, registers)).toBe('winograd 64×128 registers');
  });

  it('a pinned family: tiled gives the narrow kernel, a GEMM or the phase GEMMs by shape, whatever the choices', () => {
    const off = { ...DEFAULTS, narrowWeightGrad: false };
    expect(plan('tn.res 128→128 @64²', 'forward', FALLBACK, DEFAULTS, 'tiled')).toBe('gemm 64×128 registers');
    expect(plan('tn.res 128→128 @64²', 'backwardInput', FALLBACK, DEFAULTS, 'tiled')).toBe(
      'gemmPhase 64×128 staged 1 phase',
    );
    expect(plan('tn.out 9×9 32→3', 'backwardWeight', FALLBACK, off, 'tiled')).toBe('narrow 57 splits');
    expect(plan('tn.conv1 9×9 3→32', 'backwardInput', FALLBACK, DEFAULTS, 'tiled')).toBe(
      'gemmPhase 16×256 staged 1 phase',
    );
    expect(plan('tn.res 128→128 @64²', 'forward', FALLBACK, DEFAULTS, 'direct')).toBe('direct');
  });
});
