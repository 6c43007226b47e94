import { halfToFloat, ModelFileError } from './safetensors.js';

/**
 * The few ONNX protobuf messages that export and import need (onnx.proto3: ModelProto, GraphProto, NodeProto,
 * AttributeProto, TensorProto, ValueInfoProto), read and written by hand: protobuf's wire format is small
 * (varints, length-delimited fields, fixed 32/64-bit values) and these messages use a dozen fields, so a
 * hand-written codec is ~300 lines with no dependency and runs in the browser bundle too, where protobufjs
 * or onnx-proto would add a runtime and a generated schema for thousands of fields we never read.
 *
 * The reader trusts nothing: every length is checked against the bytes present, unknown fields are skipped,
 * and a defect throws ModelFileError.
 */

const ONNX_FLOAT = 1;
const ONNX_INT32 = 6;
export const ONNX_INT64 = 7;
const ONNX_FLOAT16 = 10;
const ONNX_DOUBLE = 11;

export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  /** Values as numbers (float types as float32-rounded numbers, int64 as numbers). */
  values: Float32Array | number[];
  /** Set when the values live in an external file (data_location EXTERNAL): then `values` is empty. */
  external?: Record<string, string>;
}

export type OnnxAttributeValue = number | string | number[] | OnnxTensor | string[];

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, OnnxAttributeValue>;
  /** Set when an attribute holds a subgraph (If, Loop, Scan): never part of the graphs we read. */
  hasSubgraph: boolean;
}

export interface OnnxValueInfo {
  name: string;
  elemType: number;
  /** A number, a symbolic name, or null (unknown). */
  dims: (number | string | null)[] | null;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: Map<string, OnnxTensor>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  docString?: string;
}

export interface OnnxModel {
  irVersion: number;
  producerName: string;
  opsets: Map<string, number>;
  graph: OnnxGraph;
  metadata: Map<string, string>;
}

// ------------------------------------------------------------------------------------------- wire reader

type Field =
  | { wire: 0; value: bigint }
  | { wire: 1; bytes: Uint8Array }
  | { wire: 2; bytes: Uint8Array }
  | { wire: 5; bytes: Uint8Array };

/** The fields of one message, in order, grouped by number. */
function fields(bytes: Uint8Array, what: string): Map<number, Field[]> {
  const out = new Map<number, Field[]>();
  let pos = 0;
  const varint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= bytes.length) throw new ModelFileError(`truncated ONNX file: a number in ${what} runs past the end`);
      const b = bytes[pos++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
      if (shift > 63n) throw new ModelFileError(`corrupt ONNX file: an overlong number in ${what}`);
    }
  };
  while (pos < bytes.length) {
    const key = Number(varint());
    const number = key >>> 3;
    const wire = key & 7;
    let field: Field;
    if (wire === 0) field = { wire, value: varint() };
    else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (pos + n > bytes.length) throw new ModelFileError(`truncated ONNX file in ${what}`);
      field = { wire, bytes: bytes.subarray(pos, pos + n) };
      pos += n;
    } else if (wire === 2) {
      const n = varint();
      if (BigInt(pos) + n > BigInt(bytes.length))
        throw new ModelFileError(
          `truncated ONNX file: a field of ${what} needs ${n} bytes, ${bytes.length - pos} are left`,
        );
      field = { wire, bytes: bytes.subarray(pos, pos + Number(n)) };
      pos += Number(n);
    } else {
      throw new ModelFileError(`corrupt ONNX file: wire type ${wire} in ${what} (not an ONNX model?)`);
    }
    const list = out.get(number);
    if (list) list.push(field);
    else out.set(number, [field]);
  }
  return out;
}

const text = (f: Field): string => (f.wire === 2 ? new TextDecoder().decode(f.bytes) : '');
const sub = (f: Field): Uint8Array => (f.wire === 2 ? f.bytes : new Uint8Array(0));
const int = (f: Field): number => (f.wire === 0 ? Number(BigInt.asIntN(64, f.value)) : 0);

function str(m: Map<number, Field[]>, n: number): string {
  const f = m.get(n);
  return f ? text(f[f.length - 1]) : '';
}

function num(m: Map<number, Field[]>, n: number): number {
  const f = m.get(n);
  return f ? int(f[f.length - 1]) : 0;
}

/** A repeated int64 field, packed or not. */
function ints(m: Map<number, Field[]>, n: number, what: string): number[] {
  const out: number[] = [];
  for (const f of m.get(n) ?? []) {
    if (f.wire === 0) out.push(int(f));
    else if (f.wire === 2) {
      const inner = fields(packedAsFields(f.bytes), what);
      for (const g of inner.get(1) ?? []) out.push(int(g));
    }
  }
  return out;
}

/** Packed varints re-keyed as field 1 so that `fields` can read them. */
function packedAsFields(bytes: Uint8Array): Uint8Array {
  const out: number[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (!(bytes[i] & 0x80)) {
      out.push(0x08, ...bytes.subarray(start, i + 1));
      start = i + 1;
    }
  }
  if (start !== bytes.length) throw new ModelFileError('truncated ONNX file: a packed list ends inside a number');
  return Uint8Array.from(out);
}

/** A repeated float field, packed or not. */
function floats(m: Map<number, Field[]>, n: number): number[] {
  const out: number[] = [];
  for (const f of m.get(n) ?? []) {
    const b = f.wire === 0 ? new Uint8Array(0) : f.bytes;
    if (f.wire === 5) out.push(new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true));
    else if (f.wire === 2) {
      if (b.length % 4) throw new ModelFileError('corrupt ONNX file: a packed float list is not a multiple of 4 bytes');
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      for (let i = 0; i < b.length; i += 4) out.push(v.getFloat32(i, true));
    }
  }
  return out;
}

function doubles(m: Map<number, Field[]>, n: number): number[] {
  const out: number[] = [];
  for (const f of m.get(n) ?? []) {
    const b = f.wire === 0 ? new Uint8Array(0) : f.bytes;
    if (f.wire === 1) out.push(new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, true));
    else if (f.wire === 2) {
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      for (let i = 0; i + 8 <= b.length; i += 8) out.push(v.getFloat64(i, true));
    }
  }
  return out;
}

export function readTensor(bytes: Uint8Array): OnnxTensor {
  const m = fields(bytes, 'a tensor');
  const name = str(m, 8);
  const dims = ints(m, 1, `tensor ${name}`);
  const dataType = num(m, 2);
  const count = dims.reduce((a, b) => a * b, 1);
  if (dims.some((d) => d < 0) || count > 2 ** 31)
    throw new ModelFileError(`corrupt ONNX file: tensor ${name} has dims [${dims.join(', ')}]`);
  if (m.has(3)) throw new ModelFileError(`tensor ${name} is segmented, which is not supported`);
  if (num(m, 14) === 1 || m.has(13)) {
    const external: Record<string, string> = {};
    for (const f of m.get(13) ?? []) {
      const e = fields(sub(f), `external data of ${name}`);
      external[str(e, 1)] = str(e, 2);
    }
    return { name, dims, dataType, values: [], external };
  }
  const raw = m.get(9);
  let values: Float32Array | number[];
  if (raw) {
    const b = sub(raw[raw.length - 1]);
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const size = { [ONNX_FLOAT]: 4, [ONNX_INT32]: 4, [ONNX_INT64]: 8, [ONNX_FLOAT16]: 2, [ONNX_DOUBLE]: 8 }[dataType];
    if (size === undefined)
      throw new ModelFileError(`tensor ${name} has data type ${dataType}, which is not supported`);
    if (b.length !== count * size)
      throw new ModelFileError(`tensor ${name} [${dims.join(', ')}] holds ${b.length} bytes, needs ${count * size}`);
    if (dataType === ONNX_FLOAT) {
      const f = new Float32Array(count);
      for (let i = 0; i < count; i++) f[i] = v.getFloat32(4 * i, true);
      values = f;
    } else if (dataType === ONNX_FLOAT16) {
      const f = new Float32Array(count);
      for (let i = 0; i < count; i++) f[i] = halfToFloat(v.getUint16(2 * i, true));
      values = f;
    } else if (dataType === ONNX_DOUBLE) {
      values = Float32Array.from({ length: count }, (_, i) => v.getFloat64(8 * i, true));
    } else if (dataType === ONNX_INT64) {
      values = Array.from({ length: count }, (_, i) => Number(v.getBigInt64(8 * i, true)));
    } else {
      values = Array.from({ length: count }, (_, i) => v.getInt32(4 * i, true));
    }
  } else if (dataType === ONNX_FLOAT) {
    values = Float32Array.from(floats(m, 4));
  } else if (dataType === ONNX_DOUBLE) {
    values = Float32Array.from(doubles(m, 10));
  } else if (dataType === ONNX_INT64) {
    values = ints(m, 7, `tensor ${name}`);
  } else if (dataType === ONNX_INT32 || dataType === ONNX_FLOAT16) {
    const i32 = ints(m, 5, `tensor ${name}`);
    values = dataType === ONNX_FLOAT16 ? Float32Array.from(i32, halfToFloat) : i32;
  } else {
    throw new ModelFileError(`tensor ${name} has data type ${dataType}, which is not supported`);
  }
  if (values.length !== count)
    throw new ModelFileError(`tensor ${name} [${dims.join(', ')}] holds ${values.length} values, needs ${count}`);
  return { name, dims, dataType, values };
}

function readAttribute(
  bytes: Uint8Array,
  node: string,
): { name: string; value: OnnxAttributeValue | null; subgraph: boolean } {
  const m = fields(bytes, `an attribute of ${node}`);
  const name = str(m, 1);
  const type = num(m, 20);
  // AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, GRAPH 5, FLOATS 6, INTS 7, STRINGS 8.
  switch (type) {
    case 1:
      return { name, value: floats(m, 2)[0] ?? 0, subgraph: false };
    case 2:
      return { name, value: num(m, 3), subgraph: false };
    case 3:
      return { name, value: str(m, 4), subgraph: false };
    case 4:
      return { name, value: readTensor(sub(m.get(5)?.[0] ?? { wire: 2, bytes: new Uint8Array(0) })), subgraph: false };
    case 5:
    case 10:
      return { name, value: null, subgraph: true };
    case 6:
      return { name, value: floats(m, 7), subgraph: false };
    case 7:
      return { name, value: ints(m, 8, `attribute ${name} of ${node}`), subgraph: false };
    case 8:
      return { name, value: (m.get(9) ?? []).map(text), subgraph: false };
    default:
      return { name, value: null, subgraph: false };
  }
}

function readNode(bytes: Uint8Array, index: number): OnnxNode {
  const m = fields(bytes, `node ${index}`);
  const name = str(m, 3) || `#${index}`;
  const attributes = new Map<string, OnnxAttributeValue>();
  let hasSubgraph = false;
  for (const f of m.get(5) ?? []) {
    const a = readAttribute(sub(f), name);
    if (a.subgraph) hasSubgraph = true;
    if (a.value !== null) attributes.set(a.name, a.value);
  }
  return {
    name,
    opType: str(m, 4),
    domain: str(m, 7),
    inputs: (m.get(1) ?? []).map(text),
    outputs: (m.get(2) ?? []).map(text),
    attributes,
    hasSubgraph,
  };
}

function readValueInfo(bytes: Uint8Array): OnnxValueInfo {
  const m = fields(bytes, 'a graph input or output');
  const name = str(m, 1);
  const type = m.get(2) ? fields(sub(m.get(2)![0]), `the type of ${name}`) : null;
  const tensor = type?.get(1) ? fields(sub(type.get(1)![0]), `the type of ${name}`) : null;
  if (!tensor) return { name, elemType: 0, dims: null };
  const shape = tensor.get(2) ? fields(sub(tensor.get(2)![0]), `the shape of ${name}`) : null;
  const dims = shape
    ? (shape.get(1) ?? []).map((f) => {
        const d = fields(sub(f), `a dim of ${name}`);
        return d.has(1) ? num(d, 1) : d.has(2) ? str(d, 2) : null;
      })
    : null;
  return { name, elemType: num(tensor, 1), dims };
}

/** Parses an ONNX model file. */
export function readOnnxModel(bytes: Uint8Array): OnnxModel {
  const m = fields(bytes, 'the model');
  if (!m.has(7)) throw new ModelFileError('not an ONNX model: no graph');
  const opsets = new Map<string, number>();
  for (const f of m.get(8) ?? []) {
    const o = fields(sub(f), 'an opset import');
    opsets.set(str(o, 1), num(o, 2));
  }
  const metadata = new Map<string, string>();
  for (const f of m.get(14) ?? []) {
    const e = fields(sub(f), 'a metadata entry');
    metadata.set(str(e, 1), str(e, 2));
  }
  const g = fields(sub(m.get(7)![0]), 'the graph');
  const initializers = new Map<string, OnnxTensor>();
  for (const f of g.get(5) ?? []) {
    const t = readTensor(sub(f));
    initializers.set(t.name, t);
  }
  if (g.has(15)) throw new ModelFileError('sparse initializers are not supported');
  const graph: OnnxGraph = {
    name: str(g, 2),
    nodes: (g.get(1) ?? []).map((f, i) => readNode(sub(f), i)),
    initializers,
    inputs: (g.get(11) ?? []).map((f) => readValueInfo(sub(f))),
    outputs: (g.get(12) ?? []).map((f) => readValueInfo(sub(f))),
    docString: str(g, 10) || undefined,
  };
  return { irVersion: num(m, 1), producerName: str(m, 2), opsets, graph, metadata };
}

// ------------------------------------------------------------------------------------------- wire writer

/** Builds one message; nested messages are built by their own Writer and added with `message`. */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  private push(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  private rawVarint(v: bigint | number): void {
    let x = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    while (x >= 0x80n) {
      out.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    out.push(Number(x));
    this.push(Uint8Array.from(out));
  }

  private key(field: number, wire: number): void {
    this.rawVarint((field << 3) | wire);
  }

  int(field: number, v: number): this {
    this.key(field, 0);
    this.rawVarint(v);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.key(field, 2);
    this.rawVarint(b.length);
    this.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, w: ProtoWriter): this {
    return this.bytes(field, w.finish());
  }

  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
    return this;
  }

  packedInts(field: number, values: readonly number[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.rawVarint(v);
    return this.bytes(field, inner.finish());
  }

  packedFloats(field: number, values: readonly number[]): this {
    const b = new Uint8Array(4 * values.length);
    const v = new DataView(b.buffer);
    values.forEach((x, i) => v.setFloat32(4 * i, x, true));
    return this.bytes(field, b);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let p = 0;
    for (const c of this.chunks) {
      out.set(c, p);
      p += c.length;
    }
    return out;
  }
}

/** A TensorProto of float32 or int64 values (raw_data, little-endian). */
export function tensorProto(
  name: string,
  dims: readonly number[],
  values: Float32Array | readonly number[],
  dataType: typeof ONNX_FLOAT | typeof ONNX_INT64 = ONNX_FLOAT,
): ProtoWriter {
  const w = new ProtoWriter().packedInts(1, dims).int(2, dataType).string(8, name);
  if (dataType === ONNX_FLOAT) {
    const f = values instanceof Float32Array ? values : Float32Array.from(values);
    w.bytes(9, new Uint8Array(f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength)));
  } else {
    const b = new Uint8Array(8 * values.length);
    const v = new DataView(b.buffer);
    Array.from(values).forEach((x, i) => v.setBigInt64(8 * i, BigInt(x), true));
    w.bytes(9, b);
  }
  return w;
}

export type AttributeInput = number | string | number[] | { floats: number[] };

/** An AttributeProto: integers as INT/INTS, strings as STRING, { floats } as FLOATS, a float via `attrFloat`. */
export function attributeProto(name: string, value: AttributeInput | { float: number }): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  if (typeof value === 'number') return w.int(3, value).int(20, 2);
  if (typeof value === 'string') return w.string(4, value).int(20, 3);
  if (Array.isArray(value)) return w.packedInts(8, value).int(20, 7);
  if ('float' in value) return w.float(2, value.float).int(20, 1);
  return w.packedFloats(7, value.floats).int(20, 6);
}

/** A ValueInfoProto of a float tensor with the given dims (numbers or symbolic names). */
export function valueInfoProto(name: string, dims: readonly (number | string)[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims)
    shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().int(1, ONNX_FLOAT).message(2, shape);
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
}
