// conv2d benchmark: direct vs tiled, forward / backward-input / backward-weight, on the layer shapes of the
// transform net and of VGG19 up to conv3_4, timed by wall clock around submit + onSubmittedWorkDone.
import type { Engine } from '../src/engine/engine.js';
import { Tensor } from '../src/engine/tensor.js';
import {
  conv2dBackwardInput,
  conv2dBackwardWeight,
  conv2dFlops,
  conv2dForward,
  conv2dGeometry,
  conv2dOutputShape,
  type Conv2dAttrs,
} from '../src/ops/conv2d.js';
import type { Conv2dImpl } from '../src/ops/conv2d-plan.js';
import { winogradUnsupported } from '../src/ops/conv2d-winograd.js';
import { rng } from '../src/ops/cpu.js';

export interface ConvLayer {
  name: string;
  /** Input [N, Cin, H, W] and weight [Cout, Cin, K, K]. */
  x: number[];
  w: number[];
  attrs: Conv2dAttrs;
}

export type ConvPass = 'forward' | 'backwardInput' | 'backwardWeight';

export interface ConvBenchOptions {
  /** Image side of the net's input (256 for the paper's training size). */
  size?: number;
  batch?: number;
  /** Timed repetitions per measurement (median and min reported). */
  reps?: number;
  /** Dispatches inside one timed submit, so that submit/wait overhead is spread. */
  dispatchesPerRep?: number;
  /** Only layers whose name contains one of these. */
  layers?: string[];
  passes?: ConvPass[];
  impls?: Conv2dImpl[];
  log?: (line: string) => void;
}

export interface ConvBenchRow {
  layer: string;
  impl: Conv2dImpl;
  pass: ConvPass;
  medianMs: number;
  minMs: number;
  gflops: number;
}

/** Johnson et al.'s transform net (pytorch/examples layout) on a size×size image. */
export function transformNetLayers(size: number, batch = 1): ConvLayer[] {
  const reflect = (padding: number, stride = 1, upsample = 1): Conv2dAttrs => ({
    stride,
    padding,
    padMode: 'reflect',
    upsample,
  });
  const q = size / 4;
  const h = size / 2;
  return [
    { name: 'tn.conv1 9×9 3→32', x: [batch, 3, size, size], w: [32, 3, 9, 9], attrs: reflect(4) },
    { name: 'tn.conv2 3×3 s2 32→64', x: [batch, 32, size, size], w: [64, 32, 3, 3], attrs: reflect(1, 2) },
    { name: 'tn.conv3 3×3 s2 64→128', x: [batch, 64, h, h], w: [128, 64, 3, 3], attrs: reflect(1, 2) },
    { name: `tn.res 3×3 128→128 @${q}²`, x: [batch, 128, q, q], w: [128, 128, 3, 3], attrs: reflect(1) },
    { name: 'tn.up1 resize-conv 128→64', x: [batch, 128, q, q], w: [64, 128, 3, 3], attrs: reflect(1, 1, 2) },
    { name: 'tn.up2 resize-conv 64→32', x: [batch, 64, h, h], w: [32, 64, 3, 3], attrs: reflect(1, 1, 2) },
    { name: 'tn.out 9×9 32→3', x: [batch, 32, size, size], w: [3, 32, 9, 9], attrs: reflect(4) },
  ];
}

/** VGG19 conv1_1 … conv3_4 (zero padding 1, 3×3) on a size×size image. */
export function vggLayers(size: number, batch = 1): ConvLayer[] {
  const zeros: Conv2dAttrs = { stride: 1, padding: 1, padMode: 'zeros' };
  const layer = (name: string, cin: number, cout: number, side: number): ConvLayer => ({
    name: `vgg.${name} ${cin}→${cout} @${side}²`,
    x: [batch, cin, side, side],
    w: [cout, cin, 3, 3],
    attrs: zeros,
  });
  const h = size / 2;
  const q = size / 4;
  return [
    layer('conv1_1', 3, 64, size),
    layer('conv1_2', 64, 64, size),
    layer('conv2_1', 64, 128, h),
    layer('conv2_2', 128, 128, h),
    layer('conv3_1', 128, 256, q),
    layer('conv3_2', 256, 256, q),
    layer('conv3_3', 256, 256, q),
    layer('conv3_4', 256, 256, q),
  ];
}

function randomTensor(engine: Engine, shape: readonly number[], seed: number): Tensor {
  const r = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = r() * 2 - 1;
  return Tensor.fromData(engine, shape, data);
}

async function timeRuns(engine: Engine, run: () => void, reps: number, dispatchesPerRep: number): Promise<number[]> {
  // Warm-up: pipeline creation and first-touch of the pooled buffers stay out of the timings.
  engine.scope(run);
  await engine.sync();
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let d = 0; d < dispatchesPerRep; d++) engine.scope(run);
    engine.flush();
    await engine.device.queue.onSubmittedWorkDone();
    times.push((performance.now() - t0) / dispatchesPerRep);
  }
  await engine.sync();
  return times;
}

/** max |a − b| / max |b| of two results (read back; outside the timed runs). */
async function relativeDifference(engine: Engine, a: () => Tensor, b: () => Tensor): Promise<number> {
  return engine.scopeAsync(async () => {
    const [da, db] = [await a().data(), await b().data()];
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < da.length; i++) {
      diff = Math.max(diff, Math.abs(da[i] - db[i]));
      scale = Math.max(scale, Math.abs(db[i]));
    }
    return diff / Math.max(scale, 1e-30);
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs the benchmark and prints its table; returns the rows. */
export async function benchConv2d(
  engine: Engine,
  layers: ConvLayer[],
  options: ConvBenchOptions = {},
): Promise<ConvBenchRow[]> {
  const reps = options.reps ?? 5;
  const dispatchesPerRep = options.dispatchesPerRep ?? 3;
  const passes = options.passes ?? ['forward', 'backwardInput', 'backwardWeight'];
  const impls = options.impls ?? ['direct', 'tiled'];
  const log = options.log ?? ((line: string) => console.log(line));
  const rows: ConvBenchRow[] = [];

  log(`conv2d benchmark on ${engine.describe()}`);
  log(`${reps} timed reps of ${dispatchesPerRep} dispatches each; GFLOP/s = 2·MACs / median time`);
  // tiled/direct: ratio of median times (below 1: tiled is faster). max err: max |tiled − direct| / max |direct|,
  // a check that the fast kernel computes the same thing on this adapter.
  const header = ['layer', 'impl', 'pass', 'median ms', 'min ms', 'GFLOP/s', 'tiled/direct', 'max err'];
  const widths = [34, 7, 15, 10, 10, 9, 12, 9];
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' ');
  log(line(header));

  for (const layer of layers) {
    const g = conv2dGeometry(layer.x, layer.w, null, layer.attrs);
    const flop = conv2dFlops(g);
    await engine.scopeAsync(async () => {
      const x = randomTensor(engine, layer.x, 1);
      const w = randomTensor(engine, layer.w, 2);
      const b = randomTensor(engine, [layer.w[0]], 3);
      const dy = randomTensor(engine, conv2dOutputShape(g), 4);
      for (const pass of passes) {
        const medians: Partial<Record<Conv2dImpl, number>> = {};
        const run = (impl: Conv2dImpl): Tensor => {
          if (pass === 'forward') return conv2dForward(x, w, b, layer.attrs, impl);
          if (pass === 'backwardInput') return conv2dBackwardInput(dy, w, layer.x, layer.attrs, impl);
          return conv2dBackwardWeight(dy, x, layer.w, layer.attrs, impl);
        };
        for (const impl of impls) {
          const times = await timeRuns(engine, () => void run(impl), reps, dispatchesPerRep);
          const row: ConvBenchRow = {
            layer: layer.name,
            impl,
            pass,
            medianMs: median(times),
            minMs: Math.min(...times),
            gflops: 0,
          };
          row.gflops = flop / (row.medianMs * 1e6);
          medians[impl] = row.medianMs;
          rows.push(row);
          const last = impl === impls[impls.length - 1] && impls.length === 2;
          const ratio = last && medians.direct ? (row.medianMs / medians.direct).toFixed(3) : '';
          const err = last
            ? (
                await relativeDifference(
                  engine,
                  () => run('tiled'),
                  () => run('direct'),
                )
              ).toExponential(1)
            : '';
          log(
            line([
              layer.name,
              impl,
              pass,
              row.medianMs.toFixed(2),
              row.minMs.toFixed(2),
              row.gflops.toFixed(1),
              ratio,
              err,
            ]),
          );
        }
      }
    });
  }
  return rows;
}

export interface ForwardVariantRow {
  layer: string;
  impl: Conv2dImpl;
  medianMs: number;
  minMs: number;
  /** Effective GFLOP/s: 2·MACs of the direct conv / median time (so variants compare by time). */
  gflops: number;
  /** median / median of the first impl. */
  ratio: number;
  /** max |y − y_first| / max |y_first|. */
  maxErr: number;
}

/**
 * Forward-pass variants side by side (default tiled vs winograd), alternating within each rep so that load
 * on a shared host hits them alike; medians. Layers a variant cannot run (winograd: 3×3 stride 1 only) are
 * skipped. Each timed rep is one call, submitted and awaited.
 */
export async function benchConv2dForwardVariants(
  engine: Engine,
  layers: ConvLayer[],
  options: { reps?: number; impls?: Conv2dImpl[]; log?: (line: string) => void } = {},
): Promise<ForwardVariantRow[]> {
  const reps = options.reps ?? 7;
  const impls = options.impls ?? ['tiled', 'winograd'];
  const log = options.log ?? ((line: string) => console.log(line));
  const rows: ForwardVariantRow[] = [];
  log(
    `conv2d forward variants on ${engine.describe()}: ${reps} reps, impls alternating; ratio = median / median(${impls[0]})`,
  );
  log(
    `${'layer'.padEnd(34)} ${'impl'.padEnd(9)} ${'median ms'.padStart(10)} ${'min ms'.padStart(10)} ${'GFLOP/s'.padStart(8)} ${'ratio'.padStart(7)} ${'max err'.padStart(9)}`,
  );
  for (const layer of layers) {
    const g = conv2dGeometry(layer.x, layer.w, null, layer.attrs);
    if (impls.includes('winograd') && winogradUnsupported(g, engine.limits.maxStorageBufferBindingSize)) continue;
    const flop = conv2dFlops(g);
    await engine.scopeAsync(async () => {
      const x = randomTensor(engine, layer.x, 1);
      const w = randomTensor(engine, layer.w, 2);
      const b = randomTensor(engine, [layer.w[0]], 3);
      const run = (impl: Conv2dImpl): Tensor => conv2dForward(x, w, b, layer.attrs, impl);
      for (const impl of impls) {
        engine.scope(() => void run(impl));
        await engine.sync();
      }
      const times: number[][] = impls.map(() => []);
      for (let r = 0; r < reps; r++) {
        for (const [i, impl] of impls.entries()) {
          const t0 = performance.now();
          engine.scope(() => void run(impl));
          engine.flush();
          await engine.device.queue.onSubmittedWorkDone();
          times[i].push(performance.now() - t0);
        }
      }
      const first = median(times[0]);
      for (const [i, impl] of impls.entries()) {
        const ms = median(times[i]);
        const maxErr =
          i === 0
            ? 0
            : await relativeDifference(
                engine,
                () => run(impl),
                () => run(impls[0]),
              );
        const row: ForwardVariantRow = {
          layer: layer.name,
          impl,
          medianMs: ms,
          minMs: Math.min(...times[i]),
          gflops: flop / (ms * 1e6),
          ratio: ms / first,
          maxErr,
        };
        rows.push(row);
        log(
          `${layer.name.padEnd(34)} ${impl.padEnd(9)} ${ms.toFixed(2).padStart(10)} ${row.minMs.toFixed(2).padStart(10)} ${row.gflops.toFixed(2).padStart(8)} ${row.ratio.toFixed(3).padStart(7)} ${maxErr.toExponential(1).padStart(9)}`,
        );
      }
    });
  }
  return rows;
}
