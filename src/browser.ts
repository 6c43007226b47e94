// Browser entry: the same engine on navigator.gpu; no Node APIs.
import { Engine, type EngineOptions } from './engine/engine.js';

export * from './engine/index.js';
export * from './ops/index.js';
export * from './autograd/index.js';

/** An engine on the browser's WebGPU (navigator.gpu). */
export function createBrowserEngine(options: EngineOptions = {}): Promise<Engine> {
  return Engine.create((globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu, options);
}
