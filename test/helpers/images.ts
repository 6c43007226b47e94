// Seeded test images, the same on every runner.
import type { RgbaImage } from '../../src/models/rgba-image.js';

/** width×height RGBA bytes from a seeded linear congruential generator (alpha random too). */
export function randomImage(width: number, height: number, seed = 1): RgbaImage<Uint8Array> {
  let s = seed;
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s >>> 16) & 0xff;
  }
  return { width, height, data };
}
