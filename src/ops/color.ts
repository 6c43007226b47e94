import { workgroups1d } from '../engine/engine.js';
import { ShapeError, shapeStr } from '../engine/errors.js';
import { packParams, type Kernel } from '../engine/kernel.js';
import { Tensor } from '../engine/tensor.js';
import source from '../shaders/color.wgsl';
import { cpuTensor, type CpuTensor } from './cpu.js';
import { defineOp } from './op.js';

/**
 * Colour preservation by luminance transfer: BT.601 full-range YCbCr, Y from `styled`, Cb and Cr from
 * `content` (see shaders/color.wgsl). Pixels in 0..255 (any scale works: the map is linear); the result is not
 * clamped (writing an image clamps).
 */

const WORKGROUP_SIZE = 256;

/** BT.601 full-range (JPEG) RGB → YCbCr, 0..255 with chroma centred on 128. */
export function rgbToYcbcr(r: number, g: number, b: number): [number, number, number] {
  return [
    0.299 * r + 0.587 * g + 0.114 * b,
    128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
    128 + 0.5 * r - 0.418688 * g - 0.081312 * b,
  ];
}

/** The inverse of rgbToYcbcr. */
export function ycbcrToRgb(y: number, cb: number, cr: number): [number, number, number] {
  return [y + 1.402 * (cr - 128), y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128), y + 1.772 * (cb - 128)];
}

function kernel(entryPoint: 'forward' | 'backward'): Kernel {
  return { name: `color.${entryPoint}`, code: source, entryPoint, constants: { WORKGROUP_SIZE } };
}

function checkShapes(styled: readonly number[], content: readonly number[]): void {
  const ok = styled.length === 4 && styled[1] === 3 && content.length === 4 && styled.every((d, i) => d === content[i]);
  if (!ok)
    throw new ShapeError(
      `preserveColors: styled ${shapeStr(styled)} and content ${shapeStr(content)} must both be [N, 3, H, W]`,
    );
}

function params(shape: readonly number[]): ArrayBuffer {
  const [n, , h, w] = shape;
  return packParams([n * h * w, h * w]);
}

export const preserveColors = defineOp({
  name: 'preserveColors',
  inputs: ['styled', 'content'],
  forward([styled, content]: [styled: Tensor, content: Tensor]) {
    checkShapes(styled.shape, content.shape);
    const engine = styled.engine;
    const out = Tensor.empty(engine, styled.shape, 'preserveColors');
    const [n, , h, w] = styled.shape;
    engine.dispatch({
      kernel: kernel('forward'),
      buffers: [styled.buffer, content.buffer, out.buffer],
      params: params(styled.shape),
      workgroups: workgroups1d(engine, n * h * w, WORKGROUP_SIZE),
      label: 'preserveColors',
    });
    return { output: out, saved: [] };
  },
  backward({ inputShapes, needsGrad }, dy) {
    const engine = dy.engine;
    const shape = inputShapes[0];
    const dStyled = Tensor.empty(engine, shape);
    const dContent = Tensor.empty(engine, shape);
    const [n, , h, w] = shape;
    engine.dispatch({
      kernel: kernel('backward'),
      buffers: [dy.buffer, null, dStyled.buffer, dContent.buffer],
      params: params(shape),
      workgroups: workgroups1d(engine, n * h * w, WORKGROUP_SIZE),
      label: 'preserveColors.backward',
    });
    if (!needsGrad[0]) dStyled.dispose();
    if (!needsGrad[1]) dContent.dispose();
    return [needsGrad[0] ? dStyled : null, needsGrad[1] ? dContent : null];
  },
  /** The literal definition: both images to YCbCr, Y of styled with CbCr of content, back to RGB. */
  reference([styled, content]): CpuTensor {
    checkShapes(styled.shape, content.shape);
    const [n, , h, w] = styled.shape;
    const plane = h * w;
    const out = cpuTensor(styled.shape);
    const s = styled.data;
    const c = content.data;
    for (let b = 0; b < n; b++) {
      for (let p = 0; p < plane; p++) {
        const i = b * 3 * plane + p;
        const [y] = rgbToYcbcr(s[i], s[i + plane], s[i + 2 * plane]);
        const [, cb, cr] = rgbToYcbcr(c[i], c[i + plane], c[i + 2 * plane]);
        const rgb = ycbcrToRgb(y, cb, cr);
        for (let k = 0; k < 3; k++) out.data[i + k * plane] = rgb[k];
      }
    }
    return out;
  },
});
