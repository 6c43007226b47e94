/**
 * Encoding stylised frames with ffmpeg: the frames go in through its stdin as a Matroska stream of raw
 * frames with their timestamps (raw-video-stream.ts); the sound, subtitles, chapters and metadata come
 * from the input file itself (a second ffmpeg input, trimmed the same way). Which codecs and streams go
 * into which container is decided here, before anything runs.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { TimeBase } from './video-decoder.js';
import type { VideoSource } from './video-probe.js';

export type Container = 'mp4' | 'mov' | 'matroska' | 'webm';

/** The container of an output file name, or null. */
export function containerOf(path: string): Container | null {
  const ext = /\.([^./\\]+)$/.exec(path)?.[1]?.toLowerCase();
  if (ext === 'mp4' || ext === 'm4v') return 'mp4';
  if (ext === 'mov') return 'mov';
  if (ext === 'mkv') return 'matroska';
  if (ext === 'webm') return 'webm';
  return null;
}

/** How a video codec is driven: the pixel format it gets, its quality option, whether sides must be even. */
interface CodecProfile {
  pixFmt: string | null;
  defaultCrf: number | null;
  /** yuv420p in H.264/H.265 needs even sides; VP9 and AV1 store odd ones. */
  evenSides: boolean;
  extra: string[];
}

const PROFILES: Record<string, CodecProfile> = {
  libx264: { pixFmt: 'yuv420p', defaultCrf: 18, evenSides: true, extra: ['-preset', 'medium'] },
  libx265: { pixFmt: 'yuv420p', defaultCrf: 22, evenSides: true, extra: ['-preset', 'medium', '-tag:v', 'hvc1'] },
  // Constant quality (-b:v 0 with -crf); row-mt uses the cores.
  'libvpx-vp9': { pixFmt: 'yuv420p', defaultCrf: 31, evenSides: false, extra: ['-b:v', '0', '-row-mt', '1'] },
  libvpx: { pixFmt: 'yuv420p', defaultCrf: 10, evenSides: false, extra: ['-b:v', '2M'] },
  'libaom-av1': { pixFmt: 'yuv420p', defaultCrf: 30, evenSides: false, extra: ['-b:v', '0', '-cpu-used', '6'] },
  libsvtav1: { pixFmt: 'yuv420p', defaultCrf: 35, evenSides: false, extra: [] },
};

/** Codecs without a profile (ffv1, libx264rgb, …): ffmpeg picks the pixel format closest to RGB. */
const OTHER: CodecProfile = { pixFmt: null, defaultCrf: null, evenSides: false, extra: [] };

export function defaultVideoCodec(container: Container): string {
  return container === 'webm' ? 'libvpx-vp9' : 'libx264';
}

export function codecProfile(codec: string): CodecProfile {
  return PROFILES[codec] ?? OTHER;
}

/** Audio codecs each container takes as they are (Matroska takes all). */
const MP4_AUDIO = ['aac', 'mp3', 'mp2', 'ac3', 'eac3', 'alac', 'opus'];
const COPYABLE_AUDIO: Record<Container, readonly string[] | 'all'> = {
  mp4: MP4_AUDIO,
  mov: [...MP4_AUDIO, 'pcm_s16le', 'pcm_s16be', 'pcm_s24le', 'pcm_s24be', 'pcm_s32le', 'pcm_f32le', 'pcm_u8'],
  matroska: 'all',
  webm: ['opus', 'vorbis'],
};
const AUDIO_REENCODE: Record<Container, string> = { mp4: 'aac', mov: 'aac', matroska: 'flac', webm: 'libopus' };

/** Text subtitles, which the mp4/webm subtitle formats can be made from; bitmap ones (PGS, DVD) cannot. */
const TEXT_SUBTITLES = ['subrip', 'srt', 'ass', 'ssa', 'webvtt', 'mov_text', 'text'];
const SUBTITLE_FORMAT: Record<Container, string | null> = {
  mp4: 'mov_text',
  mov: 'mov_text',
  matroska: null,
  webm: 'webvtt',
};

export interface StreamPlan {
  /** ffmpeg arguments for the streams of input 1 (the source file): maps and codecs. */
  args: string[];
  /** What happens to each stream, for the user (`audio 1 (aac): copied`). */
  notes: string[];
  audioCopied: number;
  audioReencoded: number;
}

/** Which of the source's audio and subtitle streams go into `container`, and how. */
export function planStreams(source: VideoSource, container: Container): StreamPlan {
  const args: string[] = [];
  const notes: string[] = [];
  let audioCopied = 0;
  let audioReencoded = 0;
  source.audio.forEach((a, k) => {
    args.push('-map', `1:${a.index}`);
    const ok = COPYABLE_AUDIO[container];
    if (ok === 'all' || ok.includes(a.codec)) {
      args.push(`-c:a:${k}`, 'copy');
      audioCopied++;
    } else {
      args.push(`-c:a:${k}`, AUDIO_REENCODE[container]);
      notes.push(
        `audio stream ${k + 1} (${a.codec}) does not go into .${container === 'matroska' ? 'mkv' : container} as it is: re-encoded as ${AUDIO_REENCODE[container]}`,
      );
      audioReencoded++;
    }
  });
  let sub = 0;
  for (const s of source.subtitles) {
    const format = SUBTITLE_FORMAT[container];
    if (format === null) {
      args.push('-map', `1:${s.index}`, `-c:s:${sub++}`, 'copy');
    } else if (TEXT_SUBTITLES.includes(s.codec)) {
      args.push('-map', `1:${s.index}`, `-c:s:${sub++}`, s.codec === format ? 'copy' : format);
    } else {
      notes.push(
        `subtitle stream ${s.index} (${s.codec}, a bitmap format) cannot go into this container: left out (use .mkv to keep it)`,
      );
    }
  }
  if (container === 'matroska') args.push('-map', '1:t?', '-c:t', 'copy');
  return { args, notes, audioCopied, audioReencoded };
}

export interface EncoderOptions {
  ffmpeg: string;
  /** The source file (audio, subtitles, metadata) and the same trim as the decoder's. */
  input: string;
  start?: number;
  duration?: number;
  streams: StreamPlan;
  container: Container;
  codec: string;
  crf?: number;
  /** Source colour matrix to encode (and tag) with: BT.709 sources stay BT.709, others are BT.601. */
  colorMatrix: 'bt709' | 'bt601';
  sampleAspect: string | null;
  /** The time base of the decoded timestamps: the encoder rounds to it, so the source's ticks come back. */
  timeBase: TimeBase;
  /** The file ffmpeg writes, and whether it is a regular file (false: a device or FIFO, written through). */
  output: string;
  seekable: boolean;
}

const MUXER: Record<Container, string> = { mp4: 'mp4', mov: 'mov', matroska: 'matroska', webm: 'webm' };

function encoderArgs(o: EncoderOptions): string[] {
  const profile = codecProfile(o.codec);
  const trim = [
    ...(o.start !== undefined ? ['-ss', String(o.start)] : []),
    ...(o.duration !== undefined ? ['-t', String(o.duration)] : []),
  ];
  const crf = o.crf ?? profile.defaultCrf;
  const filters: string[] = [];
  const tags: string[] = [];
  if (profile.pixFmt !== null) {
    const matrix = o.colorMatrix === 'bt709' ? 'bt709' : 'bt601';
    filters.push(`scale=out_color_matrix=${matrix}:out_range=tv`, `format=${profile.pixFmt}`);
    const tag = o.colorMatrix === 'bt709' ? 'bt709' : 'smpte170m';
    tags.push(
      '-colorspace',
      tag,
      '-color_primaries',
      tag,
      '-color_trc',
      o.colorMatrix === 'bt709' ? 'bt709' : 'smpte170m',
      '-color_range',
      'tv',
    );
  }
  if (o.sampleAspect !== null) filters.push(`setsar=${o.sampleAspect.replace(':', '/')}`);
  const movflags =
    o.container === 'mp4' || o.container === 'mov'
      ? ['-movflags', o.seekable ? '+faststart' : '+frag_keyframe+empty_moov+default_base_moof']
      : [];
  return [
    '-hide_banner',
    '-nostats',
    '-loglevel',
    'error',
    '-f',
    'matroska',
    '-i',
    'pipe:0',
    ...trim,
    '-i',
    o.input,
    '-map',
    '0:v:0',
    ...o.streams.args,
    '-map_metadata',
    '1',
    '-map_chapters',
    '1',
    '-c:v',
    o.codec,
    ...profile.extra,
    ...(crf !== null ? ['-crf', String(crf)] : []),
    ...(filters.length ? ['-vf', filters.join(',')] : []),
    ...tags,
    '-enc_time_base:v',
    `${o.timeBase.num}/${o.timeBase.den}`,
    '-vsync',
    'passthrough',
    ...movflags,
    '-f',
    MUXER[o.container],
    '-y',
    o.output,
  ];
}

export class VideoEncoder {
  private readonly child: ChildProcessByStdio<Writable, null, Readable>;
  private stderr = '';
  private writeError: Error | null = null;
  private closed = false;
  readonly exited: Promise<number | null>;

  /** At most this many bytes wait in the pipe before write() waits: a few frames. */
  constructor(
    opts: EncoderOptions,
    private readonly maxBufferedBytes: number,
  ) {
    this.child = spawn(opts.ffmpeg, encoderArgs(opts), { stdio: ['pipe', 'ignore', 'pipe'] });
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => {
        this.stderr += `${e.message}\n`;
        resolve(null);
      });
      this.child.on('close', (code) => {
        this.closed = true;
        resolve(code);
      });
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (t: string) => {
      this.stderr = (this.stderr + t).slice(-8000);
    });
    // EPIPE when ffmpeg has stopped reading (it failed): its own message says why.
    this.child.stdin.on('error', (e) => {
      this.writeError ??= e;
    });
  }

  /** Queues bytes for ffmpeg; waits only while more than maxBufferedBytes are still unread. */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.writeError) throw this.writeError;
    this.child.stdin.write(bytes);
    while (this.child.stdin.writableLength > this.maxBufferedBytes && !this.writeError && !this.closed) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.child.stdin.off('drain', done);
          this.child.off('close', done);
          resolve();
        };
        this.child.stdin.once('drain', done);
        this.child.once('close', done);
      });
    }
    if (this.writeError) throw this.writeError;
    if (this.closed) throw new Error('ffmpeg stopped reading');
  }

  /** Ends the stream and waits for ffmpeg to finish writing; its exit status. */
  async finish(): Promise<number | null> {
    this.child.stdin.end();
    return this.exited;
  }

  /** Everything ffmpeg printed (errors only: it runs at -loglevel error). */
  get messages(): string {
    return this.stderr;
  }

  kill(): void {
    if (!this.closed) this.child.kill('SIGKILL');
    this.child.stdin.destroy();
  }
}
