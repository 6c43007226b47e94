/**
 * Reading the files a command is given and writing the files it makes, the same way in every command:
 * every failure is one `cannot read|write PATH: reason` line (a CliError), an output never replaces one of
 * the command's inputs, and a regular file is replaced atomically (readers see the old or the complete new
 * contents, never a partial file). What the CLI promises is written down in docs/CLI-PROMISES.md.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, lstatSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { CliError } from './errors.js';

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

/** The bytes of an input file; `what` names its role in the error (`cannot read style image x.jpg: …`). */
export function readInputFile(path: string, what: string): Uint8Array {
  const label = what ? `${what} ${path}` : path;
  const st = statOrNull(path);
  if (!st) throw new CliError(`cannot read ${label}: no such file`);
  if (st.isDirectory()) throw new CliError(`cannot read ${label}: it is a directory`);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new CliError(`cannot read ${label}: ${fsReason(e)}`);
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
    if (input !== null) throw new CliError(`refusing to overwrite the input ${input} with the output ${output}; ${hint}`);
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

/**
 * Where writing `path` goes: a symlink is followed (the file it points to is written; the link stays), a
 * symlink to nothing is refused; non-regular files (devices such as /dev/null, FIFOs) are written through,
 * never replaced.
 */
export function writeTarget(path: string): { target: string; through: boolean; mode: number | null } {
  let link = false;
  try {
    link = lstatSync(path).isSymbolicLink();
  } catch {
    return { target: path, through: false, mode: null };
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
  if (!st) return { target, through: false, mode: null };
  if (st.isDirectory()) throw new CliError(`cannot write ${path}: it is a directory`);
  if (st.isSocket()) throw new CliError(`cannot write ${path}: it is a socket`);
  if (!st.isFile()) return { target, through: true, mode: null };
  return { target, through: false, mode: st.mode & 0o7777 };
}

/**
 * Writes an output file. A regular file (or none yet) is replaced atomically: a temporary file beside it,
 * then a rename, so readers see the old or the complete new contents and a failure leaves the old file (and
 * no temporary) behind; a replaced file keeps its permissions. Devices and FIFOs are written through. Every
 * failure is a CliError naming `path` and the reason.
 */
export function writeOutputFile(path: string, contents: Uint8Array | string): void {
  const bytes = typeof contents === 'string' ? new TextEncoder().encode(contents) : contents;
  const { target, through, mode } = writeTarget(path);
  try {
    if (through) writeFileSync(target, bytes);
    else writeFileAtomic(target, bytes, mode);
  } catch (e) {
    throw new CliError(`cannot write ${path}: ${fsReason(e)}`);
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
