// What the Chromium tests share (test/browser.test.ts, test/web-demo.test.ts, test/web-train.test.ts): where
// Chromium is, the library bundle and the demo page built from the current sources into a temporary folder,
// and a session of the demo's server (scripts/serve.mjs) with a headless Chromium (Debian's /usr/bin/chromium
// driven by playwright-core) on a fresh profile. Without Chromium the page tests skip with a message; CI
// installs it (scripts/setup-chromium.sh from .ci/run). Also what their checks share: PNG bytes of an image,
// the largest difference between two images.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, expect } from 'vitest';
// @ts-expect-error plain .mjs build/serve scripts, no type declarations
import { buildBrowserBundle, buildDemo } from '../../scripts/build-web.mjs';
// @ts-expect-error plain .mjs build/serve scripts, no type declarations
import { startServer } from '../../scripts/serve.mjs';
import type { RgbaImage } from '../../src/models/rgba-image.js';

export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const CHROMIUM: string = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
/** Where the tests leave their screenshots. */
export const ARTIFACTS = join(REPO, 'test-artifacts');

/** Says why `what` (a test file's Chromium tests) skips when there is no Chromium. */
export function warnWithoutChromium(testFile: string, what: string): void {
  if (HAVE_CHROMIUM) return;
  console.warn(
    `${testFile}: ${CHROMIUM} not found, skipping ${what} (install it with: sudo scripts/setup-chromium.sh)`,
  );
}

/** The library bundle (browser.js) and the demo page's folder, as built, and esbuild's metafile of the bundle. */
export interface Site {
  bundle: string;
  demo: string;
  metafile: { inputs: Record<string, unknown>; outputs: Record<string, { imports: { path: string }[] }> };
}

/**
 * Builds the bundle and the demo from the current sources into `dir`/site with the very functions `npm run
 * build` uses: not into dist/, which other test files and the CLI may be reading.
 */
export async function buildSite(dir: string): Promise<Site> {
  const built = await buildBrowserBundle(join(dir, 'site'));
  return { bundle: built.file, demo: await buildDemo(join(dir, 'site', 'demo')), metafile: built.metafile };
}

/** A test file's temporary folder and the site built into it: set by the beforeAll that useSite registers. */
export interface SiteFixture {
  dir: string;
  site: Site;
}

/**
 * Registers a beforeAll that makes a temporary folder (its name starting with `prefix`) and builds the site into
 * it, and an afterAll that deletes the folder; the returned object holds both from the beforeAll on.
 */
export function useSite(prefix: string): SiteFixture {
  const fixture = { dir: '' } as SiteFixture;
  beforeAll(async () => {
    fixture.dir = mkdtempSync(join(tmpdir(), prefix));
    fixture.site = await buildSite(fixture.dir);
  });
  afterAll(() => {
    if (fixture.dir) rmSync(fixture.dir, { recursive: true, force: true });
  });
  return fixture;
}

/** An RGBA image as a PNG file's bytes. */
export function png(img: RgbaImage<Uint8Array>): Buffer {
  return PNG.sync.write(
    Object.assign(new PNG({ width: img.width, height: img.height }), { data: Buffer.from(img.data) }),
  );
}

/** The largest difference between two equally long arrays of pixels or numbers (expects the lengths equal). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export interface ChromiumOptions {
  /** Chromium flags after the common ones (a fake camera, another WebGPU adapter…). */
  args?: string[];
  /** scripts/serve.mjs's options besides the site (modelsDir…); its defaults otherwise, as `npm run serve`. */
  serve?: Record<string, unknown>;
}

export interface ChromiumSession {
  /** The server's address, ending in '/'. */
  url: string;
  context: BrowserContext;
  /** The profile's first page. */
  page: Page;
  /** That page's console messages and uncaught errors: `console.<type>: text` and `pageerror: message`. */
  log: string[];
  /** Closes Chromium, deletes its profile and stops the server (printing the log when DEBUG_BROWSER_TEST is set). */
  close(): Promise<void>;
}

/** Serves `site` on a free port and opens a headless Chromium on a fresh profile in `dir`. */
export async function openChromium(dir: string, site: Site, options: ChromiumOptions = {}): Promise<ChromiumSession> {
  const srv: { url: string; close(): Promise<void> } = await startServer({
    port: 0,
    demoRoot: site.demo,
    browserBundle: site.bundle,
    ...options.serve,
    quiet: true,
  });
  try {
    const profile = mkdtempSync(join(dir, 'profile-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const log: string[] = [];
    page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
    const close = async () => {
      if (process.env.DEBUG_BROWSER_TEST) console.log(log.join('\n'));
      await context.close();
      rmSync(profile, { recursive: true, force: true });
      await srv.close();
    };
    return { url: srv.url, context, page, log, close };
  } catch (e) {
    await srv.close();
    throw e;
  }
}
