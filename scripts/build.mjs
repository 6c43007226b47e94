// Builds dist/: the CLI and Node entry (ESM; webgpu and sharp, native code, kept external), the browser bundle (no Node
// APIs) and the web demo (dist/demo/).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { buildBrowserBundle, buildDemo, esbuildCommon as common } from './build-web.mjs';

await build({
  ...common,
  platform: 'node',
  target: 'node20',
  entryPoints: { cli: 'src/cli/main.ts', index: 'src/index.ts' },
  outdir: 'dist',
  external: ['webgpu', 'sharp'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
chmodSync('dist/cli.js', 0o755);

// Benchmarks (dist/bench.js, `npm run bench`): a Node program like the CLI.
await build({
  ...common,
  platform: 'node',
  target: 'node20',
  entryPoints: { bench: 'bench/main.ts', 'bench-large': 'bench/large-image.ts' },
  outdir: 'dist',
  external: ['webgpu', 'sharp', 'pngjs', 'jpeg-js'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});

// The browser bundle (dist/browser.js) and the demo page (dist/demo/): see scripts/build-web.mjs.
await buildBrowserBundle();
await buildDemo();

if (!process.argv.includes('--no-types')) {
  execFileSync('npx', ['tsc', '-p', '.'], { stdio: 'inherit' });
}
