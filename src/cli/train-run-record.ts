/**
 * The bookkeeping of a training run beside its model file: the files' names, what the run was trained on
 * (hashes of the style image, the data list and the loss network, checked when it resumes), the loss log and
 * the sessions recovered from it, and the lineage of a model a run starts from.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { decodeHistory, type TrainConfig, type TrainingSession, type TrainProvenance } from '../models/checkpoint.js';
import type { LossRecord } from '../models/loss-curve.js';
import { HISTORY_KEY, type ModelMetadata } from '../models/model-file.js';
import { readSafetensors } from '../models/safetensors.js';
import { dataListText } from '../models/sample-order.js';
import { UsageError } from './args.js';
import { appendOutputFile, fileSha256, writeOutputFile } from './files.js';

export const MODEL_EXTENSION = '.safetensors';

/** Files written beside --out. */
export function trainPaths(out: string): { checkpoint: string; log: string; curve: string; sample: string } {
  const base = out.toLowerCase().endsWith(MODEL_EXTENSION) ? out.slice(0, -MODEL_EXTENSION.length) : out;
  return {
    checkpoint: `${base}.ckpt.safetensors`,
    log: `${base}.log.jsonl`,
    curve: `${base}.loss.svg`,
    sample: `${base}.sample.png`,
  };
}

/** SHA-256 of the data list (dataListText: each photo's path relative to --data and its size in bytes). */
export function dataListSha256(dataDir: string, files: readonly string[]): string {
  const size = (f: string): number => {
    try {
      return statSync(f).size;
    } catch {
      return -1; // gone since it was listed: the loader reports it when it comes up
    }
  };
  const entries = files.map((f) => ({ path: relative(dataDir, f).split(sep).join('/'), size: size(f) }));
  return createHash('sha256').update(dataListText(entries)).digest('hex');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** What a run trains on: the hashes of the style image's bytes, the data list and the loss network's file. */
export function trainProvenance(
  styleBytes: Uint8Array,
  dataDir: string,
  files: readonly string[],
  vggPath: string,
): TrainProvenance {
  return {
    styleSha256: sha256(styleBytes),
    dataSha256: dataListSha256(dataDir, files),
    vggSha256: fileSha256(vggPath, 'VGG weights'),
  };
}

/**
 * A resumed run trains on what it started with: the style image and the data list must hash as the
 * checkpoint records. A checkpoint written before the hashes were recorded gets a warning instead.
 */
export function checkResumeInputs(
  o: { style: string; data: string; vgg: string },
  c: TrainConfig,
  now: TrainProvenance,
  checkpoint: string,
  log: (line: string) => void,
): void {
  if (c.vggSha256 === undefined) {
    log(
      `warning: ${checkpoint} does not record which loss network (--vgg) it was trained with (an older checkpoint), so --vgg cannot be checked; it is recorded from now on`,
    );
  } else if (c.vggSha256 !== now.vggSha256) {
    throw new UsageError(
      `--vgg ${o.vgg} is not the loss network this run was trained with (sha256 ${now.vggSha256.slice(0, 12)}…, the checkpoint's ${c.vggSha256.slice(0, 12)}…): ` +
        'another VGG file gives other losses, so the run would not continue as it was; give the same --vgg, or use another --out for a new run',
    );
  }
  if (c.styleSha256 === undefined || c.dataSha256 === undefined) {
    log(
      `warning: ${checkpoint} does not record which style image and data it was trained on (an older checkpoint), so --style and --data cannot be checked; they are recorded from now on`,
    );
    return;
  }
  if (c.styleSha256 !== now.styleSha256) {
    throw new UsageError(
      `--style ${o.style} is not the image this run was trained on (sha256 ${now.styleSha256.slice(0, 12)}…, the checkpoint's ${c.styleSha256.slice(0, 12)}…): ` +
        'a resumed run keeps its style; use another --out for a new run',
    );
  }
  if (c.dataSha256 !== now.dataSha256) {
    throw new UsageError(
      `--data ${o.data} does not hold the photos this run was trained on (its list of names and sizes differs from the checkpoint's): ` +
        'a resumed run keeps its data; restore the folder or use another --out for a new run',
    );
  }
}

/** The loss log's records up to a step (a checkpoint's); a line cut short by a crash is dropped. */
export function readLog(path: string, upToStep: number): LossRecord[] {
  if (!existsSync(path)) return [];
  const records: LossRecord[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as LossRecord;
      if (typeof r.step === 'number' && r.step <= upToStep) records.push(r);
    } catch {
      // A line cut short by a crash: dropped.
    }
  }
  return records;
}

/**
 * The sessions of a run whose checkpoint predates the session record, recovered from its loss log: each
 * session's clock starts at zero, so a record whose `seconds` is below its predecessor's starts a new one.
 */
export function sessionsFromLog(records: readonly LossRecord[]): TrainingSession[] {
  const sessions: TrainingSession[] = [];
  let previous = Infinity;
  for (const r of records) {
    const seconds = r.seconds ?? 0;
    if (seconds < previous || sessions.length === 0) {
      sessions.push({
        firstStep: r.step,
        lastStep: r.step,
        seconds,
        command: null,
        note: 'reconstructed from the loss log (the checkpoint predates the session record)',
      });
    }
    const current = sessions[sessions.length - 1];
    current.lastStep = r.step;
    current.seconds = seconds;
    previous = seconds;
  }
  return sessions;
}

/**
 * The losses per step (NAME.log.jsonl). Nothing is written before the first step finishes, so that a run
 * that fails to start leaves no log (and a resumed one leaves the old log as it was); the first write
 * replaces the file with the records up to the checkpoint plus the new step, later ones append.
 */
export class LossLog {
  private started = false;

  constructor(
    readonly path: string,
    /** Every record so far (the loss curve's points). */
    readonly records: LossRecord[],
  ) {}

  add(record: LossRecord, seconds: number): void {
    this.records.push(record);
    const line = JSON.stringify({ ...record, seconds: +seconds.toFixed(3) }) + '\n';
    if (this.started) {
      appendOutputFile(this.path, line);
    } else {
      const before = this.records
        .slice(0, -1)
        .map((r) => JSON.stringify(r) + '\n')
        .join('');
      writeOutputFile(this.path, before + line);
      this.started = true;
    }
  }
}

/** What a new run records of the model it starts from: the file, and the run that trained it when it was ours. */
export function initLineage(init: {
  path: string;
  bytes: Uint8Array;
  metadata: ModelMetadata;
}): NonNullable<TrainConfig['init']> {
  const m = init.metadata;
  const history = decodeHistory(readSafetensors(init.bytes, init.path).metadata[HISTORY_KEY], init.path);
  return {
    source: init.path,
    architecture: m.architecture.name,
    sha256: sha256(init.bytes),
    ...(m.step !== undefined ? { step: m.step } : {}),
    ...(m.training ? { training: m.training } : {}),
    ...(history.length ? { history } : {}),
  };
}
