// Node entry: the engine on Dawn, ops, autograd, models and model I/O.
export * from './engine/index.js';
export { createNodeEngine, nodeNavigatorGpu } from './engine/node.js';
export * from './ops/index.js';
export * from './autograd/index.js';
