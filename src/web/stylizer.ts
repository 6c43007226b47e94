// createStylizer: a model file (URL or bytes) and a WebGPU engine behind one stylize(image) call.
import { Engine, type AdapterSummary, type EngineOptions } from '../engine/engine.js';
import { loadTransformNet, type ModelMetadata } from '../models/model-file.js';
import { stylizeRgba } from '../models/stylize.js';
import { toImageData, toRgba, type ImageDataLike, type ImageInput, type RgbaImage } from './pixels.js';

export interface StylizerOptions {
  /** Use this engine (not destroyed by dispose()); otherwise one is opened on navigator.gpu. */
  engine?: Engine;
  /** Accept a software adapter (Chromium's SwiftShader): slow but correct. */
  allowFallbackAdapter?: boolean;
  /** Ask for a WebGPU compatibility-mode adapter (OpenGL ES). */
  compatibilityMode?: boolean;
  powerPreference?: GPUPowerPreference;
}

export interface StylizeImageOptions {
  /**
   * 0..1: strength·stylized + (1 − strength)·content (1 = fully stylized, the default; 0 = the content's
   * pixels exactly). Blended on the GPU, as the CLI's --strength (models/stylize.ts).
   */
  strength?: number;
  /** Keep the content's colours: the stylized image's luminance with the content's chroma (BT.601 YCbCr). */
  preserveColors?: boolean;
}

export interface Stylizer {
  stylize(image: ImageInput, opts?: StylizeImageOptions): Promise<ImageDataLike>;
  readonly adapter: AdapterSummary;
  readonly engine: Engine;
  /** The model file's metadata (style name, training settings…). */
  readonly metadata: ModelMetadata;
  dispose(): void;
}

export type ModelSource = string | URL | ArrayBuffer | ArrayBufferView;

/** Fetches a model file, or takes its bytes; returns the bytes and a name for error messages. */
export async function modelBytes(source: ModelSource): Promise<{ bytes: Uint8Array; name: string }> {
  if (typeof source === 'string' || source instanceof URL) {
    const base = typeof location !== 'undefined' ? location.href : undefined;
    const url = new URL(String(source), base);
    const res = await fetch(url);
    if (!res.ok) throw new Error(`could not load the model ${url.href}: HTTP ${res.status} ${res.statusText}`);
    return { bytes: new Uint8Array(await res.arrayBuffer()), name: url.href };
  }
  if (source instanceof ArrayBuffer) return { bytes: new Uint8Array(source), name: 'model bytes' };
  if (ArrayBuffer.isView(source)) {
    return { bytes: new Uint8Array(source.buffer, source.byteOffset, source.byteLength), name: 'model bytes' };
  }
  throw new TypeError('createStylizer: the model must be a URL, an ArrayBuffer or a Uint8Array');
}

/** Opens an engine on navigator.gpu (unless one is given), loads the transform net and returns a stylizer. */
export async function createStylizer(model: ModelSource, options: StylizerOptions = {}): Promise<Stylizer> {
  const { bytes, name } = await modelBytes(model);
  const ownsEngine = !options.engine;
  const engine =
    options.engine ??
    (await Engine.create((globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu, {
      allowFallbackAdapter: options.allowFallbackAdapter,
      compatibilityMode: options.compatibilityMode,
      powerPreference: options.powerPreference,
    } satisfies EngineOptions));
  let loaded: Awaited<ReturnType<typeof loadTransformNet>>;
  try {
    loaded = await loadTransformNet(engine, bytes, name);
  } catch (e) {
    if (ownsEngine) engine.destroy();
    throw e;
  }
  const { net, metadata } = loaded;
  let disposed = false;
  // The engine's tensor scopes are a stack: run one stylization at a time (webcam frames queue up).
  let queue: Promise<unknown> = Promise.resolve();

  async function run(content: RgbaImage, strength: number, preserveColors: boolean): Promise<ImageDataLike> {
    if (disposed) throw new Error('stylize() after dispose()');
    const rgba = content.data instanceof Uint8Array ? content.data : new Uint8Array(content.data.buffer, content.data.byteOffset, content.data.byteLength);
    const styled = await stylizeRgba(net, { width: content.width, height: content.height, data: rgba }, { strength, preserveColors });
    return toImageData(content.width, content.height, new Uint8ClampedArray(styled.data.buffer, styled.data.byteOffset, styled.data.byteLength));
  }

  return {
    stylize(image, opts = {}) {
      let content: RgbaImage;
      const strength = opts.strength ?? 1;
      try {
        if (disposed) throw new Error('stylize() after dispose()');
        if (!(strength >= 0 && strength <= 1)) throw new RangeError(`strength must be in 0..1, got ${strength}`);
        // Read the pixels now: a video frame or a canvas may change before the queue gets to this call.
        content = toRgba(image);
      } catch (e) {
        return Promise.reject(e);
      }
      const preserveColors = opts.preserveColors ?? false;
      const result = queue.then(() => run(content, strength, preserveColors));
      queue = result.catch(() => undefined);
      return result;
    },
    adapter: engine.adapter,
    engine,
    metadata,
    /** Frees the net (and the engine, if this stylizer opened it) once a stylize() in flight has finished. */
    dispose() {
      if (disposed) return;
      disposed = true;
      void queue.then(() => {
        net.dispose();
        if (ownsEngine) engine.destroy();
      });
    },
  };
}
