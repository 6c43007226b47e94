// The browser side end to end: the library bundle (no Node APIs in it), the demo's static server, and the
// engine, the stylizer and the demo page in a real Chromium (Debian's /usr/bin/chromium driven by
// playwright-core), compared with the Node engine on the same inputs.
//
// On machines without a GPU Chromium offers WebGPU only through SwiftShader (a fallback adapter: slow,
// correct), so every shape here is tiny. Without /usr/bin/chromium the Chromium part skips with a message;
// CI installs it (scripts/setup-chromium.sh from .ci/run).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs build/serve scripts, no type declarations
import { startServer } from '../scripts/serve.mjs';
import { apply } from '../src/autograd/tape.js';
import { Tensor } from '../src/engine/tensor.js';
import { add, relu, scaledTanh } from '../src/ops/elementwise.js';
import { ml5CheckpointTensors, type Ml5Manifest } from '../src/models/ml5-checkpoint.js';
import { saveTransformNet } from '../src/models/model-file.js';
import { readSafetensors } from '../src/models/safetensors.js';
import { stylizeRgba } from '../src/models/stylize.js';
import { TransformNet } from '../src/models/transform-net.js';
import { blendRgba, fitSize, toRgba } from '../src/browser/pixels.js';
import {
  ARTIFACTS,
  HAVE_CHROMIUM,
  maxAbsDiff,
  openChromium,
  REPO,
  useSite,
  warnWithoutChromium,
  type ChromiumSession,
} from './helpers/chromium.js';
import { testEngine } from './helpers/gpu.js';
import type { RgbaImage } from '../src/models/rgba-image.js';

/** A fake camera for the demo's webcam path, granted without a prompt. */
const FAKE_CAMERA = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];
warnWithoutChromium('test/browser.test.ts', 'the Chromium tests');

/**
 * Tolerance between the page's and Node's stylized bytes. Both run the same WGSL in f32, but on different
 * drivers (SwiftShader in Chromium, lavapipe through Dawn in Node) whose exp/tanh/sqrt and summation order
 * differ in the last bits; after ~20 layers and rounding to bytes that is at most a level or two of 255.
 */
const STYLIZE_TOL = 2;

// ------------------------------------------------------------------ shared fixtures

const work = useSite('fsw-browser-test-');

/** Deterministic RGBA test image: gradients, a bright square, varying alpha kept at 255 except one column. */
function testImage(width: number, height: number): RgbaImage<Uint8Array> {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const inSquare = x >= 4 && x < 10 && y >= 3 && y < 8;
      data[i] = inSquare ? 250 : Math.round((255 * x) / (width - 1));
      data[i + 1] = inSquare ? 220 : Math.round((255 * y) / (height - 1));
      data[i + 2] = (x * 37 + y * 91) % 256;
      data[i + 3] = 255;
    }
  }
  return { width, height, data };
}

/** s·styled + (1 − s)·content on RGB, alpha from the content: written out here, not taken from pixels.ts. */
function mix(content: ArrayLike<number>, styled: ArrayLike<number>, s: number): number[] {
  return Array.from(content, (a, i) => (i % 4 === 3 ? a : Math.round(s * styled[i] + (1 - s) * a)));
}

/**
 * A style file for the listing, which reads only the safetensors header: the header of a transform net
 * (no tensors), padded with spaces (JSON whitespace) to `bytes` in all.
 */
function styleHeaderFile(bytes: number): Buffer {
  const json = JSON.stringify({ __metadata__: { format: 'fast-style-webgpu/transform-net' } });
  const header = Buffer.from(json.padEnd(Math.max(json.length, bytes - 8), ' '));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([prefix, header]);
}

/** Raw HTTP GET (no URL normalisation, unlike fetch, so that `..` reaches the server as sent). */
function rawGet(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        ok({
          status: res.statusCode ?? 0,
          type: String(res.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', fail);
    req.end();
  });
}

// ------------------------------------------------------------------ bundle

describe('browser bundle', () => {
  it('holds only our sources and no Node API', () => {
    const text = readFileSync(work.site.bundle, 'utf8');
    // Everything bundled comes from src/ (no package from node_modules: webgpu, sharp, pngjs…).
    const foreign = Object.keys(work.site.metafile.inputs).filter((p) => !p.startsWith('src/'));
    expect(foreign).toEqual([]);
    for (const name of [
      'src/browser/index.ts',
      'src/browser/stylizer.ts',
      'src/models/model-file.ts',
      'src/models/stylize.ts',
      'src/engine/engine.ts',
      'src/models/trainer.ts',
      'src/models/checkpoint.ts',
      'src/browser/train-run.ts',
      'src/browser/train-data.ts',
      'src/browser/run-store.ts',
    ]) {
      expect(Object.keys(work.site.metafile.inputs)).toContain(name);
    }
    // …and it imports nothing at run time.
    const out = Object.entries(work.site.metafile.outputs).find(([p]) => p.endsWith('browser.js'))![1];
    expect(out.imports).toEqual([]);
    expect(text).not.toMatch(/["'`]node:/);
    expect(text).not.toMatch(/\brequire\(/);
    for (const mod of ['webgpu', 'sharp', 'pngjs', 'jpeg-js', 'worker_threads', 'fs', 'path']) {
      expect(text, mod).not.toMatch(new RegExp(`(from|import)\\s*\\(?\\s*["']${mod}["']`));
    }
    const raw = text.length;
    const gz = gzipSync(text).length;
    console.log(`browser bundle: ${(raw / 1024).toFixed(1)} KiB raw, ${(gz / 1024).toFixed(1)} KiB gzip`);
  });

  it('the demo imports the library from ./browser.js instead of carrying a copy', () => {
    const main = readFileSync(join(work.site.demo, 'main.js'), 'utf8');
    expect(main).toMatch(/from\s*["']\.\/browser\.js["']/);
    expect(main.length).toBeLessThan(40_000);
    expect(existsSync(join(work.site.demo, 'index.html'))).toBe(true);
  });
});

// ------------------------------------------------------------------ pixel helpers (src/browser/pixels.ts)

describe('pixel helpers', () => {
  it('blendRgba mixes RGB by strength and keeps the content alpha', () => {
    const content = { width: 2, height: 1, data: Uint8Array.from([0, 100, 200, 255, 10, 20, 30, 7]) };
    const styled = { width: 2, height: 1, data: Uint8Array.from([200, 0, 100, 0, 110, 120, 130, 99]) };
    expect(Array.from(blendRgba(content, styled, 0.25))).toEqual([50, 75, 175, 255, 35, 45, 55, 7]);
    expect(Array.from(blendRgba(content, styled, 1))).toEqual([200, 0, 100, 255, 110, 120, 130, 7]);
    expect(Array.from(blendRgba(content, styled, 0))).toEqual(Array.from(content.data.map((v) => v)));
    // RGB (3 bytes a pixel) styled input.
    expect(
      Array.from(blendRgba(content, { width: 2, height: 1, data: Uint8Array.from([200, 0, 100, 110, 120, 130]) }, 0.5)),
    ).toEqual([100, 50, 150, 255, 60, 70, 80, 7]);
    expect(() => blendRgba(content, styled, 1.5)).toThrow(/strength/);
    expect(() => blendRgba(content, { width: 1, height: 2, data: styled.data }, 1)).toThrow(/differ/);
  });

  it('toRgba checks raw pixels; fitSize keeps the aspect and never enlarges', () => {
    const px = { width: 3, height: 2, data: new Uint8Array(24) };
    expect(toRgba(px)).toEqual(px);
    expect(() => toRgba({ width: 3, height: 2, data: new Uint8Array(23) })).toThrow(/24 RGBA bytes, got 23/);
    expect(() => toRgba({ width: 0, height: 2, data: new Uint8Array(0) })).toThrow(/positive/);
    expect(fitSize(1000, 500, 512)).toEqual({ width: 512, height: 256 });
    expect(fitSize(300, 1200, 512)).toEqual({ width: 128, height: 512 });
    expect(fitSize(20, 12, 512)).toEqual({ width: 20, height: 12 });
  });
});

// ------------------------------------------------------------------ static server

describe('static server (scripts/serve.mjs)', () => {
  let srv: { port: number; url: string; close(): Promise<void> };
  let root = '';

  beforeAll(async () => {
    // A private tree: a secret beside the served folders must never come out.
    root = join(work.dir, 'serve');
    mkdirSync(join(root, 'demo', 'sub'), { recursive: true });
    mkdirSync(join(root, 'models'), { recursive: true });
    writeFileSync(join(root, 'secret.txt'), 'TOP-SECRET');
    writeFileSync(join(root, 'demo', 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(root, 'demo', 'app.js'), 'export {};');
    writeFileSync(join(root, 'demo', 'sub', 'index.html'), 'sub');
    writeFileSync(join(root, 'browser.js'), 'export const lib = 1;');
    writeFileSync(join(root, 'models', 'mosaic.safetensors'), styleHeaderFile(100));
    writeFileSync(join(root, 'models', 'README.md'), 'notes');
    srv = await startServer({
      port: 0,
      demoRoot: join(root, 'demo'),
      browserBundle: join(root, 'browser.js'),
      modelsDir: join(root, 'models'),
      quiet: true,
    });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('serves the page, the bundle and models with their MIME types', async () => {
    const index = await rawGet(srv.port, '/');
    expect(index).toMatchObject({ status: 200, type: 'text/html; charset=utf-8' });
    expect((await rawGet(srv.port, '/app.js?v=1')).type).toBe('text/javascript; charset=utf-8');
    const lib = await rawGet(srv.port, '/browser.js');
    expect(lib).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8', body: 'export const lib = 1;' });
    const model = await rawGet(srv.port, '/models/mosaic.safetensors');
    expect(model).toMatchObject({ status: 200, type: 'application/octet-stream' });
    expect(model.body.length).toBe(100);
    const list = await rawGet(srv.port, '/models/index.json');
    expect(list.type).toBe('application/json; charset=utf-8');
    expect(JSON.parse(list.body).models).toMatchObject([
      { name: 'mosaic', url: 'models/mosaic.safetensors', bytes: 100, origin: 'ours' },
    ]);
    expect((await rawGet(srv.port, '/sub/')).body).toBe('sub');
    expect((await rawGet(srv.port, '/sub')).status).toBe(301);
    expect((await rawGet(srv.port, '/missing.js')).status).toBe(404);
    expect((await rawGet(srv.port, '/', 'HEAD')).status).toBe(200);
    expect((await rawGet(srv.port, '/', 'POST')).status).toBe(405);
  });

  it('serves and lists imported styles (.models-ml5/) after the shipped ones, models/ winning a name clash', async () => {
    mkdirSync(join(root, 'imported'), { recursive: true });
    writeFileSync(join(root, 'imported', 'wave.safetensors'), styleHeaderFile(90));
    writeFileSync(join(root, 'imported', 'mosaic.safetensors'), styleHeaderFile(80));
    const both = await startServer({
      port: 0,
      demoRoot: join(root, 'demo'),
      browserBundle: join(root, 'browser.js'),
      modelsDir: join(root, 'models'),
      importedModelsDir: join(root, 'imported'),
      quiet: true,
    });
    try {
      const list = JSON.parse((await rawGet(both.port, '/models/index.json')).body);
      expect(
        list.models.map((m: { name: string; bytes: number; origin: string }) => [m.name, m.bytes, m.origin]),
      ).toEqual([
        ['mosaic', 100, 'ours'],
        ['wave', 90, 'imported'],
      ]);
      expect((await rawGet(both.port, '/models/wave.safetensors')).body.length).toBe(90);
      expect((await rawGet(both.port, '/models/mosaic.safetensors')).body.length).toBe(100);
      expect((await rawGet(both.port, '/models/../imported/wave.safetensors')).status).not.toBe(200);
    } finally {
      await both.close();
    }
  });

  it('refuses paths that leave the served folders', async () => {
    const attempts = [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/..%5csecret.txt',
      '/models/../../secret.txt',
      '/models/..%2f..%2fsecret.txt',
      '/models/%2e%2e/%2e%2e/secret.txt',
      '/sub/%2e%2e/%2e%2e/secret.txt',
      '//etc/passwd',
      '/%00',
      '/%E0%A4%A',
      `/${'..%2f'.repeat(8)}etc%2fpasswd`,
    ];
    for (const path of attempts) {
      const r = await rawGet(srv.port, path);
      expect([400, 403, 404], path).toContain(r.status);
      expect(r.body, path).not.toContain('TOP-SECRET');
      expect(r.body, path).not.toContain('root:');
    }
  });
});

// ------------------------------------------------------------------ Chromium

/**
 * Opens the demo page (autoload off) and puts the library bundle on window.__lib. (A plain `import()` inside
 * page.evaluate would not survive: vitest rewrites dynamic imports in this file before playwright serialises
 * the function.)
 */
async function openPage(page: Page, url: string): Promise<void> {
  await page.goto(`${url}?autoload=0`);
  await page.addScriptTag({ type: 'module', content: "import * as m from '/browser.js'; window.__lib = m;" });
  await page.waitForFunction(() => (window as unknown as { __lib?: unknown }).__lib !== undefined);
}

/** The elementwise chain both engines run: relu(150·tanh(x) + 127.5 + x). */
function elementwiseInput(): number[] {
  const n = 2 * 3 * 7 * 5; // 210: not a multiple of the 256-wide workgroup
  return Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * 3 - 0.4);
}

async function elementwiseInNode(x: number[]): Promise<Float32Array> {
  const engine = await testEngine();
  return engine.scopeAsync(async () => {
    const t = Tensor.fromData(engine, [2, 3, 7, 5], x);
    const y = apply(relu, [apply(add, [apply(scaledTanh, [t], { alpha: 150, beta: 127.5 }), t], {})], {});
    return y.data();
  });
}

/** Runs in the page: the same chain on the page's engine (window.__engine: the demo's, or a new one). */
async function elementwiseInPage(
  page: Page,
  x: number[],
  engineOptions: Record<string, unknown>,
): Promise<{ out?: number[]; adapter?: unknown; error?: string }> {
  return page.evaluate(
    async ({ x, engineOptions }) => {
      const m = (window as unknown as { __lib: any }).__lib;
      try {
        // The demo's engine when it has one (its kernels are compiled already: SwiftShader compiles slowly).
        const w = window as unknown as { __engine?: unknown; demo?: { engine(): Promise<unknown> | null } };
        w.__engine ??= (await w.demo?.engine()) ?? (await m.createBrowserEngine(engineOptions));
        const e = w.__engine as { adapter: unknown };
        const t = m.Tensor.fromData(e, [2, 3, 7, 5], x);
        const y = m.apply(
          m.ops.relu,
          [m.apply(m.ops.add, [m.apply(m.ops.scaledTanh, [t], { alpha: 150, beta: 127.5 }), t], {})],
          {},
        );
        const out = Array.from((await y.data()) as Float32Array);
        t.dispose();
        y.dispose();
        return { out, adapter: e.adapter };
      } catch (err) {
        return { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
      }
    },
    { x, engineOptions },
  );
}

const REF_IMAGE = testImage(20, 12);
let referencePromise: Promise<{
  model: Uint8Array;
  nodeOut: RgbaImage<Uint8Array>;
}> | null = null;

/** The reference: a tiny seeded net in Node, its model file, and its output on the test image (made once). */
function reference(): Promise<{ model: Uint8Array; nodeOut: RgbaImage<Uint8Array> }> {
  referencePromise ??= (async () => {
    const engine = await testEngine();
    const net = TransformNet.create(engine, { widthMultiplier: 0.25, seed: 7 });
    const model = await saveTransformNet(net, { style: 'browser-test' });
    const nodeOut = await stylizeRgba(net, REF_IMAGE);
    net.dispose();
    return { model, nodeOut };
  })();
  return referencePromise;
}

/** Runs in the page: createStylizer on window.__engine (set by elementwiseInPage) with the model bytes. */
async function stylizeInPage(
  page: Page,
  model: Uint8Array,
  img: RgbaImage<Uint8Array>,
): Promise<{ data?: number[]; error?: string }> {
  return page.evaluate(
    async ({ modelB64, img }) => {
      const m = (window as unknown as { __lib: any }).__lib;
      try {
        const bytes = Uint8Array.from(atob(modelB64), (c) => c.charCodeAt(0));
        const s = await m.createStylizer(bytes, { engine: (window as unknown as { __engine: unknown }).__engine });
        const out = await s.stylize({ width: img.width, height: img.height, data: Uint8Array.from(img.data) });
        s.dispose();
        return { data: Array.from(out.data as Uint8ClampedArray) };
      } catch (err) {
        return { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
      }
    },
    {
      modelB64: Buffer.from(model).toString('base64'),
      img: { width: img.width, height: img.height, data: Array.from(img.data) },
    },
  );
}

describe.skipIf(!HAVE_CHROMIUM)('in Chromium (WebGPU)', () => {
  let browser: ChromiumSession;
  let model: Uint8Array;
  let nodeOut: RgbaImage<Uint8Array>;
  const img = REF_IMAGE;

  beforeAll(async () => {
    ({ model, nodeOut } = await reference());
    // A models/ folder with the tiny model as the one shipped model.
    const modelsDir = join(work.dir, 'models');
    mkdirSync(modelsDir, { recursive: true });
    writeFileSync(join(modelsDir, 'tiny.safetensors'), model);
    browser = await openChromium(work.dir, work.site, { args: FAKE_CAMERA, serve: { modelsDir } });
    await openPage(browser.page, browser.url);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("the demo page stylizes a picked image with a model file of the visitor's (screenshot in test-artifacts/)", async () => {
    // First in this page: the later tests reuse the demo's engine and its compiled kernels.
    const page = browser.page;
    await page.setViewportSize({ width: 1000, height: 640 });
    const png = PNG.sync.write(
      Object.assign(new PNG({ width: img.width, height: img.height }), { data: Buffer.from(img.data) }),
    );
    const waitFor = async (states: string[]) => {
      await page.waitForFunction((s) => s.includes(document.getElementById('status')!.dataset.state!), states, {
        timeout: 240_000,
      });
      return page.evaluate(() => ({
        state: document.getElementById('status')!.dataset.state,
        text: document.getElementById('status')!.textContent,
      }));
    };
    await page.setInputFiles('#model-file', {
      name: 'tiny.safetensors',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from(model),
    });
    let st = await waitFor(['ready', 'error']);
    expect(st, st.text ?? '').toMatchObject({ state: 'ready' });
    await page.setInputFiles('#image-file', { name: 'test.png', mimeType: 'image/png', buffer: png });
    st = await waitFor(['done', 'error']);
    expect(st, st.text ?? '').toMatchObject({ state: 'done' });

    const canvases = () =>
      page.evaluate(() => {
        const read = (id: string) => {
          const c = document.getElementById(id) as HTMLCanvasElement;
          return Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data);
        };
        return { before: read('before'), after: read('after'), timing: document.getElementById('timing')!.textContent };
      });
    let c = await canvases();
    expect(maxAbsDiff(c.before, img.data)).toBe(0);
    expect(maxAbsDiff(c.after, nodeOut.data)).toBeLessThanOrEqual(STYLIZE_TOL);
    expect(c.timing).toMatch(/^Took \d+\.\d s for 20×12 \(first run/);
    // The slider re-blends without the GPU: 0 shows the content again.
    await page.locator('#strength').fill('0');
    c = await canvases();
    expect(maxAbsDiff(c.after, img.data)).toBe(0);
    await page.locator('#strength').fill('0.75');
    c = await canvases();
    expect(maxAbsDiff(c.after, mix(img.data, nodeOut.data, 0.75))).toBeLessThanOrEqual(STYLIZE_TOL);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'browser-demo.png'), fullPage: true });

    // The webcam (Chromium's fake camera, tiny frames for SwiftShader): a few frames go through the net.
    await page.evaluate(() => {
      const sel = document.getElementById('max-size') as HTMLSelectElement;
      sel.append(new Option('24 px', '24'));
      sel.value = '24';
    });
    const t0 = Date.now();
    await page.click('#webcam');
    await page.waitForFunction(
      () => /ms per frame \(24×18/.test(document.getElementById('timing')!.textContent!),
      null,
      { timeout: 120_000 },
    );
    console.log(`webcam first frame after ${Date.now() - t0} ms: ${await page.textContent('#timing')}`);
    await page.waitForFunction(
      () => /ms per frame \(24×18\)$/.test(document.getElementById('timing')!.textContent!),
      null,
      { timeout: 120_000 },
    );
    const cam = await page.evaluate(() => {
      const c = document.getElementById('after') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      return {
        w: c.width,
        h: c.height,
        distinct: new Set(d.filter((_, i) => i % 4 === 0)).size,
        button: document.getElementById('webcam')!.textContent,
      };
    });
    expect(cam).toMatchObject({ w: 24, h: 18, button: 'Stop webcam' });
    expect(cam.distinct).toBeGreaterThan(4);
    await page.click('#webcam');
    expect(await page.textContent('#webcam')).toBe('Start webcam');
    expect(browser.log.filter((l) => l.startsWith('pageerror'))).toEqual([]);
  });

  it('the demo page applies the first style of its gallery by itself', async () => {
    const page = await browser.context.newPage();
    try {
      await page.goto(browser.url);
      await page.waitForFunction(
        () => ['ready', 'error'].includes(document.getElementById('status')!.dataset.state!),
        null,
        { timeout: 120_000 },
      );
      const ui = await page.evaluate(() => ({
        status: document.getElementById('status')!.textContent,
        cards: Array.from(document.querySelectorAll<HTMLButtonElement>('.style-card[data-url]'), (c) => [
          c.querySelector('.title')!.textContent,
          c.dataset.url,
          c.getAttribute('aria-pressed'),
        ]),
      }));
      // The test's models/ holds tiny.safetensors only; styles/config.json does not describe it: its name is its title.
      expect(ui).toEqual({
        status: 'Tiny is ready. Now choose a photo: the button above, drag and drop, or paste.',
        cards: [['Tiny', 'models/tiny.safetensors', 'true']],
      });
    } finally {
      await page.close();
    }
  });

  it('runs engine ops in the page with the results of the Node engine', async () => {
    const x = elementwiseInput();
    const r = await elementwiseInPage(browser.page, x, { allowFallbackAdapter: true });
    if (r.error) throw new Error(`${r.error}\n${browser.log.join('\n')}`);
    console.log(`Chromium adapter: ${JSON.stringify(r.adapter)}`);
    const ref = await elementwiseInNode(x);
    // Values up to ~280; tanh differs between drivers in the last bits only.
    expect(maxAbsDiff(r.out!, ref)).toBeLessThan(1e-3);
    expect(r.out!.some((v) => v === 0) && r.out!.some((v) => v > 200)).toBe(true);
  });

  it('refuses the software adapter unless allowed, with a message saying how', async () => {
    const msg = await browser.page.evaluate(async () => {
      const m = (window as unknown as { __lib: any }).__lib;
      try {
        const e = await m.createBrowserEngine({});
        const fallback = e.adapter.isFallbackAdapter;
        e.destroy();
        return fallback ? 'accepted a fallback adapter' : 'hardware adapter';
      } catch (err) {
        return (err as Error).message;
      }
    });
    // On a machine with a real GPU the browser gives a hardware adapter and there is nothing to refuse.
    if (msg !== 'hardware adapter') expect(msg).toMatch(/allowFallbackAdapter: true/);
  });

  it('createStylizer stylizes like stylizeRgba in Node (tiny TransformNet, 20×12)', async () => {
    const r = await browser.page.evaluate(
      async ({ modelB64, img }) => {
        const m = (window as unknown as { __lib: any }).__lib;
        const bytes = Uint8Array.from(atob(modelB64), (c) => c.charCodeAt(0));
        // The page's engine (the demo's, see elementwiseInPage), or a new one when run alone (vitest -t).
        const engine = (window as unknown as { __engine?: unknown }).__engine;
        const s = await m.createStylizer(bytes, { engine, allowFallbackAdapter: true });
        const input = { width: img.width, height: img.height, data: Uint8Array.from(img.data) };
        const t0 = performance.now();
        const full = await s.stylize(input);
        const ms = performance.now() - t0;
        const half = await s.stylize(input, { strength: 0.5 });
        // A tiny GPU budget: the exact banded mode (row bands, whole-image statistics), as on a phone. It
        // dispatches every conv once per band: far more dispatches than the one pass.
        const d0 = s.engine.counters.dispatches;
        await s.stylize(input);
        const d1 = s.engine.counters.dispatches;
        const banded = await s.stylize(input, { memoryBytes: 4096 });
        const dispatches = { onePass: d1 - d0, banded: s.engine.counters.dispatches - d1 };
        // ImageData input, and an ImageBitmap (drawn through a canvas).
        const asImageData = await s.stylize(new ImageData(new Uint8ClampedArray(input.data), img.width, img.height));
        const bitmap = await createImageBitmap(new ImageData(new Uint8ClampedArray(input.data), img.width, img.height));
        const fromBitmap = await s.stylize(bitmap);
        let badStrength = '';
        await s.stylize(input, { strength: 2 }).catch((e: Error) => (badStrength = e.message));
        const style = s.metadata.style;
        s.dispose();
        return {
          ms,
          style,
          isImageData: full instanceof ImageData,
          full: Array.from(full.data as Uint8ClampedArray),
          half: Array.from(half.data as Uint8ClampedArray),
          banded: Array.from(banded.data as Uint8ClampedArray),
          dispatches,
          asImageData: Array.from(asImageData.data as Uint8ClampedArray),
          fromBitmap: Array.from(fromBitmap.data as Uint8ClampedArray),
          badStrength,
        };
      },
      {
        modelB64: Buffer.from(model).toString('base64'),
        img: { width: img.width, height: img.height, data: Array.from(img.data) },
      },
    );
    console.log(`stylize 20×12 in Chromium: ${r.ms.toFixed(0)} ms`);
    expect(r.style).toBe('browser-test');
    expect(r.isImageData).toBe(true);
    const diff = maxAbsDiff(r.full, nodeOut.data);
    console.log(`max |Chromium − Node| over the stylized bytes: ${diff} (tolerance ${STYLIZE_TOL})`);
    expect(diff).toBeLessThanOrEqual(STYLIZE_TOL);
    // The banded mode in the browser gives the one-pass result (within a grey level).
    expect(maxAbsDiff(r.banded, r.full)).toBeLessThanOrEqual(1);
    expect(r.dispatches.banded).toBeGreaterThan(2 * r.dispatches.onePass);
    // Not a trivial output: the random net changes the image, and not into a constant.
    expect(maxAbsDiff(r.full, img.data)).toBeGreaterThan(20);
    expect(new Set(r.full.filter((_, i) => i % 4 === 0)).size).toBeGreaterThan(10);
    // Strength 0.5 is the blend of the content and the full result (one more level for the rounding).
    expect(maxAbsDiff(r.half, mix(img.data, nodeOut.data, 0.5))).toBeLessThanOrEqual(STYLIZE_TOL);
    expect(maxAbsDiff(r.asImageData, r.full)).toBe(0);
    expect(maxAbsDiff(r.fromBitmap, r.full)).toBe(0);
    expect(r.badStrength).toMatch(/strength/);
  });

  it('createStylizer takes an ml5.js model folder URL (manifest.json + Variable files), as ml5.styleTransfer does', async () => {
    // The golden fixture's small ml5-lengstrom net (width 0.125) as a folder under the served models/.
    const engine = await testEngine();
    const fixture = readSafetensors(
      new Uint8Array(readFileSync(join(REPO, 'test', 'fixtures', 'golden', 'ml5.safetensors'))),
    ).tensors;
    const ml5Index = JSON.parse(readFileSync(join(REPO, 'test', 'fixtures', 'golden', 'ml5.json'), 'utf8'));
    const folder = join(work.dir, 'models', 'tiny_ml5');
    mkdirSync(folder, { recursive: true });
    const manifest: Ml5Manifest = new Map();
    const files = new Map<string, Uint8Array>();
    (ml5Index.small.variables as string[]).forEach((stored, i) => {
      const name = i === 0 ? 'Variable' : `Variable_${i}`;
      const t = fixture.get(stored)!;
      const bytes = new Uint8Array(Float32Array.from(t.data).buffer);
      manifest.set(name, { filename: name, shape: t.shape });
      files.set(name, bytes);
      writeFileSync(join(folder, name), bytes);
    });
    writeFileSync(join(folder, 'manifest.json'), JSON.stringify(Object.fromEntries(manifest)));
    // Node: the same folder through the importer.
    const { widthMultiplier, tensors } = await ml5CheckpointTensors(manifest, async (f) => files.get(f), 'tiny_ml5');
    const net = TransformNet.fromTensors(engine, { widthMultiplier, architecture: 'ml5-lengstrom' }, tensors);
    const nodeMl5 = await stylizeRgba(net, REF_IMAGE);
    net.dispose();

    const r = await browser.page.evaluate(
      async ({ img }) => {
        const m = (window as unknown as { __lib: any }).__lib;
        const engine = (window as unknown as { __engine?: unknown }).__engine;
        // The folder URL as an ml5 page writes it: no trailing slash, no manifest.json.
        const s = await m.createStylizer('models/tiny_ml5', { engine, allowFallbackAdapter: true });
        const out = await s.stylize({ width: img.width, height: img.height, data: Uint8Array.from(img.data) });
        const meta = s.metadata;
        s.dispose();
        let missing = '';
        await m
          .createStylizer('models/no_such_ml5_folder', { engine, allowFallbackAdapter: true })
          .catch((e: Error) => (missing = e.message));
        return {
          data: Array.from(out.data as Uint8ClampedArray),
          architecture: meta.architecture.name,
          style: meta.style,
          licence: meta.licence,
          missing,
        };
      },
      { img: { width: REF_IMAGE.width, height: REF_IMAGE.height, data: Array.from(REF_IMAGE.data) } },
    );
    expect(r).toMatchObject({
      architecture: 'ml5-lengstrom',
      style: 'tiny_ml5',
      licence: 'ml5.js weights, MIT; training code research use',
    });
    const diff = maxAbsDiff(r.data, nodeMl5.data);
    console.log(`ml5 folder: max |Chromium − Node| over the stylized bytes: ${diff} (tolerance ${STYLIZE_TOL})`);
    expect(diff).toBeLessThanOrEqual(STYLIZE_TOL);
    expect(maxAbsDiff(r.data, REF_IMAGE.data)).toBeGreaterThan(20);
    expect(r.missing).toMatch(/no_such_ml5_folder.*404/);
  });
});

describe.skipIf(!HAVE_CHROMIUM)('in Chromium, WebGPU compatibility mode (--use-webgpu-adapter=opengles)', () => {
  let browser: ChromiumSession;

  beforeAll(async () => {
    browser = await openChromium(work.dir, work.site, {
      args: [...FAKE_CAMERA, '--use-webgpu-adapter=opengles'],
      serve: { modelsDir: join(REPO, 'models') },
    });
    await openPage(browser.page, browser.url);
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('either computes what Node computes or fails naming the missing feature or limit', async () => {
    const x = elementwiseInput();
    const r = await elementwiseInPage(browser.page, x, { allowFallbackAdapter: true, compatibilityMode: true });
    if (r.error) {
      console.log(`compatibility mode failed: ${r.error}`);
      expect(r.error).toMatch(/feature|limit/i);
      return;
    }
    console.log(`compatibility-mode adapter: ${JSON.stringify(r.adapter)}`);
    expect((r.adapter as { features: string[] }).features).not.toContain('core-features-and-limits');
    expect(maxAbsDiff(r.out!, await elementwiseInNode(x))).toBeLessThan(1e-3);

    // The whole net: convolutions, instance norm, padding, image packing.
    const { model, nodeOut } = await reference();
    const s = await stylizeInPage(browser.page, model, REF_IMAGE);
    if (s.error) {
      console.log(`compatibility mode: stylize failed: ${s.error}`);
      expect(s.error).toMatch(/feature|limit/i);
      return;
    }
    const diff = maxAbsDiff(s.data!, nodeOut.data);
    console.log(`compatibility mode: stylize max |Chromium − Node| = ${diff}`);
    expect(diff).toBeLessThanOrEqual(STYLIZE_TOL);
  });
});
