// The training step of issue 12 on its own: 128², batch 4, the shared VGG19 file (to relu3_4; style
// relu1_2/relu2_2/relu3_4, content relu2_2, sw 0.1), Adam — ours, PyTorch CPU on the same weights in the same
// run, ours again under other kernel settings (variants, alternating with the default so that load from other
// processes hits all alike), and a per-kernel GPU-time profile of one step.
//
//   npm run bench -- --train-step [--train-size 128] [--train-batch 4] [--runs N] [--vgg FILE] [--variants a,b]
//   npm run bench -- --profile-train [--train-size 128] [--train-batch 4] [--vgg FILE] [--variants a]
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { ChoiceKey, Engine, ProfiledDispatch } from '../src/engine/engine.js';
import { Tensor } from '../src/engine/tensor.js';
import { noGrad } from '../src/autograd/index.js';
import { defaultLossConfig } from '../src/models/losses.js';
import { TransformNet } from '../src/models/transform-net.js';
import { Vgg } from '../src/models/vgg.js';
import { CONV2D_CHOICES, type Conv2dChoices } from '../src/ops/conv2d-plan.js';
import { GRAM_FEED } from '../src/ops/gram.js';
import { callTorch, findTorch, makeTrainStep, type NamedWeights, type TrainStep } from './e2e.js';
import { randomImage } from './johnson.js';
import { median, type BenchCase } from './report.js';

export const SHARED_VGG19 = '../shared/assets/vgg/vgg19_conv1_1-conv3_4.safetensors';

export interface TrainBenchOptions {
  size: number;
  batch: number;
  vggFile: string;
  minRuns: number;
  /** Settings variants (see VARIANTS) to time against the default settings, alternating. */
  variants: string[];
  torch: boolean;
  seed: number;
  log: (line: string) => void;
}

export const TRAIN_DEFAULTS: TrainBenchOptions = {
  size: 128,
  batch: 4,
  vggFile: SHARED_VGG19,
  minRuns: 3,
  variants: [],
  torch: true,
  seed: 1,
  log: (l) => console.log(l),
};

/**
 * Kernel choices a step can run under, by name: each sets them on the engine and returns a function that
 * restores them. `default` is the tree's defaults; the others turn one speed-up off, so that old and new run
 * side by side in one process.
 */
export const VARIANTS: Record<string, (engine: Engine) => () => void> = {
  default: () => () => {},
  'no-winograd-forward': (e) => chooseConv2d(e, { winogradForward: false }),
  'no-winograd-input-grad': (e) => chooseConv2d(e, { winogradInputGrad: false }),
  'no-winograd-weight-grad': (e) => chooseConv2d(e, { winogradWeightGrad: false }),
  // The tree before issue 12's speed work (Winograd forward with the staged GEMM; tiled backward passes).
  baseline: (e) => {
    const a = chooseConv2d(e, {
      winogradInputGrad: false,
      winogradWeightGrad: false,
      narrowWeightGrad: false,
      winogradFeed: 'staged',
      forwardFeed: 'staged',
      weightGradFeed: 'staged',
    });
    const b = choose(e, GRAM_FEED, 'staged');
    return () => {
      b();
      a();
    };
  },
  'winograd-gemm-registers': (e) => chooseConv2d(e, { winogradFeed: 'registers' }),
  'no-narrow-weight-grad': (e) => chooseConv2d(e, { narrowWeightGrad: false }),
  'gram-staged': (e) => choose(e, GRAM_FEED, 'staged'),
  'winograd-gemm-staged': (e) => chooseConv2d(e, { winogradFeed: 'staged' }),
  'conv-gemm-staged': (e) => chooseConv2d(e, { forwardFeed: 'staged', weightGradFeed: 'staged' }),
  'conv-gemm-staged-forward': (e) => chooseConv2d(e, { forwardFeed: 'staged' }),
  'conv-gemm-staged-weight-grad': (e) => chooseConv2d(e, { weightGradFeed: 'staged' }),
};

/** Sets a choice on the engine; returns a function that puts back the value it had. */
function choose<T>(engine: Engine, key: ChoiceKey<T>, value: T): () => void {
  const old = engine.setChoice(key, value);
  return () => engine.setChoice(key, old);
}

function chooseConv2d(engine: Engine, changes: Partial<Conv2dChoices>): () => void {
  return choose(engine, CONV2D_CHOICES, { ...engine.choice(CONV2D_CHOICES), ...changes });
}

function loadVgg(engine: Engine, file: string): Vgg {
  if (!existsSync(file)) throw new Error(`${file} not found (the shared VGG19 file; pass --vgg FILE)`);
  const loss = defaultLossConfig('vgg19', 'caffe');
  return Vgg.fromSafetensors(engine, new Uint8Array(readFileSync(file)), {
    layers: [...loss.styleLayers, loss.contentLayer],
    source: file,
  });
}

/** makeTrainStep at full width on a style image twice the photos' size; each run ends with engine.sync(). */
function makeStep(engine: Engine, vgg: Vgg, o: TrainBenchOptions): TrainStep {
  return makeTrainStep(engine, vgg, {
    size: o.size,
    batch: o.batch,
    styleSize: 2 * o.size,
    widthMultiplier: 1,
    seed: o.seed,
  });
}

function caseName(o: TrainBenchOptions): string {
  return `train step ${o.size}x${o.size} b${o.batch} vgg19`;
}

const NOTE =
  'VGG19 to relu3_4 (shared file), style relu1_2+relu2_2+relu3_4, content relu2_2, sw 0.1, TV, Adam; one run = Trainer.step + sync';

/** Ours under the default settings and each variant (runs alternate), then PyTorch on the same weights. */
export async function benchTrainStep(
  engine: Engine,
  options: Partial<TrainBenchOptions> = {},
): Promise<{ cases: BenchCase[]; notes: string[] }> {
  const o = { ...TRAIN_DEFAULTS, ...options };
  const name = caseName(o);
  const variants = ['default', ...o.variants.filter((v) => v !== 'default')];
  for (const v of variants)
    if (!VARIANTS[v]) throw new Error(`unknown variant ${v} (${Object.keys(VARIANTS).join(', ')})`);
  const vgg = loadVgg(engine, o.vggFile);
  const cases: BenchCase[] = [];
  const notes: string[] = [];
  try {
    const step = makeStep(engine, vgg, o);
    let weights: Map<string, NamedWeights>;
    try {
      weights = new Map();
      for (const [n, t] of step.net.parameters()) weights.set(n, { shape: [...t.shape], data: await t.data() });
      const times = new Map<string, number[]>(variants.map((v) => [v, []]));
      const dispatches = new Map<string, number>();
      // Warm-up (pipelines) per variant; dispatches counted there. Steps change the weights, which does not
      // change the timing.
      for (const v of variants) {
        const restore = VARIANTS[v](engine);
        try {
          const before = engine.counters.dispatches;
          await step.run();
          dispatches.set(v, engine.counters.dispatches - before);
        } finally {
          restore();
        }
      }
      for (let r = 0; r < o.minRuns; r++) {
        for (const v of variants) {
          const restore = VARIANTS[v](engine);
          try {
            const t0 = performance.now();
            await step.run();
            times.get(v)!.push(performance.now() - t0);
          } finally {
            restore();
          }
        }
      }
      for (const v of variants) {
        const t = times.get(v)!;
        o.log(`  ${name} ours (${v}): median ${median(t).toFixed(0)} ms over ${t.length} runs`);
        cases.push({
          suite: 'train',
          name,
          impl: v === 'default' ? 'ours' : `ours, ${v}`,
          runs: t.length,
          medianMs: median(t),
          minMs: Math.min(...t),
          items: o.batch,
          note: `${dispatches.get(v)} dispatches`,
        });
      }
    } finally {
      step.dispose();
    }
    if (o.torch) cases.push(runTorch(o, weights, name));
  } finally {
    vgg.dispose();
  }
  notes.push(`train: ${NOTE}; random batch and 2×size style image; variants alternate with ours run by run.`);
  return { cases, notes };
}

function runTorch(o: TrainBenchOptions, weights: Map<string, NamedWeights>, name: string): BenchCase {
  const peer = findTorch();
  if (!peer.python)
    return { suite: 'train', name, impl: 'torch', runs: 0, medianMs: NaN, minMs: NaN, note: `skipped: ${peer.why}` };
  o.log(`  ${name} torch: running`);
  const r = callTorch(peer, weights, [
    '--sizes',
    '',
    '--train',
    '--train-size',
    String(o.size),
    '--train-batch',
    String(o.batch),
    '--train-runs',
    String(Math.max(o.minRuns, 3)),
    '--vgg-file',
    o.vggFile,
    '--style-size',
    String(2 * o.size),
  ]);
  if ('error' in r) return { suite: 'train', name, impl: 'torch', runs: 0, medianMs: NaN, minMs: NaN, note: r.error };
  rmSync(r.dir, { recursive: true, force: true });
  const t = r.result.train!;
  o.log(`  ${name} torch: median ${t.median_ms.toFixed(0)} ms`);
  return {
    suite: 'train',
    name,
    impl: `torch-${r.result.device}`,
    runs: t.runs,
    medianMs: t.median_ms,
    minMs: t.min_ms,
    items: t.batch,
    note: `torch ${r.result.torch}, ${r.result.threads} threads, same VGG19 file, losses and Adam; separate process`,
  };
}

// ------------------------------------------------------------------------------------------ profile

export interface ProfileRow {
  label: string;
  ms: number;
  calls: number;
  flops: number;
}

/** Per-label totals, largest first. */
export function profileRows(dispatches: readonly ProfiledDispatch[]): ProfileRow[] {
  const rows = new Map<string, ProfileRow>();
  for (const d of dispatches) {
    // Per-parameter labels (adam.step <param>) count as one kernel.
    const label = d.label.split(' ')[0];
    const r = rows.get(label) ?? { label, ms: 0, calls: 0, flops: 0 };
    r.ms += d.ms;
    r.calls++;
    r.flops += d.flops;
    rows.set(label, r);
  }
  return [...rows.values()].sort((a, b) => b.ms - a.ms);
}

export function formatProfile(rows: readonly ProfileRow[], title: string): string {
  const total = rows.reduce((s, r) => s + r.ms, 0);
  const flops = rows.reduce((s, r) => s + r.flops, 0);
  const lines = [
    title,
    `${'kernel'.padEnd(44)} ${'ms'.padStart(9)} ${'%'.padStart(5)} ${'calls'.padStart(6)} ${'GFLOP'.padStart(7)} ${'GFLOP/s'.padStart(8)}`,
  ];
  const line = (label: string, ms: number, calls: number | string, fl: number) =>
    `${label.padEnd(44)} ${ms.toFixed(1).padStart(9)} ${((100 * ms) / total).toFixed(1).padStart(5)} ${String(calls).padStart(6)} ${fl ? (fl / 1e9).toFixed(2).padStart(7) : ''.padStart(7)} ${fl ? (fl / 1e6 / ms).toFixed(2).padStart(8) : ''.padStart(8)}`;
  for (const r of rows) lines.push(line(r.label, r.ms, r.calls, r.flops));
  lines.push(
    line(
      'total',
      total,
      rows.reduce((s, r) => s + r.calls, 0),
      flops,
    ),
  );
  return lines.join('\n');
}

/**
 * One warm-up step, then one profiled step per variant (timestamp queries around every dispatch); prints the
 * per-kernel table for each.
 */
export async function profileTrainStep(engine: Engine, options: Partial<TrainBenchOptions> = {}): Promise<string> {
  const o = { ...TRAIN_DEFAULTS, ...options };
  if (!engine.canProfile)
    throw new Error(`${engine.describe()} has no timestamp-query feature: no GPU-time profile here`);
  const variants = o.variants.length ? o.variants : ['default'];
  const vgg = loadVgg(engine, o.vggFile);
  const out: string[] = [];
  try {
    const step = makeStep(engine, vgg, o);
    try {
      for (const v of variants) {
        const restore = VARIANTS[v]?.(engine);
        if (!restore) throw new Error(`unknown variant ${v} (${Object.keys(VARIANTS).join(', ')})`);
        try {
          await step.run();
          engine.startProfile();
          const t0 = performance.now();
          let dispatches: ProfiledDispatch[];
          try {
            await step.run();
          } finally {
            dispatches = await engine.stopProfile();
          }
          const wall = performance.now() - t0;
          const table = formatProfile(
            profileRows(dispatches),
            `${caseName(o)} (${v}): one profiled step, ${dispatches.length} dispatches, wall ${wall.toFixed(0)} ms (profiling serialises dispatches)`,
          );
          o.log(table + '\n');
          out.push(table);
        } finally {
          restore();
        }
      }
    } finally {
      step.dispose();
    }
  } finally {
    vgg.dispose();
  }
  return out.join('\n\n');
}

// ------------------------------------------------------------------------------------------ inference check

/**
 * The transform net's stylize forward (batch 1, `size`², input on the GPU, output read back) under the default
 * settings and each variant, runs alternating: the kernel changes for training must not slow inference.
 */
export async function benchStylizeVariants(
  engine: Engine,
  options: { size: number; runs: number; variants: string[]; log: (l: string) => void },
): Promise<BenchCase[]> {
  const variants = ['default', ...options.variants.filter((v) => v !== 'default')];
  for (const v of variants)
    if (!VARIANTS[v]) throw new Error(`unknown variant ${v} (${Object.keys(VARIANTS).join(', ')})`);
  const s = options.size;
  const net = TransformNet.create(engine, { widthMultiplier: 1, seed: 1 });
  const x = engine.keep(Tensor.fromData(engine, [1, 3, s, s], randomImage(7, 1, s, s), 'bench.input'));
  const name = `stylize ${s}x${s}`;
  const times = new Map<string, number[]>(variants.map((v) => [v, []]));
  try {
    for (let r = -1; r < options.runs; r++) {
      for (const v of variants) {
        const restore = VARIANTS[v](engine);
        try {
          const t0 = performance.now();
          const y = noGrad(() => net.forward(x));
          await y.data();
          y.dispose();
          if (r >= 0) times.get(v)!.push(performance.now() - t0);
        } finally {
          restore();
        }
      }
    }
  } finally {
    x.dispose();
    net.dispose();
  }
  return variants.map((v) => {
    const t = times.get(v)!;
    options.log(`  ${name} (${v}): median ${median(t).toFixed(0)} ms`);
    return {
      suite: 'stylize',
      name,
      impl: v === 'default' ? 'ours' : `ours, ${v}`,
      runs: t.length,
      medianMs: median(t),
      minMs: Math.min(...t),
      items: 1,
    };
  });
}
