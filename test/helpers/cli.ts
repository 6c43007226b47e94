// The CLI as the end-to-end tests run it: dist/cli.js (or FSW_CLI, e.g. an older build to show that a test
// fails there), rebuilt first when any source is newer than it.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');
export const CLI = process.env.FSW_CLI ?? join(ROOT, 'dist', 'cli.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds dist/ (without types) when the CLI is missing or older than src/ or package.json. */
export function buildCliIfStale(): void {
  if (process.env.FSW_CLI) return;
  if (
    !existsSync(CLI) ||
    statSync(CLI).mtimeMs < Math.max(newestMtime(join(ROOT, 'src')), statSync(join(ROOT, 'package.json')).mtimeMs)
  ) {
    execFileSync('node', ['scripts/build.mjs', '--no-types'], { cwd: ROOT, stdio: 'pipe' });
  }
}
