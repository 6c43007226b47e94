import type { Engine } from '../engine/engine.js';
import {
  ARCHITECTURES,
  isArchitectureName,
  OUTPUT_OFFSET,
  OUTPUT_SCALE,
  RESIDUAL_BLOCKS,
  TransformNet,
  channelWidths,
  checkedWeights,
  parameterSpecs,
  type ArchitectureName,
  type ResolvedTransformNetConfig,
  type TransformNetArchitecture,
} from './transform-net.js';
import { ModelFileError, readSafetensors, writeSafetensors, type Dtype } from './safetensors.js';

/**
 * Transform-net model files: safetensors with the net's weights under their pytorch/examples names and, in
 * `__metadata__` (string values; objects as JSON), what is needed to rebuild and describe the net:
 *   format        'fast-style-webgpu/transform-net' (a training checkpoint: 'fast-style-webgpu/checkpoint')
 *   version       '1'
 *   architecture  JSON ArchitectureMetadata
 *   style         the style's name, training  JSON of the training config, step  the optimiser steps,
 *   history       JSON of the training sessions (checkpoint.ts's TrainingSession[]) of a trained model.
 */

export const MODEL_FORMAT = 'fast-style-webgpu/transform-net';
export const CHECKPOINT_FORMAT = 'fast-style-webgpu/checkpoint';
export const MODEL_FORMAT_VERSION = 1;
/** Metadata key of a run's sessions (JSON TrainingSession[]), in checkpoints and in the models they end in. */
export const HISTORY_KEY = 'history';
/** Tensors of a checkpoint that are not weights (optimiser moments) start with this. */
export const CHECKPOINT_EXTRA_PREFIX = 'adam.';

/**
 * The architecture a model file holds: its name says which net to build (TransformNetArchitecture), the
 * other fields spell out what that name means so that a reader needs no code; on load they must agree.
 */
export interface ArchitectureMetadata {
  name: ArchitectureName;
  widthMultiplier: number;
  channels: number[];
  residualBlocks: number;
  /** scaled-tanh: outputScale·tanh(x) + outputOffset; linear: the raw last conv. */
  output: 'scaled-tanh' | 'linear';
  outputScale: number;
  outputOffset: number;
  instanceNormEps: number;
  padding: TransformNetArchitecture['padding'];
  upsampling: TransformNetArchitecture['upsampling'];
  convBias: boolean;
  outputNorm: boolean;
  /** Pixel convention of input and output. */
  pixels: 'RGB 0..255';
}

export interface ModelMetadata {
  format: string;
  version: number;
  architecture: ArchitectureMetadata;
  style?: string;
  training?: Record<string, unknown>;
  step?: number;
  /** Where imported weights came from, and the terms they come under. */
  source?: string;
  licence?: string;
}

export function architectureOf(config: ResolvedTransformNetConfig): ArchitectureMetadata {
  const arch = ARCHITECTURES[config.architecture];
  return {
    name: arch.name,
    widthMultiplier: config.widthMultiplier,
    channels: channelWidths(config.widthMultiplier),
    residualBlocks: RESIDUAL_BLOCKS,
    output: config.output,
    outputScale: OUTPUT_SCALE,
    outputOffset: OUTPUT_OFFSET,
    instanceNormEps: arch.instanceNormEps,
    padding: arch.padding,
    upsampling: arch.upsampling,
    convBias: arch.convBias,
    outputNorm: arch.outputNorm,
    pixels: 'RGB 0..255',
  };
}

/** The net's weights read back from the GPU, by name. */
export async function transformNetTensors(
  net: TransformNet,
): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of net.parameters()) out.set(name, { shape: [...t.shape], data: await t.data() });
  return out;
}

/** Metadata as safetensors strings. */
export function encodeMetadata(m: ModelMetadata, extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {
    format: m.format,
    version: String(m.version),
    architecture: JSON.stringify(m.architecture),
  };
  if (m.style !== undefined) out.style = m.style;
  if (m.training !== undefined) out.training = JSON.stringify(m.training);
  if (m.step !== undefined) out.step = String(m.step);
  if (m.source !== undefined) out.source = m.source;
  if (m.licence !== undefined) out.licence = m.licence;
  return { ...out, ...extra };
}

/**
 * A model file for `net` (async: the weights are read back from the GPU). `metadata` adds the style name,
 * training config and step; format, version and architecture are filled in from the net.
 */
export async function saveTransformNet(
  net: TransformNet,
  metadata: Partial<Pick<ModelMetadata, 'style' | 'training' | 'step' | 'source' | 'licence'>> = {},
  opts: { dtype?: Dtype } = {},
  /** Further metadata strings (e.g. a trained model's session history). */
  extra: Record<string, string> = {},
): Promise<Uint8Array> {
  const full: ModelMetadata = {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    architecture: architectureOf(net.config),
    ...metadata,
  };
  return writeSafetensors(await transformNetTensors(net), encodeMetadata(full, extra), opts);
}

/** Reads and checks our metadata; `source` names the file in errors. */
export function decodeMetadata(
  raw: Record<string, string>,
  source: string,
  formats: readonly string[] = [MODEL_FORMAT, CHECKPOINT_FORMAT],
): ModelMetadata {
  const fail = (why: string): never => {
    throw new ModelFileError(`${source}: ${why}`);
  };
  if (raw.format === undefined)
    fail(`not a fast-style-webgpu model (its safetensors metadata has no "format"; expected ${MODEL_FORMAT})`);
  if (!formats.includes(raw.format)) fail(`unexpected format "${raw.format}" (expected ${formats.join(' or ')})`);
  const version = Number(raw.version);
  if (!Number.isInteger(version) || version < 1) fail(`invalid format version "${raw.version}"`);
  if (version > MODEL_FORMAT_VERSION)
    fail(
      `format version ${version} is newer than this program reads (${MODEL_FORMAT_VERSION}); update fast-style-webgpu`,
    );
  const json = (key: string): unknown => {
    try {
      return JSON.parse(raw[key]);
    } catch {
      return fail(`metadata "${key}" is not valid JSON`);
    }
  };
  if (raw.architecture === undefined) fail('metadata has no "architecture"');
  const arch = json('architecture') as Partial<ArchitectureMetadata> | null;
  if (!arch || typeof arch !== 'object') return fail('metadata "architecture" is not an object');
  if (!isArchitectureName(arch.name))
    fail(
      `unsupported architecture "${String(arch.name)}" (this program runs ${Object.keys(ARCHITECTURES).join(', ')})`,
    );
  if (!(typeof arch.widthMultiplier === 'number' && arch.widthMultiplier > 0))
    fail(`invalid widthMultiplier ${String(arch.widthMultiplier)}`);
  if (arch.output !== 'scaled-tanh' && arch.output !== 'linear') fail(`unsupported output "${String(arch.output)}"`);
  const expected = architectureOf({
    widthMultiplier: arch.widthMultiplier!,
    output: arch.output!,
    seed: 0,
    architecture: arch.name!,
  });
  // Files written before convBias and outputNorm existed lack them: absent fields take the name's values.
  for (const key of [
    'residualBlocks',
    'outputScale',
    'outputOffset',
    'instanceNormEps',
    'padding',
    'upsampling',
    'convBias',
    'outputNorm',
  ] as const) {
    if (arch[key] !== undefined && arch[key] !== expected[key]) {
      fail(
        `architecture ${key} = ${JSON.stringify(arch[key])} is not supported (this program builds ${JSON.stringify(expected[key])})`,
      );
    }
  }
  const m: ModelMetadata = {
    format: raw.format,
    version,
    architecture: { ...expected, ...arch } as ArchitectureMetadata,
  };
  if (raw.style !== undefined) m.style = raw.style;
  if (raw.training !== undefined) m.training = json('training') as Record<string, unknown>;
  if (raw.step !== undefined) m.step = Number(raw.step);
  if (raw.source !== undefined) m.source = raw.source;
  if (raw.licence !== undefined) m.licence = raw.licence;
  return m;
}

/** The TransformNet config that a model file's metadata describes. */
export function netConfigOf(metadata: ModelMetadata): {
  widthMultiplier: number;
  output: ArchitectureMetadata['output'];
  architecture: ArchitectureName;
} {
  const a = metadata.architecture;
  return { widthMultiplier: a.widthMultiplier, output: a.output, architecture: a.name };
}

/** The net's tensors of a model file: all of them, or a checkpoint's without its optimiser state. */
function netTensors<T>(tensors: ReadonlyMap<string, T>, metadata: ModelMetadata): Map<string, T> {
  return new Map(
    [...tensors].filter(([name]) => metadata.format !== CHECKPOINT_FORMAT || !name.startsWith(CHECKPOINT_EXTRA_PREFIX)),
  );
}

/**
 * A model file (or a training checkpoint, its optimiser state dropped) rewritten as a model file with
 * weights of `dtype`: the same weights, checked as loadTransformNet checks them but on the CPU, and the same
 * metadata (style, training config, step, sessions, source, licence).
 */
export function rewriteModelFile(bytes: Uint8Array, source: string, opts: { dtype: Dtype }): Uint8Array {
  const file = readSafetensors(bytes, source);
  const metadata = decodeMetadata(file.metadata, source);
  const config = netConfigOf(metadata);
  const weights = netTensors(file.tensors, metadata);
  const values = checkedWeights(config, weights, source);
  const tensors = new Map(
    parameterSpecs(config).map((s) => [s.name, { shape: [...s.shape], data: values.get(s.name)! }]),
  );
  const extra: Record<string, string> =
    file.metadata[HISTORY_KEY] !== undefined ? { [HISTORY_KEY]: file.metadata[HISTORY_KEY] } : {};
  return writeSafetensors(tensors, encodeMetadata({ ...metadata, format: MODEL_FORMAT }, extra), opts);
}

/**
 * Loads a model file (or a training checkpoint: its optimiser state is ignored). Wrong files — not
 * safetensors, not our format, missing or extra tensors, wrong shapes — throw ModelFileError naming `source`.
 */
export async function loadTransformNet(
  engine: Engine,
  bytes: Uint8Array,
  source: string,
): Promise<{ net: TransformNet; metadata: ModelMetadata }> {
  const file = readSafetensors(bytes, source);
  const metadata = decodeMetadata(file.metadata, source);
  const weights = netTensors(file.tensors, metadata);
  const net = TransformNet.fromTensors(engine, netConfigOf(metadata), weights, source);
  return { net, metadata };
}
