// The PyTorch golden fixtures of test/fixtures/golden (made by scripts/golden/generate.py), read through a
// function given by the runner (Node: fs; Deno: Deno.readFileSync), and the comparison used against them.
// No test framework, no Node APIs: the shared case tables of test/cases use it under vitest and Deno.
import { readSafetensors, type NamedTensor } from '../../src/models/safetensors.js';
import { cpuTensor, type CpuTensor } from '../../src/ops/cpu.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type GoldenIndex = any;

export class GoldenStore {
  private indexCache: GoldenIndex | null = null;
  private files = new Map<string, Map<string, NamedTensor>>();

  /** `read(name)`: the bytes of test/fixtures/golden/<name>. */
  constructor(private readonly read: (name: string) => Uint8Array) {}

  get index(): GoldenIndex {
    this.indexCache ??= JSON.parse(new TextDecoder().decode(this.read('index.json')));
    return this.indexCache;
  }

  /** The tensors of one fixture file, by name. */
  file(file: string): Map<string, NamedTensor> {
    let m = this.files.get(file);
    if (!m) {
      m = readSafetensors(this.read(file)).tensors;
      this.files.set(file, m);
    }
    return m;
  }

  /** One stored tensor as a float64 CPU tensor (its float32 values, exactly). */
  tensor(file: string, name: string): CpuTensor {
    const t = this.file(file).get(name);
    if (!t) throw new Error(`golden fixture ${file} has no tensor ${name}`);
    return cpuTensor(t.shape, t.data);
  }
}

export function maxAbsOf(t: CpuTensor | ArrayLike<number>): number {
  const d = 'data' in t ? t.data : t;
  let m = 0;
  for (let i = 0; i < d.length; i++) m = Math.max(m, Math.abs(d[i]));
  return m;
}

/** GOLDEN_VERBOSE from Node's environment; false where there is none or reading it is not allowed (Deno). */
const verbose = ((): boolean => {
  try {
    return Boolean(
      (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.GOLDEN_VERBOSE,
    );
  } catch {
    return false;
  }
})();

/**
 * GOLDEN_VERBOSE=1 logs every comparison's worst error (to see the margin under each tolerance).
 *
 * Asserts |actual − expected| ≤ rel · scale for every element, where scale defaults to max |expected| (the
 * tolerance is relative to the magnitude of the tensor, not of each element: small elements of a sum of many
 * terms carry the absolute rounding error of the large ones). Reports the worst element.
 */
export function expectNear(
  actual: ArrayLike<number>,
  expected: CpuTensor,
  rel: number,
  what: string,
  scale = maxAbsOf(expected),
): void {
  if (actual.length !== expected.data.length)
    throw new Error(`${what}: length ${actual.length}, expected ${expected.data.length}`);
  const atol = rel * Math.max(scale, 1e-30);
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected.data[i]);
    if (!(err <= worstErr) || Number.isNaN(err)) {
      worst = i;
      worstErr = Number.isNaN(err) ? Infinity : err;
    }
  }
  if (verbose) {
    console.log(
      `${what}: worst |error| ${(worstErr / Math.max(scale, 1e-30)).toExponential(2)} of scale (allowed ${rel})`,
    );
  }
  if (worstErr > atol) {
    throw new Error(
      `${what}: element ${worst} of [${expected.shape.join(', ')}] is ${actual[worst]}, PyTorch says ${expected.data[worst]} ` +
        `(|error| ${worstErr.toExponential(3)} = ${(worstErr / Math.max(scale, 1e-30)).toExponential(2)} of the scale ${scale.toExponential(3)}; allowed ${rel})`,
    );
  }
}
