import { describe, expect, it } from 'vitest';
import { sizeClass } from '../src/engine/buffer-pool.js';
import { choiceKey } from '../src/engine/engine.js';
import { GpuError } from '../src/engine/errors.js';
import { packParams, type Kernel } from '../src/engine/kernel.js';
import { Tensor } from '../src/engine/tensor.js';
import { affine } from '../src/ops/elementwise.js';
import { testEngine } from './helpers/gpu.js';

describe('buffer pool', () => {
  it('size classes are multiples of 256, cover the request, and waste at most 19%', () => {
    for (const bytes of [1, 255, 256, 257, 1000, 4096, 4097, 123_457, 10_000_000]) {
      const c = sizeClass(bytes);
      expect(c % 256).toBe(0);
      expect(c).toBeGreaterThanOrEqual(bytes);
      if (bytes > 4096) expect(c / bytes).toBeLessThan(1.19 + 256 / bytes);
    }
  });

  it('reuses released buffers: a repeated workload creates nothing new', async () => {
    const e = await testEngine();
    const work = () =>
      e.scope(() => {
        const a = Tensor.zeros(e, [3, 5, 7]);
        const b = affine(a, 2, 1);
        return affine(b, 1, 1).dispose();
      });
    work();
    const before = e.poolStats();
    for (let i = 0; i < 20; i++) work();
    const after = e.poolStats();
    expect(after.created).toBe(before.created);
    expect(after.liveBuffers).toBe(before.liveBuffers);
    await e.sync();
  });
});

describe('tensors', () => {
  it('round-trips data and reshapes without copying', async () => {
    const e = await testEngine();
    const data = Float32Array.from({ length: 30 }, (_, i) => i - 7.5);
    const t = Tensor.fromData(e, [2, 3, 5], data);
    const v = t.reshape([6, 5]);
    expect(v.buffer).toBe(t.buffer);
    expect(Array.from(await v.data())).toEqual(Array.from(data));
    t.dispose();
    // the view keeps the storage alive
    expect(Array.from(await v.data())).toEqual(Array.from(data));
    v.dispose();
    expect(() => v.buffer).toThrow(/after dispose/);
  });

  it('fromData rejects a length that does not fill the shape', async () => {
    const e = await testEngine();
    expect(() => Tensor.fromData(e, [2, 2], [1, 2, 3])).toThrow(/3 values do not fill shape \[2, 2\]/);
  });

  it('zeros and full', async () => {
    const e = await testEngine();
    const z = Tensor.zeros(e, [7, 3]);
    const f = Tensor.full(e, [5], 2.5);
    expect(Array.from(await z.data())).toEqual(new Array(21).fill(0));
    expect(Array.from(await f.data())).toEqual(new Array(5).fill(2.5));
    z.dispose();
    f.dispose();
  });

  it('scope disposes what it made, except the result; keep() detaches', async () => {
    const e = await testEngine();
    const live0 = e.poolStats().liveBuffers;
    let kept!: Tensor;
    const out = e.scope(() => {
      Tensor.zeros(e, [4]);
      kept = e.keep(Tensor.zeros(e, [4]));
      return Tensor.zeros(e, [4]);
    });
    expect(e.poolStats().liveBuffers).toBe(live0 + 2);
    expect(out.isDisposed).toBe(false);
    out.dispose();
    kept.dispose();
    expect(e.poolStats().liveBuffers).toBe(live0);
  });

  it('a write after recorded work is ordered after it', async () => {
    const e = await testEngine();
    const a = Tensor.full(e, [16], 1);
    const b = affine(a, 3, 0); // recorded, not submitted
    a.write(new Float32Array(16).fill(10)); // must not overtake the dispatch above
    expect((await b.data())[0]).toBe(3);
    a.dispose();
    b.dispose();
  });
});

describe('dispatch and errors', () => {
  const broken: Kernel = {
    name: 'test.brokenKernel',
    code: '@compute @workgroup_size(1) fn main() { let x: f32 = undefined_symbol; }',
  };

  it('a shader that does not compile raises a GpuError naming the kernel', async () => {
    const e = await testEngine();
    const t = Tensor.zeros(e, [4]);
    expect(() => e.dispatch({ kernel: broken, buffers: [], workgroups: [1] })).not.toThrow();
    await expect(e.sync()).rejects.toThrow(GpuError);
    t.dispose();
  });

  it('a binding mismatch raises a GpuError naming the op', async () => {
    const e = await testEngine();
    const k: Kernel = {
      name: 'test.needsTwoBuffers',
      code: `@group(0) @binding(0) var<storage, read> a: array<f32>;
             @group(0) @binding(1) var<storage, read_write> b: array<f32>;
             @compute @workgroup_size(1) fn main() { b[0] = a[0]; }`,
    };
    const t = Tensor.zeros(e, [4]);
    expect(() => e.dispatch({ kernel: k, buffers: [t.buffer], workgroups: [1], label: 'myOp' })).not.toThrow();
    await expect(e.sync()).rejects.toThrow(/myOp/);
    t.dispose();
  });

  it('rejects grids beyond the per-dimension limit', async () => {
    const e = await testEngine();
    const k: Kernel = { name: 'test.noop', code: '@compute @workgroup_size(1) fn main() {}' };
    expect(() =>
      e.dispatch({ kernel: k, buffers: [], workgroups: [e.limits.maxComputeWorkgroupsPerDimension + 1] }),
    ).toThrow(/exceeds the limit/);
  });

  it('packParams lays out u32, i32, f32 in order and rejects non-u32 values', () => {
    const dv = new DataView(packParams([7, 9], [1.5], [-3]));
    expect(dv.getUint32(0, true)).toBe(7);
    expect(dv.getUint32(4, true)).toBe(9);
    expect(dv.getInt32(8, true)).toBe(-3);
    expect(dv.getFloat32(12, true)).toBe(1.5);
    expect(() => packParams([-1])).toThrow(/not a u32/);
  });

  it('many dispatches between submits share the params buffer without corruption', async () => {
    const e = await testEngine();
    let t = Tensor.zeros(e, [3]);
    // 5000 dispatches > the 4096 param slots of one submit: forces a mid-stream flush.
    for (let i = 0; i < 5000; i++) {
      const next = affine(t, 1, 1);
      t.dispose();
      t = next;
    }
    expect(Array.from(await t.data())).toEqual([5000, 5000, 5000]);
    t.dispose();
  });

  it('describes the adapter', async () => {
    const e = await testEngine();
    expect(e.describe().length).toBeGreaterThan(3);
    expect(e.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });
});

describe('choices', () => {
  it('read their default until set on the engine; setChoice returns the value it replaces', async () => {
    const e = await testEngine();
    const key = choiceKey<'a' | 'b'>('a');
    const other = choiceKey({ on: true });
    expect(e.choice(key)).toBe('a');
    expect(e.setChoice(key, 'b')).toBe('a');
    expect(e.choice(key)).toBe('b');
    expect(e.choice(other)).toEqual({ on: true });
    expect(e.setChoice(key, 'a')).toBe('b');
    expect(e.choice(key)).toBe('a');
  });
});

describe('profiling (timestamp queries)', () => {
  it('times every dispatch between startProfile and stopProfile, across submits, with labels and FLOPs; results unchanged', async () => {
    const e = await testEngine();
    if (!e.canProfile) {
      expect(() => e.startProfile()).toThrow(GpuError);
      return;
    }
    let t = Tensor.zeros(e, [1000]);
    e.startProfile();
    expect(() => e.startProfile()).toThrow(GpuError);
    // 2100 dispatches > the 2048 timed per resolve: forces a flush mid-profile; one readback in between.
    for (let i = 0; i < 2100; i++) {
      const next = affine(t, 1, 1);
      t.dispose();
      t = next;
      if (i === 1000) expect((await t.data())[999]).toBe(1001);
    }
    const profile = await e.stopProfile();
    expect(profile.length).toBe(2100);
    expect(
      profile.every((d) => d.label === profile[0].label && d.ms >= 0 && Number.isFinite(d.ms) && d.flops === 0),
    ).toBe(true);
    expect((await t.data())[0]).toBe(2100);
    await expect(e.stopProfile()).rejects.toThrow(GpuError);
    t.dispose();
  });
});
