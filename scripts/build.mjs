// Builds dist/: the CLI and Node entry (ESM, webgpu kept external) and the browser bundle (no Node APIs).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';

const common = {
  bundle: true,
  format: 'esm',
  sourcemap: true,
  loader: { '.wgsl': 'text' },
  logLevel: 'warning',
};

await build({
  ...common,
  platform: 'node',
  target: 'node20',
  entryPoints: { cli: 'src/cli/main.ts', index: 'src/index.ts' },
  outdir: 'dist',
  external: ['webgpu', 'pngjs', 'jpeg-js'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
chmodSync('dist/cli.js', 0o755);

await build({
  ...common,
  platform: 'browser',
  target: 'es2022',
  entryPoints: { browser: 'src/browser.ts' },
  outdir: 'dist',
  minify: true,
});

if (!process.argv.includes('--no-types')) {
  execFileSync('npx', ['tsc', '-p', '.'], { stdio: 'inherit' });
}
