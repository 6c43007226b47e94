import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SampleOrder, type CropScale } from '../models/sample-order.js';
import { runDataJob, type DataJob, type DataResult } from './data-sample.js';
import { IMAGE_EXTENSIONS } from './image-io.js';

/** Files one decoding job may try before reporting back (a replacement for each unreadable one). */
const CANDIDATES_PER_JOB = 8;

/** Image files (JPEG, PNG, WebP, AVIF, HEIC, TIFF, GIF) under `dir`, recursively, sorted (so that a seed gives the same order everywhere). */
export function listImages(dir: string, onWarning?: (message: string) => void): string[] {
  const out: string[] = [];
  // Symlinks are followed, to files and to folders; a folder reached twice (two links to it, a link to a
  // parent) is walked once. A link to nothing or a loop of links is skipped with a warning, as an
  // unreadable photo is.
  const seen = new Set<string>();
  const walk = (d: string): void => {
    const st = statSync(d);
    if (seen.has(`${st.dev}:${st.ino}`)) return;
    seen.add(`${st.dev}:${st.ino}`);
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isSymbolicLink()) {
        let target: ReturnType<typeof statSync>;
        try {
          target = statSync(p);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          onWarning?.(
            `skipping ${p}: ${code === 'ELOOP' ? 'a loop of symbolic links' : code === 'ENOENT' ? 'a symbolic link to a missing file' : `cannot follow the symbolic link (${code})`}`,
          );
          continue;
        }
        if (target.isDirectory()) walk(p);
        else if (target.isFile() && IMAGE_EXTENSIONS.test(entry.name)) out.push(p);
      } else if (entry.isFile() && IMAGE_EXTENSIONS.test(entry.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

export interface DataLoaderOptions {
  size: number;
  batch: number;
  seed: number;
  /** How photos are scaled before cropping (default `shorter-side`, the runs that do not record one). */
  cropScale?: CropScale;
  /** Index of the first sample to produce (the trainer's samplesSeen when resuming). */
  start: number;
  /** Images decoded at once (at least 1; 0 counts as 1). */
  workers: number;
  /** Batches prepared ahead. */
  prefetch?: number;
  /** Told once per unreadable file. */
  onWarning?(message: string): void;
}

/**
 * Training batches as RGBA crops, in the order SampleOrder gives for (seed, sample index): deterministic,
 * so a resumed run sees the same data. libvips decodes, resizes and crops on its own threads (off the
 * JavaScript thread, so no worker threads are needed), `workers` images at once, with a few batches in flight. A file
 * that cannot be read is reported once and replaced by the next file of the epoch's order (the same one on
 * every run, since readability belongs to the file); when no file is readable, next() rejects.
 */
export class DataLoader {
  private readonly order: SampleOrder;
  private readonly bad = new Set<string>();
  private readonly concurrency: number;
  private running = 0;
  private readonly queue: { job: DataJob; done: (r: DataResult) => void; failed: (e: unknown) => void }[] = [];
  private readonly pending: Promise<Uint8Array>[] = [];
  private nextSample: number;
  private closed = false;

  constructor(
    readonly files: readonly string[],
    private readonly opts: DataLoaderOptions,
  ) {
    if (files.length === 0) throw new Error('no JPEG, PNG, WebP, AVIF, HEIC, TIFF or GIF images to train on');
    this.order = new SampleOrder(opts.seed, files.length);
    this.nextSample = opts.start;
    this.concurrency = Math.max(1, opts.workers);
    const ahead = (opts.prefetch ?? 2) * opts.batch;
    for (let i = 0; i < ahead; i++) this.enqueue();
  }

  /** The next batch: `batch` RGBA crops of size² pixels. */
  async next(): Promise<Uint8Array[]> {
    if (this.closed) throw new Error('DataLoader is closed');
    const batch: Uint8Array[] = [];
    for (let i = 0; i < this.opts.batch; i++) {
      batch.push(await this.pending.shift()!);
      this.enqueue();
    }
    return batch;
  }

  /** Images decoded at once. */
  get threadCount(): number {
    return this.concurrency;
  }

  /** Stops starting decodes; the ones in flight finish on libvips' threads and are dropped. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private enqueue(): void {
    const sample = this.sample(this.nextSample++);
    // Prefetched samples may fail before anyone awaits them (or never be awaited, after close): next()
    // still sees the rejection; this only keeps it from being reported as unhandled.
    sample.catch(() => undefined);
    this.pending.push(sample);
  }

  private async sample(index: number): Promise<Uint8Array> {
    const choice = this.order.at(index);
    // Replacements for an unreadable file: the files after it in this epoch's order, a few at a time.
    const n = this.files.length;
    for (let offset = 0; offset < n; offset += CANDIDATES_PER_JOB) {
      const candidates: string[] = [];
      for (let k = offset; k < Math.min(n, offset + CANDIDATES_PER_JOB); k++) {
        const file = this.order.fileFor(index, k);
        if (!this.bad.has(this.files[file])) candidates.push(this.files[file]);
      }
      if (candidates.length === 0) continue;
      const result = await this.run({
        id: index,
        candidates,
        size: this.opts.size,
        flip: choice.flip,
        cropX: choice.cropX,
        cropY: choice.cropY,
        scale: choice.scale,
        cropScale: this.opts.cropScale ?? 'shorter-side',
      });
      for (const f of result.failed) {
        if (!this.bad.has(f.path)) {
          this.bad.add(f.path);
          this.opts.onWarning?.(`skipping ${f.reason}`);
        }
      }
      if (result.pixels) return result.pixels;
    }
    throw new Error(
      `none of the ${n} images can be read (${[...this.bad].slice(0, 3).join(', ')}${n > 3 ? ', …' : ''})`,
    );
  }

  private run(job: DataJob): Promise<DataResult> {
    return new Promise((done, failed) => {
      this.queue.push({ job, done, failed });
      this.pump();
    });
  }

  private pump(): void {
    while (!this.closed && this.running < this.concurrency && this.queue.length > 0) {
      const { job, done, failed } = this.queue.shift()!;
      this.running++;
      runDataJob(job)
        .then(done, failed)
        .finally(() => {
          this.running--;
          this.pump();
        });
    }
  }
}
