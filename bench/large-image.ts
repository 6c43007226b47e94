// Large-image stylisation (`npm run bench:large -- [options]`, i.e. node dist/bench-large.js): one photo of
// --width × --height (default 4032×3024, a 12 MP phone photo) through the exact banded mode and the
// approximate tiled mode, with wall time, peak GPU buffer memory, and how far the tiled result is from the
// exact one. Writes the usual JSON + RESULTS.md section (bench/report.ts).
//
//   --width N --height N   image size (default 4032 3024)
//   --modes banded,tiled   which modes to run (default both)
//   --memory MB            the banded mode's GPU budget (default: the adapter's binding limit)
//   --model FILE           a model file (default: a width-1 net with seeded random weights)
//   --photo FILE           the photo to upscale (default: ../shared/assets/photos/kodak24/kodim23.png, else noise)
//   --no-record            print only
import { existsSync, readFileSync } from 'node:fs';
import { createNodeEngine } from '../src/engine/node.js';
import { decodeImage, resizeRgba } from '../src/node/image-io.js';
import { loadTransformNet } from '../src/models/model-file.js';
import type { RgbaImage } from '../src/models/rgba-image.js';
import { defaultTileEdge, peakFloatsPerPixel, stylizeRgba, type StylizeMode } from '../src/models/stylize.js';
import { TransformNet } from '../src/models/transform-net.js';
import { adapterInfo, hostAtStart, makeReport, publish, type BenchCase } from './report.js';

const DEFAULT_PHOTO = '../shared/assets/photos/kodak24/kodim23.png';
const USAGE =
  'usage: npm run bench:large -- [--width 4032] [--height 3024] [--modes banded,tiled] [--memory MB] [--model FILE] [--photo FILE] [--no-record]';

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function photo(path: string | undefined, width: number, height: number): Promise<RgbaImage> {
  const file = path ?? (existsSync(DEFAULT_PHOTO) ? DEFAULT_PHOTO : undefined);
  if (!file) {
    console.warn(`note: ${DEFAULT_PHOTO} not found: using smooth noise`);
    const data = new Uint8Array(width * height * 4);
    let s = 1;
    for (let i = 0; i < data.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      data[i] = i % 4 === 3 ? 255 : ((s >>> 16) & 0xff) / 2 + (i >= 4 ? data[i - 4] / 2 : 0);
    }
    return { width, height, data };
  }
  const img = await decodeImage(new Uint8Array(readFileSync(file)), file);
  return await resizeRgba(img, width, height);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return;
  }
  const width = Number(option(args, '--width') ?? 4032);
  const height = Number(option(args, '--height') ?? 3024);
  const modes = (option(args, '--modes') ?? 'banded,tiled').split(',') as StylizeMode[];
  for (const m of modes)
    if (m !== 'banded' && m !== 'tiled') throw new Error(`--modes: unknown mode ${m} (banded, tiled)`);
  const memoryMb = option(args, '--memory');
  const img = await photo(option(args, '--photo'), width, height);

  const host = hostAtStart();
  const engine = await createNodeEngine();
  try {
    const modelPath = option(args, '--model');
    const net = modelPath
      ? (await loadTransformNet(engine, new Uint8Array(readFileSync(modelPath)), modelPath)).net
      : TransformNet.create(engine, { seed: 1 });
    const cases: BenchCase[] = [];
    const notes: string[] = [];
    const outputs = new Map<StylizeMode, Uint8Array>();
    for (const mode of modes) {
      engine.pool.resetPeak();
      const base = engine.poolStats().liveBytes;
      const started = performance.now();
      let ran: StylizeMode | null = null;
      const out = await stylizeRgba(net, img, {
        memoryBytes: mode === 'banded' && memoryMb ? Number(memoryMb) * 2 ** 20 : undefined,
        // The tiled mode as it ran before banding: tiles sized from the adapter's limits.
        tile: mode === 'tiled' ? defaultTileEdge(engine, peakFloatsPerPixel(net)) : undefined,
        onMode: (m) => (ran = m),
        onProgress: (done, total) => process.stderr.write(`\r${mode}: ${done}/${total}\x1b[K`),
      });
      const ms = performance.now() - started;
      process.stderr.write('\n');
      const peak = engine.poolStats().peakLiveBytes - base;
      outputs.set(mode, out.data);
      cases.push({
        suite: 'large',
        name: `stylize ${width}×${height}`,
        impl: `${ran ?? mode}`,
        runs: 1,
        medianMs: ms,
        minMs: ms,
        items: 1,
        note: `peak GPU buffers ${(peak / 2 ** 20).toFixed(1)} MiB`,
      });
      console.log(`${mode}: ${(ms / 1000).toFixed(1)} s, peak GPU buffers ${(peak / 2 ** 20).toFixed(1)} MiB`);
    }
    const exact = outputs.get('banded');
    const tiled = outputs.get('tiled');
    if (exact && tiled) {
      let over = 0;
      let max = 0;
      let n = 0;
      for (let i = 0; i < exact.length; i++) {
        if (i % 4 === 3) continue;
        const d = Math.abs(exact[i] - tiled[i]);
        max = Math.max(max, d);
        if (d > 1) over++;
        n++;
      }
      const line = `tiled vs exact (banded): max ${max} grey levels, ${((100 * over) / n).toFixed(1)} % of colour bytes off by more than 1`;
      console.log(line);
      notes.push(line);
    }
    notes.push(
      `large: one run per mode, ${modelPath ? `model ${modelPath}` : 'width-1 net with seeded random weights'}; photo ${option(args, '--photo') ?? DEFAULT_PHOTO} resized to ${width}×${height}; peak = largest GPU buffer-pool bytes live during the run.`,
    );
    const report = makeReport(
      adapterInfo(engine.adapter),
      cases,
      notes,
      `npm run bench:large -- ${args.join(' ')}`.trim(),
      host,
    );
    if (!args.includes('--no-record')) publish(report);
    net.dispose();
  } finally {
    engine.destroy();
  }
}

main().catch((e) => {
  console.error(`bench:large: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
