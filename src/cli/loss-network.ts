/**
 * The loss network and loss settings for the commands that optimise or measure images against a style
 * (train, optimize, eval): which VGG file (--vgg, else the VGG19 shipped in models/loss-network/), its architecture and input
 * convention (--vgg-arch / --vgg-input, auto-detected as train does), the loss weights, and the style image
 * as a tensor.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import { rgbaToTensor } from '../ops/image.js';
import { defaultLossConfig, minImageSide, StyleLoss, type LossConfig } from '../models/losses.js';
import { CHECKPOINT_FORMAT, MODEL_FORMAT } from '../models/model-file.js';
import { readTorchCheckpoint, sniffTorchFile } from '../models/pytorch-checkpoint.js';
import { torchStateDictKind, torchVggToFile } from '../models/pytorch-import.js';
import { readSafetensors } from '../models/safetensors.js';
import {
  Vgg,
  assertVggTensors,
  detectArchitecture,
  detectInput,
  vggLayers,
  type VggArchitecture,
  type VggInput,
} from '../models/vgg.js';
import { UsageError, type OptionSpec, type ParsedArgs } from './args.js';
import { CliError } from './errors.js';
import { decodeImage, resizeToEdge, sizeForEdge } from '../node/image-io.js';
import type { RgbaImage } from '../models/rgba-image.js';
import { readInputFile } from './files.js';
import { packageRoot } from './package-files.js';
import { inflateRawSync } from 'node:zlib';

/**
 * The loss network shipped with the package (ImageNet VGG19 conv1_1–conv3_4 of the VGG authors, CC BY 4.0;
 * models/loss-network/README.md), so that training works from a fresh clone with no other download.
 */
function defaultVggPath(): string {
  return resolve(join(packageRoot(), 'models', 'loss-network', 'vgg19_conv1_1-conv3_4.safetensors'));
}

const VGG_DESCRIPTION =
  "VGG16/VGG19 weights (safetensors with torchvision names features.N.weight, or torchvision's own vgg16/vgg19 .pth); default: the VGG19 (conv1_1–conv3_4) in models/loss-network/";

export const vggOptions: OptionSpec[] = [
  { name: 'vgg', type: 'string', valueName: 'FILE', description: VGG_DESCRIPTION },
  {
    name: 'vgg-arch',
    type: 'string',
    choices: ['auto', 'vgg16', 'vgg19'],
    default: 'auto',
    description: 'VGG architecture of --vgg (auto: from its layers)',
  },
  {
    name: 'vgg-input',
    type: 'string',
    choices: ['auto', 'caffe', 'torchvision'],
    default: 'auto',
    description: "input convention of --vgg (auto: from the file's metadata)",
  },
];

/** --vgg, or the shipped file; a usage error when neither (a package installed without its models/). */
export function vggPath(args: ParsedArgs, command: string): string {
  const given = args.string('vgg');
  if (given !== undefined) return given;
  const shipped = defaultVggPath();
  if (existsSync(shipped)) return shipped;
  throw new UsageError(
    `missing --vgg FILE for '${command}' (the default loss network ${shipped} is missing: reinstall the package or give --vgg)`,
  );
}

export async function readImageFile(path: string, what: string): Promise<RgbaImage> {
  return await decodeImage(readInputFile(path, what), path);
}

export interface VggFile {
  path: string;
  tensors: ReturnType<typeof readSafetensors>['tensors'];
  architecture: VggArchitecture;
  input: VggInput;
}

/**
 * A torchvision VGG .pth (vgg16-397923af.pth …) read as the safetensors file `import` would make of it
 * (features only, torchvision input); any other .pth is refused.
 */
function torchVggAsSafetensors(bytes: Uint8Array, path: string): Uint8Array {
  const checkpoint = readTorchCheckpoint(
    bytes,
    path,
    (data, size) => new Uint8Array(inflateRawSync(data, { maxOutputLength: Math.max(size, 1) })),
  );
  if (torchStateDictKind(checkpoint.tensors, path) !== 'vgg')
    throw new CliError(
      `${path} is not VGG weights: it is a TransformerNet checkpoint (import it and use stylize --model)`,
    );
  return torchVggToFile(checkpoint.tensors, { source: path }).bytes;
}

/** Reads a VGG weight file (safetensors, or a torchvision .pth; on the CPU) and settles its architecture and input convention. */
export function readVggFile(path: string, arch: VggArchitecture | 'auto', input: VggInput | 'auto'): VggFile {
  let bytes = readInputFile(path, 'VGG weights');
  const torch = sniffTorchFile(bytes);
  if (torch === 'zip' || torch === 'legacy') bytes = torchVggAsSafetensors(bytes, path);
  const file = readSafetensors(bytes, path);
  const ours = file.metadata.format;
  if (ours === MODEL_FORMAT || ours === CHECKPOINT_FORMAT) {
    throw new CliError(
      `${path} is not VGG weights: it is a fast-style-webgpu ${ours === MODEL_FORMAT ? 'model (a trained transform net)' : 'training checkpoint'}; --vgg takes VGG16/VGG19 weights`,
    );
  }
  assertVggTensors(file.tensors, path);
  return {
    path,
    tensors: file.tensors,
    architecture: arch === 'auto' ? detectArchitecture(file.tensors) : arch,
    input: input === 'auto' ? detectInput(file.metadata) : input,
  };
}

/** Loss settings given on the command line; what is not given comes from a base config. */
export interface LossOverrides {
  contentLayer?: string;
  styleLayers?: string[];
  contentWeight?: number;
  styleWeight?: number;
  tvWeight?: number;
}

/** The loss options given on the command line (only those the command declares and the user gave). */
function lossOverrides(args: ParsedArgs): LossOverrides {
  const number = (name: string) => (args.given.has(name) ? args.number(name) : undefined);
  return {
    contentLayer: args.given.has('content-layer') ? args.string('content-layer') : undefined,
    styleLayers: args.given.has('style-layers') ? args.list('style-layers') : undefined,
    contentWeight: number('content-weight'),
    styleWeight: number('style-weight'),
    tvWeight: number('tv-weight'),
  };
}

/** `base` with the overrides applied; a layer the architecture does not have is a usage error. */
export function resolveLossConfig(
  base: LossConfig,
  overrides: LossOverrides,
  architecture: VggArchitecture,
): LossConfig {
  const config: LossConfig = {
    contentLayer: overrides.contentLayer ?? base.contentLayer,
    styleLayers: [...(overrides.styleLayers ?? base.styleLayers)],
    contentWeight: overrides.contentWeight ?? base.contentWeight,
    styleWeight: overrides.styleWeight ?? base.styleWeight,
    tvWeight: overrides.tvWeight ?? base.tvWeight,
  };
  const relus = vggLayers(architecture)
    .filter((l) => l.kind === 'relu')
    .map((l) => l.name);
  for (const layer of [config.contentLayer, ...config.styleLayers]) {
    if (!relus.includes(layer))
      throw new UsageError(`unknown VGG layer '${layer}' (${architecture} layers: ${relus.join(', ')})`);
  }
  return config;
}

/**
 * Loss settings for optimize and eval: `base` (e.g. a model's training config) or the VGG's defaults with
 * Gatys et al.'s weights from ../shared/assets/README.md (cw 1, sw 0.3, tvw 0 on a caffe-input VGG), then
 * the weights given.
 */
export function lossSettings(args: ParsedArgs, vgg: VggFile, base?: LossConfig): LossConfig {
  const d = defaultLossConfig(vgg.architecture, vgg.input);
  const gatys =
    vgg.input === 'caffe'
      ? { contentWeight: 1, styleWeight: 0.3, tvWeight: 0 }
      : { contentWeight: d.contentWeight, styleWeight: d.styleWeight, tvWeight: 0 };
  return resolveLossConfig(base ?? { ...d, ...gatys }, lossOverrides(args), vgg.architecture);
}

/** Throws a CliError naming the image when it is too thin for the loss network (e.g. 256×3). */
export function checkImageSide(
  img: { width: number; height: number },
  config: LossConfig,
  architecture: VggArchitecture,
  what: string,
): void {
  const min = minImageSide(config, architecture);
  if (Math.min(img.width, img.height) < min) {
    const deepest = [config.contentLayer, ...config.styleLayers].join(',');
    throw new CliError(
      `${what} is ${img.width}×${img.height} at the size used: too thin for the loss network, whose layers (${deepest}) need at least ${min} pixels on each side; crop it or raise --size`,
    );
  }
}

/** checkImageSide for the style image at `styleEdge` (long side), the size the loss sees it at. */
export function checkStyleImage(
  styleImage: { width: number; height: number },
  styleEdge: number,
  config: LossConfig,
  architecture: VggArchitecture,
  path: string,
): void {
  checkImageSide(
    sizeForEdge(styleImage.width, styleImage.height, styleEdge),
    config,
    architecture,
    `style image ${path}`,
  );
}

export function buildVgg(engine: Engine, vgg: VggFile, config: LossConfig): Vgg {
  return Vgg.fromTensors(engine, vgg.tensors, {
    architecture: vgg.architecture,
    input: vgg.input,
    layers: [config.contentLayer, ...config.styleLayers],
    source: vgg.path,
  });
}

/**
 * The loss network built for `config` and the style's loss on it, the style image taken at `styleEdge` (long
 * side); the caller has checked the image against the network (checkImageSide).
 */
export async function buildStyleLoss(
  engine: Engine,
  vggFile: VggFile,
  config: LossConfig,
  styleImage: RgbaImage,
  styleEdge: number,
): Promise<{ vgg: Vgg; loss: StyleLoss }> {
  const vgg = buildVgg(engine, vggFile, config);
  const style = await imageTensor(engine, styleImage, styleEdge);
  const loss = StyleLoss.create(vgg, style, config);
  style.dispose();
  return { vgg, loss };
}

/** An image resized so that its long side is `edge` (up or down), as a [1, 3, H, W] tensor. */
export async function imageTensor(engine: Engine, img: RgbaImage, edge: number): Promise<Tensor> {
  const r = await resizeToEdge(img, edge);
  return rgbaToTensor(engine, r.data, r.width, r.height);
}

export const lossWeightOptions: OptionSpec[] = [
  { name: 'content-weight', type: 'number', min: 0, description: 'content loss weight (default 1)' },
  {
    name: 'style-weight',
    type: 'number',
    min: 0,
    description: 'style loss weight (default 0.3 on caffe-input VGGs: Gatys at 256 px in ../shared/assets/README.md)',
  },
  { name: 'tv-weight', type: 'number', min: 0, description: 'total-variation weight (default 0)' },
];
