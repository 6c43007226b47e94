import type { Engine } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import { Tensor } from '../engine/tensor.js';
import { channelAffine, conv2d, maxPool2d, relu } from '../autograd/functional.js';
import { rng } from '../ops/cpu.js';
import { ModelFileError, readSafetensors } from './safetensors.js';

/**
 * The VGG loss network: torchvision's `vgg16().features` / `vgg19().features` (3×3 convs with zero padding 1,
 * ReLU, 2×2 max pools), truncated after the deepest layer a loss needs. Its weights are frozen: plain tensors
 * without requiresGrad, so gradients flow through it to the input only.
 *
 * Weight names are torchvision's `features.N.weight` / `features.N.bias` (OIHW), N being the conv's index in
 * `features`; layers are called conv1_1, relu1_1, …, pool1, conv2_1, … as in the papers.
 *
 * Input: our pixel tensors are RGB 0..255. How a given weight file wants its input (`VggInput`):
 * - `caffe`: RGB 0..255 minus the ImageNet mean [123.68, 116.779, 103.939], no std (the original VGG
 *   release, Keras, and the shared VGG19 file);
 * - `torchvision`: pixels/255, minus mean [0.485, 0.456, 0.406], divided by std [0.229, 0.224, 0.225]
 *   (torchvision and timm weights).
 */

export type VggArchitecture = 'vgg16' | 'vgg19';
export type VggInput = 'caffe' | 'torchvision';

const BLOCKS: Record<VggArchitecture, number[]> = {
  vgg16: [2, 2, 3, 3, 3],
  vgg19: [2, 2, 4, 4, 4],
};
const BLOCK_CHANNELS = [64, 128, 256, 512, 512];

export const CAFFE_MEAN = [123.68, 116.779, 103.939] as const;
export const TORCHVISION_MEAN = [0.485, 0.456, 0.406] as const;
export const TORCHVISION_STD = [0.229, 0.224, 0.225] as const;

export interface VggLayer {
  /** conv1_1, relu1_1, pool1, … */
  name: string;
  kind: 'conv' | 'relu' | 'pool';
  /** Position in torchvision's `features` Sequential. */
  index: number;
  inChannels: number;
  outChannels: number;
}

/** Every layer of `features`, in order, with torchvision's indices. */
export function vggLayers(architecture: VggArchitecture): VggLayer[] {
  const layers: VggLayer[] = [];
  let index = 0;
  let channels = 3;
  BLOCKS[architecture].forEach((convs, b) => {
    const out = BLOCK_CHANNELS[b];
    for (let k = 1; k <= convs; k++) {
      layers.push({ name: `conv${b + 1}_${k}`, kind: 'conv', index: index++, inChannels: channels, outChannels: out });
      layers.push({ name: `relu${b + 1}_${k}`, kind: 'relu', index: index++, inChannels: out, outChannels: out });
      channels = out;
    }
    layers.push({ name: `pool${b + 1}`, kind: 'pool', index: index++, inChannels: out, outChannels: out });
  });
  return layers;
}

/** The layers up to and including the deepest of `wanted`; unknown names throw, listing the valid ones. */
function truncatedLayers(architecture: VggArchitecture, wanted: readonly string[]): VggLayer[] {
  const all = vggLayers(architecture);
  if (wanted.length === 0) throw new RangeError(`VGG: no feature layers requested`);
  let deepest = -1;
  for (const name of wanted) {
    const i = all.findIndex((l) => l.name === name);
    if (i < 0) {
      throw new RangeError(
        `${architecture} has no layer ${name} (layers: ${all
          .filter((l) => l.kind === 'relu')
          .map((l) => l.name)
          .join(', ')})`,
      );
    }
    deepest = Math.max(deepest, i);
  }
  return all.slice(0, deepest + 1);
}

export interface VggOptions {
  architecture: VggArchitecture;
  input: VggInput;
  /** Layers the losses read; the net is built up to the deepest of them. */
  layers: readonly string[];
}

export interface VggFileOptions {
  /** `auto` (default): vgg19 when the file has features.16 (conv3_4), vgg16 otherwise. */
  architecture?: VggArchitecture | 'auto';
  /** `auto` (default): `caffe` when the file's metadata says its input is 0..255, else `torchvision`. */
  input?: VggInput | 'auto';
  layers: readonly string[];
  /** The file's name, for errors. */
  source: string;
}

type WeightMap = ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>;

export class Vgg {
  private readonly weights = new Map<string, { weight: Tensor; bias: Tensor }>();
  /** Layers present in this truncated net, in order. */
  readonly layers: readonly VggLayer[];

  private constructor(
    readonly engine: Engine,
    readonly architecture: VggArchitecture,
    readonly input: VggInput,
    layers: VggLayer[],
    values: (layer: VggLayer) => { weight: Float32Array; bias: Float32Array },
  ) {
    this.layers = layers;
    for (const l of layers) {
      if (l.kind !== 'conv') continue;
      const v = values(l);
      this.weights.set(l.name, {
        weight: engine.keep(
          Tensor.fromData(engine, [l.outChannels, l.inChannels, 3, 3], v.weight, `vgg.${l.name}.weight`),
        ),
        bias: engine.keep(Tensor.fromData(engine, [l.outChannels], v.bias, `vgg.${l.name}.bias`)),
      });
    }
  }

  /** A VGG with torchvision-named weights; a layer the losses need but the weights lack throws ModelFileError. */
  static fromTensors(engine: Engine, tensors: WeightMap, options: VggOptions & { source: string }): Vgg {
    const layers = truncatedLayers(options.architecture, options.layers);
    for (const l of layers) {
      if (l.kind !== 'conv') continue;
      for (const [suffix, shape] of [
        ['weight', [l.outChannels, l.inChannels, 3, 3]],
        ['bias', [l.outChannels]],
      ] as const) {
        const name = `features.${l.index}.${suffix}`;
        const t = tensors.get(name);
        if (!t) {
          const deepest = layers[layers.length - 1].name;
          throw new ModelFileError(
            `${options.source} has no ${name} (${l.name}), which ${deepest} needs: the file ends earlier; pick loss layers it covers`,
          );
        }
        if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
          throw new ModelFileError(
            `${options.source}: ${name} (${l.name}) has shape ${shapeStr(t.shape)}, ${options.architecture} needs ${shapeStr(shape)}`,
          );
        }
      }
    }
    return new Vgg(engine, options.architecture, options.input, layers, (l) => ({
      weight: tensors.get(`features.${l.index}.weight`)!.data,
      bias: tensors.get(`features.${l.index}.bias`)!.data,
    }));
  }

  /** Loads a safetensors weight file (see VggFileOptions for how architecture and input are told). */
  static fromSafetensors(engine: Engine, bytes: Uint8Array, options: VggFileOptions): Vgg {
    const file = readSafetensors(bytes, options.source);
    assertVggTensors(file.tensors, options.source);
    const architecture =
      options.architecture && options.architecture !== 'auto' ? options.architecture : detectArchitecture(file.tensors);
    const input = options.input && options.input !== 'auto' ? options.input : detectInput(file.metadata);
    return Vgg.fromTensors(engine, file.tensors, {
      architecture,
      input,
      layers: options.layers,
      source: options.source,
    });
  }

  /** Seeded random weights (He-uniform, zero bias): for tests of nets whose weights are not at hand. */
  static random(engine: Engine, options: VggOptions & { seed?: number }): Vgg {
    const random = rng(options.seed ?? 0);
    return new Vgg(
      engine,
      options.architecture,
      options.input,
      truncatedLayers(options.architecture, options.layers),
      (l) => {
        const weight = new Float32Array(l.outChannels * l.inChannels * 9);
        const bound = Math.sqrt(6 / (l.inChannels * 9));
        for (let i = 0; i < weight.length; i++) weight[i] = (2 * random() - 1) * bound;
        return { weight, bias: new Float32Array(l.outChannels) };
      },
    );
  }

  /** Names of the layers this net can return. */
  get layerNames(): string[] {
    return this.layers.map((l) => l.name);
  }

  /** The per-channel affine that turns 0..255 RGB into this net's input convention. */
  inputTransform(): { scale: number[]; shift: number[] } {
    if (this.input === 'caffe') return { scale: [1, 1, 1], shift: CAFFE_MEAN.map((m) => -m) };
    return {
      scale: TORCHVISION_STD.map((s) => 1 / (255 * s)),
      shift: TORCHVISION_MEAN.map((m, c) => -m / TORCHVISION_STD[c]),
    };
  }

  /**
   * Runs x ([N, 3, H, W], RGB 0..255) up to the deepest requested layer and returns the requested layers'
   * outputs by name. Intermediate results are released as soon as the next layer has consumed them.
   */
  features(x: Tensor, layers: readonly string[]): Map<string, Tensor> {
    if (x.rank !== 4 || x.shape[1] !== 3)
      throw new ShapeError(`VGG: expects [N, 3, H, W] pixels, got ${shapeStr(x.shape)}`);
    const wanted = new Set(layers);
    for (const name of wanted) {
      if (!this.layers.some((l) => l.name === name)) {
        throw new RangeError(
          `VGG: layer ${name} is not in this ${this.architecture} (built up to ${this.layers[this.layers.length - 1].name})`,
        );
      }
    }
    const out = new Map<string, Tensor>();
    const returned = new Set<Tensor>();
    // Each activation not returned is freed as soon as the next exists (not by a scope at the end): without
    // gradients (style Grams, content targets, evaluation at full size) the pass then holds two at a time.
    let y = channelAffine(x, this.inputTransform());
    for (const l of this.layers) {
      if (out.size === wanted.size) break;
      let next: Tensor;
      if (l.kind === 'conv') {
        const w = this.weights.get(l.name)!;
        next = conv2d(y, w.weight, w.bias, { stride: 1, padding: 1, padMode: 'zeros' });
      } else if (l.kind === 'relu') {
        next = relu(y);
      } else {
        next = maxPool2d(y);
      }
      if (!returned.has(y)) y.dispose();
      y = next;
      if (wanted.has(l.name)) {
        out.set(l.name, y);
        returned.add(y);
      }
    }
    return out;
  }

  dispose(): void {
    for (const { weight, bias } of this.weights.values()) {
      weight.dispose();
      bias.dispose();
    }
    this.weights.clear();
  }
}

/** vgg19 when the weights have features.16 (conv3_4), vgg16 otherwise (the two agree up to conv3_3). */
export function detectArchitecture(tensors: WeightMap): VggArchitecture {
  // Indices agree up to conv3_3 (features.14); after it vgg19 has conv3_4 at 16, vgg16 a pool there.
  if (tensors.has('features.16.weight')) return 'vgg19';
  return 'vgg16';
}

/** `caffe` when the metadata declares it or says the input is 0..255, else `torchvision`. */
export function detectInput(metadata: Record<string, string>): VggInput {
  const declared = (metadata.vgg_input ?? metadata.input ?? '').toLowerCase();
  if (declared === 'caffe' || declared === 'torchvision') return declared;
  return /0\s*\.\.\s*255/.test(declared) ? 'caffe' : 'torchvision';
}

/** Rejects a weight file that is not a torchvision-named VGG (its first conv is missing). */
export function assertVggTensors(tensors: ReadonlyMap<string, unknown>, source: string): void {
  if (!tensors.has('features.0.weight')) {
    throw new ModelFileError(
      `${source} is not a VGG weight file: it has no features.0.weight (torchvision vgg16/vgg19 names expected)`,
    );
  }
}
