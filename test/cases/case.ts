// The shape of a shared test case: a name and a function of the engine that throws a plain Error on
// failure. Case tables (test/cases/*.ts) hold no test-framework code, so that two runners use the very same
// definitions: vitest (test/*.test.ts, Node/Dawn) and the Deno runner (test/deno/run.ts, wgpu).
import type { Engine } from '../../src/engine/engine.js';

export interface EngineCase {
  name: string;
  run(engine: Engine): Promise<void>;
}

/** Throws with `message` unless `condition` holds. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Structural equality of plain data (arrays, objects, numbers, strings) through JSON. */
export function assertEqual(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a}, expected ${e}`);
}
