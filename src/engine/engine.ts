import { BufferUsage, MapMode } from './constants.js';
import { BufferPool, type PoolStats } from './buffer-pool.js';
import { GpuError, NoAdapterError } from './errors.js';
import { kernelKey, type Dispatch, type Kernel } from './kernel.js';
import type { Tensor } from './tensor.js';

export interface EngineOptions {
  powerPreference?: GPUPowerPreference;
  /**
   * Accept a fallback (software) adapter: Chromium's SwiftShader, or Mesa's llvmpipe (lavapipe), which Dawn and
   * wgpu (Deno) both flag as one. createNodeEngine allows it by default; in browsers and Deno pass true.
   */
  allowFallbackAdapter?: boolean;
  /** Ask for a WebGPU compatibility-mode adapter (OpenGL ES backends). */
  compatibilityMode?: boolean;
  /** Push an error scope around every dispatch so that GPU errors name the exact op (slow; for debugging). */
  debug?: boolean;
  /** Backend name to report when the adapter does not say (Dawn's adapter info has no backend field). */
  backendHint?: string;
  /**
   * Lower limits than the device's for what runs on this engine to plan with and keep within: tests of the
   * paths for small devices on a large one. A value above the device's has no effect.
   */
  limits?: Partial<EngineLimits>;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
  isFallbackAdapter: boolean;
  features: string[];
  limits: Record<string, number>;
}

/**
 * A choice made per engine by code above it, e.g. which kernel variant an op runs: the engine stores the
 * values by key without knowing what they mean (it knows nothing of ops), so that tests and benchmarks pick
 * on their own engine instead of patching module state. An engine not given a value reads the default.
 */
export interface ChoiceKey<T> {
  readonly defaultValue: T;
}

export function choiceKey<T>(defaultValue: T): ChoiceKey<T> {
  return { defaultValue };
}

/** Limits the kernels want as large as the adapter allows. */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

type LimitName = (typeof WANTED_LIMITS)[number];

/** The device limits that the engine and the kernels plan with. */
export type EngineLimits = Readonly<Record<LimitName, number>>;

function engineLimits(device: GPUSupportedLimits, caps: Partial<EngineLimits> = {}): EngineLimits {
  const limits = {} as Record<LimitName, number>;
  for (const name of WANTED_LIMITS) limits[name] = Math.min(device[name], caps[name] ?? Infinity);
  return limits;
}

const OPTIONAL_FEATURES: GPUFeatureName[] = ['shader-f16', 'timestamp-query', 'subgroups' as GPUFeatureName];

/** Uniform params of all dispatches between two submits live in one buffer, one 256-byte slot each. */
const PARAM_SLOT_BYTES = 256;
const PARAM_SLOTS = 4096;

const NO_ADAPTER_HELP =
  'No WebGPU adapter found. On Linux without a GPU install a software Vulkan driver: ' +
  '`sudo scripts/setup-software-gpu.sh` (Mesa lavapipe >= 24 from bookworm-backports). ' +
  'With a GPU, make sure its Vulkan driver (ICD) is installed: `vulkaninfo --summary` should list it.';

interface Scope {
  tensors: Set<Tensor>;
}

/** One profiled dispatch: its label, GPU time (timestamp queries around its own compute pass) and FLOPs. */
export interface ProfiledDispatch {
  label: string;
  ms: number;
  flops: number;
}

/** Dispatches timed per submit before the query set is resolved (two timestamps each). */
const PROFILE_CAPACITY = 2048;

interface Profiler {
  querySet: GPUQuerySet;
  resolve: GPUBuffer;
  /** Dispatches recorded since the last resolve. */
  pending: { label: string; flops: number }[];
  readbacks: Promise<void>[];
  done: ProfiledDispatch[];
}

/**
 * The WebGPU device and everything that talks to it: buffer pool, pipeline cache, command recording and
 * submission, readback, error reporting and tensor scopes. It knows nothing of ops.
 */
export class Engine {
  readonly pool: BufferPool;
  readonly limits: EngineLimits;
  readonly features: ReadonlySet<string>;
  private pipelines = new Map<string, GPUComputePipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pendingCommands = 0;
  private paramsBuffer: GPUBuffer;
  private paramsMirror = new Uint8Array(PARAM_SLOTS * PARAM_SLOT_BYTES);
  private paramSlotsUsed = 0;
  private errors: string[] = [];
  private lostMessage: string | null = null;
  private scopes: Scope[] = [];
  private destroyed = false;
  private profiler: Profiler | null = null;
  private choices = new Map<ChoiceKey<unknown>, unknown>();
  /** Counters for benchmarks and tests. */
  readonly counters = { dispatches: 0, submits: 0, readbacks: 0, pipelinesCreated: 0 };

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterSummary,
    private readonly options: EngineOptions,
  ) {
    this.limits = engineLimits(device.limits, options.limits);
    this.features = new Set([...device.features] as string[]);
    this.pool = new BufferPool(device, Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize));
    this.paramsBuffer = device.createBuffer({
      size: PARAM_SLOTS * PARAM_SLOT_BYTES,
      usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
      label: 'engine.params',
    });
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.errors.push(ev.error.message);
    };
    device.lost.then((info) => {
      if (!this.destroyed) this.lostMessage = `GPU device lost (${info.reason}): ${info.message}`;
    });
  }

  /** Opens an adapter and device on `gpu` (Node: the `webgpu` package's GPU; browsers: navigator.gpu). */
  static async create(gpu: GPU | undefined, options: EngineOptions = {}): Promise<Engine> {
    if (!gpu)
      throw new NoAdapterError('WebGPU is not available in this environment (no navigator.gpu). ' + NO_ADAPTER_HELP);
    const request: GPURequestAdapterOptions & { featureLevel?: string } = {
      powerPreference: options.powerPreference ?? 'high-performance',
    };
    if (options.compatibilityMode) request.featureLevel = 'compatibility';
    const adapter = await gpu.requestAdapter(request);
    if (!adapter) throw new NoAdapterError(NO_ADAPTER_HELP);
    const info = adapter.info;
    const isFallback = Boolean(
      (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
        (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
    );
    if (isFallback && !options.allowFallbackAdapter) {
      throw new NoAdapterError(
        `Only a fallback (software) adapter is available (${info.description || info.device || 'unknown'}); ` +
          'pass allowFallbackAdapter: true to use it anyway.',
      );
    }
    const requiredLimits: Record<string, number> = {};
    for (const name of WANTED_LIMITS) {
      const v = (adapter.limits as unknown as Record<string, number>)[name];
      if (typeof v === 'number') requiredLimits[name] = v;
    }
    const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'fast-style-webgpu' });
    const limits: Record<string, number> = {};
    for (const name of WANTED_LIMITS) limits[name] = (device.limits as unknown as Record<string, number>)[name];
    const summary: AdapterSummary = {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      backend: (info as { backend?: string }).backend || guessBackend(info) || options.backendHint || '',
      isFallbackAdapter: isFallback,
      features: [...device.features].map(String).sort(),
      limits,
    };
    return new Engine(device, summary, options);
  }

  /** A one-line description of the adapter, for logs and benchmark tables. */
  describe(): string {
    const a = this.adapter;
    const name = a.description || [a.vendor, a.architecture, a.device].filter(Boolean).join(' ') || 'unknown adapter';
    return `${name}${a.backend ? ` (${a.backend})` : ''}${a.isFallbackAdapter ? ' [fallback]' : ''}`;
  }

  /** This engine's value of a choice: its default unless setChoice gave another. */
  choice<T>(key: ChoiceKey<T>): T {
    return this.choices.has(key) ? (this.choices.get(key) as T) : key.defaultValue;
  }

  /** Sets a choice for what runs on this engine from now on; returns the value it replaces (to restore it). */
  setChoice<T>(key: ChoiceKey<T>, value: T): T {
    const old = this.choice(key);
    this.choices.set(key, value);
    return old;
  }

  // ---------------------------------------------------------------- pipelines

  pipeline(kernel: Kernel): GPUComputePipeline {
    const key = kernelKey(kernel);
    let p = this.pipelines.get(key);
    if (p) return p;
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code: kernel.code, label: kernel.name });
    p = this.device.createComputePipeline({
      layout: 'auto',
      label: key,
      compute: {
        module,
        entryPoint: kernel.entryPoint ?? 'main',
        constants: kernel.constants as Record<string, number>,
      },
    });
    this.device.popErrorScope().then((err) => {
      if (err) this.errors.push(`while building kernel ${key}: ${err.message}`);
    });
    this.pipelines.set(key, p);
    this.counters.pipelinesCreated++;
    return p;
  }

  // ---------------------------------------------------------------- recording

  dispatch(d: Dispatch): void {
    this.assertUsable();
    const pipeline = this.pipeline(d.kernel);
    const entries: GPUBindGroupEntry[] = [];
    let binding = 0;
    if (d.params) {
      if (d.params.byteLength > PARAM_SLOT_BYTES)
        throw new RangeError(`${d.kernel.name}: params exceed ${PARAM_SLOT_BYTES} bytes`);
      if (this.paramSlotsUsed === PARAM_SLOTS) this.flush();
      const offset = this.paramSlotsUsed++ * PARAM_SLOT_BYTES;
      this.paramsMirror.set(new Uint8Array(d.params), offset);
      entries.push({ binding: binding++, resource: { buffer: this.paramsBuffer, offset, size: d.params.byteLength } });
    }
    for (const buffer of d.buffers) {
      if (buffer) entries.push({ binding, resource: { buffer } });
      binding++;
    }
    const label = d.label ?? d.kernel.name;
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label });
    const [x, y = 1, z = 1] = d.workgroups;
    const maxWg = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg) {
      throw new RangeError(
        `${label}: dispatch of [${x}, ${y}, ${z}] workgroups exceeds the limit ${maxWg} per dimension`,
      );
    }
    if (x === 0 || y === 0 || z === 0) return;
    if (this.options.debug) this.device.pushErrorScope('validation');
    const prof = this.profiler;
    if (prof && prof.pending.length === PROFILE_CAPACITY) this.flush();
    const pass = prof ? this.openTimedPass(prof) : this.openPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (prof) {
      prof.pending.push({ label, flops: d.flops ?? 0 });
      this.closePass();
    }
    this.pendingCommands++;
    this.counters.dispatches++;
    if (this.options.debug) {
      this.device.popErrorScope().then((err) => {
        if (err) this.errors.push(`${label}: ${err.message}`);
      });
    }
  }

  /** Encodes a buffer copy in stream order with the dispatches. */
  copyBuffer(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.assertUsable();
    this.closePass();
    this.openEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.pendingCommands++;
  }

  /** Zero-fills a buffer range in stream order. */
  clearBuffer(buffer: GPUBuffer, offset = 0, bytes?: number): void {
    this.assertUsable();
    this.closePass();
    this.openEncoder().clearBuffer(buffer, offset, bytes);
    this.pendingCommands++;
  }

  /**
   * Writes data into a buffer. queue.writeBuffer runs before any unsubmitted command, so recorded work is
   * submitted first: a pooled buffer may still be read by it.
   */
  writeBuffer(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    this.assertUsable();
    if (this.pendingCommands > 0) this.flush();
    this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Submits everything recorded so far as one command buffer. */
  flush(): void {
    this.assertUsable();
    this.closePass();
    if (!this.encoder) return;
    if (this.paramSlotsUsed > 0) {
      this.device.queue.writeBuffer(
        this.paramsBuffer,
        0,
        this.paramsMirror.buffer,
        0,
        this.paramSlotsUsed * PARAM_SLOT_BYTES,
      );
      this.paramSlotsUsed = 0;
    }
    const readback = this.profiler?.pending.length ? this.resolveProfile(this.profiler, this.encoder) : null;
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.pendingCommands = 0;
    this.counters.submits++;
    readback?.();
  }

  // ---------------------------------------------------------------- profiling

  /**
   * Times every dispatch from now until `stopProfile()` on the GPU: each runs in its own compute pass with
   * timestamp writes at its start and end (needs the timestamp-query feature; see `canProfile`). Separate
   * passes serialise dispatches that the driver might otherwise overlap, so a profiled run is slower than an
   * unprofiled one; the table says where the time goes, not the step time.
   */
  startProfile(): void {
    if (!this.canProfile) throw new GpuError('startProfile: this device has no timestamp-query feature');
    if (this.profiler) throw new GpuError('startProfile: a profile is already running');
    this.flush();
    this.profiler = {
      querySet: this.device.createQuerySet({ type: 'timestamp', count: 2 * PROFILE_CAPACITY, label: 'engine.profile' }),
      resolve: this.device.createBuffer({
        size: 16 * PROFILE_CAPACITY,
        usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC,
        label: 'engine.profile.resolve',
      }),
      pending: [],
      readbacks: [],
      done: [],
    };
  }

  /** Ends the profile started by `startProfile()` and returns every dispatch timed, in order. */
  async stopProfile(): Promise<ProfiledDispatch[]> {
    const prof = this.profiler;
    if (!prof) throw new GpuError('stopProfile: no profile is running');
    this.flush();
    this.profiler = null;
    try {
      await Promise.all(prof.readbacks);
      this.throwPendingErrors();
      return prof.done;
    } finally {
      prof.querySet.destroy();
      prof.resolve.destroy();
    }
  }

  get canProfile(): boolean {
    return this.features.has('timestamp-query');
  }

  private openTimedPass(prof: Profiler): GPUComputePassEncoder {
    this.closePass();
    const i = prof.pending.length;
    this.pass = this.openEncoder().beginComputePass({
      timestampWrites: { querySet: prof.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
    });
    return this.pass;
  }

  /** Encodes the resolve of this submit's timestamps; the returned function (called after the submit) reads them. */
  private resolveProfile(prof: Profiler, encoder: GPUCommandEncoder): () => void {
    const entries = prof.pending;
    prof.pending = [];
    const bytes = 16 * entries.length;
    const staging = this.device.createBuffer({
      size: bytes,
      usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
      label: 'engine.profile.readback',
    });
    encoder.resolveQuerySet(prof.querySet, 0, 2 * entries.length, prof.resolve, 0);
    encoder.copyBufferToBuffer(prof.resolve, 0, staging, 0, bytes);
    return () => {
      prof.readbacks.push(
        staging.mapAsync(MapMode.READ).then(() => {
          const t = new BigInt64Array(staging.getMappedRange().slice(0));
          staging.destroy();
          entries.forEach((e, i) =>
            prof.done.push({ label: e.label, flops: e.flops, ms: Number(t[2 * i + 1] - t[2 * i]) / 1e6 }),
          );
        }),
      );
    };
  }

  /** Flushes and waits until the GPU has finished; throws the first GPU error seen since the last check. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwPendingErrors();
  }

  /** Copies `bytes` from `buffer` back to the CPU (flushes the recorded work first). */
  async read(buffer: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    this.assertUsable();
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({
      size,
      usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
      label: 'engine.readback',
    });
    try {
      this.closePass();
      this.openEncoder().copyBufferToBuffer(buffer, offset, staging, 0, size);
      this.pendingCommands++;
      this.flush();
      this.counters.readbacks++;
      await staging.mapAsync(MapMode.READ);
      this.throwPendingErrors();
      return staging.getMappedRange().slice(0, bytes);
    } finally {
      staging.destroy();
    }
  }

  // ---------------------------------------------------------------- scopes

  /** @internal Called by Tensor on creation. */
  track(t: Tensor): void {
    const scope = this.scopes[this.scopes.length - 1];
    if (scope) scope.tensors.add(t);
  }

  /** Removes a tensor from every scope: it lives until disposed explicitly. */
  keep<T extends Tensor>(t: T): T {
    for (const s of this.scopes) s.tensors.delete(t);
    return t;
  }

  /** Runs fn; disposes every tensor it created except those in its result (which move to the outer scope). */
  scope<T>(fn: () => T): T {
    this.scopes.push({ tensors: new Set() });
    let result: T;
    try {
      result = fn();
    } catch (e) {
      this.endScope(undefined);
      throw e;
    }
    if (result instanceof Promise) throw new Error('engine.scope: use scopeAsync for async functions');
    this.endScope(result);
    return result;
  }

  /** Like scope, for one async flow at a time (scopes are a stack shared by the engine). */
  async scopeAsync<T>(fn: () => Promise<T>): Promise<T> {
    this.scopes.push({ tensors: new Set() });
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      this.endScope(undefined);
      throw e;
    }
    this.endScope(result);
    return result;
  }

  private endScope(result: unknown): void {
    const scope = this.scopes.pop()!;
    const survivors = new Set<Tensor>();
    collectTensors(result, survivors);
    const outer = this.scopes[this.scopes.length - 1];
    for (const t of scope.tensors) {
      if (survivors.has(t)) outer?.tensors.add(t);
      else t.dispose();
    }
  }

  // ---------------------------------------------------------------- lifetime

  poolStats(): PoolStats {
    return this.pool.stats();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.pool.destroy();
    this.paramsBuffer.destroy();
    this.device.destroy();
  }

  private throwPendingErrors(): void {
    if (this.lostMessage) throw new GpuError(this.lostMessage);
    if (this.errors.length) {
      const msg = this.errors.join('\n');
      this.errors = [];
      throw new GpuError(msg);
    }
  }

  private assertUsable(): void {
    if (this.destroyed) throw new GpuError('engine was destroyed');
    if (this.lostMessage) throw new GpuError(this.lostMessage);
  }

  private openEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'engine.step' });
    return this.encoder;
  }

  private openPass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.openEncoder().beginComputePass();
    return this.pass;
  }

  private closePass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }
}

/** 1-D work folded into a 2-D grid of workgroups when it exceeds the per-dimension limit. */
export function workgroups1d(engine: Engine, threads: number, workgroupSize: number): [number, number] {
  const groups = Math.ceil(threads / workgroupSize);
  const max = engine.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= max) return [groups, 1];
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y];
}

function guessBackend(info: GPUAdapterInfo): string {
  const d = `${info.description ?? ''} ${info.architecture ?? ''}`.toLowerCase();
  if (d.includes('vulkan')) return 'vulkan';
  if (d.includes('metal')) return 'metal';
  if (d.includes('d3d')) return 'd3d12';
  return '';
}

function collectTensors(v: unknown, out: Set<Tensor>, depth = 0): void {
  if (v == null || typeof v !== 'object' || depth > 4) return;
  if (isTensor(v)) {
    out.add(v);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collectTensors(x, out, depth + 1);
  else if (v instanceof Map) for (const x of v.values()) collectTensors(x, out, depth + 1);
  else if (Object.getPrototypeOf(v) === Object.prototype)
    for (const x of Object.values(v)) collectTensors(x, out, depth + 1);
}

function isTensor(v: object): v is Tensor {
  return (v as { __tensor?: boolean }).__tensor === true;
}
