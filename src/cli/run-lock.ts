/**
 * One `train` run per output at a time. Two runs on the same --out would overwrite each other's model and
 * checkpoint and interleave their loss logs, each saying it succeeded; the second one is refused instead.
 * The lock is a file beside the model (NAME.lock, created exclusively) holding the owner's pid and host; it
 * is removed when the run ends, and a lock whose process is gone (kill -9, a crash, a reboot) is stale: the
 * next run takes it over with a warning.
 */
import { hostname } from 'node:os';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { CliError } from './errors.js';
import { fsReason } from './files.js';
import { processAlive } from './process-alive.js';

interface LockOwner {
  pid: number;
  host: string;
  started: string;
  command?: string;
}

const held = new Set<string>();
let exitHookInstalled = false;

/** NAME.lock for the model file NAME.safetensors. */
export function runLockPath(out: string): string {
  return out.replace(/\.safetensors$/i, '') + '.lock';
}

function readOwner(path: string): LockOwner | null {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    return typeof owner.pid === 'number' && typeof owner.host === 'string' ? (owner as LockOwner) : null;
  } catch {
    return null;
  }
}

function tryCreate(path: string, owner: LockOwner): boolean {
  try {
    writeFileSync(path, JSON.stringify(owner) + '\n', { flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new CliError(`cannot write ${path}: ${fsReason(e)}`);
  }
}

/**
 * Takes the lock of the run writing `out`, or throws a CliError naming the run that holds it. `warn` is told
 * when a stale lock (its process gone) is taken over.
 */
export function takeRunLock(out: string, warn: (line: string) => void, command?: string): string {
  const path = runLockPath(out);
  const me: LockOwner = {
    pid: process.pid,
    host: hostname(),
    started: new Date().toISOString(),
    ...(command ? { command } : {}),
  };
  if (!tryCreate(path, me)) {
    const owner = readOwner(path);
    const stale = owner !== null && owner.host === me.host && !processAlive(owner.pid);
    if (!stale) {
      const who = owner
        ? `process ${owner.pid} on ${owner.host}, since ${owner.started}`
        : 'a lock file that cannot be read';
      throw new CliError(
        `${out} is being written by another train run (${who}; lock ${path}): wait for it to finish or use another --out (delete ${path} only if no run is using it)`,
      );
    }
    // The owner is gone: its lock is ours to remove. Two runs finding the same stale lock at once both get
    // here, and only one of them can create the new one.
    try {
      unlinkSync(path);
    } catch {
      // Removed by the other run that found it stale.
    }
    if (!tryCreate(path, me))
      throw new CliError(
        `${out} is being written by another train run (it took the stale lock ${path} just now): use another --out`,
      );
    warn(`warning: took over the stale lock ${path} (process ${owner!.pid} is gone: the run was killed or crashed)`);
  }
  held.add(path);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A second Ctrl-C exits at once: the lock still goes.
    process.on('exit', () => {
      for (const p of held) releaseRunLock(p);
    });
  }
  return path;
}

/** Removes a lock taken by takeRunLock (when it is still ours). */
export function releaseRunLock(path: string): void {
  if (!held.delete(path)) return;
  if (readOwner(path)?.pid !== process.pid) return;
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}
