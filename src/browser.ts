// Browser entry: the same engine on navigator.gpu, ops, autograd, models and model I/O, and the stylizer
// (createStylizer); no Node APIs (test/browser.test.ts checks the bundle).
import { Engine, type EngineOptions } from './engine/engine.js';

export * from './api.js';
export {
  stylizeRgba,
  defaultTileEdge,
  tileStarts,
  type RgbaPixels,
  type StylizeMode,
  type TransformNetLike,
  type StylizeOptions as StylizeRgbaOptions,
} from './models/stylize.js';
export {
  createStylizer,
  modelBytes,
  type ModelSource,
  type Stylizer,
  type StylizerOptions,
  type StylizeImageOptions,
} from './web/stylizer.js';
export {
  blendRgba,
  fitSize,
  toImageData,
  toRgba,
  type ImageDataLike,
  type ImageInput,
  type RgbaImage,
} from './web/pixels.js';

/** An engine on the browser's WebGPU (navigator.gpu). */
export function createBrowserEngine(options: EngineOptions = {}): Promise<Engine> {
  return Engine.create((globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu, options);
}
