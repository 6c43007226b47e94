/**
 * Worker thread of the training data loader: decodes, resizes and crops images so that the main thread
 * (and the GPU it feeds) never waits on JPEG decoding. Built as dist/data-worker.js beside the CLI.
 */
import { parentPort } from 'node:worker_threads';
import { runDataJob, type DataJob } from './data-sample.js';

parentPort?.on('message', (job: DataJob) => {
  const result = runDataJob(job);
  parentPort!.postMessage(result, result.pixels ? [result.pixels.buffer as ArrayBuffer] : []);
});
