// The Train panel: a painting, the visitor's photos and the loss network in; settings with our recipe's
// defaults; Start/Pause/Resume; progress, a live sample and the loss curve; the model file out. The run lives in
// the browser's storage (OPFS), checkpointed every few steps, so a reload or a lost GPU resumes it exactly.
// Address option: gpu-buffer-mb=N (the largest GPU buffer training may use, as on a phone: the panel plans the
// batch within it).
import {
  checkPhotos,
  createBrowserEngine,
  lossCurveSvg,
  MemoryRunStore,
  OpfsRunStore,
  opfsAvailable,
  photoFiles,
  RECIPE,
  TrainingRun,
  type Engine,
  type PhotoFile,
  type RgbaImage,
  type RunStore,
  type SavedRun,
  type StepReport,
  type TrainSettings,
} from '../src/browser/index.js';
import { saveBlob } from './save.js';
import { showStatus } from './status.js';

/** What the panel needs from the page: the address options, and a way to hand a model to the Stylize steps. */
export interface TrainPanelHost {
  params: URLSearchParams;
  /** Applies a model file's bytes as the style of steps 1 and 2. */
  useModel(bytes: Uint8Array, name: string): void;
}

type TrainState = 'idle' | 'busy' | 'training' | 'paused' | 'done' | 'error';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** 75 s → `1 min 15 s`, 4000 s → `1 h 06 min`; `?` before a rate is known. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  return m > 0 ? `${m} min ${String(s % 60).padStart(2, '0')} s` : `${s} s`;
}

/** Steps per second with two or three significant digits (a software adapter manages a few hundredths). */
export function formatRate(rate: number): string {
  return rate >= 10 ? rate.toFixed(0) : rate >= 1 ? rate.toFixed(1) : rate.toPrecision(2);
}

/** The file name of a model: the style's name, made safe. */
function modelFileName(name: string): string {
  return `${name.replace(/[^\w.-]+/g, '_') || 'style'}.safetensors`;
}

/** Draws RGBA pixels on a canvas of their size. */
function draw(canvas: HTMLCanvasElement, img: RgbaImage): void {
  canvas.width = img.width;
  canvas.height = img.height;
  const data = new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  canvas
    .getContext('2d')!
    .putImageData(new ImageData(data as Uint8ClampedArray<ArrayBuffer>, img.width, img.height), 0, 0);
}

/** What the panel says of an error: in words, with what to do; the technical message apart. */
function advice(e: unknown, run: TrainingRun | null): { text: string; detail: string } {
  const detail = e instanceof Error ? e.message : String(e);
  const saved =
    run && run.savedStep > 0 ? ` The run is saved at step ${run.savedStep}: press Resume to continue from there.` : '';
  if (run?.lost || /device (was )?lost|GPU device lost/i.test(detail)) {
    return {
      text: `The GPU stopped working for this page (the browser reset it, or the computer slept).${saved || ' Press Resume to start again.'}`,
      detail,
    };
  }
  if (/out of memory|OutOfMemory/i.test(detail)) {
    return {
      text: `The GPU ran out of memory: lower the batch or the crop size, or close other tabs that use the GPU.${saved}`,
      detail,
    };
  }
  if (e instanceof RangeError || /TrainingShapeError|ModelFileError/.test((e as Error)?.name ?? '')) {
    return {
      text: `${detail.charAt(0).toUpperCase()}${detail.slice(1)}${/[.!?]$/.test(detail) ? '' : '.'}`,
      detail: '',
    };
  }
  return { text: `Training stopped.${saved}`, detail };
}

export function setupTrainPanel(host: TrainPanelHost): { run(): TrainingRun | null; state(): TrainState } {
  const el = {
    pickStyle: $<HTMLButtonElement>('train-pick-style'),
    styleFile: $<HTMLInputElement>('train-style-file'),
    styleFound: $<HTMLSpanElement>('train-style-found'),
    stylePreview: $<HTMLImageElement>('train-style-preview'),
    pickPhotos: $<HTMLButtonElement>('train-pick-photos'),
    photos: $<HTMLInputElement>('train-photos'),
    pickFolder: $<HTMLButtonElement>('train-pick-folder'),
    folder: $<HTMLInputElement>('train-folder'),
    photosFound: $<HTMLSpanElement>('train-photos-found'),
    vggFound: $<HTMLSpanElement>('train-vgg-found'),
    pickVgg: $<HTMLButtonElement>('train-pick-vgg'),
    vggFile: $<HTMLInputElement>('train-vgg-file'),
    settings: $<HTMLFieldSetElement>('train-settings'),
    name: $<HTMLInputElement>('train-name'),
    start: $<HTMLButtonElement>('train-start'),
    pause: $<HTMLButtonElement>('train-pause'),
    resume: $<HTMLButtonElement>('train-resume'),
    discard: $<HTMLButtonElement>('train-discard'),
    status: $<HTMLParagraphElement>('train-status'),
    note: $<HTMLParagraphElement>('train-note'),
    progress: $<HTMLProgressElement>('train-progress'),
    numbers: $<HTMLParagraphElement>('train-numbers'),
    plan: $<HTMLParagraphElement>('train-plan'),
    sampleFigure: $<HTMLElement>('train-sample-figure'),
    sample: $<HTMLCanvasElement>('train-sample'),
    sampleCaption: $<HTMLElement>('train-sample-caption'),
    curve: $<HTMLDivElement>('train-curve'),
    dtype: $<HTMLSelectElement>('train-dtype'),
    download: $<HTMLButtonElement>('train-download'),
    use: $<HTMLButtonElement>('train-use'),
  };
  const number = (id: string) => $<HTMLInputElement>(id);
  const fields = {
    steps: number('train-steps'),
    size: number('train-size'),
    batch: number('train-batch'),
    styleWeight: number('train-style-weight'),
    lr: number('train-lr'),
    contentWeight: number('train-content-weight'),
    tvWeight: number('train-tv-weight'),
    styleSize: number('train-style-size'),
    width: number('train-width'),
    seed: number('train-seed'),
    checkpointEvery: number('train-checkpoint-every'),
    sampleEvery: number('train-sample-every'),
  };
  // The form shows the recipe the library holds, so the two cannot drift apart.
  for (const [k, input] of Object.entries(fields)) input.value = String(RECIPE[k as keyof typeof fields]);

  const bufferMb = Number(host.params.get('gpu-buffer-mb'));
  const s = {
    state: 'idle' as TrainState,
    style: null as { name: string; blob: Blob } | null,
    photos: [] as PhotoFile[],
    vgg: null as { name: string; bytes: Uint8Array } | null,
    /** Where the server's loss network is, until it is fetched. */
    vggUrl: null as string | null,
    engine: null as Engine | null,
    engineLost: false,
    store: null as RunStore | null,
    run: null as TrainingRun | null,
    saved: null as SavedRun | null,
    lastCurve: 0,
  };

  function setStatus(state: TrainState, text: string, detail?: string): void {
    s.state = state;
    showStatus(el.status, state, text, detail);
    updateButtons();
  }

  function showError(e: unknown): void {
    console.error(e);
    const { text, detail } = advice(e, s.run);
    setStatus('error', text, detail || undefined);
  }

  function ready(): boolean {
    return s.style !== null && s.photos.length > 0 && (s.vgg !== null || s.vggUrl !== null);
  }

  function updateButtons(): void {
    const training = s.state === 'training' || s.state === 'busy';
    const resumable = !training && s.state !== 'done' && (s.run !== null || s.saved !== null);
    el.start.disabled = training || !ready();
    el.start.textContent = s.run || s.saved ? 'Start a new run' : 'Start training';
    el.pause.hidden = s.state !== 'training';
    el.resume.hidden = !resumable;
    el.discard.hidden = training || (s.run === null && s.saved === null);
    el.settings.disabled = training;
    for (const b of [el.pickStyle, el.pickPhotos, el.pickFolder, el.pickVgg]) b.disabled = training;
    const hasSteps = (s.run?.step ?? s.saved?.step ?? 0) > 0;
    el.download.disabled = s.state === 'busy' || !hasSteps;
    el.use.disabled = s.state === 'busy' || !hasSteps;
  }

  function settings(): TrainSettings {
    const v = (k: keyof typeof fields) => Number(fields[k].value);
    return {
      styleName: el.name.value.trim(),
      steps: v('steps'),
      size: v('size'),
      batch: v('batch'),
      lr: v('lr'),
      styleSize: v('styleSize'),
      width: v('width'),
      seed: v('seed'),
      contentWeight: v('contentWeight'),
      styleWeight: v('styleWeight'),
      tvWeight: v('tvWeight'),
      cropScale: RECIPE.cropScale,
      checkpointEvery: v('checkpointEvery'),
      sampleEvery: v('sampleEvery'),
    };
  }

  function showSettings(t: TrainSettings): void {
    el.name.value = t.styleName;
    for (const k of Object.keys(fields) as (keyof typeof fields)[]) fields[k].value = String(t[k]);
  }

  /** The training engine (its own device, apart from the Stylize steps'); a new one after a lost device. */
  async function engine(): Promise<Engine> {
    if (s.engine && !s.engineLost) return s.engine;
    s.engine?.destroy();
    s.engineLost = false;
    const e = await createBrowserEngine({
      allowFallbackAdapter: host.params.get('fallback') !== '0',
      compatibilityMode: host.params.get('compat') === '1',
      ...(bufferMb > 0
        ? { limits: { maxStorageBufferBindingSize: bufferMb * 2 ** 20, maxBufferSize: bufferMb * 2 ** 20 } }
        : {}),
    });
    e.device.lost.then(() => {
      if (s.engine === e) s.engineLost = true;
    });
    s.engine = e;
    return e;
  }

  async function store(): Promise<RunStore> {
    if (!s.store) {
      s.store = opfsAvailable() ? await OpfsRunStore.open() : new MemoryRunStore();
      if (s.store.kind === 'opfs') void navigator.storage.persist?.().catch(() => false);
    }
    return s.store;
  }

  // ---------------------------------------------------------------- progress

  function showStep(r: StepReport): void {
    el.progress.hidden = false;
    el.progress.max = r.total;
    el.progress.value = r.step;
    const l = r.losses;
    el.numbers.textContent =
      `Step ${r.step} of ${r.total} · ${r.stepsPerSecond > 0 ? `${formatRate(r.stepsPerSecond)} steps/s · about ${formatDuration(r.etaSeconds)} left` : 'measuring the speed'} · ` +
      `content ${l.content.toExponential(2)}, style ${l.style.toExponential(2)}, TV ${l.tv.toExponential(2)}`;
    if (s.state === 'training' && el.pause.hidden === false)
      el.status.textContent = `Training ${s.run?.config.styleName ?? 'style'}: step ${r.step} of ${r.total}…`;
    const now = performance.now();
    if (now - s.lastCurve > 1000 || r.step === r.total) drawCurve();
  }

  function drawCurve(): void {
    const run = s.run;
    if (!run || run.records.length === 0) return;
    s.lastCurve = performance.now();
    // Our own SVG (lossCurveSvg escapes the title), not markup from elsewhere.
    el.curve.innerHTML = lossCurveSvg(run.records, `${run.config.styleName ?? 'style'}: losses (log scale)`);
  }

  function showSample(img: RgbaImage, step: number): void {
    el.sampleFigure.hidden = false;
    draw(el.sample, img);
    el.sampleCaption.textContent = `Live sample: one of your photos through the net at step ${step}`;
  }

  function showPlan(run: TrainingRun): void {
    const p = run.plan;
    const mb = (b: number) => {
      const m = b / 2 ** 20;
      return `${m < 10 ? m.toFixed(1) : Math.round(m)} MiB`;
    };
    el.plan.textContent =
      `${p.note ? `${p.note} ` : ''}Batch ${p.batch} of ${p.size} px crops from ${run.photoCount} photos: largest GPU buffer ` +
      `${mb(p.largestBuffer)} of the ${mb(p.bufferLimit)} this GPU allows, about ${mb(p.memoryEstimate)} of GPU memory in all.`;
  }

  const events = {
    onStep: showStep,
    onSample: showSample,
    onCheckpoint: (step: number) => {
      el.note.hidden = false;
      el.note.textContent = `Checkpoint saved in the browser at step ${step}${s.store?.kind === 'memory' ? ' (in memory only: this browser has no file storage, so a reload loses the run)' : ''}.`;
    },
    onWarning: (m: string) => {
      el.note.hidden = false;
      el.note.textContent = m.charAt(0).toUpperCase() + m.slice(1);
    },
    onStatus: (text: string) => setStatus('busy', text),
  };

  // ---------------------------------------------------------------- training

  async function train(run: TrainingRun): Promise<void> {
    s.run = run;
    s.saved = null;
    showPlan(run);
    drawCurve();
    setStatus('training', `Training ${run.config.styleName}: step ${run.step} of ${run.total}…`);
    try {
      const how = await run.run();
      if (how === 'done') {
        setStatus('done', `Done: ${run.total} steps. Download the model, or use it in step 1 on a photo.`);
      } else {
        setStatus('paused', `Paused at step ${run.step} of ${run.total} (saved): Resume continues exactly from here.`);
      }
    } catch (e) {
      // A destroyed or reset device fails the step in flight first and says why a moment later.
      await Promise.race([run.engine.device.lost, new Promise((r) => setTimeout(r, 500))]);
      showError(e);
    }
  }

  async function startNew(): Promise<void> {
    if ((s.run || s.saved) && !confirm('Start a new run? The saved run is replaced.')) return;
    setStatus('busy', 'Setting up…');
    try {
      if (!s.vgg) await fetchVgg();
      const e = await engine();
      s.run?.dispose();
      s.run = null;
      const run = await TrainingRun.start(
        e,
        { style: s.style!, photos: s.photos, vgg: s.vgg! },
        settings(),
        await store(),
        events,
      );
      await train(run);
    } catch (e) {
      showError(e);
    }
  }

  async function resume(): Promise<void> {
    try {
      // Paused in this page: the run goes on from memory. After an error, a lost GPU or a reload: from the
      // checkpoint in the store, on a sound engine.
      if (s.run && s.state === 'paused' && !s.engineLost) {
        await train(s.run);
        return;
      }
      setStatus('busy', 'Loading the saved run…');
      s.run?.dispose();
      s.run = null;
      if (s.state === 'error') s.engineLost = true;
      const run = await TrainingRun.restore(await engine(), await store(), events);
      showSettings(run.settings);
      await train(run);
    } catch (e) {
      showError(e);
    }
  }

  async function model(): Promise<{ bytes: Uint8Array; name: string }> {
    if (!s.run) {
      setStatus('busy', 'Loading the saved run…');
      s.run = await TrainingRun.restore(await engine(), await store(), events);
      s.saved = null;
      showPlan(s.run);
      drawCurve();
    }
    const bytes = await s.run.model(el.dtype.value === 'F32' ? 'F32' : 'F16');
    return { bytes, name: s.run.config.styleName ?? 'style' };
  }

  /** Makes the model file and hands it to `action`; the status line comes back as it was, the note says what happened. */
  async function withModel(action: (m: { bytes: Uint8Array; name: string }) => void, done: string): Promise<void> {
    const before = { state: s.state, text: el.status.textContent ?? '' };
    try {
      const m = await model();
      action(m);
      setStatus(before.state === 'busy' ? 'paused' : before.state, before.text);
      el.note.hidden = false;
      el.note.textContent = done.replaceAll('NAME', modelFileName(m.name));
    } catch (e) {
      showError(e);
    }
  }

  // ---------------------------------------------------------------- inputs

  async function fetchVgg(): Promise<void> {
    if (!s.vggUrl) throw new RangeError('choose a loss network file first (this server offers none)');
    setStatus('busy', 'Downloading the loss network…');
    const res = await fetch(s.vggUrl);
    if (!res.ok) throw new Error(`could not download the loss network ${s.vggUrl}: HTTP ${res.status}`);
    s.vgg = { name: s.vggUrl.split('/').pop() ?? 'vgg.safetensors', bytes: new Uint8Array(await res.arrayBuffer()) };
  }

  async function findServerVgg(): Promise<void> {
    try {
      const res = await fetch('models/index.json');
      const list = res.ok
        ? ((await res.json()) as { lossNetworks?: { name: string; url: string; bytes: number }[] })
        : {};
      const first = list.lossNetworks?.[0];
      if (first) {
        s.vggUrl = first.url;
        el.vggFound.textContent = `${first.name} from this server (${(first.bytes / 1e6).toFixed(1)} MB, fetched when training starts)`;
      } else {
        el.vggFound.textContent =
          'this server offers none: choose a VGG .safetensors file (models/loss-network/ in the repository)';
      }
    } catch {
      el.vggFound.textContent =
        'this server offers none: choose a VGG .safetensors file (models/loss-network/ in the repository)';
    }
    updateButtons();
  }

  async function pickPhotos(files: FileList | null): Promise<void> {
    if (!files) return;
    const { photos, ignored } = photoFiles(files);
    const others = ignored ? `, ${ignored} other file${ignored === 1 ? '' : 's'} left out` : '';
    if (photos.length === 0) {
      s.photos = [];
      el.photosFound.textContent = `No photos found (JPEG, PNG, WebP, AVIF or GIF)${others}.`;
      updateButtons();
      return;
    }
    el.photosFound.textContent = `Checking ${photos.length} photos…`;
    const { readable, skipped } = await checkPhotos(photos, (done, total) => {
      el.photosFound.textContent = `Checking photos: ${done} of ${total}…`;
    });
    s.photos = readable;
    const skip = skipped.length
      ? `; ${skipped.length} skipped, the browser cannot read ${skipped.length === 1 ? 'it' : 'them'}: ${skipped
          .slice(0, 3)
          .map((x) => x.name)
          .join(', ')}${skipped.length > 3 ? ', …' : ''}`
      : '';
    el.photosFound.textContent = `Found ${readable.length} photo${readable.length === 1 ? '' : 's'}${skip}${others}.`;
    for (const x of skipped) console.warn(x.reason);
    updateButtons();
  }

  el.pickStyle.addEventListener('click', () => el.styleFile.click());
  el.styleFile.addEventListener('change', () => {
    const f = el.styleFile.files?.[0];
    if (!f) return;
    s.style = { name: f.name, blob: f };
    el.styleFound.textContent = f.name;
    if (el.stylePreview.src) URL.revokeObjectURL(el.stylePreview.src);
    el.stylePreview.src = URL.createObjectURL(f);
    el.stylePreview.hidden = false;
    const base = f.name.replace(/\.[^.]*$/, '').replace(/[^\w.-]+/g, '_');
    if (base) el.name.value = base;
    updateButtons();
  });
  el.pickPhotos.addEventListener('click', () => el.photos.click());
  el.pickFolder.addEventListener('click', () => el.folder.click());
  el.photos.addEventListener('change', () => void pickPhotos(el.photos.files));
  el.folder.addEventListener('change', () => void pickPhotos(el.folder.files));
  el.pickVgg.addEventListener('click', () => el.vggFile.click());
  el.vggFile.addEventListener('change', async () => {
    const f = el.vggFile.files?.[0];
    if (!f) return;
    s.vgg = { name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) };
    el.vggFound.textContent = `${f.name} (${(f.size / 1e6).toFixed(1)} MB, from your disk)`;
    updateButtons();
  });

  el.start.addEventListener('click', () => void startNew());
  el.pause.addEventListener('click', () => {
    s.run?.pause();
    el.pause.hidden = true;
    el.status.textContent = 'Pausing after this step…';
  });
  el.resume.addEventListener('click', () => void resume());
  el.discard.addEventListener('click', async () => {
    if (!confirm('Delete the saved run? Its steps are lost unless you downloaded the model.')) return;
    s.run?.dispose();
    s.run = null;
    s.saved = null;
    await (await store()).clear();
    el.progress.hidden = true;
    el.numbers.textContent = '';
    el.plan.textContent = '';
    el.curve.textContent = '';
    el.sampleFigure.hidden = true;
    setStatus('idle', 'The saved run is deleted. Choose a painting and some photos.');
  });
  el.download.addEventListener(
    'click',
    () =>
      void withModel(
        (m) =>
          saveBlob(
            new Blob([m.bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }),
            modelFileName(m.name),
          ),
        'Saved NAME: `stylize --model NAME` takes it, and so does "Your own model" in step 1.',
      ),
  );
  el.use.addEventListener(
    'click',
    () =>
      void withModel(
        (m) => host.useModel(m.bytes, m.name),
        'The model is the style of step 1 now: choose a photo in step 2.',
      ),
  );

  // A hidden tab may be frozen, or lose its GPU, while the laptop sleeps: a checkpoint now keeps the steps so far.
  document.addEventListener('visibilitychange', () => {
    const run = s.run;
    if (!run?.isRunning) return;
    el.note.hidden = false;
    if (document.visibilityState === 'hidden') {
      run.requestCheckpoint();
      el.note.textContent = `The tab went to the background at step ${run.step}: a checkpoint is written, and training goes on as far as the browser lets a hidden tab.`;
    } else {
      el.note.textContent = `Back in the foreground at step ${run.step}.`;
    }
  });

  // A run saved by an earlier visit: offer to resume it.
  void (async () => {
    await findServerVgg();
    try {
      if (!opfsAvailable()) {
        el.note.hidden = false;
        el.note.textContent =
          'This browser gives the page no file storage: a run survives a lost GPU but not a reload. Download the model before leaving.';
        return;
      }
      const saved = await TrainingRun.saved(await store());
      if (!saved) return;
      s.saved = saved;
      showSettings(saved.settings);
      setStatus(
        'paused',
        `A run of ${saved.config.styleName} on ${saved.photoCount} photos is saved at step ${saved.step} of ${saved.settings.steps}: Resume continues it exactly.`,
      );
    } catch (e) {
      showError(e);
    }
  })();

  updateButtons();
  return { run: () => s.run, state: () => s.state };
}
