// Kernel choices set on a test's own engine for one run; no test framework and no Node APIs (the Deno runner
// uses them too).
import type { ChoiceKey, Engine } from '../../src/engine/engine.js';

/** Runs fn with `key` set to `value` on the engine, then puts back the value it had. */
export async function withChoice<T, R>(engine: Engine, key: ChoiceKey<T>, value: T, fn: () => Promise<R>): Promise<R> {
  const old = engine.setChoice(key, value);
  try {
    return await fn();
  } finally {
    engine.setChoice(key, old);
  }
}
