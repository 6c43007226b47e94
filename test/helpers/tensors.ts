// CPU ↔ GPU tensor copies for tests; no test framework and no Node APIs (the Deno runner uses them too).
import type { Engine } from '../../src/engine/engine.js';
import { Tensor } from '../../src/engine/tensor.js';
import type { CpuTensor } from '../../src/ops/cpu.js';

export function toGpu(engine: Engine, t: CpuTensor): Tensor;
export function toGpu(engine: Engine, t: CpuTensor | null): Tensor | null;
export function toGpu(engine: Engine, t: CpuTensor | null): Tensor | null {
  return t ? Tensor.fromData(engine, t.shape, Float32Array.from(t.data)) : null;
}

export async function toCpu(t: Tensor): Promise<CpuTensor> {
  return { shape: [...t.shape], data: Float64Array.from(await t.data()) };
}
