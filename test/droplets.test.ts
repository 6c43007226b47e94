// The droplet measure of eval (src/models/droplets.ts): solid near-black blobs where the photo is not dark and
// near-white ones where it is not bright, and not the thin strokes a style paints nor the photo's own dark or
// bright regions.
import { describe, expect, it } from 'vitest';
import { BLOB_SIDE, dropletOverlay, measureDroplets } from '../src/models/droplets.js';
import { summarize, matchSentence } from '../src/models/evaluate.js';

function image(w: number, h: number, rgb: (x: number, y: number) => [number, number, number]) {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([...rgb(x, y), 255], (y * w + x) * 4);
  return { width: w, height: h, data };
}

describe('measureDroplets', () => {
  // A bright photo, 31×23 (odd sizes), except a dark band in rows 0..5.
  const photo = image(31, 23, (_x, y) => (y < 6 ? [20, 20, 20] : [200, 180, 160]));

  it('counts a solid black blob on a bright region, pixel for pixel', () => {
    // A 7×6 black rectangle at x 10..16, y 10..15 on a mid-grey output.
    const styled = image(31, 23, (x, y) => (x >= 10 && x <= 16 && y >= 10 && y <= 15 ? [0, 3, 10] : [120, 100, 90]));
    const m = measureDroplets(photo, styled);
    expect(m.share).toBeCloseTo((7 * 6) / (31 * 23), 12);
    expect(m.mask[12 * 31 + 13]).toBe(1);
    expect(m.mask[12 * 31 + 9]).toBe(0);
  });

  it('ignores strokes narrower than the blob side, dark-photo regions and not-quite-black outputs', () => {
    const stroke = BLOB_SIDE - 1;
    const styled = image(31, 23, (x, y) => {
      if (x >= 3 && x < 3 + stroke && y >= 8) return [0, 0, 0]; // a long thin stroke
      if (y < 6) return [0, 0, 0]; // black where the photo is dark
      if (x >= 20 && x <= 28 && y >= 12 && y <= 20) return [40, 40, 40]; // dark grey, not saturated
      return [150, 150, 150];
    });
    expect(measureDroplets(photo, styled).share).toBe(0);
  });

  it('keeps a blob exactly at the blob side and at the image border, refuses mismatched sizes', () => {
    const styled = image(31, 23, (x, y) => (x >= 31 - BLOB_SIDE && y >= 23 - BLOB_SIDE ? [0, 0, 0] : [90, 90, 90]));
    expect(measureDroplets(photo, styled).share).toBeCloseTo((BLOB_SIDE * BLOB_SIDE) / (31 * 23), 12);
    expect(() =>
      measureDroplets(
        photo,
        image(30, 23, () => [0, 0, 0]),
      ),
    ).toThrow(/30×23 is not the photo's 31×23/);
  });

  it('counts a solid white blob where the photo is not bright, apart from the black ones', () => {
    // The photo's dark band (rows 0..5) is where white output is a droplet; the bright rest is where black is.
    const styled = image(31, 23, (x, y) => {
      if (x >= 2 && x <= 9 && y <= 5) return [255, 250, 240]; // white 8×6 on the dark band: a droplet
      if (x >= 20 && x <= 26 && y <= 5) return [255, 255, 200]; // yellowish: blue channel below near-white
      if (x >= 3 && x <= 9 && y >= 14 && y <= 19) return [0, 0, 0]; // black 7×6 on the bright part
      return [120, 120, 120];
    });
    const m = measureDroplets(photo, styled);
    expect(m.whiteShare).toBeCloseTo((8 * 6) / (31 * 23), 12);
    expect(m.share).toBeCloseTo((8 * 6 + 7 * 6) / (31 * 23), 12);
    expect(m.mask[3 * 31 + 5]).toBe(2);
    expect(m.mask[16 * 31 + 5]).toBe(1);
    // White output where the photo itself is bright (luma above 255 − 64) is the photo's light, not a droplet.
    const brightPhoto = image(31, 23, (x) => (x < 16 ? [240, 235, 230] : [200, 180, 160]));
    const allWhite = image(31, 23, () => [255, 255, 255]);
    expect(measureDroplets(brightPhoto, allWhite).whiteShare).toBeCloseTo((15 * 23) / (31 * 23), 12);
  });

  it('does not let a black and a white patch side by side make one blob', () => {
    // Columns 10..14: white on rows 3..5 (the dark band's last rows) over black on rows 6..7 (the bright part):
    // together a 5×5 square of candidates, but neither kind alone is 5×5.
    const styled = image(31, 23, (x, y) => {
      if (x >= 10 && x <= 14 && y >= 3 && y <= 5) return [255, 255, 255];
      if (x >= 10 && x <= 14 && y >= 6 && y <= 7) return [0, 0, 0];
      return [120, 120, 120];
    });
    expect(measureDroplets(photo, styled).share).toBe(0);
  });

  it('paints the droplets magenta (black) and cyan (white) in the overlay', () => {
    const styled = image(31, 23, (x, y) =>
      x >= 10 && x <= 16 && y >= 10 && y <= 15 ? [0, 0, 0] : x >= 20 && y <= 5 ? [255, 255, 255] : [100, 100, 100],
    );
    const o = dropletOverlay(styled, measureDroplets(photo, styled).mask);
    expect(Array.from(o.data.slice((12 * 31 + 12) * 4, (12 * 31 + 12) * 4 + 4))).toEqual([255, 0, 255, 255]);
    expect(Array.from(o.data.slice((2 * 31 + 25) * 4, (2 * 31 + 25) * 4 + 4))).toEqual([0, 255, 255, 255]);
    expect(o.data[0]).toBe(Math.round(100 * 0.35 + 255 * 0.65));
  });
});

describe('eval summary: where the net stands against Gatys', () => {
  const losses = (total: number) => ({ content: total, style: 0, tv: 0, total });
  const rows = (net: number, gatys: [number, number][]) => [
    { method: 'net' as const, losses: losses(net), droplets: 0.01, whiteDroplets: 0, styleRatio: 0.5 },
    ...gatys.map(([iterations, total]) => ({
      method: 'gatys' as const,
      iterations,
      losses: losses(total),
      droplets: 0,
      styleRatio: 0.1,
    })),
  ];
  const g: [number, number][] = [
    [25, 100],
    [50, 60],
    [100, 40],
  ];

  it('says worse than the fewest count, between two counts, or better than the most', () => {
    expect(matchSentence(summarize(rows(120, g)))).toBe(
      'the net is worse than Gatys after 25 iterations (the fewest measured): it matches fewer than 25',
    );
    expect(matchSentence(summarize(rows(70, g)))).toBe('the net matches Gatys at between 25 and 50 iterations');
    expect(matchSentence(summarize(rows(60, g)))).toBe('the net matches Gatys at between 25 and 50 iterations');
    expect(matchSentence(summarize(rows(30, g)))).toBe(
      'the net is better than Gatys after 100 iterations (the most measured)',
    );
    expect(matchSentence(summarize(rows(30, [])))).toBe('no Gatys iterations measured');
  });

  it('averages droplets per method', () => {
    const s = summarize([...rows(1, g), { method: 'net', losses: losses(3), droplets: 0.03, styleRatio: 0.7 }]);
    expect(s.means.get('net')!.droplets).toBeCloseTo(0.02, 12);
    expect(s.means.get('net')!.total).toBeCloseTo(2, 12);
    expect(s.means.get('net')!.styleRatio).toBeCloseTo(0.6, 12);
  });
});
