import { workgroups1d } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import { packParams, type Kernel } from '../engine/kernel.js';
import type { Tensor } from '../engine/tensor.js';
import source from '../shaders/adam.wgsl';

const WORKGROUP_SIZE = 256;

const adamKernel: Kernel = { name: 'adam.step', code: source, entryPoint: 'step', constants: { WORKGROUP_SIZE } };

export interface AdamHyperparams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** The step being taken, counted from 1 (drives the bias corrections). */
  step: number;
  /** L2 penalty added to the gradient (PyTorch's `weight_decay`, not AdamW's decoupled decay). */
  weightDecay?: number;
}

/**
 * One step of torch.optim.Adam on one parameter, on the GPU: updates `param`, `m` (first moment) and `v`
 * (second moment) in place. The bias corrections are computed here in float64, as PyTorch does on the host.
 */
export function adamStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, h: AdamHyperparams): void {
  for (const [name, t] of [
    ['grad', grad],
    ['m', m],
    ['v', v],
  ] as const) {
    if (t.size !== param.size) {
      throw new ShapeError(`adamStep: ${name} ${shapeStr(t.shape)} does not match param ${shapeStr(param.shape)}`);
    }
  }
  if (!Number.isInteger(h.step) || h.step < 1) throw new RangeError(`adamStep: step ${h.step} must be an integer ≥ 1`);
  const biasCorrection1 = 1 - h.beta1 ** h.step;
  const biasCorrection2 = 1 - h.beta2 ** h.step;
  const engine = param.engine;
  engine.dispatch({
    kernel: adamKernel,
    buffers: [param.buffer, grad.buffer, m.buffer, v.buffer],
    params: packParams(
      [param.size],
      [
        1 - h.beta1,
        h.beta2,
        1 - h.beta2,
        h.lr / biasCorrection1,
        Math.sqrt(biasCorrection2),
        h.eps,
        h.weightDecay ?? 0,
      ],
    ),
    workgroups: workgroups1d(engine, param.size, WORKGROUP_SIZE),
    label: `adam.step${param.label ? ` ${param.label}` : ''}`,
  });
}
