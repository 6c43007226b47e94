// Issue 14: no command may destroy an input or write a wrong result silently. Each case runs the CLI as a
// user does (`node dist/cli.js …` in a child process, tiny images and nets) and checks the exit status, the
// one-line message and what is (not) left on disk. FSW_CLI runs them against another build (e.g. the code
// before the fixes, to see them fail).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodeImage } from '../src/node/image-io.js';
import type { RgbaImage } from '../src/models/rgba-image.js';
import { saveTransformNet } from '../src/models/model-file.js';
import { readSafetensors, writeSafetensors } from '../src/models/safetensors.js';
import { TransformNet } from '../src/models/transform-net.js';
import { vggLayers } from '../src/models/vgg.js';
import { rng } from '../src/ops/cpu.js';
import { testEngine } from './helpers/gpu.js';
import { buildCliIfStale, CLI, type CliResult, expectOneErrorLine, runCli, workDir } from './helpers/cli.js';

function picture(width: number, height: number, seed: number, alpha = 255): RgbaImage {
  const r = rng(seed);
  const a = [r(), r(), r()];
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      for (let c = 0; c < 3; c++)
        data[o + c] = Math.round(127 + 100 * Math.sin(0.3 * x * (1 + a[c]) + 0.2 * y + 3 * a[c]));
      data[o + 3] = alpha;
    }
  }
  return { width, height, data };
}

const cli = (args: string[], cwd: string): CliResult => runCli(args, { cwd, timeout: 240_000 });

const work = workDir('cli-hardening-');
const shared = join(work, 'shared');
/** The tiny assets every case copies or points at: photos, a style, a VGG19 cut after relu3_4 (the default layers), a model. */
const asset = (name: string) => join(shared, name);

beforeAll(async () => {
  buildCliIfStale();
  mkdirSync(join(shared, 'photos'), { recursive: true });
  writeFileSync(asset('photos/a.png'), await encodeImage(picture(40, 36, 1), 'png'));
  writeFileSync(asset('photos/b.png'), await encodeImage(picture(33, 40, 2), 'png'));
  writeFileSync(asset('style.png'), await encodeImage(picture(32, 28, 3), 'png'));
  writeFileSync(asset('other-style.png'), await encodeImage(picture(32, 28, 4), 'png'));
  const r = rng(9);
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const l of vggLayers('vgg19').filter((v) => v.kind === 'conv' && v.index <= 16)) {
    const n = l.outChannels * l.inChannels * 9;
    weights.set(`features.${l.index}.weight`, {
      shape: [l.outChannels, l.inChannels, 3, 3],
      data: Float32Array.from({ length: n }, () => (2 * r() - 1) * Math.sqrt(6 / (l.inChannels * 9))),
    });
    weights.set(`features.${l.index}.bias`, { shape: [l.outChannels], data: new Float32Array(l.outChannels) });
  }
  writeFileSync(asset('vgg.safetensors'), writeSafetensors(weights, { vgg_input: 'caffe' }));
  const engine = await testEngine();
  const net = TransformNet.create(engine, { widthMultiplier: 0.25, seed: 2 });
  // Its recorded training losses keep eval on the two shallowest layers (fast).
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
/** A fresh folder per case, so that "nothing written" can be checked by listing it. */
function freshDir(name: string): string {
  const dir = join(work, `${++dirs}-${name}`);
  mkdirSync(dir);
  return dir;
}

/** A training command line at the smallest useful size (32² crops, batch 2, width 0.25, relu1_2/relu2_2). */
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

function bytesOf(path: string): Buffer {
  return readFileSync(path);
}

describe('issue 14.1: outputs never replace an input', () => {
  it('train --out naming the VGG file, or an output beside it naming the sample, is refused with nothing written', async () => {
    const dir = freshDir('train-out-input');
    const vgg = join(dir, 'vgg.safetensors');
    writeFileSync(vgg, bytesOf(asset('vgg.safetensors')));
    const before = bytesOf(vgg);
    const r = cli(
      trainArgs(dir, 'vgg.safetensors', '--iters', '1').map((a) => (a === asset('vgg.safetensors') ? vgg : a)),
      dir,
    );
    expectOneErrorLine(r, 1, /refusing to overwrite the input .*vgg\.safetensors/);
    expect(bytesOf(vgg).equals(before)).toBe(true);

    // NAME.sample.png is written beside the model: here it would be the --sample photo itself.
    const sample = join(dir, 'm.sample.png');
    writeFileSync(sample, await encodeImage(picture(12, 10, 5), 'png'));
    const sampleBefore = bytesOf(sample);
    expectOneErrorLine(
      cli(trainArgs(dir, 'm.safetensors', '--iters', '1', '--sample', sample), dir),
      1,
      /refusing to overwrite the input .*m\.sample\.png/,
    );
    expect(bytesOf(sample).equals(sampleBefore)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['m.sample.png', 'vgg.safetensors']);
  });

  it('train --out with an image name, or inside --data, is refused', () => {
    const dir = freshDir('train-out-name');
    mkdirSync(join(dir, 'photos'));
    writeFileSync(join(dir, 'photos', 'a.png'), bytesOf(asset('photos/a.png')));
    expectOneErrorLine(
      cli(trainArgs(dir, 'model.jpg', '--iters', '1'), dir),
      2,
      /--out .*model\.jpg: the model file's name must end in \.safetensors/,
    );
    const inside = cli(
      trainArgs(dir, 'x.safetensors', '--iters', '1').map((a) =>
        a === asset('photos')
          ? join(dir, 'photos')
          : a === join(dir, 'x.safetensors')
            ? join(dir, 'photos', 'x.safetensors')
            : a,
      ),
      dir,
    );
    expectOneErrorLine(inside, 1, /inside --data/);
    expect(readdirSync(join(dir, 'photos'))).toEqual(['a.png']);
  });

  it('stylize -o naming the model file (with --format) is refused', () => {
    const dir = freshDir('stylize-out-model');
    writeFileSync(join(dir, 'm.safetensors'), bytesOf(asset('tiny.safetensors')));
    writeFileSync(join(dir, 'a.png'), bytesOf(asset('photos/a.png')));
    const before = bytesOf(join(dir, 'm.safetensors'));
    expectOneErrorLine(
      cli(['stylize', '-m', 'm.safetensors', 'a.png', '-o', 'm.safetensors', '--format', 'png'], dir),
      1,
      /refusing to overwrite the input m\.safetensors/,
    );
    expect(bytesOf(join(dir, 'm.safetensors')).equals(before)).toBe(true);
  });

  it('optimize -o through a hard link or symlink to the content image is refused', () => {
    const dir = freshDir('optimize-out-input');
    writeFileSync(join(dir, 'c.png'), bytesOf(asset('photos/a.png')));
    linkSync(join(dir, 'c.png'), join(dir, 'hard.png'));
    symlinkSync('c.png', join(dir, 'soft.png'));
    const before = bytesOf(join(dir, 'c.png'));
    for (const out of ['hard.png', 'soft.png']) {
      const r = cli(
        [
          'optimize',
          '-c',
          'c.png',
          '-s',
          asset('style.png'),
          '--vgg',
          asset('vgg.safetensors'),
          '-o',
          out,
          '--size',
          '16',
          '--iters',
          '1',
        ],
        dir,
      );
      expectOneErrorLine(r, 1, /refusing to overwrite the input c\.png/);
    }
    expect(bytesOf(join(dir, 'c.png')).equals(before)).toBe(true);
  });

  it('eval: a contact sheet may not replace the style image, nor land among the photos', () => {
    const dir = freshDir('eval-out-input');
    mkdirSync(join(dir, 'photos'));
    writeFileSync(join(dir, 'photos', 'a.png'), bytesOf(asset('photos/a.png')));
    // The sheet for photos/a.png is ./a_eval.png: here the style image.
    writeFileSync(join(dir, 'a_eval.png'), bytesOf(asset('style.png')));
    const before = bytesOf(join(dir, 'a_eval.png'));
    const args = (outDir: string) => [
      'eval',
      '-m',
      asset('tiny.safetensors'),
      '-s',
      'a_eval.png',
      '--data',
      'photos',
      '--out-dir',
      outDir,
      '--vgg',
      asset('vgg.safetensors'),
      '--size',
      '16',
      '--gatys-iters',
      '1',
    ];
    expectOneErrorLine(cli(args('.'), dir), 1, /refusing to overwrite the input a_eval\.png/);
    expect(bytesOf(join(dir, 'a_eval.png')).equals(before)).toBe(true);
    expectOneErrorLine(cli(args('photos'), dir), 1, /--out-dir photos is inside --data photos/);
    expect(readdirSync(join(dir, 'photos'))).toEqual(['a.png']);
  });
});

describe('issue 14.2: special files and symlinks as outputs', () => {
  it('a symlink is followed: the file it points to is written, the link stays; a dangling one is refused', async () => {
    const dir = freshDir('symlink-out');
    writeFileSync(join(dir, 'a.png'), bytesOf(asset('photos/a.png')));
    writeFileSync(join(dir, 'target.png'), 'old contents');
    symlinkSync('target.png', join(dir, 'link.png'));
    const r = cli(['stylize', '-m', asset('tiny.safetensors'), 'a.png', '-o', 'link.png', '--quiet'], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(lstatSync(join(dir, 'link.png')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dir, 'link.png'))).toBe('target.png');
    expect((await decodeImage(new Uint8Array(bytesOf(join(dir, 'target.png'))), 'target.png')).width).toBe(40);

    symlinkSync('nowhere/x.png', join(dir, 'dangling.png'));
    expectOneErrorLine(
      cli(['stylize', '-m', asset('tiny.safetensors'), 'a.png', '-o', 'dangling.png'], dir),
      1,
      /cannot write dangling\.png: it is a symbolic link to a missing file/,
    );
    expect(lstatSync(join(dir, 'dangling.png')).isSymbolicLink()).toBe(true);
  });

  it.skipIf(process.platform !== 'linux')(
    'a FIFO is written through (a reader gets the image), never replaced by a regular file',
    async () => {
      const dir = freshDir('fifo-out');
      writeFileSync(join(dir, 'a.png'), bytesOf(asset('photos/a.png')));
      execFileSync('mkfifo', [join(dir, 'pipe.png')]);
      // The reader runs in its own process: opening a FIFO for writing waits for it.
      const reader = spawn('sh', ['-c', 'cat pipe.png > received.png'], { cwd: dir });
      const readerDone = new Promise<number | null>((res) => reader.on('exit', (code) => res(code)));
      try {
        const r = cli(['stylize', '-m', asset('tiny.safetensors'), 'a.png', '-o', 'pipe.png', '--quiet'], dir);
        expect(r.status, r.stderr).toBe(0);
        expect(lstatSync(join(dir, 'pipe.png')).isFIFO()).toBe(true);
        expect(await readerDone).toBe(0);
        expect((await decodeImage(new Uint8Array(bytesOf(join(dir, 'received.png'))), 'received.png')).width).toBe(40);
      } finally {
        reader.kill();
      }
    },
  );
});

describe('issue 14.3: a resumed run checks its style image and data', () => {
  it('refuses another --style or changed --data; an older checkpoint without hashes resumes with one warning and records them', () => {
    const dir = freshDir('resume-inputs');
    mkdirSync(join(dir, 'photos'));
    for (const f of ['a.png', 'b.png']) writeFileSync(join(dir, 'photos', f), bytesOf(asset(`photos/${f}`)));
    const args = (...more: string[]) =>
      trainArgs(dir, 'm.safetensors', ...more).map((a) => (a === asset('photos') ? join(dir, 'photos') : a));
    const first = cli(args('--iters', '1'), dir);
    expect(first.status, first.stderr).toBe(0);
    const ckptPath = join(dir, 'm.ckpt.safetensors');
    const ckptBefore = bytesOf(ckptPath);

    const otherStyle = cli(
      args('--iters', '2', '--resume').map((a) => (a === asset('style.png') ? asset('other-style.png') : a)),
      dir,
    );
    expectOneErrorLine(otherStyle, 2, /--style .*other-style\.png is not the image this run was trained on/);
    writeFileSync(join(dir, 'photos', 'c.png'), bytesOf(asset('photos/a.png')));
    expectOneErrorLine(
      cli(args('--iters', '2', '--resume'), dir),
      2,
      /--data .*photos does not hold the photos this run was trained on/,
    );
    rmSync(join(dir, 'photos', 'c.png'));
    expect(bytesOf(ckptPath).equals(ckptBefore)).toBe(true);

    // A checkpoint from before the hashes were recorded: the same file without them.
    const file = readSafetensors(new Uint8Array(ckptBefore));
    const training = JSON.parse(file.metadata.training);
    expect(training.styleSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(training.dataSha256).toMatch(/^[0-9a-f]{64}$/);
    delete training.styleSha256;
    delete training.dataSha256;
    const tensors = new Map([...file.tensors].map(([k, t]) => [k, { shape: [...t.shape], data: t.data }]));
    writeFileSync(ckptPath, writeSafetensors(tensors, { ...file.metadata, training: JSON.stringify(training) }));
    const old = cli(args('--iters', '2', '--resume'), dir);
    expect(old.status, old.stderr).toBe(0);
    expect(
      old.stderr.match(/warning: .*m\.ckpt\.safetensors does not record which style image and data/g),
    ).toHaveLength(1);
    const after = JSON.parse(readSafetensors(new Uint8Array(bytesOf(ckptPath))).metadata.training);
    expect(after.styleSha256).toBe(
      JSON.parse(readSafetensors(new Uint8Array(ckptBefore)).metadata.training).styleSha256,
    );
    expect(after.dataSha256).toMatch(/^[0-9a-f]{64}$/);
    // From now on it is checked.
    expectOneErrorLine(
      cli(
        args('--iters', '3', '--resume').map((a) => (a === asset('style.png') ? asset('other-style.png') : a)),
        dir,
      ),
      2,
      /is not the image this run was trained on/,
    );
  }, 300_000);
});

describe('issue 14.4: non-finite models', () => {
  /** The tiny model with tensor `name`'s values replaced by `value(i)`. */
  function brokenModel(
    path: string,
    pick: (name: string, shape: readonly number[]) => boolean,
    value: (i: number) => number,
    output?: 'linear',
  ): void {
    const file = readSafetensors(new Uint8Array(bytesOf(asset('tiny.safetensors'))));
    const tensors = new Map(
      [...file.tensors].map(([k, t]) => [
        k,
        {
          shape: [...t.shape],
          data: pick(k, t.shape) ? Float32Array.from(t.data, (_, i) => value(i)) : Float32Array.from(t.data),
        },
      ]),
    );
    const architecture = { ...JSON.parse(file.metadata.architecture), ...(output ? { output } : {}) };
    writeFileSync(path, writeSafetensors(tensors, { ...file.metadata, architecture: JSON.stringify(architecture) }));
  }

  it('weights holding NaN: an error naming the model, no image written', () => {
    const dir = freshDir('nan-weights');
    writeFileSync(join(dir, 'a.png'), bytesOf(asset('photos/a.png')));
    brokenModel(
      join(dir, 'nan.safetensors'),
      (name) => name === 'conv1.conv2d.bias',
      (i) => (i === 3 ? NaN : 0),
    );
    expectOneErrorLine(
      cli(['stylize', '-m', 'nan.safetensors', 'a.png', '-o', 'out.png'], dir),
      1,
      /nan\.safetensors: .*holds NaN values/,
    );
    expect(existsSync(join(dir, 'out.png'))).toBe(false);
    const e = cli(
      [
        'eval',
        '-m',
        'nan.safetensors',
        '-s',
        asset('style.png'),
        '--data',
        join(shared, 'photos'),
        '--vgg',
        asset('vgg.safetensors'),
        '--size',
        '16',
        '--gatys-iters',
        '1',
        '--out-dir',
        '.',
      ],
      dir,
    );
    expectOneErrorLine(e, 1, /nan\.safetensors: .*holds NaN values/);
    expect(readdirSync(dir).sort()).toEqual(['a.png', 'nan.safetensors']);
  });

  it('finite weights whose output overflows to NaN: an error naming the model, no image written', () => {
    const dir = freshDir('nan-output');
    writeFileSync(join(dir, 'a.png'), bytesOf(asset('photos/a.png')));
    // A linear output layer (imported nets have one) whose weights are ±3e38: finite, but the products
    // overflow to ±∞ (the scaled tanh of our own nets clamps its input, so it cannot pass them on).
    brokenModel(
      join(dir, 'huge.safetensors'),
      (name, shape) => name.endsWith('weight') && shape.length === 4 && shape[0] === 3,
      (i) => (i % 2 ? -3e38 : 3e38),
      'linear',
    );
    expectOneErrorLine(
      cli(['stylize', '-m', 'huge.safetensors', 'a.png', '-o', 'out.png'], dir),
      1,
      /huge\.safetensors: the model produced (NaN|infinite) values/,
    );
    expect(existsSync(join(dir, 'out.png'))).toBe(false);
  });
});

describe('issue 14.5: images too thin for the loss network', () => {
  it('optimize with a 64×2 content image or style: a message about the image, exit 1', async () => {
    const dir = freshDir('thin');
    writeFileSync(join(dir, 'thin.png'), await encodeImage(picture(64, 2, 1), 'png'));
    const common = ['--vgg', asset('vgg.safetensors'), '-o', 'out.png', '--size', '32', '--iters', '1'];
    expectOneErrorLine(
      cli(['optimize', '-c', 'thin.png', '-s', asset('style.png'), ...common], dir),
      1,
      /content image thin\.png is 32×1 .*too thin/,
    );
    expectOneErrorLine(
      cli(['optimize', '-c', asset('photos/a.png'), '-s', 'thin.png', ...common], dir),
      1,
      /style image thin\.png is 32×1 .*too thin/,
    );
    expectOneErrorLine(
      cli(
        trainArgs(dir, 'm.safetensors', '--iters', '1').map((a) => (a === asset('style.png') ? 'thin.png' : a)),
        dir,
      ),
      1,
      /style image thin\.png is 32×1 .*too thin/,
    );
    expectOneErrorLine(
      cli(
        [
          'eval',
          '-m',
          asset('tiny.safetensors'),
          '-s',
          'thin.png',
          '--data',
          join(shared, 'photos'),
          '--vgg',
          asset('vgg.safetensors'),
          '--size',
          '16',
          '--gatys-iters',
          '1',
          '--out-dir',
          '.',
        ],
        dir,
      ),
      1,
      /style image thin\.png is .* too thin/,
    );
    expect(readdirSync(dir)).toEqual(['thin.png']);
  });
});

describe('issue 14.6: a model file given as --vgg', () => {
  it('says it is not VGG weights and what it is (train and optimize)', () => {
    const dir = freshDir('model-as-vgg');
    const r = cli(
      trainArgs(dir, 'm.safetensors', '--iters', '1').map((a) =>
        a === asset('vgg.safetensors') ? asset('tiny.safetensors') : a,
      ),
      dir,
    );
    expectOneErrorLine(r, 1, /tiny\.safetensors is not VGG weights: it is a fast-style-webgpu model/);
    const o = cli(
      [
        'optimize',
        '-c',
        asset('photos/a.png'),
        '-s',
        asset('style.png'),
        '--vgg',
        asset('tiny.safetensors'),
        '-o',
        'o.png',
        '--size',
        '16',
        '--iters',
        '1',
      ],
      dir,
    );
    expectOneErrorLine(o, 1, /tiny\.safetensors is not VGG weights: it is a fast-style-webgpu model/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('issue 14.7: Dawn start-up lines', () => {
  it.skipIf(process.platform !== 'linux')('`info 2>&1 | head` shows no "artificially reduced" lines', () => {
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" info 2>&1 | head -n 3`], {
      cwd: work,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/artificially reduced/);
    expect(r.stdout.split('\n')[0]).toMatch(/^fast-style-webgpu \S+ on Node /);
  });
});

describe('issue 14.8: a run that fails before step 1 leaves no log', () => {
  it('no readable photo, or an infinite loss at step 1: no NAME.log.jsonl', () => {
    const dir = freshDir('no-log');
    mkdirSync(join(dir, 'photos'));
    writeFileSync(join(dir, 'photos', 'broken.jpg'), 'not a jpeg');
    const none = cli(
      trainArgs(dir, 'm.safetensors', '--iters', '2').map((a) => (a === asset('photos') ? join(dir, 'photos') : a)),
      dir,
    );
    expect(none.status).toBe(1);
    const inf = cli(trainArgs(dir, 'n.safetensors', '--iters', '2', '--content-weight', '1e38'), dir);
    expect(inf.status).toBe(1);
    expect(inf.stderr).toMatch(/loss became infinite at step 1/);
    expect(readdirSync(dir)).toEqual(['photos']);
  }, 300_000);
});

describe('issue 14.9: a full disk names the file', () => {
  it.skipIf(process.platform !== 'linux')(
    'stylize, optimize and train: "cannot write FILE: no space left on device" (a symlink to /dev/full)',
    () => {
      const dir = freshDir('enospc');
      writeFileSync(join(dir, 'a.png'), bytesOf(asset('photos/a.png')));
      symlinkSync('/dev/full', join(dir, 'full.png'));
      expectOneErrorLine(
        cli(['stylize', '-m', asset('tiny.safetensors'), 'a.png', '-o', 'full.png'], dir),
        1,
        /^error: cannot write full\.png: no space left on device$/,
      );
      expectOneErrorLine(
        cli(
          [
            'optimize',
            '-c',
            'a.png',
            '-s',
            asset('style.png'),
            '--vgg',
            asset('vgg.safetensors'),
            '-o',
            'full.png',
            '--size',
            '16',
            '--iters',
            '1',
            '--quiet',
          ],
          dir,
        ),
        1,
        /^error: cannot write full\.png: no space left on device$/,
      );
      symlinkSync('/dev/full', join(dir, 'm.log.jsonl'));
      expectOneErrorLine(
        cli(trainArgs(dir, 'm.safetensors', '--iters', '2'), dir),
        1,
        /^error: cannot write .*m\.log\.jsonl: no space left on device$/,
      );
      expect(lstatSync(join(dir, 'full.png')).isSymbolicLink()).toBe(true);
      expect(statSync('/dev/full').isCharacterDevice()).toBe(true);
      expect(readdirSync(dir).sort()).toEqual(['a.png', 'full.png', 'm.log.jsonl']);
    },
    300_000,
  );
});

describe('issue 14.10: --out-dir naming a file', () => {
  it('says it is not a directory', () => {
    const dir = freshDir('out-dir-file');
    writeFileSync(join(dir, 'a.png'), bytesOf(asset('photos/a.png')));
    writeFileSync(join(dir, 'file'), 'x');
    expectOneErrorLine(
      cli(['stylize', '-m', asset('tiny.safetensors'), 'a.png', '--out-dir', 'file'], dir),
      1,
      /output directory file is not a directory/,
    );
    expectOneErrorLine(
      cli(
        [
          'eval',
          '-m',
          asset('tiny.safetensors'),
          '-s',
          asset('style.png'),
          '--data',
          join(shared, 'photos'),
          '--out-dir',
          'file',
          '--vgg',
          asset('vgg.safetensors'),
        ],
        dir,
      ),
      1,
      /output directory file is not a directory/,
    );
  });
});

describe('issue 14.11 and 14.12: nothing to do writes nothing; SIGTERM checkpoints', () => {
  it('--resume --iters at or below the checkpoint step: exit 0, every file untouched', async () => {
    const dir = freshDir('nothing-to-do');
    const first = cli(trainArgs(dir, 'm.safetensors', '--iters', '2'), dir);
    expect(first.status, first.stderr).toBe(0);
    const files = readdirSync(dir).sort();
    const snapshot = new Map(
      files.map((f) => [f, { bytes: bytesOf(join(dir, f)), mtime: statSync(join(dir, f)).mtimeMs }]),
    );
    await new Promise((res) => setTimeout(res, 20));
    const again = cli(trainArgs(dir, 'm.safetensors', '--iters', '1', '--resume'), dir);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/nothing to do/);
    expect(again.stderr).not.toMatch(/steps \d+\.\.\d+/);
    expect(readdirSync(dir).sort()).toEqual(files);
    for (const [f, s] of snapshot) {
      expect(bytesOf(join(dir, f)).equals(s.bytes), f).toBe(true);
      expect(statSync(join(dir, f)).mtimeMs, f).toBe(s.mtime);
    }
  }, 300_000);

  it('SIGTERM writes a checkpoint and exits 143', async () => {
    const dir = freshDir('sigterm');
    const child = spawn(
      process.execPath,
      [CLI, ...trainArgs(dir, 't.safetensors', '--iters', '1000', '--checkpoint-every', '500')],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    const status = await new Promise<number | null>((res) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/step 1\/1000/.test(stderr) && !child.killed) child.kill('SIGTERM');
      });
      child.on('exit', (code) => res(code));
    });
    expect(status, stderr).toBe(143);
    expect(stderr).toMatch(/interrupted: finishing this step and writing a checkpoint \(SIGTERM;/);
    expect(
      Number(readSafetensors(new Uint8Array(bytesOf(join(dir, 't.ckpt.safetensors')))).metadata.step),
    ).toBeGreaterThanOrEqual(1);
    expect(existsSync(join(dir, 't.safetensors'))).toBe(false);
  }, 300_000);
});

describe('issue 14.13: eval skips an unreadable photo; RGBA written as JPEG is composited on white', () => {
  it('eval warns about the unreadable photo and evaluates the others', async () => {
    const dir = freshDir('eval-skip');
    mkdirSync(join(dir, 'photos'));
    writeFileSync(join(dir, 'photos', 'a.png'), bytesOf(asset('photos/a.png')));
    writeFileSync(join(dir, 'photos', 'broken.jpg'), 'not a jpeg');
    mkdirSync(join(dir, 'out'));
    const r = cli(
      [
        'eval',
        '-m',
        asset('tiny.safetensors'),
        '-s',
        asset('style.png'),
        '--data',
        'photos',
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
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^warning: skipping cannot read photos\/broken\.jpg: not an image file \(PNG, JPEG, WebP, AVIF, HEIC, TIFF or GIF\)$/m,
    );
    expect(readdirSync(join(dir, 'out')).sort()).toEqual(['a_eval.png', 'eval.csv']);
    expect(
      readFileSync(join(dir, 'out', 'eval.csv'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(3);
  }, 300_000);

  it('stylize of a transparent PNG to JPEG gives white where the photo is transparent', async () => {
    const dir = freshDir('rgba-jpeg');
    writeFileSync(join(dir, 'clear.png'), await encodeImage(picture(24, 20, 6, 0), 'png'));
    const r = cli(['stylize', '-m', asset('tiny.safetensors'), 'clear.png', '-o', 'clear.jpg', '--quiet'], dir);
    expect(r.status, r.stderr).toBe(0);
    const out = await decodeImage(new Uint8Array(bytesOf(join(dir, 'clear.jpg'))), 'clear.jpg');
    let darkest = 255;
    for (let i = 0; i < out.data.length; i += 4)
      darkest = Math.min(darkest, out.data[i], out.data[i + 1], out.data[i + 2]);
    expect(darkest).toBeGreaterThanOrEqual(250);
  });
});
