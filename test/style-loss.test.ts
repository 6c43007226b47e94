import { describe, expect, it } from 'vitest';
import { backward, noGrad } from '../src/autograd/tape.js';
import { Tensor } from '../src/engine/tensor.js';
import { cpuRandom } from '../src/ops/cpu.js';
import { StyleLoss, defaultLossConfig } from '../src/models/losses.js';
import { Vgg } from '../src/models/vgg.js';
import { testEngine } from './helpers/gpu.js';

/** G = F·Fᵀ/(C·H·W) of image n of a [N, C, H, W] feature map, in float64. */
function gramCpu(f: Float32Array, shape: readonly number[], n: number): Float64Array {
  const [, c, h, w] = shape;
  const hw = h * w;
  const g = new Float64Array(c * c);
  const base = n * c * hw;
  for (let i = 0; i < c; i++) {
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let k = 0; k < hw; k++) s += f[base + i * hw + k] * f[base + j * hw + k];
      g[i * c + j] = s / (c * hw);
    }
  }
  return g;
}

const image = (e: Awaited<ReturnType<typeof testEngine>>, shape: number[], seed: number) =>
  Tensor.fromData(e, shape, Float32Array.from(cpuRandom(shape, seed, 0, 255).data));

describe('StyleLoss', () => {
  it('defaults: the measured VGG19 setting and Johnson’s VGG16 layers', () => {
    expect(defaultLossConfig('vgg19', 'caffe')).toEqual({
      contentLayer: 'relu2_2',
      styleLayers: ['relu1_2', 'relu2_2', 'relu3_4'],
      contentWeight: 1,
      styleWeight: 0.1,
      tvWeight: 1,
    });
    expect(defaultLossConfig('vgg16', 'torchvision')).toMatchObject({
      contentLayer: 'relu2_2',
      styleLayers: ['relu1_2', 'relu2_2', 'relu3_3', 'relu4_3'],
    });
  });

  it('computes content, style (Gram broadcast over the batch) and TV exactly as defined, and their weighted total', async () => {
    const e = await testEngine();
    const vgg = Vgg.random(e, { architecture: 'vgg19', input: 'caffe', layers: ['relu2_2'], seed: 3 });
    const config = {
      contentLayer: 'relu2_2',
      styleLayers: ['relu1_2', 'relu2_2'],
      styleLayerWeights: [2, 0.5],
      contentWeight: 1.5,
      styleWeight: 0.1,
      tvWeight: 3,
    };
    await e.scopeAsync(async () => {
      const style = image(e, [1, 3, 12, 10], 1);
      const loss = StyleLoss.create(vgg, style, config);
      const output = image(e, [2, 3, 8, 8], 2);
      const content = image(e, [2, 3, 8, 8], 3);
      const terms = noGrad(() => loss.compute(output, content));
      const got = {
        content: await terms.content.item(),
        style: await terms.style.item(),
        tv: await terms.tv.item(),
        total: await terms.total.item(),
      };

      // The same from features read back, in float64.
      const fs = noGrad(() => vgg.features(style, config.styleLayers));
      const fo = noGrad(() => vgg.features(output, config.styleLayers));
      const fc = noGrad(() => vgg.features(content, ['relu2_2'])).get('relu2_2')!;
      const o22 = await fo.get('relu2_2')!.data();
      const c22 = await fc.data();
      let content2 = 0;
      for (let i = 0; i < o22.length; i++) content2 += (o22[i] - c22[i]) ** 2;
      content2 /= o22.length;
      let style2 = 0;
      for (const [l, layer] of config.styleLayers.entries()) {
        const gs = gramCpu(await fs.get(layer)!.data(), fs.get(layer)!.shape, 0);
        const fol = await fo.get(layer)!.data();
        let s = 0;
        for (const n of [0, 1]) {
          const go = gramCpu(fol, fo.get(layer)!.shape, n);
          for (let i = 0; i < go.length; i++) s += (go[i] - gs[i]) ** 2;
        }
        style2 += config.styleLayerWeights[l] * (s / (2 * gs.length));
      }
      const px = await output.data();
      let dx = 0;
      let dy = 0;
      for (let p = 0; p < 6; p++) {
        for (let y = 0; y < 8; y++) {
          for (let x = 0; x < 8; x++) {
            const v = px[p * 64 + y * 8 + x];
            if (x < 7) dx += (px[p * 64 + y * 8 + x + 1] - v) ** 2;
            if (y < 7) dy += (px[p * 64 + (y + 1) * 8 + x] - v) ** 2;
          }
        }
      }
      const tv = dx / (6 * 8 * 7) + dy / (6 * 7 * 8);
      expect(Math.abs(got.content - content2) / content2).toBeLessThan(1e-5);
      expect(Math.abs(got.style - style2) / style2).toBeLessThan(1e-4);
      expect(Math.abs(got.tv - tv) / tv).toBeLessThan(1e-5);
      expect(Math.abs(got.total - (1.5 * got.content + 0.1 * got.style + 3 * got.tv)) / got.total).toBeLessThan(1e-5);
      loss.dispose();
    });
    vgg.dispose();
  });

  it('sends gradients to the output only, and the style image’s Grams are computed once', async () => {
    const e = await testEngine();
    const vgg = Vgg.random(e, { architecture: 'vgg16', input: 'torchvision', layers: ['relu2_2'], seed: 4 });
    const loss = e.scope(() =>
      StyleLoss.create(vgg, image(e, [1, 3, 8, 8], 5), {
        ...defaultLossConfig('vgg16', 'torchvision'),
        styleLayers: ['relu1_2', 'relu2_2'],
      }),
    );
    await e.scopeAsync(async () => {
      const output = image(e, [3, 3, 8, 8], 6);
      output.requiresGrad = true;
      const terms = loss.compute(output, image(e, [3, 3, 8, 8], 7));
      backward(terms.total);
      const g = await output.grad!.data();
      expect(g.some((v) => v !== 0)).toBe(true);
      expect(g.every(Number.isFinite)).toBe(true);
      output.grad!.dispose();
      output.grad = null;
    });
    const created = e.poolStats().created;
    const live = e.poolStats().liveBuffers;
    await e.scopeAsync(async () => {
      const output = image(e, [3, 3, 8, 8], 8);
      output.requiresGrad = true;
      backward(loss.compute(output, image(e, [3, 3, 8, 8], 9)).total);
      await output.grad!.data();
      output.grad!.dispose();
      output.grad = null;
    });
    expect(e.poolStats().created).toBe(created);
    expect(e.poolStats().liveBuffers).toBe(live);
    loss.dispose();
    vgg.dispose();
  });
});
