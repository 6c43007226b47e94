import { shapeStr } from '../engine/errors.js';
import {
  architectureOf,
  encodeMetadata,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  type ModelMetadata,
} from './model-file.js';
import { ModelFileError, writeSafetensors } from './safetensors.js';
import { channelWidths, parameterSpecs, resolveConfig } from './transform-net.js';

/**
 * ml5.js style-transfer model folders (deeplearn.js CheckpointLoader layout, as ml5.styleTransfer() reads
 * them): manifest.json maps a variable name to {filename, shape}; each file is the raw little-endian float32
 * values of one TensorFlow variable (no header). lengstrom's fast-style-transfer net has 48 variables,
 * Variable, Variable_1 … Variable_47, three per layer in layer order: the conv weight (HWIO; [K, K, Cout, Cin]
 * for the transposed convs), then the instance norm's shift, then its scale. That is our ml5-lengstrom
 * TransformNet's parameter order with each norm's (scale, shift) swapped, so the variables map onto
 * parameterSpecs() by position; the channel widths come from the first weight.
 *
 * Nothing here touches the file system or the network: callers read the files (CLI import, browser fetch).
 */

export const ML5_ARCHITECTURE = 'ml5-lengstrom';
export const ML5_LICENCE_NOTE = 'ml5.js weights, MIT; training code research use';
export const ML5_VARIABLES = 48;

export interface Ml5ManifestEntry {
  filename: string;
  shape: number[];
}

export type Ml5Manifest = Map<string, Ml5ManifestEntry>;

/** The manifest's JSON text, checked: every entry a {filename, shape} with a plain file name. */
export function parseMl5Manifest(text: string, source: string): Ml5Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ModelFileError(`${source}: manifest.json is not valid JSON`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new ModelFileError(`${source}: manifest.json is not an object of variables`);
  const manifest: Ml5Manifest = new Map();
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    const e = entry as Partial<Ml5ManifestEntry> | null;
    const shapeOk = Array.isArray(e?.shape) && e!.shape.every((d) => Number.isInteger(d) && d > 0);
    // A file name, not a path: a manifest must not make us read outside its folder.
    const fileOk = typeof e?.filename === 'string' && e.filename !== '' && !/[\\/]|^\.\.?$/.test(e.filename);
    if (!e || typeof e !== 'object' || !shapeOk || !fileOk) {
      throw new ModelFileError(
        `${source}: manifest.json entry ${JSON.stringify(name)} is not {filename, shape} with a plain file name`,
      );
    }
    manifest.set(name, { filename: e.filename!, shape: [...e.shape!] });
  }
  return manifest;
}

/** The variable's name at position i of the layer order: Variable, Variable_1, … */
function variableName(i: number): string {
  return i === 0 ? 'Variable' : `Variable_${i}`;
}

/** Channel widths of the net the manifest describes, as a width multiplier; unknown layouts throw. */
function widthOf(manifest: Ml5Manifest, source: string): number {
  const unknown = (why: string): never => {
    throw new ModelFileError(
      `${source}: unknown checkpoint layout (${why}); expected lengstrom's fast-style-transfer net, ${ML5_VARIABLES} variables Variable … Variable_${ML5_VARIABLES - 1}`,
    );
  };
  if (manifest.size !== ML5_VARIABLES) unknown(`${manifest.size} variables`);
  for (let i = 0; i < ML5_VARIABLES; i++) if (!manifest.has(variableName(i))) unknown(`no ${variableName(i)}`);
  const first = manifest.get('Variable')!.shape;
  if (first.length !== 4 || first[0] !== 9 || first[1] !== 9 || first[2] !== 3)
    unknown(`Variable has shape ${shapeStr(first)}, not [9, 9, 3, C]`);
  const width = first[3] / 32;
  const [c1] = channelWidths(width);
  if (c1 !== first[3]) unknown(`first layer has ${first[3]} channels`);
  return width;
}

/**
 * Our shape in TensorFlow's layout. A 4-D weight of ours is [A, B, K, K] and TensorFlow's is [K, K, B, A]
 * for both kinds: conv OIHW ↔ HWIO, transposed conv [Cin, Cout, K, K] ↔ [K, K, Cout, Cin].
 */
function tfShape(ours: number[]): number[] {
  if (ours.length !== 4) return ours;
  const [a, b, k] = ours;
  return [k, k, b, a];
}

/**
 * The net's weights under our names from the checkpoint's variables. `readFile(filename)` returns a file's
 * bytes, or undefined where it is missing. Missing files, wrong byte counts, wrong shapes and unknown layouts
 * throw ModelFileError naming `source` and the variable.
 */
export async function ml5CheckpointTensors(
  manifest: Ml5Manifest,
  readFile: (filename: string) => Promise<Uint8Array | undefined>,
  source: string,
): Promise<{ widthMultiplier: number; tensors: Map<string, { shape: number[]; data: Float32Array }> }> {
  const widthMultiplier = widthOf(manifest, source);
  const specs = parameterSpecs({ widthMultiplier, architecture: ML5_ARCHITECTURE });
  if (specs.length !== ML5_VARIABLES)
    throw new Error(`ml5 import: the ml5-lengstrom net has ${specs.length} parameters, not ${ML5_VARIABLES}`);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (let layer = 0; layer < ML5_VARIABLES / 3; layer++) {
    // Checkpoint order per layer: weight, shift, scale; ours: weight, scale (norm .weight), shift (norm .bias).
    const ours = [specs[3 * layer], specs[3 * layer + 2], specs[3 * layer + 1]];
    for (let j = 0; j < 3; j++) {
      const name = variableName(3 * layer + j);
      const entry = manifest.get(name)!;
      const spec = ours[j];
      const expected = tfShape(spec.shape);
      if (entry.shape.length !== expected.length || entry.shape.some((d, i) => d !== expected[i])) {
        throw new ModelFileError(
          `${source}: unknown checkpoint layout (${name} has shape ${shapeStr(entry.shape)}, the ${spec.name} of this net needs ${shapeStr(expected)})`,
        );
      }
      const bytes = await readFile(entry.filename);
      if (bytes === undefined) throw new ModelFileError(`${source}: missing file ${entry.filename} (variable ${name})`);
      const count = expected.reduce((a, b) => a * b, 1);
      if (bytes.length !== 4 * count) {
        throw new ModelFileError(
          `${source}: ${entry.filename} has ${bytes.length} bytes, ${name} ${shapeStr(expected)} needs ${4 * count} (float32)`,
        );
      }
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const tf = new Float32Array(count);
      for (let i = 0; i < count; i++) tf[i] = view.getFloat32(4 * i, true);
      tensors.set(spec.name, { shape: spec.shape, data: expected.length === 4 ? fromTfLayout(tf, spec.shape) : tf });
    }
  }
  return { widthMultiplier, tensors };
}

/** A 4-D TensorFlow weight [K, K, B, A] in our layout [A, B, K, K] (see tfShape). */
function fromTfLayout(tf: Float32Array, ours: number[]): Float32Array {
  const [a, b, k] = ours;
  const out = new Float32Array(tf.length);
  for (let ia = 0; ia < a; ia++) {
    for (let ib = 0; ib < b; ib++) {
      for (let ky = 0; ky < k; ky++) {
        for (let kx = 0; kx < k; kx++) out[((ia * b + ib) * k + ky) * k + kx] = tf[((ky * k + kx) * b + ib) * a + ia];
      }
    }
  }
  return out;
}

/** Metadata of an imported ml5 net. */
export function ml5ModelMetadata(widthMultiplier: number, style: string | undefined, source: string): ModelMetadata {
  return {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    architecture: architectureOf(resolveConfig({ widthMultiplier, architecture: ML5_ARCHITECTURE })),
    ...(style !== undefined ? { style } : {}),
    source,
    licence: ML5_LICENCE_NOTE,
  };
}

/** Our model file (safetensors + metadata) for an ml5 checkpoint folder. */
export async function ml5ToModelFile(
  manifest: Ml5Manifest,
  readFile: (filename: string) => Promise<Uint8Array | undefined>,
  opts: { style?: string; source: string; label?: string },
): Promise<Uint8Array> {
  // Errors name the folder (`label`, e.g. its path); `source` is the metadata's free text.
  const { widthMultiplier, tensors } = await ml5CheckpointTensors(manifest, readFile, opts.label ?? opts.source);
  return writeSafetensors(tensors, encodeMetadata(ml5ModelMetadata(widthMultiplier, opts.style, opts.source)));
}
