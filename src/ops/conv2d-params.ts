// The uniform Params struct every conv2d shader declares (conv2d_common.wgsl, prefixed to each of them by
// conv2d.ts and conv2d-winograd.ts): one layout, one packer, read by both modules.
import { u32Struct } from '../engine/kernel.js';
import type { Conv2dGeometry } from './conv2d-geometry.js';

/** conv2d_common.wgsl's Params, field by field. */
export const CONV2D_PARAMS = u32Struct([
  'batch',
  'inChannels',
  'inHeight',
  'inWidth',
  'outChannels',
  'outHeight',
  'outWidth',
  'pad',
  'upHeight',
  'upWidth',
  'paddedHeight',
  'paddedWidth',
  'total',
  'reduceChunk',
  'strideShift',
  'upsampleShift',
  'padMode',
  'hasBias',
  'phaseY',
  'phaseX',
  'phaseHeight',
  'phaseWidth',
  'phaseTapsY',
  'phaseTapsX',
  'upsampleZeros',
  'tilesH',
  'tilesW',
  'tiles',
  'tilesPadded',
  'channelsPadded',
]);

export type Conv2dParamField = (typeof CONV2D_PARAMS.fields)[number];

/** conv2d_source_coord.wgsl's padMode codes. */
const PAD_MODE_CODE = { zeros: 0, reflect: 1 } as const;

/** The fields that the conv's geometry fixes. */
export function geometryParams(g: Conv2dGeometry): Partial<Record<Conv2dParamField, number>> {
  return {
    batch: g.batch,
    inChannels: g.inChannels,
    inHeight: g.inHeight,
    inWidth: g.inWidth,
    outChannels: g.outChannels,
    outHeight: g.outHeight,
    outWidth: g.outWidth,
    pad: g.padding,
    upHeight: g.upHeight,
    upWidth: g.upWidth,
    paddedHeight: g.paddedHeight,
    paddedWidth: g.paddedWidth,
    strideShift: Math.log2(g.stride),
    upsampleShift: Math.log2(g.upsample),
    padMode: PAD_MODE_CODE[g.padMode],
    upsampleZeros: g.upsampleMode === 'zeros' ? 1 : 0,
  };
}

/**
 * Packs Params by name; a field not given is 0 (the pass-specific fields a kernel does not read: phase*,
 * tiles*, …). A misspelt field is a type error.
 */
export function packConv2dParams(fields: Partial<Record<Conv2dParamField, number>>): ArrayBuffer {
  const values = {} as Record<Conv2dParamField, number>;
  for (const f of CONV2D_PARAMS.fields) values[f] = fields[f] ?? 0;
  return CONV2D_PARAMS.pack(values);
}
