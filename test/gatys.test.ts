// Gatys et al.'s per-image optimisation (src/models/gatys.ts) at 24², with the shared VGG19 file when present
// (else random VGG weights; the test names say which): both optimisers lower the same loss training uses.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/engine/engine.js';
import { Tensor } from '../src/engine/tensor.js';
import { defaultLossConfig, StyleLoss } from '../src/models/losses.js';
import {
  evaluateLosses,
  lbfgsMaxEvaluations,
  noiseImage,
  optimizeImage,
  type GatysProgress,
} from '../src/models/gatys.js';
import { Vgg } from '../src/models/vgg.js';
import { testEngine } from './helpers/gpu.js';

const ROOT = new URL('..', import.meta.url).pathname;
const SHARED_VGG19 = join(ROOT, '../shared/assets/vgg/vgg19_conv1_1-conv3_4.safetensors');
const haveShared = existsSync(SHARED_VGG19);
const which = haveShared ? 'shared VGG19 weights' : 'random VGG19 weights (shared file not found)';
const S = 24;
/**
 * Required drop of the total loss over the short runs below: the trained VGG's style loss falls fast (measured
 * 0.21× Adam, 0.42× L-BFGS); random features change less per pixel step (measured 0.90×, 0.91×): a lower bar.
 */
const REQUIRED_DROP = haveShared ? 0.7 : 0.95;

function image(engine: Engine, f: (c: number, y: number, x: number) => number): Tensor {
  const data = new Float32Array(3 * S * S);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) data[(c * S + y) * S + x] = f(c, y, x);
  return Tensor.fromData(engine, [1, 3, S, S], data);
}

async function setup(engine: Engine) {
  // Gatys's setting from ../shared/assets/README.md: cw 1, sw 0.3, tvw 0 on the caffe-input VGG19.
  const config = { ...defaultLossConfig('vgg19', 'caffe'), styleWeight: 0.3, tvWeight: 0 };
  const layers = [config.contentLayer, ...config.styleLayers];
  const vgg = haveShared
    ? Vgg.fromSafetensors(engine, new Uint8Array(readFileSync(SHARED_VGG19)), { layers, source: SHARED_VGG19 })
    : Vgg.random(engine, { architecture: 'vgg19', input: 'caffe', layers, seed: 1 });
  const content = engine.keep(image(engine, (c, y, x) => 128 + 90 * Math.sin(0.25 * x + 0.9 * c) * Math.cos(0.2 * y)));
  const style = engine.keep(
    image(engine, (c, y, x) => (Math.floor((x + y) / 3) % 2 === 0 ? [240, 180, 30][c] : [20, 60, 200][c])),
  );
  const loss = StyleLoss.create(vgg, style, config);
  return {
    content,
    loss,
    dispose() {
      loss.dispose();
      vgg.dispose();
      content.dispose();
      style.dispose();
    },
  };
}

describe(`Gatys optimisation at ${S}² (${which})`, () => {
  for (const optimizer of ['adam', 'lbfgs'] as const) {
    it(`${optimizer} lowers the total loss from the content image (${which})`, async () => {
      const e = await testEngine();
      const s = await setup(e);
      try {
        const start = await evaluateLosses(s.loss, s.content, s.content);
        const liveBefore = e.poolStats().liveBuffers;
        const progress: GatysProgress[] = [];
        const snaps: number[] = [];
        const iterations = optimizer === 'adam' ? 12 : 6;
        const r = await optimizeImage(s.loss, s.content, {
          iterations,
          optimizer,
          onProgress: (p) => {
            progress.push(p);
          },
          snapshots: [2, iterations],
          onSnapshot: async (n, img) => {
            expect(img.shape).toEqual([1, 3, S, S]);
            snaps.push(n);
          },
        });
        // Starting from the content: the content loss is 0, the style loss all there is.
        expect(start.content).toBe(0);
        expect(start.style).toBeGreaterThan(0);
        expect(r.losses.total, `${optimizer}: ${JSON.stringify(start)} → ${JSON.stringify(r.losses)}`).toBeLessThan(
          REQUIRED_DROP * start.total,
        );
        expect(progress.length).toBe(r.iterations);
        expect(progress.map((p) => p.iteration)).toEqual(Array.from({ length: r.iterations }, (_, i) => i + 1));
        expect(snaps).toEqual([2, iterations]);
        if (optimizer === 'lbfgs') {
          // The line search accepts no increase; the budget lets every iteration run.
          for (let i = 1; i < progress.length; i++)
            expect(progress[i].losses.total).toBeLessThanOrEqual(progress[i - 1].losses.total);
          expect(r.iterations).toBe(iterations);
          expect(r.evaluations).toBeLessThanOrEqual(lbfgsMaxEvaluations(iterations) + 1);
          // The objective is taken at the clamped image, so clamping the result changes nothing: the losses
          // of the returned image are those of the last accepted iterate (float32 recomputation noise only).
          const last = progress[progress.length - 1].losses.total;
          expect(Math.abs(r.losses.total - last) / last).toBeLessThan(1e-4);
        }
        const px = await r.image.data();
        expect(Math.min(...px)).toBeGreaterThanOrEqual(0);
        expect(Math.max(...px)).toBeLessThanOrEqual(255);
        r.image.dispose();
        // Nothing of the optimisation (history, moments, gradients, intermediates) outlives it.
        expect(e.poolStats().liveBuffers).toBe(liveBefore);
      } finally {
        s.dispose();
      }
    });
  }

  it(`noise init is seeded and also descends (${which})`, async () => {
    const e = await testEngine();
    const s = await setup(e);
    try {
      const run = () => optimizeImage(s.loss, s.content, { iterations: 3, optimizer: 'adam', init: 'noise', seed: 4 });
      const a = await run();
      const b = await run();
      expect(Array.from(await a.image.data())).toEqual(Array.from(await b.image.data()));
      const noise = noiseImage(e, S, S, 4);
      const start = await evaluateLosses(s.loss, noise, s.content);
      noise.dispose();
      const c = await optimizeImage(s.loss, s.content, { iterations: 8, optimizer: 'lbfgs', init: 'noise', seed: 4 });
      // The first L-BFGS line search spends ~5 evaluations finding a step scale (torch's 1/‖g‖₁ start).
      expect(c.losses.total).toBeLessThan(0.5 * start.total);
      for (const r of [a, b, c]) r.image.dispose();
    } finally {
      s.dispose();
    }
  });
});
