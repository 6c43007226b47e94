// Where a browser training run keeps what it needs to continue after a reload: its inputs (style image,
// photos, loss network), its description and its latest checkpoint, in the origin private file system (OPFS),
// or in memory where the browser has none (then a run survives a lost GPU, not a reload). No Node APIs.
import type { LossRecord } from '../models/loss-curve.js';

/** The run's files. A run is complete once `meta` is written (last, after the inputs). */
export interface RunStore {
  /** 'opfs': survives reloads; 'memory': this page only. */
  readonly kind: 'opfs' | 'memory';
  readMeta(): Promise<unknown | null>;
  /** Replaces any previous run: the inputs first, then `meta`. */
  writeInputs(
    meta: unknown,
    inputs: { style: Blob; vgg: Uint8Array; photos: readonly Blob[] },
    onProgress?: (done: number, total: number) => void,
  ): Promise<void>;
  readInputs(photoCount: number): Promise<{ style: Blob; vgg: Uint8Array; photos: Blob[] }>;
  /** The loss records up to the checkpoint's step, then the checkpoint (each file replaced whole, atomically). */
  writeCheckpoint(checkpoint: Uint8Array, records: readonly LossRecord[]): Promise<void>;
  readCheckpoint(): Promise<{ bytes: Uint8Array; records: LossRecord[] } | null>;
  clear(): Promise<void>;
}

/** The folder of the origin's private file system that holds the run. */
const RUN_DIR = 'fast-style-train';
const PHOTO_DIR = 'photos';
const FILES = {
  meta: 'run.json',
  style: 'style',
  vgg: 'vgg.safetensors',
  checkpoint: 'checkpoint.safetensors',
  losses: 'losses.json',
};

const photoName = (i: number) => String(i).padStart(6, '0');

async function writeFile(dir: FileSystemDirectoryHandle, name: string, data: Blob | Uint8Array | string) {
  const handle = await dir.getFileHandle(name, { create: true });
  // The new bytes go to a swap file that replaces the old one on close: a reload mid-write keeps the old file.
  const w = await handle.createWritable();
  try {
    await w.write(data as FileSystemWriteChunkType);
    await w.close();
  } catch (e) {
    await w.abort().catch(() => undefined);
    throw e;
  }
}

async function readFile(dir: FileSystemDirectoryHandle, name: string): Promise<File | null> {
  try {
    return await (await dir.getFileHandle(name)).getFile();
  } catch (e) {
    if ((e as DOMException).name === 'NotFoundError') return null;
    throw e;
  }
}

/** Whether this browser gives the page an origin private file system it can write files to. */
export function opfsAvailable(): boolean {
  return (
    typeof navigator !== 'undefined' &&
    typeof navigator.storage?.getDirectory === 'function' &&
    typeof FileSystemFileHandle !== 'undefined' &&
    'createWritable' in FileSystemFileHandle.prototype
  );
}

export class OpfsRunStore implements RunStore {
  readonly kind = 'opfs';

  private constructor(private readonly dir: FileSystemDirectoryHandle) {}

  static async open(): Promise<OpfsRunStore> {
    if (!opfsAvailable()) throw new Error('this browser gives the page no file storage (origin private file system)');
    const root = await navigator.storage.getDirectory();
    return new OpfsRunStore(await root.getDirectoryHandle(RUN_DIR, { create: true }));
  }

  async readMeta(): Promise<unknown | null> {
    const f = await readFile(this.dir, FILES.meta);
    return f ? JSON.parse(await f.text()) : null;
  }

  async writeInputs(
    meta: unknown,
    inputs: { style: Blob; vgg: Uint8Array; photos: readonly Blob[] },
    onProgress?: (done: number, total: number) => void,
  ): Promise<void> {
    await this.clear();
    await writeFile(this.dir, FILES.style, inputs.style);
    await writeFile(this.dir, FILES.vgg, inputs.vgg);
    const photos = await this.dir.getDirectoryHandle(PHOTO_DIR, { create: true });
    for (let i = 0; i < inputs.photos.length; i++) {
      await writeFile(photos, photoName(i), inputs.photos[i]);
      onProgress?.(i + 1, inputs.photos.length);
    }
    await writeFile(this.dir, FILES.meta, JSON.stringify(meta));
  }

  async readInputs(photoCount: number): Promise<{ style: Blob; vgg: Uint8Array; photos: Blob[] }> {
    const missing = (what: string): never => {
      throw new Error(`the saved run is incomplete: its ${what} is missing from the browser's storage`);
    };
    const style = (await readFile(this.dir, FILES.style)) ?? missing('style image');
    const vgg = (await readFile(this.dir, FILES.vgg)) ?? missing('loss network');
    const dir = await this.dir.getDirectoryHandle(PHOTO_DIR).catch(() => missing('photos'));
    const photos: Blob[] = [];
    for (let i = 0; i < photoCount; i++) photos.push((await readFile(dir, photoName(i))) ?? missing(`photo ${i + 1}`));
    return { style, vgg: new Uint8Array(await vgg.arrayBuffer()), photos };
  }

  async writeCheckpoint(checkpoint: Uint8Array, records: readonly LossRecord[]): Promise<void> {
    await writeFile(this.dir, FILES.losses, JSON.stringify(records));
    await writeFile(this.dir, FILES.checkpoint, checkpoint);
  }

  async readCheckpoint(): Promise<{ bytes: Uint8Array; records: LossRecord[] } | null> {
    const f = await readFile(this.dir, FILES.checkpoint);
    if (!f) return null;
    const losses = await readFile(this.dir, FILES.losses);
    const records = losses ? (JSON.parse(await losses.text()) as LossRecord[]) : [];
    return { bytes: new Uint8Array(await f.arrayBuffer()), records };
  }

  async clear(): Promise<void> {
    const names: string[] = [];
    for await (const name of (this.dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
    // run.json first: a clear cut short leaves no run that looks complete.
    names.sort((a, b) => (a === FILES.meta ? -1 : b === FILES.meta ? 1 : 0));
    for (const name of names) await this.dir.removeEntry(name, { recursive: true });
  }
}

/** The same in memory, for browsers without OPFS: a run survives a lost GPU (a new engine resumes it), not a reload. */
export class MemoryRunStore implements RunStore {
  readonly kind = 'memory';
  private meta: unknown = null;
  private inputs: { style: Blob; vgg: Uint8Array; photos: Blob[] } | null = null;
  private checkpoint: { bytes: Uint8Array; records: LossRecord[] } | null = null;

  async readMeta(): Promise<unknown | null> {
    return this.meta;
  }

  async writeInputs(meta: unknown, inputs: { style: Blob; vgg: Uint8Array; photos: readonly Blob[] }): Promise<void> {
    this.inputs = { ...inputs, photos: [...inputs.photos] };
    this.checkpoint = null;
    this.meta = meta;
  }

  async readInputs(): Promise<{ style: Blob; vgg: Uint8Array; photos: Blob[] }> {
    if (!this.inputs) throw new Error('no saved run');
    return this.inputs;
  }

  async writeCheckpoint(checkpoint: Uint8Array, records: readonly LossRecord[]): Promise<void> {
    this.checkpoint = { bytes: checkpoint, records: [...records] };
  }

  async readCheckpoint(): Promise<{ bytes: Uint8Array; records: LossRecord[] } | null> {
    return this.checkpoint;
  }

  async clear(): Promise<void> {
    this.meta = null;
    this.inputs = null;
    this.checkpoint = null;
  }
}
