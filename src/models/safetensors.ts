/**
 * The safetensors container, read and written by hand: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}`, then one byte
 * buffer that the offsets index into. Model files come from users, so the reader trusts nothing: every size
 * is checked against the bytes actually present before anything is allocated.
 */

export type Dtype = 'F32' | 'F16';

export interface NamedTensor {
  dtype: Dtype;
  shape: number[];
  /** F16 tensors are widened to float32 on read. */
  data: Float32Array;
}

/** A model or weight file that is not a valid safetensors file (or not the one expected). */
export class ModelFileError extends Error {
  override name = 'ModelFileError';
}

const DTYPE_BYTES: Record<Dtype, number> = { F32: 4, F16: 2 };
/** Every dtype the format defines: named in errors as "unsupported" rather than "unknown". */
const OTHER_DTYPES = new Set([
  'F64',
  'BF16',
  'F8_E4M3',
  'F8_E5M2',
  'I64',
  'I32',
  'I16',
  'I8',
  'U64',
  'U32',
  'U16',
  'U8',
  'BOOL',
]);
/** Real headers are a few kB; anything past this is a corrupt or hostile file. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const METADATA_KEY = '__metadata__';

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Parses a safetensors file. Any defect throws ModelFileError; with `source`, the message starts with it
 * (e.g. the file's path).
 */
export function readSafetensors(
  bytes: Uint8Array,
  source?: string,
): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  if (source === undefined) return parseSafetensors(bytes);
  try {
    return parseSafetensors(bytes);
  } catch (e) {
    if (e instanceof ModelFileError) throw new ModelFileError(`${source}: ${e.message}`);
    throw e;
  }
}

function parseSafetensors(bytes: Uint8Array): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  if (bytes.length < 8)
    throw new ModelFileError(`not a safetensors file: ${bytes.length} bytes is too short for a header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new ModelFileError(
      `not a safetensors file: header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte maximum`,
    );
  }
  const headerBytes = Number(headerLength);
  if (8 + headerBytes > bytes.length) {
    throw new ModelFileError(
      `truncated safetensors file: header of ${headerBytes} bytes but only ${bytes.length - 8} follow`,
    );
  }
  const header = parseHeader(bytes.subarray(8, 8 + headerBytes));
  const dataStart = 8 + headerBytes;
  const dataLength = bytes.length - dataStart;

  let metadata: Record<string, string> = {};
  const entries: { name: string; dtype: Dtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      metadata = parseMetadata(value);
      continue;
    }
    entries.push({ name, ...parseEntry(name, value, dataLength) });
  }

  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1];
    const cur = byOffset[i];
    if (cur.begin < prev.end) {
      throw new ModelFileError(
        `corrupt safetensors file: tensors "${prev.name}" [${prev.begin}, ${prev.end}) and "${cur.name}" [${cur.begin}, ${cur.end}) overlap`,
      );
    }
  }

  const tensors = new Map<string, NamedTensor>();
  for (const e of entries) {
    const raw = bytes.subarray(dataStart + e.begin, dataStart + e.end);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: e.dtype === 'F32' ? decodeF32(raw) : decodeF16(raw) });
  }
  return { tensors, metadata };
}

export function writeSafetensors(
  tensors: Map<string, { shape: number[]; data: Float32Array }>,
  metadata?: Record<string, string>,
  opts: { dtype?: Dtype } = {},
): Uint8Array {
  const dtype = opts.dtype ?? 'F32';
  if (!(dtype in DTYPE_BYTES)) throw new RangeError(`writeSafetensors: unsupported dtype ${dtype} (F32 or F16)`);
  const elementBytes = DTYPE_BYTES[dtype];

  const header: Record<string, unknown> = {};
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string')
        throw new TypeError(`writeSafetensors: metadata "${k}" must be a string, got ${typeof v}`);
    }
    header[METADATA_KEY] = metadata;
  }
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === METADATA_KEY) throw new RangeError(`writeSafetensors: "${METADATA_KEY}" cannot name a tensor`);
    const count = shapeProduct(t.shape);
    if (count === null)
      throw new RangeError(`writeSafetensors: tensor "${name}" has an invalid shape [${t.shape.join(', ')}]`);
    if (count !== t.data.length) {
      throw new RangeError(
        `writeSafetensors: tensor "${name}" has shape [${t.shape.join(', ')}] but ${t.data.length} values`,
      );
    }
    const bytes = count * elementBytes;
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }

  let json = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces so the data buffer starts 8-byte aligned (readers may then view it in place).
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }

  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  const body = new DataView(out.buffer, 8 + json.length);
  let at = 0;
  for (const [name, t] of tensors) {
    if (dtype === 'F32') {
      for (let i = 0; i < t.data.length; i++, at += 4) body.setFloat32(at, t.data[i], true);
    } else {
      for (let i = 0; i < t.data.length; i++, at += 2) {
        const v = t.data[i];
        const h = floatToHalf(v);
        if ((h & 0x7fff) === 0x7c00 && Number.isFinite(v)) {
          throw new RangeError(`writeSafetensors: tensor "${name}" value ${v} at index ${i} overflows float16`);
        }
        body.setUint16(at, h, true);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- header validation

function parseHeader(raw: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new ModelFileError('corrupt safetensors file: header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new ModelFileError(`corrupt safetensors file: header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(header)) throw new ModelFileError('corrupt safetensors file: header is not a JSON object');
  return header;
}

function parseMetadata(value: unknown): Record<string, string> {
  if (!isPlainObject(value)) throw new ModelFileError(`corrupt safetensors file: "${METADATA_KEY}" is not an object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new ModelFileError(`corrupt safetensors file: metadata "${k}" is not a string`);
    out[k] = v;
  }
  return out;
}

function parseEntry(
  name: string,
  value: unknown,
  dataLength: number,
): { dtype: Dtype; shape: number[]; begin: number; end: number } {
  const what = `tensor "${name}"`;
  if (!isPlainObject(value)) throw new ModelFileError(`corrupt safetensors file: ${what} is not an object`);
  const { dtype, shape, data_offsets: offsets } = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof dtype !== 'string') throw new ModelFileError(`corrupt safetensors file: ${what} has no dtype`);
  if (!(dtype in DTYPE_BYTES)) {
    const kind = OTHER_DTYPES.has(dtype) ? 'unsupported' : 'unknown';
    throw new ModelFileError(`${kind} dtype ${JSON.stringify(dtype)} for ${what} (supported: F32, F16)`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new ModelFileError(`corrupt safetensors file: ${what} has an invalid shape ${JSON.stringify(shape)}`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    throw new ModelFileError(`corrupt safetensors file: ${what} has invalid data_offsets ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength) {
    throw new ModelFileError(
      `corrupt or truncated safetensors file: ${what} ends at byte ${end} of a ${dataLength}-byte data buffer`,
    );
  }
  const count = shapeProduct(shape);
  const expected = count === null ? null : count * DTYPE_BYTES[dtype as Dtype];
  if (expected !== end - begin) {
    throw new ModelFileError(
      `corrupt safetensors file: ${what} of shape [${shape.join(', ')}] ${dtype} needs ` +
        `${expected ?? 'too many'} bytes but data_offsets span ${end - begin}`,
    );
  }
  return { dtype: dtype as Dtype, shape: [...shape], begin, end };
}

/** Element count, or null when it is not a safe integer (a hostile shape). */
function shapeProduct(shape: readonly number[]): number | null {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return null;
    n *= d;
    if (!Number.isSafeInteger(n)) return null;
  }
  return n;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------- element decoding

function decodeF32(raw: Uint8Array): Float32Array {
  // A copy into a fresh, aligned buffer (the source offset need not be a multiple of 4). Uint8Array's slice,
  // not raw.slice(): on a Node Buffer that is a view of the whole underlying buffer, not a copy.
  if (littleEndian) return new Float32Array(Uint8Array.prototype.slice.call(raw).buffer);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(raw.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}

function decodeF16(raw: Uint8Array): Float32Array {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(raw.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
  return out;
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + mant / 1024);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 → float16 bits, rounding to nearest even; overflow gives ±Infinity. */
export function floatToHalf(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e > 0) {
    // Normal: keep 10 of 23 mantissa bits; a carry out of the mantissa correctly bumps the exponent.
    let h = sign | (e << 10) | (mant >> 13);
    const round = (mant >> 12) & 1;
    if (round && (mant & 0xfff || h & 1)) h++;
    return h;
  }
  // Subnormal half: value = m · 2^-24 with m = full mantissa >> (126 − exp).
  const shift = 126 - exp;
  if (shift > 24) return sign;
  const full = mant | 0x800000;
  let h = sign | (full >> shift);
  const round = (full >> (shift - 1)) & 1;
  if (round && (full & ((1 << (shift - 1)) - 1) || h & 1)) h++;
  return h;
}
