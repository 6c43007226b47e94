// The CLI as the end-to-end tests run it: dist/cli.js (or FSW_CLI, e.g. an older build to show that a test
// fails there), rebuilt first when any source is newer than it; a run's result and its one error line; the
// temporary folder a test file works in.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect } from 'vitest';

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

/** What a CLI run printed and its exit status. */
export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node CLI ...args` to the end (in ROOT unless `cwd` is given). */
export function runCli(
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {},
): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: opts.env,
    encoding: 'utf8',
    timeout: opts.timeout ?? 300_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** stderr's lines but warnings: Dawn's own start-up ones (not ours to print or suppress) and ours about software adapters. */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !/^warning: /i.test(l));
}

/** Exit `status` and one `error: …` line on stderr besides warnings, matching `message`. */
export function expectOneError(r: { status: number | null; stderr: string }, status: number, message: RegExp): void {
  expect(r.status, r.stderr).toBe(status);
  const lines = errorLines(r.stderr);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(message);
}

/** stderr's `error: …` lines, whatever else the command printed. */
export function errorMessages(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('error: '));
}

/** Exit `status` and one `error: …` line matching `message` among whatever else the command printed. */
export function expectOneErrorLine(
  r: { status: number | null; stderr: string },
  status: number,
  message: RegExp,
): void {
  expect(r.status, r.stderr).toBe(status);
  const lines = errorMessages(r.stderr);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(message);
}

/** A temporary folder for this test file (or describe block), removed after its tests. */
export function workDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
