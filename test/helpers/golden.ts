// Reads the PyTorch golden fixtures of test/fixtures/golden (made by scripts/golden/generate.py).
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { readSafetensors, type NamedTensor } from '../../src/models/safetensors.js';
import { cpuTensor, type CpuTensor } from '../../src/ops/cpu.js';

const dir = new URL('../fixtures/golden/', import.meta.url);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type GoldenIndex = any;

let index: GoldenIndex | null = null;
const files = new Map<string, Map<string, NamedTensor>>();

export function goldenIndex(): GoldenIndex {
  index ??= JSON.parse(readFileSync(new URL('index.json', dir), 'utf8'));
  return index;
}

/** The tensors of one fixture file, by name. */
export function goldenFile(file: string): Map<string, NamedTensor> {
  let m = files.get(file);
  if (!m) {
    m = readSafetensors(new Uint8Array(readFileSync(new URL(file, dir)))).tensors;
    files.set(file, m);
  }
  return m;
}

/** One stored tensor as a float64 CPU tensor (its float32 values, exactly). */
export function golden(file: string, name: string): CpuTensor {
  const t = goldenFile(file).get(name);
  if (!t) throw new Error(`golden fixture ${file} has no tensor ${name}`);
  return cpuTensor(t.shape, t.data);
}

export function maxAbsOf(t: CpuTensor | ArrayLike<number>): number {
  const d = 'data' in t ? t.data : t;
  let m = 0;
  for (let i = 0; i < d.length; i++) m = Math.max(m, Math.abs(d[i]));
  return m;
}

/**
 * GOLDEN_VERBOSE=1 logs every comparison's worst error (to see the margin under each tolerance).
 *
 * Asserts |actual − expected| ≤ rel · scale for every element, where scale defaults to max |expected| (the
 * tolerance is relative to the magnitude of the tensor, not of each element: small elements of a sum of many
 * terms carry the absolute rounding error of the large ones). Reports the worst element.
 */
export function expectNear(actual: ArrayLike<number>, expected: CpuTensor, rel: number, what: string, scale = maxAbsOf(expected)): void {
  expect(actual.length, `${what}: length`).toBe(expected.data.length);
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
  if (process.env.GOLDEN_VERBOSE) {
    console.log(`${what}: worst |error| ${(worstErr / Math.max(scale, 1e-30)).toExponential(2)} of scale (allowed ${rel})`);
  }
  if (worstErr > atol) {
    expect.fail(
      `${what}: element ${worst} of [${expected.shape.join(', ')}] is ${actual[worst]}, PyTorch says ${expected.data[worst]} ` +
        `(|error| ${worstErr.toExponential(3)} = ${(worstErr / Math.max(scale, 1e-30)).toExponential(2)} of the scale ${scale.toExponential(3)}; allowed ${rel})`,
    );
  }
}
