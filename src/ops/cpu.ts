/** Float64 CPU tensors: what every op's reference implementation computes on. */
export interface CpuTensor {
  shape: number[];
  data: Float64Array;
}

export function cpuTensor(shape: readonly number[], data?: ArrayLike<number>): CpuTensor {
  let n = 1;
  for (const d of shape) n *= d;
  const t = { shape: [...shape], data: new Float64Array(n) };
  if (data) {
    if (data.length !== n) throw new RangeError(`cpuTensor: ${data.length} values for shape [${shape.join(', ')}]`);
    t.data.set(data);
  }
  return t;
}

/** Deterministic pseudo-random numbers (mulberry32) for references and tests. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [lo, hi), rounded to float32 so that GPU and CPU see the same inputs. */
export function cpuRandom(shape: readonly number[], seed: number, lo = -1, hi = 1): CpuTensor {
  const t = cpuTensor(shape);
  const r = rng(seed);
  for (let i = 0; i < t.data.length; i++) t.data[i] = Math.fround(lo + (hi - lo) * r());
  return t;
}
