/**
 * Decoding a video into raw RGB frames with ffmpeg: frames come through a pipe (never onto disk) into a
 * bounded queue, each with its presentation timestamp, which ffmpeg's `showinfo` filter prints on stderr
 * (a raw pipe carries no times). When the queue is full the pipe is paused, so ffmpeg waits for us instead
 * of filling memory.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface DecodedFrame {
  /** 0, 1, 2, … in presentation order. */
  index: number;
  /** width·height·3 bytes, RGB, top-down. */
  rgb: Uint8Array;
}

export interface DecoderOptions {
  ffmpeg: string;
  input: string;
  /** The stream to decode (its index in the file). */
  streamIndex: number;
  /** Size of the frames delivered (ffmpeg scales to it after applying the rotation). */
  width: number;
  height: number;
  /** Seconds from the start, and how many seconds to decode; undefined: all. */
  start?: number;
  duration?: number;
  /** Frames decoded ahead of the consumer (≥ 1). */
  queueFrames: number;
}

export interface TimeBase {
  num: number;
  den: number;
}

/** ffmpeg's argument list for decoding (exported for the tests' and --debug's sake). */
function decoderArgs(o: DecoderOptions): string[] {
  const trim = [
    ...(o.start !== undefined ? ['-ss', String(o.start)] : []),
    ...(o.duration !== undefined ? ['-t', String(o.duration)] : []),
  ];
  // showinfo first (the decoder's own timestamps), then the one size every frame is delivered at (a stream
  // may change size midway; `flags=area` averages when --max-size shrinks).
  const filters = `showinfo,scale=${o.width}:${o.height}:flags=area`;
  return [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-loglevel',
    'info',
    ...trim,
    '-i',
    o.input,
    '-map',
    `0:${o.streamIndex}`,
    '-vf',
    filters,
    // passthrough: every decoded frame once, with its own time (no frames dropped or duplicated to a rate).
    '-vsync',
    'passthrough',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    'pipe:1',
  ];
}

const SHOWINFO_FRAME = /\bn:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:/;
const SHOWINFO_TIMEBASE = /config in time_base:\s*(\d+)\/(\d+)/;

export class VideoDecoder {
  private readonly child: ChildProcessByStdio<null, Readable, Readable>;
  private readonly frameBytes: number;
  private readonly queue: DecodedFrame[] = [];
  private partial: Uint8Array;
  private filled = 0;
  private produced = 0;
  private ended = false;
  private wakeConsumer: (() => void) | null = null;
  private readonly pts: bigint[] = [];
  private ptsWaiters = new Map<number, () => void>();
  private stderrDone = false;
  private stderrTail = '';
  private pendingLine = '';
  /** Lines of stderr that are not showinfo's, the last ones, for error messages. */
  readonly messages: string[] = [];
  timeBase: TimeBase | null = null;
  readonly exited: Promise<number | null>;

  constructor(private readonly opts: DecoderOptions) {
    this.frameBytes = opts.width * opts.height * 3;
    this.partial = new Uint8Array(this.frameBytes);
    this.child = spawn(opts.ffmpeg, decoderArgs(opts), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => {
        this.messages.push(e.message);
        resolve(null);
      });
      this.child.on('close', (code) => resolve(code));
    });
    this.child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    // 'close' comes after 'end', and also when the pipe is destroyed (kill) without one.
    this.child.stdout.on('close', () => {
      this.ended = true;
      this.wake();
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (text: string) => this.onStderr(text));
    this.child.stderr.on('close', () => {
      this.onStderr('\n');
      this.stderrDone = true;
      for (const w of this.ptsWaiters.values()) w();
      this.ptsWaiters.clear();
    });
  }

  private wake(): void {
    const w = this.wakeConsumer;
    this.wakeConsumer = null;
    w?.();
  }

  private onData(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(this.frameBytes - this.filled, chunk.length - offset);
      this.partial.set(chunk.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === this.frameBytes) {
        this.queue.push({ index: this.produced++, rgb: this.partial });
        this.partial = new Uint8Array(this.frameBytes);
        this.filled = 0;
      }
    }
    if (this.queue.length >= this.opts.queueFrames) this.child.stdout.pause();
    this.wake();
  }

  private onStderr(text: string): void {
    const lines = (this.pendingLine + text).split('\n');
    this.pendingLine = lines.pop() ?? '';
    for (const line of lines) {
      const frame = SHOWINFO_FRAME.exec(line);
      if (frame) {
        const n = Number(frame[1]);
        this.pts[n] = BigInt(frame[2]);
        this.ptsWaiters.get(n)?.();
        this.ptsWaiters.delete(n);
        continue;
      }
      const tb = SHOWINFO_TIMEBASE.exec(line);
      if (tb && this.timeBase === null) {
        this.timeBase = { num: Number(tb[1]), den: Number(tb[2]) };
        continue;
      }
      if (/Parsed_showinfo/.test(line) || line.trim() === '') continue;
      this.messages.push(line.trim());
      if (this.messages.length > 40) this.messages.shift();
    }
    this.stderrTail = this.pendingLine;
  }

  /** The next frame, or null at the end of the stream (check `exited` for how it ended). */
  async next(): Promise<DecodedFrame | null> {
    while (this.queue.length === 0) {
      if (this.ended) return null;
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
    }
    const frame = this.queue.shift()!;
    if (this.queue.length < this.opts.queueFrames) this.child.stdout.resume();
    return frame;
  }

  /** Frame `index`'s timestamp in ticks of `timeBase`, once showinfo has printed it; null if it never does. */
  async timestamp(index: number): Promise<bigint | null> {
    if (this.pts[index] === undefined && !this.stderrDone) {
      await new Promise<void>((resolve) => this.ptsWaiters.set(index, resolve));
    }
    return this.pts[index] ?? null;
  }

  /** Bytes of a frame left over at the end (a stream cut inside a frame). */
  get leftoverBytes(): number {
    return this.filled;
  }

  /** The most telling line ffmpeg printed: its last error-like line ('' when none; its summary lines say nothing). */
  reason(): string {
    const all = [...this.messages, this.stderrTail.trim()].filter((l) => l !== '');
    const errorLike = all.filter((l) =>
      /error|invalid|corrupt|truncat|no such|denied|not found|could not|cannot|failed|unsupported/i.test(l),
    );
    return (errorLike[errorLike.length - 1] ?? '').replace(/^\[[^\]]*\]\s*/, '');
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    // A paused pipe would never report its end, and 'close' (exited) waits for it.
    this.child.stdout.destroy();
    this.child.stderr.destroy();
  }
}
