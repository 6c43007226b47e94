// src/cli/files.ts on its own (the CLI cases are in cli-hardening.test.ts): what a replaced file keeps,
// what is refused, and that every error names the file.
import {
  chmodSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputSet, isInside, readInputFile, requireDirectory, writeOutputFile } from '../src/cli/files.js';

const dir = mkdtempSync(join(tmpdir(), 'files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writeOutputFile', () => {
  it('replaces a file keeping its permissions, leaving no temporary file', () => {
    const path = join(dir, 'kept-mode.txt');
    writeFileSync(path, 'old');
    chmodSync(path, 0o640);
    writeOutputFile(path, 'new');
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses a directory and a socket, naming the path', async () => {
    mkdirSync(join(dir, 'sub'));
    expect(() => writeOutputFile(join(dir, 'sub'), 'x')).toThrow(/^cannot write .*sub: it is a directory$/);
    const socket = join(dir, 's.sock');
    const server = createServer();
    await new Promise<void>((res) => server.listen(socket, res));
    try {
      expect(() => writeOutputFile(socket, 'x')).toThrow(/^cannot write .*s\.sock: it is a socket$/);
      expect(statSync(socket).isSocket()).toBe(true);
    } finally {
      server.close();
    }
  });

  it('a missing directory is one line naming the file, not ENOENT', () => {
    expect(() => writeOutputFile(join(dir, 'missing', 'x.png'), 'x')).toThrow(
      /^cannot write .*missing\/x\.png: no such file or directory$/,
    );
  });
});

describe('inputs', () => {
  it('InputSet finds an input through a hard link, a symlink and a relative path; other files are free', () => {
    const input = join(dir, 'in.png');
    writeFileSync(input, 'x');
    linkSync(input, join(dir, 'hard.png'));
    symlinkSync('in.png', join(dir, 'soft.png'));
    const set = new InputSet([input]);
    for (const p of ['hard.png', 'soft.png', '../' + dir.split('/').pop() + '/in.png'])
      expect(set.inputAt(join(dir, p)), p).toBe(input);
    expect(set.inputAt(join(dir, 'other.png'))).toBeNull();
    expect(() => set.refuse(join(dir, 'hard.png'), 'choose another')).toThrow(
      /^refusing to overwrite the input .*in\.png with the output .*hard\.png; choose another$/,
    );
  });

  it('isInside: below a folder or not (a sibling with a common prefix is not)', () => {
    mkdirSync(join(dir, 'data', 'deep'), { recursive: true });
    mkdirSync(join(dir, 'data2'));
    expect(isInside(join(dir, 'data', 'deep', 'm.safetensors'), join(dir, 'data'))).toBe(true);
    expect(isInside(join(dir, 'data2', 'm.safetensors'), join(dir, 'data'))).toBe(false);
    expect(isInside(join(dir, 'm.safetensors'), join(dir, 'data'))).toBe(false);
  });

  it('reading: a missing file, a directory; requireDirectory: missing vs not a directory', () => {
    expect(() => readInputFile(join(dir, 'nope.png'), 'style image')).toThrow(
      /^cannot read style image .*nope\.png: no such file$/,
    );
    expect(() => readInputFile(dir, 'model')).toThrow(/: it is a directory$/);
    expect(() => requireDirectory(join(dir, 'nowhere'), '--data')).toThrow(/^--data .*nowhere does not exist$/);
    writeFileSync(join(dir, 'plain'), 'x');
    expect(() => requireDirectory(join(dir, 'plain'), 'output directory')).toThrow(
      /^output directory .*plain is not a directory$/,
    );
  });
});
