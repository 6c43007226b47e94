// createStylizer: a model file (URL or bytes) or an ml5.js model folder (URL) and a WebGPU engine behind one
// stylize(image) call.
import { Engine, type AdapterSummary, type EngineOptions } from '../engine/engine.js';
import { ml5CheckpointTensors, ml5ModelMetadata, parseMl5Manifest } from '../models/ml5-checkpoint.js';
import { loadTransformNet, type ModelMetadata } from '../models/model-file.js';
import { TransformNet } from '../models/transform-net.js';
import { stylizeRgba, type StylizeMode } from '../models/stylize.js';
import type { RgbaImage } from '../models/rgba-image.js';
import { toImageData, toRgba, type ImageDataLike, type ImageInput } from './pixels.js';

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
  /**
   * GPU memory budget in bytes for this image (phones have small limits): an image whose one pass needs more
   * runs layer by layer in row bands, with the same result (models/banded.ts). Default: the adapter's limit.
   */
  memoryBytes?: number;
  /** Told how this image runs, before it runs: 'one-pass', or 'banded' (an image beyond the memory budget). */
  onMode?(mode: StylizeMode): void;
  /** Progress of the run, for a progress bar: steps done of total (one pass reports 1 of 1 when it ends). */
  onProgress?(done: number, total: number): void;
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

const ML5_MANIFEST = 'manifest.json';

/**
 * The manifest URL when `source` names an ml5.js model folder (what `ml5.styleTransfer(url)` takes: the
 * folder, with or without a trailing slash, or its manifest.json), or null for a model file (bytes, or a
 * URL ending in .safetensors). A URL that could be either is tried as a folder first (see loadModel).
 */
function ml5ManifestUrl(source: ModelSource): URL | null {
  if (typeof source !== 'string' && !(source instanceof URL)) return null;
  const base = typeof location !== 'undefined' ? location.href : undefined;
  const url = new URL(String(source), base);
  if (/\.safetensors$/i.test(url.pathname)) return null;
  if (url.pathname.endsWith(`/${ML5_MANIFEST}`)) return url;
  return new URL(ML5_MANIFEST, url.pathname.endsWith('/') ? url : new URL(`${url.pathname}/${url.search}`, url));
}

/** An ml5.js model folder: its manifest.json and variable files, fetched; null when there is no manifest. */
async function loadMl5Folder(
  engine: Engine,
  manifestUrl: URL,
): Promise<{ net: TransformNet; metadata: ModelMetadata } | null> {
  const res = await fetch(manifestUrl);
  if (res.status === 404) return null;
  const folder = new URL('.', manifestUrl);
  if (!res.ok)
    throw new Error(`could not load the ml5 model ${manifestUrl.href}: HTTP ${res.status} ${res.statusText}`);
  const manifest = parseMl5Manifest(await res.text(), folder.href);
  // Every variable file at once (48 small requests), then the conversion in layer order.
  const files = new Map(
    await Promise.all(
      [...manifest.values()].map(async ({ filename }) => {
        const r = await fetch(new URL(filename, folder));
        return [filename, r.ok ? new Uint8Array(await r.arrayBuffer()) : undefined] as const;
      }),
    ),
  );
  const { widthMultiplier, tensors } = await ml5CheckpointTensors(manifest, async (f) => files.get(f), folder.href);
  const style = decodeURIComponent(folder.pathname.split('/').filter(Boolean).pop() ?? '') || undefined;
  const metadata = ml5ModelMetadata(widthMultiplier, style, folder.href);
  return {
    net: TransformNet.fromTensors(engine, { widthMultiplier, architecture: 'ml5-lengstrom' }, tensors, folder.href),
    metadata,
  };
}

/** The net and metadata of a model file (URL or bytes) or of an ml5.js model folder (URL). */
async function loadModel(engine: Engine, source: ModelSource): Promise<{ net: TransformNet; metadata: ModelMetadata }> {
  const manifestUrl = ml5ManifestUrl(source);
  if (manifestUrl) {
    const loaded = await loadMl5Folder(engine, manifestUrl);
    if (loaded) return loaded;
    // No manifest.json there: a model file whose URL lacks the .safetensors extension (or a wrong URL, which
    // the file fetch reports).
    if (String(source).endsWith(ML5_MANIFEST))
      throw new Error(`could not load the ml5 model ${manifestUrl.href}: HTTP 404`);
  }
  const { bytes, name } = await modelBytes(source);
  return loadTransformNet(engine, bytes, name);
}

/**
 * Opens an engine on navigator.gpu (unless one is given), loads the transform net and returns a stylizer.
 * `model`: our model file (URL, ArrayBuffer or bytes), or the URL of an ml5.js style-transfer model folder
 * (manifest.json + Variable files, as `ml5.styleTransfer('models/wave')` loads).
 */
export async function createStylizer(model: ModelSource, options: StylizerOptions = {}): Promise<Stylizer> {
  const ownsEngine = !options.engine;
  const engine =
    options.engine ??
    (await Engine.create((globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu, {
      allowFallbackAdapter: options.allowFallbackAdapter,
      compatibilityMode: options.compatibilityMode,
      powerPreference: options.powerPreference,
    } satisfies EngineOptions));
  let loaded: Awaited<ReturnType<typeof loadModel>>;
  try {
    loaded = await loadModel(engine, model);
  } catch (e) {
    if (ownsEngine) engine.destroy();
    throw e;
  }
  const { net, metadata } = loaded;
  let disposed = false;
  // The engine's tensor scopes are a stack: run one stylization at a time (webcam frames queue up).
  let queue: Promise<unknown> = Promise.resolve();

  async function run(content: RgbaImage, opts: StylizeImageOptions & { strength: number }): Promise<ImageDataLike> {
    if (disposed) throw new Error('stylize() after dispose()');
    const rgba =
      content.data instanceof Uint8Array
        ? content.data
        : new Uint8Array(content.data.buffer, content.data.byteOffset, content.data.byteLength);
    const { strength, preserveColors = false, memoryBytes, onMode, onProgress } = opts;
    const styled = await stylizeRgba(
      net,
      { width: content.width, height: content.height, data: rgba },
      { strength, preserveColors, memoryBytes, onMode, onProgress },
    );
    return toImageData(
      content.width,
      content.height,
      new Uint8ClampedArray(styled.data.buffer, styled.data.byteOffset, styled.data.byteLength),
    );
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
      const result = queue.then(() => run(content, { ...opts, strength }));
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
