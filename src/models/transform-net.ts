import type { Engine } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import { Tensor } from '../engine/tensor.js';
import { add, conv2d, conv2dTranspose, crop2d, instanceNorm, pad2d, relu, scaledTanh } from '../autograd/functional.js';
import { paddedConv2dAttrs, tfSamePadding, type Conv2dAttrs } from '../ops/conv2d.js';
import { conv2dTransposeAsConv, transposeRotateWeight } from '../ops/conv2d-transpose.js';
import { rng } from '../ops/cpu.js';
import { centredPadding } from '../ops/padding.js';
import type { BandConv, BandNorm, BandProgram, BandStep } from './banded.js';
import { ModelFileError } from './safetensors.js';

/**
 * Johnson et al.'s image transformation network, laid out exactly as pytorch/examples' fast_neural_style
 * `TransformerNet` (same layers, same parameter names, weights OIHW) so that its checkpoints load as they are:
 *
 *   conv1 9×9 s1 → in1 → relu → conv2 3×3 s2 → in2 → relu → conv3 3×3 s2 → in3 → relu
 *   → res1..res5 (conv1 3×3 → in1 → relu → conv2 3×3 → in2, plus the block's input)
 *   → deconv1 (×2, 3×3) → in4 → relu → deconv2 (×2, 3×3) → in5 → relu → deconv3 9×9 [→ in6]
 *   → 150·tanh(·) + 127.5
 *
 * Two architectures share this layer list and this code (TransformNetArchitecture says how they differ):
 * - `johnson2016` (ours): every conv reflection-padded by floor(K/2) with a bias; upsampling is nearest ×2
 *   then a 3×3 conv (resize-conv); instance norms eps 1e-5; no norm after the last conv.
 * - `ml5-lengstrom`: lengstrom's fast-style-transfer as ml5.js ships it (NOTES.md of the shared nets): no
 *   conv biases; TensorFlow SAME zero padding (0 before and 1 after on the stride-2 convs of even sizes);
 *   upsampling by 3×3 stride-2 transposed convs (weights [Cin, Cout, 3, 3]); instance norms eps 1e-3, one
 *   more (in6) after the last conv.
 *
 * Pixel convention: input and output are RGB in 0..255 (feed raw pixel values, no mean or std); the scaled
 * tanh keeps the output in (−22.5, 277.5), which callers clamp to 0..255 when they write an image.
 */

export const OUTPUT_SCALE = 150;
export const OUTPUT_OFFSET = 127.5;
export const INSTANCE_NORM_EPS = 1e-5;
export const RESIDUAL_BLOCKS = 5;

export type ArchitectureName = 'johnson2016' | 'ml5-lengstrom';

/** What distinguishes the architectures that this one TransformNet builds (see the comment above). */
export interface TransformNetArchitecture {
  name: ArchitectureName;
  /** Padding of every conv: reflection by floor(K/2), or TensorFlow's SAME with zeros. */
  padding: 'reflect' | 'tf-same-zeros';
  convBias: boolean;
  /** Nearest ×2 then a 3×3 conv, or a 3×3 stride-2 transposed conv (TensorFlow SAME). */
  upsampling: 'nearest-x2-conv' | 'transposed-conv-x2';
  instanceNormEps: number;
  /** An instance norm (in6) between the last conv and the output nonlinearity. */
  outputNorm: boolean;
}

export const ARCHITECTURES: Readonly<Record<ArchitectureName, Readonly<TransformNetArchitecture>>> = {
  johnson2016: {
    name: 'johnson2016',
    padding: 'reflect',
    convBias: true,
    upsampling: 'nearest-x2-conv',
    instanceNormEps: INSTANCE_NORM_EPS,
    outputNorm: false,
  },
  'ml5-lengstrom': {
    name: 'ml5-lengstrom',
    padding: 'tf-same-zeros',
    convBias: false,
    upsampling: 'transposed-conv-x2',
    instanceNormEps: 1e-3,
    outputNorm: true,
  },
};

export function isArchitectureName(name: unknown): name is ArchitectureName {
  return typeof name === 'string' && Object.hasOwn(ARCHITECTURES, name);
}
/**
 * The two stride-2 convs and two ×2 upsamplings give back the input size only when 4 divides it, and the 9×9
 * reflection pads need at least 5 pixels (the residual blocks' 3×3 pads at least 2 at quarter size). Inputs
 * are padded up to a multiple of 4 and at least this size, then the output is cropped back.
 */
export const SIZE_MULTIPLE = 4;
export const MIN_INTERNAL_SIZE = 8;

export interface TransformNetConfig {
  /** Channel widths are 32m, 64m, 128m (rounded, at least 1). Default 1: the published net. */
  widthMultiplier?: number;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  /**
   * `scaled-tanh` (ours, default): 150·tanh(x) + 127.5. `linear`: the raw last conv, as pytorch/examples'
   * net (trained to output 0..255 directly), for imported checkpoints.
   */
  output?: 'scaled-tanh' | 'linear';
  /** Default `johnson2016` (ours). */
  architecture?: ArchitectureName;
}

export type ResolvedTransformNetConfig = Required<TransformNetConfig>;

export function resolveConfig(config: TransformNetConfig = {}): ResolvedTransformNetConfig {
  const widthMultiplier = config.widthMultiplier ?? 1;
  if (!(Number.isFinite(widthMultiplier) && widthMultiplier > 0)) {
    throw new RangeError(`TransformNet: width multiplier must be a positive number, got ${widthMultiplier}`);
  }
  const output = config.output ?? 'scaled-tanh';
  if (output !== 'scaled-tanh' && output !== 'linear')
    throw new RangeError(`TransformNet: unknown output ${String(output)}`);
  const architecture = config.architecture ?? 'johnson2016';
  if (!isArchitectureName(architecture)) {
    throw new RangeError(
      `TransformNet: unknown architecture ${String(architecture)} (known: ${Object.keys(ARCHITECTURES).join(', ')})`,
    );
  }
  return { widthMultiplier, seed: config.seed ?? 0, output, architecture };
}

/** [c1, c2, c3]: the channel counts of the three resolution levels. */
export function channelWidths(widthMultiplier: number): [number, number, number] {
  const c = (base: number) => Math.max(1, Math.round(base * widthMultiplier));
  return [c(32), c(64), c(128)];
}

interface ConvSpec {
  kind: 'conv';
  name: string;
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: 1 | 2;
  /** ×2 upsampling: nearest before a conv, or a stride-2 transposed conv (weight [Cin, Cout, K, K]). */
  upsample: 'none' | 'nearest' | 'transposed';
  bias: boolean;
}

interface NormSpec {
  kind: 'norm';
  name: string;
  channels: number;
  /** A ReLU follows the norm (all but a residual block's second norm and in6). */
  relu: boolean;
}

type LayerSpec = ConvSpec | NormSpec;

/** resN: x + inN.2(convN.2(relu(inN.1(convN.1(x))))), at one width. */
interface ResidualBlockSpec {
  kind: 'residual';
  conv1: ConvSpec;
  in1: NormSpec;
  conv2: ConvSpec;
  in2: NormSpec;
}

/** What the forward pass runs in turn: single layers and residual blocks. */
type StageSpec = LayerSpec | ResidualBlockSpec;

export interface ParameterSpec {
  name: string;
  shape: number[];
}

/**
 * The net's stages in pytorch/examples' declaration order (which, with each residual block's layers in turn,
 * is also its state_dict order); the architecture decides biases, the kind of upsampling and the output norm.
 */
function stageSpecs(widthMultiplier: number, arch: TransformNetArchitecture): StageSpec[] {
  const [c1, c2, c3] = channelWidths(widthMultiplier);
  const conv = (
    name: string,
    inChannels: number,
    outChannels: number,
    kernel: number,
    stride: 1 | 2 = 1,
  ): ConvSpec => ({
    kind: 'conv',
    name,
    inChannels,
    outChannels,
    kernel,
    stride,
    upsample: 'none',
    bias: arch.convBias,
  });
  const upConv = (name: string, inChannels: number, outChannels: number): ConvSpec => ({
    ...conv(name, inChannels, outChannels, 3),
    upsample: arch.upsampling === 'transposed-conv-x2' ? 'transposed' : 'nearest',
  });
  const norm = (name: string, channels: number, relu = true): NormSpec => ({ kind: 'norm', name, channels, relu });
  const stages: StageSpec[] = [
    conv('conv1', 3, c1, 9),
    norm('in1', c1),
    conv('conv2', c1, c2, 3, 2),
    norm('in2', c2),
    conv('conv3', c2, c3, 3, 2),
    norm('in3', c3),
  ];
  for (let r = 1; r <= RESIDUAL_BLOCKS; r++) {
    stages.push({
      kind: 'residual',
      conv1: conv(`res${r}.conv1`, c3, c3, 3),
      in1: norm(`res${r}.in1`, c3),
      conv2: conv(`res${r}.conv2`, c3, c3, 3),
      in2: norm(`res${r}.in2`, c3, false),
    });
  }
  stages.push(
    upConv('deconv1', c3, c2),
    norm('in4', c2),
    upConv('deconv2', c2, c1),
    norm('in5', c1),
    conv('deconv3', c1, 3, 9),
  );
  if (arch.outputNorm) stages.push(norm('in6', 3, false));
  return stages;
}

/** Every layer, residual blocks' included, in state_dict order. */
function layersOf(stages: readonly StageSpec[]): LayerSpec[] {
  return stages.flatMap((s) => (s.kind === 'residual' ? [s.conv1, s.in1, s.conv2, s.in2] : [s]));
}

function convWeightShape(l: ConvSpec): number[] {
  return l.upsample === 'transposed'
    ? [l.inChannels, l.outChannels, l.kernel, l.kernel]
    : [l.outChannels, l.inChannels, l.kernel, l.kernel];
}

function layerParameters(l: LayerSpec): ParameterSpec[] {
  if (l.kind === 'norm')
    return [
      { name: `${l.name}.weight`, shape: [l.channels] },
      { name: `${l.name}.bias`, shape: [l.channels] },
    ];
  const weight = { name: `${l.name}.conv2d.weight`, shape: convWeightShape(l) };
  return l.bias ? [weight, { name: `${l.name}.conv2d.bias`, shape: [l.outChannels] }] : [weight];
}

/** Parameter names and shapes, in state_dict order. */
export function parameterSpecs(config: TransformNetConfig = {}): ParameterSpec[] {
  const resolved = resolveConfig(config);
  return layersOf(stageSpecs(resolved.widthMultiplier, ARCHITECTURES[resolved.architecture])).flatMap(layerParameters);
}

/**
 * Buffers that old PyTorch InstanceNorm2d checkpoints carry but that instance norm never uses (pytorch/examples
 * deletes them on load too); accepted and ignored so that such files import.
 */
const IGNORED_BUFFER = /^(res\d\.)?in\d\.(running_mean|running_var|num_batches_tracked)$/;

/**
 * The weights of a net of `config` from named tensors, in parameter order, checked on the CPU: every expected
 * name present with its exact shape and nothing else (besides PyTorch's unused instance-norm buffers); a
 * mismatch throws ModelFileError naming it and `source`.
 */
export function checkedWeights(
  config: TransformNetConfig,
  tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>,
  source = 'the weights',
): Map<string, Float32Array> {
  const resolved = resolveConfig(config);
  const specs = parameterSpecs(resolved);
  const expected = new Set(specs.map((s) => s.name));
  const widthNote = `a width-${resolved.widthMultiplier} ${resolved.architecture} transform net`;
  for (const s of specs) {
    const t = tensors.get(s.name);
    if (!t) throw new ModelFileError(`${source}: missing tensor ${s.name} ${shapeStr(s.shape)} of ${widthNote}`);
    if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      throw new ModelFileError(
        `${source}: tensor ${s.name} has shape ${shapeStr(t.shape)}, ${widthNote} needs ${shapeStr(s.shape)}`,
      );
    }
    if (t.data.length !== s.shape.reduce((a, b) => a * b, 1)) {
      throw new ModelFileError(
        `${source}: tensor ${s.name} holds ${t.data.length} values for shape ${shapeStr(s.shape)}`,
      );
    }
  }
  for (const name of tensors.keys()) {
    if (!expected.has(name) && !IGNORED_BUFFER.test(name))
      throw new ModelFileError(`${source}: unexpected tensor ${name} (not part of ${widthNote})`);
  }
  return new Map(specs.map((s) => [s.name, tensors.get(s.name)!.data]));
}

/**
 * Initial values: PyTorch's Conv2d / ConvTranspose2d default (U(±1/√fanIn) for weight and bias, fanIn the
 * weight's second size times K²), IN gamma 1 and beta 0.
 */
function initialValues(layers: LayerSpec[], seed: number): Map<string, Float32Array> {
  const random = rng(seed);
  const values = new Map<string, Float32Array>();
  for (const layer of layers) {
    const [weight, bias] = layerParameters(layer);
    const data = new Float32Array(weight.shape.reduce((a, b) => a * b, 1));
    const biasData = bias ? new Float32Array(bias.shape[0]) : null;
    if (layer.kind === 'conv') {
      const [, fanInChannels, k] = weight.shape;
      const bound = 1 / Math.sqrt(fanInChannels * k * k);
      for (let i = 0; i < data.length; i++) data[i] = (2 * random() - 1) * bound;
      if (biasData) for (let i = 0; i < biasData.length; i++) biasData[i] = (2 * random() - 1) * bound;
    } else {
      data.fill(1);
    }
    values.set(weight.name, data);
    if (bias) values.set(bias.name, biasData!);
  }
  return values;
}

export class TransformNet {
  readonly config: ResolvedTransformNetConfig;
  readonly architecture: Readonly<TransformNetArchitecture>;
  private readonly stages: StageSpec[];
  private readonly params: Map<string, Tensor>;

  private constructor(
    readonly engine: Engine,
    config: ResolvedTransformNetConfig,
    values: Map<string, Float32Array>,
  ) {
    this.config = config;
    this.architecture = ARCHITECTURES[config.architecture];
    this.stages = stageSpecs(config.widthMultiplier, this.architecture);
    this.params = new Map();
    for (const spec of parameterSpecs(config)) {
      const t = engine.keep(Tensor.fromData(engine, spec.shape, values.get(spec.name)!, spec.name));
      t.requiresGrad = true;
      this.params.set(spec.name, t);
    }
  }

  /** A freshly initialised net (seeded, so the same config gives the same weights). */
  static create(engine: Engine, config: TransformNetConfig = {}): TransformNet {
    const resolved = resolveConfig(config);
    return new TransformNet(
      engine,
      resolved,
      initialValues(
        layersOf(stageSpecs(resolved.widthMultiplier, ARCHITECTURES[resolved.architecture])),
        resolved.seed,
      ),
    );
  }

  /**
   * A net with the given weights. Every expected name must be present with its exact shape and nothing else
   * may be (besides PyTorch's unused instance-norm buffers): a mismatch throws ModelFileError naming it.
   */
  static fromTensors(
    engine: Engine,
    config: TransformNetConfig,
    tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>,
    source = 'the weights',
  ): TransformNet {
    const resolved = resolveConfig(config);
    return new TransformNet(engine, resolved, checkedWeights(resolved, tensors, source));
  }

  /** The width multiplier (for callers that size buffers by it). */
  get width(): number {
    return this.config.widthMultiplier;
  }

  /** The trainable tensors by PyTorch name, in state_dict order (requiresGrad; owned by the net). */
  parameters(): Map<string, Tensor> {
    return new Map(this.params);
  }

  /**
   * x: [N, 3, H, W], pixels 0..255, any H, W ≥ 1 → [N, 3, H, W] pixels (about 0..255). Sizes that are not a
   * multiple of 4 (or under 8) are padded by reflection (by edge replication where the image is smaller than
   * the pad) and the output is cropped back, so every size works.
   */
  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[1] !== 3)
      throw new ShapeError(`TransformNet: expects [N, 3, H, W] pixels, got ${shapeStr(x.shape)}`);
    const [, , h, w] = x.shape;
    const ph = internalSize(h);
    const pw = internalSize(w);
    const padding = centredPadding(h, w, ph, pw);
    const { top, left } = padding;
    const steps: ((t: Tensor) => Tensor)[] = [];
    if (ph !== h || pw !== w) steps.push((t) => pad2d(t, padding));
    for (const stage of this.stages)
      steps.push((t) => (stage.kind === 'residual' ? this.residualBlock(stage, t) : this.layer(stage, t)));
    if (this.config.output === 'scaled-tanh')
      steps.push((t) => scaledTanh(t, { alpha: OUTPUT_SCALE, beta: OUTPUT_OFFSET }));
    if (ph !== h || pw !== w) steps.push((t) => crop2d(t, { top, left, height: h, width: w }));
    return freeingChain(x, steps);
  }

  /** x + in2(conv2(relu(in1(conv1(x))))). */
  private residualBlock(block: ResidualBlockSpec, x: Tensor): Tensor {
    return this.engine.scope(() =>
      add(
        x,
        freeingChain(
          x,
          [block.conv1, block.in1, block.conv2, block.in2].map((l) => (t: Tensor) => this.layer(l, t)),
        ),
      ),
    );
  }

  /** A conv, or an instance norm with the ReLU that may follow it. */
  private layer(spec: LayerSpec, x: Tensor): Tensor {
    if (spec.kind === 'norm') {
      return this.engine.scope(() => {
        const y = instanceNorm(x, this.param(`${spec.name}.weight`), this.param(`${spec.name}.bias`), {
          eps: this.architecture.instanceNormEps,
        });
        return spec.relu ? relu(y) : y;
      });
    }
    const weight = this.param(`${spec.name}.conv2d.weight`);
    const bias = spec.bias ? this.param(`${spec.name}.conv2d.bias`) : null;
    return spec.upsample === 'transposed'
      ? conv2dTranspose(x, weight, bias, { stride: 2 })
      : conv2d(x, weight, bias, this.convAttrs(spec, x.shape[2], x.shape[3]));
  }

  /**
   * The net as banded steps (models/banded.ts), for exact whole-image results beyond one pass's memory: the
   * same stages as `forward`, with the instance norms' scales and shifts read back to the CPU.
   */
  async bandProgram(): Promise<BandProgram> {
    const steps: BandStep[] = [];
    const made: Tensor[] = [];
    for (const stage of this.stages) {
      if (stage.kind === 'residual') {
        steps.push(
          { kind: 'save-residual' },
          await this.bandConv(stage.conv1, made),
          await this.bandNorm(stage.in1),
          await this.bandConv(stage.conv2, made),
          { ...(await this.bandNorm(stage.in2)), after: 'add-residual' },
        );
      } else {
        steps.push(stage.kind === 'conv' ? await this.bandConv(stage, made) : await this.bandNorm(stage));
      }
    }
    if (this.config.output === 'scaled-tanh')
      steps.push({ kind: 'scaled-tanh', scale: OUTPUT_SCALE, offset: OUTPUT_OFFSET });
    return { steps, internalSize, dispose: () => made.forEach((t) => t.dispose()) };
  }

  /** A conv as a banded step; a transposed conv's weights become a plain conv's, which go into `made`. */
  private async bandConv(layer: ConvSpec, made: Tensor[]): Promise<BandConv> {
    const bias = layer.bias ? this.param(`${layer.name}.conv2d.bias`) : null;
    const weight = this.param(`${layer.name}.conv2d.weight`);
    const k = layer.kernel;
    if (layer.upsample === 'transposed') {
      // The op's own equivalence: a conv over the zero-inserted input with the rotated, channel-swapped kernel.
      const plain = transposeRotateWeight(weight);
      made.push(plain);
      const asConv = conv2dTransposeAsConv(k, { stride: 2 });
      const pad = { before: asConv.padding, after: asConv.padEnd![0] };
      return {
        kind: 'conv',
        name: layer.name,
        weight: plain,
        bias,
        stride: 1,
        upsample: 2,
        upsampleMode: 'zeros',
        pad: () => pad,
        padMode: 'zeros',
      };
    }
    return {
      kind: 'conv',
      name: layer.name,
      weight,
      bias,
      stride: layer.stride,
      upsample: layer.upsample === 'nearest' ? 2 : 1,
      upsampleMode: 'nearest',
      ...this.convPadding(layer),
    };
  }

  /**
   * How a (non-transposed) conv pads an axis of n pixels (after upsampling): reflection by half the kernel,
   * or TensorFlow's SAME zeros, as the architecture says. `layer` and `bandConv` both follow it.
   */
  private convPadding(layer: ConvSpec): Pick<BandConv, 'pad' | 'padMode'> {
    const k = layer.kernel;
    if (this.architecture.padding === 'tf-same-zeros')
      return { pad: (n) => tfSamePadding(n, k, layer.stride), padMode: 'zeros' };
    return { pad: () => ({ before: Math.floor(k / 2), after: Math.floor(k / 2) }), padMode: 'reflect' };
  }

  private async bandNorm(layer: NormSpec): Promise<BandNorm> {
    return {
      kind: 'norm',
      name: layer.name,
      gamma: await this.param(`${layer.name}.weight`).data(),
      beta: await this.param(`${layer.name}.bias`).data(),
      eps: this.architecture.instanceNormEps,
      after: layer.relu ? 'relu' : 'none',
    };
  }

  /** Floats per input pixel of the widest activation (32 channels at full resolution at width 1). */
  get peakFloatsPerPixel(): number {
    return Math.max(...channelWidths(this.config.widthMultiplier).map((c, level) => c / 4 ** level), 3);
  }

  dispose(): void {
    for (const t of this.params.values()) t.dispose();
    this.params.clear();
  }

  /**
   * The conv2d attrs of a (non-transposed) conv of an h×w input, padded as convPadding says (the internal sizes
   * are even, so SAME pads equally before the rows and the columns).
   */
  private convAttrs(layer: ConvSpec, h: number, w: number): Conv2dAttrs {
    const upsample = layer.upsample === 'nearest' ? 2 : 1;
    const { pad, padMode } = this.convPadding(layer);
    return paddedConv2dAttrs(
      pad(h * upsample),
      pad(w * upsample),
      { stride: layer.stride, padMode, upsample },
      `${layer.name}'s padding of a ${h}×${w} input`,
    );
  }

  private param(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) throw new Error(`TransformNet: parameter ${name} missing (disposed net?)`);
    return t;
  }
}

/**
 * Runs `steps` in turn from x, freeing each intermediate as soon as the next exists (x stays the caller's).
 * Not one scope around the pass: that would keep every activation to the end, and a pass must hold only the
 * widest activation and its neighbours, which is what the stylizer's one-pass memory estimate
 * (peakFloatsPerPixel) assumes. Measured (noGrad forward, 64², width 1): a scope around each residual block's
 * four layers instead raised the ml5-lengstrom net's peak GPU memory by one quarter-resolution activation.
 */
function freeingChain(x: Tensor, steps: readonly ((t: Tensor) => Tensor)[]): Tensor {
  let y = x;
  for (const step of steps) {
    const next = step(y);
    if (y !== x) y.dispose();
    y = next;
  }
  return y;
}

/** The size the net computes at for an input side of n (see SIZE_MULTIPLE). */
export function internalSize(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new ShapeError(`TransformNet: image side ${n} is not a positive integer`);
  return Math.max(MIN_INTERNAL_SIZE, Math.ceil(n / SIZE_MULTIPLE) * SIZE_MULTIPLE);
}
