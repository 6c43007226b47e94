export { apply, backward, noGrad, clearTape, zeroGrad, isGradEnabled } from './tape.js';
