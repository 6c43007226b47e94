// Benchmarks runner (`npm run bench -- [flags]`, i.e. node dist/bench.js [flags]): the conv2d cases and the
// end-to-end cases; one table on stdout, JSON under bench/results/, a section appended to bench/RESULTS.md.
//
// Suites: --conv2d and/or --e2e (default: both); --sgemm adds the sgemm reference. --quick: a lavapipe-friendly
// subset that ends in minutes. --no-record: print only (no JSON, no RESULTS.md).
// conv2d: [--size 256] [--reps N] [--layers vgg,tn.res] [--batch N]; --quick: a few layers at 64² (software
//   adapters such as lavapipe run at a few GFLOP/s).
// sgemm: the adapter's plain-GEMM GFLOP/s at the conv GEMM shapes (bench/sgemm.ts).
// e2e: [--sizes 256,512,1024] [--peers tfjs,torch|none] [--peer-torch] [--runs N] [--no-train]
//   [--train-size 256] [--train-batch 4] [--arch ml5-lengstrom: the ml5.js net vs the ml5 graph in tfjs];
//   --quick: stylize 256² vs tfjs-webgpu and a 64² batch-1 training step.
// image-io: --image-io [--width 4032 --height 3024] [--runs 3] [--size 256 --batch 4 --batches 8]: decode and
//   encode of a 12 MP photo and the training crops, the code before libvips vs sharp (bench/image-io.ts; CPU only).
import { createNodeEngine } from '../src/engine/node.js';
import { benchConv2d, transformNetLayers, vggLayers, type ConvLayer } from './conv2d.js';
import { benchConv2dTranspose } from './conv2d-transpose.js';
import { e2eOptionsFromArgs, runE2e } from './e2e.js';
import {
  adapterInfo,
  convRowsToCases,
  hostAtStart,
  makeReport,
  publish,
  sgemmRowsToCases,
  type BenchCase,
} from './report.js';
import { benchSgemm } from './sgemm.js';
import { benchStylizeVariants, benchTrainStep, profileTrainStep, type TrainBenchOptions } from './train.js';
import { runVideoBench } from './video.js';
import { runImageIoBench } from './image-io.js';

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

const QUICK_LAYERS = ['tn.conv1', 'tn.conv2', 'tn.res', 'tn.up2', 'vgg.conv1_2', 'vgg.conv3_1'];

const FLAGS = [
  '--image-io',
  '--video',
  '--train-step',
  '--profile-train',
  '--stylize-variants',
  '--no-torch',
  '--quick',
  '--conv2d',
  '--e2e',
  '--sgemm',
  '--conv2d-transpose',
  '--no-record',
  '--no-train',
  '--peer-torch',
  '--help',
  '-h',
];
const OPTIONS = [
  '--frames',
  '--model',
  '--vgg',
  '--variants',
  '--size',
  '--batch',
  '--reps',
  '--layers',
  '--sizes',
  '--peers',
  '--runs',
  '--train-size',
  '--train-batch',
  '--arch',
  '--width',
  '--height',
  '--batches',
];
const USAGE = `usage: npm run bench -- [--conv2d] [--e2e] [--sgemm] [--conv2d-transpose] [--quick] [--no-record]
  conv2d-transpose: the two conv2dTranspose implementations on the ml5 net's upsampling layers at --size (printed only)
  conv2d: [--size 256] [--reps N] [--layers vgg,tn.res] [--batch N]
  e2e:    [--sizes 256,512,1024] [--peers tfjs,torch|none] [--peer-torch] [--runs N] [--no-train]
          [--train-size 256] [--train-batch 4] [--arch johnson2016|ml5-lengstrom]
  train:  --train-step | --profile-train  [--train-size 128] [--train-batch 4] [--runs N] [--vgg FILE]
          [--variants a,b] [--no-torch]   (the 128² batch-4 step with the shared VGG19, PyTorch side by side;
          --profile-train prints per-kernel GPU time of one step and records nothing)
          --stylize-variants [--size 256] [--runs N] --variants a,b: the stylize forward under the variants
  video:  --video [--sizes 256,512] [--frames 8] [--model FILE] [--peers tfjs|none]: frames/s of the video
          command's per-frame path, ours vs tfjs-webgpu on the same net, and the frames' temporal error
  image-io: --image-io [--width 4032] [--height 3024] [--runs 3] [--size 256] [--batch 4] [--batches 8]: decode and
          encode of a 12 MP photo and the training crops, before (jpeg-js, pngjs, hand resize) vs after (sharp)
Default: conv2d and e2e at full size (slow on a software adapter: use --quick there).`;

/** Unknown flags are errors: a typo must not silently run another benchmark. */
function checkArgs(args: string[]): void {
  for (let i = 0; i < args.length; i++) {
    if (OPTIONS.includes(args[i])) {
      if (args[i + 1] === undefined) throw new UsageError(`${args[i]} needs a value`);
      i++;
    } else if (!FLAGS.includes(args[i])) {
      throw new UsageError(`unknown option ${args[i]}`);
    }
  }
}

class UsageError extends Error {}

function positiveFrames(v: string): number {
  const n = Number(v);
  if (!(Number.isInteger(n) && n >= 2)) throw new UsageError(`--frames ${v}: expected a whole number ≥ 2`);
  return n;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return;
  }
  checkArgs(args);
  const quick = args.includes('--quick');
  const only = { conv2d: args.includes('--conv2d'), e2e: args.includes('--e2e') };
  const run = only.conv2d || only.e2e ? only : { conv2d: true, e2e: true };
  const size = Number(option(args, '--size') ?? (quick ? 64 : 256));
  const batch = Number(option(args, '--batch') ?? 1);
  const reps = Number(option(args, '--reps') ?? (quick ? 3 : 10));
  const filter = option(args, '--layers')?.split(',') ?? (quick ? QUICK_LAYERS : undefined);
  if (!(size >= 4 && size % 4 === 0)) throw new Error(`--size ${size}: must be a multiple of 4`);
  const e2eOptions = e2eOptionsFromArgs(args);

  const host = hostAtStart();
  if (args.includes('--image-io')) {
    const num = (name: string, fallback: number) => Number(option(args, name) ?? fallback);
    const r = await runImageIoBench({
      width: num('--width', 4032),
      height: num('--height', 3024),
      runs: num('--runs', 3),
      size: num('--size', 256),
      batch: num('--batch', 4),
      batches: num('--batches', 8),
      log: (line) => console.log(line),
    });
    // No GPU is involved: the report's adapter line says so.
    publish(
      makeReport(
        { name: 'none (CPU: image decoding and encoding)', backend: 'cpu' },
        r.cases,
        r.notes,
        undefined,
        host,
      ),
      { dryRun: args.includes('--no-record') },
    );
    return;
  }
  if (args.includes('--train-step') || args.includes('--profile-train') || args.includes('--stylize-variants')) {
    await trainMain(args, host);
    return;
  }
  const engine = await createNodeEngine();
  if (args.includes('--video')) {
    try {
      const r = await runVideoBench(engine, {
        sizes: e2eOptions.sizes ?? [256, 512],
        frames: positiveFrames(option(args, '--frames') ?? '8'),
        model: option(args, '--model'),
        peers: (e2eOptions.peers ?? ['tfjs']).includes('tfjs'),
        log: (line) => console.log(line),
      });
      publish(makeReport(adapterInfo(engine.adapter), r.cases, r.notes, undefined, host), {
        dryRun: args.includes('--no-record'),
      });
    } finally {
      engine.destroy();
    }
    return;
  }
  if (args.includes('--conv2d-transpose')) {
    try {
      await benchConv2dTranspose(engine, size, reps);
    } finally {
      engine.destroy();
    }
    return;
  }
  const cases: BenchCase[] = [];
  const notes: string[] = [];
  try {
    if (engine.adapter.isFallbackAdapter && !quick && run.e2e) {
      console.warn(
        `warning: ${engine.describe()} is a software adapter: the full e2e suite takes hours here; --quick ends in minutes`,
      );
    }
    if (run.conv2d) {
      let layers: ConvLayer[] = [...transformNetLayers(size, batch), ...vggLayers(size, batch)];
      if (filter) layers = layers.filter((l) => filter.some((f) => l.name.startsWith(f) || l.name.includes(f)));
      console.log(`size ${size}², batch ${batch}${quick ? ' (quick)' : ''}`);
      const dispatchesPerRep = quick ? 1 : 3;
      const rows = await benchConv2d(engine, layers, { reps, dispatchesPerRep });
      cases.push(...convRowsToCases(rows, reps));
      notes.push(
        `conv2d: ${size}², batch ${batch}; ${reps} timed reps of ${dispatchesPerRep} calls in one submit, time per call; GFLOP/s = 2·MACs / median.`,
      );
      if (args.includes('--sgemm')) {
        const sgemmReps = Math.min(reps, 5);
        cases.push(...sgemmRowsToCases(await benchSgemm(engine, { reps: sgemmReps }), sgemmReps));
        notes.push(
          'sgemm: plain tiled WGSL GEMM at the conv GEMM shapes, the reference for conv GFLOP/s (no minimum recorded).',
        );
      }
    }
    if (run.e2e) {
      const r = await runE2e(engine, e2eOptions);
      cases.push(...r.cases);
      notes.push(...r.notes);
    }
    publish(makeReport(adapterInfo(engine.adapter), cases, notes, undefined, host), {
      dryRun: args.includes('--no-record'),
    });
  } finally {
    engine.destroy();
  }
}

/** --train-step / --profile-train: bench/train.ts. */
async function trainMain(args: string[], host: ReturnType<typeof hostAtStart>): Promise<void> {
  const o: Partial<TrainBenchOptions> = {};
  const num = (name: string) => {
    const v = option(args, name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!(Number.isInteger(n) && n > 0)) throw new UsageError(`${name} ${v}: expected a positive integer`);
    return n;
  };
  o.size = num('--train-size') ?? 128;
  o.batch = num('--train-batch') ?? 4;
  o.minRuns = num('--runs') ?? 3;
  const vgg = option(args, '--vgg');
  if (vgg) o.vggFile = vgg;
  o.variants = option(args, '--variants')?.split(',').filter(Boolean) ?? [];
  o.torch = !args.includes('--no-torch');
  const engine = await createNodeEngine();
  try {
    if (args.includes('--profile-train')) {
      console.log(`${engine.describe()}; load avg ${host.loadStart.toFixed(1)}`);
      await profileTrainStep(engine, o);
      return;
    }
    if (args.includes('--stylize-variants')) {
      const size = num('--size') ?? 256;
      const cases = await benchStylizeVariants(engine, {
        size,
        runs: o.minRuns ?? 3,
        variants: o.variants ?? [],
        log: (l) => console.log(l),
      });
      const note = `stylize: TransformNet forward, batch 1, ${size}², input on the GPU, output read back; variants alternate run by run.`;
      publish(makeReport(adapterInfo(engine.adapter), cases, [note], undefined, host), {
        dryRun: args.includes('--no-record'),
      });
      return;
    }
    const r = await benchTrainStep(engine, o);
    publish(makeReport(adapterInfo(engine.adapter), r.cases, r.notes, undefined, host), {
      dryRun: args.includes('--no-record'),
    });
  } finally {
    engine.destroy();
  }
}

// Exit explicitly: the tfjs peer's own device keeps Node's event loop alive.
main().then(
  () => process.exit(0),
  (e) => {
    if (e instanceof UsageError) {
      console.error(`error: ${e.message}\n${USAGE}`);
      process.exit(2);
    }
    console.error(e);
    process.exit(1);
  },
);
