// The demo page: choose a style from the gallery and a photo (file, drop, paste or webcam); the page stylises a
// preview on the GPU, shows it over the photo with a compare divider, and saves the full-size result.
// Plain DOM, no framework. The library comes from ../src/browser/index.js, which the build maps to ./browser.js.
// Address options: autoload=0 (do not apply the first style), fallback=0 (refuse a software adapter),
// compat=1 (WebGPU compatibility mode), gpu-memory-mb=N (GPU memory budget per image: larger photos run in
// exact row bands, as on a phone), gpu-buffer-mb=N (the Train panel's largest GPU buffer: see train.ts).
// The Train panel (step 3) is demo/train.ts.
import {
  blendRgba,
  createBrowserEngine,
  createStylizer,
  fitSize,
  toRgba,
  type Engine,
  type RgbaImage,
  type StylizeMode,
  type Stylizer,
} from '../src/browser/index.js';
import { setupCompare } from './compare.js';
import { fetchStyles, renderGallery, styleTitle, type Gallery, type StyleEntry } from './gallery.js';
import { adapterLine, explain, isSoftwareAdapter, type Activity } from './messages.js';
import { encodeImage, resultFileName, saveBlob, type ImageFormat } from './save.js';
import { showStatus } from './status.js';
import { setupTrainPanel } from './train.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const el = {
  adapter: $<HTMLParagraphElement>('adapter'),
  gallery: $<HTMLUListElement>('gallery'),
  ownModelItem: $<HTMLLIElement>('own-model-item'),
  ownModel: $<HTMLButtonElement>('own-model'),
  ownModelName: $<HTMLSpanElement>('own-model-name'),
  modelFile: $<HTMLInputElement>('model-file'),
  pickPhoto: $<HTMLButtonElement>('pick-photo'),
  imageFile: $<HTMLInputElement>('image-file'),
  webcam: $<HTMLButtonElement>('webcam'),
  status: $<HTMLParagraphElement>('status'),
  progress: $<HTMLProgressElement>('progress'),
  empty: $<HTMLButtonElement>('empty'),
  stage: $<HTMLDivElement>('stage'),
  frame: $<HTMLDivElement>('frame'),
  before: $<HTMLCanvasElement>('before'),
  after: $<HTMLCanvasElement>('after'),
  compare: $<HTMLInputElement>('compare'),
  strength: $<HTMLInputElement>('strength'),
  strengthValue: $<HTMLOutputElement>('strength-value'),
  preserveColors: $<HTMLInputElement>('preserve-colors'),
  maxSize: $<HTMLSelectElement>('max-size'),
  downloadFormat: $<HTMLSelectElement>('download-format'),
  download: $<HTMLButtonElement>('download'),
  timing: $<HTMLParagraphElement>('timing'),
  video: $<HTMLVideoElement>('video'),
};

const params = new URLSearchParams(location.search);
const memoryMb = Number(params.get('gpu-memory-mb'));
/** GPU memory budget per image (undefined: the adapter's limit). */
const memoryBytes = memoryMb > 0 ? Math.round(memoryMb * 2 ** 20) : undefined;

const state = {
  engine: null as Promise<Engine> | null,
  stylizer: null as Stylizer | null,
  /** The applied style: its title for messages, its name for file names, its URL for the gallery. */
  style: { title: '', name: 'styled', url: null as string | null },
  gallery: null as Gallery | null,
  /** The photo as picked (full size, for Download) and its file name; null for webcam frames. */
  photo: null as Blob | null,
  photoName: 'photo',
  /** The preview (the photo fitted to the preview size) and its stylised version at strength 1. */
  content: null as RgbaImage | null,
  styled: null as RgbaImage | null,
  /** Bumped on every new image or webcam frame, and on every style load: results of older runs are dropped. */
  imageGen: 0,
  modelGen: 0,
  webcam: null as MediaStream | null,
  frameMs: 0,
  /** Images stylised with the current style (the first one includes compiling the kernels). */
  frames: 0,
  /** Set when the visitor picks a preview size: the software-adapter default no longer applies. */
  sizeChosen: false,
};

// ------------------------------------------------------------------ status, progress, errors

type Status = 'idle' | 'loading' | 'ready' | 'busy' | 'done' | 'error';

/** The page's status line (status.ts), its progress bar hidden once nothing runs. */
function setStatus(s: Status, text: string, detail?: string): void {
  showStatus(el.status, s, text, detail);
  if (s !== 'busy' && s !== 'loading') el.progress.hidden = true;
}

function showError(activity: Activity, e: unknown, subject = ''): void {
  console.error(e);
  const { advice, detail } = explain(activity, e, subject);
  setStatus('error', advice, detail);
}

/**
 * A long run on the status line: its label with the seconds so far (a software adapter takes many), and the
 * progress bar: moving while the amount is unknown, filling as a banded run reports its steps.
 */
function startProgress(label: string): { update(done: number, total: number): void; stop(): void } {
  const t0 = performance.now();
  const show = () => {
    const s = Math.round((performance.now() - t0) / 1000);
    setStatus('busy', s >= 1 ? `${label}… ${s} s` : `${label}…`);
  };
  el.progress.removeAttribute('value');
  el.progress.hidden = false;
  show();
  const timer = setInterval(show, 1000);
  return {
    update(done, total) {
      if (total > 1) {
        el.progress.max = total;
        el.progress.value = done;
      }
    },
    stop() {
      clearInterval(timer);
      el.progress.hidden = true;
    },
  };
}

// ------------------------------------------------------------------ engine

function engine(): Promise<Engine> {
  state.engine ??= createBrowserEngine({
    // On machines without a GPU Chromium only offers SwiftShader, a fallback adapter: slow, but correct.
    allowFallbackAdapter: params.get('fallback') !== '0',
    compatibilityMode: params.get('compat') === '1',
  }).then(
    (e) => {
      const software = isSoftwareAdapter(e.adapter, e.describe());
      el.adapter.textContent = adapterLine(e.adapter, e.describe());
      el.adapter.classList.toggle('software', software);
      // A software adapter takes ~25 s for a 256² picture: the smallest preview, unless the visitor chose.
      if (software && !state.sizeChosen) el.maxSize.value = '256';
      return e;
    },
    (e) => {
      state.engine = null;
      el.adapter.textContent = 'Graphics: WebGPU unavailable';
      el.adapter.classList.add('software');
      throw e;
    },
  );
  return state.engine;
}

// ------------------------------------------------------------------ drawing

/**
 * Sizes the picture to the stage: as wide as it allows (a small preview is enlarged, at most 3 times), at most
 * 75% of the window's height.
 */
function fitFrame(): void {
  const c = state.content;
  if (!c) return;
  const stageStyle = getComputedStyle(el.stage);
  const room = el.stage.clientWidth - parseFloat(stageStyle.paddingLeft) - parseFloat(stageStyle.paddingRight);
  const scale = Math.min(3, room / c.width, (0.75 * innerHeight) / c.height);
  const width = Math.floor(c.width * scale);
  el.frame.style.width = `${width}px`;
  el.frame.style.height = `${Math.floor(c.height * scale)}px`;
  // The Before/After tags would cover a small picture.
  el.frame.classList.toggle('small', width < 240);
}

function draw(canvas: HTMLCanvasElement, img: RgbaImage): void {
  if (canvas.width !== img.width || canvas.height !== img.height) {
    canvas.width = img.width;
    canvas.height = img.height;
  }
  const data =
    img.data instanceof Uint8ClampedArray
      ? img.data
      : new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  canvas
    .getContext('2d')!
    .putImageData(new ImageData(data as Uint8ClampedArray<ArrayBuffer>, img.width, img.height), 0, 0);
}

/** Shows the preview photo; the result side stays the photo until its stylised version is drawn. */
function showContent(img: RgbaImage): void {
  const first = el.frame.hidden;
  el.empty.hidden = true;
  el.frame.hidden = false;
  draw(el.before, img);
  if (first || el.after.width !== img.width || el.after.height !== img.height) draw(el.after, img);
  fitFrame();
}

function strength(): number {
  return Number(el.strength.value);
}

/** The result as shown: the cached strength-1 result blended with the photo (the slider needs no GPU work). */
function shownResult(): RgbaImage | null {
  const { content, styled } = state;
  if (!content || !styled) return null;
  return { width: content.width, height: content.height, data: blendRgba(content, styled, strength()) };
}

function drawAfter(): void {
  const result = shownResult();
  if (result) draw(el.after, result);
}

function showTiming(ms: number, img: RgbaImage): void {
  const first = state.frames++ === 0 ? ' (first run: includes compiling the kernels)' : '';
  if (state.webcam) {
    // A moving average, so that the number can be read.
    state.frameMs = state.frameMs ? 0.8 * state.frameMs + 0.2 * ms : ms;
    el.timing.textContent = `${state.frameMs.toFixed(0)} ms per frame (${img.width}×${img.height})${first}`;
  } else {
    el.timing.textContent = `Took ${(ms / 1000).toFixed(1)} s for ${img.width}×${img.height}${first}`;
  }
}

function updateButtons(): void {
  el.download.disabled = !state.stylizer || !state.content;
}

// ------------------------------------------------------------------ stylising

/** Stylizes the preview at strength 1 (cached for the slider); returns false when overtaken by a newer run. */
async function stylizeContent(): Promise<boolean> {
  const { stylizer, content } = state;
  if (!stylizer || !content) return true;
  const gens = [state.imageGen, state.modelGen];
  const t0 = performance.now();
  const out = await stylizer.stylize(content, { strength: 1, preserveColors: el.preserveColors.checked, memoryBytes });
  if (gens[0] !== state.imageGen || gens[1] !== state.modelGen) return false;
  showTiming(performance.now() - t0, content);
  state.styled = out;
  drawAfter();
  return true;
}

async function runStill(): Promise<void> {
  updateButtons();
  if (!state.stylizer) {
    setStatus('ready', 'Photo loaded: choose a style above.');
    return;
  }
  const c = state.content!;
  const progress = startProgress(`Stylising ${c.width}×${c.height} in ${state.style.title}`);
  try {
    const current = await stylizeContent();
    progress.stop();
    if (current)
      setStatus(
        'done',
        'Done. Drag across the picture to compare with your photo; adjust strength and colours; Download saves it at full size.',
      );
  } catch (e) {
    progress.stop();
    showError('stylize', e);
  }
}

/** Marks the gallery card of a style's URL as the applied one (null: the "your own model" card; undefined: none). */
function markApplied(url: string | null | undefined): void {
  state.gallery?.select(url ?? null);
  el.ownModel.setAttribute('aria-pressed', String(url === null));
}

/** Loads a style (a URL or a model file's bytes) and re-stylises the photo shown. */
async function loadStyle(
  source: string | Uint8Array,
  style: { title: string; name: string; url: string | null },
): Promise<void> {
  const gen = ++state.modelGen;
  markApplied(style.url);
  setStatus('loading', `Loading ${style.title}…`);
  el.progress.removeAttribute('value');
  el.progress.hidden = false;
  let e: Engine;
  try {
    e = await engine();
  } catch (err) {
    showError('engine', err);
    return;
  }
  try {
    const next = await createStylizer(source, { engine: e });
    if (gen !== state.modelGen) {
      next.dispose();
      return;
    }
    state.stylizer?.dispose();
    state.stylizer = next;
    state.style = style;
    if (style.url === null) el.ownModelName.textContent = style.title;
    state.styled = null;
    state.frames = 0;
    if (state.content && !state.webcam) await runStill();
    else {
      updateButtons();
      setStatus(
        'ready',
        state.webcam
          ? 'Webcam running.'
          : `${style.title} is ready. Now choose a photo: the button above, drag and drop, or paste.`,
      );
    }
  } catch (err) {
    if (gen !== state.modelGen) return;
    // The style applied before (if any) stays: the gallery shows that one again.
    markApplied(state.stylizer ? state.style.url : undefined);
    showError('style', err, style.title);
  }
}

/** Decodes a photo as stored in its file (no colour-profile conversion, so the numbers match other decoders). */
function decodePhoto(blob: Blob): Promise<ImageBitmap> {
  return createImageBitmap(blob, { colorSpaceConversion: 'none' });
}

async function loadImage(blob: Blob, name: string): Promise<void> {
  stopWebcam();
  const gen = ++state.imageGen;
  try {
    const bitmap = await decodePhoto(blob);
    if (gen !== state.imageGen) return bitmap.close();
    const size = fitSize(bitmap.width, bitmap.height, Number(el.maxSize.value));
    state.content = toRgba(bitmap, size);
    bitmap.close();
    state.photo = blob;
    state.photoName = name;
    state.styled = null;
    showContent(state.content);
    // On a small screen the picture is below the buttons: bring it into view.
    el.stage.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    await runStill();
  } catch (e) {
    showError('photo', e, name);
  }
}

/**
 * Download: the result at the photo's full size. A preview smaller than the photo means one more run on the
 * whole photo (which the library runs in exact row bands when it does not fit the GPU in one pass); otherwise
 * the preview is the full size and is saved as shown.
 */
async function download(): Promise<void> {
  const { stylizer, content } = state;
  if (!stylizer || !content) return;
  const type = el.downloadFormat.value as ImageFormat;
  el.download.disabled = true;
  let progress: ReturnType<typeof startProgress> | null = null;
  try {
    let result = shownResult();
    // Set by the run's onMode (a callback, so TypeScript cannot narrow it here).
    let mode = 'one-pass' as StylizeMode;
    const bitmap = state.photo && !state.webcam ? await decodePhoto(state.photo) : null;
    if (!result || (bitmap && (bitmap.width !== content.width || bitmap.height !== content.height))) {
      const full = bitmap ? toRgba(bitmap) : content;
      progress = startProgress(`Stylising the full-size photo, ${full.width}×${full.height}`);
      result = await stylizer.stylize(full, {
        strength: strength(),
        preserveColors: el.preserveColors.checked,
        memoryBytes,
        onMode: (m) => (mode = m),
        onProgress: (done, total) => progress!.update(done, total),
      });
      progress.stop();
    }
    bitmap?.close();
    const blob = await encodeImage(result, type);
    const fileName = resultFileName(state.photoName, state.style.name, type);
    saveBlob(blob, fileName);
    const how = mode === 'banded' ? ', stylised in row bands to fit the GPU memory' : '';
    setStatus('done', `Saved ${fileName}: ${result.width}×${result.height}, ${Math.round(blob.size / 1024)} kB${how}.`);
  } catch (e) {
    progress?.stop();
    showError('download', e);
  } finally {
    updateButtons();
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
  if (!navigator.mediaDevices?.getUserMedia)
    throw new Error('this browser gives no camera access here (it needs https or localhost)');
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: { ideal: 640 }, height: { ideal: 480 } },
    audio: false,
  });
  state.webcam = stream;
  state.photo = null;
  state.photoName = 'webcam';
  state.frameMs = 0;
  el.webcam.textContent = 'Stop webcam';
  el.video.srcObject = stream;
  await el.video.play();
  setStatus('busy', state.stylizer ? 'Webcam running.' : 'Webcam running: choose a style to stylise it.');
  const frame = async () => {
    if (state.webcam !== stream) return;
    try {
      const size = fitSize(el.video.videoWidth, el.video.videoHeight, Number(el.maxSize.value));
      if (size.width > 1 && size.height > 1) {
        state.content = toRgba(el.video, size);
        showContent(state.content);
        state.imageGen++;
        await stylizeContent();
        updateButtons();
      }
    } catch (e) {
      stopWebcam();
      showError('stylize', e);
      return;
    }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

// ------------------------------------------------------------------ wiring

async function fileBytes(f: File): Promise<Uint8Array> {
  return new Uint8Array(await f.arrayBuffer());
}

async function loadOwnModel(f: File): Promise<void> {
  await loadStyle(await fileBytes(f), { title: f.name, name: f.name.replace(/\.safetensors$/i, ''), url: null });
}

/** A dropped or pasted file: a photo, or a model file (by its name: browsers give .safetensors no type). */
async function openFile(f: File): Promise<void> {
  if (f.type.startsWith('image/')) await loadImage(f, f.name);
  else if (/\.safetensors$/i.test(f.name) || !f.type) await loadOwnModel(f);
  else
    setStatus(
      'error',
      `${f.name} is neither a photo nor a style model: drop a JPEG, PNG or WebP photo, or a .safetensors style file.`,
    );
}

el.ownModel.addEventListener('click', () => el.modelFile.click());
el.modelFile.addEventListener('change', () => {
  const f = el.modelFile.files?.[0];
  if (f) void loadOwnModel(f);
});

el.pickPhoto.addEventListener('click', () => el.imageFile.click());
el.empty.addEventListener('click', () => el.imageFile.click());
el.imageFile.addEventListener('change', () => {
  const f = el.imageFile.files?.[0];
  if (f) void loadImage(f, f.name);
});

el.webcam.addEventListener('click', () => {
  if (state.webcam) {
    stopWebcam();
    setStatus('ready', 'Webcam stopped.');
  } else {
    startWebcam().catch((e) => {
      stopWebcam();
      showError('webcam', e);
    });
  }
});

el.strength.addEventListener('input', () => {
  el.strengthValue.textContent = `${Math.round(strength() * 100)}%`;
  drawAfter();
});

el.preserveColors.addEventListener('change', () => {
  // Colour preservation changes the strength-1 result: one more GPU run of the preview.
  state.styled = null;
  if (state.content && !state.webcam) void runStill();
});

el.maxSize.addEventListener('change', () => {
  state.sizeChosen = true;
  if (state.photo && !state.webcam) void loadImage(state.photo, state.photoName);
});

el.download.addEventListener('click', () => void download());

setupCompare(el.frame, el.compare);
addEventListener('resize', fitFrame);

let dragDepth = 0;
addEventListener('dragenter', (e) => {
  e.preventDefault();
  dragDepth++;
  document.body.classList.add('dragging');
});
addEventListener('dragleave', () => {
  if (--dragDepth <= 0) document.body.classList.remove('dragging');
});
addEventListener('dragover', (e) => e.preventDefault());
addEventListener('drop', (e) => {
  e.preventDefault();
  dragDepth = 0;
  document.body.classList.remove('dragging');
  const f = e.dataTransfer?.files[0];
  if (f) void openFile(f);
});
addEventListener('paste', (e) => {
  const f = [...(e.clipboardData?.files ?? [])].find((x) => x.type.startsWith('image/'));
  if (!f) return;
  e.preventDefault();
  void loadImage(f, f.name && f.name !== 'image.png' ? f.name : 'pasted.png');
});

/** Fills the gallery from the server's list and applies the first style (ours come first). */
async function startGallery(): Promise<void> {
  const styles = await fetchStyles();
  if (!styles?.length) {
    setStatus('idle', 'This server lists no styles: open a style model file with the "Your own model" card.');
    return;
  }
  const apply = (s: StyleEntry) => void loadStyle(s.url, { title: styleTitle(s), name: s.name, url: s.url });
  state.gallery = renderGallery(el.gallery, el.ownModelItem, styles, apply);
  if (params.get('autoload') === '0') setStatus('idle', 'Choose a style and a photo.');
  else if (!state.stylizer) apply(styles[0]);
}

if (!('gpu' in navigator)) {
  el.adapter.textContent = 'Graphics: this browser does not offer WebGPU.';
  el.adapter.classList.add('software');
}
void startGallery();

const train = setupTrainPanel({
  params,
  useModel: (bytes, name) => void loadStyle(bytes, { title: name, name, url: null }),
});

// For the devtools console and the browser tests: the page's engine (a promise; null before the first model),
// and the Train panel's run and state.
(window as unknown as { demo: { engine(): Promise<Engine> | null; train: typeof train } }).demo = {
  engine: () => state.engine,
  train,
};
