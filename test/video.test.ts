// Issue 21: the `video` command as a user runs it (`node dist/cli.js video …` in child processes) on tiny clips
// that ffmpeg makes at test time (test pattern + sine tone, a few frames, odd sizes, variable frame rate,
// rotation metadata) with a tiny random net. They need ffmpeg: without it they are skipped with a message
// (CI installs it: scripts/setup-ffmpeg.sh), except the "no ffmpeg" error, which runs everywhere.
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  truncateSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodeImage } from '../src/node/image-io.js';
import { saveTransformNet } from '../src/models/model-file.js';
import { TransformNet } from '../src/models/transform-net.js';
import { testEngine } from './helpers/gpu.js';
import { buildCliIfStale, CLI, type CliResult, expectOneErrorLine, runCli, workDir } from './helpers/cli.js';

const cli = (args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): CliResult =>
  runCli(args, { cwd, env, timeout: 240_000 });

const haveFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0 && spawnSync('ffprobe', ['-version']).status === 0;
if (!haveFfmpeg)
  console.warn(
    'test/video.test.ts: ffmpeg/ffprobe not found on PATH: skipping the video tests (bash scripts/setup-ffmpeg.sh installs them; CI does)',
  );

function ffmpeg(args: string[], cwd: string): void {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')}: ${r.stderr}`);
}

interface ProbeStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  nb_frames?: string;
  duration?: string;
  side_data_list?: { rotation?: number }[];
}

function probe(path: string): { streams: ProbeStream[]; format: { duration: string } } {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', path], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

/** Presentation times of the video frames, seconds, in order. */
function frameTimes(path: string): number[] {
  const r = spawnSync(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', path],
    { encoding: 'utf8' },
  );
  return r.stdout
    .trim()
    .split('\n')
    .map(Number)
    .sort((a, b) => a - b);
}

/** The MD5 of a stream's packets (`-c copy`): equal iff the stream was copied unchanged. */
function packetsMd5(path: string, stream: string): string {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-i', path, '-map', stream, '-c', 'copy', '-f', 'md5', '-'], {
    encoding: 'utf8',
  });
  return r.stdout.trim();
}

/** Frame `n` of a video as RGB bytes (width·height·3). */
function frameRgb(path: string, n: number): Buffer {
  const r = spawnSync(
    'ffmpeg',
    [
      '-v',
      'error',
      '-i',
      path,
      '-vf',
      `select=eq(n\\,${n})`,
      '-vsync',
      'passthrough',
      '-frames:v',
      '1',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-',
    ],
    { maxBuffer: 1 << 26 },
  );
  return r.stdout;
}

const work = workDir('video-test-');
const shared = join(work, 'shared');
const asset = (name: string) => join(shared, name);
let dirs = 0;
function freshDir(name: string): string {
  const dir = join(work, `${++dirs}-${name}`);
  mkdirSync(dir);
  return dir;
}

/** Files in a folder other than the ones named: partial or temporary outputs left behind. */
function leftovers(dir: string, expected: string[]): string[] {
  return readdirSync(dir).filter((f) => !expected.includes(f));
}

beforeAll(async () => {
  mkdirSync(shared, { recursive: true });
  if (!haveFfmpeg) return;
  buildCliIfStale();
  const engine = await testEngine();
  const net = TransformNet.create(engine, { widthMultiplier: 0.25, seed: 3 });
  writeFileSync(asset('tiny.safetensors'), await saveTransformNet(net, { style: 'tiny' }));
  net.dispose();
  // 8 frames of 34×22 at 8 fps with a 440 Hz tone, AAC, in MP4: the ordinary case.
  ffmpeg(
    [
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=34x22:rate=8',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=44100',
      '-t',
      '1',
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      '-shortest',
      'clip.mp4',
    ],
    shared,
  );
  // 35×23 (odd sides; 4:4:4 so that H.264 holds them), frame times 0, .125, .25, .575, .7, .875, 1.0, 1.125 s, a tone,
  // then rotated 90° by metadata only (as phones record portrait video).
  ffmpeg(
    [
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=35x23:rate=8',
      '-f',
      'lavfi',
      '-i',
      'sine=sample_rate=44100',
      '-vf',
      "settb=1/1000,setpts='(N*0.125+if(gte(N,3),0.2,0)+if(gte(N,5),0.05,0))/TB'",
      '-vsync',
      'passthrough',
      '-enc_time_base:v',
      '1/1000',
      '-frames:v',
      '8',
      '-t',
      '1.3',
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv444p',
      '-c:a',
      'aac',
      'vfr-upright.mp4',
    ],
    shared,
  );
  ffmpeg(['-i', 'vfr-upright.mp4', '-c', 'copy', '-metadata:s:v:0', 'rotate=90', 'vfr-rotated.mp4'], shared);
}, 300_000);

describe('video: no ffmpeg', () => {
  it('says how to get it, one line, exit 1, nothing written', () => {
    const dir = freshDir('no-ffmpeg');
    writeFileSync(join(dir, 'in.mp4'), 'not really a video');
    const model = join(dir, 'm.safetensors');
    writeFileSync(model, 'x');
    const env = { ...process.env, FFMPEG_PATH: join(dir, 'missing-ffmpeg') };
    expectOneErrorLine(
      cli(['video', '-m', model, 'in.mp4', '-o', 'out.mp4'], dir, env),
      1,
      /FFMPEG_PATH=.*missing-ffmpeg is not an executable file: ffmpeg was not found; install it \(Debian\/Ubuntu: sudo apt-get install ffmpeg/,
    );
    const bare: NodeJS.ProcessEnv = { ...process.env, PATH: join(dir, 'empty-bin') };
    delete bare.FFMPEG_PATH;
    expectOneErrorLine(
      cli(['video', '-m', model, 'in.mp4', '-o', 'out.mp4'], dir, bare),
      1,
      /^error: ffmpeg was not found \(the video command needs it.*apt-get install ffmpeg.*FFMPEG_PATH/,
    );
    expect(readdirSync(dir).sort()).toEqual(['in.mp4', 'm.safetensors']);
    const help = cli(['video', '--help'], dir);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/usage: fast-style-webgpu video/);
    expect(help.stdout).toMatch(/--duration SECONDS/);
  });
});

describe.skipIf(!haveFfmpeg)('video (ffmpeg on PATH)', () => {
  it('a clip with sound: same frame count, duration, size; the audio packets copied unchanged; a progress line', async () => {
    const dir = freshDir('sound');
    const r = cli(['video', '-m', asset('tiny.safetensors'), asset('clip.mp4'), '-o', 'out.mp4'], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/frame 1\/8 .*frames\/s .*ETA/);
    expect(r.stderr).toMatch(/frame 8\/8 /);
    const src = probe(asset('clip.mp4'));
    const out = probe(join(dir, 'out.mp4'));
    const v = out.streams.find((s) => s.codec_type === 'video')!;
    expect(v.codec_name).toBe('h264');
    expect([v.width, v.height]).toEqual([34, 22]);
    expect(Number(v.nb_frames)).toBe(8);
    expect(Math.abs(Number(out.format.duration) - Number(src.format.duration))).toBeLessThanOrEqual(1 / 8);
    expect(out.streams.filter((s) => s.codec_type === 'audio').map((s) => s.codec_name)).toEqual(['aac']);
    expect(packetsMd5(join(dir, 'out.mp4'), '0:a')).toBe(packetsMd5(asset('clip.mp4'), '0:a'));
    expect(readdirSync(dir)).toEqual(['out.mp4']);
  }, 300_000);

  it("a frame from the middle equals 'stylize' of the same decoded frame within 1 level (lossless ffv1 in .mkv)", async () => {
    const dir = freshDir('frame-equals-stylize');
    const r = cli(
      ['video', '-m', asset('tiny.safetensors'), asset('clip.mp4'), '-o', 'out.mkv', '--codec', 'ffv1', '--quiet'],
      dir,
    );
    expect(r.status, r.stderr).toBe(0);
    // --quiet: errors only (Dawn's own start-up warnings aside).
    expect(r.stderr.split('\n').filter((l) => l !== '' && !/^warning: /i.test(l))).toEqual([]);
    const decoded = frameRgb(asset('clip.mp4'), 4);
    expect(decoded.length).toBe(34 * 22 * 3);
    const rgba = new Uint8Array(34 * 22 * 4);
    for (let p = 0; p < 34 * 22; p++) rgba.set([decoded[p * 3], decoded[p * 3 + 1], decoded[p * 3 + 2], 255], p * 4);
    writeFileSync(join(dir, 'frame4.png'), await encodeImage({ width: 34, height: 22, data: rgba }, 'png'));
    const s = cli(
      ['stylize', '-m', asset('tiny.safetensors'), 'frame4.png', '-o', 'frame4_styled.png', '--quiet'],
      dir,
    );
    expect(s.status, s.stderr).toBe(0);
    const still = await decodeImage(new Uint8Array(readFileSync(join(dir, 'frame4_styled.png'))), 'frame4_styled.png');
    const fromVideo = frameRgb(join(dir, 'out.mkv'), 4);
    expect(fromVideo.length).toBe(34 * 22 * 3);
    let worst = 0;
    for (let p = 0; p < 34 * 22; p++)
      for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(fromVideo[p * 3 + c] - still.data[p * 4 + c]));
    expect(worst).toBeLessThanOrEqual(1);
    // Not the input frame passed through: the net changed it.
    let changed = 0;
    for (let i = 0; i < decoded.length; i++) changed = Math.max(changed, Math.abs(decoded[i] - fromVideo[i]));
    expect(changed).toBeGreaterThan(10);
  }, 300_000);

  it('variable frame rate, rotation and odd sides: times kept, upright, .mp4 made even (said so), .webm exact', () => {
    const dir = freshDir('vfr-rotated');
    expect(probe(asset('vfr-rotated.mp4')).streams[0].side_data_list?.[0]?.rotation).toBe(90);
    const r = cli(['video', '-m', asset('tiny.safetensors'), asset('vfr-rotated.mp4'), '-o', 'out.mp4'], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/rotated 90°/);
    expect(r.stderr).toMatch(/note: 23×35 has an odd side, which libx264 in yuv420p cannot hold: the output is 24×36/);
    const out = probe(join(dir, 'out.mp4')).streams.find((s) => s.codec_type === 'video')!;
    expect([out.width, out.height]).toEqual([24, 36]);
    expect(out.side_data_list?.some((d) => d.rotation) ?? false).toBe(false);
    const times = frameTimes(asset('vfr-rotated.mp4'));
    [0, 0.125, 0.25, 0.575, 0.7, 0.875, 1, 1.125].forEach((t, i) =>
      expect(Math.abs(times[i] - t)).toBeLessThan(0.0015),
    );
    const outTimes = frameTimes(join(dir, 'out.mp4'));
    expect(outTimes.length).toBe(8);
    for (let i = 0; i < 8; i++) expect(Math.abs(outTimes[i] - outTimes[0] - times[i])).toBeLessThan(0.0015);

    const w = cli(
      ['video', '-m', asset('tiny.safetensors'), asset('vfr-rotated.mp4'), '-o', 'out.webm', '--quiet'],
      dir,
    );
    expect(w.status, w.stderr).toBe(0);
    const webm = probe(join(dir, 'out.webm'));
    const wv = webm.streams.find((s) => s.codec_type === 'video')!;
    expect([wv.codec_name, wv.width, wv.height]).toEqual(['vp9', 23, 35]);
    // AAC does not go into WebM: re-encoded (Opus), not dropped.
    expect(webm.streams.filter((s) => s.codec_type === 'audio').map((s) => s.codec_name)).toEqual(['opus']);
    const webmTimes = frameTimes(join(dir, 'out.webm'));
    for (let i = 0; i < 8; i++) expect(Math.abs(webmTimes[i] - webmTimes[0] - times[i])).toBeLessThan(0.0015);
    expect(readdirSync(dir).sort()).toEqual(['out.mp4', 'out.webm']);
  }, 300_000);

  it('--start/--duration stylise a part, with its sound', () => {
    const dir = freshDir('trim');
    const r = cli(
      [
        'video',
        '-m',
        asset('tiny.safetensors'),
        asset('clip.mp4'),
        '-o',
        'part.mp4',
        '--start',
        '0.25',
        '--duration',
        '0.5',
        '--crf',
        '30',
      ],
      dir,
    );
    expect(r.status, r.stderr).toBe(0);
    const out = probe(join(dir, 'part.mp4'));
    const v = out.streams.find((s) => s.codec_type === 'video')!;
    expect(Math.abs(Number(v.nb_frames) - 4)).toBeLessThanOrEqual(1);
    expect(Math.abs(Number(out.format.duration) - 0.5)).toBeLessThanOrEqual(0.15);
    expect(out.streams.some((s) => s.codec_type === 'audio')).toBe(true);
    expectOneErrorLine(
      cli(['video', '-m', asset('tiny.safetensors'), asset('clip.mp4'), '-o', 'late.mp4', '--start', '5'], dir),
      1,
      /nothing to stylise: --start 5 is at or after the end/,
    );
    expect(readdirSync(dir)).toEqual(['part.mp4']);
  }, 300_000);

  it('subtitles (converted to mov_text for .mp4), chapters and the title are carried over', () => {
    const dir = freshDir('subtitles');
    writeFileSync(join(dir, 'subs.srt'), '1\n00:00:00,000 --> 00:00:00,800\nhello\n');
    writeFileSync(
      join(dir, 'chapters.txt'),
      ';FFMETADATA1\ntitle=A tiny clip\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=500\ntitle=One\n',
    );
    ffmpeg(
      [
        '-i',
        asset('clip.mp4'),
        '-i',
        'subs.srt',
        '-i',
        'chapters.txt',
        '-map',
        '0',
        '-map',
        '1',
        '-map_metadata',
        '2',
        '-map_chapters',
        '2',
        '-c',
        'copy',
        '-c:s',
        'srt',
        'in.mkv',
      ],
      dir,
    );
    const r = cli(['video', '-m', asset('tiny.safetensors'), 'in.mkv', '-o', 'out.mp4', '--quiet'], dir);
    expect(r.status, r.stderr).toBe(0);
    const meta = spawnSync(
      'ffprobe',
      ['-v', 'error', '-show_streams', '-show_chapters', '-show_format', '-of', 'json', join(dir, 'out.mp4')],
      { encoding: 'utf8' },
    );
    const out = JSON.parse(meta.stdout) as {
      streams: ProbeStream[];
      chapters: unknown[];
      format: { tags?: Record<string, string> };
    };
    // (MP4 keeps chapters in a text track of its own, listed as a data stream.)
    expect(out.streams.filter((s) => s.codec_type !== 'data').map((s) => `${s.codec_type}:${s.codec_name}`)).toEqual([
      'video:h264',
      'audio:aac',
      'subtitle:mov_text',
    ]);
    expect(out.chapters).toHaveLength(1);
    expect(out.format.tags?.title).toBe('A tiny clip');
  }, 300_000);

  it.skipIf(process.getuid?.() === 0)('an output directory without write permission: one line before any work', () => {
    const dir = freshDir('read-only');
    mkdirSync(join(dir, 'locked'));
    chmodSync(join(dir, 'locked'), 0o555);
    try {
      expectOneErrorLine(
        cli(['video', '-m', asset('tiny.safetensors'), asset('clip.mp4'), '-o', 'locked/out.mp4'], dir),
        1,
        /cannot write locked\/out\.mp4: permission denied/,
      );
      expect(readdirSync(join(dir, 'locked'))).toEqual([]);
    } finally {
      chmodSync(join(dir, 'locked'), 0o755);
    }
  });

  it('bad input: a PNG, a text file, truncated MP4s, audio only, no video frames: one line, exit 1, nothing written', async () => {
    const dir = freshDir('bad-input');
    writeFileSync(
      join(dir, 'still.png'),
      await encodeImage({ width: 4, height: 4, data: new Uint8Array(64).fill(200) }, 'png'),
    );
    writeFileSync(join(dir, 'notes.txt'), 'hello, I am not a video\n');
    ffmpeg(['-f', 'lavfi', '-i', 'sine', '-t', '0.5', '-c:a', 'aac', 'tone.m4a'], dir);
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=34x22:rate=8', '-frames:v', '0', '-f', 'matroska', 'empty.mkv'], dir);
    // moov at the end (ffmpeg's default) cut off; and moov first (faststart) with the frames cut off.
    writeFileSync(join(dir, 'cut.mp4'), readFileSync(asset('clip.mp4')).subarray(0, 4000));
    ffmpeg(['-i', asset('clip.mp4'), '-c', 'copy', '-movflags', '+faststart', 'faststart.mp4'], dir);
    truncateSync(join(dir, 'faststart.mp4'), Math.floor(statSync(join(dir, 'faststart.mp4')).size * 0.45));
    const inputs = readdirSync(dir).sort();
    const run = (input: string) => cli(['video', '-m', asset('tiny.safetensors'), input, '-o', 'out.mp4'], dir);
    expectOneErrorLine(
      run('still.png'),
      1,
      /cannot read video still\.png: it is a still image \(png\), not a video; use 'stylize'/,
    );
    expectOneErrorLine(run('notes.txt'), 1, /cannot read video notes\.txt: Invalid data found when processing input/);
    expectOneErrorLine(run('tone.m4a'), 1, /cannot read video tone\.m4a: it has no video stream \(only audio\)/);
    expectOneErrorLine(run('empty.mkv'), 1, /cannot read video empty\.mkv: /);
    expectOneErrorLine(run('cut.mp4'), 1, /cannot read video cut\.mp4: moov atom not found/);
    expectOneErrorLine(run('faststart.mp4'), 1, /cannot read video faststart\.mp4: .*(truncated|no frames)/);
    expectOneErrorLine(run('nowhere.mp4'), 1, /cannot read video nowhere\.mp4: no such file/);
    expect(readdirSync(dir).sort()).toEqual(inputs);
  }, 300_000);

  it('1×1 and 4000×2 videos are stylised at their size', () => {
    const dir = freshDir('tiny-and-wide');
    ffmpeg(
      [
        '-f',
        'lavfi',
        '-i',
        'color=c=orange:size=2x2:rate=4',
        '-t',
        '0.5',
        '-vf',
        'scale=1:1',
        '-c:v',
        'ffv1',
        'dot.mkv',
      ],
      dir,
    );
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=4000x2:rate=4', '-t', '0.5', '-c:v', 'ffv1', 'wide.mkv'], dir);
    const dot = cli(['video', '-m', asset('tiny.safetensors'), 'dot.mkv', '-o', 'dot.webm', '--quiet'], dir);
    expect(dot.status, dot.stderr).toBe(0);
    const d = probe(join(dir, 'dot.webm')).streams[0];
    expect([d.width, d.height, Number(probe(join(dir, 'dot.webm')).streams.length)]).toEqual([1, 1, 1]);
    const wide = cli(['video', '-m', asset('tiny.safetensors'), 'wide.mkv', '-o', 'wide.mp4', '--quiet'], dir);
    expect(wide.status, wide.stderr).toBe(0);
    const w = probe(join(dir, 'wide.mp4')).streams[0];
    expect([w.width, w.height, Number(w.nb_frames)]).toEqual([4000, 2, 2]);
  }, 300_000);

  it('outputs: never the input (also through a symlink), a full disk, a missing folder: one line, nothing left', () => {
    const dir = freshDir('outputs');
    writeFileSync(join(dir, 'in.mp4'), readFileSync(asset('clip.mp4')));
    symlinkSync('in.mp4', join(dir, 'link.mp4'));
    symlinkSync('/dev/full', join(dir, 'full.mp4'));
    const before = readFileSync(join(dir, 'in.mp4'));
    const run = (out: string) => cli(['video', '-m', asset('tiny.safetensors'), 'in.mp4', '-o', out], dir);
    expectOneErrorLine(run('in.mp4'), 1, /refusing to overwrite the input in\.mp4 with the output in\.mp4/);
    expectOneErrorLine(run('link.mp4'), 1, /refusing to overwrite the input in\.mp4 with the output link\.mp4/);
    expectOneErrorLine(run('full.mp4'), 1, /^error: cannot write full\.mp4: no space left on device$/);
    expectOneErrorLine(
      run('no-such-dir/out.mp4'),
      1,
      /cannot write no-such-dir\/out\.mp4: output directory no-such-dir does not exist/,
    );
    expectOneErrorLine(run('out.avi'), 2, /cannot tell the video format of out\.avi: name it \.mp4/);
    expectOneErrorLine(
      cli(['video', '-m', asset('tiny.safetensors'), 'in.mp4', '-o', 'out.mp4', '--codec', 'no-such-codec'], dir),
      1,
      /has no encoder 'no-such-codec'/,
    );
    expect(readFileSync(join(dir, 'in.mp4')).equals(before)).toBe(true);
    expect(leftovers(dir, ['in.mp4', 'link.mp4', 'full.mp4'])).toEqual([]);
  }, 300_000);

  it.skipIf(process.platform !== 'linux')(
    'Ctrl-C (SIGINT) or SIGTERM in the middle: exit 130 or 143, no output, no temporary file',
    async () => {
      const dir = freshDir('sigint');
      ffmpeg(
        [
          '-f',
          'lavfi',
          '-i',
          'testsrc=size=34x22:rate=25',
          '-f',
          'lavfi',
          '-i',
          'sine',
          '-t',
          '20',
          '-c:v',
          'libx264',
          '-pix_fmt',
          'yuv420p',
          '-c:a',
          'aac',
          'long.mp4',
        ],
        dir,
      );
      /** Stylizes long.mp4 into out.mp4, sends `signal` once frame 1 is reported: the exit code and stderr. */
      const interrupted = async (signal: NodeJS.Signals): Promise<{ status: number | null; stderr: string }> => {
        const child = spawn(
          process.execPath,
          [CLI, 'video', '-m', asset('tiny.safetensors'), 'long.mp4', '-o', 'out.mp4'],
          { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
        );
        let stderr = '';
        const status = await new Promise<number | null>((res) => {
          child.stderr.on('data', (d: Buffer) => {
            stderr += d.toString();
            if (/frame 1\/500/.test(stderr) && !child.killed) child.kill(signal);
          });
          child.on('exit', (code) => res(code));
        });
        return { status, stderr };
      };
      const int = await interrupted('SIGINT');
      expect(int.status, int.stderr).toBe(130);
      expect(int.stderr).toMatch(/interrupted \(SIGINT\) after \d+ frames: no output written/);
      expect(readdirSync(dir)).toEqual(['long.mp4']);

      // SIGTERM (timeout, kill, container runtimes): the same, exit 143.
      const term = await interrupted('SIGTERM');
      expect(term.status, term.stderr).toBe(143);
      expect(readdirSync(dir)).toEqual(['long.mp4']);
    },
    300_000,
  );
});
