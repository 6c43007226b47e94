// Video case (issue 21): frames per second of the per-frame path the `video` command takes (RGBA bytes in,
// stylised RGBA bytes out, one frame after another), ours vs tfjs-webgpu running the same net on the same
// frames, and the temporal error of the frames (src/models/temporal.ts), so speed and stability are seen
// together. The frames are the panned, noisy clip of the flicker measure: consecutive, slightly different
// inputs, as a video gives.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Engine } from '../src/engine/engine.js';
import { nodeNavigatorGpu } from '../src/engine/node.js';
import { loadTransformNet } from '../src/models/model-file.js';
import { stylizeRgba } from '../src/models/stylize.js';
import type { RgbaImage } from '../src/models/rgba-image.js';
import { pannedClip, temporalError } from '../src/models/temporal.js';
import { TransformNet } from '../src/models/transform-net.js';
import {
  loadTfjsWebgpu,
  TfjsTransformNet,
  tfjsAdapterInfo,
  type NamedWeights,
  type Tfjs,
} from './peers/tfjs-transform-net.js';
import { median, type BenchCase } from './report.js';

export interface VideoBenchOptions {
  sizes: number[];
  /** Frames per size and implementation (the first one, compiling pipelines, is not timed). */
  frames: number;
  /** A model file (e.g. models/starry_night.safetensors); default: a seeded random net of width 1. */
  model?: string;
  peers: boolean;
  log: (line: string) => void;
}

/** A smooth synthetic picture (sines), so that the temporal error means something even without a photo. */
function picture(width: number, height: number): RgbaImage<Uint8Array> {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      for (let c = 0; c < 3; c++)
        data[o + c] = Math.round(127 + 100 * Math.sin(0.05 * x * (1 + c / 3) + 0.07 * y + 2 * c));
      data[o + 3] = 255;
    }
  }
  return { width, height, data };
}

/** tfjs: the same bytes in (RGB as float NHWC), the net, clamped bytes back to the CPU. */
async function tfjsFrame(
  tf: Tfjs,
  tnet: TfjsTransformNet,
  frame: RgbaImage<Uint8Array>,
): Promise<RgbaImage<Uint8Array>> {
  const { width, height } = frame;
  const rgb = new Float32Array(width * height * 3);
  for (let p = 0; p < width * height; p++) for (let c = 0; c < 3; c++) rgb[p * 3 + c] = frame.data[p * 4 + c];
  const y = tf.tidy(() =>
    tf.cast(tf.clipByValue(tf.round(tnet.forward(tf.tensor4d(rgb, [1, height, width, 3]))), 0, 255), 'int32'),
  );
  const bytes = (await y.data()) as Int32Array;
  y.dispose();
  const data = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) data[p * 4 + c] = bytes[p * 3 + c];
    data[p * 4 + 3] = 255;
  }
  return { width, height, data };
}

/** Times each frame after the first; returns the per-frame times (ms) and the frames made. */
async function timeFrames(
  frames: readonly RgbaImage<Uint8Array>[],
  run: (f: RgbaImage<Uint8Array>) => Promise<RgbaImage<Uint8Array>>,
): Promise<{ times: number[]; out: RgbaImage<Uint8Array>[] }> {
  const times: number[] = [];
  const out: RgbaImage<Uint8Array>[] = [];
  for (const [i, f] of frames.entries()) {
    const t0 = performance.now();
    out.push(await run(f));
    if (i > 0) times.push(performance.now() - t0);
  }
  return { times, out };
}

export async function runVideoBench(
  engine: Engine,
  o: VideoBenchOptions,
): Promise<{ cases: BenchCase[]; notes: string[] }> {
  const net = o.model
    ? (await loadTransformNet(engine, new Uint8Array(readFileSync(o.model)), o.model)).net
    : TransformNet.create(engine, { seed: 1 });
  const cases: BenchCase[] = [];
  const notes = [
    `video: ${o.model ?? 'a seeded random net (width 1)'}; one frame = RGBA bytes of the panned clip (1 px/frame, noise σ 2) to stylised bytes on the CPU, frames one after another; the first frame (pipeline compilation) is not timed; frames/s from the median frame time.`,
    "temporal error: mean |S(t+1) − shift(S(t))| over the shared pixels, 0..255 levels (src/models/temporal.ts); the input clip's own error is the noise's share.",
  ];
  let tf: Tfjs | null = null;
  let tnet: TfjsTransformNet | null = null;
  try {
    if (o.peers && net.config.architecture === 'johnson2016') {
      try {
        const weights = new Map<string, NamedWeights>();
        for (const [name, t] of net.parameters()) weights.set(name, { shape: [...t.shape], data: await t.data() });
        tf = await loadTfjsWebgpu(nodeNavigatorGpu());
        tnet = new TfjsTransformNet(tf, weights);
        notes.push(
          `tfjs ${tf.version_core} on the webgpu backend (${tfjsAdapterInfo(tf)}), the same weights; input and output as bytes like ours.`,
        );
      } catch (e) {
        notes.push(`tfjs-webgpu skipped: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    for (const size of o.sizes) {
      if (size % 4 !== 0)
        throw new Error(`--sizes ${size}: the video case needs multiples of 4 (the tfjs net's stride-2 layers)`);
      // Frames of exactly size² (the window travels frames − 1 pixels): the tfjs net, unlike ours, needs sides
      // that are multiples of 4.
      const frames = pannedClip(picture(size + o.frames - 1, size), {
        frames: o.frames,
        pan: [1, 0],
        noise: 2,
        seed: 1,
      });
      const name = `video ${size}x${size}`;
      o.log(`video: ${name}, ${o.frames} frames`);
      const ours = await timeFrames(frames, async (f) => {
        const r = await stylizeRgba(net, f);
        return { width: r.width, height: r.height, data: r.data };
      });
      const error = temporalError(ours.out, [1, 0]).mean;
      const input = temporalError(frames, [1, 0]).mean;
      cases.push({
        suite: 'video',
        name,
        impl: 'ours',
        runs: ours.times.length,
        medianMs: median(ours.times),
        minMs: Math.min(...ours.times),
        items: 1,
        note: `temporal error ${error.toFixed(2)} (input clip ${input.toFixed(2)})`,
      });
      if (tf && tnet) {
        const peer = await timeFrames(frames, (f) => tfjsFrame(tf!, tnet!, f));
        let diff = 0;
        for (const [i, f] of peer.out.entries())
          for (let k = 0; k < f.data.length; k++) diff = Math.max(diff, Math.abs(f.data[k] - ours.out[i].data[k]));
        cases.push({
          suite: 'video',
          name,
          impl: 'tfjs-webgpu',
          runs: peer.times.length,
          medianMs: median(peer.times),
          minMs: Math.min(...peer.times),
          items: 1,
          maxAbsDiff: diff,
          note: `temporal error ${temporalError(peer.out, [1, 0]).mean.toFixed(2)}`,
        });
      }
    }
  } finally {
    tnet?.dispose();
    net.dispose();
  }
  return { cases, notes };
}
