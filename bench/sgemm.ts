// sgemm reference: a plain, well-tiled WGSL GEMM (src/shaders/sgemm.wgsl) timed at the shapes of the conv
// GEMMs, as "what this adapter can do" — the conv kernels are reported as a fraction of its GFLOP/s.
// Every tile config is first checked against a float64 CPU matmul on a small odd shape, then all configs are
// timed side by side (alternating within each rep, medians), so that load on a shared host hits them alike.
import type { Engine } from '../src/engine/engine.js';
import { packParams, type Kernel } from '../src/engine/kernel.js';
import { Tensor } from '../src/engine/tensor.js';
import { rng } from '../src/ops/cpu.js';
import sgemmSource from '../src/shaders/sgemm.wgsl';

/** Threads WG_X×WG_Y, each TM rows × TN4 vec4 columns of C; TILE_K-deep staging. */
export interface SgemmConfig {
  WG_X: number;
  WG_Y: number;
  TM: number;
  TN4: number;
  TILE_K: number;
}

export const SGEMM_CONFIGS: readonly SgemmConfig[] = [
  { WG_X: 16, WG_Y: 16, TM: 4, TN4: 1, TILE_K: 16 }, // 64×64, 4×4 per thread (the conv kernels' old layout)
  { WG_X: 16, WG_Y: 8, TM: 8, TN4: 2, TILE_K: 16 }, // 64×128, 8×8 (conv2d's tile for > 32 rows)
  { WG_X: 16, WG_Y: 4, TM: 8, TN4: 2, TILE_K: 16 }, // 32×128, 8×8, 64 threads (conv2d's tile for ≤ 32 rows)
  { WG_X: 8, WG_Y: 8, TM: 8, TN4: 2, TILE_K: 16 }, // 64×64, 8×8
];

export interface SgemmShape {
  name: string;
  m: number;
  n: number;
  k: number;
}

/** GEMMs of the transform net's conv layers (rows = Cout, columns = pixels, depth = Cin·K²). */
export const SGEMM_SHAPES: readonly SgemmShape[] = [
  { name: 'res 128→128 @64² (M128 N4096 K1152)', m: 128, n: 64 * 64, k: 1152 },
  { name: 'up1 128→64 @128² (M64 N16384 K1152)', m: 64, n: 128 * 128, k: 1152 },
  // up2 at 256² (N = 256²) would need a 151 MB B, over lavapipe's 128 MiB binding limit: 128² instead.
  { name: 'up2 64→32 @128² (M32 N16384 K576)', m: 32, n: 128 * 128, k: 576 },
];

export function sgemmConfigName(c: SgemmConfig): string {
  return `${c.WG_X}×${c.WG_Y} thr, ${c.TM}×${4 * c.TN4}/thr, tile ${c.WG_Y * c.TM}×${c.WG_X * c.TN4 * 4}×${c.TILE_K}`;
}

function kernel(c: SgemmConfig): Kernel {
  return { name: 'bench.sgemm', code: sgemmSource, constants: { ...c } };
}

/** C = A·B on the GPU with one tile config. */
export function sgemm(engine: Engine, a: Tensor, b: Tensor, m: number, n: number, k: number, c: SgemmConfig): Tensor {
  const out = Tensor.empty(engine, [m, n], 'bench.sgemm.c');
  engine.dispatch({
    kernel: kernel(c),
    buffers: [a.buffer, b.buffer, out.buffer],
    params: packParams([m, n, k]),
    workgroups: [Math.ceil(n / (c.WG_X * c.TN4 * 4)), Math.ceil(m / (c.WG_Y * c.TM))],
    label: 'bench.sgemm',
  });
  return out;
}

function random(size: number, seed: number): Float32Array {
  const r = rng(seed);
  const d = new Float32Array(size);
  for (let i = 0; i < size; i++) d[i] = r() * 2 - 1;
  return d;
}

/** Checks every config against a float64 CPU matmul on an odd shape (partial tiles, N not a multiple of 4). */
export async function checkSgemm(engine: Engine, configs: readonly SgemmConfig[] = SGEMM_CONFIGS): Promise<void> {
  const [m, n, k] = [37, 71, 45];
  const ad = random(m * k, 11);
  const bd = random(k * n, 12);
  const expected = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) expected[i * n + j] += ad[i * k + p] * bd[p * n + j];
  for (const shape of [
    [m, n, k],
    [m, 68, k],
  ] as const) {
    const [mm, nn, kk] = shape;
    const bData = nn === n ? bd : random(kk * nn, 13);
    const ref = new Float64Array(mm * nn);
    if (nn === n) ref.set(expected);
    else
      for (let i = 0; i < mm; i++)
        for (let p = 0; p < kk; p++) for (let j = 0; j < nn; j++) ref[i * nn + j] += ad[i * kk + p] * bData[p * nn + j];
    for (const c of configs) {
      await engine.scopeAsync(async () => {
        const got = await sgemm(
          engine,
          Tensor.fromData(engine, [mm, kk], ad),
          Tensor.fromData(engine, [kk, nn], bData),
          mm,
          nn,
          kk,
          c,
        ).data();
        let err = 0;
        for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(got[i] - ref[i]));
        if (!(err < 1e-4))
          throw new Error(`sgemm ${sgemmConfigName(c)} on ${mm}×${nn}×${kk}: max abs error ${err} vs float64`);
      });
    }
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

export interface SgemmRow {
  shape: string;
  config: string;
  medianMs: number;
  gflops: number;
}

export interface SgemmBenchOptions {
  reps?: number;
  shapes?: readonly SgemmShape[];
  configs?: readonly SgemmConfig[];
  log?: (line: string) => void;
}

/** Checks, then times every config at every shape (configs alternate within each rep). Returns all rows. */
export async function benchSgemm(engine: Engine, options: SgemmBenchOptions = {}): Promise<SgemmRow[]> {
  const reps = options.reps ?? 5;
  const shapes = options.shapes ?? SGEMM_SHAPES;
  const configs = options.configs ?? SGEMM_CONFIGS;
  const log = options.log ?? ((line: string) => console.log(line));
  await checkSgemm(engine, configs);
  log(
    `sgemm reference on ${engine.describe()} (checked vs float64 on 37×71×45 and 37×68×45); ${reps} reps, configs alternating`,
  );
  log(`${'shape'.padEnd(38)} ${'config'.padEnd(44)} ${'median ms'.padStart(10)} ${'GFLOP/s'.padStart(8)}`);
  const rows: SgemmRow[] = [];
  for (const s of shapes) {
    await engine.scopeAsync(async () => {
      const a = Tensor.fromData(engine, [s.m, s.k], random(s.m * s.k, 1));
      const b = Tensor.fromData(engine, [s.k, s.n], random(s.k * s.n, 2));
      const times: number[][] = configs.map(() => []);
      for (const c of configs) {
        engine.scope(() => void sgemm(engine, a, b, s.m, s.n, s.k, c));
        await engine.sync();
      }
      for (let r = 0; r < reps; r++) {
        for (const [i, c] of configs.entries()) {
          const t0 = performance.now();
          engine.scope(() => void sgemm(engine, a, b, s.m, s.n, s.k, c));
          await engine.sync();
          times[i].push(performance.now() - t0);
        }
      }
      for (const [i, c] of configs.entries()) {
        const ms = median(times[i]);
        const row = {
          shape: s.name,
          config: sgemmConfigName(c),
          medianMs: ms,
          gflops: (2 * s.m * s.n * s.k) / (ms * 1e6),
        };
        rows.push(row);
        log(
          `${s.name.padEnd(38)} ${row.config.padEnd(44)} ${ms.toFixed(1).padStart(10)} ${row.gflops.toFixed(2).padStart(8)}`,
        );
      }
    });
  }
  return rows;
}
