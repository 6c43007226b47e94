export {
  Engine,
  choiceKey,
  workgroups1d,
  type ChoiceKey,
  type EngineLimits,
  type EngineOptions,
  type AdapterSummary,
} from './engine.js';
export { Tensor, sizeOf } from './tensor.js';
export { BufferPool, sizeClass, type PoolStats } from './buffer-pool.js';
export { packParams, kernelKey, type Kernel, type Dispatch } from './kernel.js';
export { GpuError, ShapeError, NoAdapterError, shapeStr } from './errors.js';
export { BufferUsage, MapMode } from './constants.js';
