import { shapeStr } from '../engine/errors.js';
import {
  encodeMetadata,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  architectureOf,
  type ModelMetadata,
} from './model-file.js';
import { readOnnxModel, readTensor, type OnnxModel, type OnnxNode, type OnnxTensor } from './onnx-proto.js';
import { ModelFileError, writeSafetensors } from './safetensors.js';
import {
  channelWidths,
  checkedWeights,
  INSTANCE_NORM_EPS,
  OUTPUT_OFFSET,
  OUTPUT_SCALE,
  parameterSpecs,
  resolveConfig,
  RESIDUAL_BLOCKS,
} from './transform-net.js';

/**
 * ONNX graphs of the fast-style TransformerNet (the ONNX model zoo's fast_neural_style nets, torch.onnx.export
 * of pytorch/examples' net at any opset, and our own `export`) mapped onto our johnson2016 net. This is not a
 * general ONNX runtime: the graph is evaluated on shapes only (at two probe sizes, so that the shape
 * arithmetic an exporter emits around Pad and Upsample/Resize folds to the same constants at any size), the
 * activation ops are matched against the TransformerNet pattern
 *
 *   [Pad reflect → Conv → InstanceNormalization → Relu] ×3 (9×9 s1, 3×3 s2, 3×3 s2)
 *   → 5 × (x + IN(Conv(Pad(Relu(IN(Conv(Pad(x))))))))
 *   → [Upsample/Resize nearest ×2 → Pad → Conv → IN → Relu] ×2 → Pad → Conv 9×9 [→ Tanh → ×150 → +127.5]
 *
 * and the weights are taken by position. Anything else gets one line naming the first operator or structure
 * that does not fit.
 */

/** Reads a tensor kept outside the .onnx file (external data), or undefined when that file is missing. */
export type ExternalReader = (location: string) => Uint8Array | undefined;

type Value = { kind: 'const'; dims: number[]; data: number[]; float: boolean } | { kind: 'act'; shape: number[] };

/** Activation ops: the ones the TransformerNet pattern is made of. */
const ACTIVATION_OPS = new Set([
  'Pad',
  'Conv',
  'InstanceNormalization',
  'Relu',
  'Add',
  'Upsample',
  'Resize',
  'Tanh',
  'Mul',
  'Identity',
]);
/** Shape arithmetic folded to constants. */
const FOLDED_OPS = new Set([
  'Constant',
  'ConstantOfShape',
  'Shape',
  'Gather',
  'Unsqueeze',
  'Squeeze',
  'Concat',
  'Reshape',
  'Slice',
  'Transpose',
  'Cast',
  'Mul',
  'Div',
  'Add',
  'Sub',
  'Floor',
  'Ceil',
  'Identity',
]);

class Unsupported extends ModelFileError {}

function fail(why: string): never {
  throw new Unsupported(why);
}

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

function constOf(t: OnnxTensor): Value {
  return {
    kind: 'const',
    dims: t.dims,
    data: Array.from(t.values as ArrayLike<number>),
    float: t.dataType === 1 || t.dataType === 10 || t.dataType === 11,
  };
}

/** The graph evaluated on shapes with an input of [1, 3, h, w]: every value's constant data or activation shape. */
function evaluate(
  model: OnnxModel,
  weights: Map<string, OnnxTensor>,
  inputName: string,
  h: number,
  w: number,
): Map<string, Value> {
  const values = new Map<string, Value>();
  for (const [name, t] of weights) values.set(name, constOf(t));
  values.set(inputName, { kind: 'act', shape: [1, 3, h, w] });
  values.set('', { kind: 'const', dims: [0], data: [], float: true });
  const opset = model.opsets.get('') ?? model.opsets.get('ai.onnx') ?? 9;
  for (const node of model.graph.nodes) {
    const where = `${node.opType} node ${node.name}`;
    if (node.domain !== '' && node.domain !== 'ai.onnx')
      fail(`unsupported operator ${node.domain}.${node.opType} (node ${node.name})`);
    if (node.hasSubgraph) fail(`unsupported operator ${node.opType} with a subgraph (node ${node.name})`);
    const ins = node.inputs.map((i) => {
      const v = values.get(i);
      if (!v) fail(`${where} reads ${i}, which nothing before it makes`);
      return v;
    });
    const allConst = ins.every((v) => v.kind === 'const');
    let out: Value;
    if (node.opType === 'Shape' && ins[0]?.kind === 'act')
      out = { kind: 'const', dims: [ins[0].shape.length], data: [...ins[0].shape], float: false };
    else if (FOLDED_OPS.has(node.opType) && allConst)
      out = fold(node, ins as Extract<Value, { kind: 'const' }>[], opset);
    else if (ACTIVATION_OPS.has(node.opType)) out = { kind: 'act', shape: activationShape(node, ins, where) };
    else fail(`unsupported operator ${node.opType} (node ${node.name}): not part of a fast-style TransformerNet graph`);
    if (node.outputs.length !== 1 && !(node.opType === 'InstanceNormalization' && node.outputs.length >= 1))
      fail(`${where} has ${node.outputs.length} outputs`);
    values.set(node.outputs[0], out);
  }
  return values;
}

function ints(v: Value | undefined, what: string): number[] {
  if (v?.kind !== 'const') return fail(`${what} is not a constant`);
  return v.data;
}

function attrInts(node: OnnxNode, name: string, fallback: number[]): number[] {
  const a = node.attributes.get(name);
  return Array.isArray(a) ? (a as number[]) : fallback;
}

function activationShape(node: OnnxNode, ins: Value[], where: string): number[] {
  const x = ins[0];
  if (x.kind !== 'act') {
    if (node.opType === 'Mul' || node.opType === 'Add') {
      if (ins[1]?.kind === 'act') return ins[1].shape;
    }
    return fail(`${where} works on constants in a way this importer does not fold`);
  }
  const [n, c, h, w] = x.shape;
  switch (node.opType) {
    case 'Pad': {
      const pads = node.inputs.length > 1 ? ints(ins[1], `the pads of ${where}`) : attrInts(node, 'pads', []);
      if (pads.length !== 8) fail(`${where} pads ${pads.length / 2} dims; expected 4`);
      return [n + pads[0] + pads[4], c + pads[1] + pads[5], h + pads[2] + pads[6], w + pads[3] + pads[7]];
    }
    case 'Conv': {
      const weight = ins[1];
      if (weight?.kind !== 'const' || weight.dims.length !== 4) return fail(`${where} has no constant 4-D weight`);
      const [kh, kw] = weight.dims.slice(2);
      const s = attrInts(node, 'strides', [1, 1]);
      const p = attrInts(node, 'pads', [0, 0, 0, 0]);
      return [
        n,
        weight.dims[0],
        Math.floor((h + p[0] + p[2] - kh) / s[0]) + 1,
        Math.floor((w + p[1] + p[3] - kw) / s[1]) + 1,
      ];
    }
    case 'Upsample':
    case 'Resize': {
      const scalesIndex = node.opType === 'Upsample' || node.inputs.length === 2 ? 1 : 2;
      let scales = node.inputs[scalesIndex] ? ins[scalesIndex] : undefined;
      if (node.opType === 'Upsample' && node.inputs.length === 1)
        scales = { kind: 'const', dims: [4], data: (node.attributes.get('scales') as number[]) ?? [], float: true };
      if (scales && scales.kind === 'const' && scales.data.length === 4)
        return [n, c, Math.floor(h * scales.data[2]), Math.floor(w * scales.data[3])];
      const sizes = node.inputs[3] ? ints(ins[3], `the sizes of ${where}`) : null;
      if (sizes && sizes.length === 4) return sizes;
      return fail(`${where} has neither constant scales nor sizes`);
    }
    default:
      return x.shape;
  }
}

/** Long because it is one case per ONNX operator: a constant node's value from its constant inputs. */
function fold(node: OnnxNode, ins: Extract<Value, { kind: 'const' }>[], opset: number): Value {
  const a = ins[0];
  const isFloat = a?.float ?? false;
  const c = (dims: number[], data: number[], float = isFloat): Value => ({ kind: 'const', dims, data, float });
  const attr = (name: string): unknown => node.attributes.get(name);
  switch (node.opType) {
    case 'Constant': {
      const t = attr('value');
      if (t && typeof t === 'object' && 'dims' in t) return constOf(t as OnnxTensor);
      const f = attr('value_float') ?? attr('value_int');
      if (typeof f === 'number') return c([], [f], attr('value_float') !== undefined);
      const fs = attr('value_floats') ?? attr('value_ints');
      if (Array.isArray(fs)) return c([fs.length], fs as number[], attr('value_floats') !== undefined);
      return fail(`Constant node ${node.name} has no value this importer reads`);
    }
    case 'Identity':
      return a;
    case 'ConstantOfShape': {
      const t = attr('value') as OnnxTensor | undefined;
      const v = t ? (Array.from(t.values as ArrayLike<number>)[0] ?? 0) : 0;
      if (product(a.data) > 1 << 20) fail(`ConstantOfShape node ${node.name} is too large`);
      return c(a.data, new Array<number>(product(a.data)).fill(v), t ? t.dataType === 1 : true);
    }
    case 'Cast': {
      const to = attr('to');
      const float = to === 1 || to === 10 || to === 11;
      return c(a.dims, float ? a.data : a.data.map(Math.trunc), float);
    }
    case 'Floor':
      return c(a.dims, a.data.map(Math.floor));
    case 'Ceil':
      return c(a.dims, a.data.map(Math.ceil));
    case 'Mul':
    case 'Div':
    case 'Add':
    case 'Sub': {
      const b = ins[1];
      const n = Math.max(a.data.length, b.data.length);
      if (a.data.length !== n && a.data.length !== 1)
        fail(`${node.opType} node ${node.name} broadcasts in a way this importer does not fold`);
      if (b.data.length !== n && b.data.length !== 1)
        fail(`${node.opType} node ${node.name} broadcasts in a way this importer does not fold`);
      const float = a.float || b.float;
      const out = Array.from({ length: n }, (_, i) => {
        const x = a.data[a.data.length === 1 ? 0 : i];
        const y = b.data[b.data.length === 1 ? 0 : i];
        const r = node.opType === 'Mul' ? x * y : node.opType === 'Div' ? x / y : node.opType === 'Add' ? x + y : x - y;
        return float ? r : Math.trunc(r);
      });
      return c(a.data.length === n ? a.dims : b.dims, out, float);
    }
    case 'Gather': {
      const axis = (attr('axis') as number | undefined) ?? 0;
      if (axis !== 0 || a.dims.length !== 1) fail(`Gather node ${node.name} on a ${a.dims.length}-D constant`);
      const idx = ins[1];
      const pick = idx.data.map((i) => a.data[i < 0 ? i + a.data.length : i]);
      return c(idx.dims, pick);
    }
    case 'Unsqueeze': {
      const axes = opset >= 13 ? (ins[1]?.data ?? []) : ((attr('axes') as number[]) ?? []);
      const dims = [...a.dims];
      for (const ax of [...axes].sort((x, y) => x - y)) dims.splice(ax < 0 ? ax + dims.length + 1 : ax, 0, 1);
      return c(dims, a.data);
    }
    case 'Squeeze':
      return c(
        a.dims.filter((d) => d !== 1),
        a.data,
      );
    case 'Concat': {
      if (ins.some((v) => v.dims.length > 1)) fail(`Concat node ${node.name} of multi-dimensional constants`);
      return c(
        [ins.reduce((s, v) => s + v.data.length, 0)],
        ins.flatMap((v) => v.data),
        ins.some((v) => v.float),
      );
    }
    case 'Reshape': {
      const target = ins[1].data.map((d, i) => (d === 0 ? a.dims[i] : d));
      const known = product(target.filter((d) => d !== -1));
      return c(
        target.map((d) => (d === -1 ? a.data.length / known : d)),
        a.data,
      );
    }
    case 'Transpose': {
      if (a.dims.length !== 2) fail(`Transpose node ${node.name} of a ${a.dims.length}-D constant`);
      const [r, k] = a.dims;
      const out: number[] = [];
      for (let j = 0; j < k; j++) for (let i = 0; i < r; i++) out.push(a.data[i * k + j]);
      return c([k, r], out);
    }
    case 'Slice': {
      const starts = opset >= 10 ? ins[1].data : ((attr('starts') as number[]) ?? []);
      const ends = opset >= 10 ? ins[2].data : ((attr('ends') as number[]) ?? []);
      const axes =
        opset >= 10
          ? (ins[3]?.data ?? starts.map((_, i) => i))
          : ((attr('axes') as number[]) ?? starts.map((_, i) => i));
      const steps = opset >= 10 ? (ins[4]?.data ?? starts.map(() => 1)) : starts.map(() => 1);
      if (axes.some((ax) => ax !== 0 && ax !== -a.dims.length))
        fail(`Slice node ${node.name} on an axis other than the first`);
      const rows = a.dims[0];
      const rowSize = a.data.length / rows;
      const step = steps[0];
      const clampIndex = (v: number, lo: number, hi: number): number =>
        Math.min(Math.max(v < 0 ? v + rows : v, lo), hi);
      const picked: number[] = [];
      if (step > 0)
        for (let i = clampIndex(starts[0], 0, rows); i < clampIndex(ends[0], 0, rows); i += step) picked.push(i);
      else
        for (let i = clampIndex(starts[0], 0, rows - 1); i > clampIndex(ends[0], -1, rows - 1); i += step)
          picked.push(i);
      return c(
        [picked.length, ...a.dims.slice(1)],
        picked.flatMap((i) => a.data.slice(i * rowSize, (i + 1) * rowSize)),
      );
    }
    default:
      return fail(`unsupported operator ${node.opType} (node ${node.name})`);
  }
}

// ------------------------------------------------------------------------------------------- the pattern

interface Matched {
  /** Our parameter name → its values. */
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  output: 'linear' | 'scaled-tanh';
  /** Pads and scales seen, to compare between probe sizes. */
  signature: string;
}

/**
 * Long because its helpers (next, weight, conv, norm) are closures over the consumer map and the weights
 * found, and the walk at its end reads as the TransformerNet's layer list: the graph's weights by our names.
 */
function match(
  model: OnnxModel,
  weights: Map<string, OnnxTensor>,
  values: Map<string, Value>,
  inputName: string,
  outputName: string,
): Matched {
  const nodes = model.graph.nodes.filter((n) => values.get(n.outputs[0])?.kind === 'act');
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const signature: unknown[] = [];

  const next = (x: string, want: string[], what: string): OnnxNode => {
    const list = consumers.get(x) ?? [];
    const hit =
      list.find((n) => want.includes(n.opType) && n.inputs[0] === x) ?? list.find((n) => want.includes(n.opType));
    if (!hit) {
      const found = list.length
        ? `${list.map((n) => `${n.opType} (node ${n.name})`).join(', ')}`
        : x === outputName
          ? 'the graph output'
          : 'nothing';
      fail(`not a fast-style TransformerNet graph: expected ${want.join(' or ')} for ${what}, found ${found}`);
    }
    return hit;
  };
  const weight = (name: string, node: OnnxNode, index: number, what: string): OnnxTensor => {
    const t = weights.get(node.inputs[index]);
    if (!t)
      fail(
        `not a fast-style TransformerNet graph: the ${what} of ${node.opType} node ${node.name} is not a constant weight`,
      );
    const data = t.values instanceof Float32Array ? t.values : Float32Array.from(t.values);
    tensors.set(name, { shape: [...t.dims], data });
    return t;
  };
  const skipIdentity = (x: string): string => {
    const id = (consumers.get(x) ?? []).find((n) => n.opType === 'Identity');
    return id && (consumers.get(x) ?? []).length === 1 ? skipIdentity(id.outputs[0]) : x;
  };

  const conv = (x: string, name: string, k: number, stride: number, upsample: boolean): string => {
    let y = x;
    if (upsample) {
      const up = next(y, ['Upsample', 'Resize'], `${name}'s ×2 upsampling`);
      const mode = up.attributes.get('mode') ?? 'nearest';
      if (mode !== 'nearest')
        fail(
          `${up.opType} node ${up.name} uses mode ${String(mode)}; the TransformerNet upsamples by nearest neighbour`,
        );
      const inShape = (values.get(y) as { shape: number[] }).shape;
      const outShape = (values.get(up.outputs[0]) as { shape: number[] }).shape;
      if (outShape[2] !== 2 * inShape[2] || outShape[3] !== 2 * inShape[3])
        fail(`${up.opType} node ${up.name} scales ${shapeStr(inShape)} to ${shapeStr(outShape)}, not ×2`);
      const ctm = up.attributes.get('coordinate_transformation_mode');
      if (ctm === 'align_corners' || ctm === 'tf_crop_and_resize')
        fail(`${up.opType} node ${up.name} uses coordinate_transformation_mode ${String(ctm)}`);
      y = up.outputs[0];
    }
    const pad = next(y, ['Pad'], `${name}'s reflection padding`);
    const mode = pad.attributes.get('mode') ?? 'constant';
    if (mode !== 'reflect') fail(`Pad node ${pad.name} pads with mode ${String(mode)}; the TransformerNet reflects`);
    const padded = (values.get(pad.outputs[0]) as { shape: number[] }).shape;
    const before = (values.get(y) as { shape: number[] }).shape;
    const p = Math.floor(k / 2);
    if (padded[2] !== before[2] + 2 * p || padded[3] !== before[3] + 2 * p || padded[1] !== before[1])
      fail(`Pad node ${pad.name} pads ${shapeStr(before)} to ${shapeStr(padded)}, not by ${p} on each side`);
    signature.push(padded);
    const c = next(pad.outputs[0], ['Conv'], `${name}`);
    const w = weight(`${name}.conv2d.weight`, c, 1, 'weight');
    if (w.dims.length !== 4 || w.dims[2] !== k || w.dims[3] !== k)
      fail(`Conv node ${c.name} has a ${shapeStr(w.dims)} weight; ${name} is ${k}×${k}`);
    const strides = attrInts(c, 'strides', [1, 1]);
    if (strides[0] !== stride || strides[1] !== stride)
      fail(`Conv node ${c.name} has strides [${strides}]; ${name} has stride ${stride}`);
    if (attrInts(c, 'pads', [0, 0, 0, 0]).some((v) => v !== 0))
      fail(`Conv node ${c.name} zero-pads; the TransformerNet reflection-pads`);
    if (attrInts(c, 'dilations', [1, 1]).some((v) => v !== 1) || (c.attributes.get('group') ?? 1) !== 1)
      fail(`Conv node ${c.name} is dilated or grouped`);
    if (c.inputs[2]) weight(`${name}.conv2d.bias`, c, 2, 'bias');
    else tensors.set(`${name}.conv2d.bias`, { shape: [w.dims[0]], data: new Float32Array(w.dims[0]) });
    return c.outputs[0];
  };
  const norm = (x: string, name: string, relu: boolean): string => {
    const n = next(x, ['InstanceNormalization'], `${name}`);
    const eps = (n.attributes.get('epsilon') as number | undefined) ?? 1e-5;
    if (Math.abs(eps - INSTANCE_NORM_EPS) > 1e-9)
      fail(`InstanceNormalization node ${n.name} has epsilon ${eps}; the TransformerNet's is 1e-5`);
    weight(`${name}.weight`, n, 1, 'scale');
    weight(`${name}.bias`, n, 2, 'shift');
    return relu ? next(n.outputs[0], ['Relu'], `the ReLU after ${name}`).outputs[0] : n.outputs[0];
  };

  let y = norm(conv(inputName, 'conv1', 9, 1, false), 'in1', true);
  y = norm(conv(y, 'conv2', 3, 2, false), 'in2', true);
  y = norm(conv(y, 'conv3', 3, 2, false), 'in3', true);
  for (let r = 1; r <= RESIDUAL_BLOCKS; r++) {
    let h = norm(conv(y, `res${r}.conv1`, 3, 1, false), `res${r}.in1`, true);
    h = norm(conv(h, `res${r}.conv2`, 3, 1, false), `res${r}.in2`, false);
    const add = next(h, ['Add'], `the sum of residual block ${r}`);
    if (!add.inputs.includes(y))
      fail(`Add node ${add.name} does not add residual block ${r}'s input: not a TransformerNet`);
    y = add.outputs[0];
  }
  y = norm(conv(y, 'deconv1', 3, 1, true), 'in4', true);
  y = norm(conv(y, 'deconv2', 3, 1, true), 'in5', true);
  y = skipIdentity(conv(y, 'deconv3', 9, 1, false));
  let output: Matched['output'] = 'linear';
  if (y !== outputName) {
    // Our own export's 150·tanh(x) + 127.5.
    const tanh = next(y, ['Tanh'], 'the output');
    const mul = next(tanh.outputs[0], ['Mul'], 'the output scale');
    const add = next(mul.outputs[0], ['Add'], 'the output offset');
    const scalar = (n: OnnxNode): number => {
      const v = n.inputs.map((i) => values.get(i)).find((v) => v?.kind === 'const') as { data: number[] } | undefined;
      return v && v.data.length === 1 ? v.data[0] : NaN;
    };
    if (Math.abs(scalar(mul) - OUTPUT_SCALE) > 1e-4 || Math.abs(scalar(add) - OUTPUT_OFFSET) > 1e-4)
      fail(
        `the output is a·tanh(x) + b with a = ${scalar(mul)}, b = ${scalar(add)}; only 150·tanh(x) + 127.5 is supported`,
      );
    y = skipIdentity(add.outputs[0]);
    output = 'scaled-tanh';
  }
  if (y !== outputName)
    fail(`not a fast-style TransformerNet graph: ${y} after the last layer is not the graph's output ${outputName}`);
  return { tensors, output, signature: JSON.stringify(signature.map((s) => (s as number[]).slice(1, 2))) };
}

export interface OnnxImport {
  bytes: Uint8Array;
  widthMultiplier: number;
  output: 'linear' | 'scaled-tanh';
  opset: number;
  producer: string;
}

/**
 * Our model file for an ONNX TransformerNet graph. Tensors kept in external files are read through
 * `readExternal`; a missing one, a graph that is not the pattern, or a damaged file throws ModelFileError
 * naming `label` (default: `source`).
 */
export function onnxToModelFile(
  bytes: Uint8Array,
  opts: { source: string; style?: string; licence?: string; readExternal?: ExternalReader; label?: string },
): OnnxImport {
  // Errors name the file (`label`, e.g. its path); `source` is the metadata's free text.
  const source = opts.label ?? opts.source;
  try {
    const model = readOnnxModel(bytes);
    const weights = new Map<string, OnnxTensor>();
    for (const [name, t] of model.graph.initializers)
      weights.set(name, t.external ? externalTensor(t, opts.readExternal) : t);
    // Constant nodes' tensors may be external too.
    for (const n of model.graph.nodes) {
      const v = n.attributes.get('value');
      if (v && typeof v === 'object' && 'external' in v && (v as OnnxTensor).external)
        fail(`Constant node ${n.name} keeps its value in external data, which is not supported`);
    }
    const inputs = model.graph.inputs.filter((i) => !weights.has(i.name));
    if (inputs.length !== 1)
      fail(
        `the graph has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); a TransformerNet has one image input`,
      );
    if (model.graph.outputs.length !== 1)
      fail(`the graph has ${model.graph.outputs.length} outputs; a TransformerNet has one`);
    const input = inputs[0];
    if (input.elemType !== 1) fail(`the input ${input.name} is not float32`);
    const outputName = model.graph.outputs[0].name;
    const runs = [
      [64, 96],
      [128, 72],
    ].map(([h, w]) => match(model, weights, evaluate(model, weights, input.name, h, w), input.name, outputName));
    if (runs[0].signature === '' || runs[0].tensors.size !== runs[1].tensors.size)
      fail('the graph changes with the input size');
    const { tensors, output } = runs[0];
    const first = tensors.get('conv1.conv2d.weight')!;
    if (first.shape[1] !== 3) fail(`conv1 takes ${first.shape[1]} channels, not RGB`);
    const widthMultiplier = first.shape[0] / 32;
    if (channelWidths(widthMultiplier)[0] !== first.shape[0])
      fail(`conv1 has ${first.shape[0]} channels, which no width multiplier gives`);
    const config = { widthMultiplier, output, architecture: 'johnson2016' as const };
    const values = checkedWeights(config, tensors, source);
    const out = new Map(
      parameterSpecs(config).map((s) => [s.name, { shape: [...s.shape], data: values.get(s.name)! }]),
    );
    const metadata: ModelMetadata = {
      format: MODEL_FORMAT,
      version: MODEL_FORMAT_VERSION,
      architecture: architectureOf(resolveConfig(config)),
      ...(opts.style !== undefined ? { style: opts.style } : {}),
      source: opts.source,
      ...(opts.licence !== undefined ? { licence: opts.licence } : {}),
    };
    const opset = model.opsets.get('') ?? model.opsets.get('ai.onnx') ?? 0;
    return {
      bytes: writeSafetensors(out, encodeMetadata(metadata)),
      widthMultiplier,
      output,
      opset,
      producer: model.producerName,
    };
  } catch (e) {
    if (e instanceof ModelFileError)
      throw new ModelFileError(e.message.startsWith(`${source}:`) ? e.message : `${source}: ${e.message}`);
    throw e;
  }
}

/** An initializer whose values live in a file beside the model (location, offset, length). */
function externalTensor(t: OnnxTensor, read: ExternalReader | undefined): OnnxTensor {
  const ext = t.external ?? {};
  const location = ext.location ?? '';
  if (location === '' || /(^|[\\/])\.\.([\\/]|$)/.test(location) || /^[\\/]/.test(location))
    fail(`tensor ${t.name} names external data "${location}", which is not a file beside the model`);
  const file = read?.(location);
  if (!file) fail(`tensor ${t.name} keeps its values in the external data file ${location}, which is missing`);
  const offset = Number(ext.offset ?? 0);
  const size = { 1: 4, 6: 4, 7: 8, 10: 2, 11: 8 }[t.dataType] ?? 0;
  const length = ext.length !== undefined ? Number(ext.length) : product(t.dims) * size;
  if (!(offset >= 0 && length >= 0 && offset + length <= file.length))
    fail(
      `external data file ${location} is too short for tensor ${t.name} (needs bytes ${offset}..${offset + length}, has ${file.length})`,
    );
  // Re-read through the same decoder as inline data: a TensorProto with raw_data.
  const body = file.subarray(offset, offset + length);
  return { ...readTensorFromRaw(t, body) };
}

function readTensorFromRaw(t: OnnxTensor, raw: Uint8Array): OnnxTensor {
  const enc: number[] = [];
  const varint = (v: number): void => {
    let x = v;
    while (x >= 0x80) {
      enc.push((x & 0x7f) | 0x80);
      x = Math.floor(x / 128);
    }
    enc.push(x);
  };
  for (const d of t.dims) {
    enc.push(0x08);
    varint(d);
  }
  enc.push(0x10);
  varint(t.dataType);
  const head = Uint8Array.from(enc);
  const lenBytes: number[] = [];
  let x = raw.length;
  while (x >= 0x80) {
    lenBytes.push((x & 0x7f) | 0x80);
    x = Math.floor(x / 128);
  }
  lenBytes.push(x);
  const msg = new Uint8Array(head.length + 1 + lenBytes.length + raw.length);
  msg.set(head, 0);
  msg[head.length] = 0x4a; // field 9 (raw_data), length-delimited
  msg.set(lenBytes, head.length + 1);
  msg.set(raw, head.length + 1 + lenBytes.length);
  return { ...readTensor(msg), name: t.name };
}
