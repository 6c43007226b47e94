// `import` as users run it: `node dist/cli.js import …` in child processes on ml5.js model folders built
// from the golden fixture's small net (width 0.125): exit codes, one-line errors, no output file on failure,
// and `stylize --model` on the result at a size that is not a multiple of 4.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodeImage } from '../src/node/image-io.js';
import { readSafetensors } from '../src/models/safetensors.js';
import { goldenFile } from './helpers/golden.js';
import { buildCliIfStale, type CliResult, expectOneError, ROOT, runCli, workDir } from './helpers/cli.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const index: any = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'golden', 'ml5.json'), 'utf8'));

beforeAll(() => {
  buildCliIfStale();
}, 300_000);

const cli = (args: string[], cwd = ROOT): CliResult => runCli(args, { cwd });

const work = workDir('cli-import-test-');

/** An ml5 model folder (manifest.json + raw float32 Variable files) of the fixture's small net. */
function ml5Folder(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const manifest: Record<string, { filename: string; shape: number[] }> = {};
  (index.small.variables as string[]).forEach((stored, i) => {
    const variable = i === 0 ? 'Variable' : `Variable_${i}`;
    const t = goldenFile(index.file).get(stored)!;
    manifest[variable] = { filename: variable, shape: t.shape };
    writeFileSync(join(dir, variable), Buffer.from(Float32Array.from(t.data).buffer));
  });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

describe('cli import', () => {
  it('--help describes the command, exit 0', async () => {
    const r = cli(['import', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/usage: fast-style-webgpu import FILE\.pth\|FILE\.onnx\|FOLDER/);
    expect(r.stdout).toMatch(/manifest\.json/);
    expect(r.stdout).toMatch(/ml5-lengstrom/);
  });

  it('imports a folder: metadata names architecture, style, source and licence; stylize --model runs it at 13×9', async () => {
    const folder = ml5Folder('tiny_style');
    const out = join(work, 'tiny.safetensors');
    const r = cli(['import', folder, '-o', out]);
    expect(r.status, r.stderr).toBe(0);
    const file = readSafetensors(new Uint8Array(readFileSync(out)));
    expect(JSON.parse(file.metadata.architecture)).toMatchObject({ name: 'ml5-lengstrom', widthMultiplier: 0.125 });
    expect(file.metadata).toMatchObject({
      style: 'tiny_style',
      licence: 'ml5.js weights, MIT; training code research use',
      source: 'ml5.js style-transfer model folder tiny_style',
    });
    expect(file.tensors.size).toBe(48);

    const photo = join(work, 'photo.png');
    const pixels = new Uint8Array(13 * 9 * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 29) % 256));
    writeFileSync(photo, await encodeImage({ width: 13, height: 9, data: pixels }, 'png'));
    const styled = join(work, 'styled.png');
    const s = cli(['stylize', '--model', out, photo, '-o', styled, '--quiet']);
    expect(s.status, s.stderr).toBe(0);
    const img = await decodeImage(new Uint8Array(readFileSync(styled)), styled);
    expect([img.width, img.height]).toEqual([13, 9]);
  }, 120_000);

  const bad: [string, (dir: string) => void, RegExp][] = [
    ['no manifest.json', (d) => rmSync(join(d, 'manifest.json')), /no manifest\.json \(not an ml5\.js/],
    [
      'a missing variable file',
      (d) => rmSync(join(d, 'Variable_7')),
      /missing file Variable_7 \(variable Variable_7\)/,
    ],
    [
      'a file with the wrong byte count',
      (d) => writeFileSync(join(d, 'Variable_3'), Buffer.alloc(100)),
      /Variable_3 has 100 bytes, Variable_3 \[3, 3, 4, 8\] needs 1152/,
    ],
    [
      'an unknown layout (47 variables)',
      (d) => {
        const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8'));
        delete m.Variable_47;
        writeFileSync(join(d, 'manifest.json'), JSON.stringify(m));
      },
      /unknown checkpoint layout \(47 variables\)/,
    ],
    [
      'a manifest that is not JSON',
      (d) => writeFileSync(join(d, 'manifest.json'), '{ "Variable": '),
      /manifest\.json is not valid JSON/,
    ],
  ];
  for (const [what, spoil, message] of bad) {
    it(`${what}: one error line, exit 1, no output file`, () => {
      const folder = ml5Folder(`bad-${what.replace(/\W+/g, '-')}`);
      spoil(folder);
      const outDir = join(work, `out-${what.replace(/\W+/g, '-')}`);
      mkdirSync(outDir);
      const r = cli(['import', folder, '-o', join(outDir, 'x.safetensors')]);
      expectOneError(r, 1, message);
      expect(readdirSync(outDir)).toEqual([]);
    });
  }

  it('a folder that does not exist, and a file given as the folder', () => {
    expectOneError(
      cli(['import', join(work, 'nope'), '-o', join(work, 'nope.safetensors')]),
      1,
      /ml5 model folder .*nope does not exist/,
    );
    const file = join(work, 'plain-file');
    copyFileSync(join(ROOT, 'package.json'), file);
    expectOneError(cli(['import', file, '-o', join(work, 'f.safetensors')]), 1, /not a PyTorch checkpoint/);
    expect(existsSync(join(work, 'nope.safetensors')) || existsSync(join(work, 'f.safetensors'))).toBe(false);
  });
});
