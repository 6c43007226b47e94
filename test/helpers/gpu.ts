import { afterAll } from 'vitest';
import { createNodeEngine } from '../../src/engine/node.js';
import type { Engine } from '../../src/engine/engine.js';

export { toCpu, toGpu } from './tensors.js';

let enginePromise: Promise<Engine> | null = null;

/** One engine per test file (vitest runs each file in its own process), destroyed after the file. */
export function testEngine(): Promise<Engine> {
  if (!enginePromise) {
    enginePromise = createNodeEngine();
    afterAll(async () => {
      const e = await enginePromise!;
      await e.sync();
      e.destroy();
      enginePromise = null;
    });
  }
  return enginePromise;
}
