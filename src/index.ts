// Node entry: the engine on Dawn, ops, autograd, models and model I/O, training and its checkpoints.
export * from './api.js';
export { createNodeEngine, nodeNavigatorGpu } from './engine/node.js';
