// Issue 25: streams, concurrent runs, non-finite weights, special files. As test/cli-hardening.test.ts does,
// each case runs the CLI as a user does (`node dist/cli.js …` in a child process, tiny images and nets) and
// checks the exit status, the one-line message and what is (not) left on disk; a few check the library
// function behind a promise where the CLI cannot show it. FSW_CLI runs them against another build.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodeImage } from '../src/node/image-io.js';
import type { RgbaImage } from '../src/models/rgba-image.js';
import { assertFiniteTrainingState } from '../src/cli/finite.js';
import { listImages } from '../src/node/data-loader.js';
import { modelsDir, shippedStyles, styleListing } from '../src/cli/package-files.js';
import { saveTransformNet } from '../src/models/model-file.js';
import { onePassBytes } from '../src/models/banded.js';
import { largestTileEdge, peakFloatsPerPixel, stylizeRgba } from '../src/models/stylize.js';
import { readSafetensors, writeSafetensors } from '../src/models/safetensors.js';
import { TransformNet } from '../src/models/transform-net.js';
import { vggLayers } from '../src/models/vgg.js';
import { rng } from '../src/ops/cpu.js';
import { goldenFile } from './helpers/golden.js';
import { testEngine } from './helpers/gpu.js';
import {
  buildCliIfStale,
  CLI,
  type CliResult,
  errorMessages,
  expectOneErrorLine,
  ROOT,
  runCli,
  workDir,
} from './helpers/cli.js';
// @ts-expect-error plain .mjs build script, no type declarations
import { denoBinary } from '../scripts/build-deno.mjs';

/** A shell command line (pipes, redirections) with `CLI` standing for `node dist/cli.js`. */
function sh(script: string, cwd: string): CliResult {
  const r = spawnSync('sh', ['-c', script.replaceAll('$CLI', `"${process.execPath}" "${CLI}"`)], {
    cwd,
    encoding: 'utf8',
    timeout: 240_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function picture(width: number, height: number, seed: number): RgbaImage {
  const r = rng(seed);
  const a = [r(), r(), r()];
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      for (let c = 0; c < 3; c++)
        data[o + c] = Math.round(127 + 100 * Math.sin(0.3 * x * (1 + a[c]) + 0.2 * y + 3 * a[c]));
      data[o + 3] = 255;
    }
  }
  return { width, height, data };
}

/** PNG bytes (image-io's encoder, whether it answers at once or with a promise). */
async function png(img: RgbaImage): Promise<Uint8Array> {
  return await encodeImage(img, 'png');
}

async function widthOf(bytes: Uint8Array): Promise<number> {
  return (await decodeImage(bytes, 'output')).width;
}

const cli = (args: string[], cwd: string): CliResult => runCli(args, { cwd, timeout: 240_000 });

const work = workDir('cli-hardening-2-');
const shared = join(work, 'shared');
const asset = (name: string) => join(shared, name);

function vggFile(seed: number): Uint8Array {
  const r = rng(seed);
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const l of vggLayers('vgg19').filter((v) => v.kind === 'conv' && v.index <= 16)) {
    const n = l.outChannels * l.inChannels * 9;
    weights.set(`features.${l.index}.weight`, {
      shape: [l.outChannels, l.inChannels, 3, 3],
      data: Float32Array.from({ length: n }, () => (2 * r() - 1) * Math.sqrt(6 / (l.inChannels * 9))),
    });
    weights.set(`features.${l.index}.bias`, { shape: [l.outChannels], data: new Float32Array(l.outChannels) });
  }
  return writeSafetensors(weights, { vgg_input: 'caffe' });
}

beforeAll(async () => {
  buildCliIfStale();
  mkdirSync(join(shared, 'photos'), { recursive: true });
  writeFileSync(asset('photos/a.png'), await png(picture(40, 36, 1)));
  writeFileSync(asset('photos/b.png'), await png(picture(33, 40, 2)));
  writeFileSync(asset('style.png'), await png(picture(32, 28, 3)));
  writeFileSync(asset('vgg.safetensors'), vggFile(9));
  writeFileSync(asset('other-vgg.safetensors'), vggFile(10));
  const engine = await testEngine();
  const net = TransformNet.create(engine, { widthMultiplier: 0.25, seed: 2 });
  const loss = {
    contentLayer: 'relu2_2',
    styleLayers: ['relu1_2', 'relu2_2'],
    contentWeight: 1,
    styleWeight: 1,
    tvWeight: 0,
  };
  writeFileSync(asset('tiny.safetensors'), await saveTransformNet(net, { style: 'tiny', training: { loss } }));
  net.dispose();
}, 300_000);

let dirs = 0;
function freshDir(name: string): string {
  const dir = join(work, `${++dirs}-${name}`);
  mkdirSync(dir);
  return dir;
}

function trainArgs(dir: string, out: string, ...more: string[]): string[] {
  return [
    'train',
    '--style',
    asset('style.png'),
    '--data',
    asset('photos'),
    '--vgg',
    asset('vgg.safetensors'),
    '--out',
    join(dir, out),
    '--size',
    '32',
    '--batch',
    '2',
    '--width',
    '0.25',
    '--style-size',
    '32',
    '--style-layers',
    'relu1_2,relu2_2',
    '--content-layer',
    'relu2_2',
    '--workers',
    '0',
    ...more,
  ];
}

/** The tiny model with the tensors `pick` chooses replaced by `value(i)`. */
function alteredModel(path: string, pick: (name: string) => boolean, value: (i: number) => number): void {
  const file = readSafetensors(new Uint8Array(readFileSync(asset('tiny.safetensors'))));
  const tensors = new Map(
    [...file.tensors].map(([k, t]) => [
      k,
      {
        shape: [...t.shape],
        data: pick(k) ? Float32Array.from(t.data, (_, i) => value(i)) : Float32Array.from(t.data),
      },
    ]),
  );
  writeFileSync(path, writeSafetensors(tensors, file.metadata));
}

/** A pid that no process has: a child's that has exited. */
function deadPid(): number {
  return spawnSync('true').pid!;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ml5Index: any = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'golden', 'ml5.json'), 'utf8'));

/** An ml5 model folder (manifest.json + raw float32 Variable files) of the golden fixture's small net. */
function ml5Folder(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const manifest: Record<string, { filename: string; shape: number[] }> = {};
  (ml5Index.small.variables as string[]).forEach((stored, i) => {
    const variable = i === 0 ? 'Variable' : `Variable_${i}`;
    const t = goldenFile(ml5Index.file).get(stored)!;
    manifest[variable] = { filename: variable, shape: t.shape };
    writeFileSync(join(dir, variable), Buffer.from(Float32Array.from(t.data).buffer));
  });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

describe('issue 25.1 and 25.2: -o /dev/stdout and -o - write to the stream', () => {
  it.skipIf(process.platform !== 'linux')('into a pipe: stylize and convert give the bytes to the reader', async () => {
    const dir = freshDir('stdout-pipe');
    writeFileSync(join(dir, 'a.png'), readFileSync(asset('photos/a.png')));
    for (const out of ['/dev/stdout', '-']) {
      const r = sh(
        `$CLI stylize -m "${asset('tiny.safetensors')}" a.png -o ${out} --format png --quiet | cat > got.png`,
        dir,
      );
      expect(r.status, r.stderr).toBe(0);
      expect(await widthOf(new Uint8Array(readFileSync(join(dir, 'got.png'))))).toBe(40);
    }
    const c = sh(`$CLI convert "${asset('tiny.safetensors')}" -o /dev/stdout --quiet | cat > got.safetensors`, dir);
    expect(c.status, c.stderr).toBe(0);
    expect(
      readSafetensors(new Uint8Array(readFileSync(join(dir, 'got.safetensors')))).tensors.has('conv1.conv2d.weight'),
    ).toBe(true);
    // Descriptors above 2 may be Node's own (an event loop's pipe): refused, never written.
    expectOneErrorLine(
      cli(['stylize', '-m', asset('tiny.safetensors'), 'a.png', '-o', '/dev/fd/7', '--format', 'png'], dir),
      1,
      /cannot write \/dev\/fd\/7: of the open descriptors only standard output and standard error/,
    );
    expect(readdirSync(dir).sort()).toEqual(['a.png', 'got.png', 'got.safetensors']);
  });

  it.skipIf(process.platform !== 'linux')(
    'appended (>> file): what the file held stays, the same inode, the new bytes after it',
    async () => {
      const dir = freshDir('stdout-append');
      writeFileSync(join(dir, 'a.png'), readFileSync(asset('photos/a.png')));
      writeFileSync(join(dir, 'log'), 'kept\n');
      const inode = statSync(join(dir, 'log')).ino;
      const r = sh(
        `$CLI stylize -m "${asset('tiny.safetensors')}" a.png -o /dev/stdout --format png --quiet >> log`,
        dir,
      );
      expect(r.status, r.stderr).toBe(0);
      const log = readFileSync(join(dir, 'log'));
      expect(statSync(join(dir, 'log')).ino).toBe(inode);
      expect(log.subarray(0, 5).toString()).toBe('kept\n');
      expect(await widthOf(new Uint8Array(log.subarray(5)))).toBe(40);

      const folder = ml5Folder(join(dir, 'wave'));
      writeFileSync(join(dir, 'log2'), 'kept\n');
      const i = sh(`$CLI import "${folder}" -o /dev/stdout --quiet >> log2`, dir);
      expect(i.status, i.stderr).toBe(0);
      const log2 = readFileSync(join(dir, 'log2'));
      expect(log2.subarray(0, 5).toString()).toBe('kept\n');
      expect(readSafetensors(new Uint8Array(log2.subarray(5))).metadata.style).toBe('wave');
    },
  );
});

describe('issue 25.3 and 25.12: convert and import refuse NaN and infinite weights; f16 overflow says --dtype f32', () => {
  it('convert names the tensor and writes nothing', () => {
    const dir = freshDir('convert-nan');
    alteredModel(
      join(dir, 'nan.safetensors'),
      (n) => n === 'conv1.conv2d.bias',
      (i) => (i === 1 ? NaN : 0),
    );
    alteredModel(
      join(dir, 'inf.safetensors'),
      (n) => n === 'deconv1.conv2d.weight',
      (i) => (i === 7 ? -Infinity : 0.01),
    );
    expectOneErrorLine(
      cli(['convert', 'nan.safetensors', '-o', 'out.safetensors'], dir),
      1,
      /nan\.safetensors: .*weight conv1\.conv2d\.bias holds NaN values/,
    );
    expectOneErrorLine(
      cli(['convert', 'inf.safetensors', '--dtype', 'f32', '-o', 'out.safetensors'], dir),
      1,
      /inf\.safetensors: .*weight deconv1\.conv2d\.weight holds infinite values/,
    );
    expect(existsSync(join(dir, 'out.safetensors'))).toBe(false);
  });

  it('convert of a weight beyond float16 names the file and the weight and suggests --dtype f32, which works', () => {
    const dir = freshDir('convert-f16');
    alteredModel(
      join(dir, 'big.safetensors'),
      (n) => n === 'conv1.conv2d.bias',
      (i) => (i === 0 ? 1e5 : 0),
    );
    const r = cli(['convert', 'big.safetensors', '-o', 'out.safetensors'], dir);
    expectOneErrorLine(
      r,
      1,
      /^error: big\.safetensors: its weight conv1\.conv2d\.bias holds 100000, beyond float16's range .*--dtype f32/,
    );
    expect(r.stderr).not.toMatch(/writeSafetensors/);
    expect(existsSync(join(dir, 'out.safetensors'))).toBe(false);
    expect(cli(['convert', 'big.safetensors', '--dtype', 'f32', '-o', 'out.safetensors', '--quiet'], dir).status).toBe(
      0,
    );
  });

  it('import of an ml5 folder with a NaN variable names the tensor and writes nothing', () => {
    const dir = freshDir('import-nan');
    const folder = ml5Folder(join(dir, 'wave'));
    const raw = readFileSync(join(folder, 'Variable_4'));
    const values = Float32Array.from(new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4));
    values[2] = NaN;
    writeFileSync(join(folder, 'Variable_4'), Buffer.from(values.buffer));
    expectOneErrorLine(
      cli(['import', 'wave', '-o', 'wave.safetensors'], dir),
      1,
      /wave: the model is unusable: its weight \S+ holds NaN values/,
    );
    expect(existsSync(join(dir, 'wave.safetensors'))).toBe(false);
  });
});

describe('issue 25.4: non-finite weights in training', () => {
  it('train --init from a model with NaN weights is refused before any work, nothing written', () => {
    const dir = freshDir('init-nan');
    alteredModel(
      join(dir, 'nan.safetensors'),
      (n) => n === 'res1.conv1.conv2d.weight',
      (i) => (i % 50 === 0 ? NaN : 0.01),
    );
    const r = cli(trainArgs(dir, 'm.safetensors', '--iters', '1', '--init', join(dir, 'nan.safetensors')), dir);
    expectOneErrorLine(
      r,
      1,
      /nan\.safetensors: the model is unusable: its weight res1\.conv1\.conv2d\.weight holds NaN values \(a run cannot start from it\)/,
    );
    expect(readdirSync(dir)).toEqual(['nan.safetensors']);
  });

  it('a training state with a NaN weight or Adam moment is refused before it is saved', () => {
    const good = {
      step: 7,
      weights: new Map([['w', { data: new Float32Array([1, 2]) }]]),
      moments: new Map([['w', { m: new Float32Array(2), v: new Float32Array(2) }]]),
    };
    expect(() => assertFiniteTrainingState(good, 'm.ckpt.safetensors')).not.toThrow();
    const nanWeight = { ...good, weights: new Map([['w', { data: new Float32Array([1, NaN]) }]]) };
    expect(() => assertFiniteTrainingState(nanWeight, 'm.ckpt.safetensors')).toThrow(
      /diverged at step 7: the weight w holds NaN values; stopped without writing/,
    );
    const infMoment = {
      ...good,
      moments: new Map([['w', { m: new Float32Array(2), v: new Float32Array([Infinity, 0]) }]]),
    };
    expect(() => assertFiniteTrainingState(infMoment, 'm.ckpt.safetensors')).toThrow(
      /Adam's moment of w holds infinite values/,
    );
  });
});

describe('issue 25.5: one train run per --out', () => {
  it('a second run on the same --out is refused while the first runs; the lock goes when it ends', async () => {
    const dir = freshDir('lock');
    const first = spawn(
      process.execPath,
      [CLI, ...trainArgs(dir, 'm.safetensors', '--iters', '1000', '--checkpoint-every', '500')],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    const started = new Promise<void>((res) =>
      first.stderr.on('data', (d: Buffer) => ((stderr += d.toString()), /step 1\/1000/.test(stderr) && res())),
    );
    const exited = new Promise<number | null>((res) => first.on('exit', (code) => res(code)));
    try {
      await started;
      expect(existsSync(join(dir, 'm.lock'))).toBe(true);
      const second = cli(trainArgs(dir, 'm.safetensors', '--iters', '2'), dir);
      expectOneErrorLine(
        second,
        1,
        /m\.safetensors is being written by another train run \(process \d+ on .*lock .*m\.lock\)/,
      );
      const resumed = cli(trainArgs(dir, 'm.safetensors', '--iters', '2', '--resume'), dir);
      expectOneErrorLine(resumed, 1, /is being written by another train run/);
    } finally {
      first.kill('SIGTERM');
    }
    expect(await exited, stderr).toBe(143);
    expect(readdirSync(dir).sort()).toEqual(['m.ckpt.safetensors', 'm.log.jsonl', 'm.loss.svg']);
  }, 300_000);

  it('a stale lock (its process gone) is taken over with a warning; stale temporaries of ours are removed, a live one kept', () => {
    const dir = freshDir('stale-lock');
    writeFileSync(
      join(dir, 's.lock'),
      JSON.stringify({ pid: deadPid(), host: hostname(), started: '2026-01-01T00:00:00Z' }),
    );
    const stale = `.s.ckpt.safetensors.${deadPid()}.deadbeef.tmp`;
    const live = `.s.ckpt.safetensors.${process.pid}.cafebabe.tmp`;
    writeFileSync(join(dir, stale), 'left by kill -9');
    writeFileSync(join(dir, live), 'a live run is writing this');
    const r = cli(trainArgs(dir, 's.safetensors', '--iters', '1'), dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: took over the stale lock .*s\.lock \(process \d+ is gone/m);
    expect(readdirSync(dir).sort()).toEqual([live, 's.ckpt.safetensors', 's.log.jsonl', 's.loss.svg', 's.safetensors']);
  }, 300_000);
});

describe('issue 25.6: --resume checks the loss network', () => {
  it('refuses another --vgg; an older checkpoint without the hash resumes with one warning and records it', () => {
    const dir = freshDir('resume-vgg');
    const first = cli(trainArgs(dir, 'm.safetensors', '--iters', '1'), dir);
    expect(first.status, first.stderr).toBe(0);
    const ckptPath = join(dir, 'm.ckpt.safetensors');
    const before = readFileSync(ckptPath);
    const training = JSON.parse(readSafetensors(new Uint8Array(before)).metadata.training);
    expect(training.vggSha256).toMatch(/^[0-9a-f]{64}$/);
    const other = (...more: string[]) =>
      trainArgs(dir, 'm.safetensors', ...more).map((a) =>
        a === asset('vgg.safetensors') ? asset('other-vgg.safetensors') : a,
      );
    expectOneErrorLine(
      cli(other('--iters', '2', '--resume'), dir),
      2,
      /--vgg .*other-vgg\.safetensors is not the loss network this run was trained with/,
    );
    expect(readFileSync(ckptPath).equals(before)).toBe(true);

    const file = readSafetensors(new Uint8Array(before));
    delete training.vggSha256;
    const tensors = new Map([...file.tensors].map(([k, t]) => [k, { shape: [...t.shape], data: t.data }]));
    writeFileSync(ckptPath, writeSafetensors(tensors, { ...file.metadata, training: JSON.stringify(training) }));
    const old = cli(trainArgs(dir, 'm.safetensors', '--iters', '2', '--resume'), dir);
    expect(old.status, old.stderr).toBe(0);
    expect(old.stderr.match(/warning: .*m\.ckpt\.safetensors does not record which loss network/g)).toHaveLength(1);
    expect(JSON.parse(readSafetensors(new Uint8Array(readFileSync(ckptPath))).metadata.training).vggSha256).toMatch(
      /^[0-9a-f]{64}$/,
    );
    expectOneErrorLine(
      cli(other('--iters', '3', '--resume'), dir),
      2,
      /is not the loss network this run was trained with/,
    );
  }, 300_000);
});

describe('issue 25.7 and 25.14: symlinks among the photos', () => {
  it('listImages follows linked folders (once), skips dangling and looping links with a warning', () => {
    const dir = freshDir('list-links');
    mkdirSync(join(dir, 'data'));
    symlinkSync(join(shared, 'photos'), join(dir, 'data', 'linked'));
    symlinkSync('..', join(dir, 'data', 'linked-parent'));
    symlinkSync('nowhere.png', join(dir, 'data', 'dangling.png'));
    symlinkSync('loop.png', join(dir, 'data', 'loop.png'));
    const warnings: string[] = [];
    const files = listImages(join(dir, 'data'), (m) => warnings.push(m));
    expect(files.map((f) => f.slice(join(dir, 'data').length + 1))).toEqual(['linked/a.png', 'linked/b.png']);
    expect(warnings.sort()).toEqual([
      `skipping ${join(dir, 'data', 'dangling.png')}: a symbolic link to a missing file`,
      `skipping ${join(dir, 'data', 'loop.png')}: a loop of symbolic links`,
    ]);
  });

  it('train and eval run on photos in a linked folder, warning about the broken links', () => {
    const dir = freshDir('train-links');
    mkdirSync(join(dir, 'data'));
    symlinkSync(join(shared, 'photos'), join(dir, 'data', 'linked'));
    symlinkSync('nowhere.png', join(dir, 'data', 'dangling.png'));
    symlinkSync('loop.png', join(dir, 'data', 'loop.png'));
    const data = (args: string[]) => args.map((a) => (a === asset('photos') ? join(dir, 'data') : a));
    const r = cli(data(trainArgs(dir, 'm.safetensors', '--iters', '1')), dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: skipping .*dangling\.png: a symbolic link to a missing file$/m);
    expect(r.stderr).toMatch(/^warning: skipping .*loop\.png: a loop of symbolic links$/m);
    expect(r.stderr).toMatch(/: 2 images,/);
    mkdirSync(join(dir, 'out'));
    const e = cli(
      [
        'eval',
        '-m',
        asset('tiny.safetensors'),
        '-s',
        asset('style.png'),
        '--data',
        'data',
        '--out-dir',
        'out',
        '--vgg',
        asset('vgg.safetensors'),
        '--size',
        '16',
        '--gatys-iters',
        '1',
        '--quiet',
      ],
      dir,
    );
    expect(e.status, e.stderr).toBe(0);
    expect(e.stderr).toMatch(/^warning: skipping .*dangling\.png: a symbolic link to a missing file$/m);
    expect(readdirSync(join(dir, 'out')).sort()).toEqual(['a_eval.png', 'b_eval.png', 'eval.csv']);
  }, 300_000);
});

describe('issue 25.8: special and oversized files are refused before reading', () => {
  it.skipIf(process.platform !== 'linux')(
    '/dev/zero as the model or the image, and a model file over the limit: one line, at once',
    () => {
      const dir = freshDir('special-inputs');
      writeFileSync(join(dir, 'a.png'), readFileSync(asset('photos/a.png')));
      const started = Date.now();
      expectOneErrorLine(
        cli(['stylize', '--model', '/dev/zero', 'a.png', '-o', 'out.png'], dir),
        1,
        /cannot read model \/dev\/zero: it is a character device, not a file/,
      );
      expectOneErrorLine(
        cli(['stylize', '--model', asset('tiny.safetensors'), '/dev/zero', '-o', 'out.png'], dir),
        1,
        /cannot read image \/dev\/zero: it is a character device, not a file/,
      );
      // A sparse file: 1.5 GiB long, no disk used.
      writeFileSync(join(dir, 'huge.safetensors'), '');
      truncateSync(join(dir, 'huge.safetensors'), 1.5 * 2 ** 30);
      expectOneErrorLine(
        cli(['stylize', '--model', 'huge.safetensors', 'a.png', '-o', 'out.png'], dir),
        1,
        /cannot read model huge\.safetensors: larger than 1024 MiB/,
      );
      expectOneErrorLine(
        cli(['convert', '/dev/zero', '-o', 'out.safetensors'], dir),
        1,
        /cannot read model \/dev\/zero: it is a character device/,
      );
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(readdirSync(dir).sort()).toEqual(['a.png', 'huge.safetensors']);
    },
  );

  it.skipIf(process.platform !== 'linux')('a FIFO input (process substitution) is still read', async () => {
    const dir = freshDir('fifo-input');
    execFileSync('mkfifo', [join(dir, 'in.png')]);
    const writer = spawn('sh', ['-c', `cat "${asset('photos/a.png')}" > in.png`], { cwd: dir });
    try {
      const r = cli(['stylize', '-m', asset('tiny.safetensors'), 'in.png', '-o', 'out.png', '--quiet'], dir);
      expect(r.status, r.stderr).toBe(0);
      expect(await widthOf(new Uint8Array(readFileSync(join(dir, 'out.png'))))).toBe(40);
    } finally {
      writer.kill();
    }
  });
});

describe('issue 25.9: missing inputs and folders among several stylize inputs', () => {
  it('are skipped and reported like a corrupt one; the others are written; exit 1 at the end', async () => {
    const dir = freshDir('missing-inputs');
    writeFileSync(join(dir, 'a.png'), readFileSync(asset('photos/a.png')));
    writeFileSync(join(dir, 'corrupt.png'), 'not a png');
    mkdirSync(join(dir, 'folder.png'));
    mkdirSync(join(dir, 'out'));
    const r = cli(
      [
        'stylize',
        '-m',
        asset('tiny.safetensors'),
        'missing.png',
        'folder.png',
        'a.png',
        'corrupt.png',
        '--out-dir',
        'out',
        '--quiet',
      ],
      dir,
    );
    expect(r.status, r.stderr).toBe(1);
    const errors = errorMessages(r.stderr);
    expect(errors[0]).toMatch(/cannot read image missing\.png: no such file/);
    expect(errors[1]).toMatch(/cannot read image folder\.png: it is a directory/);
    expect(errors[2]).toMatch(/corrupt\.png/);
    expect(errors[3]).toMatch(/3 of 4 images failed: missing\.png, folder\.png, corrupt\.png/);
    expect(readdirSync(join(dir, 'out'))).toEqual(['a_tiny.png']);
    expect(await widthOf(new Uint8Array(readFileSync(join(dir, 'out', 'a_tiny.png'))))).toBe(40);
  });
});

describe('issue 25.10 and 25.11: import names, shipped models, error prefixes', () => {
  it('--style naming a path is refused (nothing written outside the folder); a shipped model is never replaced', () => {
    const dir = freshDir('import-style-path');
    const work2 = join(dir, 'here');
    mkdirSync(work2);
    ml5Folder(join(work2, 'wave'));
    expectOneErrorLine(
      cli(['import', 'wave', '--style', '../evil'], work2),
      2,
      /--style "\.\.\/evil" must be a name, not a path/,
    );
    expect(readdirSync(dir)).toEqual(['here']);
    expect(readdirSync(work2)).toEqual(['wave']);

    const shipped = shippedStyles(modelsDir());
    if (shipped.length === 0) return;
    const target = join(modelsDir(), `${shipped[0]}.safetensors`);
    const before = readFileSync(target);
    symlinkSync(target, join(work2, 'link.safetensors'));
    try {
      expectOneErrorLine(
        cli(['import', 'wave', '-o', target], work2),
        1,
        new RegExp(`refusing to replace the shipped style ${shipped[0]}`),
      );
      expectOneErrorLine(
        cli(['import', 'wave', '-o', 'link.safetensors'], work2),
        1,
        /refusing to replace the shipped style/,
      );
    } finally {
      if (!readFileSync(target).equals(before)) writeFileSync(target, before);
    }
    expect(readFileSync(target).equals(before)).toBe(true);
  });

  it('--list-styles says which of two styles of one name --style runs', () => {
    const dir = freshDir('list-styles');
    for (const d of ['first', 'second']) {
      mkdirSync(join(dir, d));
      writeFileSync(join(dir, d, 'wave.safetensors'), 'x');
    }
    writeFileSync(join(dir, 'second', 'udnie.safetensors'), 'x');
    expect(styleListing([join(dir, 'first'), join(dir, 'second')])).toEqual([
      `wave\t${join(dir, 'first')}`,
      `udnie\t${join(dir, 'second')}`,
      `wave\t${join(dir, 'second')}\t(hidden: --style wave runs the one in ${join(dir, 'first')})`,
    ]);
  });

  it.skipIf(process.platform !== 'linux')(
    'errors name the folder (not --source); a Variable that is a folder or a device says so',
    () => {
      const dir = freshDir('import-errors');
      const folder = ml5Folder(join(dir, 'wave'));
      rmSync(join(folder, 'Variable_3'));
      expectOneErrorLine(
        cli(['import', 'wave', '--source', 'my notes', '-o', 'w.safetensors'], dir),
        1,
        /^error: wave: missing file Variable_3 \(variable Variable_3\)$/,
      );
      mkdirSync(join(folder, 'Variable_3'));
      expectOneErrorLine(
        cli(['import', 'wave', '-o', 'w.safetensors'], dir),
        1,
        /cannot read ml5 variable file wave\/Variable_3: it is a directory/,
      );
      rmSync(join(folder, 'Variable_3'), { recursive: true });
      symlinkSync('/dev/zero', join(folder, 'Variable_3'));
      expectOneErrorLine(
        cli(['import', 'wave', '-o', 'w.safetensors'], dir),
        1,
        /cannot read ml5 variable file wave\/Variable_3: it is a character device/,
      );
      expect(readdirSync(dir)).toEqual(['wave']);
    },
  );
});

describe('issue 25.13: --tile honours --memory', () => {
  it('a tile asked for is shrunk to what the memory budget holds', async () => {
    const engine = await testEngine();
    const net = TransformNet.create(engine, { widthMultiplier: 0.25, seed: 3 });
    try {
      const peak = peakFloatsPerPixel(net);
      const memoryBytes = onePassBytes(peak, 40, 40);
      const edge = largestTileEdge(engine, peak, memoryBytes);
      expect(edge).toBeGreaterThanOrEqual(31);
      expect(edge).toBeLessThanOrEqual(32);
      let tiles = 0;
      const out = await stylizeRgba(net, picture(64, 48, 4), {
        tile: 4096,
        memoryBytes,
        onProgress: (_, total) => (tiles = total),
      });
      expect(out.mode).toBe('tiled');
      expect(tiles).toBeGreaterThan(1);
    } finally {
      net.dispose();
    }
  }, 120_000);
});

describe("issue 25.16: Dawn's start-up lines, whatever stderr is", () => {
  it.skipIf(process.platform !== 'linux')(
    'stderr a regular file (2>file, >file 2>&1) or a socket: no "artificially reduced" lines, our lines kept',
    () => {
      const dir = freshDir('dawn-lines');
      writeFileSync(join(dir, 'a.png'), readFileSync(asset('photos/a.png')));
      expect(sh('$CLI info > out.txt 2> err.txt', dir).status).toBe(0);
      expect(readFileSync(join(dir, 'err.txt'), 'utf8')).not.toMatch(/artificially reduced/);
      expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toMatch(/^fast-style-webgpu /);
      const both = sh(
        `{ echo before; $CLI stylize -m "${asset('tiny.safetensors')}" a.png -o b.png; echo after; } > both.txt 2>&1`,
        dir,
      );
      expect(both.status).toBe(0);
      const text = readFileSync(join(dir, 'both.txt'), 'utf8');
      expect(text).not.toMatch(/artificially reduced/);
      expect(text).toMatch(/^before\n(.*\n)*\[1\/1\] a\.png → b\.png .*\nafter\n$/);
      // spawnSync's pipes are sockets.
      const socket = cli(['info'], dir);
      expect(socket.status).toBe(0);
      expect(socket.stderr).not.toMatch(/artificially reduced/);
    },
  );

  // The relay restarts the command: under Deno that needs `run` and the permissions (without them the child
  // could not start, and the image was silently not written).
  it.skipIf(process.platform !== 'linux')(
    'under Deno with stderr a file: the image is written, no Dawn lines',
    () => {
      const dir = freshDir('dawn-lines-deno');
      writeFileSync(join(dir, 'a.png'), readFileSync(asset('photos/a.png')));
      const r = spawnSync(
        'sh',
        ['-c', `"${denoBinary()}" run -A "${CLI}" stylize -m "${asset('tiny.safetensors')}" a.png -o b.png 2> err.txt`],
        { cwd: dir, encoding: 'utf8', timeout: 240_000 },
      );
      const err = readFileSync(join(dir, 'err.txt'), 'utf8');
      expect(r.status, err).toBe(0);
      expect(existsSync(join(dir, 'b.png')), err).toBe(true);
      expect(err).toMatch(/\[1\/1\] a\.png → b\.png /);
      expect(err).not.toMatch(/artificially reduced/);
    },
    240_000,
  );
});
