export { apply, backward, noGrad, clearTape, zeroGrad, isGradEnabled } from './tape.js';
export { Adam, type AdamOptions } from './optim.js';
