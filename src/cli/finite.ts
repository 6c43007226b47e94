/**
 * A model whose weights are NaN or infinite (a diverged training run, a damaged file) would stylise every
 * photo to black, and 8-bit pixels cannot show it: NaN clamps to 0. Weights are checked when a model is
 * read, and the net's raw output is checked before an image is written.
 */
import { sumAll } from '../autograd/functional.js';
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import { readSafetensors } from '../models/safetensors.js';
import type { Activation } from '../models/banded.js';
import { loadTransformNet } from '../models/model-file.js';
import type { TransformNetLike } from '../models/stylize.js';
import { CliError } from './errors.js';

/** The first value of `data` that is NaN or infinite, as a word, or null when all are finite. */
function nonFiniteKind(data: ArrayLike<number>): 'NaN' | 'infinite' | null {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : 'infinite';
  }
  return null;
}

/**
 * Throws a CliError naming the model and its first tensor that holds a NaN or an infinity. `hint` says what
 * may have caused it (a diverged training run, by default).
 */
export function assertFiniteWeights(bytes: Uint8Array, path: string, hint = 'did its training diverge?'): void {
  for (const [name, t] of readSafetensors(bytes, path).tensors) {
    const bad = nonFiniteKind(t.data);
    if (bad) throw new CliError(`${path}: the model is unusable: its weight ${name} holds ${bad} values (${hint})`);
  }
}

/** A net that records, per forward pass, the sum of its output: NaN or infinite iff any output value is. */
export interface CheckedNet extends TransformNetLike {
  /** Throws a CliError naming the model when an output since the last check was not finite. */
  check(): Promise<void>;
  dispose(): void;
}

function checkedNet(net: TransformNetLike & { dispose(): void }, path: string): CheckedNet {
  const sums: Tensor[] = [];
  let nonFinite: 'NaN' | 'infinite' | null = null;
  const engine: Engine = net.engine;
  return {
    engine,
    width: net.width,
    peakFloatsPerPixel: net.peakFloatsPerPixel,
    // The banded mode (large images) computes on the CPU between convolutions: its output is checked there.
    bandProgram: net.bandProgram
      ? async () => {
          const program = await net.bandProgram!();
          const inspect = (a: Activation): void => {
            const bad = a.data.find((v) => !Number.isFinite(v));
            if (bad !== undefined) nonFinite = Number.isNaN(bad) ? 'NaN' : 'infinite';
          };
          return { ...program, steps: [...program.steps, { kind: 'inspect', inspect }] };
        }
      : undefined,
    forward(x: Tensor): Tensor {
      const y = net.forward(x);
      // Kept past the caller's scope; read (and freed) by check().
      sums.push(engine.keep(sumAll(y)));
      return y;
    },
    async check(): Promise<void> {
      const pending = sums.splice(0);
      const banded = nonFinite;
      nonFinite = null;
      if (banded) {
        for (const s of pending) s.dispose();
        throw new CliError(`${path}: the model produced ${banded} values: refusing to write a wrong image`);
      }
      try {
        for (const s of pending) {
          const v = (await s.data())[0];
          if (!Number.isFinite(v))
            throw new CliError(
              `${path}: the model produced ${Number.isNaN(v) ? 'NaN' : 'infinite'} values: refusing to write a wrong image`,
            );
        }
      } finally {
        for (const s of pending) s.dispose();
      }
    },
    dispose(): void {
      for (const s of sums.splice(0)) s.dispose();
      net.dispose();
    },
  };
}

/**
 * Throws a CliError when a training state about to be saved holds a NaN or an infinity in a weight or in
 * Adam's moments: the losses can stay finite while weights are not (the output's scaled tanh clamps them),
 * and such a checkpoint or model would be unusable. Nothing is written; the last good checkpoint stays.
 */
export function assertFiniteTrainingState(
  state: {
    step: number;
    weights: ReadonlyMap<string, { data: Float32Array }>;
    moments: ReadonlyMap<string, { m: Float32Array; v: Float32Array }>;
  },
  checkpoint: string,
): void {
  const found = (what: string, kind: string): never => {
    throw new CliError(
      `training diverged at step ${state.step}: ${what} holds ${kind} values; stopped without writing, the last good checkpoint (${checkpoint}, if any) is kept`,
    );
  };
  for (const [name, t] of state.weights) {
    const bad = nonFiniteKind(t.data);
    if (bad) found(`the weight ${name}`, bad);
  }
  for (const [name, { m, v }] of state.moments) {
    const bad = nonFiniteKind(m) ?? nonFiniteKind(v);
    if (bad) found(`Adam's moment of ${name}`, bad);
  }
}

/**
 * A model file loaded as a CheckedNet, its weights checked first (the net is disposed when they are not
 * finite), and the file's metadata.
 */
export async function loadCheckedNet(
  engine: Engine,
  bytes: Uint8Array,
  path: string,
): Promise<{ net: CheckedNet; metadata: Awaited<ReturnType<typeof loadTransformNet>>['metadata'] }> {
  const { net, metadata } = await loadTransformNet(engine, bytes, path);
  try {
    assertFiniteWeights(bytes, path);
  } catch (e) {
    net.dispose();
    throw e;
  }
  return { net: checkedNet(net, path), metadata };
}
