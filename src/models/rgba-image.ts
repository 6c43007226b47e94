// The one type for an image as bytes, shared by the models (stylize, evaluation, video), the CLI's image files
// and the browser's canvases: plain data, so every layer from models up can use it.

/**
 * Raw RGBA pixels, row-major, 4 bytes a pixel (width·height·4 bytes), sRGB: the shape of ImageData. `Data`
 * narrows the bytes where a producer knows them (the CLI decodes into a Uint8Array).
 */
export interface RgbaImage<Data extends Uint8Array | Uint8ClampedArray = Uint8Array | Uint8ClampedArray> {
  width: number;
  height: number;
  data: Data;
}
