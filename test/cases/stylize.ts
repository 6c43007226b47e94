// Stylising a small image with the golden transform net: the bytes both runtimes must agree on
// (test/deno.test.ts compares Deno's with Node's).
import type { Engine } from '../../src/engine/engine.js';
import { stylizeRgba } from '../../src/models/stylize.js';
import { TransformNet } from '../../src/models/transform-net.js';
import type { GoldenStore } from '../helpers/golden-store.js';
import { weightMap } from './golden.js';
import type { RgbaImage } from '../../src/models/rgba-image.js';

/** 23×17: odd sizes, smooth colour ramps and a bright square; alpha varies (it must pass through unchanged). */
export function stylizeInput(): RgbaImage<Uint8Array> {
  const width = 23;
  const height = 17;
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      const square = x >= 6 && x < 12 && y >= 5 && y < 10;
      data[o] = square ? 250 : 20 + Math.round((200 * x) / width);
      data[o + 1] = square ? 240 : 30 + Math.round((180 * y) / height);
      data[o + 2] = 128 + Math.round(100 * Math.sin(0.5 * x + 0.3 * y));
      data[o + 3] = 255 - ((x * 7 + y * 3) % 64);
    }
  }
  return { width, height, data };
}

/**
 * The stylised RGBA bytes of stylizeInput() through the golden width-0.25 transform net, twice, concatenated:
 * in one tile with the defaults, then in 16-pixel tiles (overlap 4, blended) with colour preservation and
 * strength 0.6 (the colour and blend kernels).
 */
export async function stylizeSample(engine: Engine, store: GoldenStore): Promise<Uint8Array> {
  const tn = store.index.transformNet;
  const net = TransformNet.fromTensors(
    engine,
    { widthMultiplier: tn.widthMultiplier },
    weightMap(store, tn.file, tn.params),
  );
  try {
    const plain = await stylizeRgba(net, stylizeInput());
    const options = await stylizeRgba(net, stylizeInput(), {
      tile: 16,
      overlap: 4,
      preserveColors: true,
      strength: 0.6,
    });
    const out = new Uint8Array(plain.data.length + options.data.length);
    out.set(plain.data);
    out.set(options.data, plain.data.length);
    return out;
  } finally {
    net.dispose();
  }
}
