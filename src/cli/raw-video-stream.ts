/**
 * A Matroska stream of uncompressed frames with a timestamp each: how stylised frames reach the ffmpeg that
 * encodes them. A raw pipe (`-f rawvideo`) has a fixed frame rate, which would resample variable-frame-rate
 * video; Matroska carries each frame's own time. ffmpeg reads raw 24-bit frames in Matroska in the
 * Video-for-Windows form it writes itself (`-allow_raw_vfw 1`): codec V_MS/VFW/FOURCC, a BITMAPINFOHEADER with a
 * negative height (rows top-down), BGR byte order, rows not padded.
 *
 * Timestamps are in nanoseconds (TimestampScale 1), one frame per cluster (a block's offset from its
 * cluster is only 16 bits), so that any source time base survives to the encoder, which rounds them back to
 * the source's ticks (`-enc_time_base`).
 */

/** An EBML variable-length size (never the all-ones pattern, which means "unknown"). */
function vsize(n: number): Uint8Array {
  for (let len = 1; len <= 8; len++) {
    if (n < 2 ** (7 * len) - 1) {
      const out = new Uint8Array(len);
      let v = BigInt(n);
      for (let i = len - 1; i >= 0; i--) {
        out[i] = Number(v & 0xffn);
        v >>= 8n;
      }
      out[0] |= 0x80 >> (len - 1);
      return out;
    }
  }
  throw new RangeError(`EBML size ${n} is too large`);
}

function idBytes(id: number): Uint8Array {
  const bytes: number[] = [];
  for (let v = id; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.from(bytes);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function element(id: number, ...body: Uint8Array[]): Uint8Array {
  const content = concat(body);
  return concat([idBytes(id), vsize(content.length), content]);
}

/** A big-endian unsigned integer in as few bytes as it needs (at least one). */
function uint(id: number, value: bigint | number): Uint8Array {
  let v = BigInt(value);
  if (v < 0n) throw new RangeError(`EBML unsigned integer ${v} is negative`);
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  } while (v > 0n);
  return element(id, Uint8Array.from(bytes));
}

function str(id: number, s: string): Uint8Array {
  return element(id, new TextEncoder().encode(s));
}

const ID = {
  EBML: 0x1a45dfa3,
  EBMLVersion: 0x4286,
  EBMLReadVersion: 0x42f7,
  EBMLMaxIDLength: 0x42f2,
  EBMLMaxSizeLength: 0x42f3,
  DocType: 0x4282,
  DocTypeVersion: 0x4287,
  DocTypeReadVersion: 0x4285,
  Segment: 0x18538067,
  Info: 0x1549a966,
  TimestampScale: 0x2ad7b1,
  MuxingApp: 0x4d80,
  WritingApp: 0x5741,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackUID: 0x73c5,
  TrackType: 0x83,
  FlagLacing: 0x9c,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  Video: 0xe0,
  PixelWidth: 0xb0,
  PixelHeight: 0xba,
  Cluster: 0x1f43b675,
  Timestamp: 0xe7,
  SimpleBlock: 0xa3,
} as const;

/** BITMAPINFOHEADER of top-down, unpadded 24-bit BGR frames. */
function bitmapInfoHeader(width: number, height: number): Uint8Array {
  const b = new DataView(new ArrayBuffer(40));
  b.setUint32(0, 40, true);
  b.setInt32(4, width, true);
  b.setInt32(8, -height, true);
  b.setUint16(12, 1, true);
  b.setUint16(14, 24, true);
  b.setUint32(16, 0, true);
  b.setUint32(20, width * height * 3, true);
  return new Uint8Array(b.buffer);
}

/** The stream's start: EBML header, a Segment of unknown size (it is written as it goes), Info and the track. */
export function rawVideoHeader(width: number, height: number): Uint8Array {
  const ebml = element(
    ID.EBML,
    uint(ID.EBMLVersion, 1),
    uint(ID.EBMLReadVersion, 1),
    uint(ID.EBMLMaxIDLength, 4),
    uint(ID.EBMLMaxSizeLength, 8),
    str(ID.DocType, 'matroska'),
    uint(ID.DocTypeVersion, 4),
    uint(ID.DocTypeReadVersion, 2),
  );
  const unknownSize = Uint8Array.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  const info = element(
    ID.Info,
    uint(ID.TimestampScale, 1),
    str(ID.MuxingApp, 'fast-style-webgpu'),
    str(ID.WritingApp, 'fast-style-webgpu'),
  );
  const track = element(
    ID.TrackEntry,
    uint(ID.TrackNumber, 1),
    uint(ID.TrackUID, 1),
    uint(ID.TrackType, 1),
    uint(ID.FlagLacing, 0),
    str(ID.CodecID, 'V_MS/VFW/FOURCC'),
    element(ID.CodecPrivate, bitmapInfoHeader(width, height)),
    element(ID.Video, uint(ID.PixelWidth, width), uint(ID.PixelHeight, height)),
  );
  return concat([ebml, idBytes(ID.Segment), unknownSize, info, element(ID.Tracks, track)]);
}

/** One frame (width·height·3 bytes, BGR, top-down) at `nanoseconds`, as a cluster of its own. */
export function rawVideoFrame(nanoseconds: bigint, bgr: Uint8Array): Uint8Array {
  // SimpleBlock: track 1, offset 0 from the cluster's time, flags: keyframe.
  const block = element(ID.SimpleBlock, Uint8Array.from([0x81, 0x00, 0x00, 0x80]), bgr);
  return element(ID.Cluster, uint(ID.Timestamp, nanoseconds), block);
}

/** `pts` ticks of `timeBase` (num/den seconds) in nanoseconds, rounded to nearest. */
export function ticksToNanoseconds(pts: bigint, timeBase: { num: number; den: number }): bigint {
  const num = pts * 1_000_000_000n * BigInt(timeBase.num);
  const den = BigInt(timeBase.den);
  return (num + den / 2n) / den;
}
