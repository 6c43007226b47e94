import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/engine/engine.js';
import { Tensor } from '../src/engine/tensor.js';
import { rng } from '../src/ops/cpu.js';
import { defaultLossConfig } from '../src/models/losses.js';
import { loadTransformNet } from '../src/models/model-file.js';
import { readSafetensors, writeSafetensors } from '../src/models/safetensors.js';
import { SampleOrder } from '../src/models/sample-order.js';
import {
  decodeCheckpoint,
  decodeHistory,
  encodeCheckpoint,
  historyTotals,
  type TrainConfig,
} from '../src/models/checkpoint.js';
import { NonFiniteLossError, Trainer } from '../src/models/trainer.js';
import { Vgg } from '../src/models/vgg.js';
import { testEngine } from './helpers/gpu.js';
import { sessionsFromLog } from '../src/cli/train-run-record.js';
import { buildCliIfStale, CLI, ROOT, runCli } from './helpers/cli.js';

const SHARED_VGG19 = join(ROOT, '../shared/assets/vgg/vgg19_conv1_1-conv3_4.safetensors');
const haveShared = existsSync(SHARED_VGG19);
if (!haveShared) console.warn(`train.test: ${SHARED_VGG19} not found: training runs with random VGG weights`);

/** Smooth synthetic "photos" (colour gradients and blobs) as [3, S, S] planes, 0..255. */
function syntheticImages(count: number, size: number, seed: number): Float32Array[] {
  const r = rng(seed);
  return Array.from({ length: count }, () => {
    const a = Array.from({ length: 9 }, () => r());
    const img = new Float32Array(3 * size * size);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const u = x / size;
          const v = y / size;
          const val =
            0.5 + 0.3 * Math.sin(6 * (a[c] * u + a[c + 3] * v) + 6 * a[c + 6]) + 0.2 * Math.cos(9 * u * v * a[c]);
          img[(c * size + y) * size + x] = Math.round(255 * Math.min(1, Math.max(0, val)));
        }
      }
    }
    return img;
  });
}

/** Diagonal stripes: a style with a clear texture. */
function stripes(size: number): Float32Array {
  const img = new Float32Array(3 * size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const on = Math.floor((x + y) / 3) % 2 === 0;
      img[y * size + x] = on ? 240 : 20;
      img[size * size + y * size + x] = on ? 180 : 60;
      img[2 * size * size + y * size + x] = on ? 30 : 200;
    }
  }
  return img;
}

/** The batch for a step: images chosen (and flipped) by the trainer's data order, so it is resumable. */
function batchFor(e: Engine, trainer: Trainer, images: Float32Array[], size: number): Tensor {
  const order = new SampleOrder(trainer.config.seed, images.length);
  const b = trainer.config.batch;
  const data = new Float32Array(b * 3 * size * size);
  for (let i = 0; i < b; i++) {
    const pick = order.at(trainer.samplesSeen + i);
    const src = images[pick.file];
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          data[((i * 3 + c) * size + y) * size + x] = src[(c * size + y) * size + (pick.flip ? size - 1 - x : x)];
        }
      }
    }
  }
  return Tensor.fromData(e, [b, 3, size, size], data);
}

async function weightsOf(trainer: Trainer): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of trainer.net.parameters()) out.set(name, await t.data());
  return out;
}

describe('Trainer', () => {
  // ~1.5 s a step on lavapipe at 24² when the machine is busy; the first step compiles every kernel.
  it(`lowers the total loss over 30 steps (24², batch 2, width 0.25, ${haveShared ? 'shared VGG19 file' : 'RANDOM VGG19 weights (shared file absent)'})`, async () => {
    const e = await testEngine();
    const size = 24;
    const layers = ['relu1_2', 'relu2_2', 'relu3_4'];
    const vgg = haveShared
      ? Vgg.fromSafetensors(e, new Uint8Array(readFileSync(SHARED_VGG19)), { layers, source: SHARED_VGG19 })
      : Vgg.random(e, { architecture: 'vgg19', input: 'caffe', layers, seed: 1 });
    const style = e.keep(Tensor.fromData(e, [1, 3, size, size], stripes(size)));
    const config: TrainConfig = {
      size,
      batch: 2,
      lr: 1e-3,
      widthMultiplier: 0.25,
      seed: 7,
      loss: defaultLossConfig('vgg19', 'caffe'),
      vgg: { architecture: 'vgg19', input: 'caffe' },
    };
    const trainer = Trainer.create(e, config, { vgg, styleImage: style });
    const images = syntheticImages(3, size, 11);
    const totals: number[] = [];
    try {
      let created = 0;
      for (let s = 0; s < 30; s++) {
        const l = await e.scopeAsync(async () => trainer.step(batchFor(e, trainer, images, size)));
        totals.push(l.total);
        // After warm-up a step allocates no new GPU buffers.
        if (s === 2) created = e.poolStats().created;
      }
      expect(e.poolStats().created).toBe(created);
      const first = (totals[0] + totals[1] + totals[2]) / 3;
      const last = (totals[27] + totals[28] + totals[29]) / 3;
      console.log(`train.test: total loss ${first.toExponential(3)} → ${last.toExponential(3)} over 30 steps`);
      expect(last).toBeLessThan(0.7 * first);
      expect(trainer.stepCount).toBe(30);
      expect(trainer.samplesSeen).toBe(60);
    } finally {
      trainer.dispose();
      style.dispose();
      vgg.dispose();
    }
  }, 300_000);

  it('resumes exactly: 3 steps + checkpoint + resume + 2 steps equals 5 steps straight (bit for bit)', async () => {
    const e = await testEngine();
    const size = 16;
    const layers = ['relu1_2', 'relu2_2'];
    const vgg = Vgg.random(e, { architecture: 'vgg16', input: 'torchvision', layers, seed: 2 });
    const style = e.keep(Tensor.fromData(e, [1, 3, size, size], stripes(size)));
    const config: TrainConfig = {
      size,
      batch: 2,
      lr: 1e-2,
      widthMultiplier: 0.125,
      seed: 3,
      loss: { contentLayer: 'relu2_2', styleLayers: layers, contentWeight: 1e5, styleWeight: 1e10, tvWeight: 1 },
      vgg: { architecture: 'vgg16', input: 'torchvision' },
      styleName: 'stripes',
    };
    const images = syntheticImages(3, size, 12);
    const run = async (t: Trainer, steps: number) => {
      const losses = [];
      for (let s = 0; s < steps; s++) losses.push(await e.scopeAsync(async () => t.step(batchFor(e, t, images, size))));
      return losses;
    };
    try {
      const straight = Trainer.create(e, config, { vgg, styleImage: style });
      const straightLosses = await run(straight, 5);
      const expected = await weightsOf(straight);
      const expectedM = await straight.adam.state().m[4].data();
      straight.dispose();

      const first = Trainer.create(e, config, { vgg, styleImage: style });
      await run(first, 3);
      const session = { firstStep: 1, lastStep: 3, seconds: 1.5, command: 'node dist/cli.js train …', adapter: 'test' };
      first.history.push(session);
      const bytes = encodeCheckpoint(await first.trainingState());
      first.dispose();
      const meta = readSafetensors(bytes).metadata;
      expect(meta.format).toBe('fast-style-webgpu/checkpoint');
      expect(JSON.parse(meta.data)).toEqual({ seed: 3, samplesSeen: 6 });
      expect(readSafetensors(bytes).tensors.has('adam.m.res1.conv1.conv2d.weight')).toBe(true);
      // The typed state holds everything the file does: encoding the decoded state gives the same bytes.
      expect(Buffer.from(encodeCheckpoint(decodeCheckpoint(bytes))).equals(Buffer.from(bytes))).toBe(true);
      // As commit bdd17f9 wrote it: no convBias/outputNorm in the architecture (nor init or input hashes in
      // the config, as here); it decodes to the same state.
      const file = readSafetensors(bytes);
      const architecture = JSON.parse(file.metadata.architecture);
      delete architecture.convBias;
      delete architecture.outputNorm;
      const older = writeSafetensors(file.tensors, { ...file.metadata, architecture: JSON.stringify(architecture) });
      expect(decodeCheckpoint(older)).toEqual(decodeCheckpoint(bytes));

      const resumed = Trainer.resume(
        e,
        decodeCheckpoint(bytes, 'run.ckpt.safetensors'),
        { vgg, styleImage: style },
        'run.ckpt.safetensors',
      );
      expect(resumed.stepCount).toBe(3);
      expect(resumed.samplesSeen).toBe(6);
      expect(resumed.history).toEqual([session]);
      const resumedLosses = await run(resumed, 2);
      expect(resumedLosses).toEqual(straightLosses.slice(3));
      const got = await weightsOf(resumed);
      for (const [name, w] of expected) expect(got.get(name), name).toEqual(w);
      expect(await resumed.adam.state().m[4].data()).toEqual(expectedM);
      // A checkpoint is also a loadable model (its optimiser state is ignored).
      const { net, metadata } = await loadTransformNet(e, encodeCheckpoint(await resumed.trainingState()), 'ckpt');
      expect(metadata.step).toBe(5);
      net.dispose();
      // The model carries the sessions too.
      expect(decodeHistory(readSafetensors(await resumed.saveModel()).metadata.history, 'model')).toEqual([session]);
      resumed.dispose();
    } finally {
      style.dispose();
      vgg.dispose();
    }
  });

  it('a non-finite loss throws NonFiniteLossError and leaves the weights and step untouched', async () => {
    const e = await testEngine();
    const vgg = Vgg.random(e, { architecture: 'vgg19', input: 'caffe', layers: ['relu2_2'], seed: 2 });
    const style = e.keep(Tensor.fromData(e, [1, 3, 8, 8], stripes(8)));
    const trainer = Trainer.create(
      e,
      // A content weight of 1e38 overflows float32 in the weighted total (content is ~10..100 here).
      {
        size: 8,
        batch: 1,
        lr: 1e-3,
        widthMultiplier: 0.125,
        seed: 1,
        loss: { contentLayer: 'relu2_2', styleLayers: ['relu1_2'], contentWeight: 1e38, styleWeight: 1, tvWeight: 1 },
        vgg: { architecture: 'vgg19', input: 'caffe' },
      },
      { vgg, styleImage: style },
    );
    try {
      const before = await weightsOf(trainer);
      const photo = Float32Array.from(syntheticImages(1, 8, 3)[0]);
      await expect(e.scopeAsync(async () => trainer.step(Tensor.fromData(e, [1, 3, 8, 8], photo)))).rejects.toThrow(
        NonFiniteLossError,
      );
      await expect(e.scopeAsync(async () => trainer.step(Tensor.fromData(e, [1, 3, 8, 8], photo)))).rejects.toThrow(
        /loss became infinite at step 1/,
      );
      expect(trainer.stepCount).toBe(0);
      expect(trainer.samplesSeen).toBe(0);
      expect(await weightsOf(trainer)).toEqual(before);
    } finally {
      trainer.dispose();
      style.dispose();
      vgg.dispose();
    }
  });
});

// ------------------------------------------------------------------ the CLI, end to end

describe('train CLI (dist/cli.js in a child process)', () => {
  beforeAll(buildCliIfStale, 300_000);

  /** A work folder: 3 photos (one nested, odd sizes), an unreadable file, a style, a sample, a small VGG. */
  async function fixture(): Promise<{ dir: string; args: (out: string, ...more: string[]) => string[] }> {
    const { encodeImage } = await import('../src/node/image-io.js');
    const dir = mkdtempSync(join(tmpdir(), 'fsw-train-'));
    mkdirSync(join(dir, 'photos/nested'), { recursive: true });
    const png = async (w: number, h: number, seed: number) => {
      const r = rng(seed);
      const data = new Uint8Array(w * h * 4);
      const a = [r(), r(), r()];
      for (let i = 0; i < w * h; i++) {
        const x = i % w;
        const y = Math.floor(i / w);
        for (let c = 0; c < 3; c++)
          data[i * 4 + c] = Math.round(127 + 120 * Math.sin((x * a[c] + y * (1 - a[c])) / 5 + c));
        data[i * 4 + 3] = 255;
      }
      return await encodeImage({ width: w, height: h, data }, 'png');
    };
    writeFileSync(join(dir, 'photos/a.png'), await png(40, 36, 1));
    writeFileSync(join(dir, 'photos/b.png'), await png(33, 50, 2));
    writeFileSync(join(dir, 'photos/nested/c.png'), await png(48, 48, 3));
    writeFileSync(join(dir, 'photos/broken.jpg'), 'not a jpeg');
    writeFileSync(join(dir, 'style.png'), await png(48, 40, 4));
    writeFileSync(join(dir, 'sample.png'), await png(20, 15, 5));
    // A VGG cut after conv2_2 (vgg16 and vgg19 agree up to there), random weights, caffe input declared in its metadata.
    const { writeSafetensors } = await import('../src/models/safetensors.js');
    const { vggLayers } = await import('../src/models/vgg.js');
    const weights = new Map<string, { shape: number[]; data: Float32Array }>();
    const r = rng(9);
    for (const l of vggLayers('vgg19').filter((v) => v.kind === 'conv' && v.index <= 7)) {
      const n = l.outChannels * l.inChannels * 9;
      weights.set(`features.${l.index}.weight`, {
        shape: [l.outChannels, l.inChannels, 3, 3],
        data: Float32Array.from({ length: n }, () => (2 * r() - 1) * Math.sqrt(6 / (l.inChannels * 9))),
      });
      weights.set(`features.${l.index}.bias`, { shape: [l.outChannels], data: new Float32Array(l.outChannels) });
    }
    writeFileSync(join(dir, 'vgg.safetensors'), writeSafetensors(weights, { vgg_input: 'caffe' }));
    const args = (out: string, ...more: string[]) => [
      CLI,
      'train',
      '--style',
      join(dir, 'style.png'),
      '--data',
      join(dir, 'photos'),
      '--vgg',
      join(dir, 'vgg.safetensors'),
      '--out',
      join(dir, out),
      '--size',
      '32',
      '--batch',
      '2',
      '--width',
      '0.25',
      '--style-size',
      '32',
      '--style-layers',
      'relu1_2,relu2_2',
      '--content-layer',
      'relu2_2',
      '--workers',
      '1',
      ...more,
    ];
    return { dir, args };
  }

  const run = (args: string[]) => {
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 240_000 });
    if (process.env.DEBUG_TRAIN_CLI) console.log(args.slice(1).join(' '), r.status, r.stdout, r.stderr);
    return r;
  };

  it('trains 4 steps with a checkpoint, resumes for 2 more, and matches 6 steps straight', async () => {
    const { dir, args } = await fixture();
    try {
      const first = run(
        args('m.safetensors', '--iters', '4', '--checkpoint-every', '2', '--sample', join(dir, 'sample.png')),
      );
      expect(first.status, first.stderr).toBe(0);
      expect(first.stderr.match(/skipping cannot read .*broken\.jpg/g)?.length).toBe(1);
      expect(first.stderr).toMatch(/step 1\/4 .* it\/s .*ETA .*content .*style .*tv /);
      expect(first.stderr).toMatch(/checkpoint at step 2/);
      for (const f of ['m.safetensors', 'm.ckpt.safetensors', 'm.log.jsonl', 'm.loss.svg', 'm.sample.png'])
        expect(existsSync(join(dir, f)), f).toBe(true);
      expect(readFileSync(join(dir, 'm.loss.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
      expect(
        readFileSync(join(dir, 'm.log.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).step),
      ).toEqual([1, 2, 3, 4]);
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

      const again = run(args('m.safetensors', '--iters', '6'));
      expect(again.status).toBe(1);
      expect(again.stderr).toMatch(/m\.ckpt\.safetensors exists: pass --resume/);
      const conflict = run(args('m.safetensors', '--iters', '6', '--resume', '--lr', '0.5'));
      expect(conflict.status).toBe(2);
      expect(conflict.stderr).toMatch(/--lr 0\.5 differs from the checkpoint's 0\.0005/);
      const otherCrop = run(args('m.safetensors', '--iters', '6', '--resume', '--crop-scale', 'shorter-side'));
      expect(otherCrop.status).toBe(2);
      expect(otherCrop.stderr).toMatch(/--crop-scale "shorter-side" differs from the checkpoint's "random"/);

      const resumed = run(args('m.safetensors', '--iters', '6', '--resume'));
      expect(resumed.status, resumed.stderr).toBe(0);
      expect(resumed.stderr).toMatch(/steps 5\.\.6/);
      expect(
        readFileSync(join(dir, 'm.log.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).step),
      ).toEqual([1, 2, 3, 4, 5, 6]);

      const straight = run(args('s.safetensors', '--iters', '6', '--checkpoint-every', '100'));
      expect(straight.status, straight.stderr).toBe(0);
      const a = readSafetensors(readFileSync(join(dir, 'm.safetensors')));
      const b = readSafetensors(readFileSync(join(dir, 's.safetensors')));
      expect(a.metadata.step).toBe('6');
      expect(JSON.parse(a.metadata.training)).toMatchObject({ cropScale: 'random' });
      expect(JSON.parse(a.metadata.training).warmupSteps).toBeUndefined();
      expect([...a.tensors.keys()]).toEqual([...b.tensors.keys()]);
      for (const [name, t] of a.tensors) expect(t.data, name).toEqual(b.tensors.get(name)!.data);
      const e = await testEngine();
      const { net, metadata } = await loadTransformNet(
        e,
        new Uint8Array(readFileSync(join(dir, 'm.safetensors'))),
        'm',
      );
      expect(metadata).toMatchObject({ style: 'style', step: 6, architecture: { widthMultiplier: 0.25 } });
      net.dispose();
      // The model records both sessions: their steps, command lines, wall time and adapter.
      const history = decodeHistory(a.metadata.history, 'm');
      expect(history.map((h) => [h.firstStep, h.lastStep])).toEqual([
        [1, 4],
        [5, 6],
      ]);
      expect(history[0].command).toMatch(/^node \S*cli\.js train .*--iters 4 --checkpoint-every 2/);
      expect(history[1].command).toMatch(/--iters 6 --resume$/);
      for (const h of history) {
        expect(h.seconds).toBeGreaterThan(0);
        expect(h.adapter).toBe(e.describe());
        expect(Date.parse(h.started!)).not.toBeNaN();
      }
      expect(decodeHistory(b.metadata.history, 's').map((h) => [h.firstStep, h.lastStep])).toEqual([[1, 6]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('--init starts from a model of either architecture (here ml5-lengstrom) and records it; it refuses --resume and another --width', async () => {
    const { dir, args } = await fixture();
    try {
      const e = await testEngine();
      const { TransformNet } = await import('../src/models/transform-net.js');
      const { saveTransformNet } = await import('../src/models/model-file.js');
      const start = TransformNet.create(e, { widthMultiplier: 0.25, architecture: 'ml5-lengstrom', seed: 3 });
      writeFileSync(join(dir, 'init.safetensors'), await saveTransformNet(start, { style: 'imported' }));
      start.dispose();
      const init = readSafetensors(readFileSync(join(dir, 'init.safetensors')));

      const tuned = run(
        args('t.safetensors', '--iters', '2', '--init', join(dir, 'init.safetensors'), '--warmup', '4'),
      );
      expect(tuned.status, tuned.stderr).toBe(0);
      expect(tuned.stderr).toMatch(/lr 0\.0005 \(warm-up 4 steps\)/);
      expect(tuned.stderr).toMatch(/starting from the weights of .*init\.safetensors \(ml5-lengstrom, width 0\.25\)/);
      const out = readSafetensors(readFileSync(join(dir, 't.safetensors')));
      expect(JSON.parse(out.metadata.architecture).name).toBe('ml5-lengstrom');
      expect(JSON.parse(out.metadata.training).init).toEqual({
        source: join(dir, 'init.safetensors'),
        architecture: 'ml5-lengstrom',
        sha256: createHash('sha256')
          .update(readFileSync(join(dir, 'init.safetensors')))
          .digest('hex'),
      });
      // A model trained by us carries its run along: the step count, its config and its sessions.
      const again = run(args('t2.safetensors', '--iters', '1', '--init', join(dir, 't.safetensors')));
      expect(again.status, again.stderr).toBe(0);
      const lineage = JSON.parse(readSafetensors(readFileSync(join(dir, 't2.safetensors'))).metadata.training).init;
      expect(lineage).toMatchObject({
        source: join(dir, 't.safetensors'),
        step: 2,
        training: { warmupSteps: 4, init: { architecture: 'ml5-lengstrom' } },
      });
      expect(lineage.history.map((h: { firstStep: number; lastStep: number }) => [h.firstStep, h.lastStep])).toEqual([
        [1, 2],
      ]);
      expect([...out.tensors.keys()]).toEqual([...init.tensors.keys()]);
      // Two Adam steps at lr 1e-3 warmed up over 4 steps (2.5e-4, then 5e-4) move each weight by at most
      // ~7.5e-4 from where it started (2e-3 without the warm-up): the run began at the given weights (random
      // ones would be ~0.1 away), the warm-up applied, and it did train (something moved).
      let moved = 0;
      for (const [name, t] of out.tensors) {
        const before = init.tensors.get(name)!.data;
        for (let i = 0; i < t.data.length; i++) {
          const d = Math.abs(t.data[i] - before[i]);
          expect(d, name).toBeLessThanOrEqual(7.6e-4);
          moved = Math.max(moved, d);
        }
      }
      expect(moved).toBeGreaterThan(1e-4);
      expect(JSON.parse(out.metadata.training).warmupSteps).toBe(4);

      const both = run(args('u.safetensors', '--iters', '2', '--init', join(dir, 'init.safetensors'), '--resume'));
      expect(both.status).toBe(2);
      expect(both.stderr).toMatch(/--init starts a new run/);
      const wider = run([
        ...args('v.safetensors', '--iters', '2', '--init', join(dir, 'init.safetensors')).filter(
          (a, i, all) => a !== '--width' && all[i - 1] !== '--width',
        ),
        '--width',
        '0.5',
      ]);
      expect(wider.status).toBe(2);
      expect(wider.stderr).toMatch(/--width 0\.5 differs from the width 0\.25 of --init/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('trains with the shipped loss network when --vgg is not given (what a fresh clone has)', async () => {
    const { dir, args } = await fixture();
    try {
      const noVgg = args('d.safetensors', '--iters', '2').filter(
        (x, i, all) => x !== '--vgg' && all[i - 1] !== '--vgg',
      );
      // The shipped VGG19 reaches relu3_4: the default style layers.
      const r = run(
        noVgg.filter(
          (x, i, all) =>
            !['--style-layers', '--content-layer'].includes(x) &&
            !['--style-layers', '--content-layer'].includes(all[i - 1]),
        ),
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/vgg19 \(caffe\) layers content relu2_2 style relu1_2,relu2_2,relu3_4/);
      expect(existsSync(join(dir, 'd.safetensors'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('Ctrl-C writes a checkpoint and exits 130; a non-finite loss exits 1 keeping the checkpoint; usage errors exit 2', async () => {
    const { dir, args } = await fixture();
    try {
      const { spawn } = await import('node:child_process');
      const child = spawn(process.execPath, args('i.safetensors', '--iters', '1000', '--checkpoint-every', '500'), {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      const status = await new Promise<number | null>((resolve) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (/step 1\/1000/.test(stderr) && !child.killed) child.kill('SIGINT');
        });
        child.on('exit', (code) => resolve(code));
      });
      expect(status, stderr).toBe(130);
      expect(stderr).toMatch(/interrupted: finishing this step/);
      const ckpt = readSafetensors(readFileSync(join(dir, 'i.ckpt.safetensors')));
      expect(Number(ckpt.metadata.step)).toBeGreaterThanOrEqual(1);
      expect(existsSync(join(dir, 'i.safetensors'))).toBe(false);

      const blowUp = run(args('n.safetensors', '--iters', '3', '--content-weight', '1e38'));
      expect(blowUp.status).toBe(1);
      expect(blowUp.stderr).toMatch(
        /error: loss became infinite at step 1 .*the last good checkpoint \(none yet\) is kept/,
      );
      expect(existsSync(join(dir, 'n.safetensors'))).toBe(false);

      const usage = runCli(['train', '--data', dir]);
      expect(usage.status).toBe(2);
      expect(usage.stderr).toMatch(/^error: missing --style/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

describe('training history', () => {
  it('recovers the sessions of an older run from its loss log (each session clock restarts at zero)', () => {
    const r = (step: number, seconds: number) => ({ step, content: 1, style: 1, tv: 1, total: 1, seconds });
    const sessions = sessionsFromLog([r(1, 38), r(2, 50), r(3, 61), r(4, 9), r(5, 20), r(6, 12)]);
    expect(sessions.map((s) => [s.firstStep, s.lastStep, s.seconds, s.command])).toEqual([
      [1, 3, 61, null],
      [4, 5, 20, null],
      [6, 6, 12, null],
    ]);
    expect(sessions.every((s) => /reconstructed from the loss log/.test(s.note!))).toBe(true);
    expect(historyTotals(sessions)).toEqual({ steps: 6, seconds: 93 });
    expect(sessionsFromLog([])).toEqual([]);
  });

  it('refuses a malformed history in a file', () => {
    expect(decodeHistory(undefined, 'f')).toEqual([]);
    expect(() => decodeHistory('{', 'f')).toThrow(/f: metadata "history" is not JSON/);
    expect(() => decodeHistory('[{"firstStep":1}]', 'f')).toThrow(/not a list of training sessions/);
    expect(() => decodeHistory('{"firstStep":1}', 'f')).toThrow(/not a list of training sessions/);
  });
});
