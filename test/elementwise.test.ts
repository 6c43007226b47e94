import { describe, it } from 'vitest';
import { cpuRandom } from '../src/ops/cpu.js';
import { add, mul, relu, reshape, scale, scaledTanh } from '../src/ops/elementwise.js';
import { checkOp } from './helpers/gradcheck.js';
import { testEngine } from './helpers/gpu.js';

const tight = { atol: 1e-6, rtol: 1e-6 };
const grad = { atol: 1e-5, rtol: 1e-4 };

describe('elementwise ops vs float64 reference', () => {
  // 2·3·7·5 = 210 elements: not a multiple of the 256-wide workgroup.
  const shape = [2, 3, 7, 5];

  it('relu', async () => {
    // Keep inputs away from 0, where relu has no derivative for finite differences to find.
    const x = cpuRandom(shape, 1);
    for (let i = 0; i < x.data.length; i++) if (Math.abs(x.data[i]) < 0.01) x.data[i] = 0.5;
    await checkOp(await testEngine(), { op: relu, inputs: [x], attrs: {}, forwardTol: tight, gradTol: grad });
  });

  it('scaledTanh (150·tanh + 127.5)', async () => {
    await checkOp(await testEngine(), {
      op: scaledTanh,
      inputs: [cpuRandom(shape, 2, -3, 3)],
      attrs: { alpha: 150, beta: 127.5 },
      forwardTol: { atol: 2e-4, rtol: 1e-6 },
      gradTol: grad,
    });
  });

  it('scale', async () => {
    await checkOp(await testEngine(), { op: scale, inputs: [cpuRandom(shape, 3)], attrs: { alpha: -2.5, beta: 0.25 }, forwardTol: tight, gradTol: grad });
  });

  it('add and mul', async () => {
    const e = await testEngine();
    await checkOp(e, { op: add, inputs: [cpuRandom(shape, 4), cpuRandom(shape, 5)], attrs: {}, forwardTol: tight, gradTol: grad });
    await checkOp(e, { op: mul, inputs: [cpuRandom(shape, 6), cpuRandom(shape, 7)], attrs: {}, forwardTol: tight, gradTol: grad });
  });

  it('reshape', async () => {
    await checkOp(await testEngine(), { op: reshape, inputs: [cpuRandom(shape, 8)], attrs: { shape: [6, 35] }, forwardTol: tight, gradTol: grad });
  });
});
