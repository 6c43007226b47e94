// Benchmarks runner: `node dist/bench.js [--size 256] [--reps N] [--quick] [--layers vgg,tn.res] [--batch N]`.
// --quick: a few layers at 64² (software adapters such as lavapipe run at a few GFLOP/s).
// --sgemm: also the sgemm reference (bench/sgemm.ts), the adapter's plain-GEMM GFLOP/s at the conv GEMM shapes.
import { createNodeEngine } from '../src/engine/node.js';
import { benchConv2d, transformNetLayers, vggLayers, type ConvLayer } from './conv2d.js';
import { benchSgemm } from './sgemm.js';

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

const QUICK_LAYERS = ['tn.conv1', 'tn.conv2', 'tn.res', 'tn.up2', 'vgg.conv1_2', 'vgg.conv3_1'];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const size = Number(option(args, '--size') ?? (quick ? 64 : 256));
  const batch = Number(option(args, '--batch') ?? 1);
  const reps = Number(option(args, '--reps') ?? (quick ? 3 : 10));
  const filter = option(args, '--layers')?.split(',') ?? (quick ? QUICK_LAYERS : undefined);
  if (!(size >= 4 && size % 4 === 0)) throw new Error(`--size ${size}: must be a multiple of 4`);

  const engine = await createNodeEngine();
  try {
    let layers: ConvLayer[] = [...transformNetLayers(size, batch), ...vggLayers(size, batch)];
    if (filter) layers = layers.filter((l) => filter.some((f) => l.name.startsWith(f) || l.name.includes(f)));
    console.log(`size ${size}², batch ${batch}${quick ? ' (quick)' : ''}`);
    await benchConv2d(engine, layers, { reps, dispatchesPerRep: quick ? 1 : 3 });
    if (args.includes('--sgemm')) await benchSgemm(engine, { reps: Math.min(reps, 5) });
  } finally {
    engine.destroy();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
