// The Deno test bundle: test/deno/run.ts (the shared cases of test/cases with the engine, ops and models) as one
// ESM file without Node APIs, for Deno's WebGPU (wgpu). Used by test/deno.test.ts (into a temporary folder) and
// `npm run test:deno` (scripts/test-deno.mjs). Not part of dist/: it is a test, not something to ship.
import { build } from 'esbuild';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Bundles the runner into <outdir>/deno-tests.js; returns its path and esbuild's metafile. */
export async function buildDenoTests(outdir) {
  const result = await build({
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    loader: { '.wgsl': 'text' },
    logLevel: 'warning',
    absWorkingDir: root,
    entryPoints: { 'deno-tests': 'test/deno/run.ts' },
    outdir,
    metafile: true,
  });
  return { file: join(outdir, 'deno-tests.js'), metafile: result.metafile };
}

/** The deno binary of the `deno` devDependency (npm package), for machines without a system Deno. */
export function denoBinary() {
  return process.env.DENO_BIN ?? join(root, 'node_modules', '.bin', 'deno');
}

export const fixturesDir = join(root, 'test', 'fixtures', 'golden');
