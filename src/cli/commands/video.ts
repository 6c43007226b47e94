import { accessSync, constants, existsSync, renameSync, statSync, unlinkSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { createNodeEngine } from '../../engine/node.js';
import { stylizeRgba } from '../../models/stylize.js';
import { UsageError, type Command, type ParsedArgs } from '../args.js';
import { CliError } from '../errors.js';
import { ffmpegEncoders, findFfmpeg, lastLine, probeJson, type FfmpegTools } from '../ffmpeg.js';
import {
  fsReason,
  InputSet,
  readInputFile,
  removeStaleTemporaries,
  requireOutputDirectory,
  writeTarget,
} from '../files.js';
import { loadCheckedNet, type CheckedNet } from '../finite.js';
import { fitWithin } from '../../node/image-io.js';
import { formatDuration } from '../progress.js';
import { rawVideoFrame, rawVideoHeader, ticksToNanoseconds } from '../raw-video-stream.js';
import { VideoDecoder, type TimeBase } from '../video-decoder.js';
import {
  codecProfile,
  containerOf,
  defaultVideoCodec,
  planStreams,
  VideoEncoder,
  type Container,
  type StreamPlan,
} from '../video-encoder.js';
import { describeVideo, type VideoSource } from '../video-probe.js';
import { chooseModel } from './stylize.js';

type StopSignal = 'SIGINT' | 'SIGTERM';
const EXIT_STATUS: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143 };

/** Frames decoded ahead of the GPU and frames waiting for the encoder: enough to hide I/O, bounded in memory. */
const QUEUE_FRAMES = 4;

/** Everything decided before the GPU starts. */
interface VideoPlan {
  tools: FfmpegTools;
  input: string;
  output: string;
  /** Where ffmpeg writes: a temporary file beside the output (renamed at the end), or a device written through. */
  target: { path: string; through: boolean; mode: number | null };
  container: Container;
  codec: string;
  source: VideoSource;
  /** The size frames are stylised at (--max-size applied) and the size encoded (even sides when the codec needs them). */
  width: number;
  height: number;
  encodedWidth: number;
  encodedHeight: number;
  start?: number;
  duration?: number;
  /** Frames expected, and whether that is the container's count (exact) or an estimate from duration × rate. */
  expectedFrames: number | null;
  exactCount: boolean;
  streams: StreamPlan;
  model: { path: string; styleName: string };
}

/**
 * Where the video is written (writeTarget), checked: a file in a writable folder (ffmpeg opens its output by
 * name, so a descriptor path would name ffmpeg's own descriptor, not ours), with the temporary files a run
 * killed mid-write left beside it removed.
 */
function checkVideoTarget(output: string): ReturnType<typeof writeTarget> {
  requireOutputDirectory(output);
  const target = writeTarget(output);
  if (target.descriptor !== null)
    throw new CliError(
      `cannot write ${output}: it names an open stream (standard output or a descriptor); video writes a file`,
    );
  if (!target.through) {
    removeStaleTemporaries(dirname(target.target));
    try {
      accessSync(dirname(target.target), constants.W_OK);
    } catch (e) {
      throw new CliError(`cannot write ${output}: ${fsReason(e)}`);
    }
  }
  return target;
}

/** The frames' size (within --max-size) and the size encoded, sides made even where the codec needs it. */
function frameSizes(
  source: VideoSource,
  maxSize: number | undefined,
  codec: string,
): { fitted: { width: number; height: number }; encodedWidth: number; encodedHeight: number } {
  const fitted =
    maxSize !== undefined
      ? fitWithin(source.width, source.height, maxSize)
      : { width: source.width, height: source.height };
  const even = codecProfile(codec).evenSides;
  const encodedWidth = even ? fitted.width + (fitted.width % 2) : fitted.width;
  const encodedHeight = even ? fitted.height + (fitted.height % 2) : fitted.height;
  return { fitted, encodedWidth, encodedHeight };
}

function planVideo(args: ParsedArgs): VideoPlan {
  const input = args.positionals[0];
  const output = args.string('output');
  if (output === undefined) throw new UsageError("missing -o OUTPUT for 'video' (an .mp4, .mov, .mkv or .webm file)");
  const container = containerOf(output);
  if (container === null)
    throw new UsageError(`cannot tell the video format of ${output}: name it .mp4, .m4v, .mov, .mkv or .webm`);
  const model = chooseModel(args, 'video');
  if (!existsSync(input)) throw new CliError(`cannot read video ${input}: no such file`);
  if (statSync(input).isDirectory()) throw new CliError(`cannot read video ${input}: it is a directory`);
  new InputSet([input, model.path]).refuse(output, 'choose another -o');
  const target = checkVideoTarget(output);

  const tools = findFfmpeg();
  const codec = args.string('codec') ?? defaultVideoCodec(container);
  const encoders = ffmpegEncoders(tools.ffmpeg);
  if (!encoders.has(codec))
    throw new CliError(
      `${tools.ffmpeg} has no encoder '${codec}'${args.string('codec') === undefined ? ' (the default for this container)' : ''}: choose another --codec (ffmpeg -encoders lists them)`,
    );
  const source = describeVideo(probeJson(tools.ffprobe, input, input), input);

  const start = args.number('start');
  const duration = args.number('duration');
  if (start !== undefined && Number.isFinite(source.duration) && start >= source.duration) {
    throw new CliError(
      `nothing to stylise: --start ${start} is at or after the end of ${input} (${source.duration.toFixed(2)} s)`,
    );
  }
  const { fitted, encodedWidth, encodedHeight } = frameSizes(source, args.number('max-size'), codec);
  const trimmed = start !== undefined || duration !== undefined;
  const seconds = Math.min(
    duration ?? Infinity,
    (Number.isFinite(source.duration) ? source.duration : Infinity) - (start ?? 0),
  );
  const estimate =
    Number.isFinite(seconds) && Number.isFinite(source.fps) ? Math.max(1, Math.round(seconds * source.fps)) : null;
  const streams = planStreams(source, container);
  const tmp = join(
    dirname(target.target),
    `.${basename(target.target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  return {
    tools,
    input,
    output,
    target: { path: target.through ? target.target : tmp, through: target.through, mode: target.mode },
    container,
    codec,
    source,
    width: fitted.width,
    height: fitted.height,
    encodedWidth,
    encodedHeight,
    start,
    duration,
    expectedFrames: !trimmed && source.frameCount !== null ? source.frameCount : estimate,
    exactCount: !trimmed && source.frameCount !== null,
    streams,
    model,
  };
}

/** RGB (decoded) to RGBA (what the stylizer takes). */
function rgbToRgba(rgb: Uint8Array, pixels: number): Uint8Array {
  const rgba = new Uint8Array(pixels * 4);
  for (let p = 0; p < pixels; p++) {
    rgba[p * 4] = rgb[p * 3];
    rgba[p * 4 + 1] = rgb[p * 3 + 1];
    rgba[p * 4 + 2] = rgb[p * 3 + 2];
    rgba[p * 4 + 3] = 255;
  }
  return rgba;
}

/**
 * Stylised RGBA (w×h) to the BGR the encoder stream carries, at the encoded size: an odd side is made even
 * by repeating the last column or row (one pixel, so the picture does not visibly change size).
 */
function rgbaToBgr(rgba: Uint8Array, w: number, h: number, ew: number, eh: number): Uint8Array {
  const bgr = new Uint8Array(ew * eh * 3);
  for (let y = 0; y < eh; y++) {
    const sy = Math.min(y, h - 1);
    for (let x = 0; x < ew; x++) {
      const s = (sy * w + Math.min(x, w - 1)) * 4;
      const d = (y * ew + x) * 3;
      bgr[d] = rgba[s + 2];
      bgr[d + 1] = rgba[s + 1];
      bgr[d + 2] = rgba[s];
    }
  }
  return bgr;
}

/** The reason an ffmpeg encode failed, as one line naming the output. */
function encodeFailure(output: string, messages: string): CliError {
  if (/No space left on device/i.test(messages)) return new CliError(`cannot write ${output}: no space left on device`);
  if (/Permission denied/i.test(messages)) return new CliError(`cannot write ${output}: permission denied`);
  if (/Disk quota exceeded/i.test(messages)) return new CliError(`cannot write ${output}: disk quota exceeded`);
  return new CliError(`ffmpeg could not encode ${output}: ${lastLine(messages) || 'it stopped without saying why'}`);
}

/** Progress: rewritten in place on a terminal; elsewhere the first frame, then a line every 10 s, and the last. */
function progressPrinter(
  plan: VideoPlan,
  interactive: boolean,
  log: (line: string) => void,
): (done: number, final?: boolean) => void {
  const started = performance.now();
  let lastPrinted = -Infinity;
  const total = plan.expectedFrames;
  return (done, final = false) => {
    const now = performance.now();
    const elapsed = (now - started) / 1000;
    const rate = done / Math.max(elapsed, 1e-9);
    const of = total !== null ? `/${plan.exactCount ? '' : '~'}${Math.max(total, done)}` : '';
    const eta = total !== null && !final ? `  ETA ${formatDuration(Math.max(0, total - done) / rate)}` : '';
    const line = `frame ${done}${of}  ${rate.toFixed(2)} frames/s${eta}  ${formatDuration(elapsed)} elapsed`;
    if (interactive) {
      if (final || now - lastPrinted > 250) {
        process.stderr.write(`\r\x1b[K${line}${final ? '\n' : ''}`);
        lastPrinted = now;
      }
    } else if (done === 1 || final || now - lastPrinted > 10_000) {
      log(line);
      lastPrinted = now;
    }
  };
}

interface RunState {
  signal: StopSignal | null;
  decoder: VideoDecoder | null;
  encoder: VideoEncoder | null;
}

/**
 * Decode → stylise → encode, overlapped: while the GPU works on frame k, ffmpeg decodes the next frames into
 * a bounded queue and the encoder takes the frames before k. Returns the number of frames written.
 */
async function runPipeline(
  plan: VideoPlan,
  net: CheckedNet,
  args: ParsedArgs,
  state: RunState,
  progress: (done: number) => void,
): Promise<number> {
  const { width: w, height: h, encodedWidth: ew, encodedHeight: eh } = plan;
  const decoder = new VideoDecoder({
    ffmpeg: plan.tools.ffmpeg,
    input: plan.input,
    streamIndex: plan.source.streamIndex,
    width: w,
    height: h,
    start: plan.start,
    duration: plan.duration,
    queueFrames: QUEUE_FRAMES,
  });
  state.decoder = decoder;
  let encoder: VideoEncoder | null = null;
  let done = 0;
  // A negative first timestamp (edit lists) would not fit Matroska's unsigned times: everything moves up by it.
  let offset = 0n;
  const memory = args.number('memory');
  for (;;) {
    const frame = await decoder.next();
    if (frame === null || state.signal) break;
    const out = await stylizeRgba(
      net,
      { width: w, height: h, data: rgbToRgba(frame.rgb, w * h) },
      {
        memoryBytes: memory !== undefined ? memory * 1024 * 1024 : undefined,
        preserveColors: args.flag('preserve-colors'),
        strength: args.number('strength'),
      },
    );
    await net.check();
    const pts = await decoder.timestamp(frame.index);
    if (pts === null || decoder.timeBase === null)
      throw new CliError(`cannot read video ${plan.input}: ffmpeg gave no timestamp for frame ${frame.index + 1}`);
    if (encoder === null) {
      if (pts < 0n) offset = -pts;
      encoder = newEncoder(plan, args.number('crf'), decoder.timeBase);
      state.encoder = encoder;
      await encoder.write(rawVideoHeader(ew, eh));
    }
    try {
      await encoder.write(
        rawVideoFrame(ticksToNanoseconds(pts + offset, decoder.timeBase), rgbaToBgr(out.data, w, h, ew, eh)),
      );
    } catch {
      if (state.signal) break;
      encoder.kill();
      await encoder.exited;
      throw encodeFailure(plan.output, encoder.messages);
    }
    progress(++done);
  }
  if (state.signal) return done;
  await checkDecodedAll(plan, decoder, done);
  const status = await encoder!.finish();
  if (status !== 0) throw encodeFailure(plan.output, encoder!.messages);
  return done;
}

/** The encoder of the stylised frames (ffmpeg, which also copies or re-encodes the other streams). */
function newEncoder(plan: VideoPlan, crf: number | undefined, timeBase: TimeBase): VideoEncoder {
  const { encodedWidth: ew, encodedHeight: eh } = plan;
  return new VideoEncoder(
    {
      ffmpeg: plan.tools.ffmpeg,
      input: plan.input,
      start: plan.start,
      duration: plan.duration,
      streams: plan.streams,
      container: plan.container,
      codec: plan.codec,
      crf,
      colorMatrix: plan.source.colorSpace === 'bt709' ? 'bt709' : 'bt601',
      sampleAspect: plan.source.sampleAspect,
      timeBase,
      output: plan.target.path,
      seekable: !plan.target.through,
    },
    QUEUE_FRAMES * ew * eh * 3,
  );
}

/** After the last frame: the decoder ended well and gave the frames expected (`done` of them). */
async function checkDecodedAll(plan: VideoPlan, decoder: VideoDecoder, done: number): Promise<void> {
  const decoded = await decoder.exited;
  if (decoded !== 0)
    throw new CliError(
      `cannot read video ${plan.input}: ${decoder.reason() || `ffmpeg exited with status ${decoded}`}`,
    );
  if (done === 0) {
    throw new CliError(
      `cannot read video ${plan.input}: no frames were decoded${plan.start !== undefined || plan.duration !== undefined ? ' in the chosen --start/--duration' : ''}${decoder.reason() ? ` (${decoder.reason()})` : ''}`,
    );
  }
  // A stream cut short (a truncated file) decodes fewer frames than the container lists; a frame or so
  // less is ordinary (edit lists), more is not.
  if (plan.exactCount && plan.expectedFrames !== null && done < plan.expectedFrames - 1) {
    throw new CliError(
      `cannot read video ${plan.input}: only ${done} of its ${plan.expectedFrames} frames could be decoded (the file is truncated or damaged${decoder.reason() ? `: ${decoder.reason()}` : ''})`,
    );
  }
}

/**
 * SIGINT and SIGTERM stop ffmpeg at once; the frame on the GPU finishes, then the temporary file is removed. A
 * second signal exits at once. Returns the function that stops listening.
 */
function listenForStop(state: RunState): () => void {
  const onSignal = (signal: StopSignal): void => {
    if (state.signal) process.exit(EXIT_STATUS[signal]);
    state.signal = signal;
    state.decoder?.kill();
    state.encoder?.kill();
  };
  const onSigint = (): void => onSignal('SIGINT');
  const onSigterm = (): void => onSignal('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  return () => {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  };
}

/** The line that starts a run: the source, its audio, the frames to stylise and where they go. */
function startLine(plan: VideoPlan): string {
  const { source } = plan;
  const audio =
    source.audio.length === 0
      ? 'no audio'
      : `${source.audio.length} audio stream${source.audio.length > 1 ? 's' : ''} (${source.audio.map((a) => a.codec).join(', ')})`;
  const frames = plan.expectedFrames !== null ? `${plan.exactCount ? '' : '~'}${plan.expectedFrames} frames` : 'frames';
  return (
    `${plan.input}: ${source.codec} ${source.width}×${source.height}${source.rotation ? ` (stored ${source.codedWidth}×${source.codedHeight}, rotated ${source.rotation}°)` : ''}, ` +
    `${Number.isFinite(source.fps) ? `${source.fps.toFixed(3).replace(/\.?0+$/, '')} fps, ` : ''}${audio}; stylising ${frames} at ${plan.width}×${plan.height} with ${plan.model.styleName} → ${plan.output} (${plan.codec})`
  );
}

/** The finished temporary file renamed to the output, with the mode the output had. */
function moveIntoPlace(plan: VideoPlan): void {
  if (plan.target.mode !== null) chmodSync(plan.target.path, plan.target.mode);
  try {
    renameSync(plan.target.path, writeTarget(plan.output).target);
  } catch (e) {
    throw new CliError(`cannot write ${plan.output}: ${fsReason(e)}`);
  }
}

/** The line that ends a run: frames, size, audio streams kept, time and rate. */
function doneLine(plan: VideoPlan, done: number, seconds: number): string {
  const sound =
    plan.streams.audioCopied + plan.streams.audioReencoded === 0
      ? ''
      : `, audio ${[plan.streams.audioCopied ? `${plan.streams.audioCopied} copied` : '', plan.streams.audioReencoded ? `${plan.streams.audioReencoded} re-encoded` : ''].filter(Boolean).join(', ')}`;
  return `${plan.input} → ${plan.output} (${done} frames, ${plan.encodedWidth}×${plan.encodedHeight}${sound}; ${formatDuration(seconds)}, ${(done / seconds).toFixed(2)} frames/s)`;
}

export const videoCommand: Command = {
  name: 'video',
  summary: 'Stylise a video file frame by frame (ffmpeg decodes and encodes; sound, timing and metadata kept).',
  usage: 'video (--model MODEL | --style NAME) INPUT -o OUTPUT [options]',
  options: [
    {
      name: 'model',
      alias: 'm',
      type: 'string',
      valueName: 'PATH',
      description: 'model file (.safetensors) written by train',
    },
    {
      name: 'style',
      alias: 's',
      type: 'string',
      valueName: 'NAME',
      description: "a style in the package models/ folder, or imported into .models-ml5/ (see 'stylize --list-styles')",
    },
    {
      name: 'output',
      alias: 'o',
      type: 'string',
      valueName: 'PATH',
      description: 'output video: .mp4/.m4v/.mov (H.264 yuv420p by default), .mkv (H.264) or .webm (VP9)',
    },
    {
      name: 'max-size',
      type: 'number',
      integer: true,
      min: 16,
      max: 65536,
      valueName: 'N',
      description: 'shrink frames whose longer side exceeds N pixels first',
    },
    {
      name: 'preserve-colors',
      type: 'boolean',
      description: "keep each frame's colours: the stylised luminance with the frame's chroma (YCbCr)",
    },
    {
      name: 'strength',
      type: 'number',
      min: 0,
      max: 1,
      default: 1,
      valueName: 'S',
      description: 'blend with the frame: S·stylised + (1 − S)·frame',
    },
    {
      name: 'memory',
      type: 'number',
      min: 1,
      max: 1048576,
      valueName: 'MB',
      description: 'GPU memory budget per frame in MiB (larger frames run in exact row bands)',
    },
    {
      name: 'start',
      type: 'number',
      min: 0,
      valueName: 'SECONDS',
      description: 'begin this many seconds into the input',
    },
    {
      name: 'duration',
      type: 'number',
      min: 0.001,
      valueName: 'SECONDS',
      description: 'stylise this many seconds (default: to the end)',
    },
    {
      name: 'codec',
      type: 'string',
      valueName: 'NAME',
      description:
        'ffmpeg video encoder (default: libx264 for .mp4/.mov/.mkv, libvpx-vp9 for .webm; e.g. libx265, ffv1 for lossless .mkv)',
    },
    {
      name: 'crf',
      type: 'number',
      integer: true,
      min: 0,
      max: 63,
      valueName: 'N',
      description: "the encoder's constant-quality level (lower: better, larger; default 18 for libx264, 31 for VP9)",
    },
    { name: 'quiet', type: 'boolean', description: 'print errors only' },
  ],
  positionals: { name: 'INPUT', min: 1, max: 1 },
  details: [
    'ffmpeg decodes the input into raw RGB frames through a pipe (no frames on disk), the net stylises each on',
    'the GPU, and a second ffmpeg encodes them while the next frames are decoded. Every frame keeps its own',
    'timestamp (variable frame rates stay variable); the sound is copied unchanged when the container takes',
    'its codec (re-encoded when not: AAC in .mp4, Opus in .webm), as are subtitles (text subtitles converted',
    'for .mp4/.webm), chapters and metadata. A rotated phone video is stylised upright and written upright.',
    'H.264 and H.265 in yuv420p need even sides: an odd width or height is made even by repeating the last',
    'column or row (said when it happens); VP9 (.webm) keeps odd sizes. The output is written to a temporary',
    'file and renamed at the end: Ctrl-C (exit 130), SIGTERM (143) or a failure leaves no partial file.',
    '',
    'ffmpeg and ffprobe are taken from FFMPEG_PATH/FFPROBE_PATH, @ffmpeg-installer/ffmpeg when installed, or',
    'PATH (Debian/Ubuntu: apt-get install ffmpeg, or bash scripts/setup-ffmpeg.sh).',
    '',
    'examples:',
    '  fast-style-webgpu video --style starry_night clip.mp4 -o clip_starry.mp4',
    '  fast-style-webgpu video --style starry_night --max-size 512 --start 60 --duration 10 talk.mkv -o part.webm',
    '  fast-style-webgpu video -m starry.safetensors --codec ffv1 clip.mp4 -o lossless.mkv',
  ].join('\n'),

  async run(args) {
    const plan = planVideo(args);
    const quiet = args.flag('quiet');
    const log = (line: string): void => {
      if (!quiet) process.stderr.write(line + '\n');
    };
    const modelBytes = readInputFile(plan.model.path, 'model');
    if (plan.encodedWidth !== plan.width || plan.encodedHeight !== plan.height) {
      log(
        `note: ${plan.width}×${plan.height} has an odd side, which ${plan.codec} in yuv420p cannot hold: the output is ${plan.encodedWidth}×${plan.encodedHeight} (the last ${plan.encodedWidth !== plan.width ? 'column' : 'row'}${plan.encodedWidth !== plan.width && plan.encodedHeight !== plan.height ? ' and row' : ''} repeated; .webm keeps odd sizes)`,
      );
    }
    for (const note of plan.streams.notes) log(`note: ${note}`);

    const state: RunState = { signal: null, decoder: null, encoder: null };
    const stopListening = listenForStop(state);
    const engine = await createNodeEngine({ quietDawnStartup: true });
    let net: CheckedNet | null = null;
    let renamed = false;
    try {
      if (engine.adapter.isFallbackAdapter)
        log(`warning: ${engine.describe()} is a software adapter; stylising video will be slow`);
      net = (await loadCheckedNet(engine, modelBytes, plan.model.path)).net;
      log(startLine(plan));
      const started = performance.now();
      const progress = progressPrinter(plan, process.stderr.isTTY === true && !quiet, log);
      const done = await runPipeline(plan, net, args, state, progress);
      if (state.signal) {
        log(`interrupted (${state.signal}) after ${done} frames: no output written`);
        return EXIT_STATUS[state.signal];
      }
      progress(done, true);
      if (!plan.target.through) {
        moveIntoPlace(plan);
        renamed = true;
      }
      log(doneLine(plan, done, (performance.now() - started) / 1000));
      return 0;
    } finally {
      stopListening();
      state.decoder?.kill();
      state.encoder?.kill();
      await Promise.all([state.decoder?.exited, state.encoder?.exited]);
      if (!plan.target.through && !renamed) {
        try {
          unlinkSync(plan.target.path);
        } catch {
          // Never created (failed before encoding began).
        }
      }
      net?.dispose();
      engine.destroy();
    }
  },
};
