/**
 * Quality evaluation of a transform net against the slow original: for a photo, the losses of the net's
 * output and of Gatys et al.'s optimisation after given iteration counts, all measured by the same loss code
 * (StyleLoss) on the 8-bit images a user would get, and a summary of where the two meet.
 */
import type { Engine } from '../engine/engine.js';
import { rgbaToTensor, tensorToRgba } from '../ops/image.js';
import type { StepLosses, StyleLoss } from './losses.js';
import { evaluateLosses, optimizeImage, type GatysOptions, type GatysProgress } from './gatys.js';
import type { RgbaImage } from './rgba-image.js';
import { stylizeRgba, type TransformNetLike } from './stylize.js';
import { measureDroplets } from './droplets.js';

export interface MethodResult {
  /** `net`, or `gatys` with its iteration count. */
  method: 'net' | 'gatys';
  iterations?: number;
  /** Gatys: objective evaluations used to get here. */
  evaluations?: number;
  /** Wall time to produce the image (Gatys: from the start of the optimisation to this count). */
  seconds: number;
  losses: StepLosses;
  /** Share of the image's pixels in droplets, black or white (see droplets.ts). */
  droplets: number;
  /** The part of `droplets` that is white. */
  whiteDroplets: number;
  /** Its style loss over the photo's own (the unstylised photo against the style): how far it moved toward the style. */
  styleRatio: number;
  /** The image, RGBA (alpha copied from the photo). */
  rgba: Uint8Array;
}

export interface EvaluateOptions {
  /** Gatys iteration counts to measure (one optimisation run to the largest, snapshots at each); none: the net only. */
  gatysIterations: readonly number[];
  gatys?: Omit<GatysOptions, 'iterations' | 'snapshots' | 'onSnapshot' | 'onProgress'>;
  onProgress?(p: GatysProgress): void | Promise<void>;
}

/** The label of a method in tables: `net`, `gatys@100`. */
export function methodLabel(r: Pick<MethodResult, 'method' | 'iterations'>): string {
  return r.method === 'net' ? 'net' : `gatys@${r.iterations}`;
}

async function lossesOf(engine: Engine, loss: StyleLoss, rgba: Uint8Array, photo: RgbaImage): Promise<StepLosses> {
  return engine.scopeAsync(async () => {
    const image = rgbaToTensor(engine, rgba, photo.width, photo.height);
    const content = rgbaToTensor(engine, photo.data, photo.width, photo.height);
    return evaluateLosses(loss, image, content);
  });
}

function withAlpha(rgba: Uint8Array | Uint8ClampedArray, photo: RgbaImage): Uint8Array {
  const out = new Uint8Array(rgba);
  for (let i = 3; i < out.length; i += 4) out[i] = photo.data[i];
  return out;
}

/** Net, then Gatys at each count, for one photo (already at the evaluation size). */
export async function evaluatePhoto(
  net: TransformNetLike,
  loss: StyleLoss,
  photo: RgbaImage,
  opts: EvaluateOptions,
): Promise<MethodResult[]> {
  const engine = net.engine;
  const counts = [...new Set(opts.gatysIterations)].sort((a, b) => a - b);
  if (!counts.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new RangeError(
      `evaluatePhoto: Gatys iteration counts must be integers ≥ 1, got ${opts.gatysIterations.join(', ')}`,
    );
  }
  const results: MethodResult[] = [];
  let t0 = performance.now();
  const styled = await stylizeRgba(net, photo);
  const netSeconds = (performance.now() - t0) / 1000;
  const dropletsOf = (rgba: Uint8Array) => {
    const m = measureDroplets(photo, { width: photo.width, height: photo.height, data: rgba });
    return { droplets: m.share, whiteDroplets: m.whiteShare };
  };
  const photoStyle = (await lossesOf(engine, loss, new Uint8Array(photo.data), photo)).style;
  const netLosses = await lossesOf(engine, loss, styled.data, photo);
  results.push({
    method: 'net',
    seconds: netSeconds,
    losses: netLosses,
    ...dropletsOf(styled.data),
    styleRatio: netLosses.style / photoStyle,
    rgba: styled.data,
  });
  if (counts.length === 0) return results;

  const snapshots: { iterations: number; evaluations: number; seconds: number; rgba: Uint8Array }[] = [];
  let evaluations = 0;
  await engine.scopeAsync(async () => {
    const content = rgbaToTensor(engine, photo.data, photo.width, photo.height);
    t0 = performance.now();
    let paused = 0;
    const r = await optimizeImage(loss, content, {
      ...opts.gatys,
      iterations: counts[counts.length - 1],
      snapshots: counts,
      onProgress: async (p) => {
        evaluations = p.evaluations;
        await opts.onProgress?.(p);
      },
      onSnapshot: async (n, image) => {
        const s = performance.now();
        snapshots.push({
          iterations: n,
          evaluations,
          seconds: (s - t0 - paused) / 1000,
          rgba: withAlpha(await tensorToRgba(image), photo),
        });
        paused += performance.now() - s;
      },
    });
    r.image.dispose();
  });
  for (const s of snapshots) {
    const losses = await lossesOf(engine, loss, s.rgba, photo);
    results.push({
      method: 'gatys',
      iterations: s.iterations,
      evaluations: s.evaluations,
      seconds: s.seconds,
      losses,
      ...dropletsOf(s.rgba),
      styleRatio: losses.style / photoStyle,
      rgba: s.rgba,
    });
  }
  return results;
}

export interface EvaluationSummary {
  /** Mean losses and droplet share per method label, in the order first seen. */
  means: Map<string, StepLosses & { droplets: number; styleRatio: number; count: number }>;
  /**
   * Where the net's mean total loss falls among Gatys's: below the fewest iterations measured, between two
   * counts, or above the most; null when no Gatys count was measured.
   */
  standing:
    | { kind: 'below'; iterations: number }
    | { kind: 'between'; from: number; to: number }
    | { kind: 'above'; iterations: number }
    | null;
}

export function summarize(
  rows: readonly Pick<MethodResult, 'method' | 'iterations' | 'losses' | 'droplets' | 'styleRatio'>[],
): EvaluationSummary {
  const means = new Map<string, StepLosses & { droplets: number; styleRatio: number; count: number }>();
  for (const r of rows) {
    const key = methodLabel(r);
    const m = means.get(key) ?? { content: 0, style: 0, tv: 0, total: 0, droplets: 0, styleRatio: 0, count: 0 };
    m.content += r.losses.content;
    m.style += r.losses.style;
    m.tv += r.losses.tv;
    m.total += r.losses.total;
    m.droplets += r.droplets;
    m.styleRatio += r.styleRatio;
    m.count++;
    means.set(key, m);
  }
  for (const m of means.values()) {
    m.content /= m.count;
    m.style /= m.count;
    m.tv /= m.count;
    m.total /= m.count;
    m.droplets /= m.count;
    m.styleRatio /= m.count;
  }
  const counts = [...new Set(rows.filter((r) => r.method === 'gatys').map((r) => r.iterations!))].sort((a, b) => a - b);
  const net = means.get('net');
  if (!net || counts.length === 0) return { means, standing: null };
  // The first count whose loss is at or below the net's: Gatys needs between the count before it and it.
  const reached = counts.findIndex((n) => means.get(`gatys@${n}`)!.total <= net.total);
  const standing: EvaluationSummary['standing'] =
    reached === -1
      ? { kind: 'above', iterations: counts[counts.length - 1] }
      : reached === 0
        ? { kind: 'below', iterations: counts[0] }
        : { kind: 'between', from: counts[reached - 1], to: counts[reached] };
  return { means, standing };
}

/** Where the net stands against Gatys, in words (Johnson et al. claim a net ≈ 50–100 L-BFGS iterations). */
export function matchSentence(s: EvaluationSummary): string {
  const st = s.standing;
  if (st === null) return 'no Gatys iterations measured';
  if (st.kind === 'above') return `the net is better than Gatys after ${st.iterations} iterations (the most measured)`;
  if (st.kind === 'below')
    return `the net is worse than Gatys after ${st.iterations} iterations (the fewest measured): it matches fewer than ${st.iterations}`;
  return `the net matches Gatys at between ${st.from} and ${st.to} iterations`;
}
