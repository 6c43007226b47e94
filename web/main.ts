// The demo page: pick a model and an image (or the webcam), stylize on the GPU, show before/after.
// Plain DOM, no framework. The library comes from ../src/browser.js, which the build maps to ./browser.js.
import {
  blendRgba,
  createBrowserEngine,
  createStylizer,
  fitSize,
  toRgba,
  type Engine,
  type RgbaImage,
  type Stylizer,
} from '../src/browser.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const el = {
  adapter: $<HTMLParagraphElement>('adapter'),
  modelListLabel: $<HTMLLabelElement>('model-list-label'),
  modelList: $<HTMLSelectElement>('model-list'),
  modelFile: $<HTMLInputElement>('model-file'),
  modelName: $<HTMLSpanElement>('model-name'),
  imageFile: $<HTMLInputElement>('image-file'),
  webcam: $<HTMLButtonElement>('webcam'),
  maxSize: $<HTMLSelectElement>('max-size'),
  strength: $<HTMLInputElement>('strength'),
  strengthValue: $<HTMLOutputElement>('strength-value'),
  timing: $<HTMLSpanElement>('timing'),
  status: $<HTMLParagraphElement>('status'),
  before: $<HTMLCanvasElement>('before'),
  after: $<HTMLCanvasElement>('after'),
  video: $<HTMLVideoElement>('video'),
};

const params = new URLSearchParams(location.search);

const state = {
  engine: null as Promise<Engine> | null,
  stylizer: null as Stylizer | null,
  /** The image being shown (already fitted to the max size) and its stylized version at strength 1. */
  content: null as RgbaImage | null,
  styled: null as RgbaImage | null,
  /** Bumped on every new image or webcam frame, and on every model load: results of older runs are dropped. */
  imageGen: 0,
  modelGen: 0,
  webcam: null as MediaStream | null,
  frameMs: 0,
  /** Frames stylized with the current model. */
  frames: 0,
};

type Status = 'idle' | 'loading' | 'ready' | 'busy' | 'done' | 'error';

function setStatus(s: Status, text: string): void {
  el.status.dataset.state = s;
  el.status.textContent = text;
}

function showError(e: unknown): void {
  console.error(e);
  setStatus('error', e instanceof Error ? e.message : String(e));
}

function engine(): Promise<Engine> {
  state.engine ??= createBrowserEngine({
    // On machines without a GPU Chromium only offers SwiftShader, a fallback adapter: slow, but correct.
    allowFallbackAdapter: params.get('fallback') !== '0',
    compatibilityMode: params.get('compat') === '1',
  }).then(
    (e) => {
      el.adapter.textContent = `WebGPU: ${e.describe()}${e.adapter.isFallbackAdapter ? ' (software adapter: expect seconds per image)' : ''}`;
      el.adapter.classList.toggle('warn', e.adapter.isFallbackAdapter);
      return e;
    },
    (e) => {
      state.engine = null;
      el.adapter.textContent = 'WebGPU: unavailable';
      throw e;
    },
  );
  return state.engine;
}

function draw(canvas: HTMLCanvasElement, img: RgbaImage): void {
  if (canvas.width !== img.width || canvas.height !== img.height) {
    canvas.width = img.width;
    canvas.height = img.height;
  }
  const data = img.data instanceof Uint8ClampedArray ? img.data : new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  canvas.getContext('2d')!.putImageData(new ImageData(data as Uint8ClampedArray<ArrayBuffer>, img.width, img.height), 0, 0);
}

function strength(): number {
  return Number(el.strength.value);
}

/** Redraws the after pane from the cached strength-1 result: the slider needs no GPU work. */
function drawAfter(): void {
  if (!state.content || !state.styled) return;
  const data = blendRgba(state.content, state.styled, strength());
  draw(el.after, { width: state.content.width, height: state.content.height, data });
}

function showTiming(ms: number, img: RgbaImage): void {
  // Webcam frames: a moving average, so that the number can be read.
  state.frameMs = state.webcam && state.frameMs ? 0.8 * state.frameMs + 0.2 * ms : ms;
  const first = state.frames++ === 0 ? ', first run: includes compiling the kernels' : '';
  el.timing.textContent = `${state.frameMs.toFixed(0)} ms per frame (${img.width}×${img.height}${first})`;
}

/** Stylizes state.content at strength 1 (cached for the slider); returns false when overtaken by a newer run. */
async function stylizeContent(): Promise<boolean> {
  const { stylizer, content } = state;
  if (!stylizer || !content) return true;
  const gens = [state.imageGen, state.modelGen];
  const t0 = performance.now();
  const out = await stylizer.stylize(content, { strength: 1 });
  if (gens[0] !== state.imageGen || gens[1] !== state.modelGen) return false;
  showTiming(performance.now() - t0, content);
  state.styled = out;
  drawAfter();
  return true;
}

async function loadModel(source: string | Uint8Array, name: string): Promise<void> {
  const gen = ++state.modelGen;
  setStatus('loading', `Loading ${name}…`);
  try {
    const e = await engine();
    const next = await createStylizer(source, { engine: e });
    if (gen !== state.modelGen) {
      next.dispose();
      return;
    }
    state.stylizer?.dispose();
    state.stylizer = next;
    state.styled = null;
    state.frames = 0;
    el.modelName.textContent = `Loaded: ${name}`;
    if (state.content && !state.webcam) await runStill();
    else setStatus('ready', state.webcam ? 'Webcam running.' : 'Model loaded: pick an image.');
  } catch (e) {
    showError(e);
  }
}

async function runStill(): Promise<void> {
  if (!state.stylizer) {
    setStatus('ready', 'Image loaded: pick a model.');
    return;
  }
  setStatus('busy', 'Stylizing…');
  try {
    if (await stylizeContent()) setStatus('done', 'Done. Move the slider to blend with the original.');
  } catch (e) {
    showError(e);
  }
}

async function loadImage(blob: Blob): Promise<void> {
  stopWebcam();
  const gen = ++state.imageGen;
  try {
    // Pixels as stored in the file: no colour-profile conversion, so the numbers match other decoders.
    const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none' });
    if (gen !== state.imageGen) return bitmap.close();
    const size = fitSize(bitmap.width, bitmap.height, Number(el.maxSize.value));
    state.content = toRgba(bitmap, size);
    bitmap.close();
    state.styled = null;
    draw(el.before, state.content);
    await runStill();
  } catch (e) {
    showError(e);
  }
}

// ------------------------------------------------------------------ webcam

function stopWebcam(): void {
  if (!state.webcam) return;
  for (const t of state.webcam.getTracks()) t.stop();
  state.webcam = null;
  el.video.srcObject = null;
  el.webcam.textContent = 'Start webcam';
}

async function startWebcam(): Promise<void> {
  if (!navigator.mediaDevices?.getUserMedia) throw new Error('this browser gives no camera access here (it needs https or localhost)');
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  state.webcam = stream;
  state.frameMs = 0;
  el.webcam.textContent = 'Stop webcam';
  el.video.srcObject = stream;
  await el.video.play();
  setStatus('busy', state.stylizer ? 'Webcam running.' : 'Webcam running: pick a model to stylize it.');
  const frame = async () => {
    if (state.webcam !== stream) return;
    try {
      const size = fitSize(el.video.videoWidth, el.video.videoHeight, Number(el.maxSize.value));
      if (size.width > 1 && size.height > 1) {
        state.content = toRgba(el.video, size);
        draw(el.before, state.content);
        state.imageGen++;
        await stylizeContent();
      }
    } catch (e) {
      stopWebcam();
      showError(e);
      return;
    }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

// ------------------------------------------------------------------ wiring

const MODEL_EXT = /\.(safetensors|fsw|bin|model)$/i;

async function fileBytes(f: File): Promise<Uint8Array> {
  return new Uint8Array(await f.arrayBuffer());
}

el.modelFile.addEventListener('change', async () => {
  const f = el.modelFile.files?.[0];
  if (f) await loadModel(await fileBytes(f), f.name);
});

el.modelList.addEventListener('change', () => {
  const opt = el.modelList.selectedOptions[0];
  if (opt) void loadModel(opt.value, opt.textContent ?? opt.value);
});

el.imageFile.addEventListener('change', () => {
  const f = el.imageFile.files?.[0];
  if (f) void loadImage(f);
});

el.webcam.addEventListener('click', () => {
  if (state.webcam) {
    stopWebcam();
    setStatus('ready', 'Webcam stopped.');
  } else {
    startWebcam().catch((e) => {
      stopWebcam();
      showError(e);
    });
  }
});

el.strength.addEventListener('input', () => {
  el.strengthValue.textContent = strength().toFixed(2);
  drawAfter();
});

el.maxSize.addEventListener('change', () => {
  const f = el.imageFile.files?.[0];
  if (f && !state.webcam) void loadImage(f);
});

let dragDepth = 0;
window.addEventListener('dragenter', (e) => {
  e.preventDefault();
  dragDepth++;
  document.body.classList.add('dragging');
});
window.addEventListener('dragleave', () => {
  if (--dragDepth <= 0) document.body.classList.remove('dragging');
});
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', async (e) => {
  e.preventDefault();
  dragDepth = 0;
  document.body.classList.remove('dragging');
  const f = e.dataTransfer?.files[0];
  if (!f) return;
  if (f.type.startsWith('image/')) await loadImage(f);
  else if (MODEL_EXT.test(f.name) || !f.type) await loadModel(await fileBytes(f), f.name);
  else showError(new Error(`${f.name}: not an image or a model file`));
});

/** Offers the models the server lists (models/index.json) and loads the first one. */
async function listShippedModels(): Promise<void> {
  let models: { name: string; url: string }[] = [];
  try {
    const res = await fetch('models/index.json');
    if (res.ok) models = ((await res.json()) as { models?: { name: string; url: string }[] }).models ?? [];
  } catch {
    // No listing (a plain static host): the file picker is enough.
  }
  if (!models.length) return;
  for (const m of models) el.modelList.append(new Option(m.name, m.url));
  el.modelListLabel.hidden = false;
  if (!state.stylizer && params.get('autoload') !== '0') await loadModel(models[0].url, models[0].name);
}

if (!('gpu' in navigator)) {
  el.adapter.textContent = 'WebGPU: this browser does not offer it (navigator.gpu is missing).';
  el.adapter.classList.add('warn');
}
void listShippedModels();

// For the devtools console and the browser test: the page's engine (a promise; null before the first model).
(window as unknown as { demo: { engine(): Promise<Engine> | null } }).demo = { engine: () => state.engine };
