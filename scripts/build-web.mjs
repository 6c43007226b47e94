// The browser side of the build: the library bundle (dist/browser.js from src/browser/, no Node APIs) and the
// demo page (dist/demo/ from demo/). Used by scripts/build.mjs, and by the Chromium tests
// (test/helpers/chromium.ts) to build into a temporary folder.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** What the project's esbuild bundles share (here and scripts/build.mjs): ESM, source maps, WGSL as text. */
export const esbuildCommon = {
  bundle: true,
  format: 'esm',
  sourcemap: true,
  loader: { '.wgsl': 'text' },
  logLevel: 'warning',
};

const common = {
  ...esbuildCommon,
  platform: 'browser',
  target: 'es2022',
  absWorkingDir: root,
};

/** dist/browser.js: engine, ops, autograd, models, model I/O and the stylizer, for browsers. */
export async function buildBrowserBundle(outdir = join(root, 'dist')) {
  const result = await build({
    ...common,
    entryPoints: { browser: 'src/browser/index.ts' },
    outdir,
    minify: true,
    metafile: true,
  });
  // Returns the file and esbuild's metafile (its inputs and imports let tests prove no Node module got in).
  return { file: join(outdir, 'browser.js'), metafile: result.metafile };
}

/**
 * The demo: demo/main.ts (and the modules it imports) to <outdir>/main.js with demo/index.html and demo/demo.css
 * beside it. main.ts imports the library from src/browser/index.ts for its types; in the bundle that import becomes
 * `./browser.js`, the library bundle served next to the page (scripts/serve.mjs maps it to dist/browser.js), so
 * the demo does not carry a second copy.
 */
export async function buildDemo(outdir = join(root, 'dist', 'demo')) {
  mkdirSync(outdir, { recursive: true });
  const libraryAsExternal = {
    name: 'library-as-external',
    setup(b) {
      b.onResolve({ filter: /(^|\/)src\/browser\/index(\.js|\.ts)?$/ }, () => ({
        path: './browser.js',
        external: true,
      }));
    },
  };
  await build({
    ...common,
    entryPoints: { main: 'demo/main.ts' },
    outdir,
    minify: true,
    plugins: [libraryAsExternal],
  });
  for (const page of ['index.html', 'demo.css']) copyFileSync(join(root, 'demo', page), join(outdir, page));
  return outdir;
}
