// End-to-end cases: the transform net stylising one image at several sizes (ours vs tfjs-webgpu, optionally
// PyTorch), and one training step (ours; optionally PyTorch).
//
// Fairness: both JS nets get the same weights (read back from our TransformNet, seeded) and the same input,
// already on the GPU. One timed run = wall clock from the forward call until the output has been read back to
// the CPU (ours: Tensor.data(); tfjs: tensor.data()), so each implementation's submit, GPU work and readback
// are inside and nothing else is. Runs of ours and tfjs alternate so that load from other processes hits both.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { noGrad } from '../src/autograd/index.js';
import type { Engine } from '../src/engine/engine.js';
import { nodeNavigatorGpu } from '../src/engine/node.js';
import { Tensor } from '../src/engine/tensor.js';
import { defaultLossConfig } from '../src/models/losses.js';
import { writeSafetensors } from '../src/models/safetensors.js';
import { Trainer } from '../src/models/trainer.js';
import { TransformNet, type ArchitectureName } from '../src/models/transform-net.js';
import { Vgg } from '../src/models/vgg.js';
import { johnsonForwardFlops, randomImage } from './johnson.js';
import { TfjsMl5Net } from './peers/tfjs-ml5-net.js';
import {
  loadTfjsWebgpu,
  nchwToNhwc,
  nhwcToNchw,
  TfjsTransformNet,
  tfjsAdapterInfo,
  type NamedWeights,
  type Tfjs,
} from './peers/tfjs-transform-net.js';
import { median, type BenchCase } from './report.js';

export type { NamedWeights };

export type Peer = 'tfjs' | 'torch';

export interface E2eOptions {
  /** Square image sides for the stylize cases. */
  sizes: number[];
  peers: Peer[];
  /** Timed runs per implementation and case: at least minRuns, more while the time budget lasts. */
  minRuns: number;
  maxRuns: number;
  /** Time budget per implementation and case, in ms (more runs for fast cases). */
  budgetMs: number;
  warmup: number;
  /** The training-step case (256², batch 4, VGG to the deepest loss layer). */
  train: boolean;
  trainSize: number;
  trainBatch: number;
  seed: number;
  widthMultiplier: number;
  /**
   * The net benchmarked: ours (johnson2016) or lengstrom's as ml5.js runs it (ml5-lengstrom: the tfjs peer
   * is then the ml5 graph in tfjs ops; no training case, the trainer's loss setup is ours).
   */
  architecture: ArchitectureName;
  log: (line: string) => void;
}

export const E2E_DEFAULTS: E2eOptions = {
  sizes: [256, 512, 1024],
  peers: ['tfjs'],
  minRuns: 3,
  maxRuns: 20,
  budgetMs: 10_000,
  warmup: 1,
  train: true,
  trainSize: 256,
  trainBatch: 4,
  seed: 1,
  widthMultiplier: 1,
  architecture: 'johnson2016',
  log: (line) => console.log(line),
};

/** A lavapipe-friendly subset: stylize 256² only and a 64² batch-1 training step; one warm-up and two timed runs each. */
export const E2E_QUICK: Partial<E2eOptions> = {
  sizes: [256],
  minRuns: 2,
  maxRuns: 2,
  budgetMs: 0,
  train: true,
  trainSize: 64,
  trainBatch: 1,
};

/**
 * Options from command-line flags: --sizes 256,512 · --peers tfjs,torch (or none; default tfjs) · --peer-torch
 * (adds torch) · --runs N (at least N timed runs) · --no-train · --train-size S · --train-batch B · --quick.
 */
export function e2eOptionsFromArgs(args: readonly string[]): Partial<E2eOptions> {
  const value = (name: string): string | undefined => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
    return v;
  };
  const positive = (name: string, v: string): number => {
    const n = Number(v);
    if (!(Number.isInteger(n) && n > 0)) throw new Error(`${name} ${v}: expected a positive integer`);
    return n;
  };
  const o: Partial<E2eOptions> = args.includes('--quick') ? { ...E2E_QUICK } : {};
  const sizes = value('--sizes');
  if (sizes) o.sizes = sizes.split(',').map((v) => positive('--sizes', v));
  const peers = value('--peers');
  if (peers !== undefined) {
    o.peers = [];
    for (const p of peers.split(',').filter((x) => x && x !== 'none')) {
      if (p !== 'tfjs' && p !== 'torch') throw new Error(`--peers: unknown peer ${p} (tfjs, torch, none)`);
      o.peers.push(p);
    }
  }
  if (args.includes('--peer-torch')) o.peers = [...new Set([...(o.peers ?? E2E_DEFAULTS.peers), 'torch' as const])];
  const runs = value('--runs');
  if (runs) {
    o.minRuns = positive('--runs', runs);
    o.maxRuns = Math.max(o.minRuns, o.maxRuns ?? E2E_DEFAULTS.maxRuns);
  }
  if (args.includes('--no-train')) o.train = false;
  const arch = value('--arch');
  if (arch !== undefined) {
    if (arch !== 'johnson2016' && arch !== 'ml5-lengstrom')
      throw new Error(`--arch: unknown architecture ${arch} (johnson2016, ml5-lengstrom)`);
    o.architecture = arch;
    if (arch === 'ml5-lengstrom') o.train = false;
  }
  const ts = value('--train-size');
  if (ts) o.trainSize = positive('--train-size', ts);
  const tb = value('--train-batch');
  if (tb) o.trainBatch = positive('--train-batch', tb);
  return o;
}

export interface E2eResult {
  cases: BenchCase[];
  notes: string[];
}

interface Impl {
  impl: string;
  /** Filled by the first warm-up run where the implementation can count (ours: dispatches and submits). */
  note?: string;
  /** One timed run: forward + readback; returns the output (NCHW) when asked to keep it. */
  run(keep: boolean): Promise<Float32Array | null>;
  dispose(): void;
}

export async function runE2e(engine: Engine, options: Partial<E2eOptions> = {}): Promise<E2eResult> {
  const o: E2eOptions = { ...E2E_DEFAULTS, ...options };
  const cases: BenchCase[] = [];
  const notes: string[] = [
    'e2e stylize: one run = forward from an input already on the GPU until the output is read back to the CPU (data() for every implementation); batch 1, FP32, same seeded weights and input for all.',
    'GFLOP/s counts the convolutions only (2 per multiply-add).',
  ];
  const ml5 = o.architecture === 'ml5-lengstrom';
  if (ml5) {
    notes.push(
      "ml5-lengstrom: lengstrom's fast-style-transfer graph as ml5.js runs it (TF SAME zero padding, no conv biases, IN eps 1e-3, 3×3 stride-2 transposed convs); " +
        'the tfjs peer is that graph in the tfjs ops ml5 uses (conv2d / conv2dTranspose "same"). GFLOP/s counts useful MACs (a transposed conv as H·W·Cin·Cout·9).',
    );
  }
  const net = TransformNet.create(engine, {
    widthMultiplier: o.widthMultiplier,
    seed: o.seed,
    architecture: o.architecture,
  });
  try {
    const weights = await readWeights(net);

    let tf: Tfjs | null = null;
    let tnet: TfjsTransformNet | TfjsMl5Net | null = null;
    if (o.peers.includes('tfjs')) {
      try {
        tf = await loadTfjsWebgpu(nodeNavigatorGpu());
        tnet = ml5 ? new TfjsMl5Net(tf, weights) : new TfjsTransformNet(tf, weights);
        notes.push(
          `tfjs ${tf.version_core} on the webgpu backend (${tfjsAdapterInfo(tf)}), its own device on the same Dawn GPU object; NHWC inside tfjs.`,
        );
      } catch (e) {
        notes.push(`tfjs-webgpu skipped: ${errorText(e)}`);
      }
    }

    let torch: TorchPeer | null = null;
    if (o.peers.includes('torch')) {
      torch = findTorch();
      if (!torch.python) {
        notes.push(`PyTorch skipped: ${torch.why}`);
        torch = null;
      }
    }

    for (const size of o.sizes) {
      const name = ml5 ? `stylize ml5-lengstrom ${size}x${size}` : `stylize ${size}x${size}`;
      const flops = ml5
        ? ml5ForwardFlops(o.widthMultiplier, size)
        : johnsonForwardFlops(o.widthMultiplier, 1, size, size);
      const img = randomImage(o.seed * 7919 + size, 1, size, size);
      o.log(`e2e: ${name} (${(flops / 1e9).toFixed(1)} GFLOP per image)`);
      const impls: Impl[] = [oursImpl(engine, net, img, size)];
      if (tf && tnet) impls.push(tfjsImpl(tf, tnet, img, size));
      try {
        const measured = await measureAlternating(impls, o, name);
        const reference = measured[0].output;
        for (const [k, m] of measured.entries()) {
          const c: BenchCase = {
            suite: 'e2e',
            name,
            impl: m.impl,
            runs: m.times.length,
            medianMs: median(m.times),
            minMs: Math.min(...m.times),
            flops,
            items: 1,
          };
          if (impls[k].note) c.note = impls[k].note;
          if (m.error) {
            c.note = m.error;
            c.runs = 0;
          }
          if (m.impl !== 'ours' && reference && m.output) c.maxAbsDiff = maxAbsDiff(reference, m.output);
          cases.push(c);
        }
        if (torch) cases.push(...runTorchStylize(torch, weights, img, size, o, reference, flops, name));
      } finally {
        for (const i of impls) i.dispose();
      }
    }

    if (o.train) {
      const c = await runOursTrainStep(engine, o);
      cases.push(c);
      if (torch) {
        const t = runTorchTrain(torch, weights, o);
        if (t) cases.push(t);
      }
    }
    tnet?.dispose();
  } finally {
    net.dispose();
  }
  return { cases, notes };
}

/** The net's parameters read back once, by name: what the peers are built from. */
async function readWeights(net: TransformNet): Promise<Map<string, NamedWeights>> {
  const out = new Map<string, NamedWeights>();
  for (const [name, t] of net.parameters()) out.set(name, { shape: [...t.shape], data: await t.data() });
  return out;
}

function oursImpl(engine: Engine, net: TransformNet, img: Float32Array, size: number): Impl {
  const x = engine.keep(Tensor.fromData(engine, [1, 3, size, size], img, 'bench.input'));
  const impl: Impl = {
    impl: 'ours',
    async run(keep) {
      const before = countersNow(engine);
      const y = noGrad(() => net.forward(x));
      try {
        const d = await y.data();
        impl.note ??= countersNote(engine, before);
        return keep ? d : null;
      } finally {
        y.dispose();
      }
    },
    dispose: () => x.dispose(),
  };
  return impl;
}

function countersNow(engine: Engine): { dispatches: number; submits: number } {
  return { dispatches: engine.counters.dispatches, submits: engine.counters.submits };
}

function countersNote(engine: Engine, before: { dispatches: number; submits: number }): string {
  return `${engine.counters.dispatches - before.dispatches} dispatches, ${engine.counters.submits - before.submits} submits per run`;
}

/**
 * Useful multiply-adds ×2 of the ml5 net at size²: as our net, except that each ×2 upsampling layer is a
 * transposed conv of the smaller image (a quarter of a resize-conv's MACs at the output size).
 */
function ml5ForwardFlops(widthMultiplier: number, size: number): number {
  const c1 = Math.max(1, Math.round(32 * widthMultiplier));
  const c2 = Math.max(1, Math.round(64 * widthMultiplier));
  const c3 = Math.max(1, Math.round(128 * widthMultiplier));
  const resizeConvs = 2 * 9 * ((size / 2) ** 2 * c3 * c2 + size ** 2 * c2 * c1);
  return johnsonForwardFlops(widthMultiplier, 1, size, size) - resizeConvs + resizeConvs / 4;
}

function tfjsImpl(tf: Tfjs, tnet: TfjsTransformNet | TfjsMl5Net, img: Float32Array, size: number): Impl {
  const x = tf.tensor4d(nchwToNhwc(img, 1, 3, size, size), [1, size, size, 3]);
  return {
    impl: 'tfjs-webgpu',
    async run(keep) {
      const y = tnet.forward(x);
      try {
        const d = (await y.data()) as Float32Array;
        return keep ? nhwcToNchw(d, 1, 3, size, size) : null;
      } finally {
        y.dispose();
      }
    },
    dispose: () => x.dispose(),
  };
}

interface Measured {
  impl: string;
  times: number[];
  output: Float32Array | null;
  error?: string;
}

/**
 * Warm-up runs (pipeline compilation; the first one's output is kept for the comparison), then timed runs with
 * the implementations taking turns, until every one has minRuns and the budget is spent (or maxRuns).
 */
async function measureAlternating(impls: Impl[], o: E2eOptions, name: string): Promise<Measured[]> {
  const results: Measured[] = impls.map((i) => ({ impl: i.impl, times: [], output: null }));
  const warmMs: number[] = [];
  for (let k = 0; k < impls.length; k++) {
    const t0 = performance.now();
    try {
      for (let w = 0; w < Math.max(1, o.warmup); w++) {
        const out = await impls[k].run(w === 0);
        if (w === 0) results[k].output = out;
      }
    } catch (e) {
      results[k].error = `failed: ${errorText(e)}`;
      o.log(`  ${impls[k].impl}: ${results[k].error}`);
    }
    warmMs.push((performance.now() - t0) / Math.max(1, o.warmup));
  }
  const slowest = Math.max(...warmMs, 1);
  const runs = Math.max(o.minRuns, Math.min(o.maxRuns, Math.ceil(o.budgetMs / slowest)));
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < impls.length; k++) {
      if (results[k].error) continue;
      const t0 = performance.now();
      try {
        await impls[k].run(false);
      } catch (e) {
        results[k].error = `failed: ${errorText(e)}`;
        continue;
      }
      results[k].times.push(performance.now() - t0);
    }
  }
  for (const m of results) {
    if (!m.error) o.log(`  ${name} ${m.impl}: median ${median(m.times).toFixed(1)} ms over ${m.times.length} runs`);
  }
  return results;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return NaN;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

// ------------------------------------------------------------------------------------------ training step

async function runOursTrainStep(engine: Engine, o: E2eOptions): Promise<BenchCase> {
  const name = `train step ${o.trainSize}x${o.trainSize} b${o.trainBatch}`;
  o.log(`e2e: ${name}`);
  const base: BenchCase = { suite: 'e2e', name, impl: 'ours', runs: 0, medianMs: NaN, minMs: NaN, items: o.trainBatch };
  try {
    const step = await makeOursTrainStep(engine, o);
    try {
      const before = countersNow(engine);
      await step.run();
      const counted = countersNote(engine, before);
      for (let w = 1; w < o.warmup; w++) await step.run();
      const times: number[] = [];
      let elapsed = 0;
      while (times.length < o.minRuns || (elapsed < o.budgetMs && times.length < o.maxRuns)) {
        const t0 = performance.now();
        await step.run();
        const ms = performance.now() - t0;
        times.push(ms);
        elapsed += ms;
      }
      o.log(`  ${name} ours: median ${median(times).toFixed(1)} ms over ${times.length} runs`);
      return {
        ...base,
        runs: times.length,
        medianMs: median(times),
        minMs: Math.min(...times),
        note: `${step.note}; ${counted}`,
      };
    } finally {
      step.dispose();
    }
  } catch (e) {
    o.log(`  ${name} ours: ${errorText(e)}`);
    return { ...base, note: `failed: ${errorText(e)}` };
  }
}

/** A timed training step: run() is one Trainer.step and engine.sync(); dispose() frees all but the VGG. */
export interface TrainStep {
  net: TransformNet;
  run(): Promise<void>;
  dispose(): void;
}

/** What makeTrainStep trains: batch × 3 × size² photos, a styleSize² style image, the net's width. */
export interface TrainStepShape {
  size: number;
  batch: number;
  styleSize: number;
  widthMultiplier: number;
  seed: number;
}

/**
 * Trainer.step with `vgg`'s default losses on a seeded random batch and style image. Trainer.step leaves the
 * Adam update to the next submit, so each timed step ends with engine.sync() to include it.
 */
export function makeTrainStep(engine: Engine, vgg: Vgg, o: TrainStepShape): TrainStep {
  const loss = defaultLossConfig(vgg.architecture, vgg.input);
  const [s, ss] = [o.size, o.styleSize];
  const styleImage = engine.keep(
    Tensor.fromData(engine, [1, 3, ss, ss], randomImage(o.seed + 1, 1, ss, ss), 'bench.style'),
  );
  const batch = engine.keep(
    Tensor.fromData(engine, [o.batch, 3, s, s], randomImage(o.seed + 2, o.batch, s, s), 'bench.batch'),
  );
  const trainer = Trainer.create(
    engine,
    {
      size: s,
      batch: o.batch,
      lr: 1e-3,
      widthMultiplier: o.widthMultiplier,
      seed: o.seed,
      loss,
      vgg: { architecture: vgg.architecture, input: vgg.input },
    },
    { vgg, styleImage },
  );
  return {
    net: trainer.net,
    async run() {
      await trainer.step(batch);
      await engine.sync();
    },
    dispose() {
      trainer.dispose();
      batch.dispose();
      styleImage.dispose();
    },
  };
}

/**
 * makeTrainStep (forward, VGG16 losses to relu4_3 with Johnson's layers, backward, Adam) with seeded random
 * VGG weights (the timing does not depend on them), a style image the size of the photos.
 */
async function makeOursTrainStep(engine: Engine, o: E2eOptions): Promise<TrainStep & { note: string }> {
  const loss = defaultLossConfig('vgg16', 'caffe');
  const vgg = Vgg.random(engine, {
    architecture: 'vgg16',
    input: 'caffe',
    layers: [...loss.styleLayers, loss.contentLayer],
    seed: o.seed,
  });
  const s = o.trainSize;
  const step = makeTrainStep(engine, vgg, {
    size: s,
    batch: o.trainBatch,
    styleSize: s,
    widthMultiplier: o.widthMultiplier,
    seed: o.seed,
  });
  const deepest = vgg.layerNames[vgg.layerNames.length - 1];
  return {
    ...step,
    dispose() {
      step.dispose();
      vgg.dispose();
    },
    note: `VGG16 to ${deepest} (random weights), style ${loss.styleLayers.join('+')}, content ${loss.contentLayer}, TV, Adam; step + sync`,
  };
}

// ------------------------------------------------------------------------------------------ PyTorch peer

export interface TorchPeer {
  python: string | null;
  why: string;
  script: string;
}

/** The first python that imports torch: /usr/bin/python3 (Debian's python3-torch), then python3 on PATH. */
export function findTorch(): TorchPeer {
  const script = join('bench', 'peers', 'torch_transform_net.py');
  const tried: string[] = [];
  for (const py of [process.env.BENCH_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => Boolean(p))) {
    try {
      const v = execFileSync(py, ['-c', 'import torch; print(torch.__version__)'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 120_000,
      }).trim();
      return { python: py, why: `torch ${v}`, script };
    } catch {
      tried.push(py);
    }
  }
  return {
    python: null,
    why: `torch does not import in ${tried.join(', ')} (install python3-torch or set BENCH_PYTHON)`,
    script,
  };
}

interface TorchResult {
  device: string;
  device_name: string;
  threads: number;
  torch: string;
  stylize: Record<string, { median_ms: number; min_ms: number; runs: number }>;
  train?: { median_ms: number; min_ms: number; runs: number; size: number; batch: number };
}

export function callTorch(
  peer: TorchPeer,
  weights: Map<string, NamedWeights>,
  args: string[],
  files: Record<string, Uint8Array> = {},
): { result: TorchResult; dir: string } | { error: string } {
  const dir = mkdtempSync(join(tmpdir(), 'bench-torch-'));
  writeFileSync(
    join(dir, 'weights.safetensors'),
    writeSafetensors(new Map([...weights].map(([k, v]) => [k, { shape: [...v.shape], data: v.data }]))),
  );
  for (const [f, bytes] of Object.entries(files)) writeFileSync(join(dir, f), bytes);
  const threads = String(availableParallelism());
  const arch = weights.has('in6.weight') ? ['--arch', 'ml5-lengstrom'] : [];
  const argv = [
    peer.script,
    '--weights',
    join(dir, 'weights.safetensors'),
    '--threads',
    threads,
    ...arch,
    ...args.map((a) => a.replace('$DIR', dir)),
  ];
  const p = spawnSync(peer.python!, argv, {
    encoding: 'utf8',
    maxBuffer: 16 << 20,
    timeout: 3600_000,
  });
  if (p.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return {
      error: `torch peer exited ${p.status}: ${(p.stderr || p.error?.message || '').trim().split('\n').slice(-1)[0]}`,
    };
  }
  const last = p.stdout.trim().split('\n').slice(-1)[0];
  return { result: JSON.parse(last) as TorchResult, dir };
}

function runTorchStylize(
  peer: TorchPeer,
  weights: Map<string, NamedWeights>,
  img: Float32Array,
  size: number,
  o: E2eOptions,
  reference: Float32Array | null,
  flops: number,
  name: string,
): BenchCase[] {
  const runs = Math.max(o.minRuns, Math.min(o.maxRuns, 5));
  const r = callTorch(
    peer,
    weights,
    [
      '--input',
      '$DIR/x.f32',
      '--sizes',
      String(size),
      '--runs',
      String(runs),
      '--warmup',
      String(Math.max(1, o.warmup)),
      '--output',
      '$DIR/y.f32',
    ],
    {
      'x.f32': new Uint8Array(img.buffer, img.byteOffset, img.byteLength),
    },
  );
  if ('error' in r) {
    o.log(`  ${name} torch: ${r.error}`);
    return [{ suite: 'e2e', name, impl: 'torch', runs: 0, medianMs: NaN, minMs: NaN, note: r.error }];
  }
  try {
    const s = r.result.stylize[String(size)];
    const out = new Float32Array(readFileSync(join(r.dir, 'y.f32')).buffer.slice(0));
    const c: BenchCase = {
      suite: 'e2e',
      name,
      impl: `torch-${r.result.device}`,
      runs: s.runs,
      medianMs: s.median_ms,
      minMs: s.min_ms,
      flops,
      items: 1,
      note: `torch ${r.result.torch}, ${r.result.device_name}, ${r.result.threads} threads; separate process, own timing loop`,
    };
    if (reference) c.maxAbsDiff = maxAbsDiff(reference, out);
    o.log(`  ${name} torch: median ${s.median_ms.toFixed(1)} ms`);
    return [c];
  } finally {
    rmSync(r.dir, { recursive: true, force: true });
  }
}

function runTorchTrain(peer: TorchPeer, weights: Map<string, NamedWeights>, o: E2eOptions): BenchCase | null {
  const name = `train step ${o.trainSize}x${o.trainSize} b${o.trainBatch}`;
  const r = callTorch(peer, weights, [
    '--sizes',
    '',
    '--train',
    '--train-size',
    String(o.trainSize),
    '--train-batch',
    String(o.trainBatch),
    '--train-runs',
    String(Math.max(o.minRuns, 3)),
  ]);
  if ('error' in r) {
    o.log(`  ${name} torch: ${r.error}`);
    return { suite: 'e2e', name, impl: 'torch', runs: 0, medianMs: NaN, minMs: NaN, note: r.error };
  }
  rmSync(r.dir, { recursive: true, force: true });
  const t = r.result.train!;
  return {
    suite: 'e2e',
    name,
    impl: `torch-${r.result.device}`,
    runs: t.runs,
    medianMs: t.median_ms,
    minMs: t.min_ms,
    items: t.batch,
    note: `torch ${r.result.torch}, VGG16 to relu4_3 (random weights), Adam; separate process`,
  };
}
