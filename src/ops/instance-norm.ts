import { workgroups1d } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import { packParams, type Kernel } from '../engine/kernel.js';
import { Tensor } from '../engine/tensor.js';
import source from '../shaders/instance-norm.wgsl';
import { cpuTensor } from './cpu.js';
import { defineOp } from './op.js';

/** Threads per workgroup, for the per-plane reductions and the per-element passes alike (a power of two). */
const WORKGROUP_SIZE = 256;

type Entry = 'computeStats' | 'normalizeInput' | 'computePlaneSums' | 'inputGrad' | 'affineGrads';

function kernel(entryPoint: Entry): Kernel {
  return { name: `instanceNorm.${entryPoint}`, code: source, entryPoint, constants: { WORKGROUP_SIZE } };
}

export interface InstanceNormAttrs {
  eps: number;
}

interface Dims {
  batch: number;
  channels: number;
  planeSize: number;
}

function dims(x: Tensor, gamma: Tensor | null, beta: Tensor | null): Dims {
  const [batch, channels, h, w] = x.shape;
  const bad = (why: string): never => {
    throw new ShapeError(
      `instanceNorm: ${why} (x ${shapeStr(x.shape)}, gamma ${gamma ? shapeStr(gamma.shape) : 'none'}, ` +
        `beta ${beta ? shapeStr(beta.shape) : 'none'})`,
    );
  };
  if (x.rank !== 4) bad('x must be [N, C, H, W]');
  if (x.size === 0) bad('x is empty');
  for (const [name, p] of [
    ['gamma', gamma],
    ['beta', beta],
  ] as const) {
    if (p && (p.rank !== 1 || p.shape[0] !== channels)) bad(`${name} must be [${channels}]`);
  }
  return { batch, channels, planeSize: h * w };
}

function params(d: Dims, eps = 0): ArrayBuffer {
  const planes = d.batch * d.channels;
  return packParams([planes * d.planeSize, d.planeSize, d.channels, planes], [eps]);
}

/** gamma, or ones when the op runs without a learned scale; the caller disposes `made`. */
function scaleOrOnes(gamma: Tensor | null, x: Tensor, channels: number): { gamma: Tensor; made: Tensor | null } {
  if (gamma) return { gamma, made: null };
  const made = Tensor.full(x.engine, [channels], 1);
  return { gamma: made, made };
}

/**
 * Instance normalisation (PyTorch InstanceNorm2d with affine=True): each (n, c) plane is shifted to mean 0
 * and scaled to variance 1 (biased), then y = x̂·gamma[c] + beta[c]. gamma and beta are optional ([C]).
 * Saves x, gamma and a [N, C, 2] tensor of per-plane (mean, 1/std) for the backward.
 */
export const instanceNorm = defineOp({
  name: 'instanceNorm',
  inputs: ['x', 'gamma', 'beta'],
  optional: ['gamma', 'beta'],
  forward([x, gammaIn, betaIn]: [x: Tensor, gamma: Tensor | null, beta: Tensor | null], { eps }: InstanceNormAttrs) {
    const d = dims(x, gammaIn, betaIn);
    const engine = x.engine;
    const planes = d.batch * d.channels;
    const stats = Tensor.empty(engine, [d.batch, d.channels, 2], 'instanceNorm.stats');
    const p = params(d, eps);
    engine.dispatch({
      kernel: kernel('computeStats'),
      buffers: [x.buffer, null, null, null, stats.buffer],
      params: p,
      workgroups: workgroups1d(engine, planes, 1),
      label: 'instanceNorm.stats',
    });
    const { gamma, made: madeGamma } = scaleOrOnes(gammaIn, x, d.channels);
    const beta = betaIn ?? Tensor.zeros(engine, [d.channels]);
    const y = Tensor.empty(engine, x.shape);
    engine.dispatch({
      kernel: kernel('normalizeInput'),
      buffers: [x.buffer, null, gamma.buffer, beta.buffer, stats.buffer, null, y.buffer],
      params: p,
      workgroups: workgroups1d(engine, y.size, WORKGROUP_SIZE),
      label: 'instanceNorm',
    });
    madeGamma?.dispose();
    if (beta !== betaIn) beta.dispose();
    return { output: y, saved: [x, gammaIn, stats] };
  },
  backward({ saved: [x, gammaIn, stats], needsGrad }, dy) {
    const d = dims(x, gammaIn, null);
    const engine = x.engine;
    const planes = d.batch * d.channels;
    const p = params(d);
    const planeSums = Tensor.empty(engine, [planes, 2], 'instanceNorm.planeSums');
    engine.dispatch({
      kernel: kernel('computePlaneSums'),
      buffers: [x.buffer, dy.buffer, null, null, stats.buffer, planeSums.buffer],
      params: p,
      workgroups: workgroups1d(engine, planes, 1),
      label: 'instanceNorm.backward.planeSums',
    });
    let dx: Tensor | null = null;
    if (needsGrad[0]) {
      const { gamma, made } = scaleOrOnes(gammaIn, x, d.channels);
      dx = Tensor.empty(engine, x.shape);
      engine.dispatch({
        kernel: kernel('inputGrad'),
        buffers: [x.buffer, dy.buffer, gamma.buffer, null, stats.buffer, planeSums.buffer, dx.buffer],
        params: p,
        workgroups: workgroups1d(engine, dx.size, WORKGROUP_SIZE),
        label: 'instanceNorm.backward.input',
      });
      made?.dispose();
    }
    let dgamma: Tensor | null = null;
    let dbeta: Tensor | null = null;
    if (needsGrad[1] || needsGrad[2]) {
      // The kernel writes both; the one nobody asked for is dropped right away.
      dgamma = Tensor.empty(engine, [d.channels]);
      dbeta = Tensor.empty(engine, [d.channels]);
      engine.dispatch({
        kernel: kernel('affineGrads'),
        buffers: [null, null, null, null, null, planeSums.buffer, dgamma.buffer, dbeta.buffer],
        params: p,
        workgroups: [Math.ceil(d.channels / WORKGROUP_SIZE)],
        label: 'instanceNorm.backward.affine',
      });
      if (!needsGrad[1]) {
        dgamma.dispose();
        dgamma = null;
      }
      if (!needsGrad[2]) {
        dbeta.dispose();
        dbeta = null;
      }
    }
    planeSums.dispose();
    return [dx, dgamma, dbeta];
  },
  reference([x, gamma, beta], { eps }) {
    const [batch, channels, h, w] = x.shape;
    const n = h * w;
    const y = cpuTensor(x.shape);
    for (let plane = 0; plane < batch * channels; plane++) {
      const c = plane % channels;
      const base = plane * n;
      let mean = 0;
      for (let i = 0; i < n; i++) mean += x.data[base + i];
      mean /= n;
      let variance = 0;
      for (let i = 0; i < n; i++) variance += (x.data[base + i] - mean) ** 2;
      variance /= n;
      const inv = 1 / Math.sqrt(variance + eps);
      const g = gamma ? gamma.data[c] : 1;
      const b = beta ? beta.data[c] : 0;
      for (let i = 0; i < n; i++) y.data[base + i] = (x.data[base + i] - mean) * inv * g + b;
    }
    return y;
  },
});
