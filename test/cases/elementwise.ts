// Elementwise ops vs their float64 references and finite differences (test/elementwise.test.ts, Deno runner).
import { cpuRandom } from '../../src/ops/cpu.js';
import { add, mul, relu, reshape, scale, scaledTanh } from '../../src/ops/elementwise.js';
import { checkOp } from '../helpers/gradcheck.js';
import type { EngineCase } from './case.js';

const tight = { atol: 1e-6, rtol: 1e-6 };
const grad = { atol: 1e-5, rtol: 1e-4 };
// 2·3·7·5 = 210 elements: not a multiple of the 256-wide workgroup.
const shape = [2, 3, 7, 5];

export const elementwiseCases: EngineCase[] = [
  {
    name: 'relu',
    async run(engine) {
      // Keep inputs away from 0, where relu has no derivative for finite differences to find.
      const x = cpuRandom(shape, 1);
      for (let i = 0; i < x.data.length; i++) if (Math.abs(x.data[i]) < 0.01) x.data[i] = 0.5;
      await checkOp(engine, { op: relu, inputs: [x], attrs: {}, forwardTol: tight, gradTol: grad });
    },
  },
  {
    name: 'scaledTanh (150·tanh + 127.5)',
    async run(engine) {
      await checkOp(engine, {
        op: scaledTanh,
        inputs: [cpuRandom(shape, 2, -3, 3)],
        attrs: { alpha: 150, beta: 127.5 },
        forwardTol: { atol: 2e-4, rtol: 1e-6 },
        gradTol: grad,
      });
    },
  },
  {
    name: 'scale',
    run: (engine) =>
      checkOp(engine, {
        op: scale,
        inputs: [cpuRandom(shape, 3)],
        attrs: { alpha: -2.5, beta: 0.25 },
        forwardTol: tight,
        gradTol: grad,
      }),
  },
  {
    name: 'add and mul',
    async run(engine) {
      await checkOp(engine, {
        op: add,
        inputs: [cpuRandom(shape, 4), cpuRandom(shape, 5)],
        attrs: {},
        forwardTol: tight,
        gradTol: grad,
      });
      await checkOp(engine, {
        op: mul,
        inputs: [cpuRandom(shape, 6), cpuRandom(shape, 7)],
        attrs: {},
        forwardTol: tight,
        gradTol: grad,
      });
    },
  },
  {
    name: 'reshape',
    run: (engine) =>
      checkOp(engine, {
        op: reshape,
        inputs: [cpuRandom(shape, 8)],
        attrs: { shape: [6, 35] },
        forwardTol: tight,
        gradTol: grad,
      }),
  },
];
