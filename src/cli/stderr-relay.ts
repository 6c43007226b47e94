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

/** Set in the child's environment: it runs the command itself. */
const RELAYED = 'FAST_STYLE_STDERR_RELAYED';
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const SIGNAL_NUMBER: Record<(typeof FORWARDED)[number], number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

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

/** Runs this same command line in a child with a piped stderr; resolves to its exit status. */
export function runWithStderrRelay(): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, [RELAYED]: '1' },
    detached: true,
  });
  // Whole lines are copied as they come; a line not yet ended waits for the rest.
  let pending = '';
  const copy = (text: string): void => {
    try {
      writeAll(2, Buffer.from(text));
    } catch {
      // Our stderr is gone (a full disk): the child's status still says how it went.
    }
  };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop()!;
    const kept = lines.filter((line) => !DAWN_STARTUP_WARNING.test(line));
    if (kept.length > 0) copy(kept.join('\n') + '\n');
  });
  child.stderr.on('end', () => {
    if (pending !== '' && !DAWN_STARTUP_WARNING.test(pending)) copy(pending);
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const handlers = FORWARDED.map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    // 'close' comes after the child's stderr has ended: every line is copied before we exit.
    child.on('close', (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      resolve(code ?? 128 + (signal && signal in SIGNAL_NUMBER ? SIGNAL_NUMBER[signal as keyof typeof SIGNAL_NUMBER] : 1));
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
  setInterval(() => {
    if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM');
  }, 1000).unref();
}
