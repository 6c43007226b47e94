// The padding/upsampling index map (src/ops/padding.ts) against arrays padded and upsampled literally.
import { describe, expect, it } from 'vitest';
import { centredPadding, convSourceIndex, padSourceIndex, upsampleSourceIndex } from '../src/ops/padding.js';

describe('padding index map', () => {
  it('pads by zeros, reflection without the edge, and edge replication', () => {
    const at = (mode: 'zeros' | 'reflect' | 'replicate') =>
      [-3, -2, -1, 0, 1, 2, 3, 4, 5, 6].map((i) => padSourceIndex(i, 4, mode));
    expect(at('zeros')).toEqual([-1, -1, -1, 0, 1, 2, 3, -1, -1, -1]);
    expect(at('reflect')).toEqual([3, 2, 1, 0, 1, 2, 3, 2, 1, 0]);
    expect(at('replicate')).toEqual([0, 0, 0, 0, 1, 2, 3, 3, 3, 3]);
  });

  it('upsamples by nearest copies or by zeros between the samples', () => {
    expect([0, 1, 2, 3, 4, 5].map((u) => upsampleSourceIndex(u, 2, 'nearest'))).toEqual([0, 0, 1, 1, 2, 2]);
    expect([0, 1, 2, 3, 4, 5].map((u) => upsampleSourceIndex(u, 2, 'zeros'))).toEqual([0, -1, 1, -1, 2, -1]);
  });

  it('maps a conv input axis as upsampling, then padding, would lay it out', () => {
    for (const n of [1, 2, 3, 5])
      for (const factor of [1, 2])
        for (const upsampleMode of ['nearest', 'zeros'] as const)
          for (const padMode of ['zeros', 'reflect'] as const)
            for (const before of [0, 1, 2, 4]) {
              const upsampled: number[] = [];
              for (let i = 0; i < n; i++)
                for (let k = 0; k < factor; k++) upsampled.push(upsampleMode === 'nearest' || k === 0 ? i : -1);
              const m = upsampled.length;
              if (padMode === 'reflect' && before >= m) continue;
              const padded = [...Array(m + 2 * before)].map((_, r) => {
                const u = r - before;
                if (u >= 0 && u < m) return upsampled[u];
                if (padMode === 'zeros') return -1;
                return upsampled[u < 0 ? -u : 2 * (m - 1) - u];
              });
              const mapped = padded.map((_, r) => convSourceIndex(r, n, factor, upsampleMode, before, padMode));
              expect(mapped, `${n} ${factor} ${upsampleMode} ${padMode} ${before}`).toEqual(padded);
            }
  });

  it('centres the padding to an internal size, reflecting where the image is larger than the pad', () => {
    expect(centredPadding(5, 6, 8, 8)).toEqual({ top: 1, bottom: 2, left: 1, right: 1, mode: 'reflect' });
    expect(centredPadding(2, 9, 8, 12)).toEqual({ top: 3, bottom: 3, left: 1, right: 2, mode: 'replicate' });
    expect(centredPadding(8, 8, 8, 8)).toEqual({ top: 0, bottom: 0, left: 0, right: 0, mode: 'reflect' });
  });
});
