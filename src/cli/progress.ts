/** Progress lines of the long-running commands: durations, rates and the Gatys iteration reporter. */
import type { GatysProgress } from '../models/gatys.js';

/** 75 s → `1m15s`, 4000 s → `1h06m`; `?` before a rate is known. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** One progress line: iteration, evaluations, rate, ETA and the losses. */
function progressLine(p: GatysProgress, rate: number): string {
  const l = p.losses;
  return (
    `iter ${p.iteration}/${p.total}  evals ${p.evaluations}  ${rate.toFixed(2)} it/s  ETA ${formatDuration((p.total - p.iteration) / rate)}  ` +
    `content ${l.content.toExponential(3)}  style ${l.style.toExponential(3)}  tv ${l.tv.toExponential(3)}  total ${l.total.toExponential(3)}`
  );
}

/** Calls `log` with a progress line: rewritten in place on a terminal, else the first, every 10th and the last. */
export function progressReporter(interactive: boolean, log: (line: string) => void): (p: GatysProgress) => void {
  const started = performance.now();
  let rate = 0;
  let last = started;
  let lastIteration = 0;
  return (p) => {
    const now = performance.now();
    const dt = (now - last) / 1000 / Math.max(1, p.iteration - lastIteration);
    last = now;
    lastIteration = p.iteration;
    // A smoothed rate: the first iterations include kernel compilation.
    rate = rate === 0 ? 1 / dt : 0.8 * rate + 0.2 / dt;
    const line = progressLine(p, rate);
    if (interactive) {
      process.stderr.write(`\r${line}\x1b[K`);
      if (p.iteration === p.total) process.stderr.write('\n');
    } else if (p.iteration === 1 || p.iteration % 10 === 0 || p.iteration === p.total) {
      log(line);
    }
  };
}
