/**
 * Reading the files a command is given and writing the files it makes, the same way in every command:
 * every failure is one `cannot read|write PATH: reason` line (a CliError), an output never replaces one of
 * the command's inputs, and a regular file is replaced atomically (readers see the old or the complete new
 * contents, never a partial file). What the CLI promises is written down in docs/CLI-PROMISES.md.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  closeSync,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { CliError } from './errors.js';
import { processAlive } from './process-alive.js';

/** A file-system error in a few plain words (`no space left on device`), not Node's `ENOSPC: …, write`. */
export function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  const words: Record<string, string> = {
    ENOENT: 'no such file or directory',
    ENOTDIR: 'a component of the path is not a directory',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EISDIR: 'it is a directory',
    ENOSPC: 'no space left on device',
    EDQUOT: 'disk quota exceeded',
    EFBIG: 'file too large',
    EROFS: 'read-only file system',
    EIO: 'input/output error',
    ENXIO: 'no reader on the other end (a socket or FIFO)',
    ELOOP: 'too many levels of symbolic links',
    ENAMETOOLONG: 'file name too long',
    EMFILE: 'too many open files',
    EPIPE: 'the reader closed the pipe',
    EBADF: 'no such open file descriptor',
  };
  if (code && words[code]) return words[code];
  return e instanceof Error ? e.message : String(e);
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/**
 * The most bytes an input may hold. Node cannot hold more than 2 GiB in one buffer anyway; these keep a wrong
 * file (a disk image, /dev/zero behind a FIFO) from filling memory before it is recognised as wrong.
 */
export const MAX_INPUT_BYTES = {
  /** Models, checkpoints, VGG weights, .pth and .onnx files (a torchvision VGG19 .pth is 548 MiB). */
  file: 1024 * 2 ** 20,
  /** PNG and JPEG images (a 100-megapixel PNG is ~300 MiB). */
  image: 512 * 2 ** 20,
} as const;

const MIB = 2 ** 20;

/** What a file that is not a regular file or a directory is, in a word or two. */
function specialKind(st: Stats): string {
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isFIFO()) return 'a FIFO';
  return 'not a regular file';
}

/**
 * Throws the CliError that readInputFile would throw before reading (missing, a directory, a device or
 * socket, larger than `maxBytes`); returns the file's status otherwise.
 */
export function checkInputFile(path: string, what: string, maxBytes: number = MAX_INPUT_BYTES.file): Stats {
  const label = what ? `${what} ${path}` : path;
  const st = statOrNull(path);
  if (!st)
    throw new CliError(
      `cannot read ${label}: ${lstatOrNull(path)?.isSymbolicLink() ? 'it is a symbolic link to a missing file' : 'no such file'}`,
    );
  if (st.isDirectory()) throw new CliError(`cannot read ${label}: it is a directory`);
  if (!st.isFile() && !st.isFIFO()) throw new CliError(`cannot read ${label}: it is ${specialKind(st)}, not a file`);
  if (st.isFile() && st.size > maxBytes)
    throw new CliError(
      `cannot read ${label}: larger than ${Math.round(maxBytes / MIB)} MiB, the most this command reads (not the file it should be?)`,
    );
  return st;
}

/**
 * The bytes of an input file; `what` names its role in the error (`cannot read style image x.jpg: …`).
 * Devices and sockets are refused before reading (/dev/zero would never end), and so is a file larger than
 * `maxBytes`; a FIFO or pipe (`<(…)`) is read up to that limit.
 */
export function readInputFile(path: string, what: string, maxBytes: number = MAX_INPUT_BYTES.file): Uint8Array {
  const label = what ? `${what} ${path}` : path;
  const st = checkInputFile(path, what, maxBytes);
  const tooLarge = () =>
    new CliError(
      `cannot read ${label}: larger than ${Math.round(maxBytes / MIB)} MiB, the most this command reads (not the file it should be?)`,
    );
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r');
    // Read up to one byte past the limit: a file that grew (or a pipe that keeps going) is refused all the same.
    // A regular file's first chunk is its whole size, so that it is read in one go and returned uncopied.
    const chunks: Uint8Array[] = [];
    let total = 0;
    let next = st.isFile() ? Math.max(1, st.size) : MIB;
    for (;;) {
      const chunk = new Uint8Array(Math.min(next, maxBytes + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) throw tooLarge();
      next = st.isFile() ? 64 * 1024 : 16 * MIB;
    }
    if (chunks.length === 1 && chunks[0].length === chunks[0].buffer.byteLength) return chunks[0];
    const bytes = new Uint8Array(total);
    let offset = 0;
    for (const c of chunks) {
      bytes.set(c, offset);
      offset += c.length;
    }
    return bytes;
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read ${label}: ${fsReason(e)}`);
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** Throws unless `path` is an existing directory (`what`: e.g. `output directory`, `--data`). */
export function requireDirectory(path: string, what: string): void {
  const st = statOrNull(path);
  if (!st) throw new CliError(`${what} ${path} does not exist`);
  if (!st.isDirectory()) throw new CliError(`${what} ${path} is not a directory`);
}

/**
 * Throws unless an output file can go where it is named: the directory it goes into exists and the name is
 * not a directory itself (checked before any work; writeOutputFile says the same at the end).
 */
export function requireOutputDirectory(output: string): void {
  const dir = dirname(output);
  const st = statOrNull(dir);
  if (!st) throw new CliError(`cannot write ${output}: output directory ${dir} does not exist`);
  if (!st.isDirectory()) throw new CliError(`cannot write ${output}: ${dir} is not a directory`);
  if (statOrNull(output)?.isDirectory()) throw new CliError(`cannot write ${output}: it is a directory`);
}

/**
 * Whether two paths name the same file: the same path once symlinks are followed, or (hard links, bind
 * mounts) the same device and inode.
 */
export function sameFile(a: string, b: string): boolean {
  const canonical = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  if (canonical(a) === canonical(b)) return true;
  const sa = statOrNull(a);
  const sb = statOrNull(b);
  return sa !== null && sb !== null && sa.dev === sb.dev && sa.ino === sb.ino;
}

/** The inputs of a command, to check its outputs against (each input is stat'ed once). */
export class InputSet {
  private readonly byInode = new Map<string, string>();
  private readonly byPath = new Map<string, string>();

  constructor(inputs: Iterable<string> = []) {
    for (const p of inputs) this.add(p);
  }

  add(path: string): void {
    const st = statOrNull(path);
    if (st) this.byInode.set(`${st.dev}:${st.ino}`, path);
    let real = resolve(path);
    try {
      real = realpathSync(path);
    } catch {
      // A missing input is reported when it is read; its path still counts.
    }
    this.byPath.set(real, path);
  }

  /** The input that `output` would replace, or null. Outputs that are not regular files replace nothing. */
  inputAt(output: string): string | null {
    const st = statOrNull(output);
    if (st && !st.isFile()) return null;
    if (st) {
      const hit = this.byInode.get(`${st.dev}:${st.ino}`);
      if (hit !== undefined) return hit;
    }
    let real = resolve(output);
    try {
      real = realpathSync(output);
    } catch {
      // Not there yet.
    }
    return this.byPath.get(real) ?? null;
  }

  /** Throws a CliError when `output` is one of the inputs. */
  refuse(output: string, hint: string): void {
    const input = this.inputAt(output);
    if (input !== null)
      throw new CliError(`refusing to overwrite the input ${input} with the output ${output}; ${hint}`);
  }
}

/** Whether `path` lies inside directory `dir` (both as they are on disk, symlinks followed). */
export function isInside(path: string, dir: string): boolean {
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  const rel = relative(real(dir), join(real(dirname(path)), basename(path)));
  return rel !== '' && !rel.startsWith('..' + sep) && rel !== '..' && !rel.startsWith(sep);
}

/** `-o -`: standard output, as Unix tools name it. */
const STDOUT_NAME = '-';

/** /proc/self/fd/N, /proc/PID/fd/N (this process) and /dev/fd/N, once their folder is resolved. */
const DESCRIPTOR_PATH = /^\/proc\/(self|thread-self|\d+)\/fd\/(\d+)$/;

/**
 * The file descriptor of this process that `path` names (`-`, /dev/stdout, /dev/stderr, /dev/fd/N,
 * /proc/self/fd/N, or a symlink to one of them), or null for an ordinary path. Such a path stands for an
 * open stream (a pipe, a terminal, a file opened by the shell with `>>`): it is written through that
 * descriptor, never renamed over, which would replace what `>>` is appending to.
 */
function outputDescriptor(path: string): number | null {
  if (path === STDOUT_NAME) return 1;
  let current = resolve(path);
  for (let hop = 0; hop < 40; hop++) {
    let dir = dirname(current);
    try {
      dir = realpathSync(dir);
    } catch {
      return null;
    }
    const full = join(dir, basename(current));
    const m = DESCRIPTOR_PATH.exec(full);
    if (m && (m[1] === 'self' || m[1] === 'thread-self' || Number(m[1]) === process.pid)) {
      // Only the standard streams: a higher number may be one of Node's or the GPU driver's own descriptors
      // (an event loop's pipe: writing an image there crashes the process), and Node does not tell them
      // from ones the shell opened (`3>file`, `>(cmd)`).
      const fd = Number(m[2]);
      if (fd > 2)
        throw new CliError(
          `cannot write ${path}: of the open descriptors only standard output and standard error can be written (-o -, /dev/stdout, /dev/stderr)`,
        );
      return fd;
    }
    let next: string;
    try {
      if (!lstatSync(full).isSymbolicLink()) return null;
      next = readlinkSync(full);
    } catch {
      return null;
    }
    current = resolve(dir, next);
  }
  return null;
}

/**
 * Where writing `path` goes: a symlink is followed (the file it points to is written; the link stays), a
 * symlink to nothing is refused; non-regular files (devices such as /dev/null, FIFOs) are written through,
 * never replaced, and so is a descriptor path (`-`, /dev/stdout; `descriptor` is its number).
 */
export function writeTarget(path: string): {
  target: string;
  through: boolean;
  mode: number | null;
  descriptor: number | null;
} {
  const descriptor = outputDescriptor(path);
  if (descriptor !== null) {
    try {
      const st = fstatSync(descriptor);
      if (st.isDirectory()) throw new CliError(`cannot write ${path}: it is a directory`);
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError(`cannot write ${path}: ${fsReason(e)}`);
    }
    return { target: path, through: true, mode: null, descriptor };
  }
  let link = false;
  try {
    link = lstatSync(path).isSymbolicLink();
  } catch {
    return { target: path, through: false, mode: null, descriptor: null };
  }
  let target = path;
  if (link) {
    try {
      target = realpathSync(path);
    } catch (e) {
      throw new CliError(`cannot write ${path}: it is a symbolic link to a missing file (${fsReason(e)})`);
    }
  }
  const st = statOrNull(target);
  if (!st) return { target, through: false, mode: null, descriptor: null };
  if (st.isDirectory()) throw new CliError(`cannot write ${path}: it is a directory`);
  if (st.isSocket()) throw new CliError(`cannot write ${path}: it is a socket`);
  if (!st.isFile()) return { target, through: true, mode: null, descriptor: null };
  return { target, through: false, mode: st.mode & 0o7777, descriptor: null };
}

/**
 * Writes an output file. A regular file (or none yet) is replaced atomically: a temporary file beside it,
 * then a rename, so readers see the old or the complete new contents and a failure leaves the old file (and
 * no temporary) behind; a replaced file keeps its permissions. Devices, FIFOs and descriptor paths (`-`,
 * /dev/stdout) are written through. Every failure is a CliError naming `path` and the reason.
 */
export function writeOutputFile(path: string, contents: Uint8Array | string): void {
  const bytes = typeof contents === 'string' ? new TextEncoder().encode(contents) : contents;
  const { target, through, mode, descriptor } = writeTarget(path);
  try {
    if (descriptor !== null) writeToDescriptor(descriptor, bytes);
    else if (through) writeFileSync(target, bytes);
    else {
      removeStaleTemporaries(dirname(target));
      writeFileAtomic(target, bytes, mode);
    }
  } catch (e) {
    throw new CliError(`cannot write ${path}: ${fsReason(e)}`);
  }
}

/** Blocks the thread for `ms` milliseconds (a full pipe: the reader needs time). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Writes all of `bytes` to an open descriptor. A pipe that Node has made non-blocking answers EAGAIN while
 * it is full: wait for the reader and go on.
 */
function writeToDescriptor(fd: number, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset, bytes.length - offset);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      sleepSync(2);
    }
  }
}

/** Appends to an output file (a log), naming it in any error. */
export function appendOutputFile(path: string, text: string): void {
  try {
    appendFileSync(path, text);
  } catch (e) {
    throw new CliError(`cannot write ${path}: ${fsReason(e)}`);
  }
}

/** Our temporary files: `.NAME.PID.HEX.tmp` (see writeFileAtomic). */
const TEMPORARY_NAME = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;
const cleanedDirs = new Set<string>();

/**
 * Removes, once per folder and process, the temporary files that a run killed mid-write (kill -9, a power
 * cut) left there: those of our naming whose process is gone. A live run's temporaries are left alone.
 */
export function removeStaleTemporaries(dir: string): void {
  const key = resolve(dir);
  if (cleanedDirs.has(key)) return;
  cleanedDirs.add(key);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = TEMPORARY_NAME.exec(name);
    if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    try {
      if (lstatSync(join(dir, name)).isFile()) unlinkSync(join(dir, name));
    } catch {
      // Gone already, or not ours to remove: either way nothing to do.
    }
  }
}

/** Temporary file + rename in the same directory (same file system, so the rename is atomic). */
export function writeFileAtomic(path: string, bytes: Uint8Array, mode: number | null = null): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(tmp, bytes, { flag: 'wx' });
    if (mode !== null) chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // The temporary file was never created, or is already gone.
    }
    throw e;
  }
}

/** SHA-256 (hex) of a file's contents, read in chunks (a VGG file is hundreds of MiB); `what` as in readInputFile. */
export function fileSha256(path: string, what: string): string {
  checkInputFile(path, what);
  const hash = createHash('sha256');
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r');
    const chunk = new Uint8Array(4 * MIB);
    for (let n = readSync(fd, chunk, 0, chunk.length, null); n > 0; n = readSync(fd, chunk, 0, chunk.length, null)) {
      hash.update(chunk.subarray(0, n));
    }
  } catch (e) {
    throw new CliError(`cannot read ${what} ${path}: ${fsReason(e)}`);
  } finally {
    if (fd !== null) closeSync(fd);
  }
  return hash.digest('hex');
}
