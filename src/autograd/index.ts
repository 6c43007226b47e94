export { apply, backward, noGrad, clearTape, zeroGrad, isGradEnabled } from './tape.js';
export { Adam, type AdamOptions } from './optim.js';
export {
  LBFGS,
  cubicInterpolate,
  type LbfgsOptions,
  type LbfgsIteration,
  type LbfgsStop,
  type Evaluation as LbfgsEvaluation,
  type Closure as LbfgsClosure,
} from './lbfgs.js';
export * as functional from './functional.js';
