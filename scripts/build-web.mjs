// The browser side of the build: the library bundle (dist/browser.js, no Node APIs) and the demo page
// (dist/web/). Used by scripts/build.mjs, and by test/browser.test.ts to build into a temporary folder.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const common = {
  bundle: true,
  format: 'esm',
  sourcemap: true,
  loader: { '.wgsl': 'text' },
  logLevel: 'warning',
  platform: 'browser',
  target: 'es2022',
  absWorkingDir: root,
};

/** dist/browser.js: engine, ops, autograd, models, model I/O and the stylizer, for browsers. */
export async function buildBrowserBundle(outdir = join(root, 'dist')) {
  const result = await build({
    ...common,
    entryPoints: { browser: 'src/browser.ts' },
    outdir,
    minify: true,
    metafile: true,
  });
  // Returns the file and esbuild's metafile (its inputs and imports let tests prove no Node module got in).
  return { file: join(outdir, 'browser.js'), metafile: result.metafile };
}

/**
 * The demo: web/main.ts (and the modules it imports) to <outdir>/main.js with web/index.html and web/demo.css
 * beside it. main.ts imports the library from src/browser.ts for its types; in the bundle that import becomes
 * `./browser.js`, the library bundle served next to the page (scripts/serve.mjs maps it to dist/browser.js), so
 * the demo does not carry a second copy.
 */
export async function buildWeb(outdir = join(root, 'dist', 'web')) {
  mkdirSync(outdir, { recursive: true });
  const libraryAsExternal = {
    name: 'library-as-external',
    setup(b) {
      b.onResolve({ filter: /(^|\/)src\/browser(\.js|\.ts)?$/ }, () => ({ path: './browser.js', external: true }));
    },
  };
  await build({
    ...common,
    entryPoints: { main: 'web/main.ts' },
    outdir,
    minify: true,
    plugins: [libraryAsExternal],
  });
  for (const page of ['index.html', 'demo.css']) copyFileSync(join(root, 'web', page), join(outdir, page));
  return outdir;
}
