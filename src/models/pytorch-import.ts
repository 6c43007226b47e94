import { shapeStr } from '../engine/errors.js';
import {
  architectureOf,
  encodeMetadata,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  type ModelMetadata,
} from './model-file.js';
import type { TorchTensor } from './pytorch-checkpoint.js';
import { ModelFileError, writeSafetensors } from './safetensors.js';
import { channelWidths, checkedWeights, parameterSpecs, resolveConfig } from './transform-net.js';
import { detectArchitecture, vggLayers, type VggArchitecture } from './vgg.js';

/**
 * What a PyTorch state dict (pytorch-checkpoint.ts) becomes here:
 *
 * - pytorch/examples' fast_neural_style `TransformerNet` (names conv1.conv2d.weight, in1.weight, res1.conv1…,
 *   deconv1…): our johnson2016 net with the `linear` output (that net has no tanh: its last conv outputs
 *   pixels 0..255 directly), at the width its first conv says. The InstanceNorm running_mean/running_var
 *   buffers of older files are dropped, as pytorch/examples drops them.
 * - torchvision's vgg16 / vgg19 (features.N.weight/bias, classifier.*): a VGG weight file in torchvision's
 *   input convention (pixels/255, ImageNet mean and std), the classifier left out, usable as `train --vgg`.
 *
 * Anything else is refused with one line naming what was found.
 */

const TORCHVISION_VGG_FORMAT = 'fast-style-webgpu/vgg';

export type TorchStateDictKind = 'transformer-net' | 'vgg';

type Tensors = ReadonlyMap<string, TorchTensor>;

/** Which of the known nets a state dict is, or a ModelFileError naming its first keys. */
export function torchStateDictKind(tensors: Tensors, source: string): TorchStateDictKind {
  if (tensors.has('conv1.conv2d.weight')) return 'transformer-net';
  if (tensors.has('features.0.weight')) return 'vgg';
  const keys = [...tensors.keys()];
  const shown = keys.slice(0, 4).join(', ') + (keys.length > 4 ? `, … (${keys.length} tensors)` : '');
  throw new ModelFileError(
    `${source}: not a state dict this program knows (its tensors are ${shown}); expected pytorch/examples TransformerNet (conv1.conv2d.weight, …) or torchvision vgg16/vgg19 (features.0.weight, …)`,
  );
}

const isFloatStorage = (t: TorchTensor): boolean => /^(Float|Half|BFloat16|Double)Storage$/.test(t.storageType);

/** The width multiplier of a TransformerNet state dict, from conv1's output channels. */
function transformerWidth(tensors: Tensors, source: string): number {
  const first = tensors.get('conv1.conv2d.weight')!;
  if (first.shape.length !== 4 || first.shape[1] !== 3 || first.shape[2] !== 9 || first.shape[3] !== 9) {
    throw new ModelFileError(
      `${source}: conv1.conv2d.weight has shape ${shapeStr(first.shape)}, a TransformerNet's is [C, 3, 9, 9]`,
    );
  }
  const width = first.shape[0] / 32;
  if (channelWidths(width)[0] !== first.shape[0])
    throw new ModelFileError(`${source}: conv1 has ${first.shape[0]} channels, which no width multiplier gives`);
  return width;
}

/** Metadata of an imported pytorch/examples net. */
function transformerNetMetadata(
  widthMultiplier: number,
  opts: { style?: string; source: string; licence?: string },
): ModelMetadata {
  return {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    architecture: architectureOf(resolveConfig({ widthMultiplier, output: 'linear', architecture: 'johnson2016' })),
    ...(opts.style !== undefined ? { style: opts.style } : {}),
    source: opts.source,
    ...(opts.licence !== undefined ? { licence: opts.licence } : {}),
  };
}

/** The weights of a pytorch/examples TransformerNet, checked (names, shapes, nothing unknown). */
export function transformerNetTensors(
  tensors: Tensors,
  source: string,
): { widthMultiplier: number; tensors: Map<string, { shape: number[]; data: Float32Array }> } {
  const widthMultiplier = transformerWidth(tensors, source);
  const config = { widthMultiplier, output: 'linear' as const, architecture: 'johnson2016' as const };
  for (const [name, t] of tensors) {
    if (!isFloatStorage(t) && !/running_|num_batches_tracked/.test(name))
      throw new ModelFileError(`${source}: ${name} holds ${t.storageType} values, not floating point`);
  }
  const values = checkedWeights(config, tensors, source);
  return {
    widthMultiplier,
    tensors: new Map(parameterSpecs(config).map((s) => [s.name, { shape: [...s.shape], data: values.get(s.name)! }])),
  };
}

/** Our model file for a pytorch/examples TransformerNet state dict. */
export function transformerNetToModelFile(
  tensors: Tensors,
  opts: { style?: string; source: string; licence?: string; label?: string },
): { bytes: Uint8Array; widthMultiplier: number } {
  // Errors name the file (`label`, e.g. its path); `source` is the metadata's free text.
  const net = transformerNetTensors(tensors, opts.label ?? opts.source);
  return {
    bytes: writeSafetensors(net.tensors, encodeMetadata(transformerNetMetadata(net.widthMultiplier, opts))),
    widthMultiplier: net.widthMultiplier,
  };
}

export interface VggImport {
  bytes: Uint8Array;
  architecture: VggArchitecture;
  /** The conv layers the file provides, in order (conv1_1, conv1_2, …). */
  convs: string[];
  /** The ReLU layers a loss can read from it. */
  relus: string[];
}

/**
 * The features of a torchvision vgg16/vgg19 state dict as our VGG weight file. The convs present must be the
 * first ones in order (a truncated VGG is fine, one with a gap is not), each with torchvision's shape.
 */
export function torchVggToFile(tensors: Tensors, opts: { source: string; label?: string }): VggImport {
  // Errors name the file (`label`, e.g. its path); `source` is the metadata's free text.
  const source = opts.label ?? opts.source;
  const architecture = detectArchitecture(tensors);
  const layers = vggLayers(architecture);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  const convs: string[] = [];
  let ended = false;
  for (const l of layers) {
    if (l.kind !== 'conv') continue;
    const w = tensors.get(`features.${l.index}.weight`);
    const b = tensors.get(`features.${l.index}.bias`);
    if (!w && !b) {
      ended = true;
      continue;
    }
    if (ended)
      throw new ModelFileError(
        `${source}: features.${l.index} (${l.name}) is present but an earlier conv is missing; not a ${architecture}`,
      );
    for (const [suffix, t, shape] of [
      ['weight', w, [l.outChannels, l.inChannels, 3, 3]],
      ['bias', b, [l.outChannels]],
    ] as const) {
      const name = `features.${l.index}.${suffix}`;
      if (!t) throw new ModelFileError(`${source}: missing ${name} (${l.name})`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new ModelFileError(
          `${source}: ${name} (${l.name}) has shape ${shapeStr(t.shape)}, ${architecture} needs ${shapeStr(shape)}`,
        );
      }
      if (!isFloatStorage(t))
        throw new ModelFileError(`${source}: ${name} holds ${t.storageType} values, not floating point`);
      out.set(name, { shape: [...shape], data: t.data });
    }
    convs.push(l.name);
  }
  const known = new Set(
    layers.filter((l) => l.kind === 'conv').flatMap((l) => [`features.${l.index}.weight`, `features.${l.index}.bias`]),
  );
  for (const name of tensors.keys()) {
    if (name.startsWith('classifier.')) continue;
    if (!known.has(name))
      throw new ModelFileError(`${source}: unexpected tensor ${name} (not part of torchvision's ${architecture})`);
  }
  const last = convs[convs.length - 1];
  const relus = layers
    .filter(
      (l) =>
        l.kind === 'relu' && layers.findIndex((c) => c.name === l.name) <= layers.findIndex((c) => c.name === last) + 1,
    )
    .map((l) => l.name);
  const metadata: Record<string, string> = {
    format: TORCHVISION_VGG_FORMAT,
    architecture,
    vgg_input: 'torchvision',
    input: 'RGB, pixels/255, minus mean [0.485, 0.456, 0.406], divided by std [0.229, 0.224, 0.225] (torchvision)',
    layers: `${architecture} ${convs[0]}..${last} (relu layers ${relus[0]}..${relus[relus.length - 1]}); classifier not kept`,
    layout: 'OIHW float32, torchvision features.N naming',
    source: opts.source,
  };
  return { bytes: writeSafetensors(out, metadata), architecture, convs, relus };
}
