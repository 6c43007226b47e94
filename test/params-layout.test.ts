// The uniform structs declared by name in TypeScript (u32Struct) against the WGSL structs they fill: same
// fields, same order, all u32. A field added on one side only would shift every later one.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { u32Struct } from '../src/engine/kernel.js';
import { CONV2D_PARAMS } from '../src/ops/conv2d-params.js';

const SHADERS = resolve(__dirname, '..', 'src', 'shaders');

/** The fields of `struct Params` in a WGSL file, as [name, type] in order (comments dropped). */
function wgslParams(file: string): [string, string][] {
  const text = readFileSync(join(SHADERS, file), 'utf8').replace(/\/\/[^\n]*/g, '');
  const body = /struct\s+Params\s*\{([^}]*)\}/.exec(text);
  if (!body) throw new Error(`${file}: no struct Params`);
  return body[1]
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean)
    .map((f) => f.split(':').map((p) => p.trim()) as [string, string]);
}

describe('uniform Params layouts', () => {
  for (const [file, struct] of [['conv2d_common.wgsl', CONV2D_PARAMS]] as const) {
    it(`${file}: the TypeScript declaration has the WGSL struct's fields, in order, all u32`, () => {
      const fields = wgslParams(file);
      expect(fields.map(([name]) => name)).toEqual([...struct.fields]);
      expect(fields.every(([, type]) => type === 'u32')).toBe(true);
    });
  }

  it('packs by name into the declared order', () => {
    const s = u32Struct(['a', 'b', 'c']);
    expect([...new Uint32Array(s.pack({ c: 3, a: 1, b: 2 }))].slice(0, 3)).toEqual([1, 2, 3]);
  });
});
