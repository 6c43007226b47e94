/**
 * What the `video` command needs to know about an input file before any work, from ffprobe's description:
 * the video stream to stylise (its size once rotated upright, frame rate, frame count), the audio and
 * subtitle streams to carry over, and the reasons a file cannot be used (a still image, no video stream).
 */
import { CliError } from './errors.js';

export interface AudioStream {
  /** The stream's index in the file. */
  index: number;
  codec: string;
}

export interface SubtitleStream {
  index: number;
  codec: string;
}

export interface VideoSource {
  /** Index of the video stream that is stylised (the first that is not cover art). */
  streamIndex: number;
  codec: string;
  /** Stored size. */
  codedWidth: number;
  codedHeight: number;
  /** Display rotation in degrees (counter-clockwise, as ffprobe reports it), 0 when none. */
  rotation: number;
  /** The size of the frames ffmpeg decodes: upright (it applies the rotation), so 90° swaps the sides. */
  width: number;
  height: number;
  /** Average frame rate (frames per second), NaN when unknown. */
  fps: number;
  /** Frames in the stream as the container records them, or null when it does not. */
  frameCount: number | null;
  /** Seconds, NaN when unknown. */
  duration: number;
  /** Pixel aspect ratio as `N:D` when it is not square, else null. */
  sampleAspect: string | null;
  /** ffprobe's colour matrix (`bt709`, `smpte170m`, …) or null. */
  colorSpace: string | null;
  audio: AudioStream[];
  subtitles: SubtitleStream[];
  /** ffprobe's container name, e.g. `mov,mp4,m4a,3gp,3g2,mj2`. */
  formatName: string;
}

interface ProbeStream {
  index: number;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  nb_frames?: string;
  duration?: string;
  sample_aspect_ratio?: string;
  color_space?: string;
  disposition?: { attached_pic?: number };
  tags?: Record<string, string>;
  side_data_list?: { rotation?: number }[];
}

interface ProbeResult {
  streams?: ProbeStream[];
  format?: { format_name?: string; duration?: string };
}

function rate(r: string | undefined): number {
  const m = /^(\d+)\/(\d+)$/.exec(r ?? '');
  return m && Number(m[2]) > 0 && Number(m[1]) > 0 ? Number(m[1]) / Number(m[2]) : NaN;
}

/** Rotation in degrees normalised to 0, 90, 180 or 270 (ffprobe reports -90 for 270). */
function rotationOf(s: ProbeStream): number {
  const fromSideData = s.side_data_list?.find((d) => typeof d.rotation === 'number')?.rotation;
  const degrees = fromSideData ?? Number(s.tags?.rotate ?? 0);
  if (!Number.isFinite(degrees)) return 0;
  return (((Math.round(degrees / 90) * 90) % 360) + 360) % 360;
}

/**
 * The video source described by ffprobe's JSON (probeJson), or a CliError saying why the file cannot be
 * stylised as a video.
 */
export function describeVideo(probe: unknown, nameForErrors: string): VideoSource {
  const p = probe as ProbeResult;
  const streams = p.streams ?? [];
  const formatName = p.format?.format_name ?? '';
  // Single images are read by ffmpeg's image demuxers (`image2`, `png_pipe`, …) as a one-frame video.
  if (formatName === 'image2' || /_pipe$/.test(formatName)) {
    throw new CliError(
      `cannot read video ${nameForErrors}: it is a still image (${streams[0]?.codec_name ?? formatName}), not a video; use 'stylize' for images`,
    );
  }
  const video = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  if (!video) {
    const kinds = [...new Set(streams.map((s) => s.codec_type ?? 'unknown'))];
    throw new CliError(
      `cannot read video ${nameForErrors}: it has no video stream${kinds.length ? ` (only ${kinds.join(', ')})` : ''}`,
    );
  }
  const codedWidth = video.width ?? 0;
  const codedHeight = video.height ?? 0;
  if (!(codedWidth >= 1 && codedHeight >= 1))
    throw new CliError(
      `cannot read video ${nameForErrors}: its video stream has no frame size (${codedWidth}×${codedHeight})`,
    );
  const rotation = rotationOf(video);
  const quarter = rotation === 90 || rotation === 270;
  const frames = video.nb_frames !== undefined ? Number(video.nb_frames) : NaN;
  if (frames === 0) throw new CliError(`cannot read video ${nameForErrors}: its video stream has no frames`);
  const sar = video.sample_aspect_ratio;
  return {
    streamIndex: video.index,
    codec: video.codec_name ?? 'unknown',
    codedWidth,
    codedHeight,
    rotation,
    width: quarter ? codedHeight : codedWidth,
    height: quarter ? codedWidth : codedHeight,
    fps: Number.isFinite(rate(video.avg_frame_rate)) ? rate(video.avg_frame_rate) : rate(video.r_frame_rate),
    frameCount: Number.isInteger(frames) && frames > 0 ? frames : null,
    duration: Number(video.duration ?? p.format?.duration ?? NaN),
    sampleAspect: sar && /^\d+:\d+$/.test(sar) && sar !== '1:1' && !sar.startsWith('0:') ? sar : null,
    colorSpace: video.color_space && video.color_space !== 'unknown' ? video.color_space : null,
    audio: streams
      .filter((s) => s.codec_type === 'audio')
      .map((s) => ({ index: s.index, codec: s.codec_name ?? 'unknown' })),
    subtitles: streams
      .filter((s) => s.codec_type === 'subtitle')
      .map((s) => ({ index: s.index, codec: s.codec_name ?? 'unknown' })),
    formatName,
  };
}
