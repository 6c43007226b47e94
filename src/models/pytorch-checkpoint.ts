import { halfToFloat, ModelFileError } from './safetensors.js';

/**
 * PyTorch checkpoints as `torch.save(state_dict, path)` writes them, read without Python and without running
 * anything from the file:
 *
 * - the zip format (PyTorch ≥ 1.6): a zip whose `ROOT/data.pkl` is the pickled state dict and whose
 *   `ROOT/data/KEY` entries hold the storages' raw little-endian bytes (stored, or deflated by other zip tools);
 * - the legacy format (older files, `_use_new_zipfile_serialization=False`): five pickles in a row (magic
 *   number, protocol version, system info, the state dict, the list of storage keys), then each storage as an
 *   int64 element count and its raw bytes, in the order of that list.
 *
 * The pickle is read by a small stack machine that knows the opcodes a state dict uses and nothing that can
 * call code: GLOBAL/STACK_GLOBAL resolve only the names in ALLOWED_GLOBALS (OrderedDict, the tensor rebuild
 * functions, the storage types) and REDUCE calls only our own stand-ins for those. Any other name
 * (`os.system`, `builtins.eval`, …) or opcode is refused with one line naming it. Tensors come back as float32
 * (float16, bfloat16 and float64 converted; integer tensors as numbers, for buffers that callers drop), with
 * their strides and storage offsets applied.
 *
 * Nothing here touches the file system: callers pass the bytes and, for deflated zip entries, an inflater.
 */

export interface TorchTensor {
  shape: number[];
  /** Values in row-major order (float32; integer storages are converted too). */
  data: Float32Array;
  /** The storage's element type as PyTorch names it: FloatStorage, HalfStorage, LongStorage, … */
  storageType: string;
}

export interface TorchCheckpoint {
  format: 'zip' | 'legacy';
  /** The state dict's tensors by name, in the file's order. */
  tensors: Map<string, TorchTensor>;
}

/** Raw-deflate decompression (zip method 8), e.g. Node's zlib.inflateRawSync. */
export type Inflate = (data: Uint8Array, expectedSize: number) => Uint8Array;

// ----------------------------------------------------------------------------------------------- storages

const STORAGE_BYTES: Record<string, number> = {
  FloatStorage: 4,
  HalfStorage: 2,
  BFloat16Storage: 2,
  DoubleStorage: 8,
  LongStorage: 8,
  IntStorage: 4,
  ShortStorage: 2,
  CharStorage: 1,
  ByteStorage: 1,
  BoolStorage: 1,
};

/** A storage's values as float32. */
function decodeStorage(type: string, bytes: Uint8Array): Float32Array {
  const size = STORAGE_BYTES[type];
  const n = Math.floor(bytes.length / size);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  switch (type) {
    case 'FloatStorage':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case 'HalfStorage':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      break;
    case 'BFloat16Storage': {
      const u = new Uint32Array(1);
      const f = new Float32Array(u.buffer);
      for (let i = 0; i < n; i++) {
        u[0] = view.getUint16(2 * i, true) << 16;
        out[i] = f[0];
      }
      break;
    }
    case 'DoubleStorage':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case 'LongStorage':
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(8 * i, true));
      break;
    case 'IntStorage':
      for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, true);
      break;
    case 'ShortStorage':
      for (let i = 0; i < n; i++) out[i] = view.getInt16(2 * i, true);
      break;
    case 'CharStorage':
      for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
      break;
    default:
      for (let i = 0; i < n; i++) out[i] = bytes[i];
  }
  return out;
}

// ----------------------------------------------------------------------------------------------- pickle

/** A name that GLOBAL resolved; only these may be called (REDUCE) or named as a storage type. */
class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get full(): string {
    return `${this.module}.${this.name}`;
  }
}

/** What a persistent id points at: a storage, read once its bytes are known. */
class StorageRef {
  constructor(
    readonly type: string,
    readonly key: string,
    readonly numel: number,
  ) {}
}

/** A tensor as the pickle describes it; its values are gathered once every storage is at hand. */
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** An OrderedDict or dict from the pickle, in insertion order. */
class PickleDict {
  readonly entries = new Map<unknown, unknown>();
}

const TENSOR_REBUILDERS = new Set([
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_parameter',
]);
const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'builtins.dict',
  '__builtin__.dict',
  ...TENSOR_REBUILDERS,
  ...Object.keys(STORAGE_BYTES).map((s) => `torch.${s}`),
]);

class PickleRefusal extends ModelFileError {}

/**
 * Long because it is one interpreter: a case per pickle opcode over one stack, memo and mark list.
 * Runs one pickle from `start`; returns its value and where it ended. `persistentLoad` resolves BINPERSID
 * (storages); REDUCE calls only the allowed globals' stand-ins.
 */
function unpickle(
  bytes: Uint8Array,
  start: number,
  persistentLoad: (pid: unknown) => unknown,
): { value: unknown; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = start;
  const need = (n: number): void => {
    if (pos + n > bytes.length) throw new ModelFileError(`truncated pickle: needs ${n} more bytes at offset ${pos}`);
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++];
  };
  /** The next n bytes as `get` reads them at their offset, once they are known to be there. */
  const readNext = <T>(n: number, get: (at: number) => T): T => {
    need(n);
    const v = get(pos);
    pos += n;
    return v;
  };
  const u16 = (): number => readNext(2, (at) => view.getUint16(at, true));
  const u32 = (): number => readNext(4, (at) => view.getUint32(at, true));
  const i32 = (): number => readNext(4, (at) => view.getInt32(at, true));
  const u64 = (): number => {
    const v = readNext(8, (at) => view.getBigUint64(at, true));
    if (v > BigInt(Number.MAX_SAFE_INTEGER))
      throw new ModelFileError(`corrupt pickle: length ${v} at offset ${pos - 8}`);
    return Number(v);
  };
  const take = (n: number): Uint8Array => readNext(n, (at) => bytes.subarray(at, at + n));
  const text = (n: number): string => new TextDecoder().decode(take(n));
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new ModelFileError(`truncated pickle: unterminated line at offset ${pos}`);
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]))
      throw new ModelFileError(`corrupt pickle: stack underflow at offset ${pos - 1}`);
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw new ModelFileError(`corrupt pickle: empty stack at offset ${pos - 1}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) throw new ModelFileError(`corrupt pickle: no MARK at offset ${pos - 1}`);
    return stack.splice(m);
  };
  const resolveGlobal = (module: string, name: string): PickleGlobal => {
    const g = new PickleGlobal(module, name);
    if (!ALLOWED_GLOBALS.has(g.full)) {
      throw new PickleRefusal(
        `the pickle refers to ${g.full}, which a PyTorch state dict does not use; refusing to load it (nothing from the file was run)`,
      );
    }
    return g;
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof PickleDict))
      throw new ModelFileError(`corrupt pickle: SETITEM(S) on a ${describe(target)} at offset ${pos - 1}`);
    if (items.length % 2) throw new ModelFileError(`corrupt pickle: odd SETITEMS at offset ${pos - 1}`);
    for (let i = 0; i < items.length; i += 2) target.entries.set(items[i], items[i + 1]);
  };
  const append = (target: unknown, items: unknown[]): void => {
    if (!Array.isArray(target))
      throw new ModelFileError(`corrupt pickle: APPEND on a ${describe(target)} at offset ${pos - 1}`);
    target.push(...items);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw new ModelFileError('unsupported pickle protocol');
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new PickleDict());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(Object.freeze([]));
        break;
      case 0x74: // TUPLE
        stack.push(Object.freeze(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(Object.freeze([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push(Object.freeze([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(Object.freeze([pop(), b, c]));
        break;
      }
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x64: {
        // DICT
        const d = new PickleDict();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement
        const b = take(u8());
        let v = 0n;
        for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (b.length > 0 && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x49: {
        // INT (protocol 0 text; also I01/I00 booleans)
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : Number.parseInt(s, 10));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        stack.push(readNext(8, (at) => view.getFloat64(at, false)));
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(new TextDecoder('latin1').decode(take(u8())));
        break;
      case 0x54: // BINSTRING
        stack.push(new TextDecoder('latin1').decode(take(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()));
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        stack.push(resolveGlobal(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string')
          throw new ModelFileError(`corrupt pickle: STACK_GLOBAL of non-strings at offset ${pos - 1}`);
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) throw new ModelFileError(`corrupt pickle: memo ${k} is unset at offset ${pos - 1}`);
        stack.push(memo.get(k));
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        append(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistentLoad(pop()));
        break;
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(call(fn, args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args), allowed for OrderedDict only (same as calling it with no items)
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args));
        break;
      }
      case 0x62: {
        // BUILD: an OrderedDict's state (its _metadata attribute) is not needed; nothing else takes state.
        const state = pop();
        const target = top();
        if (!(target instanceof PickleDict) || !(state instanceof PickleDict || state === null)) {
          throw new ModelFileError(`unsupported pickle: BUILD of a ${describe(target)} (not a state dict)`);
        }
        break;
      }
      default:
        throw new PickleRefusal(
          `unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at offset ${pos - 1} (not used by a PyTorch state dict; nothing from the file was run)`,
        );
    }
  }
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PickleGlobal) return v.full;
  if (v instanceof PickleDict) return 'dict';
  if (v instanceof TensorRef) return 'tensor';
  if (Array.isArray(v)) return 'tuple or list';
  return typeof v;
}

const isIntList = (v: unknown): v is number[] => Array.isArray(v) && v.every((d) => Number.isInteger(d) && d >= 0);

/** REDUCE with one of the allowed globals: our own stand-ins, never anything from the file. */
function call(fn: unknown, args: unknown): unknown {
  if (!(fn instanceof PickleGlobal)) throw new ModelFileError(`corrupt pickle: REDUCE of a ${describe(fn)}`);
  if (!Array.isArray(args)) throw new ModelFileError(`corrupt pickle: ${fn.full} called without an argument tuple`);
  switch (fn.full) {
    case 'collections.OrderedDict':
    case 'builtins.dict':
    case '__builtin__.dict': {
      const d = new PickleDict();
      if (args.length > 0 && !(args.length === 1 && Array.isArray(args[0]) && args[0].length === 0)) {
        throw new ModelFileError(`unsupported pickle: ${fn.full} called with arguments`);
      }
      return d;
    }
    case 'torch._utils._rebuild_parameter':
      if (!(args[0] instanceof TensorRef))
        throw new ModelFileError('corrupt pickle: _rebuild_parameter of a non-tensor');
      return args[0];
    case 'torch._utils._rebuild_tensor':
    case 'torch._utils._rebuild_tensor_v2': {
      const [storage, offset, size, stride] = args;
      if (
        !(storage instanceof StorageRef) ||
        !Number.isInteger(offset) ||
        (offset as number) < 0 ||
        !isIntList(size) ||
        !isIntList(stride) ||
        size.length !== stride.length
      ) {
        throw new ModelFileError(`corrupt pickle: ${fn.name} with arguments (${args.map(describe).join(', ')})`);
      }
      return new TensorRef(storage, offset as number, [...size], [...stride]);
    }
    default:
      throw new PickleRefusal(
        `the pickle calls ${fn.full}, which is not a function; refusing to load it (nothing from the file was run)`,
      );
  }
}

/** The persistent id of a storage: ('storage', torch.XStorage, key, location, numel[, view metadata]). */
function storageFromPid(pid: unknown): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5)
    throw new ModelFileError(`unsupported persistent id in the pickle (${describe(pid)}): not a PyTorch storage`);
  const [, type, key, , numel] = pid;
  if (!(type instanceof PickleGlobal) || type.module !== 'torch' || !(type.name in STORAGE_BYTES))
    throw new ModelFileError(`unsupported storage type ${describe(type)}`);
  if (pid.length > 5 && pid[5] !== null)
    throw new ModelFileError('unsupported storage view (PyTorch < 0.4 storage slices)');
  if (typeof key !== 'string' && typeof key !== 'number')
    throw new ModelFileError('corrupt pickle: storage key is not a string');
  if (!Number.isInteger(numel) || (numel as number) < 0)
    throw new ModelFileError('corrupt pickle: storage size is not a count');
  return new StorageRef(type.name, String(key), numel as number);
}

/** The state dict inside the pickled value: a dict of tensors, or one under 'state_dict' / 'model'. */
function stateDictOf(value: unknown): Map<string, TensorRef> {
  let dict = value;
  if (dict instanceof PickleDict && ![...dict.entries.values()].some((v) => v instanceof TensorRef)) {
    for (const key of ['state_dict', 'model', 'model_state_dict']) {
      if (dict.entries.get(key) instanceof PickleDict) {
        dict = dict.entries.get(key);
        break;
      }
    }
  }
  if (!(dict instanceof PickleDict))
    throw new ModelFileError(`not a state dict: the pickle holds a ${describe(value)}, not a dict of tensors`);
  const out = new Map<string, TensorRef>();
  for (const [k, v] of dict.entries) {
    if (typeof k !== 'string') throw new ModelFileError(`not a state dict: a key is a ${describe(k)}`);
    if (!(v instanceof TensorRef)) throw new ModelFileError(`not a state dict: ${k} is a ${describe(v)}, not a tensor`);
    out.set(k, v);
  }
  if (out.size === 0) throw new ModelFileError('the state dict holds no tensors');
  return out;
}

/** A tensor's values in row-major order from its storage, offset and strides, bounds checked. */
function gather(name: string, t: TensorRef, storage: Float32Array): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (n === 0) return new Float32Array(0);
  let last = t.offset;
  t.shape.forEach((d, i) => (last += (d - 1) * t.stride[i]));
  if (last >= storage.length)
    throw new ModelFileError(
      `tensor ${name} [${t.shape.join(', ')}] reaches element ${last} of a storage of ${storage.length}`,
    );
  if (n > 2 ** 30) throw new ModelFileError(`tensor ${name} [${t.shape.join(', ')}] is too large`);
  const out = new Float32Array(n);
  const rank = t.shape.length;
  const idx = new Array<number>(rank).fill(0);
  let src = t.offset;
  for (let i = 0; i < n; i++) {
    out[i] = storage[src];
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      src += t.stride[d];
      if (idx[d] < t.shape[d]) break;
      src -= idx[d] * t.stride[d];
      idx[d] = 0;
    }
  }
  return out;
}

function tensorsOf(
  refs: Map<string, TensorRef>,
  storageBytes: (s: StorageRef) => Uint8Array,
): Map<string, TorchTensor> {
  const decoded = new Map<string, Float32Array>();
  const out = new Map<string, TorchTensor>();
  for (const [name, t] of refs) {
    let values = decoded.get(t.storage.key);
    if (!values) {
      const bytes = storageBytes(t.storage);
      const want = t.storage.numel * STORAGE_BYTES[t.storage.type];
      if (bytes.length < want)
        throw new ModelFileError(
          `storage ${t.storage.key} has ${bytes.length} bytes, ${t.storage.numel} × ${t.storage.type} needs ${want}`,
        );
      values = decodeStorage(t.storage.type, bytes.subarray(0, want));
      decoded.set(t.storage.key, values);
    }
    out.set(name, { shape: t.shape, data: gather(name, t, values), storageType: t.storage.type });
  }
  return out;
}

// ----------------------------------------------------------------------------------------------- zip

interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeader: number;
}

/** The central directory of a zip (zip64 sizes and offsets included). */
function zipEntries(bytes: Uint8Array): ZipEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0)
    throw new ModelFileError('truncated or corrupt zip: no end-of-central-directory record (the file was cut short?)');
  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (eocd >= 20 && view.getUint32(eocd - 20, true) === 0x07064b50) {
    const z64 = Number(view.getBigUint64(eocd - 12, true));
    if (z64 + 56 > bytes.length || view.getUint32(z64, true) !== 0x06064b50)
      throw new ModelFileError('corrupt zip: bad zip64 end-of-central-directory record');
    count = Number(view.getBigUint64(z64 + 32, true));
    cdSize = Number(view.getBigUint64(z64 + 40, true));
    cdOffset = Number(view.getBigUint64(z64 + 48, true));
  }
  if (cdOffset + cdSize > bytes.length)
    throw new ModelFileError(
      `truncated zip: its directory lies at ${cdOffset}..${cdOffset + cdSize} of ${bytes.length} bytes`,
    );
  const entries: ZipEntry[] = [];
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > bytes.length || view.getUint32(p, true) !== 0x02014b50)
      throw new ModelFileError(`corrupt zip: central directory entry ${i} is damaged`);
    const method = view.getUint16(p + 10, true);
    let compressedSize = view.getUint32(p + 20, true);
    let size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    let localHeader = view.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen > bytes.length)
      throw new ModelFileError(`corrupt zip: central directory entry ${i} is damaged`);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // zip64 extra field: the 8-byte values of whichever of size, compressed size, offset are 0xFFFFFFFF.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = view.getUint16(e, true);
      const len = view.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        const next = (): number => {
          if (q + 8 > e + 4 + len) throw new ModelFileError(`corrupt zip: short zip64 field in ${name}`);
          const v = Number(view.getBigUint64(q, true));
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localHeader === 0xffffffff) localHeader = next();
      }
      e += 4 + len;
    }
    entries.push({ name, method, compressedSize, size, localHeader });
    p = extraEnd + commentLen;
  }
  return entries;
}

function zipData(bytes: Uint8Array, entry: ZipEntry, inflate?: Inflate): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = entry.localHeader;
  if (h + 30 > bytes.length || view.getUint32(h, true) !== 0x04034b50)
    throw new ModelFileError(`corrupt zip: no local header for ${entry.name}`);
  const start = h + 30 + view.getUint16(h + 26, true) + view.getUint16(h + 28, true);
  const end = start + entry.compressedSize;
  if (end > bytes.length)
    throw new ModelFileError(`truncated zip: ${entry.name} needs bytes up to ${end} of ${bytes.length}`);
  const raw = bytes.subarray(start, end);
  if (entry.method === 0) return raw;
  if (entry.method === 8) {
    if (!inflate) throw new ModelFileError(`${entry.name} is deflated and no inflater was given`);
    let out: Uint8Array;
    try {
      out = inflate(raw, entry.size);
    } catch {
      throw new ModelFileError(`corrupt zip: ${entry.name} does not inflate`);
    }
    if (out.length !== entry.size)
      throw new ModelFileError(`corrupt zip: ${entry.name} inflates to ${out.length} bytes, not ${entry.size}`);
    return out;
  }
  throw new ModelFileError(`unsupported zip compression method ${entry.method} for ${entry.name}`);
}

function readZipCheckpoint(bytes: Uint8Array, inflate?: Inflate): TorchCheckpoint {
  const entries = zipEntries(bytes);
  const pkl = entries.find((e) => /^[^/]*\/data\.pkl$/.test(e.name));
  if (!pkl) throw new ModelFileError('a zip without ROOT/data.pkl: not a PyTorch checkpoint');
  const root = pkl.name.slice(0, -'data.pkl'.length);
  const byName = new Map(entries.map((e) => [e.name, e]));
  const byteorder = byName.get(`${root}byteorder`);
  if (byteorder && new TextDecoder().decode(zipData(bytes, byteorder, inflate)).trim() !== 'little')
    throw new ModelFileError('big-endian checkpoints are not supported');
  const storages = new Map<string, StorageRef>();
  const { value } = unpickle(zipData(bytes, pkl, inflate), 0, (pid) => {
    const s = storageFromPid(pid);
    storages.set(s.key, s);
    return s;
  });
  const refs = stateDictOf(value);
  const tensors = tensorsOf(refs, (s) => {
    const entry = byName.get(`${root}data/${s.key}`);
    if (!entry)
      throw new ModelFileError(`the zip has no ${root}data/${s.key} (storage of a tensor): truncated or damaged`);
    return zipData(bytes, entry, inflate);
  });
  return { format: 'zip', tensors };
}

// ----------------------------------------------------------------------------------------------- legacy

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

function readLegacyCheckpoint(bytes: Uint8Array): TorchCheckpoint {
  const none = (): never => {
    throw new PickleRefusal('unexpected persistent id outside the state dict');
  };
  const magic = unpickle(bytes, 0, none);
  if (magic.value !== LEGACY_MAGIC)
    throw new ModelFileError('a pickle that is not a PyTorch checkpoint (no PyTorch magic number)');
  const protocol = unpickle(bytes, magic.end, none);
  if (protocol.value !== 1001)
    throw new ModelFileError(`unsupported legacy checkpoint protocol ${String(protocol.value)}`);
  const sysInfo = unpickle(bytes, protocol.end, none);
  if (sysInfo.value instanceof PickleDict && sysInfo.value.entries.get('little_endian') === false)
    throw new ModelFileError('big-endian checkpoints are not supported');
  const storages = new Map<string, StorageRef>();
  const main = unpickle(bytes, sysInfo.end, (pid) => {
    const s = storageFromPid(pid);
    const seen = storages.get(s.key);
    if (seen) return seen;
    storages.set(s.key, s);
    return s;
  });
  const refs = stateDictOf(main.value);
  const keys = unpickle(bytes, main.end, none);
  if (!Array.isArray(keys.value))
    throw new ModelFileError('corrupt legacy checkpoint: no storage key list after the state dict');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = new Map<string, Uint8Array>();
  let p = keys.end;
  for (const k of keys.value) {
    const key = String(k);
    const s = storages.get(key);
    if (!s) throw new ModelFileError(`corrupt legacy checkpoint: storage ${key} is listed but no tensor uses it`);
    if (p + 8 > bytes.length)
      throw new ModelFileError(`truncated checkpoint: storage ${key} is missing (file ends at ${bytes.length} bytes)`);
    const numel = Number(view.getBigInt64(p, true));
    const n = numel * STORAGE_BYTES[s.type];
    if (numel < 0 || p + 8 + n > bytes.length)
      throw new ModelFileError(
        `truncated checkpoint: storage ${key} needs ${n} bytes at offset ${p + 8}, the file has ${bytes.length}`,
      );
    data.set(key, bytes.subarray(p + 8, p + 8 + n));
    p += 8 + n;
  }
  const tensors = tensorsOf(refs, (s) => {
    const d = data.get(s.key);
    if (!d) throw new ModelFileError(`corrupt legacy checkpoint: storage ${s.key} is not in the file`);
    return d;
  });
  return { format: 'legacy', tensors };
}

// ----------------------------------------------------------------------------------------------- entry

/** What kind of PyTorch file the bytes look like, from their first bytes. */
export function sniffTorchFile(bytes: Uint8Array): 'zip' | 'legacy' | 'tar' | null {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04)
    return 'zip';
  // A legacy file opens with its magic number pickled: PROTO 2, LONG1 of 10 bytes (a safetensors file's
  // 8-byte header length may start 0x80 0x02 too).
  if (bytes.length >= 4 && bytes[0] === 0x80 && bytes[1] === 0x02 && bytes[2] === 0x8a && bytes[3] === 0x0a)
    return 'legacy';
  if (bytes.length >= 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === 'ustar') return 'tar';
  return null;
}

/**
 * Reads a `torch.save`d state dict. Defects and anything outside the state-dict subset throw
 * ModelFileError, prefixed with `source`.
 */
export function readTorchCheckpoint(bytes: Uint8Array, source: string, inflate?: Inflate): TorchCheckpoint {
  try {
    const kind = sniffTorchFile(bytes);
    if (kind === 'zip') return readZipCheckpoint(bytes, inflate);
    if (kind === 'legacy') return readLegacyCheckpoint(bytes);
    if (kind === 'tar')
      throw new ModelFileError(
        'the tar checkpoint format of PyTorch < 0.1.10 is not supported (load it in PyTorch and save it again)',
      );
    throw new ModelFileError('not a PyTorch checkpoint (neither the zip format nor a legacy pickle)');
  } catch (e) {
    if (e instanceof ModelFileError) throw new ModelFileError(`${source}: ${e.message}`);
    if (e instanceof RangeError)
      throw new ModelFileError(`${source}: corrupt or truncated PyTorch checkpoint (${e.message})`);
    throw e;
  }
}

/** Every entry of a zip by name, decompressed (for tools and tests). */
export function readZipEntries(bytes: Uint8Array, inflate?: Inflate): Map<string, Uint8Array> {
  return new Map(zipEntries(bytes).map((e) => [e.name, zipData(bytes, e, inflate)]));
}
