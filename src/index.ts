// Node entry: the engine on Dawn, ops, autograd, models and model I/O.
export * from './engine/index.js';
export { createNodeEngine, nodeNavigatorGpu } from './engine/node.js';
export * from './ops/index.js';
export * from './autograd/index.js';
export * from './models/transform-net.js';
export * from './models/model-file.js';
export * from './models/ml5-checkpoint.js';
export * from './models/safetensors.js';
export * from './models/vgg.js';
export * from './models/losses.js';
export * from './models/trainer.js';
export * from './models/sample-order.js';
