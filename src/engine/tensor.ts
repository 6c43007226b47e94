import type { Engine } from './engine.js';
import { shapeStr } from './errors.js';

/** A pooled GPU buffer shared by tensor views (reshape); returned to the pool when the last view goes. */
class Storage {
  refs = 1;
  constructor(
    readonly engine: Engine,
    readonly buffer: GPUBuffer,
  ) {}
  release(): void {
    if (--this.refs === 0) this.engine.pool.release(this.buffer);
  }
}

let nextId = 1;

/**
 * A float32 tensor, NCHW, in a GPU storage buffer.
 *
 * Ownership: the creator holds one reference, which `dispose()` (or the end of the enclosing engine scope)
 * drops. Other holders, such as the autograd tape keeping a tensor for the backward pass, `retain()` and
 * `release()`. The buffer returns to the pool when no reference is left.
 */
export class Tensor {
  readonly __tensor = true;
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly size: number;
  /** Set by autograd: this tensor wants a gradient (leaf parameters), or depends on one that does. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf after backward(). Owned by this tensor; `zeroGrad` disposes it. */
  grad: Tensor | null = null;
  label?: string;
  private storage: Storage | null;
  private refs = 1;
  private ownerDropped = false;

  private constructor(
    readonly engine: Engine,
    shape: readonly number[],
    storage: Storage,
  ) {
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    this.storage = storage;
    engine.track(this);
  }

  /** Uninitialised contents: for kernel outputs that write every element. */
  static empty(engine: Engine, shape: readonly number[], label?: string): Tensor {
    const size = sizeOf(shape);
    const t = new Tensor(engine, shape, new Storage(engine, engine.pool.acquire(size * 4, label)));
    if (label) t.label = label;
    return t;
  }

  static zeros(engine: Engine, shape: readonly number[], label?: string): Tensor {
    const t = Tensor.empty(engine, shape, label);
    engine.clearBuffer(t.buffer, 0, Math.ceil((t.size * 4) / 4) * 4);
    return t;
  }

  static full(engine: Engine, shape: readonly number[], value: number, label?: string): Tensor {
    const t = Tensor.empty(engine, shape, label);
    t.write(new Float32Array(t.size).fill(value));
    return t;
  }

  static fromData(engine: Engine, shape: readonly number[], data: ArrayLike<number>, label?: string): Tensor {
    const size = sizeOf(shape);
    if (data.length !== size) {
      throw new RangeError(`Tensor.fromData: ${data.length} values do not fill shape ${shapeStr(shape)} (${size})`);
    }
    const t = Tensor.empty(engine, shape, label);
    t.write(data instanceof Float32Array ? data : Float32Array.from(data));
    return t;
  }

  get buffer(): GPUBuffer {
    if (!this.storage)
      throw new Error(`tensor ${this.label ?? this.id} ${shapeStr(this.shape)} was used after dispose`);
    return this.storage.buffer;
  }

  get byteLength(): number {
    return this.size * 4;
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.storage === null;
  }

  /** Overwrites the contents from the CPU. */
  write(data: Float32Array): void {
    if (data.length !== this.size)
      throw new RangeError(`Tensor.write: ${data.length} values for ${this.size} elements`);
    this.engine.writeBuffer(this.buffer, data);
  }

  /** Copies the contents of another tensor of the same size (in stream order). */
  copyFrom(src: Tensor): void {
    if (src.size !== this.size)
      throw new RangeError(`Tensor.copyFrom: ${shapeStr(src.shape)} into ${shapeStr(this.shape)}`);
    this.engine.copyBuffer(src.buffer, 0, this.buffer, 0, this.byteLength);
  }

  /** A view with another shape of the same size, sharing storage. */
  reshape(shape: readonly number[]): Tensor {
    if (sizeOf(shape) !== this.size) throw new RangeError(`reshape: ${shapeStr(this.shape)} to ${shapeStr(shape)}`);
    const storage = this.storage!;
    storage.refs++;
    const t = new Tensor(this.engine, shape, storage);
    t.requiresGrad = false;
    return t;
  }

  async data(): Promise<Float32Array> {
    return new Float32Array(await this.engine.read(this.buffer, this.byteLength));
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new RangeError(`item(): tensor has ${this.size} elements`);
    return (await this.data())[0];
  }

  retain(): this {
    if (!this.storage) throw new Error('retain() after dispose');
    this.refs++;
    return this;
  }

  release(): void {
    if (this.refs <= 0) throw new Error(`tensor ${this.label ?? this.id} released more often than retained`);
    if (--this.refs === 0) {
      this.storage!.release();
      this.storage = null;
    }
  }

  /** Drops the creator's reference (idempotent). Disposes the gradient too. */
  dispose(): void {
    if (this.ownerDropped) return;
    this.ownerDropped = true;
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
    this.release();
  }

  toString(): string {
    return `Tensor(${this.label ?? this.id} ${shapeStr(this.shape)})`;
  }
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`invalid shape ${shapeStr(shape)}`);
    n *= d;
  }
  return n;
}
