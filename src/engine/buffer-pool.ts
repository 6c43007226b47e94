import { BufferUsage } from './constants.js';
/**
 * GPU storage buffers recycled by size class, so that a steady-state training step allocates nothing new.
 * Classes grow by 2^(1/4) (at most ~19% slack) from 256 bytes up.
 */
const MIN_BYTES = 256;
const STEPS_PER_OCTAVE = 4;

const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

export function sizeClass(bytes: number): number {
  if (bytes <= MIN_BYTES) return MIN_BYTES;
  const step = Math.ceil(Math.log2(bytes) * STEPS_PER_OCTAVE - 1e-9);
  // Round up to a multiple of 256 so that every class is a valid binding size and offset-friendly.
  return Math.ceil(2 ** (step / STEPS_PER_OCTAVE) / 256) * 256;
}

export interface PoolStats {
  /** Buffers handed out and not yet released. */
  liveBuffers: number;
  liveBytes: number;
  /** Buffers kept for reuse. */
  freeBuffers: number;
  freeBytes: number;
  /** Buffers ever created by this pool (a training loop in steady state does not raise this). */
  created: number;
  /** Most bytes live at once since the pool was made or resetPeak() was called. */
  peakLiveBytes: number;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private live = new Set<GPUBuffer>();
  private liveBytes = 0;
  private freeBytes = 0;
  private created = 0;
  private peakLiveBytes = 0;

  constructor(
    private device: GPUDevice,
    private maxBufferSize: number,
  ) {}

  acquire(bytes: number, label?: string): GPUBuffer {
    const size = sizeClass(Math.max(bytes, 4));
    if (size > this.maxBufferSize) {
      throw new RangeError(
        `buffer of ${bytes} bytes exceeds this adapter's maxStorageBufferBindingSize (${this.maxBufferSize})` +
          (label ? ` (${label})` : ''),
      );
    }
    const list = this.free.get(size);
    let buffer = list?.pop();
    if (buffer) {
      this.freeBytes -= size;
    } else {
      buffer = this.device.createBuffer({ size, usage: STORAGE_USAGE, label: `pool:${size}` });
      this.created++;
    }
    this.live.add(buffer);
    this.liveBytes += size;
    this.peakLiveBytes = Math.max(this.peakLiveBytes, this.liveBytes);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.live.delete(buffer)) throw new Error('BufferPool.release: buffer is not live in this pool');
    this.liveBytes -= buffer.size;
    this.freeBytes += buffer.size;
    const list = this.free.get(buffer.size);
    if (list) list.push(buffer);
    else this.free.set(buffer.size, [buffer]);
  }

  /** Destroys the buffers kept for reuse (live ones stay). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.freeBytes = 0;
  }

  stats(): PoolStats {
    let freeBuffers = 0;
    for (const list of this.free.values()) freeBuffers += list.length;
    return {
      liveBuffers: this.live.size,
      liveBytes: this.liveBytes,
      freeBuffers,
      freeBytes: this.freeBytes,
      created: this.created,
      peakLiveBytes: this.peakLiveBytes,
    };
  }

  /** Starts a new peak from the bytes live now (to measure one piece of work). */
  resetPeak(): void {
    this.peakLiveBytes = this.liveBytes;
  }

  destroy(): void {
    this.trim();
    for (const b of this.live) b.destroy();
    this.live.clear();
    this.liveBytes = 0;
  }
}
