/**
 * A compute kernel: WGSL source plus the `override` constants that specialise it. The shader-cache key is
 * explicit: the kernel's name and its constants, so two specialisations never share a pipeline.
 *
 * Binding convention for every kernel: @group(0) @binding(0) is the uniform `params` struct when the dispatch
 * passes params; storage buffers follow at bindings 1, 2, … in the order of `Dispatch.buffers`
 * (or from 0 when there are no params).
 */
export interface Kernel {
  /** Unique, stable name, e.g. `conv2d.forward.tiled`. */
  name: string;
  code: string;
  /** Values for the WGSL `override` declarations. */
  constants?: Readonly<Record<string, number>>;
  entryPoint?: string;
}

export function kernelKey(k: Kernel): string {
  const consts = k.constants
    ? Object.keys(k.constants)
        .sort()
        .map((c) => `${c}=${k.constants![c]}`)
        .join(',')
    : '';
  return `${k.name}|${k.entryPoint ?? 'main'}|${consts}`;
}

export interface Dispatch {
  kernel: Kernel;
  /** Storage buffers, in binding order; null skips a binding the entry point does not use. */
  buffers: readonly (GPUBuffer | null)[];
  /** Packed uniform params (at most 256 bytes); see `packParams`. */
  params?: ArrayBuffer;
  workgroups: readonly [number, number?, number?];
  /** Names the op in error messages (and in profiles: `Engine.startProfile`). */
  label?: string;
  /** Floating-point operations of this dispatch, where known (GEMMs: 2 per multiply-add), for profiles. */
  flops?: number;
}

/**
 * Packs uniform params: u32 fields first, then i32, then f32, each 4 bytes, in the order given.
 * The WGSL `Params` struct must declare its fields in the same order.
 */
export function packParams(
  u32: readonly number[],
  f32: readonly number[] = [],
  i32: readonly number[] = [],
): ArrayBuffer {
  const n = u32.length + i32.length + f32.length;
  const buf = new ArrayBuffer(Math.max(16, Math.ceil((n * 4) / 16) * 16));
  const dv = new DataView(buf);
  let o = 0;
  for (const v of u32) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`packParams: ${v} is not a u32`);
    dv.setUint32(o, v, true);
    o += 4;
  }
  for (const v of i32) {
    dv.setInt32(o, v, true);
    o += 4;
  }
  for (const v of f32) {
    dv.setFloat32(o, v, true);
    o += 4;
  }
  return buf;
}

/**
 * A uniform struct of u32 fields declared once, by name, in the WGSL struct's order: `pack` takes the values
 * by name (a missing or extra field is a type error), so that a packer cannot drift from its struct by a
 * position. test/params-layout.test.ts checks `fields` against the WGSL source.
 */
export interface U32Struct<F extends string> {
  readonly fields: readonly F[];
  pack(values: Readonly<Record<F, number>>): ArrayBuffer;
}

export function u32Struct<const F extends string>(fields: readonly F[]): U32Struct<F> {
  return { fields, pack: (values) => packParams(fields.map((f) => values[f])) };
}
