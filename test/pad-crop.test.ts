import { describe, expect, it } from 'vitest';
import { apply } from '../src/autograd/tape.js';
import { Tensor } from '../src/engine/tensor.js';
import { channelAffine } from '../src/ops/channel-affine.js';
import { crop2d, pad2d } from '../src/ops/pad-crop.js';
import { channelAffineCases, crop2dCases, pad2dCases } from './cases/pad-crop.js';
import { testEngine } from './helpers/gpu.js';

// The op-vs-reference cases live in test/cases/pad-crop.ts, shared with the Deno runner (test/deno/run.ts).

describe('pad2d vs float64 reference', () => {
  for (const c of pad2dCases) it(c.name, async () => c.run(await testEngine()));

  it('reflect refuses pads as large as the input', async () => {
    const e = await testEngine();
    e.scope(() => {
      const x = Tensor.zeros(e, [1, 1, 3, 3]);
      expect(() => apply(pad2d, [x], { top: 3, bottom: 0, left: 0, right: 0, mode: 'reflect' })).toThrow(
        /reflect padding.*replicate/,
      );
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
  for (const c of crop2dCases) it(c.name, async () => c.run(await testEngine()));

  it('rejects a window that does not fit', async () => {
    const e = await testEngine();
    e.scope(() => {
      const x = Tensor.zeros(e, [1, 1, 4, 4]);
      expect(() => apply(crop2d, [x], { top: 1, left: 0, height: 4, width: 4 })).toThrow(/does not fit/);
    });
  });
});

describe('channelAffine vs float64 reference', () => {
  for (const c of channelAffineCases) it(c.name, async () => c.run(await testEngine()));

  it('rejects a constant count that does not match the channels', async () => {
    const e = await testEngine();
    e.scope(() => {
      const x = Tensor.zeros(e, [1, 3, 2, 2]);
      expect(() => apply(channelAffine, [x], { scale: [1, 1], shift: [0, 0] })).toThrow(
        /2 scales and 2 shifts for 3 channels/,
      );
    });
  });
});
