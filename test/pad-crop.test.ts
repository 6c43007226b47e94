import { describe, expect, it } from 'vitest';
import { apply } from '../src/autograd/tape.js';
import { Tensor } from '../src/engine/tensor.js';
import { channelAffine } from '../src/ops/channel-affine.js';
import { cpuRandom } from '../src/ops/cpu.js';
import { crop2d, pad2d, type PadMode } from '../src/ops/pad-crop.js';
import { checkOp } from './helpers/gradcheck.js';
import { testEngine } from './helpers/gpu.js';

// Pure data movement: the forward is exact; gradients are sums of a few upstream values.
const exact = { atol: 0, rtol: 0 };
const grad = { atol: 1e-5, rtol: 1e-5 };

describe('pad2d vs float64 reference', () => {
  const modes: PadMode[] = ['zeros', 'reflect', 'replicate'];
  for (const mode of modes) {
    it(`${mode}: uneven pads on an odd 5×7 input, batch 2, 3 channels`, async () => {
      await checkOp(await testEngine(), {
        op: pad2d,
        inputs: [cpuRandom([2, 3, 5, 7], 11)],
        attrs: { top: 1, bottom: 3, left: 0, right: 2, mode },
        forwardTol: exact,
        gradTol: grad,
      });
    });
  }

  it('replicate pads far wider than the input (1×1 → 8×8)', async () => {
    await checkOp(await testEngine(), {
      op: pad2d,
      inputs: [cpuRandom([1, 2, 1, 1], 12)],
      attrs: { top: 3, bottom: 4, left: 4, right: 3, mode: 'replicate' },
      forwardTol: exact,
      gradTol: grad,
    });
  });

  it('reflect refuses pads as large as the input', async () => {
    const e = await testEngine();
    e.scope(() => {
      const x = Tensor.zeros(e, [1, 1, 3, 3]);
      expect(() => apply(pad2d, [x], { top: 3, bottom: 0, left: 0, right: 0, mode: 'reflect' })).toThrow(/reflect padding.*replicate/);
    });
  });

  it('reflect matches PyTorch ReflectionPad2d on a known row', async () => {
    const e = await testEngine();
    const row = await e.scopeAsync(async () => {
      const x = Tensor.fromData(e, [1, 1, 1, 4], [1, 2, 3, 4]);
      const x3 = apply(pad2d, [x], { top: 0, bottom: 0, left: 2, right: 2, mode: 'reflect' });
      return Array.from(await x3.data());
    });
    expect(row).toEqual([3, 2, 1, 2, 3, 4, 3, 2]);
  });
});

describe('crop2d vs float64 reference', () => {
  it('an off-centre window of an odd input', async () => {
    await checkOp(await testEngine(), {
      op: crop2d,
      inputs: [cpuRandom([2, 3, 9, 6], 13)],
      attrs: { top: 2, left: 1, height: 5, width: 4 },
      forwardTol: exact,
      gradTol: grad,
    });
  });

  it('rejects a window that does not fit', async () => {
    const e = await testEngine();
    e.scope(() => {
      const x = Tensor.zeros(e, [1, 1, 4, 4]);
      expect(() => apply(crop2d, [x], { top: 1, left: 0, height: 4, width: 4 })).toThrow(/does not fit/);
    });
  });
});

describe('channelAffine vs float64 reference', () => {
  it('caffe-style mean subtraction on 3 channels, batch 2', async () => {
    await checkOp(await testEngine(), {
      op: channelAffine,
      inputs: [cpuRandom([2, 3, 5, 3], 14, 0, 255)],
      attrs: { scale: [1, 1, 1], shift: [-123.68, -116.779, -103.939] },
      forwardTol: { atol: 1e-5, rtol: 1e-6 },
      gradTol: grad,
    });
  });

  it('torchvision normalisation (x/255 − mean)/std, 5 channels to cross a vec4', async () => {
    await checkOp(await testEngine(), {
      op: channelAffine,
      inputs: [cpuRandom([1, 5, 3, 4], 15, 0, 255)],
      attrs: { scale: [0.1, -2, 3, 0.5, 7], shift: [1, 2, -3, 0.25, -0.5] },
      forwardTol: { atol: 1e-5, rtol: 1e-6 },
      gradTol: grad,
    });
  });

  it('rejects a constant count that does not match the channels', async () => {
    const e = await testEngine();
    e.scope(() => {
      const x = Tensor.zeros(e, [1, 3, 2, 2]);
      expect(() => apply(channelAffine, [x], { scale: [1, 1], shift: [0, 0] })).toThrow(/2 scales and 2 shifts for 3 channels/);
    });
  });
});
