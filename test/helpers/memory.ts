// What the ops' memory tests share (test/gram.test.ts, test/pool.test.ts, test/instance-norm.test.ts): a
// computation that must give every pool buffer it takes back.
import { expect } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';

/** Runs fn between two syncs of the engine and checks that its pool then holds as many live buffers as before. */
export async function expectNoBufferLeft(e: Engine, fn: () => void | Promise<void>): Promise<void> {
  await e.sync();
  const before = e.poolStats().liveBuffers;
  await fn();
  await e.sync();
  expect(e.poolStats().liveBuffers).toBe(before);
}
