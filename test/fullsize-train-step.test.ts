// One training step at the shipped recipe's real size (batch 4 × 128², width 1, the committed VGG19, style
// image 256 px) against float64 PyTorch: losses and every parameter's gradient. The committed golden step
// (test/golden-nets.test.ts) is 16² at width 0.25; the conv plans, tiles and reductions that only large
// shapes choose are checked here. Its reference (~14 MB) is made on demand, not committed:
//   /usr/bin/python3 scripts/golden/fullsize_train_step.py /tmp/fullsize-step
//   FULLSIZE_TRAIN_STEP=/tmp/fullsize-step npx vitest run test/fullsize-train-step.test.ts
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { Adam } from '../src/autograd/optim.js';
import { backward } from '../src/autograd/tape.js';
import { ADAM_HYPERPARAMETERS } from '../src/models/checkpoint.js';
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
/**
 * Gradients, relative to the largest gradient of the same tensor: float32 through 20 layers and back (from
 * the shipped net the worst tensor is at 6.9e-4). Where the fixture has PyTorch's own float32 gradient
 * (`--steps` > 1), the allowance is DRIFT_FACTOR times PyTorch's float32 error when that is larger: from
 * random weights the losses are ~20× those of a trained net and float32 loses more digits, in both engines.
 */
const GRAD_TOL = 2e-3;
/** How much farther than PyTorch's float32 ours may be from float64 (a gradient, or weights after N steps). */
const DRIFT_FACTOR = 4;
/** A gradient under this share of the net's largest is zero in exact arithmetic (biases before a norm). */
const DEAD_SHARE = 1e-9;
/** Such a gradient's float32 noise, relative to the net's largest gradient. */
const DEAD_GRAD_TOL = 1e-6;

/**
 * The fixture folder's reference, its tensors, and our net at its initial weights with the loss of its
 * settings (VGG19 from models/loss-network, the style image of the fixture).
 */
async function loadFixture() {
  const engine = await testEngine();
  const ref = JSON.parse(readFileSync(join(dir, 'step.json'), 'utf8'));
  const { tensors } = readSafetensors(new Uint8Array(readFileSync(join(dir, 'step.safetensors'))));
  const prefixed = (p: string) =>
    new Map([...tensors].filter(([k]) => k.startsWith(p)).map(([k, v]) => [k.slice(p.length), v]));
  const get = (name: string) => cpuTensor(tensors.get(name)!.shape, Float64Array.from(tensors.get(name)!.data));
  const vggFile = readSafetensors(
    new Uint8Array(readFileSync(new URL('../models/loss-network/vgg19_conv1_1-conv3_4.safetensors', import.meta.url))),
  );
  const layers = [...new Set([...ref.styleLayers, ref.contentLayer])] as string[];
  const vgg = Vgg.fromTensors(engine, vggFile.tensors, {
    architecture: 'vgg19',
    input: 'caffe',
    layers,
    source: 'vgg19',
  });
  const initial = prefixed('weight/');
  const net = TransformNet.fromTensors(engine, { widthMultiplier: 1 }, initial);
  const style = engine.keep(toGpu(engine, get('style')));
  const loss = StyleLoss.create(vgg, style, {
    contentLayer: ref.contentLayer,
    styleLayers: ref.styleLayers,
    contentWeight: ref.weights.content,
    styleWeight: ref.weights.style,
    tvWeight: ref.weights.tv,
  });
  return { engine, ref, tensors, prefixed, get, initial, net, loss };
}

describe.skipIf(!present)('full-size training step vs PyTorch float64 (batch 4 × 128², width 1, VGG19)', () => {
  it('losses and every gradient', async () => {
    const { engine, ref, get, tensors, net, loss } = await loadFixture();
    const batch = engine.keep(toGpu(engine, get('batch')));
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
          let tol = dead ? DEAD_GRAD_TOL : GRAD_TOL;
          const torch32 = tensors.get(`grad32/${name}`)?.data;
          if (torch32) {
            let worst32 = 0;
            for (let i = 0; i < torch32.length; i++)
              worst32 = Math.max(worst32, Math.abs(torch32[i] - expected.data[i]));
            tol = Math.max(tol, DRIFT_FACTOR * (worst32 / scale));
            report.push(`d/d${name}: PyTorch float32 worst ${(worst32 / scale).toExponential(2)}`);
          }
          report.push(
            `d/d${name}: worst ${(worst / scale).toExponential(2)} of ${dead ? 'the net scale' : 'its max'} ${scale.toExponential(2)}`,
          );
          expectNear(got, expected, tol, `d/d${name}${dead ? ' (zero in exact arithmetic)' : ''}`, scale);
        }
      });
    } finally {
      if (process.env.GOLDEN_VERBOSE) console.log(report.join('\n'));
      loss.dispose();
      net.dispose();
    }
  }, 600_000);
});

// Several Adam steps on as many batches (`fullsize_train_step.py --steps N`): what a long run adds to one step
// (state kept across steps, buffers reused, gradients zeroed). Our weights after N steps must be as close to
// float64 PyTorch's as PyTorch's own float32 run is, within a small factor: float32 rounding and Adam's
// sign-like steps where a gradient is near zero make every float32 run drift alike, a wrong step does not.
const multi =
  present && existsSync(join(dir, 'step.json')) && JSON.parse(readFileSync(join(dir, 'step.json'), 'utf8')).steps > 1;
/** Below this relative drift, float32 runs count as agreeing whatever the factor. */
const DRIFT_FLOOR = 1e-3;

describe.skipIf(!multi)('full-size Adam steps vs PyTorch float64 and float32', () => {
  it('per-step losses and the weights after the last step', async () => {
    const { engine, ref, get, prefixed, initial, net, loss } = await loadFixture();
    const params = net.parameters();
    const adam = new Adam([...params.values()], { lr: 1e-3, ...ADAM_HYPERPARAMETERS });
    const report: string[] = [];
    try {
      for (let s = 0; s < ref.steps; s++) {
        await engine.scopeAsync(async () => {
          adam.zeroGrad();
          const batch = toGpu(engine, get(`batches/${s}`));
          const terms = loss.compute(net.forward(batch), batch);
          backward(terms.total);
          const got = await terms.total.item();
          const e64 = ref.stepLosses64[s].total;
          const e32 = ref.stepLosses32[s].total;
          report.push(`step ${s + 1} total: ours ${got}, float64 ${e64}, float32 ${e32}`);
          if (Math.abs(got - e64) > Math.max(LOSS_TOL * Math.abs(e64), DRIFT_FACTOR * Math.abs(e32 - e64))) {
            throw new Error(`step ${s + 1} total loss: ours ${got}, float64 PyTorch ${e64}, float32 PyTorch ${e32}`);
          }
        });
        adam.step();
      }
      const after64 = prefixed('after64/');
      const after32 = prefixed('after32/');
      for (const [name, p] of params) {
        const w0 = initial.get(name)!.data;
        const w64 = after64.get(name)!.data;
        const w32 = after32.get(name)!.data;
        const ours = await p.data();
        let moved = 0;
        let d32 = 0;
        let dOurs = 0;
        for (let i = 0; i < ours.length; i++) {
          moved += (w64[i] - w0[i]) ** 2;
          d32 += (w32[i] - w64[i]) ** 2;
          dOurs += (ours[i] - w64[i]) ** 2;
        }
        const rel32 = Math.sqrt(d32 / moved);
        const relOurs = Math.sqrt(dOurs / moved);
        report.push(
          `${name}: ours ${relOurs.toExponential(2)}, PyTorch float32 ${rel32.toExponential(2)} of the float64 movement`,
        );
        if (relOurs > Math.max(DRIFT_FACTOR * rel32, DRIFT_FLOOR)) {
          throw new Error(
            `${name} after ${ref.steps} steps: ${relOurs} of its movement away from float64 PyTorch, float32 PyTorch ${rel32}`,
          );
        }
      }
    } finally {
      if (process.env.GOLDEN_VERBOSE) console.log(report.join('\n'));
      adam.dispose();
      loss.dispose();
      net.dispose();
    }
  }, 1_200_000);
});
