/**
 * Finding the ffmpeg and ffprobe programs the `video` command drives, and running ffprobe. Where they come
 * from, in order: FFMPEG_PATH / FFPROBE_PATH, an npm package that ships the binary (@ffmpeg-installer/ffmpeg,
 * @ffprobe-installer/ffprobe, when the user installed them), then PATH. None of them is a dependency of ours:
 * Debian's `ffmpeg` package (scripts/setup-ffmpeg.sh) is what CI and the README use.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { CliError } from './errors.js';

/** How to get ffmpeg, for the error when there is none. */
const FFMPEG_HINT =
  'install it (Debian/Ubuntu: sudo apt-get install ffmpeg, or bash scripts/setup-ffmpeg.sh; macOS: brew install ffmpeg) or set FFMPEG_PATH to the ffmpeg program';

export interface FfmpegTools {
  ffmpeg: string;
  ffprobe: string;
}

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

/** The binary an installer package ships (its `path` export), when that package is installed. */
function fromPackage(pkg: string): string | null {
  try {
    const path = (createRequire(import.meta.url)(pkg) as { path?: unknown }).path;
    return typeof path === 'string' && isExecutable(path) ? path : null;
  } catch {
    return null;
  }
}

/** One program: its environment variable (which must then be right), its package, PATH. */
function locate(name: 'ffmpeg' | 'ffprobe', envVar: string, pkg: string, besides: string | null): string | null {
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    if (!isExecutable(fromEnv))
      throw new CliError(`${envVar}=${fromEnv} is not an executable file: ${name} was not found; ${FFMPEG_HINT}`);
    return fromEnv;
  }
  // ffprobe from the same folder as the ffmpeg chosen, so that the two agree on versions and formats.
  if (besides !== null && isExecutable(join(besides, name))) return join(besides, name);
  return fromPackage(pkg) ?? onPath(name);
}

/** ffmpeg and ffprobe, or a CliError saying how to get them. */
export function findFfmpeg(): FfmpegTools {
  const ffmpeg = locate('ffmpeg', 'FFMPEG_PATH', '@ffmpeg-installer/ffmpeg', null);
  if (ffmpeg === null)
    throw new CliError(
      `ffmpeg was not found (the video command needs it to read and write video files): ${FFMPEG_HINT}`,
    );
  const ffprobe = locate('ffprobe', 'FFPROBE_PATH', '@ffprobe-installer/ffprobe', dirname(ffmpeg));
  if (ffprobe === null)
    throw new CliError(
      `ffprobe was not found beside ${ffmpeg} nor on PATH (it comes with ffmpeg): ${FFMPEG_HINT}, or set FFPROBE_PATH`,
    );
  return { ffmpeg, ffprobe };
}

/** The names of the encoders this ffmpeg has (`libx264`, `aac`, …). */
export function ffmpegEncoders(ffmpeg: string): Set<string> {
  const r = spawnSync(ffmpeg, ['-hide_banner', '-encoders'], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0)
    throw new CliError(`${ffmpeg} -encoders failed: ${lastLine(r.stderr ?? '') || `exit status ${r.status}`}`);
  const names = new Set<string>();
  // Rows look like ` V....D libx264   libx264 H.264 …` after a `------` separator.
  let table = false;
  for (const line of r.stdout.split('\n')) {
    if (/^\s*-+\s*$/.test(line)) table = true;
    else if (table) {
      const m = /^\s*[VAS][A-Z.]{5}\s+(\S+)/.exec(line);
      if (m) names.add(m[1]);
    }
  }
  return names;
}

/** The last non-empty line of a program's stderr (ffmpeg puts the reason last). */
export function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.length ? lines[lines.length - 1] : '';
}

/** ffprobe's JSON description of a file (streams and format), or a CliError with ffprobe's reason. */
export function probeJson(ffprobe: string, input: string, nameForErrors: string): unknown {
  let out: string;
  try {
    out = execFileSync(ffprobe, ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', '--', input], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const stderr = String((e as { stderr?: unknown }).stderr ?? '');
    // ffprobe prefixes the reason with the file name: keep the reason. An MP4 whose index (moov) is missing
    // says so a line earlier than its generic "Invalid data".
    const generic = lastLine(stderr).replace(/^.*?: (?=[A-Z])/, '') || (e instanceof Error ? e.message : String(e));
    const reason = /moov atom not found/.test(stderr)
      ? 'moov atom not found (a truncated or unfinished MP4/MOV file)'
      : generic === 'End of file'
        ? 'the file ends before any audio or video data (empty or truncated)'
        : generic;
    throw new CliError(`cannot read video ${nameForErrors}: ${reason}`);
  }
  try {
    return JSON.parse(out);
  } catch {
    throw new CliError(`cannot read video ${nameForErrors}: ffprobe printed no readable description`);
  }
}
