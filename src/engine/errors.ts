/** An error raised by the GPU (validation, out of memory, device loss), with the kernel that caused it. */
export class GpuError extends Error {
  override name = 'GpuError';
}

/** Input shapes that an op cannot take; the message names the op and the shapes. */
export class ShapeError extends Error {
  override name = 'ShapeError';
}

/** No usable WebGPU adapter: the message says what to install. */
export class NoAdapterError extends Error {
  override name = 'NoAdapterError';
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
