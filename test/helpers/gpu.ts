import { afterAll } from 'vitest';
import { createNodeEngine } from '../../src/engine/node.js';
import type { Engine } from '../../src/engine/engine.js';
import { Tensor } from '../../src/engine/tensor.js';
import type { CpuTensor } from '../../src/ops/cpu.js';

let enginePromise: Promise<Engine> | null = null;

/** One engine per test file (vitest runs each file in its own process), destroyed after the file. */
export function testEngine(): Promise<Engine> {
  if (!enginePromise) {
    enginePromise = createNodeEngine();
    afterAll(async () => {
      const e = await enginePromise!;
      await e.sync();
      e.destroy();
      enginePromise = null;
    });
  }
  return enginePromise;
}

export function toGpu(engine: Engine, t: CpuTensor | null): Tensor | null {
  return t ? Tensor.fromData(engine, t.shape, Float32Array.from(t.data)) : null;
}

export async function toCpu(t: Tensor): Promise<CpuTensor> {
  return { shape: [...t.shape], data: Float64Array.from(await t.data()) };
}
