import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  floatToHalf,
  halfToFloat,
  ModelFileError,
  readSafetensors,
  writeSafetensors,
} from '../src/models/safetensors.js';

const VGG_PATH = resolve(__dirname, '../../shared/assets/vgg/vgg19_conv1_1-conv3_4.safetensors');

/** Builds a file from a raw header object and data bytes, bypassing the writer's checks. */
function rawFile(header: unknown, data: Uint8Array, headerLengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function sample(): Map<string, { shape: number[]; data: Float32Array }> {
  return new Map([
    ['conv.weight', { shape: [2, 3, 1, 1], data: Float32Array.from([1, -2, 0.5, 0.25, -0.125, 3]) }],
    ['conv.bias', { shape: [2], data: Float32Array.from([-1.5, 1024]) }],
    ['scalar', { shape: [], data: Float32Array.from([7]) }],
    ['empty', { shape: [0, 4], data: new Float32Array(0) }],
  ]);
}

describe('safetensors round trip', () => {
  for (const dtype of ['F32', 'F16'] as const) {
    it(`writes and reads back ${dtype} exactly, with metadata`, () => {
      const tensors = sample();
      const bytes = writeSafetensors(tensors, { format: 'pt', style: 'starry night ✨' }, { dtype });
      const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect((8 + headerLength) % 8).toBe(0);
      const { tensors: back, metadata } = readSafetensors(bytes);
      expect(metadata).toEqual({ format: 'pt', style: 'starry night ✨' });
      expect([...back.keys()]).toEqual([...tensors.keys()]);
      for (const [name, t] of tensors) {
        const r = back.get(name)!;
        expect(r.dtype).toBe(dtype);
        expect(r.shape).toEqual(t.shape);
        expect(Array.from(r.data)).toEqual(Array.from(t.data));
      }
    });
  }

  it('reads from a Node Buffer (whose slice() is a view, not a copy): each tensor holds its own values only', () => {
    const bytes = Buffer.from(writeSafetensors(sample()));
    const back = readSafetensors(bytes);
    for (const [name, t] of sample()) expect(back.tensors.get(name)!.data, name).toEqual(t.data);
  });

  it('reads from a subarray at an odd byte offset', () => {
    const bytes = writeSafetensors(sample());
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const { tensors } = readSafetensors(shifted.subarray(3));
    expect(Array.from(tensors.get('conv.bias')!.data)).toEqual([-1.5, 1024]);
  });

  it('converts float16 with round-to-nearest-even, subnormals and specials', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -14, 0x0400], // smallest normal
      [1 + 2 ** -11, 0x3c00], // tie → even (down)
      [1 + 3 * 2 ** -11, 0x3c02], // tie → even (up)
      [2 ** -25, 0x0000], // tie at the bottom → even (zero)
      [3 * 2 ** -25, 0x0002],
      [Infinity, 0x7c00],
      [70000, 0x7c00],
    ];
    for (const [v, h] of cases) expect(floatToHalf(v), `${v}`).toBe(h);
    expect(Number.isNaN(halfToFloat(floatToHalf(NaN)))).toBe(true);
    for (let h = 0; h < 0x7c00; h++) expect(floatToHalf(halfToFloat(h))).toBe(h);
  });

  it('refuses to write values that overflow float16', () => {
    const t = new Map([['w', { shape: [1], data: Float32Array.from([1e6]) }]]);
    expect(() => writeSafetensors(t, undefined, { dtype: 'F16' })).toThrow(/overflows float16/);
  });

  it('refuses to write a tensor whose data does not fill its shape', () => {
    const t = new Map([['w', { shape: [2, 2], data: new Float32Array(3) }]]);
    expect(() => writeSafetensors(t)).toThrow(/shape \[2, 2\] but 3 values/);
  });
});

describe('safetensors: the shared VGG19 weights', () => {
  it.skipIf(!existsSync(VGG_PATH))('reads conv1_1 … conv3_4 with their shapes', () => {
    const { tensors } = readSafetensors(new Uint8Array(readFileSync(VGG_PATH)));
    const convs = [0, 2, 5, 7, 10, 12, 14, 16];
    const channels = [
      [3, 64],
      [64, 64],
      [64, 128],
      [128, 128],
      [128, 256],
      [256, 256],
      [256, 256],
      [256, 256],
    ];
    expect(tensors.size).toBe(16);
    convs.forEach((n, i) => {
      const [cin, cout] = channels[i];
      const w = tensors.get(`features.${n}.weight`)!;
      const b = tensors.get(`features.${n}.bias`)!;
      expect(w.shape).toEqual([cout, cin, 3, 3]);
      expect(b.shape).toEqual([cout]);
      expect(w.dtype).toBe('F32');
      expect(w.data.length).toBe(cout * cin * 9);
      expect(w.data.every(Number.isFinite)).toBe(true);
    });
  });
  if (!existsSync(VGG_PATH)) it.skip(`shared VGG weights not found at ${VGG_PATH}`, () => {});
});

describe('safetensors: corrupt and hostile files are rejected with ModelFileError', () => {
  const good = writeSafetensors(sample());
  const data8 = new Uint8Array(8);
  const f32 = (shape: number[], offsets: unknown) => ({ dtype: 'F32', shape, data_offsets: offsets });
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty file', new Uint8Array(0), /too short/],
    ['truncated inside the header', good.subarray(0, 20), /truncated/],
    ['truncated inside the data', good.subarray(0, good.length - 4), /ends at byte/],
    ['header length beyond the file', rawFile({}, data8, 1000n), /truncated/],
    ['header length absurdly large', rawFile({}, data8, 0xffffffffffffn), /exceeds/],
    ['header not JSON', rawFile('{"a": [1, 2', data8), /not valid JSON/],
    ['header a JSON array', rawFile('[1, 2]', data8), /not a JSON object/],
    ['header not UTF-8', rawFile('', Uint8Array.from([0xff, 0xfe]), 2n), /UTF-8/],
    [
      'unknown dtype',
      rawFile({ w: { dtype: 'Q4', shape: [2], data_offsets: [0, 8] } }, data8),
      /unknown dtype "Q4" for tensor "w"/,
    ],
    [
      'unsupported dtype',
      rawFile({ w: { dtype: 'BF16', shape: [4], data_offsets: [0, 8] } }, data8),
      /unsupported dtype "BF16"/,
    ],
    ['missing dtype', rawFile({ w: { shape: [2], data_offsets: [0, 8] } }, data8), /no dtype/],
    ['negative dimension', rawFile({ w: f32([-2], [0, 8]) }, data8), /invalid shape/],
    ['fractional dimension', rawFile({ w: f32([1.5], [0, 8]) }, data8), /invalid shape/],
    ['shape not an array', rawFile({ w: f32('2' as never, [0, 8]) }, data8), /invalid shape/],
    ['offsets past the end', rawFile({ w: f32([4], [0, 16]) }, data8), /ends at byte 16/],
    ['offsets reversed', rawFile({ w: f32([0], [8, 0]) }, data8), /invalid data_offsets/],
    ['offsets negative', rawFile({ w: f32([2], [-8, 0]) }, data8), /invalid data_offsets/],
    ['offsets missing', rawFile({ w: { dtype: 'F32', shape: [2] } }, data8), /invalid data_offsets/],
    ['shape/length mismatch', rawFile({ w: f32([3], [0, 8]) }, data8), /needs 12 bytes but data_offsets span 8/],
    ['huge shape', rawFile({ w: f32([2 ** 40, 2 ** 40], [0, 8]) }, data8), /too many/],
    ['overlapping tensors', rawFile({ a: f32([2], [0, 8]), b: f32([1], [4, 8]) }, data8), /overlap/],
    ['metadata not strings', rawFile({ __metadata__: { n: 3 } }, data8), /metadata "n"/],
    ['entry not an object', rawFile({ w: 5 }, data8), /not an object/],
  ];
  for (const [what, bytes, message] of cases) {
    it(what, () => {
      let err: unknown;
      try {
        readSafetensors(bytes);
      } catch (e) {
        err = e;
      }
      expect(err, 'expected a throw').toBeInstanceOf(ModelFileError);
      expect((err as Error).message).toMatch(message);
    });
  }

  it('accepts tensors stored out of order in the buffer when they do not overlap', () => {
    const data = new Uint8Array(8);
    new DataView(data.buffer).setFloat32(0, 1, true);
    new DataView(data.buffer).setFloat32(4, 2, true);
    const { tensors } = readSafetensors(rawFile({ b: f32([1], [4, 8]), a: f32([1], [0, 4]) }, data));
    expect(tensors.get('a')!.data[0]).toBe(1);
    expect(tensors.get('b')!.data[0]).toBe(2);
  });
});
