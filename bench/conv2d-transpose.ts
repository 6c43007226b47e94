// The two implementations of conv2dTranspose (src/ops/conv2d-transpose.ts) side by side on the ml5 net's
// upsampling layers: `zero-insert` (a stride-1 conv over the dilated input: Winograd forward, 3/4 of its
// multiply-adds on inserted zeros) and `adjoint` (the input gradient of the SAME stride-2 conv: phase GEMMs,
// no wasted multiply-adds). Forward alone (stylize) and forward + backward (training), runs alternating.
import { backward } from '../src/autograd/tape.js';
import { apply } from '../src/autograd/tape.js';
import type { Engine } from '../src/engine/engine.js';
import { Tensor } from '../src/engine/tensor.js';
import { CONV2D_TRANSPOSE_IMPL, conv2dTranspose, type Conv2dTransposeImpl } from '../src/ops/conv2d-transpose.js';
import { rng } from '../src/ops/cpu.js';
import { median } from './report.js';

export interface TransposeRow {
  layer: string;
  pass: 'forward' | 'forward+backward';
  impl: Conv2dTransposeImpl;
  medianMs: number;
  minMs: number;
  /** median / median of zero-insert. */
  ratio: number;
}

function randomTensor(engine: Engine, shape: readonly number[], seed: number): Tensor {
  const r = rng(seed);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = r() * 2 - 1;
  return Tensor.fromData(engine, shape, data);
}

/** deconv1 and deconv2 of the ml5 net for a size² input (x [1, Cin, H, W], weight [Cin, Cout, 3, 3]). */
export function ml5TransposeLayers(size: number): { name: string; x: number[]; w: number[] }[] {
  return [
    { name: `deconv1 128→64 @${size / 4}²→${size / 2}²`, x: [1, 128, size / 4, size / 4], w: [128, 64, 3, 3] },
    { name: `deconv2 64→32 @${size / 2}²→${size}²`, x: [1, 64, size / 2, size / 2], w: [64, 32, 3, 3] },
  ];
}

export async function benchConv2dTranspose(
  engine: Engine,
  size: number,
  reps: number,
  log: (line: string) => void = console.log,
): Promise<TransposeRow[]> {
  const impls: Conv2dTransposeImpl[] = ['zero-insert', 'adjoint'];
  const rows: TransposeRow[] = [];
  const before = engine.choice(CONV2D_TRANSPOSE_IMPL);
  log(
    `conv2dTranspose implementations on ${engine.describe()}: ${reps} reps, alternating; ratio = median / median(zero-insert)`,
  );
  try {
    for (const layer of ml5TransposeLayers(size)) {
      await engine.scopeAsync(async () => {
        const x = randomTensor(engine, layer.x, 1);
        const w = randomTensor(engine, layer.w, 2);
        for (const pass of ['forward', 'forward+backward'] as const) {
          const run = (): void =>
            engine.scope(() => {
              x.requiresGrad = pass !== 'forward';
              w.requiresGrad = pass !== 'forward';
              const y = apply(conv2dTranspose, [x, w, null], { stride: 2 });
              if (pass !== 'forward') {
                backward(y, Tensor.full(engine, y.shape, 1));
                x.grad?.dispose();
                w.grad?.dispose();
                x.grad = null;
                w.grad = null;
              }
            });
          const times: number[][] = impls.map(() => []);
          for (const impl of impls) {
            engine.setChoice(CONV2D_TRANSPOSE_IMPL, impl);
            run();
            await engine.sync();
          }
          for (let r = 0; r < reps; r++) {
            for (const [i, impl] of impls.entries()) {
              engine.setChoice(CONV2D_TRANSPOSE_IMPL, impl);
              const t0 = performance.now();
              run();
              engine.flush();
              await engine.device.queue.onSubmittedWorkDone();
              times[i].push(performance.now() - t0);
            }
          }
          const base = median(times[0]);
          for (const [i, impl] of impls.entries()) {
            const row: TransposeRow = {
              layer: layer.name,
              pass,
              impl,
              medianMs: median(times[i]),
              minMs: Math.min(...times[i]),
              ratio: median(times[i]) / base,
            };
            rows.push(row);
            log(
              `${layer.name.padEnd(28)} ${pass.padEnd(17)} ${impl.padEnd(12)} ${row.medianMs.toFixed(1).padStart(9)} ms  min ${row.minMs.toFixed(1).padStart(9)} ms  ${row.ratio.toFixed(2)}×`,
            );
          }
        }
        x.requiresGrad = false;
        w.requiresGrad = false;
      });
    }
  } finally {
    engine.setChoice(CONV2D_TRANSPOSE_IMPL, before);
  }
  return rows;
}
