// The web demo as a visitor meets it: built as `npm run build` builds it, served as `npm run serve` serves it
// (scripts/serve.mjs with its defaults: the repository's real models/, .models-ml5/ when present), opened in
// Chromium. The first shipped style must load by itself, a photo must stylise, the gallery must list exactly
// the style files, nothing may fail on load, and Download must give the full-size picture. Screenshots at
// desktop and phone width go to test-artifacts/.
//
// Chromium's WebGPU is SwiftShader here (a software adapter: ~25 s for a 256² picture with a real style), so
// the photos are tiny. Without /usr/bin/chromium the page tests skip with a message (CI installs it:
// scripts/setup-chromium.sh). Nothing here needs ../shared.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Download, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// biome-ignore format: @ts-expect-error covers one line only
// @ts-expect-error plain .mjs build/serve scripts, no type declarations
import { decodeImage, firstSheetCell, listStyles, parsePainting, readSafetensorsMetadata } from '../scripts/demo-styles.mjs';
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
import type { RgbaImage } from '../src/models/rgba-image.js';

const MODELS = join(REPO, 'models');
const IMPORTED = join(REPO, '.models-ml5');
warnWithoutChromium('test/web-demo.test.ts', 'the demo page tests');

/** The style files a folder ships, by their names: what the gallery must show (and nothing else). */
function safetensorsIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors') && statSync(join(dir, f)).isFile())
    .sort();
}

/** A safetensors file with no tensors and these metadata strings: enough for the listing, which reads headers only. */
function headerOnlyFile(metadata: Record<string, string> | null): Buffer {
  const header = Buffer.from(JSON.stringify(metadata ? { __metadata__: metadata } : {}));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([prefix, header]);
}

/**
 * A small, deterministic "photo": a sky gradient, a sun, two rows of hills and a striped field. The net
 * needs edges and colours to show its style; noise would not tell a broken output from a stylised one.
 */
function landscape(width: number, height: number): RgbaImage<Uint8Array> {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const u = x / width;
      const v = y / height;
      let rgb = [90 + 120 * v, 150 + 70 * v, 235];
      if ((u - 0.72) ** 2 + ((v - 0.25) * (height / width)) ** 2 < 0.012) rgb = [255, 215, 90];
      if (v > 0.55 + 0.08 * Math.sin(u * 9)) rgb = [60, 120 + 40 * u, 60];
      if (v > 0.72 + 0.05 * Math.sin(u * 15 + 1)) rgb = Math.floor(x / 4) % 2 ? [200, 170, 60] : [170, 130, 40];
      data.set([...rgb.map(Math.round), 255], i);
    }
  }
  return { width, height, data };
}

function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

const work = useSite('fsw-web-demo-');

// ------------------------------------------------------------------ the listing (no browser)

describe('the style listing (scripts/demo-styles.mjs)', () => {
  it('lists the style files of a folder by their headers: not logs, curves, notes, other safetensors or subfolders', () => {
    const dir = join(work.dir, 'listing', 'models');
    mkdirSync(join(dir, 'loss-network'), { recursive: true });
    const style = { format: 'fast-style-webgpu/transform-net', version: '1', architecture: '{}' };
    writeFileSync(join(dir, 'b_style.safetensors'), headerOnlyFile({ ...style, style: 'b_style', step: '40' }));
    writeFileSync(join(dir, 'a_style.safetensors'), headerOnlyFile({ ...style, style: 'a_style' }));
    writeFileSync(join(dir, 'a_style.log.jsonl'), '{"step":1}\n');
    writeFileSync(join(dir, 'a_style.loss.svg'), '<svg/>');
    writeFileSync(join(dir, 'README.md'), 'notes');
    // A VGG file: safetensors, but not a transform net; at the top level and in its subfolder.
    writeFileSync(join(dir, 'vgg19.safetensors'), headerOnlyFile({ format: 'pt' }));
    writeFileSync(join(dir, 'loss-network', 'vgg19.safetensors'), headerOnlyFile(null));
    writeFileSync(join(dir, 'loss-network', 'c_style.safetensors'), headerOnlyFile(style));
    writeFileSync(
      join(dir, 'checkpoint.safetensors'),
      headerOnlyFile({ ...style, format: 'fast-style-webgpu/checkpoint' }),
    );
    writeFileSync(join(dir, 'broken.safetensors'), Buffer.from([255, 255, 255, 255, 255, 255, 255, 127, 1, 2]));
    const imported = join(work.dir, 'listing', 'imported');
    mkdirSync(imported, { recursive: true });
    writeFileSync(
      join(imported, 'wave.safetensors'),
      headerOnlyFile({
        ...style,
        style: 'wave',
        licence: 'ml5.js weights, MIT; training code research use',
        source: 'ml5',
      }),
    );
    writeFileSync(join(imported, 'a_style.safetensors'), headerOnlyFile(style));
    const config = join(work.dir, 'listing', 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        order: ['b_style'],
        styles: { b_style: { painting: 'Jane Doe, Field (c. 1900); public domain', image: 'x.jpg' } },
      }),
    );

    const listed = listStyles({ modelsDir: dir, importedDir: imported, configPath: config });
    // Ours in config order, then the imported ones; an imported file whose name models/ has is served from models/.
    expect(listed.map((s: { file: string; origin: string }) => [s.file, s.origin])).toEqual([
      ['b_style.safetensors', 'ours'],
      ['a_style.safetensors', 'ours'],
      ['wave.safetensors', 'imported'],
    ]);
    expect(listed[0]).toMatchObject({
      name: 'b_style',
      steps: 40,
      painting: { painter: 'Jane Doe', title: 'Field', year: 'c. 1900', rights: 'public domain' },
    });
    expect(listed[2]).toMatchObject({ licence: 'ml5.js weights, MIT; training code research use', painting: null });
    expect(readSafetensorsMetadata(join(dir, 'broken.safetensors'))).toBeNull();
    expect(readSafetensorsMetadata(join(dir, 'README.md'))).toBeNull();
  });

  it('reads painter, title and year from styles/config.json, and every shipped style is described there', () => {
    expect(parsePainting('J. M. W. Turner, The Shipwreck of the Minotaur (c. 1810); public domain')).toEqual({
      painter: 'J. M. W. Turner',
      title: 'The Shipwreck of the Minotaur',
      year: 'c. 1810',
      rights: 'public domain',
    });
    const listed = listStyles({
      modelsDir: MODELS,
      importedDir: null,
      configPath: join(REPO, 'styles', 'config.json'),
    });
    expect(listed.map((s: { file: string }) => s.file).sort()).toEqual(safetensorsIn(MODELS));
    for (const s of listed)
      expect(s.painting?.painter, `${s.name}: styles/config.json has no painting for it`).toBeTruthy();
  });

  it("the thumbnail without ../shared: the painting cut from the style's sheet in docs/images", async () => {
    const shipped = safetensorsIn(MODELS).map((f) => f.replace(/\.safetensors$/, ''));
    expect(shipped.length).toBeGreaterThan(0);
    for (const name of shipped) {
      const sheetPath = join(REPO, 'docs', 'images', `${name}-sheet.jpg`);
      if (!existsSync(sheetPath)) continue;
      const sheet = await decodeImage(readFileSync(sheetPath));
      const cell = firstSheetCell(sheet);
      // The painting's cell: as high as a row, narrower than the sheet, and not the white gap.
      expect(cell.height).toBe((sheet.height - 4) / 2);
      expect(cell.width).toBeGreaterThan(cell.height / 2);
      expect(cell.width).toBeLessThan(sheet.width / 2);
      const lastColumn = Array.from(
        { length: cell.height },
        (_, y) => cell.data[(y * cell.width + cell.width - 1) * 4],
      );
      expect(Math.min(...lastColumn), 'the cell ends inside the painting').toBeLessThan(200);
    }
  });
});

// ------------------------------------------------------------------ the page in Chromium

/** What went wrong while the page was open: console errors, uncaught exceptions, failed or refused requests. */
interface Problems {
  lines: string[];
}

/** Starts recording what goes wrong on `page`. */
function watchProblems(page: Page): Problems {
  const problems: Problems = { lines: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') problems.lines.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.lines.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => problems.lines.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.lines.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return problems;
}

type State = 'idle' | 'loading' | 'ready' | 'busy' | 'done' | 'error';

/** Waits until the status line is in one of `states`; returns its state and text. */
async function statusIn(page: Page, states: State[], timeout = 90_000): Promise<{ state: string; text: string }> {
  await page.waitForFunction(
    (s) => (s as string[]).includes(document.getElementById('status')!.dataset.state!),
    states,
    { timeout },
  );
  return page.evaluate(() => ({
    state: document.getElementById('status')!.dataset.state!,
    text: document.getElementById('status')!.textContent!,
  }));
}

/**
 * Does `action` and waits for the status line to change and land in one of `states` (a status already in
 * one of them before the action does not count: the page keeps 'done' from the run before).
 */
async function statusAfter(
  page: Page,
  action: () => Promise<unknown>,
  states: State[],
  timeout = 90_000,
): Promise<{ state: string; text: string }> {
  const seen = await page.evaluate(() => {
    const w = window as unknown as { statusChanges?: number };
    if (w.statusChanges === undefined) {
      w.statusChanges = 0;
      new MutationObserver(() => w.statusChanges!++).observe(document.getElementById('status')!, {
        attributes: true,
        childList: true,
        characterData: true,
        subtree: true,
      });
    }
    return w.statusChanges;
  });
  await action();
  await page.waitForFunction(
    ({ seen, states }) =>
      (window as unknown as { statusChanges: number }).statusChanges > seen &&
      states.includes(document.getElementById('status')!.dataset.state!),
    { seen, states: states as string[] },
    { timeout },
  );
  return page.evaluate(() => ({
    state: document.getElementById('status')!.dataset.state!,
    text: document.getElementById('status')!.textContent!,
  }));
}

function canvasPixels(page: Page, id: 'before' | 'after'): Promise<{ width: number; height: number; data: number[] }> {
  return page.evaluate((id) => {
    const c = document.getElementById(id) as HTMLCanvasElement;
    return {
      width: c.width,
      height: c.height,
      data: Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data),
    };
  }, id);
}

describe.skipIf(!HAVE_CHROMIUM)('the demo page in Chromium, served as `npm run serve` serves it', () => {
  let browser: ChromiumSession & { problems: Problems };
  const shipped = safetensorsIn(MODELS);
  const imported = safetensorsIn(IMPORTED).filter((f) => !shipped.includes(f));
  /** The photo: larger than the preview, so that Download has to run the full size. */
  const photo = landscape(96, 72);
  const PREVIEW = 48;
  /**
   * GPU budget per image (the page's gpu-memory-mb): the 48×36 preview fits one pass (~1.9 MB by
   * banded.ts's onePassBytes), the 96×72 photo (~6.4 MB) runs in bands.
   */
  const GPU_MEMORY_MB = 3;

  beforeAll(async () => {
    // scripts/serve.mjs's defaults, as `npm run serve` runs it; only the build comes from the temporary folder.
    const session = await openChromium(work.dir, work.site);
    browser = Object.assign(session, { problems: watchProblems(session.page) });
  });

  afterAll(async () => {
    if (browser && process.env.DEBUG_BROWSER_TEST) console.log(browser.problems.lines.join('\n'));
    await browser?.close();
  });

  it('opens with the first shipped style applied, its gallery listing exactly the style files, and nothing failing', async () => {
    const { page, problems } = browser;
    await page.setViewportSize({ width: 1200, height: 900 });
    const t0 = Date.now();
    await page.goto(`${browser.url}?gpu-memory-mb=${GPU_MEMORY_MB}`);
    const st = await statusIn(page, ['ready', 'error']);
    console.log(`default style ready after ${Date.now() - t0} ms: ${st.text}`);
    expect(st.state, st.text).toBe('ready');
    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLImageElement>('img.thumb')].every((i) => i.complete),
    );
    const ui = await page.evaluate(() => ({
      cards: [...document.querySelectorAll<HTMLButtonElement>('.style-card[data-url]')].map((c) => ({
        url: c.dataset.url!,
        pressed: c.getAttribute('aria-pressed'),
        title: c.querySelector('.title')!.textContent!,
        text: c.textContent!,
        thumbnail: (c.querySelector('img.thumb') as HTMLImageElement | null)?.naturalWidth ?? 0,
      })),
      ownPressed: document.getElementById('own-model')!.getAttribute('aria-pressed'),
      adapter: document.getElementById('adapter')!.textContent!,
    }));
    const fallback = await page.evaluate(
      async () =>
        (
          await (
            window as unknown as { demo: { engine(): Promise<{ adapter: { isFallbackAdapter: boolean } }> } }
          ).demo.engine()
        ).adapter.isFallbackAdapter,
    );

    // Exactly the style files: ours (models/), then the imported ones; no log, curve or loss network.
    const urls = ui.cards.map((c) => c.url);
    expect(urls.slice(0, shipped.length).sort()).toEqual(shipped.map((f) => `models/${f}`));
    expect(urls.slice(shipped.length).sort()).toEqual(imported.map((f) => `models/${f}`));
    // The first card, one of ours, is the one applied; the status names it.
    expect(ui.cards.map((c) => c.pressed)).toEqual(ui.cards.map((_, i) => String(i === 0)));
    expect(ui.ownPressed).toBe('false');
    expect(st.text).toContain(ui.cards[0].title);
    const config = JSON.parse(readFileSync(join(REPO, 'styles', 'config.json'), 'utf8'));
    for (const c of ui.cards.slice(0, shipped.length)) {
      const name = c.url.replace(/^models\/|\.safetensors$/g, '');
      // Its painting (served from ../shared or cut from docs/images) with painter, year and origin.
      expect(c.thumbnail, `${name}: thumbnail`).toBeGreaterThan(0);
      const painter = String(config.styles[name]?.painting ?? '').split(',')[0];
      expect(c.text).toContain(painter);
      expect(c.text).toMatch(/Ours/);
    }
    for (const c of ui.cards.slice(shipped.length)) expect(c.text).toMatch(/Imported/);
    if (fallback) expect(ui.adapter).toMatch(/a software adapter: your GPU is not used/);
    expect(problems.lines).toEqual([]);
  });

  it('stylises a photo; strength, colours and the compare divider work on the result', async () => {
    const { page } = browser;
    await page.evaluate(
      (px) => (document.getElementById('max-size') as HTMLSelectElement).append(new Option(`${px} px`, String(px))),
      PREVIEW,
    );
    await page.selectOption('#max-size', String(PREVIEW));
    const st = await statusAfter(
      page,
      () => page.setInputFiles('#image-file', { name: 'landscape.png', mimeType: 'image/png', buffer: png(photo) }),
      ['done', 'error'],
    );
    expect(st.state, st.text).toBe('done');
    const before = await canvasPixels(page, 'before');
    const after = await canvasPixels(page, 'after');
    expect([before.width, before.height, after.width, after.height]).toEqual([48, 36, 48, 36]);
    // Stylised: far from the photo, and not a flat colour.
    expect(meanAbsDiff(after.data, before.data)).toBeGreaterThan(15);
    expect(new Set(after.data.filter((_, i) => i % 4 === 2)).size).toBeGreaterThan(20);
    expect(await page.textContent('#timing')).toMatch(/^Took \d+\.\d s for 48×36 \(first run/);

    // Strength 0 shows the photo again, without the GPU.
    await page.locator('#strength').fill('0');
    expect(maxAbsDiff((await canvasPixels(page, 'after')).data, before.data)).toBe(0);
    expect(await page.textContent('#strength-value')).toBe('0%');
    await page.locator('#strength').fill('1');
    expect(maxAbsDiff((await canvasPixels(page, 'after')).data, after.data)).toBe(0);

    // Keep the photo's colours: one more run; the result's colours move towards the photo's.
    expect((await statusAfter(page, () => page.check('#preserve-colors'), ['done', 'error'])).state).toBe('done');
    const kept = await canvasPixels(page, 'after');
    /** Per pixel, red minus green and blue minus green: the colour apart from the brightness. */
    const chroma = (d: number[]) => d.flatMap((_, i) => (i % 4 === 0 ? [d[i] - d[i + 1], d[i + 2] - d[i + 1]] : []));
    expect(meanAbsDiff(chroma(kept.data), chroma(before.data))).toBeLessThan(
      meanAbsDiff(chroma(after.data), chroma(before.data)) / 2,
    );
    expect((await statusAfter(page, () => page.uncheck('#preserve-colors'), ['done', 'error'])).state).toBe('done');

    // The compare divider: the slider (and its arrow keys) move it.
    await page.locator('#compare').fill('30');
    await page.focus('#compare');
    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate(() => document.getElementById('frame')!.style.getPropertyValue('--split'))).toBe('31%');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'web-demo-desktop.png'), fullPage: true });
  });

  it('Download saves the full-size result, run in exact row bands when the photo exceeds the GPU budget', async () => {
    const { page } = browser;
    // Record the progress bar while the full size runs.
    await page.evaluate(() => {
      const bar = document.getElementById('progress') as HTMLProgressElement;
      const w = window as unknown as { progressSeen: number[] };
      w.progressSeen = [];
      new MutationObserver(() => {
        if (!bar.hidden && bar.hasAttribute('value')) w.progressSeen.push(bar.value / bar.max);
      }).observe(bar, { attributes: true });
    });
    let download!: Download;
    const st = await statusAfter(
      page,
      async () =>
        ([download] = await Promise.all([
          page.waitForEvent('download', { timeout: 120_000 }),
          page.click('#download'),
        ])),
      ['done', 'error'],
    );
    expect(download.suggestedFilename()).toBe(`landscape_${shipped[0].replace(/\.safetensors$/, '')}.png`);
    const file = join(work.dir, 'download.png');
    await download.saveAs(file);
    const saved = PNG.sync.read(readFileSync(file));
    expect([saved.width, saved.height]).toEqual([photo.width, photo.height]);
    expect(st.text).toMatch(/Saved landscape_.*\.png: 96×72, \d+ kB, stylised in row bands/);
    const seen = await page.evaluate(() => (window as unknown as { progressSeen: number[] }).progressSeen);
    expect(
      seen.some((f) => f > 0 && f < 1),
      `progress values ${seen.join(', ')}`,
    ).toBe(true);

    // The same photo in one pass (no budget) in the page: the banded result equals it within a grey level.
    await page.addScriptTag({ type: 'module', content: "import * as m from '/browser.js'; window.__lib = m;" });
    await page.waitForFunction(() => (window as unknown as { __lib?: unknown }).__lib !== undefined);
    const onePass = await page.evaluate(
      async ({ url, img }) => {
        const w = window as unknown as { __lib: any; demo: { engine(): Promise<unknown> } };
        const s = await w.__lib.createStylizer(url, { engine: await w.demo.engine() });
        const out = await s.stylize({ width: img.width, height: img.height, data: Uint8Array.from(img.data) });
        s.dispose();
        return Array.from(out.data as Uint8ClampedArray);
      },
      { url: `models/${shipped[0]}`, img: { width: photo.width, height: photo.height, data: Array.from(photo.data) } },
    );
    expect(maxAbsDiff(saved.data, onePass)).toBeLessThanOrEqual(1);
    expect(meanAbsDiff(saved.data, photo.data)).toBeGreaterThan(15);
  });

  it('a pasted photo stylises', async () => {
    const { page } = browser;
    const small = landscape(40, 30);
    const pasted = await statusAfter(
      page,
      () =>
        page.evaluate(
          (bytes) => {
            const dt = new DataTransfer();
            dt.items.add(new File([Uint8Array.from(bytes)], 'image.png', { type: 'image/png' }));
            dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt }));
          },
          Array.from(png(small)),
        ),
      ['done', 'error'],
    );
    expect(pasted.state, pasted.text).toBe('done');
    expect((await canvasPixels(page, 'before')).data.length).toBe(40 * 30 * 4);
  });

  it('at phone width: one column, nothing wider than the screen; the keyboard reaches every control', async () => {
    const { page } = browser;
    await page.setViewportSize({ width: 390, height: 844 });
    const layout = await page.evaluate(() => {
      const box = (id: string) => document.getElementById(id)!.getBoundingClientRect();
      const stage = document.getElementById('stage')!;
      const padding =
        parseFloat(getComputedStyle(stage).paddingLeft) + parseFloat(getComputedStyle(stage).paddingRight);
      return {
        scrollWidth: document.documentElement.scrollWidth,
        stageBottom: box('stage').bottom,
        controlsTop: document.querySelector('.controls')!.getBoundingClientRect().top,
        frameWidth: box('frame').width,
        room: stage.clientWidth - padding,
        previewWidth: (document.getElementById('after') as HTMLCanvasElement).width,
      };
    });
    expect(layout.scrollWidth).toBeLessThanOrEqual(390);
    expect(layout.controlsTop).toBeGreaterThanOrEqual(layout.stageBottom);
    // The picture as large as the screen allows (a small preview enlarged at most 3 times).
    expect(Math.abs(layout.frameWidth - Math.min(layout.room, 3 * layout.previewWidth))).toBeLessThanOrEqual(1);
    await page.evaluate(() => scrollTo(0, 0));
    await page.screenshot({ path: join(ARTIFACTS, 'web-demo-phone.png'), fullPage: true });

    // Tab from the top: every control in order of reading.
    // Focus the page itself, so that the next Tab starts at the top (blur() alone keeps the last position).
    await page.evaluate(() => {
      document.body.tabIndex = -1;
      document.body.focus();
      document.body.removeAttribute('tabindex');
    });
    const reached: string[] = [];
    for (let i = 0; i < 30 && !reached.includes('download'); i++) {
      await page.keyboard.press('Tab');
      reached.push(
        await page.evaluate(() => {
          const a = document.activeElement as HTMLElement;
          return a.id || (a.dataset.name ? `card:${a.dataset.name}` : a.tagName);
        }),
      );
    }
    const expected = [
      `card:${shipped[0].replace(/\.safetensors$/, '')}`,
      'own-model',
      'pick-photo',
      'webcam',
      'compare',
      'strength',
      'preserve-colors',
      'max-size',
      'download-format',
      'download',
    ];
    expect(
      reached.filter((r) => expected.includes(r)),
      reached.join(' '),
    ).toEqual(expected);
    // Enter on the photo button opens the photo picker (a click on the file input, which opens the chooser).
    await page.evaluate(() => {
      const w = window as unknown as { pickerOpened: boolean };
      w.pickerOpened = false;
      document.getElementById('image-file')!.addEventListener('click', () => (w.pickerOpened = true), { once: true });
    });
    await page.focus('#pick-photo');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => (window as unknown as { pickerOpened: boolean }).pickerOpened)).toBe(true);
  });

  it('a dropped file that is neither photo nor style: the page says so in words', async () => {
    const { page } = browser;
    const st = await statusAfter(
      page,
      () =>
        page.evaluate(() => {
          const dt = new DataTransfer();
          dt.items.add(new File(['hello'], 'notes.txt', { type: 'text/plain' }));
          dispatchEvent(new DragEvent('drop', { dataTransfer: dt, cancelable: true }));
        }),
      ['error'],
    );
    expect(st.text).toBe(
      'notes.txt is neither a photo nor a style model: drop a JPEG, PNG or WebP photo, or a .safetensors style file.',
    );
  });

  it('a model file that is not a style: the page says so and what to do, and keeps the style it had', async () => {
    const { page } = browser;
    const st = await statusAfter(
      page,
      () =>
        page.setInputFiles('#model-file', {
          name: 'loss.log.jsonl',
          mimeType: 'application/octet-stream',
          buffer: Buffer.from('{"step":1}\n'),
        }),
      ['error'],
    );
    expect(st.text).toMatch(
      /^loss\.log\.jsonl is not a style model\. Pick a style above, or open a \.safetensors file .* \(.*not a safetensors file.*\)$/,
    );
    expect(await page.textContent('#own-model-name')).toBe('a .safetensors style file');
    expect(await page.getAttribute('.style-card[data-url]', 'aria-pressed')).toBe('true');
  });
});
