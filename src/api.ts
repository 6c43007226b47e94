// What both entry points (index.ts for Node, browser/index.ts) export: the engine, ops, autograd, models, model I/O,
// training and its checkpoints, none of which touches a platform API.
export * from './engine/index.js';
export * from './ops/index.js';
export * from './autograd/index.js';
export * from './models/transform-net.js';
export * from './models/model-file.js';
export * from './models/ml5-checkpoint.js';
export * from './models/safetensors.js';
export type { RgbaImage } from './models/rgba-image.js';
export * from './models/vgg.js';
export * from './models/losses.js';
export * from './models/trainer.js';
export * from './models/checkpoint.js';
export * from './models/sample-order.js';
export * from './models/loss-curve.js';
export * from './models/train-plan.js';
