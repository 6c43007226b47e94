// Benchmark reporting: one table on stdout, a JSON file under bench/results/ (git-ignored) and a markdown
// section appended to bench/RESULTS.md (kept in git).
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';

/** One measured case for one implementation. Times are wall clock per run (see the suite's notes). */
export interface BenchCase {
  /** 'e2e', 'conv2d', … */
  suite: string;
  /** What was run, e.g. 'stylize 256x256'. Rows with the same suite and name are compared with each other. */
  name: string;
  /** 'ours', 'tfjs-webgpu', 'torch-cpu', … */
  impl: string;
  runs: number;
  medianMs: number;
  /** NaN where not measured (a failed run, or a suite that records no minimum). */
  minMs: number;
  /** Floating-point operations of one run, when meaningful (convs only: 2 per multiply-add). */
  flops?: number;
  /** Items (images) processed per run, for items/s. */
  items?: number;
  /** Largest absolute difference of this output from the base row's (same units as the output). */
  maxAbsDiff?: number;
  note?: string;
}

export interface AdapterInfo {
  name: string;
  backend: string;
  fallback?: boolean;
  features?: string[];
}

export interface BenchReport {
  date: string;
  adapter: AdapterInfo;
  command: string;
  node: string;
  /** The host's CPUs and its 1-minute load average at the start and at the end (other processes skew times). */
  host: { cpus: number; cpuModel: string; loadStart: number; loadEnd?: number };
  cases: BenchCase[];
  notes: string[];
}

/**
 * Derived figures: GFLOP/s and items/s from the median, and the time ratio against the case's base row: the
 * first row with the same suite and name (e2e: ours; conv2d: the first impl measured).
 */
export interface CaseRow extends BenchCase {
  gflops?: number;
  itemsPerSec?: number;
  /** medianMs of this row over the base row's (> 1: the base is faster). */
  ratioVsBase?: number;
}

export function deriveRows(cases: readonly BenchCase[]): CaseRow[] {
  return cases.map((c) => {
    const row: CaseRow = { ...c };
    if (c.flops && c.medianMs > 0) row.gflops = c.flops / (c.medianMs * 1e6);
    if (c.items && c.medianMs > 0) row.itemsPerSec = (c.items * 1000) / c.medianMs;
    const base = cases.find((o) => o.suite === c.suite && o.name === c.name);
    if (base && base !== c && base.medianMs > 0 && Number.isFinite(c.medianMs))
      row.ratioVsBase = c.medianMs / base.medianMs;
    return row;
  });
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const COLUMNS: { title: string; align: 'l' | 'r'; cell(r: CaseRow): string }[] = [
  { title: 'suite', align: 'l', cell: (r) => r.suite },
  { title: 'case', align: 'l', cell: (r) => r.name },
  { title: 'impl', align: 'l', cell: (r) => r.impl },
  { title: 'runs', align: 'r', cell: (r) => String(r.runs) },
  { title: 'median ms', align: 'r', cell: (r) => fmtOrBlank(r.medianMs) },
  { title: 'min ms', align: 'r', cell: (r) => fmtOrBlank(r.minMs) },
  { title: 'GFLOP/s', align: 'r', cell: (r) => (r.gflops === undefined ? '' : fmt(r.gflops)) },
  { title: 'img/s', align: 'r', cell: (r) => (r.itemsPerSec === undefined ? '' : fmt(r.itemsPerSec)) },
  {
    title: 'time / base',
    align: 'r',
    cell: (r) => (r.ratioVsBase === undefined ? '' : `${r.ratioVsBase.toFixed(2)}×`),
  },
  {
    title: 'max abs diff vs base',
    align: 'r',
    cell: (r) => (r.maxAbsDiff === undefined ? '' : r.maxAbsDiff.toExponential(2)),
  },
  { title: 'note', align: 'l', cell: (r) => r.note ?? '' },
];

/** Blank for a value not measured (NaN: a failed or skipped run, or a figure the suite does not record). */
function fmtOrBlank(x: number): string {
  return Number.isFinite(x) ? fmt(x) : '';
}

/** Three significant figures, no exponent for the usual range. */
function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

function usedColumns(rows: CaseRow[]) {
  return COLUMNS.filter(
    (c) => c.title === 'suite' || c.title === 'case' || c.title === 'impl' || rows.some((r) => c.cell(r) !== ''),
  );
}

/** The table as aligned plain text. */
export function formatTable(cases: readonly BenchCase[]): string {
  const rows = deriveRows(cases);
  const cols = usedColumns(rows);
  const cells = rows.map((r) => cols.map((c) => c.cell(r)));
  const widths = cols.map((c, i) => Math.max(c.title.length, ...cells.map((row) => row[i].length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => (cols[i].align === 'r' ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(cols.map((c) => c.title)), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** The table as GitHub markdown. */
export function formatMarkdownTable(cases: readonly BenchCase[]): string {
  const rows = deriveRows(cases);
  const cols = usedColumns(rows);
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${cols.map((c) => c.title).join(' | ')} |`,
    `| ${cols.map((c) => (c.align === 'r' ? '---:' : ':---')).join(' | ')} |`,
    ...rows.map((r) => `| ${cols.map((c) => esc(c.cell(r))).join(' | ')} |`),
  ].join('\n');
}

/** Call at the start of a run: the load average then goes into the report. */
export function hostAtStart(): BenchReport['host'] {
  const c = cpus();
  return { cpus: c.length, cpuModel: c[0]?.model.trim() ?? 'unknown', loadStart: loadavg()[0] };
}

export function makeReport(
  adapter: AdapterInfo,
  cases: BenchCase[],
  notes: string[] = [],
  command?: string,
  host = hostAtStart(),
): BenchReport {
  return {
    host: { ...host, loadEnd: loadavg()[0] },
    date: new Date().toISOString(),
    adapter,
    command: command ?? ['npm run bench --', ...process.argv.slice(2)].join(' '),
    node: process.version,
    cases,
    notes,
  };
}

export interface WriteOptions {
  /** The bench folder (holds results/ and RESULTS.md). Default: ./bench from the working directory. */
  benchDir?: string;
  /** Append to RESULTS.md (default true). */
  markdown?: boolean;
  /** Print only: no JSON, no RESULTS.md (default false). */
  dryRun?: boolean;
}

/** Prints the table, writes bench/results/<date>.json and appends a section to bench/RESULTS.md. */
export function publish(report: BenchReport, opts: WriteOptions = {}): { json?: string; markdown?: string } {
  console.log(`\nAdapter: ${adapterLine(report.adapter)}; ${hostLine(report.host)}\n`);
  console.log(formatTable(report.cases));
  for (const n of report.notes) console.log(`note: ${n}`);
  if (opts.dryRun) return {};

  const benchDir = resolve(opts.benchDir ?? 'bench');
  const resultsDir = join(benchDir, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const json = join(resultsDir, `${report.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(json, JSON.stringify({ ...report, rows: deriveRows(report.cases) }, null, 2) + '\n');
  console.log(`\nwrote ${json}`);

  if (opts.markdown === false) return { json };
  const md = join(benchDir, 'RESULTS.md');
  if (!existsSync(md)) {
    writeFileSync(
      md,
      '# Benchmark results\n\nAppended by `npm run bench` (bench/report.ts). Times are wall-clock medians in ms; ' +
        '"time / base" is a row\'s median over the first row of the same case (e2e: ours, so above 1 means ours is ' +
        'faster); "max abs diff vs base" compares outputs with that row\'s (pixels for stylize).\n',
    );
  }
  const section = [
    '',
    `## ${report.date.slice(0, 16).replace('T', ' ')} UTC — ${adapterLine(report.adapter)}`,
    '',
    `\`${report.command}\` (Node ${report.node}; ${hostLine(report.host)})`,
    '',
    formatMarkdownTable(report.cases),
    '',
    ...report.notes.map((n) => `- ${n}`),
    ...(report.notes.length ? [''] : []),
  ].join('\n');
  appendFileSync(md, section);
  console.log(`appended to ${md}`);
  return { json, markdown: md };
}

function hostLine(h: BenchReport['host']): string {
  const load = h.loadEnd === undefined ? h.loadStart.toFixed(1) : `${h.loadStart.toFixed(1)}→${h.loadEnd.toFixed(1)}`;
  return `${h.cpus}× ${h.cpuModel}, load avg ${load}`;
}

export function adapterLine(a: AdapterInfo): string {
  return `${a.name}${a.backend ? ` (${a.backend})` : ''}${a.fallback ? ' [fallback]' : ''}`;
}

/** The adapter as our engine reports it (engine.adapter). */
export function adapterInfo(a: {
  description: string;
  vendor: string;
  architecture: string;
  device: string;
  backend: string;
  isFallbackAdapter: boolean;
  features: string[];
}): AdapterInfo {
  const name = a.description || [a.vendor, a.architecture, a.device].filter(Boolean).join(' ') || 'unknown adapter';
  return { name, backend: a.backend, fallback: a.isFallbackAdapter, features: a.features };
}

/** Rows of bench/conv2d.ts as cases (suite conv2d, one case per layer and pass, one row per impl). */
export function convRowsToCases(
  rows: readonly { layer: string; impl: string; pass: string; medianMs: number; minMs: number; gflops: number }[],
  runs: number,
): BenchCase[] {
  return rows.map((r) => ({
    suite: 'conv2d',
    name: `${r.layer} ${r.pass}`,
    impl: r.impl,
    runs,
    medianMs: r.medianMs,
    minMs: r.minMs,
    flops: r.gflops * r.medianMs * 1e6,
  }));
}

/** Rows of bench/sgemm.ts as cases (suite sgemm, one case per shape, one row per tile config; no minimum). */
export function sgemmRowsToCases(
  rows: readonly { shape: string; config: string; medianMs: number; gflops: number }[],
  runs: number,
): BenchCase[] {
  return rows.map((r) => ({
    suite: 'sgemm',
    name: r.shape,
    impl: r.config,
    runs,
    medianMs: r.medianMs,
    minMs: NaN,
    flops: r.gflops * r.medianMs * 1e6,
  }));
}
