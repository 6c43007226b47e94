// The CLI as users run it: `node dist/cli.js …` in child processes, checking exit codes, the one-line
// errors on stderr and that failures leave no output file behind.
import { existsSync, linkSync, mkdirSync, symlinkSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodeImage } from '../src/node/image-io.js';
import type { RgbaImage } from '../src/models/rgba-image.js';
import { writeSafetensors } from '../src/models/safetensors.js';
import { testEngine } from './helpers/gpu.js';
import { buildCliIfStale, type CliResult, errorLines, expectOneError, ROOT, runCli, workDir } from './helpers/cli.js';

const TRANSFORM_NET = join(ROOT, 'src', 'models', 'transform-net.ts');
const MODEL_FILE = join(ROOT, 'src', 'models', 'model-file.ts');
const haveTransformNet = existsSync(TRANSFORM_NET) && existsSync(MODEL_FILE);

beforeAll(() => {
  buildCliIfStale();
}, 300_000);

function pattern(width: number, height: number): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      data.set([(x * 255) / width, (y * 255) / height, (x * y) % 256, 255], o);
    }
  }
  return { width, height, data };
}

const cli = (args: string[], cwd = ROOT, env: NodeJS.ProcessEnv = process.env): CliResult => runCli(args, { cwd, env });

const work = workDir('cli-test-');

/** A fresh directory per test, so "no output file" can be checked by listing it. */
function freshDir(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  return dir;
}

describe('cli: help, version and usage errors', () => {
  it('prints the main help with --help and -h, exit 0', () => {
    for (const flag of ['--help', '-h']) {
      const r = cli([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^usage: fast-style-webgpu <command>/);
      expect(r.stdout).toMatch(/stylize/);
      expect(r.stdout).toMatch(/info/);
    }
  });

  it('prints usage and exits 2 without a command', () => {
    const r = cli([]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/usage: fast-style-webgpu/);
  });

  it('prints the version from package.json', () => {
    const r = cli(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });

  for (const command of ['stylize', 'info', 'train']) {
    it(`${command} --help lists its options, exit 0 (help wins over other arguments)`, () => {
      const r = cli([command, '--bogus', '--help']);
      if (command === 'train' && r.status === 2 && /unknown command/.test(r.stderr)) {
        // The train command is another module's; without it there is nothing to check here.
        return;
      }
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: fast-style-webgpu ${command}`));
      expect(r.stdout).toMatch(/-h, --help/);
    });
  }

  it('help COMMAND is the same as COMMAND --help', () => {
    expect(cli(['help', 'stylize']).stdout).toBe(cli(['stylize', '--help']).stdout);
  });

  const usageErrors: [string, string[], RegExp][] = [
    ['unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['unknown top-level option', ['--frobnicate'], /unknown option --frobnicate/],
    [
      'unknown option, with a suggestion',
      ['stylize', '--fromat', 'png', 'a.png'],
      /unknown option --fromat for 'stylize' \(did you mean --format\?\)/,
    ],
    ['missing value', ['stylize', 'a.png', '--model'], /--model needs a value/],
    ['non-numeric value', ['stylize', '--tile', 'big', 'a.png'], /--tile expects a number, got 'big'/],
    ['fractional value', ['stylize', '--quality', '9.5', 'a.png'], /--quality expects a whole number/],
    ['out of range', ['stylize', '--quality', '0', 'a.png'], /--quality must be between 1 and 100, got 0/],
    ['bad choice', ['stylize', '--format', 'gif', 'a.png'], /--format must be one of png, jpeg/],
    ['option given twice', ['stylize', '-m', 'a', '--model', 'b', 'a.png'], /--model is given more than once/],
    ['switch with a value', ['info', '--json=yes'], /takes no value/],
    ['stray argument', ['info', 'extra'], /unexpected argument 'extra'/],
    ['no input', ['stylize', '--model', 'm.safetensors'], /missing INPUT/],
    ['no model', ['stylize', 'a.png'], /missing --model/],
    ['model and style', ['stylize', '--model', 'm', '--style', 's', 'a.png'], /either --model or --style/],
    [
      'unknown style, listing the available ones',
      ['stylize', '--style', 'no_such_style', 'a.png'],
      /unknown style 'no_such_style' \((available: |no styles are installed)/,
    ],
  ];
  for (const [what, args, message] of usageErrors) {
    it(`${what}: one line, exit 2`, () => expectOneError(cli(args), 2, message));
  }
});

describe('cli: info', () => {
  it('describes the adapter', () => {
    const r = cli(['info']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^adapter: /m);
    expect(r.stdout).toMatch(/^backend: /m);
    expect(r.stdout).toMatch(/^fallback adapter: (yes|no)/m);
    expect(r.stdout).toMatch(/maxStorageBufferBindingSize\s+\d+/);
  });

  it('--json is machine-readable', () => {
    const r = cli(['info', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(typeof info.isFallbackAdapter).toBe('boolean');
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(Array.isArray(info.features)).toBe(true);
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('cli: no GPU', () => {
  // Pointing the Vulkan loader at a driver list that does not exist leaves Dawn without an adapter.
  const noGpu = { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json' };
  const ourErrors = (r: CliResult) => r.stderr.split('\n').filter((l) => l.startsWith('error: '));

  it('info: says what to install, exit 1', () => {
    const r = cli(['info'], ROOT, noGpu);
    expect(r.status, r.stderr).toBe(1);
    expect(ourErrors(r)).toHaveLength(1);
    expect(ourErrors(r)[0]).toMatch(/^error: No WebGPU adapter found\..*software Vulkan driver/);
  });

  it('stylize: exit 1 and no output file', async () => {
    const dir = freshDir('no-gpu');
    writeFileSync(join(dir, 'a.png'), await encodeImage(pattern(8, 8), 'png'));
    writeFileSync(join(dir, 'm.safetensors'), 'whatever');
    const r = cli(['stylize', '-m', 'm.safetensors', 'a.png'], dir, noGpu);
    expect(r.status, r.stderr).toBe(1);
    expect(ourErrors(r)[0]).toMatch(/No WebGPU adapter found/);
    expect(readdirSync(dir).sort()).toEqual(['a.png', 'm.safetensors']);
  });
});

describe('cli: stylize errors leave no output file', () => {
  let photo: Uint8Array;
  beforeAll(async () => {
    photo = await encodeImage(pattern(20, 12), 'png');
  });

  it('missing model file: exit 1', () => {
    const dir = freshDir('missing-model');
    writeFileSync(join(dir, 'a.png'), photo);
    const r = cli(['stylize', '--model', 'nope.safetensors', 'a.png', '--out-dir', '.'], dir);
    expectOneError(r, 1, /cannot read model nope\.safetensors: no such file/);
    expect(readdirSync(dir)).toEqual(['a.png']);
  });

  it('corrupt model file: exit 1, naming the file', () => {
    const dir = freshDir('corrupt-model');
    writeFileSync(join(dir, 'a.png'), photo);
    writeFileSync(join(dir, 'bad.safetensors'), Buffer.from('this is not a model file at all'));
    const r = cli(['stylize', '--model', 'bad.safetensors', 'a.png'], dir);
    expectOneError(r, 1, /bad\.safetensors: .*(header|safetensors)/);
    expect(readdirSync(dir).sort()).toEqual(['a.png', 'bad.safetensors']);
  });

  it('a safetensors file that is not a transform net: exit 1', () => {
    const dir = freshDir('wrong-model');
    writeFileSync(join(dir, 'a.png'), photo);
    writeFileSync(
      join(dir, 'vgg.safetensors'),
      writeSafetensors(new Map([['features.0.weight', { shape: [2], data: Float32Array.from([1, 2]) }]])),
    );
    const r = cli(['stylize', '--model', 'vgg.safetensors', 'a.png'], dir);
    expectOneError(r, 1, /vgg\.safetensors: not a fast-style-webgpu model/);
    expect(readdirSync(dir).sort()).toEqual(['a.png', 'vgg.safetensors']);
  });

  it('missing input image: exit 1 before any work', () => {
    const dir = freshDir('missing-input');
    const r = cli(['stylize', '--model', 'm.safetensors', 'ghost.jpg'], dir);
    expectOneError(r, 1, /cannot read image ghost\.jpg: no such file/);
  });

  it('output directory missing: exit 1', () => {
    const dir = freshDir('missing-out-dir');
    writeFileSync(join(dir, 'a.png'), photo);
    const r = cli(['stylize', '--model', 'm.safetensors', 'a.png', '--out-dir', 'nowhere'], dir);
    expectOneError(r, 1, /output directory nowhere does not exist/);
    expect(readdirSync(dir)).toEqual(['a.png']);
  });

  it('output file in a missing directory: exit 1', async () => {
    const dir = freshDir('missing-out-parent');
    writeFileSync(join(dir, 'a.png'), photo);
    expectOneError(
      cli(['stylize', '--model', 'm.safetensors', 'a.png', '-o', 'nowhere/b.png'], dir),
      1,
      /output directory nowhere does not exist/,
    );
  });

  it('refuses to overwrite an input', async () => {
    const dir = freshDir('overwrite-input');
    writeFileSync(join(dir, 'a.png'), photo);
    linkSync(join(dir, 'a.png'), join(dir, 'hard.png'));
    symlinkSync('a.png', join(dir, 'soft.png'));
    for (const out of ['./a.png', 'hard.png', 'soft.png']) {
      expectOneError(
        cli(['stylize', '--model', 'm.safetensors', 'a.png', '-o', out], dir),
        1,
        /refusing to overwrite the input a\.png/,
      );
    }
    expect(readFileSync(join(dir, 'a.png')).equals(Buffer.from(photo))).toBe(true);
  });

  it('output naming conflicts and format mistakes are usage errors', async () => {
    const dir = freshDir('naming');
    mkdirSync(join(dir, 'x'));
    mkdirSync(join(dir, 'y'));
    writeFileSync(join(dir, 'x', 'a.png'), photo);
    writeFileSync(join(dir, 'y', 'a.png'), photo);
    expectOneError(
      cli(['stylize', '-m', 'm.safetensors', 'x/a.png', 'y/a.png'], dir),
      1,
      /inputs x\/a\.png and y\/a\.png would both be written to a_m\.png/,
    );
    expectOneError(
      cli(['stylize', '-m', 'm.safetensors', 'x/a.png', 'y/a.png', '-o', 'b.png'], dir),
      2,
      /--output names one file but 2 inputs/,
    );
    expectOneError(
      cli(['stylize', '-m', 'm.safetensors', 'x/a.png', '-o', 'b.gif'], dir),
      2,
      /cannot tell the image format of b\.gif/,
    );
    expectOneError(
      cli(['stylize', '-m', 'm.safetensors', 'x/a.png', '-o', 'b.png', '--format', 'jpeg'], dir),
      2,
      /--format jpeg contradicts/,
    );
    expectOneError(
      cli(['stylize', '-m', 'm.safetensors', 'x/a.png', '-o', 'b.png', '-q', '80'], dir),
      2,
      /--quality applies to JPEG, WebP and AVIF output only/,
    );
    expect(readdirSync(dir).sort()).toEqual(['x', 'y']);
  });
});

describe.skipIf(!haveTransformNet)('cli: stylize end to end with a transform net', () => {
  let modelPath = '';
  let modelBytes: Uint8Array;

  beforeAll(async () => {
    const { TransformNet } = await import('../src/models/transform-net.js');
    const { saveTransformNet } = await import('../src/models/model-file.js');
    const engine = await testEngine();
    const net = TransformNet.create(engine, { widthMultiplier: 0.25, seed: 3 });
    modelBytes = await saveTransformNet(net, { style: 'test' });
    net.dispose();
    modelPath = join(work, 'tiny.safetensors');
    writeFileSync(modelPath, modelBytes);
  });

  it('stylises a PNG exactly as the library does, and a JPEG, with one model load', async () => {
    const dir = freshDir('e2e');
    const png = pattern(37, 23);
    writeFileSync(join(dir, 'a.png'), await encodeImage(png, 'png'));
    writeFileSync(join(dir, 'b.jpg'), await encodeImage(pattern(30, 40), 'jpeg'));
    mkdirSync(join(dir, 'out'));
    const r = cli(['stylize', '--model', modelPath, 'a.png', 'b.jpg', '--out-dir', 'out'], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(join(dir, 'out')).sort()).toEqual(['a_tiny.png', 'b_tiny.jpg']);
    expect(r.stderr).toMatch(/\[1\/2\] a\.png → out\/a_tiny\.png \(37×23, one-pass, [\d.]+ s\)/);
    expect(r.stderr).toMatch(/\[2\/2\] b\.jpg → out\/b_tiny\.jpg \(30×40, one-pass, [\d.]+ s\)/);

    const a = await decodeImage(new Uint8Array(readFileSync(join(dir, 'out', 'a_tiny.png'))), 'a_tiny.png');
    const b = await decodeImage(new Uint8Array(readFileSync(join(dir, 'out', 'b_tiny.jpg'))), 'b_tiny.jpg');
    expect([a.width, a.height, b.width, b.height]).toEqual([37, 23, 30, 40]);

    const { loadTransformNet } = await import('../src/models/model-file.js');
    const { stylizeRgba } = await import('../src/models/stylize.js');
    const engine = await testEngine();
    const { net } = await loadTransformNet(engine, modelBytes, 'tiny');
    const expected = await stylizeRgba(net, png);
    net.dispose();
    let differing = 0;
    for (let i = 0; i < expected.data.length; i++) if (expected.data[i] !== a.data[i]) differing++;
    expect(differing).toBe(0);
  });

  it('tiles a larger image, honours --max-size, and writes -o', async () => {
    const dir = freshDir('e2e-tiles');
    writeFileSync(join(dir, 'big.png'), await encodeImage(pattern(150, 90), 'png'));
    const r = cli(['stylize', '-m', modelPath, 'big.png', '--tile', '64', '-o', 'tiled.jpg', '-q', '80'], dir);
    expect(r.status, r.stderr).toBe(0);
    const tiled = await decodeImage(new Uint8Array(readFileSync(join(dir, 'tiled.jpg'))), 'tiled.jpg');
    expect([tiled.width, tiled.height]).toEqual([150, 90]);
    const s = cli(['stylize', '-m', modelPath, 'big.png', '--max-size', '50', '-o', 'small.png'], dir);
    expect(s.status, s.stderr).toBe(0);
    const small = await decodeImage(new Uint8Array(readFileSync(join(dir, 'small.png'))), 'small.png');
    expect([small.width, small.height]).toEqual([50, 30]);
    expect(readdirSync(dir).sort()).toEqual(['big.png', 'small.png', 'tiled.jpg']);
  });

  it('--memory beyond one pass runs exact row bands, says so, and writes the one-pass result', async () => {
    const dir = freshDir('e2e-banded');
    writeFileSync(join(dir, 'big.png'), await encodeImage(pattern(150, 90), 'png'));
    const one = cli(['stylize', '-m', modelPath, 'big.png', '-o', 'one.png'], dir);
    expect(one.status, one.stderr).toBe(0);
    expect(one.stderr).toMatch(/\(150×90, one-pass, /);
    const banded = cli(['stylize', '-m', modelPath, 'big.png', '--memory', '1', '-o', 'banded.png'], dir);
    expect(banded.status, banded.stderr).toBe(0);
    expect(banded.stderr).toMatch(/150×90 exceeds one GPU pass: running layer by layer in row bands/);
    expect(banded.stderr).toMatch(/\(150×90, banded, /);
    const a = (await decodeImage(new Uint8Array(readFileSync(join(dir, 'one.png'))), 'one.png')).data;
    const b = (await decodeImage(new Uint8Array(readFileSync(join(dir, 'banded.png'))), 'banded.png')).data;
    let over1 = 0;
    for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > 1) over1++;
    expect(over1 / a.length).toBeLessThanOrEqual(0.001);
  });

  it('an unreadable image fails alone: one error line, no output for it, the others written, exit 1', async () => {
    const dir = freshDir('e2e-bad-image');
    writeFileSync(join(dir, 'photo.jpg'), 'not really a photo');
    writeFileSync(join(dir, 'good.png'), await encodeImage(pattern(16, 16), 'png'));
    const r = cli(['stylize', '-m', modelPath, 'photo.jpg', 'good.png', '--quiet'], dir);
    expect(r.status).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      'error: cannot read photo.jpg: not an image file (PNG, JPEG, WebP, AVIF, HEIC, TIFF or GIF)',
      'error: 1 of 2 images failed: photo.jpg',
    ]);
    expect(readdirSync(dir).sort()).toEqual(['good.png', 'good_tiny.png', 'photo.jpg']);
  });

  it.skipIf(process.platform !== 'linux')('an unwritable output: one line naming it, exit 1', async () => {
    const dir = freshDir('e2e-unwritable');
    writeFileSync(join(dir, 'a.png'), await encodeImage(pattern(8, 8), 'png'));
    expectOneError(
      cli(['stylize', '-m', modelPath, 'a.png', '-o', '/proc/a_out.png'], dir),
      1,
      /^error: cannot write \/proc\/a_out\.png: /,
    );
  });

  it('a single unreadable image: the exact one-line error, exit 1, no output', () => {
    const dir = freshDir('e2e-one-bad-image');
    writeFileSync(join(dir, 'photo.jpg'), 'not really a photo');
    expectOneError(
      cli(['stylize', '-m', modelPath, 'photo.jpg', '-o', 'out.png'], dir),
      1,
      /^error: cannot read photo\.jpg: not an image file \(PNG, JPEG, WebP, AVIF, HEIC, TIFF or GIF\)$/,
    );
    expect(readdirSync(dir)).toEqual(['photo.jpg']);
  });
});
if (!haveTransformNet) {
  describe('cli: stylize end to end', () => {
    it.skip(`skipped: ${TRANSFORM_NET} or ${MODEL_FILE} does not exist yet`, () => {});
  });
}
