/**
 * Whether a process id belongs to a running process on this machine: how a lock file or a temporary file
 * left by a crashed run (kill -9, a power cut) is told from one that a live run still uses.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
