import { tfSamePadding } from '../ops/conv2d-geometry.js';
import { MODEL_FORMAT, type ModelMetadata } from './model-file.js';
import {
  attributeProto,
  ProtoWriter,
  tensorProto,
  valueInfoProto,
  ONNX_INT64,
  type AttributeInput,
} from './onnx-proto.js';
import { ARCHITECTURES, channelWidths, OUTPUT_OFFSET, OUTPUT_SCALE, RESIDUAL_BLOCKS } from './transform-net.js';

/**
 * Our transform nets (both architectures) as ONNX graphs of plain operators that onnxruntime, OpenCV's dnn
 * module and the other ONNX runtimes run: Pad, Conv, ConvTranspose, InstanceNormalization, Relu, Add,
 * Upsample (opset 9) or Resize (opset ≥ 10), Tanh and Mul. No shape arithmetic: batch, height and width are
 * symbolic dims, and the graph is correct for any H and W that are multiples of 4 and at least 8 (what our
 * stylizer pads every photo to: reflect-pad the photo up to that and crop the result back, as
 * `fast-style-webgpu stylize` does).
 *
 * Input `input` and output `output`: float32 [N, 3, H, W], RGB pixels 0..255 (no mean or std); clamp the
 * output to 0..255. The graph's metadata_props say so too, with the style and where the weights come from.
 */

export const ONNX_MIN_OPSET = 9;
export const ONNX_MAX_OPSET = 17;
export const ONNX_DEFAULT_OPSET = 11;
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'output';

type Weights = ReadonlyMap<string, Float32Array>;

class GraphBuilder {
  readonly nodes: ProtoWriter[] = [];
  readonly initializers: ProtoWriter[] = [];
  private count = 0;
  private readonly constants = new Map<string, string>();

  constructor(readonly opset: number) {}

  node(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttributeInput | { float: number }> = {},
    name?: string,
  ): string {
    const out = `${name ?? opType.toLowerCase()}_${this.count++}`;
    const w = new ProtoWriter();
    for (const i of inputs) w.string(1, i);
    w.string(2, out).string(3, out).string(4, opType);
    for (const [k, v] of Object.entries(attrs)) w.message(5, attributeProto(k, v));
    this.nodes.push(w);
    return out;
  }

  initializer(name: string, dims: number[], values: Float32Array | number[], int64 = false): string {
    this.initializers.push(int64 ? tensorProto(name, dims, values, ONNX_INT64) : tensorProto(name, dims, values));
    return name;
  }

  /** A shared constant initializer (pads, scales), made once per distinct value. */
  constant(dims: number[], values: number[], int64 = false): string {
    const key = `${int64 ? 'i' : 'f'}[${dims}]${values}`;
    let name = this.constants.get(key);
    if (!name) {
      name = `const_${this.constants.size}`;
      this.initializer(name, dims, values, int64);
      this.constants.set(key, name);
    }
    return name;
  }

  /** Pad by [top, left, bottom, right] with a mode ('reflect' or 'constant' zeros). */
  pad(x: string, [top, left, bottom, right]: number[], mode: 'reflect' | 'constant'): string {
    const pads = [0, 0, top, left, 0, 0, bottom, right];
    if (this.opset < 11) return this.node('Pad', [x], { mode, pads }, 'pad');
    return this.node('Pad', [x, this.constant([8], pads, true)], { mode }, 'pad');
  }

  /** Nearest-neighbour ×2 (pixel (y, x) of the output is pixel (⌊y/2⌋, ⌊x/2⌋) of the input). */
  upsample2(x: string): string {
    const scales = this.constant([4], [1, 1, 2, 2]);
    if (this.opset < 10) return this.node('Upsample', [x, scales], { mode: 'nearest' }, 'upsample');
    if (this.opset === 10) return this.node('Resize', [x, scales], { mode: 'nearest' }, 'resize');
    const roi = this.opset >= 13 ? '' : this.constant([0], []);
    return this.node(
      'Resize',
      [x, roi, scales],
      { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
      'resize',
    );
  }
}

function prefixed(name: string): string {
  return name.replace(/\./g, '_');
}

/**
 * The ONNX model (bytes) of a net given its metadata (a model file's, decoded) and checked weights by our
 * parameter names (transform-net.ts parameterSpecs).
 */
export function transformNetToOnnx(
  metadata: ModelMetadata,
  weights: Weights,
  opts: { opset?: number; producerVersion?: string } = {},
): Uint8Array {
  const opset = opts.opset ?? ONNX_DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < ONNX_MIN_OPSET || opset > ONNX_MAX_OPSET)
    throw new RangeError(`ONNX export: opset ${opset} is not supported (${ONNX_MIN_OPSET}..${ONNX_MAX_OPSET})`);
  const a = metadata.architecture;
  const arch = ARCHITECTURES[a.name];
  const [c1, c2, c3] = channelWidths(a.widthMultiplier);
  const g = new GraphBuilder(opset);
  const w = (name: string, dims: number[]): string => {
    const v = weights.get(name);
    if (!v) throw new Error(`ONNX export: no weight ${name}`);
    return g.initializer(prefixed(name), dims, v);
  };
  const tfSame = arch.padding === 'tf-same-zeros';

  const conv = (
    x: string,
    name: string,
    cin: number,
    cout: number,
    k: number,
    stride: 1 | 2,
    upsample = false,
  ): string => {
    const inputs = [x, w(`${name}.conv2d.weight`, [cout, cin, k, k])];
    if (arch.convBias) inputs.push(w(`${name}.conv2d.bias`, [cout]));
    const attrs: Record<string, AttributeInput> = { kernel_shape: [k, k], strides: [stride, stride] };
    if (tfSame) {
      // Every size inside the net is even, i.e. a multiple of the stride: SAME pads as on an axis of one stride.
      const { before, after } = tfSamePadding(stride, k, stride);
      attrs.pads = [before, before, after, after];
      return g.node('Conv', inputs, attrs, name);
    }
    let y = upsample ? g.upsample2(x) : x;
    const p = Math.floor(k / 2);
    y = g.pad(y, [p, p, p, p], 'reflect');
    inputs[0] = y;
    attrs.pads = [0, 0, 0, 0];
    return g.node('Conv', inputs, attrs, name);
  };
  const convTranspose = (x: string, name: string, cin: number, cout: number): string => {
    // tf.nn.conv2d_transpose SAME, ×2: the full 2H+1 output cropped by 0 before and 1 after.
    const inputs = [x, w(`${name}.conv2d.weight`, [cin, cout, 3, 3])];
    if (arch.convBias) inputs.push(w(`${name}.conv2d.bias`, [cout]));
    return g.node('ConvTranspose', inputs, { kernel_shape: [3, 3], strides: [2, 2], pads: [0, 0, 1, 1] }, name);
  };
  const norm = (x: string, name: string, c: number, relu: boolean): string => {
    const y = g.node(
      'InstanceNormalization',
      [x, w(`${name}.weight`, [c]), w(`${name}.bias`, [c])],
      { epsilon: { float: arch.instanceNormEps } },
      name,
    );
    return relu ? g.node('Relu', [y]) : y;
  };
  const up = (x: string, name: string, cin: number, cout: number): string =>
    arch.upsampling === 'transposed-conv-x2' ? convTranspose(x, name, cin, cout) : conv(x, name, cin, cout, 3, 1, true);

  let y = norm(conv(ONNX_INPUT, 'conv1', 3, c1, 9, 1), 'in1', c1, true);
  y = norm(conv(y, 'conv2', c1, c2, 3, 2), 'in2', c2, true);
  y = norm(conv(y, 'conv3', c2, c3, 3, 2), 'in3', c3, true);
  for (let r = 1; r <= RESIDUAL_BLOCKS; r++) {
    let h = norm(conv(y, `res${r}.conv1`, c3, c3, 3, 1), `res${r}.in1`, c3, true);
    h = norm(conv(h, `res${r}.conv2`, c3, c3, 3, 1), `res${r}.in2`, c3, false);
    y = g.node('Add', [y, h], {}, `res${r}`);
  }
  y = norm(up(y, 'deconv1', c3, c2), 'in4', c2, true);
  y = norm(up(y, 'deconv2', c2, c1), 'in5', c1, true);
  y = conv(y, 'deconv3', c1, 3, 9, 1);
  if (arch.outputNorm) y = norm(y, 'in6', 3, false);
  if (a.output === 'scaled-tanh') {
    y = g.node('Tanh', [y]);
    y = g.node('Mul', [y, g.constant([], [OUTPUT_SCALE])]);
    y = g.node('Add', [y, g.constant([], [OUTPUT_OFFSET])]);
  }
  return modelProto(metadata, g, y, opset, opts.producerVersion ?? '');
}

/** The ModelProto around the graph `g` built, whose last value `y` becomes the output. */
function modelProto(
  metadata: ModelMetadata,
  g: GraphBuilder,
  y: string,
  opset: number,
  producerVersion: string,
): Uint8Array {
  const a = metadata.architecture;
  // The output gets its own name through an Identity (the last node's is generated).
  const last = new ProtoWriter().string(1, y).string(2, ONNX_OUTPUT).string(3, 'output_identity').string(4, 'Identity');

  const dims = ['batch', 3, 'height', 'width'];
  const graph = new ProtoWriter();
  for (const n of g.nodes) graph.message(1, n);
  graph.message(1, last);
  graph.string(2, `fast_style_${a.name.replace(/-/g, '_')}`);
  for (const i of g.initializers) graph.message(5, i);
  graph.string(10, describeGraph(metadata));
  graph.message(11, valueInfoProto(ONNX_INPUT, dims));
  graph.message(12, valueInfoProto(ONNX_OUTPUT, dims));

  const model = new ProtoWriter()
    .int(1, opset >= 15 ? 8 : opset >= 13 ? 7 : opset >= 11 ? 6 : opset >= 10 ? 5 : 4)
    .message(8, new ProtoWriter().string(1, '').int(2, opset))
    .string(2, 'fast-style-webgpu')
    .string(3, producerVersion)
    .message(7, graph);
  for (const [k, v] of Object.entries(onnxMetadata(metadata)))
    model.message(14, new ProtoWriter().string(1, k).string(2, v));
  return model.finish();
}

/** What a user of the exported file needs to know, as metadata_props. */
function onnxMetadata(metadata: ModelMetadata): Record<string, string> {
  const out: Record<string, string> = {
    format: MODEL_FORMAT,
    input: `${ONNX_INPUT}: float32 [N, 3, H, W], RGB pixels 0..255 (no mean or std); H and W multiples of 4, at least 8 (reflect-pad a photo up to that and crop the output back)`,
    output: `${ONNX_OUTPUT}: float32 [N, 3, H, W], RGB pixels, about 0..255: clamp to 0..255 and round`,
    architecture: JSON.stringify(metadata.architecture),
  };
  if (metadata.style !== undefined) out.style = metadata.style;
  if (metadata.source !== undefined) out.source = metadata.source;
  if (metadata.licence !== undefined) out.licence = metadata.licence;
  return out;
}

function describeGraph(metadata: ModelMetadata): string {
  const a = metadata.architecture;
  return [
    `Fast neural style transfer net (Johnson et al. 2016), ${a.name}, width ${a.widthMultiplier}${metadata.style ? `, style ${metadata.style}` : ''}; exported by fast-style-webgpu.`,
    `Input '${ONNX_INPUT}' and output '${ONNX_OUTPUT}': float32 [N, 3, H, W] RGB pixels 0..255; H, W multiples of 4 and >= 8.`,
  ].join(' ');
}
