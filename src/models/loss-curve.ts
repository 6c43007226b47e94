/** A small SVG line chart of the training losses on a log-scale y axis (no dependencies). */

export interface LossRecord {
  step: number;
  content: number;
  style: number;
  tv: number;
  total: number;
  /** Seconds since the session's start (in the log file; each session's clock starts at zero). */
  seconds?: number;
}

const SERIES: { key: keyof Omit<LossRecord, 'step' | 'seconds'>; label: string; colour: string }[] = [
  { key: 'total', label: 'total (weighted)', colour: '#222222' },
  { key: 'content', label: 'content', colour: '#1f77b4' },
  { key: 'style', label: 'style', colour: '#d62728' },
  { key: 'tv', label: 'TV', colour: '#2ca02c' },
];

const W = 720;
const H = 400;
const M = { left: 64, right: 150, top: 28, bottom: 40 };
/** At most this many points per line: longer runs are averaged in buckets (which also smooths them). */
const MAX_POINTS = 600;

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function bucketed(records: readonly LossRecord[]): LossRecord[] {
  if (records.length <= MAX_POINTS) return [...records];
  const size = Math.ceil(records.length / MAX_POINTS);
  const out: LossRecord[] = [];
  for (let i = 0; i < records.length; i += size) {
    const chunk = records.slice(i, i + size);
    const mean = (k: 'content' | 'style' | 'tv' | 'total') => chunk.reduce((s, r) => s + r[k], 0) / chunk.length;
    out.push({
      step: chunk[chunk.length - 1].step,
      content: mean('content'),
      style: mean('style'),
      tv: mean('tv'),
      total: mean('total'),
    });
  }
  return out;
}

export function lossCurveSvg(records: readonly LossRecord[], title = 'training losses'): string {
  const points = bucketed(records.filter((r) => SERIES.every((s) => Number.isFinite(r[s.key]))));
  const positive = points.flatMap((r) => SERIES.map((s) => r[s.key])).filter((v) => v > 0);
  const lo = positive.length ? Math.floor(Math.log10(Math.min(...positive))) : 0;
  const hi = positive.length ? Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...positive)))) : 1;
  const s0 = points.length ? points[0].step : 0;
  const s1 = points.length ? Math.max(s0 + 1, points[points.length - 1].step) : 1;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (step: number) => M.left + ((step - s0) / (s1 - s0)) * pw;
  const y = (v: number) => M.top + (1 - (Math.log10(v) - lo) / (hi - lo)) * ph;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${M.left}" y="18" font-size="14">${escapeXml(title)}</text>`,
  ];
  for (let d = lo; d <= hi; d++) {
    const yy = y(10 ** d).toFixed(1);
    parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${yy}" y2="${yy}" stroke="#dddddd"/>`);
    parts.push(`<text x="${M.left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">1e${d}</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const step = Math.round(s0 + ((s1 - s0) * i) / 4);
    parts.push(`<text x="${x(step).toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle">${step}</text>`);
  }
  parts.push(`<text x="${M.left + pw / 2}" y="${H - 6}" text-anchor="middle">step</text>`);
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#888888"/>`);
  SERIES.forEach((s, i) => {
    const pts = points.filter((r) => r[s.key] > 0).map((r) => `${x(r.step).toFixed(1)},${y(r[s.key]).toFixed(1)}`);
    if (pts.length)
      parts.push(`<polyline fill="none" stroke="${s.colour}" stroke-width="1.5" points="${pts.join(' ')}"/>`);
    const ly = M.top + 10 + i * 18;
    parts.push(
      `<line x1="${W - M.right + 12}" x2="${W - M.right + 32}" y1="${ly}" y2="${ly}" stroke="${s.colour}" stroke-width="2"/>`,
    );
    parts.push(`<text x="${W - M.right + 38}" y="${ly}" dominant-baseline="middle">${escapeXml(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
