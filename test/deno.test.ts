// The second WebGPU implementation: every shared case of test/cases (ops forward and backward against their
// float64 references, the PyTorch golden fixtures of both nets, training loops) run by Deno on its WebGPU
// (wgpu, the implementation Firefox uses), each reported here as its own test; and a small image stylised
// by Deno compared with the same image stylised here on Node (Dawn).
//
// Deno comes from the `deno` devDependency (npm); DENO_BIN overrides it. The runner is test/deno/run.ts,
// bundled by scripts/build-deno.mjs into a temporary folder; it gets read access to the fixtures and nothing else.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs build script, no type declarations
import { buildDenoTests, denoBinary, fixturesDir } from '../scripts/build-deno.mjs';
import { ops } from '../src/ops/index.js';
import { allCaseGroups } from './cases/index.js';
import { stylizeInput, stylizeSample } from './cases/stylize.js';
import { goldenStore } from './helpers/golden.js';
import { testEngine } from './helpers/gpu.js';

/**
 * Stylised bytes, Deno vs Node: at most 1 level of 255 apart. Both run the same WGSL in f32 on the same
 * driver (Mesa lavapipe through Vulkan), but Dawn's Tint and wgpu's Naga translate it to different SPIR-V
 * (expression order, fused multiply-adds, how tanh/exp/inverseSqrt are expanded), so results may differ in
 * the last bits of a float; after 16 convolutions and rounding to bytes that can move a pixel by one level,
 * never more unless a kernel computes something else.
 */
const STYLIZE_LEVELS = 1;

interface CaseResult {
  group: string;
  name: string;
  ok: boolean;
  ms: number;
  error: string | null;
}

const groups = allCaseGroups(goldenStore);
const expectedCount = groups.reduce((n, g) => n + g.cases.length, 0);

let tmp = '';
let run: {
  status: number | null;
  adapter: { describe: string } | null;
  cases: Map<string, CaseResult>;
  stylize: { ok: boolean; bytes?: string; error?: string } | null;
  ops: Record<string, { forward: number; backward: number }> | null;
  done: { passed: number; failed: number; ms: number } | null;
  output: string;
} = { status: null, adapter: null, cases: new Map(), stylize: null, ops: null, done: null, output: '' };

const key = (group: string, name: string) => `${group} › ${name}`;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'fsw-deno-test-'));
  const { file } = await buildDenoTests(tmp);
  const child = spawn(denoBinary(), ['run', `--allow-read=${fixturesDir}`, file, fixturesDir], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const status = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  run = { ...run, status, output: `${stdout}\n${stderr}`.slice(-4000) };
  for (const line of stdout.split('\n')) {
    const m = /^@@(\w+) (.*)$/.exec(line);
    if (!m) continue;
    const v = JSON.parse(m[2]);
    if (m[1] === 'adapter') run.adapter = v;
    else if (m[1] === 'case') run.cases.set(key(v.group, v.name), v);
    else if (m[1] === 'stylize') run.stylize = v;
    else if (m[1] === 'ops') run.ops = v;
    else if (m[1] === 'done') run.done = v;
  }
}, 600_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('Deno (wgpu): the run', () => {
  it('finished and reported every shared case', () => {
    expect(
      run.done,
      `the Deno run did not finish (exit status ${run.status}); its output ends with:\n${run.output}`,
    ).not.toBeNull();
    const { passed, failed, ms } = run.done!;
    console.log(
      `Deno (wgpu) on ${run.adapter?.describe}: ${passed + failed} cases, ${passed} passed, ${failed} failed, in ${(ms / 1000).toFixed(1)} s`,
    );
    expect(run.cases.size).toBe(expectedCount);
    expect(passed + failed).toBe(expectedCount);
  });

  it('ran every registered op (src/ops/index.ts) forward and backward', () => {
    expect(run.ops, `Deno reported no op counts (exit status ${run.status})`).not.toBeNull();
    const missing = Object.entries(ops)
      .filter(
        ([name, op]) =>
          !run.ops![name] || run.ops![name].forward === 0 || (op.backward && run.ops![name].backward === 0),
      )
      .map(([name]) => name);
    expect(missing, 'ops without a shared case in test/cases (or never differentiated there)').toEqual([]);
  });
});

for (const { group, file, cases } of groups) {
  describe(`Deno (wgpu): ${group} (the cases of ${file})`, () => {
    for (const c of cases) {
      it(c.name, () => {
        const r = run.cases.get(key(group, c.name));
        if (!r)
          expect.fail(
            `Deno did not report this case (exit status ${run.status}); its output ends with:\n${run.output}`,
          );
        if (!r.ok) expect.fail(`on Deno (wgpu): ${r.error}`);
      });
    }
  });
}

describe('Deno (wgpu) vs Node (Dawn): stylize', () => {
  it(`the same small image stylised by both (plain; tiled with preserveColors and strength) differs by at most ${STYLIZE_LEVELS} level per byte`, async () => {
    expect(run.stylize, `Deno did not stylise; its output ends with:\n${run.output}`).not.toBeNull();
    if (!run.stylize!.ok) expect.fail(`stylize on Deno: ${run.stylize!.error}`);
    const deno = Uint8Array.from(Buffer.from(run.stylize!.bytes!, 'base64'));
    const node = await stylizeSample(await testEngine(), goldenStore);
    const input = stylizeInput();
    expect(deno.length).toBe(node.length);
    expect(node.length).toBe(2 * input.data.length);
    let worst = 0;
    let differing = 0;
    for (let i = 0; i < node.length; i++) {
      const d = Math.abs(deno[i] - node[i]);
      worst = Math.max(worst, d);
      if (d) differing++;
    }
    console.log(
      `stylize ${input.width}×${input.height}, plain and tiled with options: ${differing} of ${node.length} bytes differ between Deno and Node, by at most ${worst}`,
    );
    expect(worst, `bytes differ by up to ${worst} levels (${differing} bytes differ)`).toBeLessThanOrEqual(
      STYLIZE_LEVELS,
    );
    // Alpha passes through unchanged on both; the net does change colour (the comparison is not of copies).
    const n = input.data.length;
    for (let i = 3; i < node.length; i += 4) expect(deno[i]).toBe(input.data[i % n]);
    expect(node.some((v, i) => i % 4 !== 3 && Math.abs(v - input.data[i % n]) > 8)).toBe(true);
  });
});
