#!/usr/bin/env node
// The README's pictures of the web demo: serves the demo as `npm run serve` does, opens it in Chromium,
// stylises PHOTO with the style the page applies first, at the preview size the page picks (256 px on a
// software adapter), and saves the page at desktop and phone width as JPEGs.
// Usage: node scripts/web-screenshots.mjs PHOTO [OUT_DIR]   (default docs/images; needs `npm run build` and
// Debian's chromium, scripts/setup-chromium.sh). On a software adapter the 256² run takes ~30 s.
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from './serve.mjs';

const [photo, outDir = 'docs/images'] = process.argv.slice(2);
if (!photo) {
  console.error('usage: node scripts/web-screenshots.mjs PHOTO [OUT_DIR]');
  process.exit(2);
}
const JPEG_QUALITY = 80;

const server = await startServer({ port: 0, quiet: true });
const profile = mkdtempSync(join(tmpdir(), 'fsw-screenshots-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--no-first-run'],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  const status = async (states) => {
    await page.waitForFunction((s) => s.includes(document.getElementById('status').dataset.state), states, {
      timeout: 300_000,
    });
    return page.textContent('#status');
  };
  await page.setViewportSize({ width: 1200, height: 900 });
  await page.goto(server.url);
  console.log(await status(['ready', 'error']));
  await page.setInputFiles('#image-file', photo);
  console.log(await status(['done', 'error']));
  mkdirSync(outDir, { recursive: true });
  const shots = [
    ['web-demo-desktop.jpg', { width: 1200, height: 900 }],
    ['web-demo-phone.jpg', { width: 390, height: 844 }],
  ];
  for (const [name, viewport] of shots) {
    await page.setViewportSize(viewport);
    await page.evaluate(() => scrollTo(0, 0));
    const path = join(outDir, name);
    await page.screenshot({ path, type: 'jpeg', quality: JPEG_QUALITY, fullPage: true });
    console.log(
      `${path}: ${viewport.width} px wide, ${Math.round(statSync(path).size / 1024)} kB (${basename(photo)})`,
    );
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  await server.close();
}
