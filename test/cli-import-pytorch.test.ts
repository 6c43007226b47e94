// `import FILE.pth` as users run it (node dist/cli.js in child processes) on files written by PyTorch 1.13
// (test/fixtures/pytorch, scripts/golden/pytorch_files.py): a pytorch/examples TransformerNet in both container
// formats stylises a kodim23 crop within 1 level of PyTorch; a torchvision VGG16 becomes a file that
// `train --vgg` trains with (and train reads the .pth directly); hostile and damaged files get one line,
// exit 1 and no output file.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodeImage } from '../src/node/image-io.js';
import { readSafetensors } from '../src/models/safetensors.js';
import { buildCliIfStale, type CliResult, expectOneError, ROOT, runCli, workDir } from './helpers/cli.js';
import { zipFile } from './helpers/zip.js';

const DIR = join(ROOT, 'test', 'fixtures', 'pytorch');
const reference = readSafetensors(new Uint8Array(readFileSync(join(DIR, 'reference.safetensors')))).tensors;

beforeAll(() => {
  buildCliIfStale();
}, 300_000);

const cli = (args: string[], cwd = ROOT): CliResult => runCli(args, { cwd });

const work = workDir('cli-import-pytorch-');

/** A [1, 3, H, W] tensor of pixels as a PNG. */
async function tensorPng(path: string, t: { shape: number[]; data: Float32Array }): Promise<void> {
  const [, , h, w] = t.shape;
  const rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) rgba[4 * i + c] = Math.max(0, Math.min(255, Math.round(t.data[c * w * h + i])));
    rgba[4 * i + 3] = 255;
  }
  writeFileSync(path, await encodeImage({ width: w, height: h, data: rgba }, 'png'));
}

/** Pixels of the stylised PNG that differ from PyTorch's output (rounded, clamped) by more than `levels`. */
async function levelsOff(
  png: string,
  expected: { shape: number[]; data: Float32Array },
): Promise<{ worst: number; over1: number; total: number }> {
  const img = await decodeImage(new Uint8Array(readFileSync(png)), png);
  const [, , h, w] = expected.shape;
  expect([img.width, img.height]).toEqual([w, h]);
  let worst = 0;
  let over1 = 0;
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) {
      const want = Math.max(0, Math.min(255, Math.round(expected.data[c * w * h + i])));
      const d = Math.abs(img.data[4 * i + c] - want);
      worst = Math.max(worst, d);
      if (d > 1) over1++;
    }
  }
  return { worst, over1, total: w * h * 3 };
}

const photo = join(work, 'crop.png');

describe('cli import FILE.pth', () => {
  beforeAll(() => tensorPng(photo, reference.get('photo')!));

  it('--help describes .pth files', () => {
    const r = cli(['import', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/usage: fast-style-webgpu import FILE\.pth\|FILE\.onnx\|FOLDER/);
    expect(r.stdout).toMatch(/TransformerNet/);
    expect(r.stdout).toMatch(/vgg16-397923af\.pth/);
  });

  for (const file of ['tnet.pth', 'tnet-legacy.pth']) {
    it(`${file}: a linear-output johnson2016 net that stylises the kodim23 crop within 1 level of PyTorch`, async () => {
      const out = join(work, `${file}.safetensors`);
      const r = cli(['import', join(DIR, file), '-o', out, '--licence', 'test weights']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/TransformerNet width 0\.125, linear output/);
      const model = readSafetensors(new Uint8Array(readFileSync(out)));
      expect(JSON.parse(model.metadata.architecture)).toMatchObject({
        name: 'johnson2016',
        widthMultiplier: 0.125,
        output: 'linear',
      });
      expect(model.metadata).toMatchObject({ style: file.replace('.pth', ''), licence: 'test weights' });
      expect(model.metadata.source).toMatch(file === 'tnet.pth' ? /zip format/ : /legacy format/);
      expect(model.tensors.has('in1.running_mean')).toBe(false);
      const styled = join(work, `${file}.png`);
      const s = cli(['stylize', '--model', out, photo, '-o', styled, '--quiet']);
      expect(s.status, s.stderr).toBe(0);
      const off = await levelsOff(styled, reference.get('output')!);
      expect(off.over1, JSON.stringify(off)).toBe(0);
    }, 120_000);
  }

  it('vgg16.pth: a torchvision-input VGG file naming its layers, which train --vgg uses; train also reads the .pth itself', async () => {
    const out = join(work, 'vgg16.safetensors');
    const r = cli(['import', join(DIR, 'vgg16.pth'), '-o', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /torchvision vgg16, conv1_1\.\.conv2_1: loss layers relu1_1, relu1_2, relu2_1; torchvision input/,
    );
    const file = readSafetensors(new Uint8Array(readFileSync(out)));
    expect(file.metadata).toMatchObject({ vgg_input: 'torchvision', architecture: 'vgg16' });
    expect([...file.tensors.keys()].some((k) => k.startsWith('classifier'))).toBe(false);

    const data = join(work, 'photos');
    mkdirSync(data);
    for (let k = 0; k < 2; k++) {
      const px = new Uint8Array(24 * 24 * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * (7 + k)) % 256));
      writeFileSync(join(data, `p${k}.png`), await encodeImage({ width: 24, height: 24, data: px }, 'png'));
    }
    for (const vgg of [out, join(DIR, 'vgg16.pth')]) {
      const model = join(work, `trained-${vgg.endsWith('.pth') ? 'pth' : 'st'}.safetensors`);
      const t = cli([
        'train',
        '--style',
        photo,
        '--data',
        data,
        '--vgg',
        vgg,
        '--out',
        model,
        '--iters',
        '2',
        '--size',
        '16',
        '--batch',
        '1',
        '--style-size',
        '16',
        '--width',
        '0.125',
        '--content-layer',
        'relu1_2',
        '--style-layers',
        'relu1_1,relu2_1',
      ]);
      expect(t.status, t.stderr).toBe(0);
      expect(JSON.parse(readSafetensors(new Uint8Array(readFileSync(model))).metadata.step ?? '0')).toBe(2);
    }
  }, 300_000);

  const evilPickle = Uint8Array.from([
    0x80,
    0x02,
    0x63,
    ...Buffer.from('posix\nsystem\n'),
    0x8c,
    5,
    ...Buffer.from('touch'),
    0x85,
    0x52,
    0x2e,
  ]);
  const tnet = new Uint8Array(readFileSync(join(DIR, 'tnet.pth')));
  const bad: [string, () => Uint8Array, RegExp][] = [
    [
      'a pickle that calls os.system',
      () => zipFile([{ name: 'archive/data.pkl', data: evilPickle }]),
      /the pickle refers to posix\.system, which a PyTorch state dict does not use; refusing to load it \(nothing from the file was run\)/,
    ],
    ['a truncated zip', () => tnet.subarray(0, 60_000), /truncated or corrupt zip/],
    [
      'wrong shapes',
      () => new Uint8Array(readFileSync(join(DIR, 'tnet-wrong-shape.pth'))),
      /tensor conv1\.conv2d\.bias has shape \[5\], a width-0\.125 johnson2016 transform net needs \[4\]/,
    ],
    [
      'a file that is no checkpoint',
      () => new TextEncoder().encode('{"not": "a checkpoint"}'),
      /not a PyTorch checkpoint/,
    ],
  ];
  for (const [what, bytes, message] of bad) {
    it(`${what}: one error line, exit 1, no output file`, () => {
      const name = what.replace(/\W+/g, '-');
      const input = join(work, `${name}.pth`);
      writeFileSync(input, bytes());
      const outDir = join(work, `out-${name}`);
      mkdirSync(outDir);
      expectOneError(cli(['import', input, '-o', join(outDir, 'x.safetensors')]), 1, message);
      expect(readdirSync(outDir)).toEqual([]);
    });
  }

  it('never writes over its input', () => {
    const input = join(work, 'same.safetensors');
    copyFileSync(join(DIR, 'tnet.pth'), input);
    expectOneError(cli(['import', input, '-o', input]), 1, /refusing to overwrite the input/);
  });
});
