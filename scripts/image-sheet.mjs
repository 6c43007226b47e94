// What the figure scripts share (scripts/contact-sheet.mjs, scripts/readme-figure.mjs): images scaled to one
// height (libvips) and laid out in rows on white.
import { readFileSync } from 'node:fs';
import sharp from 'sharp';

/** An image file scaled to `height` (libvips, Lanczos-3), as opaque RGBA over white. */
export async function scaledToHeight(path, height) {
  const { data, info } = await sharp(readFileSync(path), { autoOrient: true })
    .resize({ height, kernel: 'lanczos3' })
    .flatten({ background: '#ffffff' })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

/**
 * RGBA cells `height` tall (or less) in rows of `columns`, `gap` pixels apart on white, each column as wide as
 * its widest cell so that rows of different aspect ratios still line up: the sheet as an opaque sRGB sharp
 * image, and its size.
 */
export function sheetOf(cells, columns, height, gap) {
  const rows = cells.length / columns;
  const widths = Array.from({ length: columns }, (_, c) =>
    Math.max(...cells.filter((_, i) => i % columns === c).map((img) => img.width)),
  );
  const sheetWidth = widths.reduce((a, b) => a + b, 0) + gap * (columns - 1);
  const sheetHeight = rows * height + gap * (rows - 1);
  const pixels = new Uint8Array(sheetWidth * sheetHeight * 4).fill(255);
  cells.forEach((img, i) => {
    const row = Math.floor(i / columns);
    const col = i % columns;
    const left = widths.slice(0, col).reduce((a, b) => a + b, 0) + gap * col;
    const top = row * (height + gap);
    for (let y = 0; y < img.height; y++) {
      pixels.set(img.data.subarray(y * img.width * 4, (y + 1) * img.width * 4), ((top + y) * sheetWidth + left) * 4);
    }
  });
  const image = sharp(pixels, { raw: { width: sheetWidth, height: sheetHeight, channels: 4 } })
    .removeAlpha()
    .withIccProfile('srgb');
  return { image, width: sheetWidth, height: sheetHeight, rows };
}
