// One training step at the shipped recipe's real size (batch 4 × 128², width 1, the committed VGG19, style
// image 256 px) against float64 PyTorch: losses and every parameter's gradient. The committed golden step
// (test/golden-nets.test.ts) is 16² at width 0.25; the conv plans, tiles and reductions that only large
// shapes choose are checked here. Its reference (~14 MB) is made on demand, not committed:
//   /usr/bin/python3 scripts/golden/fullsize_train_step.py /tmp/fullsize-step
//   FULLSIZE_TRAIN_STEP=/tmp/fullsize-step npx vitest run test/fullsize-train-step.test.ts
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { backward } from '../src/autograd/tape.js';
import { StyleLoss } from '../src/models/losses.js';
import { readSafetensors } from '../src/models/safetensors.js';
import { TransformNet } from '../src/models/transform-net.js';
import { Vgg } from '../src/models/vgg.js';
import { cpuTensor } from '../src/ops/cpu.js';
import { expectNear, maxAbsOf } from './helpers/golden.js';
import { testEngine } from './helpers/gpu.js';
import { toGpu } from './helpers/tensors.js';

const dir = process.env.FULLSIZE_TRAIN_STEP ?? '';
const present = dir !== '' && existsSync(join(dir, 'step.safetensors'));
if (!present) {
  console.log(
    'fullsize-train-step: skipped (set FULLSIZE_TRAIN_STEP to a folder made by scripts/golden/fullsize_train_step.py)',
  );
}

/** Losses: float32 sums over ~10⁶ terms against float64. */
const LOSS_TOL = 1e-4;
/** Gradients, relative to the largest gradient of the same tensor: float32 through 20 layers and back. */
const GRAD_TOL = 2e-3;
/** A gradient under this share of the net's largest is zero in exact arithmetic (biases before a norm). */
const DEAD_SHARE = 1e-9;
/** Such a gradient's float32 noise, relative to the net's largest gradient. */
const DEAD_GRAD_TOL = 1e-6;

describe.skipIf(!present)('full-size training step vs PyTorch float64 (batch 4 × 128², width 1, VGG19)', () => {
  it('losses and every gradient', async () => {
    const engine = await testEngine();
    const ref = JSON.parse(readFileSync(join(dir, 'step.json'), 'utf8'));
    const { tensors } = readSafetensors(new Uint8Array(readFileSync(join(dir, 'step.safetensors'))));
    const vggFile = readSafetensors(
      new Uint8Array(
        readFileSync(new URL('../models/loss-network/vgg19_conv1_1-conv3_4.safetensors', import.meta.url)),
      ),
    );
    const layers = [...new Set([...ref.styleLayers, ref.contentLayer])] as string[];
    const vgg = Vgg.fromTensors(engine, vggFile.tensors, {
      architecture: 'vgg19',
      input: 'caffe',
      layers,
      source: 'vgg19',
    });
    const weights = new Map([...tensors].filter(([k]) => k.startsWith('weight/')).map(([k, v]) => [k.slice(7), v]));
    const net = TransformNet.fromTensors(engine, { widthMultiplier: 1 }, weights);
    const get = (name: string) => cpuTensor(tensors.get(name)!.shape, Float64Array.from(tensors.get(name)!.data));
    const style = engine.keep(toGpu(engine, get('style'))!);
    const batch = engine.keep(toGpu(engine, get('batch'))!);
    const loss = StyleLoss.create(vgg, style, {
      contentLayer: ref.contentLayer,
      styleLayers: ref.styleLayers,
      contentWeight: ref.weights.content,
      styleWeight: ref.weights.style,
      tvWeight: ref.weights.tv,
    });
    const report: string[] = [];
    try {
      await engine.scopeAsync(async () => {
        const out = net.forward(batch);
        expectNear(await out.data(), get('output'), 1e-4, 'output', 255);
        const terms = loss.compute(out, batch);
        backward(terms.total);
        for (const k of ['content', 'style', 'tv', 'total'] as const) {
          const got = await terms[k].item();
          const rel = Math.abs(got - ref.losses[k]) / Math.abs(ref.losses[k]);
          report.push(`${k} ${got} vs ${ref.losses[k]} (${rel.toExponential(2)})`);
          if (rel > LOSS_TOL) throw new Error(`${k} loss: ours ${got}, PyTorch ${ref.losses[k]} (relative ${rel})`);
        }
        const netMax = Math.max(...[...net.parameters().keys()].map((name) => maxAbsOf(get(`grad/${name}`))));
        for (const [name, p] of net.parameters()) {
          const expected = get(`grad/${name}`);
          // A conv bias followed by an instance norm has a zero gradient in exact arithmetic (the norm removes
          // the mean): float32 leaves rounding noise there, measured against the whole net's gradient scale.
          const dead = maxAbsOf(expected) < DEAD_SHARE * netMax;
          const got = await p.grad!.data();
          let worst = 0;
          for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected.data[i]));
          const scale = dead ? netMax : maxAbsOf(expected);
          report.push(
            `d/d${name}: worst ${(worst / scale).toExponential(2)} of ${dead ? 'the net scale' : 'its max'} ${scale.toExponential(2)}`,
          );
          expectNear(
            got,
            expected,
            dead ? DEAD_GRAD_TOL : GRAD_TOL,
            `d/d${name}${dead ? ' (zero in exact arithmetic)' : ''}`,
            scale,
          );
        }
      });
    } finally {
      if (process.env.GOLDEN_VERBOSE) console.log(report.join('\n'));
      loss.dispose();
      net.dispose();
    }
  }, 600_000);
});
