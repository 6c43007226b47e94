// The layering of src/ (docs/CONVENTIONS.md): no module imports, at run time, a module that imports it back
// (directly or through others; type-only imports vanish from the build and are left out there), and no folder
// imports, even for a type, from a folder above it in engine ← shaders ← ops ← autograd ← models ← node ←
// cli | browser, with the entry points (src/*.ts and src/browser/index.ts) on top, cli (Node) and browser kept
// apart, and the browser library (src/browser/, its entry point included) importing neither node nor cli.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(__dirname, '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

/** Run-time imports (and re-exports) of a module: relative specifiers, `import type`/`export type` left out. */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  const statement = /^\s*(import|export)\s+(type\s+)?([^;]*?)\s+from\s+'(\.[^']+)'/gms;
  for (const m of text.matchAll(statement)) {
    if (m[2]) continue;
    // `import { type A, type B } from` imports nothing at run time either.
    const names = m[3]
      .replace(/^\{|\}$/g, '')
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean);
    if (m[3].startsWith('{') && names.every((n) => n.startsWith('type '))) continue;
    const spec = m[4];
    if (!spec.endsWith('.js')) continue; // .wgsl text and the like
    out.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
  }
  return out;
}

/** Every import and re-export of a module, type-only ones and WGSL text included, as absolute paths. */
function allImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const statement = /^\s*(?:import|export)\s[^;]*?\sfrom\s+'(\.[^']+)'/gms;
  return [...text.matchAll(statement)].map((m) => resolve(dirname(file), m[1].replace(/\.js$/, '.ts')));
}

/** The layers from the bottom; folders in one entry are side by side and may not import each other. */
const LAYERS: readonly (readonly string[])[] = [
  ['engine'],
  ['shaders'],
  ['ops'],
  ['autograd'],
  ['models'],
  ['node'],
  ['cli', 'browser'],
  ['.'], // the entry points: src/index.ts, src/api.ts and src/browser/index.ts (see layerOf)
];

/** Folders the browser library (src/browser/, its entry point included) never imports: it uses no Node API. */
const NODE_ONLY: readonly string[] = ['node', 'cli'];

/** The browser bundle's entry point: in src/browser/ beside the modules it exports, on the layer of src/*.ts. */
const BROWSER_ENTRY = join('browser', 'index.ts');

/** The folder of src/ a file is in ('.' for src/ itself) and its layer's index (-1: in no layer). */
function layerOf(file: string): { folder: string; rank: number } {
  const path = relative(SRC, file);
  const parts = path.split(sep);
  const folder = parts.length === 1 || path === BROWSER_ENTRY ? '.' : parts[0];
  return { folder, rank: LAYERS.findIndex((l) => l.includes(folder)) };
}

describe('src import graph', () => {
  it('imports only from its own layer or the layers below (docs/CONVENTIONS.md)', () => {
    const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.(ts|wgsl)$/.test(f) && !f.endsWith('.d.ts'))
      .map((f) => join(SRC, f));
    expect(files.length).toBeGreaterThan(100);
    expect(files.filter((f) => layerOf(f).rank < 0).map((f) => relative(SRC, f))).toEqual([]);
    const wrong: string[] = [];
    let edges = 0;
    for (const f of files.filter((f) => f.endsWith('.ts'))) {
      const from = layerOf(f);
      for (const d of allImports(f)) {
        const to = layerOf(d);
        if (to.folder === from.folder) continue;
        edges++;
        const browser = from.folder === 'browser' || relative(SRC, f) === BROWSER_ENTRY;
        if (to.rank >= from.rank || (browser && NODE_ONLY.includes(to.folder)))
          wrong.push(`${relative(SRC, f)} → ${relative(SRC, d)}`);
      }
    }
    expect(edges).toBeGreaterThan(100);
    expect(wrong).toEqual([]);
  });

  it('has no run-time import cycle', () => {
    const files = sources(SRC);
    const graph = new Map(files.map((f) => [f, runtimeImports(f).filter((d) => files.includes(d))]));
    expect(graph.size).toBeGreaterThan(50);
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(f)), f].map((p) => p.slice(SRC.length + 1)).join(' → '));
        return;
      }
      state.set(f, 'visiting');
      for (const d of graph.get(f) ?? []) visit(d, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
