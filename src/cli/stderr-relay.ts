/**
 * Dawn prints two "artificially reduced" limit warnings on the C stderr while it looks for an adapter, and
 * has no switch for them. engine/node.ts points descriptor 2 at /dev/null meanwhile, which is only safe
 * when stderr is a terminal, a device or a pipe: a regular file (`2>log`, `>log 2>&1`, `nohup`) cannot be
 * reopened without a second file offset (our lines and the shell's would overwrite each other), and a
 * socket (what Node and Python give a child for a pipe) cannot be reopened at all.
 *
 * So when stderr is a regular file or a socket, the command runs in a child process whose stderr is a pipe, and this
 * process copies that pipe to its own stderr line by line, without Dawn's warnings: the same open file, the
 * same offset, nothing else lost. The child has its own process group so that Ctrl-C reaches it once, through
 * this process, which forwards SIGINT, SIGTERM and SIGHUP and exits with the child's status.
 */
import { spawn } from 'node:child_process';
import { fstatSync, writeSync } from 'node:fs';
import { constants } from 'node:os';

/** Set in the child's environment: it runs the command itself. */
const RELAYED = 'FAST_STYLE_STDERR_RELAYED';
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Whether this process should run its command through a child (see above). */
export function stderrNeedsRelay(): boolean {
  if (process.platform !== 'linux' || process.env.FAST_STYLE_DEBUG || process.env[RELAYED]) return false;
  try {
    const st = fstatSync(2);
    return st.isFile() || st.isSocket();
  } catch {
    return false;
  }
}

/** Dawn's start-up warnings (FAST_STYLE_DEBUG=1 keeps them). */
const DAWN_STARTUP_WARNING = /^Warning: \w+ artificially reduced from /;

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset, bytes.length - offset);
}

/**
 * What the runtime needs before the script to run it the same way. Node: its own flags. Deno: `run` and
 * permissions, which process.execArgv does not carry (without them the child cannot even start); the child
 * gets every permission this process was granted, no more.
 */
function runtimeArgs(): string[] {
  const deno = (globalThis as { Deno?: { permissions: { querySync(d: { name: string }): { state: string } } } }).Deno;
  if (!deno) return process.execArgv;
  const names = ['read', 'write', 'net', 'env', 'run', 'sys', 'ffi'];
  const granted = names.filter((name) => deno.permissions.querySync({ name }).state === 'granted');
  return ['run', ...granted.map((name) => `--allow-${name}`)];
}

/** Runs this same command line in a child with a piped stderr; resolves to its exit status. */
export function runWithStderrRelay(): Promise<number> {
  const child = spawn(process.execPath, [...runtimeArgs(), ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, [RELAYED]: '1' },
    detached: true,
  });
  // Whole lines are copied as they come, as bytes (`-o /dev/stderr` sends an image this way); a line not
  // yet ended waits for the rest.
  let pending = Buffer.alloc(0);
  const copy = (bytes: Uint8Array): void => {
    try {
      writeAll(2, bytes);
    } catch {
      // Our stderr is gone (a full disk): the child's status still says how it went.
    }
  };
  const isDawnLine = (line: Buffer): boolean => DAWN_STARTUP_WARNING.test(line.toString('latin1'));
  const stderr = child.stderr!;
  stderr.on('data', (chunk: Buffer) => {
    let data = Buffer.concat([pending, chunk]);
    const kept: Buffer[] = [];
    for (let end = data.indexOf(0x0a); end >= 0; end = data.indexOf(0x0a)) {
      const line = data.subarray(0, end + 1);
      if (!isDawnLine(line)) kept.push(line);
      data = data.subarray(end + 1);
    }
    pending = Buffer.from(data);
    if (kept.length > 0) copy(Buffer.concat(kept));
  });
  stderr.on('end', () => {
    if (pending.length > 0 && !isDawnLine(pending)) copy(pending);
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const handlers = FORWARDED.map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    // 'close' comes after the child's stderr has ended: every line is copied before we exit.
    child.on('close', (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      // Killed by a signal: the status a shell reports for it (137 after kill -9).
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}

/**
 * In the child: a relay killed outright (kill -9) cannot forward signals any more, and the child, in its own
 * process group, would run on unseen; it stops as after SIGTERM (train writes its checkpoint).
 */
export function stopWhenRelayDies(): void {
  if (!process.env[RELAYED]) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    // Nobody reads our stderr any more: a write must not end the process before its checkpoint is out.
    process.stderr.on('error', () => undefined);
    process.kill(process.pid, 'SIGTERM');
  }, 1000);
  timer.unref();
}
