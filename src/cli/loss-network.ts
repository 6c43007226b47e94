/**
 * The loss network and loss settings for the commands that optimise or measure images against a style
 * (optimize, eval): which VGG file (--vgg, else the shared VGG19 when it exists), its architecture and input
 * convention (--vgg-arch / --vgg-input, auto-detected as train does), the loss weights, and the style image
 * as a tensor.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import { rgbaToTensor } from '../ops/image.js';
import { defaultLossConfig, type LossConfig } from '../models/losses.js';
import { readSafetensors } from '../models/safetensors.js';
import { Vgg, assertVggTensors, detectArchitecture, detectInput, vggLayers, type VggArchitecture, type VggInput } from '../models/vgg.js';
import { UsageError, type OptionSpec, type ParsedArgs } from './args.js';
import { CliError } from './errors.js';
import { decodeImage, fitWithin, resizeRgba, type RgbaImage } from './image-io.js';
import { packageRoot } from './package-files.js';

/** The shared assets' VGG19 (../shared/assets relative to the project root), the default where it exists. */
export function sharedVggPath(): string {
  return resolve(join(packageRoot(), '..', 'shared', 'assets', 'vgg', 'vgg19_conv1_1-conv3_4.safetensors'));
}

export const vggOptions: OptionSpec[] = [
  { name: 'vgg', type: 'string', valueName: 'FILE', description: 'VGG16/VGG19 weights (safetensors, torchvision names features.N.weight); default: the shared VGG19 file if present' },
  { name: 'vgg-arch', type: 'string', choices: ['auto', 'vgg16', 'vgg19'], default: 'auto', description: 'VGG architecture of --vgg (auto: from its layers)' },
  { name: 'vgg-input', type: 'string', choices: ['auto', 'caffe', 'torchvision'], default: 'auto', description: "input convention of --vgg (auto: from the file's metadata)" },
];

/** --vgg, or the shared file when it exists; a usage error when neither. */
export function vggPath(args: ParsedArgs, command: string): string {
  const given = args.string('vgg');
  if (given !== undefined) return given;
  const shared = sharedVggPath();
  if (existsSync(shared)) return shared;
  throw new UsageError(`missing --vgg FILE for '${command}' (no shared VGG at ${shared})`);
}

export function readInputFile(path: string, what: string): Uint8Array {
  if (!existsSync(path)) throw new CliError(`cannot read ${what} ${path}: no such file`);
  if (statSync(path).isDirectory()) throw new CliError(`cannot read ${what} ${path}: it is a directory`);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new CliError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e))}`);
  }
}

export function readImageFile(path: string, what: string): RgbaImage {
  return decodeImage(readInputFile(path, what), path);
}

export interface VggFile {
  path: string;
  tensors: ReturnType<typeof readSafetensors>['tensors'];
  architecture: VggArchitecture;
  input: VggInput;
}

/** Reads a VGG weight file (on the CPU) and settles its architecture and input convention. */
export function readVggFile(path: string, arch: VggArchitecture | 'auto', input: VggInput | 'auto'): VggFile {
  const file = readSafetensors(readInputFile(path, 'VGG weights'), path);
  assertVggTensors(file.tensors, path);
  return {
    path,
    tensors: file.tensors,
    architecture: arch === 'auto' ? detectArchitecture(file.tensors) : arch,
    input: input === 'auto' ? detectInput(file.metadata) : input,
  };
}

/**
 * Loss settings: `base` (e.g. a model's training config) or the VGG's defaults with Gatys et al.'s weights
 * from ../shared/assets/README.md (cw 1, sw 0.3, tvw 0 on a caffe-input VGG), then the weights given.
 */
export function lossSettings(args: ParsedArgs, vgg: VggFile, base?: LossConfig): LossConfig {
  const d = defaultLossConfig(vgg.architecture, vgg.input);
  const gatys = vgg.input === 'caffe' ? { contentWeight: 1, styleWeight: 0.3, tvWeight: 0 } : { contentWeight: d.contentWeight, styleWeight: d.styleWeight, tvWeight: 0 };
  const config: LossConfig = base ? { ...base, styleLayers: [...base.styleLayers] } : { ...d, ...gatys };
  const given = (name: string) => (args.given.has(name) ? args.number(name) : undefined);
  config.contentWeight = given('content-weight') ?? config.contentWeight;
  config.styleWeight = given('style-weight') ?? config.styleWeight;
  config.tvWeight = given('tv-weight') ?? config.tvWeight;
  const relus = vggLayers(vgg.architecture).filter((l) => l.kind === 'relu').map((l) => l.name);
  for (const layer of [config.contentLayer, ...config.styleLayers]) {
    if (!relus.includes(layer)) throw new UsageError(`unknown VGG layer '${layer}' (${vgg.architecture} layers: ${relus.join(', ')})`);
  }
  return config;
}

export function buildVgg(engine: Engine, vgg: VggFile, config: LossConfig): Vgg {
  return Vgg.fromTensors(engine, vgg.tensors, {
    architecture: vgg.architecture,
    input: vgg.input,
    layers: [config.contentLayer, ...config.styleLayers],
    source: vgg.path,
  });
}

/** An image resized so that its long side is `edge` (up or down), as a [1, 3, H, W] tensor. */
export function imageTensor(engine: Engine, img: RgbaImage, edge: number): Tensor {
  const r = resizeToEdge(img, edge);
  return rgbaToTensor(engine, r.data, r.width, r.height);
}

/** Resized so that the long side is `edge` (enlarging too), keeping the aspect ratio. */
export function resizeToEdge(img: RgbaImage, edge: number): RgbaImage {
  const long = Math.max(img.width, img.height);
  const fit = long === edge ? img : img.width >= img.height
    ? { width: edge, height: Math.max(1, Math.round((img.height * edge) / img.width)) }
    : { width: Math.max(1, Math.round((img.width * edge) / img.height)), height: edge };
  return fit.width === img.width && fit.height === img.height ? img : resizeRgba(img, fit.width, fit.height);
}

/** Shrinks to fit `edge` (never enlarges). */
export function fitImage(img: RgbaImage, edge: number): RgbaImage {
  const fit = fitWithin(img.width, img.height, edge);
  return fit.width === img.width && fit.height === img.height ? img : resizeRgba(img, fit.width, fit.height);
}

export const lossWeightOptions: OptionSpec[] = [
  { name: 'content-weight', type: 'number', min: 0, description: 'content loss weight (default 1)' },
  { name: 'style-weight', type: 'number', min: 0, description: 'style loss weight (default 0.3 on caffe-input VGGs: Gatys at 256 px in ../shared/assets/README.md)' },
  { name: 'tv-weight', type: 'number', min: 0, description: 'total-variation weight (default 0)' },
];

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
