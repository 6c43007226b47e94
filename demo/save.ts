// Saving the result: RGBA pixels to a PNG or JPEG file that the browser downloads.
import type { RgbaImage } from '../src/browser/index.js';

export type ImageFormat = 'image/png' | 'image/jpeg';

/** JPEG quality: high enough that the painted texture survives, about a fifth of the PNG's size. */
const JPEG_QUALITY = 0.92;

/** The image encoded by the browser's own codecs (a canvas of the image's full size). */
export function encodeImage(img: RgbaImage, type: ImageFormat): Promise<Blob> {
  const canvas = document.createElement('canvas');
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return Promise.reject(new Error('no 2-D canvas to encode the image'));
  const data =
    img.data instanceof Uint8ClampedArray
      ? img.data
      : new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  ctx.putImageData(new ImageData(data as Uint8ClampedArray<ArrayBuffer>, img.width, img.height), 0, 0);
  return new Promise((resolve, reject) =>
    canvas.toBlob(
      (blob) =>
        blob ? resolve(blob) : reject(new Error(`the browser could not encode ${img.width}×${img.height} as ${type}`)),
      type,
      JPEG_QUALITY,
    ),
  );
}

/** Hands `blob` to the browser as a download named `fileName`. */
export function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  // The download has its own reference once it starts; the URL only has to outlive the click.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** "holiday.jpg" + "starry_night" + image/png → "holiday_starry_night.png". */
export function resultFileName(photoName: string, styleName: string, type: ImageFormat): string {
  const stem = photoName.replace(/\.[^.]*$/, '') || 'photo';
  return `${stem}_${styleName}.${type === 'image/png' ? 'png' : 'jpg'}`;
}
