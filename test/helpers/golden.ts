// The golden fixtures for vitest on Node: test/helpers/golden-store.ts reading test/fixtures/golden with fs.
import { readFileSync } from 'node:fs';
import type { CpuTensor } from '../../src/ops/cpu.js';
import type { NamedTensor } from '../../src/models/safetensors.js';
import { GoldenStore, type GoldenIndex } from './golden-store.js';

export { expectNear, maxAbsOf, GoldenStore, type GoldenIndex } from './golden-store.js';

const dir = new URL('../fixtures/golden/', import.meta.url);

/** The fixtures, read from test/fixtures/golden on first use. */
export const goldenStore = new GoldenStore((name) => new Uint8Array(readFileSync(new URL(name, dir))));

export function goldenIndex(): GoldenIndex {
  return goldenStore.index;
}

/** The tensors of one fixture file, by name. */
export function goldenFile(file: string): Map<string, NamedTensor> {
  return goldenStore.file(file);
}

/** One stored tensor as a float64 CPU tensor (its float32 values, exactly). */
export function golden(file: string, name: string): CpuTensor {
  return goldenStore.tensor(file, name);
}
