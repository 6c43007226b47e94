// The optimize and eval commands as users run them (`node dist/cli.js …` in child processes), at tiny sizes:
// files written, their sizes and CSV layout, exit statuses for bad command lines.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodeImage } from '../src/node/image-io.js';
import type { RgbaImage } from '../src/models/rgba-image.js';
import { saveTransformNet } from '../src/models/model-file.js';
import { writeSafetensors } from '../src/models/safetensors.js';
import { TransformNet } from '../src/models/transform-net.js';
import { vggLayers } from '../src/models/vgg.js';
import { rng } from '../src/ops/cpu.js';
import { testEngine } from './helpers/gpu.js';
import { buildCliIfStale, errorLines, ROOT, runCli, workDir } from './helpers/cli.js';

const SHARED_VGG19 = join(ROOT, '../shared/assets/vgg/vgg19_conv1_1-conv3_4.safetensors');
const haveShared = existsSync(SHARED_VGG19);
const which = haveShared ? 'shared VGG19' : 'random VGG19 weights';
const CSV_HEADER =
  'image,method,iterations,evaluations,seconds,content_loss,style_loss,tv_loss,total_loss,droplet_share,style_ratio';

const work = workDir('eval-test-');
let vgg = SHARED_VGG19;

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

beforeAll(async () => {
  buildCliIfStale();
  const e = await testEngine();
  const net = TransformNet.create(e, { widthMultiplier: 0.25, seed: 2 });
  writeFileSync(join(work, 'tiny.safetensors'), await saveTransformNet(net, { style: 'stripes' }));
  net.dispose();
  mkdirSync(join(work, 'photos'));
  writeFileSync(join(work, 'photos', 'a.png'), await encodeImage(picture(40, 30, 1), 'png'));
  writeFileSync(join(work, 'photos', 'b.png'), await encodeImage(picture(30, 40, 2), 'png'));
  writeFileSync(join(work, 'style.png'), await encodeImage(picture(24, 12, 3), 'png'));
  if (!haveShared) {
    // Random He-uniform VGG19 weights up to conv3_4, caffe input (declared in the metadata).
    vgg = join(work, 'vgg19-random.safetensors');
    const r = rng(9);
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const l of vggLayers('vgg19').filter((l) => l.index <= 16)) {
      if (l.kind !== 'conv') continue;
      const w = new Float32Array(l.outChannels * l.inChannels * 9);
      const bound = Math.sqrt(6 / (l.inChannels * 9));
      for (let i = 0; i < w.length; i++) w[i] = (2 * r() - 1) * bound;
      tensors.set(`features.${l.index}.weight`, { shape: [l.outChannels, l.inChannels, 3, 3], data: w });
      tensors.set(`features.${l.index}.bias`, { shape: [l.outChannels], data: new Float32Array(l.outChannels) });
    }
    writeFileSync(vgg, writeSafetensors(tensors, { vgg_input: 'caffe' }));
  }
}, 300_000);
const cli = (args: string[]) => runCli(args, { cwd: work });

describe(`eval and optimize commands (${which})`, () => {
  it(`eval writes a CSV with one row per photo and method, and contact sheets (${which})`, async () => {
    const out = join(work, 'eval-out');
    mkdirSync(out);
    const r = cli([
      'eval',
      '--model',
      'tiny.safetensors',
      '--style',
      'style.png',
      '--data',
      'photos',
      '--vgg',
      vgg,
      '--size',
      '20',
      '--gatys-iters',
      '2,1',
      '--out-dir',
      out,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const lines = readFileSync(join(out, 'eval.csv'), 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe(CSV_HEADER);
    const rows = lines.slice(1).map((l) => l.split(','));
    expect(rows.map((c) => [c[0].replace(/^.*photos\//, ''), c[1], c[2]])).toEqual([
      ['a.png', 'net', ''],
      ['a.png', 'gatys', '1'],
      ['a.png', 'gatys', '2'],
      ['b.png', 'net', ''],
      ['b.png', 'gatys', '1'],
      ['b.png', 'gatys', '2'],
    ]);
    for (const c of rows) {
      expect(c).toHaveLength(11);
      expect(Number(c[10])).toBeGreaterThan(0);
      expect(Number(c[9])).toBeGreaterThanOrEqual(0);
      expect(Number(c[9])).toBeLessThanOrEqual(1);
      for (const v of c.slice(4)) expect(Number.isFinite(Number(v)), `${v} in ${c.join(',')}`).toBe(true);
      // total = cw·content + sw·style + tvw·tv with eval's defaults for an untrained model (1, 0.3, 0).
      const [content, style, , total] = c.slice(5, 9).map(Number);
      expect(total).toBeCloseTo(content + 0.3 * style, -Math.log10(Math.abs(total)) + 4);
    }
    // Sheets: photo | net | net's droplets | gatys@1 | gatys@2 | style (24×12 scaled to the photo's height), 4-pixel gaps.
    for (const [name, w, h] of [
      ['a', 20, 15],
      ['b', 15, 20],
    ] as const) {
      const sheet = await decodeImage(new Uint8Array(readFileSync(join(out, `${name}_eval.png`))), name);
      expect([sheet.width, sheet.height]).toEqual([5 * w + 2 * h + 5 * 4, h]);
    }
    expect(r.stdout).toMatch(
      /mean total loss over 2 photos: net .*droplets \d+\.\d\d %, style\/photo \d+\.\d{3}.*gatys@1 .*gatys@2/,
    );
    expect(r.stdout).toMatch(
      /the net (is worse than Gatys after 1 iterations|matches Gatys at between 1 and 2 iterations|is better than Gatys after 2 iterations)/,
    );
    // No temporary files left behind.
    expect(readdirSync(out).sort()).toEqual(['a_eval.png', 'b_eval.png', 'eval.csv']);
  });

  it(`eval --net-only measures the net alone with the shipped loss network when --vgg is not given`, async () => {
    const out = join(work, 'eval-net-only');
    mkdirSync(out);
    const r = cli([
      'eval',
      '--model',
      'tiny.safetensors',
      '--style',
      'style.png',
      '--data',
      'photos',
      '--size',
      '20',
      '--net-only',
      '--out-dir',
      out,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const rows = readFileSync(join(out, 'eval.csv'), 'utf8').trimEnd().split('\n').slice(1);
    expect(rows.map((l) => l.split(',')[1])).toEqual(['net', 'net']);
    expect(r.stdout).toMatch(/no Gatys iterations measured/);
    expect(r.stderr + r.stdout).toMatch(/evaluating 2 photos at 20 px: the net only \(no Gatys\); weights /);
    const both = cli([
      'eval',
      '--model',
      'tiny.safetensors',
      '--style',
      'style.png',
      '--data',
      'photos',
      '--net-only',
      '--gatys-iters',
      '5',
    ]);
    expect(both.status).toBe(2);
    expect(errorLines(both.stderr)).toEqual([expect.stringMatching(/--net-only .*not both/)]);
  });

  it(`optimize writes an image of the requested size (${which})`, async () => {
    const r = cli([
      'optimize',
      '--content',
      'photos/a.png',
      '--style',
      'style.png',
      '-o',
      'opt.png',
      '--vgg',
      vgg,
      '--size',
      '24',
      '--iters',
      '3',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const img = await decodeImage(new Uint8Array(readFileSync(join(work, 'opt.png'))), 'opt.png');
    expect([img.width, img.height]).toEqual([24, 18]);
    expect(r.stderr).toMatch(/iter 1\/3 .*it\/s.*content .*style .*total/);
    expect(r.stderr).toMatch(/wrote opt\.png \(24×18/);
    const adam = cli([
      'optimize',
      '-c',
      'photos/b.png',
      '-s',
      'style.png',
      '-o',
      'opt-adam.jpg',
      '--vgg',
      vgg,
      '--size',
      '16',
      '--iters',
      '2',
      '--optimizer',
      'adam',
      '--init',
      'noise',
      '--quiet',
    ]);
    expect(adam.status, adam.stderr).toBe(0);
    expect(errorLines(adam.stderr)).toEqual([]);
    const j = await decodeImage(new Uint8Array(readFileSync(join(work, 'opt-adam.jpg'))), 'opt-adam.jpg');
    expect([j.width, j.height]).toEqual([12, 16]);
  });

  it('--help works for both, exit 0', async () => {
    for (const c of ['optimize', 'eval']) {
      const r = cli([c, '--help']);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: fast-style-webgpu ${c} `));
      expect(r.stdout).toMatch(/--vgg FILE/);
    }
  });

  const usage: [string, string[], RegExp][] = [
    ['optimize without --content', ['optimize', '--style', 'style.png', '-o', 'x.png'], /missing --content/],
    [
      'optimize --iters 0',
      ['optimize', '--content', 'photos/a.png', '--style', 'style.png', '-o', 'x.png', '--iters', '0'],
      /--iters must be between 1/,
    ],
    [
      'optimize to .gif',
      ['optimize', '--content', 'photos/a.png', '--style', 'style.png', '-o', 'x.gif'],
      /cannot tell the image format/,
    ],
    [
      'optimize --init bogus',
      ['optimize', '--content', 'photos/a.png', '--style', 'style.png', '-o', 'x.png', '--init', 'grey'],
      /--init must be one of content, noise/,
    ],
    [
      'optimize --history with adam',
      [
        'optimize',
        '--content',
        'photos/a.png',
        '--style',
        'style.png',
        '-o',
        'x.png',
        '--optimizer',
        'adam',
        '--history',
        '5',
      ],
      /--history applies to --optimizer lbfgs/,
    ],
    ['eval without --data', ['eval', '--model', 'tiny.safetensors', '--style', 'style.png'], /missing --data/],
    [
      'eval --gatys-iters 0',
      ['eval', '--model', 'tiny.safetensors', '--style', 'style.png', '--data', 'photos', '--gatys-iters', '10,0'],
      /--gatys-iters: '0'/,
    ],
    ['eval unknown option', ['eval', '--modle', 'tiny.safetensors'], /unknown option --modle .*did you mean --model/],
  ];
  for (const [what, args, message] of usage) {
    it(`${what}: one error line, exit 2, nothing written`, () => {
      const r = cli(args);
      expect(r.status, r.stderr).toBe(2);
      const lines = errorLines(r.stderr);
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^error: /);
      expect(lines[0]).toMatch(message);
      expect(existsSync(join(work, 'x.png'))).toBe(false);
    });
  }

  it('stylize --strength 0 writes the photo unchanged; --preserve-colors runs; --strength 2 is a usage error', async () => {
    const r = cli(['stylize', '--model', 'tiny.safetensors', 'photos/a.png', '-o', 's0.png', '--strength', '0']);
    expect(r.status, r.stderr).toBe(0);
    const original = await decodeImage(new Uint8Array(readFileSync(join(work, 'photos', 'a.png'))), 'a.png');
    expect(Array.from((await decodeImage(new Uint8Array(readFileSync(join(work, 's0.png'))), 's0.png')).data)).toEqual(
      Array.from(original.data),
    );
    const p = cli([
      'stylize',
      '--model',
      'tiny.safetensors',
      'photos/a.png',
      '-o',
      'pc.png',
      '--preserve-colors',
      '--strength',
      '0.8',
    ]);
    expect(p.status, p.stderr).toBe(0);
    expect(existsSync(join(work, 'pc.png'))).toBe(true);
    const bad = cli(['stylize', '--model', 'tiny.safetensors', 'photos/a.png', '-o', 'bad.png', '--strength', '2']);
    expect(bad.status).toBe(2);
    expect(errorLines(bad.stderr)).toEqual([expect.stringMatching(/^error: --strength must be between 0 and 1/)]);
    expect(existsSync(join(work, 'bad.png'))).toBe(false);
  });

  it('a missing photo or data folder is a failure: exit 1, no output file', () => {
    const r = cli(['optimize', '--content', 'nope.png', '--style', 'style.png', '-o', 'x.png', '--vgg', vgg]);
    expect(r.status).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      expect.stringMatching(/^error: cannot read content image nope\.png: no such file/),
    ]);
    expect(existsSync(join(work, 'x.png'))).toBe(false);
    const e = cli(['eval', '--model', 'tiny.safetensors', '--style', 'style.png', '--data', 'nowhere', '--vgg', vgg]);
    expect(e.status).toBe(1);
    expect(errorLines(e.stderr)).toEqual([expect.stringMatching(/^error: --data nowhere does not exist/)]);
  });
});
