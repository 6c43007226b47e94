// The training planner (src/models/train-plan.ts): its bound on a step's largest buffer against the buffers
// real steps ask the pool for, a step on an engine whose limit is exactly that bound, and the batch it lowers
// (or the message it gives) when a GPU allows less.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createNodeEngine } from '../src/engine/node.js';
import type { Engine } from '../src/engine/engine.js';
import { Tensor } from '../src/engine/tensor.js';
import { defaultLossConfig } from '../src/models/losses.js';
import { largestTrainingBuffer, planTrainingShape, TrainingShapeError } from '../src/models/train-plan.js';
import { Trainer } from '../src/models/trainer.js';
import { Vgg } from '../src/models/vgg.js';
import { testEngine } from './helpers/gpu.js';

const VGG = join(__dirname, '..', 'models', 'loss-network', 'vgg19_conv1_1-conv3_4.safetensors');
const LOSS = defaultLossConfig('vgg19', 'caffe');

/** One training step of `shape` on `engine`; returns the largest buffer the pool was asked for (scratch of Winograd kernels, which fall back to direct ones when it does not fit, left out). */
async function largestAsked(engine: Engine, shape: { batch: number; size: number; width: number }): Promise<number> {
  const vgg = Vgg.fromSafetensors(engine, new Uint8Array(readFileSync(VGG)), {
    layers: [LOSS.contentLayer, ...LOSS.styleLayers],
    source: VGG,
  });
  const pixels = (n: number) => new Float32Array(n).map((_, i) => (i * 37) % 256);
  const style = Tensor.fromData(engine, [1, 3, 24, 32], pixels(3 * 24 * 32));
  const batch = Tensor.fromData(
    engine,
    [shape.batch, 3, shape.size, shape.size],
    pixels(shape.batch * 3 * shape.size ** 2),
  );
  let largest = 0;
  const acquire = engine.pool.acquire.bind(engine.pool);
  engine.pool.acquire = (bytes: number, label?: string) => {
    if (!label?.startsWith('conv2d.winograd')) largest = Math.max(largest, bytes);
    return acquire(bytes, label);
  };
  const trainer = Trainer.create(
    engine,
    {
      size: shape.size,
      batch: shape.batch,
      lr: 1e-3,
      widthMultiplier: shape.width,
      seed: 1,
      loss: LOSS,
      vgg: { architecture: 'vgg19', input: 'caffe' },
    },
    { vgg, styleImage: style },
  );
  try {
    const losses = await trainer.step(batch);
    expect(Number.isFinite(losses.total)).toBe(true);
    return largest;
  } finally {
    engine.pool.acquire = acquire;
    trainer.dispose();
    vgg.dispose();
    style.dispose();
    batch.dispose();
  }
}

describe('largestTrainingBuffer', () => {
  it('bounds the buffers a step asks for', async () => {
    const engine = await testEngine();
    for (const shape of [
      { batch: 2, size: 24, width: 1 },
      { batch: 1, size: 36, width: 0.25 },
    ]) {
      const asked = await largestAsked(engine, shape);
      const bound = largestTrainingBuffer({ ...shape, widthMultiplier: shape.width });
      expect(asked, JSON.stringify(shape)).toBeLessThanOrEqual(bound);
    }
  });

  it('a step runs on an engine whose buffer limit is exactly the planned bound', async () => {
    // Large enough that the activations, not the loss network's weights (conv3's, 256×256×3×3, as Winograd
    // transforms them: 16 points a kernel), set the bound: Winograd's scratch for conv1 does not fit, so those
    // convolutions must run the direct kernel.
    const shape = { batch: 4, size: 64, width: 1 };
    const vggWeight = 4 * 256 * 256 * 9;
    const limit = largestTrainingBuffer({ ...shape, widthMultiplier: 1, styleSize: 32, lossNetworkWeight: vggWeight });
    expect(limit).toBe(largestTrainingBuffer({ ...shape, widthMultiplier: 1 }));
    expect(limit).toBeGreaterThan((vggWeight * 16) / 9);
    const engine = await createNodeEngine({ limits: { maxStorageBufferBindingSize: limit, maxBufferSize: limit } });
    try {
      const asked = await largestAsked(engine, shape);
      expect(asked).toBeLessThanOrEqual(limit);
      // Not a loose bound: the pool's size class of the largest request (its classes are 2^(1/4) apart).
      expect(limit / asked).toBeLessThan(2 ** 0.25);
    } finally {
      engine.destroy();
    }
  }, 300_000);
});

describe('planTrainingShape', () => {
  const limits = (mib: number) => ({ maxStorageBufferBindingSize: mib * 2 ** 20, maxBufferSize: 2 ** 40 });

  it('keeps what fits, and says how much it needs', () => {
    const plan = planTrainingShape(limits(128), { batch: 4, size: 128, widthMultiplier: 1, styleSize: 256 });
    expect(plan).toMatchObject({ batch: 4, size: 128, note: null, bufferLimit: 128 * 2 ** 20 });
    expect(plan.largestBuffer).toBe(largestTrainingBuffer({ batch: 4, size: 128, widthMultiplier: 1 }));
    expect(plan.memoryEstimate).toBeGreaterThan(plan.largestBuffer);
  });

  it('lowers the batch (not the crop size) to fit, and says so', () => {
    const plan = planTrainingShape(limits(40), { batch: 4, size: 256, widthMultiplier: 1, styleSize: 256 });
    expect(plan.batch).toBe(2);
    expect(plan.note).toBe(
      'Batch 4 at 256 px needs a 76 MiB buffer, more than this GPU allows in one buffer (40 MiB): training with batch 2 instead.',
    );
  });

  it('refuses, naming the largest crop that fits, when even batch 1 does not', () => {
    expect(() => planTrainingShape(limits(24), { batch: 4, size: 512, widthMultiplier: 1 })).toThrow(
      new TrainingShapeError(
        '512 px crops need a 76 MiB buffer even at batch 1, more than this GPU allows in one buffer (24 MiB): choose a crop size of 296 px or less.',
      ),
    );
    expect(() => planTrainingShape(limits(8), { batch: 1, size: 64, widthMultiplier: 1, styleSize: 512 })).toThrow(
      /^The style image at 512 px needs a 76 MiB buffer, more than this GPU allows in one buffer \(8 MiB\): choose a smaller style size\.$/,
    );
  });
});
