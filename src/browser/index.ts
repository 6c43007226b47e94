// Browser entry: the same engine on navigator.gpu, ops, autograd, models and model I/O, the stylizer
// (createStylizer), and training (TrainingRun: the Trainer over photos the browser decodes, checkpoints in
// the browser's storage); no Node APIs (test/browser.test.ts checks the bundle).
import { Engine, type EngineOptions } from '../engine/engine.js';

export * from '../api.js';
export {
  stylizeRgba,
  defaultTileEdge,
  tileStarts,
  type StylizeMode,
  type TransformNetLike,
  type StylizeOptions as StylizeRgbaOptions,
} from '../models/stylize.js';
export {
  createStylizer,
  modelBytes,
  type ModelSource,
  type Stylizer,
  type StylizerOptions,
  type StylizeImageOptions,
} from './stylizer.js';
export {
  blendRgba,
  fitSize,
  toImageData,
  toRgba,
  type ImageDataLike,
  type ImageInput,
} from './pixels.js';
export {
  BrowserDataLoader,
  checkPhotos,
  decodeRgba,
  photoCrop,
  photoFiles,
  resizeRgba,
  PHOTO_EXTENSIONS,
  type BrowserDataLoaderOptions,
  type PhotoFile,
} from './train-data.js';
export { MemoryRunStore, OpfsRunStore, opfsAvailable, type RunStore } from './run-store.js';
export {
  RECIPE,
  TrainingRun,
  type RunInputs,
  type SavedRun,
  type StepReport,
  type TrainingRunEvents,
  type TrainSettings,
} from './train-run.js';

/** An engine on the browser's WebGPU (navigator.gpu). */
export function createBrowserEngine(options: EngineOptions = {}): Promise<Engine> {
  return Engine.create((globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu, options);
}
