// Node entry: the engine on Dawn, ops, autograd, models and model I/O, training and its checkpoints.
export * from './api.js';
export { createNodeEngine, nodeNavigatorGpu } from './engine/node.js';
export * from './models/trainer.js';
export * from './models/checkpoint.js';
export * from './models/sample-order.js';
