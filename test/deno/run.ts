// The shared cases of test/cases on Deno's WebGPU (wgpu), the second WebGPU implementation. Bundled by
// scripts/build-deno.mjs into one ESM file without Node APIs and run as
//   deno run --allow-read <bundle> <fixture dir> [name filter]
// test/deno.test.ts does both and turns every printed case into a vitest result; `npm run test:deno` prints
// them for a person.
//
// Output: one line per event, `@@<kind> <json>`: `adapter` (what wgpu found), `case` (group, name, ok, ms,
// error), `ops` (how often each registered op's forward and backward ran), `stylize` (the RGBA bytes of
// test/cases/stylize.ts, base64) and `done` (counts and time).
import { Engine } from '../../src/engine/engine.js';
import { ops } from '../../src/ops/index.js';
import type { AnyOpDef } from '../../src/ops/op.js';
import { allCaseGroups } from '../cases/index.js';
import { stylizeSample } from '../cases/stylize.js';
import { GoldenStore } from '../helpers/golden-store.js';

declare const Deno: {
  args: string[];
  readFileSync(path: string): Uint8Array;
  exit(code: number): never;
};

function emit(kind: string, value: unknown): void {
  console.log(`@@${kind} ${JSON.stringify(value)}`);
}

function message(e: unknown): string {
  return e instanceof Error
    ? `${e.message}${e.stack ? `\n${e.stack.split('\n').slice(1, 6).join('\n')}` : ''}`
    : String(e);
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

const [fixtures, filter = ''] = Deno.args;
if (!fixtures) {
  console.error('usage: deno run --allow-read deno-tests.js <test/fixtures/golden> [name filter]');
  Deno.exit(2);
}
const store = new GoldenStore((name) => Deno.readFileSync(`${fixtures.replace(/\/$/, '')}/${name}`));

// Count every registered op's forward and backward calls (the cases reach them through the same module
// objects), so that test/deno.test.ts can require each op to have run both ways on wgpu.
const opCalls: Record<string, { forward: number; backward: number }> = {};
for (const [name, op] of Object.entries(ops) as [string, AnyOpDef][]) {
  const calls = (opCalls[name] = { forward: 0, backward: 0 });
  const { forward, backward } = op;
  op.forward = (inputs, attrs) => {
    calls.forward++;
    return forward.call(op, inputs, attrs);
  };
  if (backward) {
    op.backward = (ctx, gradOutput) => {
      calls.backward++;
      return backward.call(op, ctx, gradOutput);
    };
  }
}

const started = performance.now();
// wgpu reports a CPU adapter (Mesa llvmpipe/lavapipe, SwiftShader, WARP) as a fallback adapter: allow it, or
// machines without a GPU have none.
const engine = await Engine.create((globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu, {
  allowFallbackAdapter: true,
  backendHint: 'wgpu',
});
emit('adapter', { describe: engine.describe(), ...engine.adapter });

let passed = 0;
let failed = 0;
for (const { group, cases } of allCaseGroups(store)) {
  for (const c of cases) {
    if (filter && !`${group} ${c.name}`.includes(filter)) continue;
    const t0 = performance.now();
    let error: string | null = null;
    try {
      await c.run(engine);
      // GPU errors (a pipeline wgpu rejects, a validation error) surface here, charged to this case.
      await engine.sync();
    } catch (e) {
      error = message(e);
    }
    if (error) failed++;
    else passed++;
    emit('case', { group, name: c.name, ok: !error, ms: Math.round(performance.now() - t0), error });
  }
}

emit('ops', opCalls);

if (!filter || 'stylize'.includes(filter)) {
  const t0 = performance.now();
  try {
    const bytes = await stylizeSample(engine, store);
    emit('stylize', { ok: true, ms: Math.round(performance.now() - t0), bytes: base64(bytes) });
  } catch (e) {
    emit('stylize', { ok: false, error: message(e) });
  }
}

emit('done', { passed, failed, ms: Math.round(performance.now() - started) });
engine.destroy();
Deno.exit(failed ? 1 : 0);
