import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { noGrad } from '../src/autograd/tape.js';
import { Tensor } from '../src/engine/tensor.js';
import { conv2d } from '../src/ops/conv2d.js';
import { cpuRandom, cpuTensor, type CpuTensor } from '../src/ops/cpu.js';
import { relu } from '../src/ops/elementwise.js';
import { ModelFileError, writeSafetensors } from '../src/models/safetensors.js';
import { Vgg, vggLayers } from '../src/models/vgg.js';
import { expectClose } from './helpers/check.js';
import { testEngine, toCpu } from './helpers/gpu.js';

const SHARED_VGG19 = new URL('../../shared/assets/vgg/vgg19_conv1_1-conv3_4.safetensors', import.meta.url).pathname;
const haveShared = existsSync(SHARED_VGG19);
if (!haveShared) console.warn(`vgg.test: ${SHARED_VGG19} not found: the shared-file tests are skipped`);

const convIndices = (arch: 'vgg16' | 'vgg19') =>
  vggLayers(arch)
    .filter((l) => l.kind === 'conv')
    .map((l) => [l.name, l.index]);

describe('VGG layer tables (torchvision features indices)', () => {
  it('vgg16', () => {
    expect(convIndices('vgg16')).toEqual([
      ['conv1_1', 0],
      ['conv1_2', 2],
      ['conv2_1', 5],
      ['conv2_2', 7],
      ['conv3_1', 10],
      ['conv3_2', 12],
      ['conv3_3', 14],
      ['conv4_1', 17],
      ['conv4_2', 19],
      ['conv4_3', 21],
      ['conv5_1', 24],
      ['conv5_2', 26],
      ['conv5_3', 28],
    ]);
    expect(
      vggLayers('vgg16')
        .filter((l) => l.kind === 'pool')
        .map((l) => l.index),
    ).toEqual([4, 9, 16, 23, 30]);
    expect(vggLayers('vgg16').find((l) => l.name === 'relu4_3')!.index).toBe(22);
  });

  it('vgg19', () => {
    expect(convIndices('vgg19')).toEqual([
      ['conv1_1', 0],
      ['conv1_2', 2],
      ['conv2_1', 5],
      ['conv2_2', 7],
      ['conv3_1', 10],
      ['conv3_2', 12],
      ['conv3_3', 14],
      ['conv3_4', 16],
      ['conv4_1', 19],
      ['conv4_2', 21],
      ['conv4_3', 23],
      ['conv4_4', 25],
      ['conv5_1', 28],
      ['conv5_2', 30],
      ['conv5_3', 32],
      ['conv5_4', 34],
    ]);
    expect(
      vggLayers('vgg19')
        .filter((l) => l.kind === 'pool')
        .map((l) => l.index),
    ).toEqual([4, 9, 18, 27, 36]);
    expect(vggLayers('vgg19').find((l) => l.name === 'relu3_4')!.index).toBe(17);
  });
});

/** torchvision-named random weights for the convs of `arch` up to `lastConvIndex`. */
function fakeWeights(arch: 'vgg16' | 'vgg19', lastConvIndex: number) {
  const m = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const l of vggLayers(arch)) {
    if (l.kind !== 'conv' || l.index > lastConvIndex) continue;
    m.set(`features.${l.index}.weight`, {
      shape: [l.outChannels, l.inChannels, 3, 3],
      data: Float32Array.from(cpuRandom([l.outChannels * l.inChannels * 9], l.index, -0.1, 0.1).data),
    });
    m.set(`features.${l.index}.bias`, {
      shape: [l.outChannels],
      data: Float32Array.from(cpuRandom([l.outChannels], 100 + l.index, -0.1, 0.1).data),
    });
  }
  return m;
}

/** relu1_1 in float64 from the normalised input: relu(conv1_1(xn)) with the weights' features.0 (3×3, zeros 1). */
function relu1_1Reference(
  xn: CpuTensor,
  weights: ReadonlyMap<string, { shape: number[]; data: ArrayLike<number> }>,
): CpuTensor {
  const w = weights.get('features.0.weight')!;
  const b = weights.get('features.0.bias')!;
  const attrs = { stride: 1, padding: 1, padMode: 'zeros' } as const;
  return relu.reference([conv2d.reference([xn, cpuTensor(w.shape, w.data), cpuTensor(b.shape, b.data)], attrs)], {});
}

describe('VGG weights', () => {
  it('reads exactly features.N.weight/bias for the layers needed (vgg16 up to relu4_3, torchvision input)', async () => {
    const e = await testEngine();
    const weights = fakeWeights('vgg16', 21);
    expect([...weights.keys()].filter((k) => k.endsWith('weight'))).toEqual(
      [0, 2, 5, 7, 10, 12, 14, 17, 19, 21].map((i) => `features.${i}.weight`),
    );
    const bytes = writeSafetensors(weights);
    const vgg = Vgg.fromSafetensors(e, bytes, {
      layers: ['relu1_2', 'relu2_2', 'relu3_3', 'relu4_3'],
      source: 'vgg16.safetensors',
    });
    expect(vgg.architecture).toBe('vgg16');
    expect(vgg.input).toBe('torchvision');
    expect(vgg.layerNames[vgg.layerNames.length - 1]).toBe('relu4_3');
    vgg.dispose();

    const lacking = new Map(weights);
    lacking.delete('features.21.bias');
    expect(() =>
      Vgg.fromTensors(e, lacking, {
        architecture: 'vgg16',
        input: 'torchvision',
        layers: ['relu4_3'],
        source: 'cut.safetensors',
      }),
    ).toThrow(/cut\.safetensors has no features\.21\.bias \(conv4_3\)/);
    const misshapen = new Map(weights);
    misshapen.set('features.5.weight', { shape: [128, 64, 1, 1], data: new Float32Array(128 * 64) });
    expect(() =>
      Vgg.fromTensors(e, misshapen, {
        architecture: 'vgg16',
        input: 'torchvision',
        layers: ['relu2_1'],
        source: 'w.safetensors',
      }),
    ).toThrow(/features\.5\.weight \(conv2_1\) has shape \[128, 64, 1, 1\]/);
    expect(() => Vgg.fromSafetensors(e, new Uint8Array(3), { layers: ['relu1_1'], source: 'tiny.bin' })).toThrow(
      ModelFileError,
    );
    expect(() => Vgg.fromSafetensors(e, bytes, { layers: ['relu9_9'], source: 'x' })).toThrow(
      /vgg16 has no layer relu9_9/,
    );
  });

  it('relu1_1 of the torchvision convention is relu(conv((x/255 − mean)/std)), on a vgg16', async () => {
    const e = await testEngine();
    const weights = fakeWeights('vgg16', 0);
    const vgg = Vgg.fromTensors(e, weights, {
      architecture: 'vgg16',
      input: 'torchvision',
      layers: ['relu1_1'],
      source: 'w',
    });
    const x = cpuRandom([2, 3, 6, 5], 3, 0, 255);
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const xn = cpuTensor(
      x.shape,
      x.data.map((v, i) => (v / 255 - mean[Math.floor(i / 30) % 3]) / std[Math.floor(i / 30) % 3]),
    );
    const expected = relu1_1Reference(xn, weights);
    const got = await e.scopeAsync(async () =>
      toCpu(
        noGrad(() => vgg.features(Tensor.fromData(e, x.shape, Float32Array.from(x.data)), ['relu1_1'])).get('relu1_1')!,
      ),
    );
    expectClose(got, expected, { atol: 1e-4, rtol: 1e-4 }, 'relu1_1');
    vgg.dispose();
  });

  it.skipIf(!haveShared)('loads the shared VGG19 file: vgg19, caffe input, relu shapes, caffe mean', async () => {
    const e = await testEngine();
    const bytes = new Uint8Array(readFileSync(SHARED_VGG19));
    const layers = ['relu1_1', 'relu1_2', 'relu2_2', 'relu3_4'];
    const vgg = Vgg.fromSafetensors(e, bytes, { layers, source: 'vgg19.safetensors' });
    expect(vgg.architecture).toBe('vgg19');
    expect(vgg.input).toBe('caffe');
    const x = cpuRandom([1, 3, 11, 9], 5, 0, 255);
    await e.scopeAsync(async () => {
      const f = noGrad(() => vgg.features(Tensor.fromData(e, x.shape, Float32Array.from(x.data)), layers));
      expect(f.get('relu1_2')!.shape).toEqual([1, 64, 11, 9]);
      expect(f.get('relu2_2')!.shape).toEqual([1, 128, 5, 4]);
      expect(f.get('relu3_4')!.shape).toEqual([1, 256, 2, 2]);
      // relu1_1 = relu(conv1_1(x − caffe mean)) with the file's own conv1_1.
      const xn = cpuTensor(
        x.shape,
        x.data.map((v, i) => v - [123.68, 116.779, 103.939][Math.floor(i / 99)]),
      );
      const { readSafetensors } = await import('../src/models/safetensors.js');
      const expected = relu1_1Reference(xn, readSafetensors(bytes).tensors);
      expectClose(await toCpu(f.get('relu1_1')!), expected, { atol: 2e-3, rtol: 1e-4 }, 'relu1_1');
    });
    vgg.dispose();
    expect(() =>
      Vgg.fromSafetensors(e, bytes, { layers: ['relu2_2', 'relu4_1'], source: 'vgg19.safetensors' }),
    ).toThrow(/vgg19\.safetensors has no features\.19\.weight \(conv4_1\), which relu4_1 needs/);
  });

  it('features releases what it does not return and leaks nothing across calls', async () => {
    const e = await testEngine();
    const vgg = Vgg.random(e, { architecture: 'vgg19', input: 'caffe', layers: ['relu2_2'], seed: 1 });
    const run = () =>
      e.scope(() => noGrad(() => void vgg.features(Tensor.zeros(e, [1, 3, 8, 8]), ['relu1_2', 'relu2_2'])));
    run();
    const live = e.poolStats().liveBuffers;
    const created = e.poolStats().created;
    run();
    expect(e.poolStats().liveBuffers).toBe(live);
    expect(e.poolStats().created).toBe(created);
    vgg.dispose();
  });
});
