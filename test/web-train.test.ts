// Training in the browser (the demo's Train panel, demo/train.ts, over src/browser/train-run.ts) against `train` in
// Node: a tiny run (2 photos made here, 32 px crops, width 0.25, 3 steps) must give Node's losses and weights
// (within float tolerance: two drivers, SwiftShader in Chromium and lavapipe in Node); a run reloaded mid-way,
// and one whose GPU is lost, must resume to exactly the weights of the uninterrupted run; the model downloaded
// from the page must stylise in Node (`stylize --model`) as it does in the page. A screenshot of the panel
// mid-run goes to test-artifacts/web-train.png.
//
// The photos' shorter side is the crop size and the style image's long side the style size, so neither side
// rescales: the crops (random positions and flips from SampleOrder) are the same bytes whether the browser or
// libvips decodes the PNGs. Chromium's WebGPU is SwiftShader here: every shape is tiny. Without
// /usr/bin/chromium the page tests skip with a message (CI installs it: scripts/setup-chromium.sh).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint, type TrainingState } from '../src/models/checkpoint.js';
import type { LossRecord } from '../src/models/loss-curve.js';
import { readSafetensors } from '../src/models/safetensors.js';
import { stylizeRgba } from '../src/models/stylize.js';
import { TransformNet } from '../src/models/transform-net.js';
import {
  ARTIFACTS,
  HAVE_CHROMIUM,
  maxAbsDiff,
  openChromium,
  png,
  REPO,
  useSite,
  warnWithoutChromium,
  type ChromiumSession,
} from './helpers/chromium.js';
import { testEngine } from './helpers/gpu.js';
import { buildCliIfStale, CLI } from './helpers/cli.js';
import type { RgbaImage } from '../src/models/rgba-image.js';

const VGG = join(REPO, 'models', 'loss-network', 'vgg19_conv1_1-conv3_4.safetensors');
warnWithoutChromium('test/web-train.test.ts', 'the Train panel tests');

/** The tiny run, as the panel's fields and as `train`'s options. */
const RUN = {
  name: 'tiny',
  steps: 3,
  size: 32,
  batch: 1,
  styleSize: 32,
  width: 0.25,
  seed: 7,
  lr: 1e-3,
  contentWeight: 1,
  styleWeight: 0.1,
  tvWeight: 1,
};
/** Slow SwiftShader steps (and compiling the kernels on the first): minutes, not seconds. */
const TRAIN_TIMEOUT = 600_000;

/** A deterministic photo: gradients, a disc and stripes, so that crops differ by position and flip. */
function photo(width: number, height: number, seed: number): RgbaImage<Uint8Array> {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const disc = (x - width * 0.6) ** 2 + (y - height * 0.4) ** 2 < (width * 0.2) ** 2;
      data[i] = disc ? 240 : Math.round((255 * x) / (width - 1));
      data[i + 1] = disc ? 200 : Math.round((255 * y) / (height - 1));
      data[i + 2] = ((x + 2 * y) * (seed + 3)) % 7 < 3 ? 40 : 180;
      data[i + 3] = 255;
    }
  }
  return { width, height, data };
}

/** Diagonal stripes in two colours: a style with a texture. */
function stripes(width: number, height: number): RgbaImage<Uint8Array> {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const on = Math.floor((x + y) / 3) % 2 === 0;
      data.set(on ? [230, 180, 40, 255] : [30, 60, 190, 255], (y * width + x) * 4);
    }
  }
  return { width, height, data };
}

const work = useSite('fsw-web-train-');
const files = {
  style: '',
  photos: [] as { name: string; path: string }[],
};

beforeAll(() => {
  mkdirSync(join(work.dir, 'photos'));
  // Shorter sides of 32 (the crop size): wide and tall, so that the crops move along x in one and y in the other.
  for (const [name, img] of [
    ['a.png', photo(44, 32, 1)],
    ['b.png', photo(32, 40, 2)],
  ] as const) {
    const path = join(work.dir, 'photos', name);
    writeFileSync(path, png(img));
    files.photos.push({ name, path });
  }
  files.style = join(work.dir, 'stripes.png');
  writeFileSync(files.style, png(stripes(32, 24)));
});

/** `train` in Node (the CLI in a child process) on the same files: its per-step losses and final checkpoint. */
function trainInNode(): { records: LossRecord[]; state: TrainingState; seconds: number } {
  buildCliIfStale();
  const out = join(work.dir, 'node', `${RUN.name}.safetensors`);
  mkdirSync(join(work.dir, 'node'), { recursive: true });
  const args = [
    CLI,
    'train',
    '--style',
    files.style,
    '--data',
    join(work.dir, 'photos'),
    '--vgg',
    VGG,
    '--out',
    out,
    '--size',
    String(RUN.size),
    '--batch',
    String(RUN.batch),
    '--iters',
    String(RUN.steps),
    '--width',
    String(RUN.width),
    '--style-size',
    String(RUN.styleSize),
    '--seed',
    String(RUN.seed),
    '--lr',
    String(RUN.lr),
    '--content-weight',
    String(RUN.contentWeight),
    '--style-weight',
    String(RUN.styleWeight),
    '--tv-weight',
    String(RUN.tvWeight),
    '--workers',
    '1',
  ];
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: TRAIN_TIMEOUT });
  expect(r.status, `${r.stderr}`).toBe(0);
  const base = out.replace(/\.safetensors$/, '');
  const records = readFileSync(`${base}.log.jsonl`, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as LossRecord);
  const state = decodeCheckpoint(new Uint8Array(readFileSync(`${base}.ckpt.safetensors`)), 'node checkpoint');
  return { records, state, seconds: (Date.now() - t0) / 1000 };
}

/**
 * Clicks a button. Playwright waits for the page to paint a frame or two first, and while SwiftShader runs a
 * step the compositor waits with it: a step's time, not the default 30 s.
 */
async function press(page: Page, selector: string): Promise<void> {
  await page.locator(selector).click({ timeout: TRAIN_TIMEOUT });
}

type TrainState = 'idle' | 'busy' | 'training' | 'paused' | 'done' | 'error';

async function trainStatus(page: Page): Promise<{ state: TrainState; text: string }> {
  return page.evaluate(() => {
    const s = document.getElementById('train-status')!;
    return { state: s.dataset.state as TrainState, text: s.textContent ?? '' };
  });
}

async function waitForTrainState(page: Page, states: TrainState[], timeout = TRAIN_TIMEOUT) {
  await page.waitForFunction(
    (st) => st.includes(document.getElementById('train-status')!.dataset.state!),
    states as string[],
    { timeout, polling: 250 },
  );
  return trainStatus(page);
}

/**
 * The panel's inputs: the painting, the photos (their folder, through "Choose a folder…"), and RUN's settings
 * (checkpoints every `checkpointEvery` steps).
 */
async function fillPanel(page: Page, checkpointEvery: number): Promise<void> {
  await page.setInputFiles('#train-style-file', files.style);
  await page.setInputFiles('#train-folder', join(work.dir, 'photos'));
  await page.waitForFunction(() =>
    /^Found 2 photos\.$/.test(document.getElementById('train-photos-found')!.textContent!),
  );
  await page.evaluate(() => {
    (document.querySelector('#train-settings details') as HTMLDetailsElement).open = true;
  });
  const set = async (id: string, v: string | number) => page.fill(`#${id}`, String(v));
  await set('train-name', RUN.name);
  await set('train-steps', RUN.steps);
  await set('train-size', RUN.size);
  await set('train-batch', RUN.batch);
  await set('train-style-weight', RUN.styleWeight);
  await set('train-lr', RUN.lr);
  await set('train-content-weight', RUN.contentWeight);
  await set('train-tv-weight', RUN.tvWeight);
  await set('train-style-size', RUN.styleSize);
  await set('train-width', RUN.width);
  await set('train-seed', RUN.seed);
  await set('train-checkpoint-every', checkpointEvery);
  await set('train-sample-every', 3);
}

/** The checkpoint file the panel keeps in the origin private file system, decoded; null when there is none. */
async function storedCheckpoint(page: Page): Promise<{ bytes: Uint8Array; state: TrainingState } | null> {
  const b64 = await page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    try {
      const dir = await root.getDirectoryHandle('fast-style-train');
      const file = await (await dir.getFileHandle('checkpoint.safetensors')).getFile();
      const url = await new Promise<string>((ok) => {
        const r = new FileReader();
        r.onload = () => ok(r.result as string);
        r.readAsDataURL(file);
      });
      return url.slice(url.indexOf(',') + 1);
    } catch {
      return null;
    }
  });
  if (b64 === null) return null;
  const bytes = new Uint8Array(Buffer.from(b64, 'base64'));
  return { bytes, state: decodeCheckpoint(bytes, 'browser checkpoint') };
}

async function pageRecords(page: Page): Promise<LossRecord[]> {
  return page.evaluate(
    () =>
      (window as unknown as { demo: { train: { run(): { records: LossRecord[] } | null } } }).demo.train.run()
        ?.records ?? [],
  );
}

/** Every tensor of two training states (weights, then Adam's moments) side by side. */
function tensorsOf(a: TrainingState, b: TrainingState): [string, Float32Array, Float32Array][] {
  const out: [string, Float32Array, Float32Array][] = [];
  for (const [name, w] of a.weights) out.push([name, w.data, b.weights.get(name)!.data]);
  for (const [name, m] of a.moments) {
    out.push([`adam.m.${name}`, m.m, b.moments.get(name)!.m]);
    out.push([`adam.v.${name}`, m.v, b.moments.get(name)!.v]);
  }
  return out;
}

describe.skipIf(!HAVE_CHROMIUM)('the Train panel in Chromium, against `train` in Node', () => {
  let browser: ChromiumSession;
  let uninterrupted: { bytes: Uint8Array; state: TrainingState; records: LossRecord[] } | null = null;

  beforeAll(async () => {
    // scripts/serve.mjs with its defaults (the repository's models/, its loss network included); only the
    // build comes from the temporary folder.
    browser = await openChromium(work.dir, work.site);
    // "Start a new run?" and "Delete the saved run?" are answered yes.
    browser.page.on('dialog', (d) => void d.accept());
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('lists the shipped loss network, and plans within the GPU limits: a crop too large says what fits', async () => {
    const list = await (await fetch(`${browser.url}models/index.json`)).json();
    expect(list.lossNetworks).toEqual([
      {
        name: 'vgg19_conv1_1-conv3_4.safetensors',
        url: 'models/loss-network/vgg19_conv1_1-conv3_4.safetensors',
        bytes: readFileSync(VGG).length,
      },
    ]);
    const { page } = browser;
    // A phone-sized buffer limit: 512 px crops cannot fit at any batch.
    await page.goto(`${browser.url}?autoload=0&gpu-buffer-mb=24`);
    await page.waitForFunction(() => /from this server/.test(document.getElementById('train-vgg-found')!.textContent!));
    await fillPanel(page, 1);
    // Several files picked: the photos among them are counted, an unreadable one is skipped and named.
    await page.setInputFiles('#train-photos', [
      ...files.photos.map((p) => ({ name: p.name, mimeType: 'image/png', buffer: readFileSync(p.path) })),
      { name: 'broken.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not a JPEG') },
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') },
    ]);
    await page.waitForFunction(() =>
      /^Found 2 photos;/.test(document.getElementById('train-photos-found')!.textContent!),
    );
    expect(await page.textContent('#train-photos-found')).toBe(
      'Found 2 photos; 1 skipped, the browser cannot read it: broken.jpg, 1 other file left out.',
    );
    await page.fill('#train-size', '512');
    await press(page, '#train-start');
    const st = await waitForTrainState(page, ['error', 'training', 'done'], 120_000);
    expect(st).toEqual({
      state: 'error',
      text: '512 px crops need a 76 MiB buffer even at batch 1, more than this GPU allows in one buffer (24 MiB): choose a crop size of 296 px or less.',
    });
    // Nothing was stored: there is no run to resume.
    expect(await storedCheckpoint(page)).toBeNull();
    expect(await page.isHidden('#train-resume')).toBe(true);
  }, 180_000);

  it(
    'a tiny run gives the losses and weights of `train` in Node (screenshot mid-run in test-artifacts/)',
    async () => {
      const node = trainInNode();
      const { page, log } = browser;
      await page.goto(`${browser.url}?autoload=0`);
      await page.setViewportSize({ width: 1100, height: 900 });
      await page.waitForFunction(() =>
        /from this server/.test(document.getElementById('train-vgg-found')!.textContent!),
      );
      // Checkpoints only at the end, unless the tab goes to the background (below).
      await fillPanel(page, 100);
      const t0 = Date.now();
      await press(page, '#train-start');
      // After the first step: the tab "goes to the background" (the page is told so), which writes a checkpoint.
      await page.waitForFunction(
        () => /^Step 1 of 3/.test(document.getElementById('train-numbers')!.textContent!),
        null,
        {
          timeout: TRAIN_TIMEOUT,
        },
      );
      const firstStep = (Date.now() - t0) / 1000;
      await page.evaluate(() => {
        Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
        document.dispatchEvent(new Event('visibilitychange'));
      });
      await page.waitForFunction(() =>
        /went to the background at step 1/.test(document.getElementById('train-note')!.textContent!),
      );
      await page.waitForFunction(
        () =>
          /^Checkpoint saved in the browser at step [12]\.$/.test(document.getElementById('train-note')!.textContent!),
        null,
        {
          timeout: TRAIN_TIMEOUT,
        },
      );
      await page.evaluate(() => {
        Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
      });
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.locator('#train').screenshot({ path: join(ARTIFACTS, 'web-train.png') });
      const st = await waitForTrainState(page, ['done', 'error']);
      const seconds = (Date.now() - t0) / 1000;
      expect(st.state, `${st.text}\n${log.join('\n')}`).toBe('done');
      const records = await pageRecords(page);
      const stored = (await storedCheckpoint(page))!;
      uninterrupted = { ...stored, records };
      console.log(
        `tiny run (2 photos, ${RUN.size} px, batch ${RUN.batch}, width ${RUN.width}, ${RUN.steps} steps): Chromium ${seconds.toFixed(1)} s ` +
          `(first step ${firstStep.toFixed(1)} s, kernels compiled), steps 2–3 at ${(2 / (records[2].seconds! - records[0].seconds!)).toFixed(3)} steps/s; ` +
          `Node ${node.seconds.toFixed(1)} s`,
      );
      console.log(`losses, browser: ${JSON.stringify(records.map(({ seconds: _, ...r }) => r))}`);
      console.log(`losses, Node:    ${JSON.stringify(node.records.map(({ seconds: _, ...r }) => r))}`);

      // The same run: the same config, inputs (by their hashes) and data position.
      const { history: _h, ...nodeConfig } = { ...node.state.config, history: null };
      expect(stored.state.config).toMatchObject({ ...nodeConfig, styleName: RUN.name });
      expect(stored.state.config.dataSha256).toBe(node.state.config.dataSha256);
      expect(stored.state.config.styleSha256).toBe(node.state.config.styleSha256);
      expect(stored.state.config.vggSha256).toBe(node.state.config.vggSha256);
      expect([stored.state.step, stored.state.samplesSeen]).toEqual([node.state.step, node.state.samplesSeen]);
      expect(stored.state.history.map((s) => [s.firstStep, s.lastStep])).toEqual([[1, 3]]);

      // Losses per step: the same within float32 rounding of two drivers.
      expect(records.map((r) => r.step)).toEqual([1, 2, 3]);
      for (let i = 0; i < 3; i++) {
        for (const k of ['content', 'style', 'tv', 'total'] as const) {
          const rel = Math.abs(records[i][k] - node.records[i][k]) / Math.abs(node.records[i][k]);
          expect(rel, `step ${i + 1} ${k}: ${records[i][k]} vs ${node.records[i][k]}`).toBeLessThan(LOSS_TOL);
        }
      }
      // Weights and Adam's moments: the same within float tolerance, but for the parameters an instance norm
      // cancels (below), whose gradients are rounding noise that Adam scales up to steps of ±lr.
      const worst = { name: '', rel: 0 };
      for (const [name, mine, theirs] of tensorsOf(stored.state, node.state)) {
        const param = name.replace(/^adam\.[mv]\./, '');
        const diff = maxAbsDiff(mine, theirs);
        if (CANCELLED_BY_NORM.test(param)) {
          if (name === param) expect(diff, `${name}: ${diff}`).toBeLessThanOrEqual(2 * RUN.steps * RUN.lr * (1 + 1e-6));
          continue;
        }
        const scale = Math.max(...Array.from(theirs, Math.abs));
        const tol = name === param ? WEIGHT_TOL : MOMENT_TOL * scale;
        expect(diff, `${name}: max |browser − Node| ${diff} (largest |Node| ${scale})`).toBeLessThanOrEqual(tol);
        if (diff / scale > worst.rel) Object.assign(worst, { name, rel: diff / scale });
      }
      console.log(`largest relative difference browser vs Node: ${worst.name} ${worst.rel.toExponential(2)}`);
      // Those parameters do not change what the net computes: both nets stylise alike.
      const image = photo(40, 30, 3);
      const outputs = await Promise.all(
        [stored.state, node.state].map(async (state) => {
          const net = TransformNet.fromTensors(await testEngine(), state.net, state.weights, 'net');
          try {
            return (await stylizeRgba(net, image)).data;
          } finally {
            net.dispose();
          }
        }),
      );
      expect(maxAbsDiff(outputs[0], outputs[1])).toBeLessThanOrEqual(1);
    },
    2 * TRAIN_TIMEOUT,
  );

  it(
    'reloaded mid-run, and then losing its GPU, the run resumes to exactly the uninterrupted weights',
    async () => {
      expect(uninterrupted, 'the uninterrupted run of the test before').not.toBeNull();
      const { page, log } = browser;
      await page.fill('#train-checkpoint-every', '1');
      await press(page, '#train-start'); // "Start a new run?": yes (the dialog handler), the same settings
      await page.waitForFunction(
        () => /^Checkpoint saved in the browser at step 1\.$/.test(document.getElementById('train-note')!.textContent!),
        null,
        {
          timeout: TRAIN_TIMEOUT,
        },
      );
      // The page goes while a step runs on the GPU: SwiftShader finishes the work in flight before the new page
      // loads, which can take a step's time.
      await page.reload({ waitUntil: 'commit', timeout: TRAIN_TIMEOUT });
      let st = await waitForTrainState(page, ['paused', 'error'], 60_000);
      const saved = (await storedCheckpoint(page))!.state.step;
      expect(saved, 'reloaded before the run ended').toBeLessThan(RUN.steps);
      expect(st).toEqual({
        state: 'paused',
        text: `A run of ${RUN.name} on 2 photos is saved at step ${saved} of ${RUN.steps}: Resume continues it exactly.`,
      });
      expect(await page.inputValue('#train-width')).toBe(String(RUN.width));

      // Resume; after the next checkpoint the GPU is lost (the device destroyed under the run).
      await press(page, '#train-resume');
      await page.waitForFunction(
        (after) =>
          new RegExp(`^Checkpoint saved in the browser at step ${after + 1}\\.$`).test(
            document.getElementById('train-note')!.textContent!,
          ),
        saved,
        { timeout: TRAIN_TIMEOUT },
      );
      const lostAt = (await storedCheckpoint(page))!.state.step;
      if (lostAt < RUN.steps) {
        await page.evaluate(() =>
          (window as unknown as { demo: { train: { run(): { engine: { device: GPUDevice } } } } }).demo.train
            .run()
            .engine.device.destroy(),
        );
        st = await waitForTrainState(page, ['error', 'done']);
        expect(st.state, st.text).toBe('error');
        expect(st.text).toMatch(
          new RegExp(
            `^The GPU stopped working for this page \\(the browser reset it, or the computer slept\\)\\. The run is saved at step ${lostAt}: press Resume to continue from there\\.`,
          ),
        );
        expect(await page.isVisible('#train-resume')).toBe(true);
        await press(page, '#train-resume');
      }
      st = await waitForTrainState(page, ['done', 'error']);
      expect(st.state, `${st.text}\n${log.join('\n')}`).toBe('done');
      const resumed = (await storedCheckpoint(page))!;
      // Bit for bit: every weight and moment, the data position, and the losses of every step.
      for (const [name, mine, theirs] of tensorsOf(resumed.state, uninterrupted!.state)) {
        expect(maxAbsDiff(mine, theirs), name).toBe(0);
      }
      expect(resumed.state.samplesSeen).toBe(uninterrupted!.state.samplesSeen);
      const records = await pageRecords(page);
      expect(records.map(({ seconds: _, ...r }) => r)).toEqual(uninterrupted!.records.map(({ seconds: _, ...r }) => r));
      // Its sessions: before the reload, after it, and after the lost GPU.
      const sessions = resumed.state.history.map((s) => [s.firstStep, s.lastStep]);
      expect(sessions[0]).toEqual([1, saved]);
      expect(sessions[sessions.length - 1][1]).toBe(RUN.steps);
      expect(sessions.length).toBe(lostAt < RUN.steps ? 3 : 2);
    },
    2 * TRAIN_TIMEOUT,
  );

  it('the downloaded model stylises in Node (`stylize --model`) as in the page', async () => {
    const { page } = browser;
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 120_000 }),
      press(page, '#train-download'),
    ]);
    expect(download.suggestedFilename()).toBe(`${RUN.name}.safetensors`);
    const modelPath = join(work.dir, `${RUN.name}.safetensors`);
    await download.saveAs(modelPath);
    const file = readSafetensors(new Uint8Array(readFileSync(modelPath)));
    expect(file.metadata).toMatchObject({
      format: 'fast-style-webgpu/transform-net',
      style: RUN.name,
      step: String(RUN.steps),
    });
    expect([...file.tensors.values()].every((t) => t.dtype === 'F16')).toBe(true);

    // In the page: "Use it in step 1", then a photo in step 2.
    const input = photo(36, 28, 5);
    await press(page, '#train-use');
    await page.waitForFunction(() => document.getElementById('status')!.dataset.state === 'ready', null, {
      timeout: 120_000,
    });
    await page.evaluate(() => {
      const sel = document.getElementById('max-size') as HTMLSelectElement;
      sel.append(new Option('64 px', '64'));
      sel.value = '64';
    });
    await page.locator('#image-file').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: png(input) });
    await page.waitForFunction(
      () => ['done', 'error'].includes(document.getElementById('status')!.dataset.state!),
      null,
      {
        timeout: 240_000,
      },
    );
    const inPage = await page.evaluate(() => {
      const c = document.getElementById('after') as HTMLCanvasElement;
      return {
        width: c.width,
        height: c.height,
        data: Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data),
      };
    });
    expect([inPage.width, inPage.height]).toEqual([36, 28]);

    // In Node: the CLI, as a visitor would run it.
    writeFileSync(join(work.dir, 'photo.png'), png(input));
    const r = spawnSync(
      process.execPath,
      [CLI, 'stylize', '--model', modelPath, join(work.dir, 'photo.png'), '-o', join(work.dir, 'styled.png')],
      {
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const inNode = PNG.sync.read(readFileSync(join(work.dir, 'styled.png')));
    expect([inNode.width, inNode.height]).toEqual([36, 28]);
    const diff = maxAbsDiff(inPage.data, inNode.data);
    console.log(`trained model, max |page − Node| over the stylised bytes: ${diff}`);
    expect(diff).toBeLessThanOrEqual(STYLIZE_TOL);
    // Not the photo itself: the net changed it.
    expect(maxAbsDiff(inNode.data, input.data)).toBeGreaterThan(20);
  }, 600_000);
});

/**
 * Relative difference of a step's losses between the two drivers: float32 sums in other orders (seen: 5e-7).
 */
const LOSS_TOL = 1e-5;
/**
 * Weights after three Adam steps of lr 1e-3: the first step moves every weight by ±lr whatever the gradient's
 * size, the next two by lr times ratios of moments that the drivers' rounding shifts slightly (seen: 8e-7).
 */
const WEIGHT_TOL = 1e-5;
/** Adam's moments, relative to the tensor's largest: the gradients' rounding (seen: 2e-6). */
const MOMENT_TOL = 1e-4;
/**
 * Parameters whose true gradient is zero: a convolution's bias followed by an instance norm (every conv but
 * the last), and a residual block's last norm bias (a constant added to the residual stream, which the next
 * instance norm removes). Their gradients are rounding noise, different on each driver, and Adam turns noise
 * into steps of about ±lr: each run moves them by at most lr a step, in its own direction.
 */
const CANCELLED_BY_NORM = /^(?!deconv3\.).*\.conv2d\.bias$|^res\d+\.in2\.bias$/;
/** Stylised bytes, page vs Node (as test/browser.test.ts: a level or two after rounding). */
const STYLIZE_TOL = 2;
