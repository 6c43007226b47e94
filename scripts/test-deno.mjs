// `npm run test:deno [name filter]`: builds the Deno test bundle into a temporary folder and runs the shared
// cases on Deno's WebGPU (wgpu), printing each. test/deno.test.ts runs the same under `npm test`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDenoTests, denoBinary, fixturesDir } from './build-deno.mjs';

const tmp = mkdtempSync(join(tmpdir(), 'fsw-deno-'));
try {
  const { file } = await buildDenoTests(tmp);
  const run = spawnSync(
    denoBinary(),
    ['run', `--allow-read=${fixturesDir}`, file, fixturesDir, ...process.argv.slice(2)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  for (const line of (run.stdout ?? '').split('\n')) {
    const m = /^@@(\w+) (.*)$/.exec(line);
    if (!m) {
      if (line) console.log(line);
      continue;
    }
    const v = JSON.parse(m[2]);
    if (m[1] === 'adapter') console.log(`adapter: ${v.describe}`);
    else if (m[1] === 'case')
      console.log(
        `${v.ok ? 'ok  ' : 'FAIL'} ${v.group} › ${v.name} (${v.ms} ms)${v.error ? `\n     ${v.error.replace(/\n/g, '\n     ')}` : ''}`,
      );
    else if (m[1] === 'ops') {
      const idle = Object.entries(v)
        .filter(([, c]) => c.forward === 0 || c.backward === 0)
        .map(([k, c]) => `${k} (${c.forward} forward, ${c.backward} backward)`);
      console.log(
        `ops: ${Object.keys(v).length} registered${idle.length ? `; not run both ways: ${idle.join(', ')}` : ', all run forward and backward'}`,
      );
    } else if (m[1] === 'stylize')
      console.log(v.ok ? `stylize: ${atob(v.bytes).length} bytes (${v.ms} ms)` : `stylize FAILED: ${v.error}`);
    else if (m[1] === 'done')
      console.log(`deno: ${v.passed} passed, ${v.failed} failed in ${(v.ms / 1000).toFixed(1)} s`);
  }
  process.exitCode = run.status ?? 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
