// What the page says when something goes wrong, and how it names the graphics adapter: in words a visitor
// understands, with what to do next. The technical message is shown apart, smaller (and in the console), for
// bug reports.
import type { AdapterSummary } from '../src/browser/index.js';

/** What the page was doing when an error came. */
export type Activity = 'engine' | 'style' | 'photo' | 'stylize' | 'download' | 'webcam';

/** What the page says of an error: what failed and what to do, and the technical message apart (smaller). */
export interface Explanation {
  advice: string;
  detail: string;
}

/** Advice for an engine that did not start: no WebGPU, a refused software adapter, or no adapter at all. */
function engineAdvice(message: string): string {
  if (!('gpu' in navigator)) {
    return 'This browser does not offer WebGPU. Open the page in a recent Chrome or Edge (version 113 or later), or turn WebGPU on in Firefox or Safari.';
  }
  if (/allowFallbackAdapter/.test(message)) {
    return 'Only a software adapter is available and the address asks to refuse it (fallback=0): remove fallback=0 from the address to use it anyway (slow, but it works).';
  }
  return 'WebGPU did not start. Check that hardware acceleration is on in the browser settings, or try another browser.';
}

function advice(activity: Activity, message: string, subject: string): string {
  switch (activity) {
    case 'engine':
      return engineAdvice(message);
    case 'style':
      if (/not a safetensors file|not a fast-style-webgpu model|unexpected format/.test(message)) {
        return `${subject || 'That file'} is not a style model. Pick a style above, or open a .safetensors file written by this project's train or import command.`;
      }
      if (/HTTP \d+|Failed to fetch|NetworkError/.test(message)) {
        return `Could not download the style ${subject}. Check that the demo server (npm run serve) is still running, then pick the style again.`;
      }
      return `Could not load the style ${subject}. Pick another style, or reload the page.`;
    case 'photo':
      return `Could not read ${subject || 'that photo'}. Try a JPEG, PNG or WebP image.`;
    case 'stylize':
      return 'Stylising failed. Try a smaller preview size, or reload the page.';
    case 'download':
      return 'The download failed. Try JPEG instead of PNG, or a smaller photo.';
    case 'webcam':
      return 'The webcam did not start. Allow camera access for this page; browsers only give it on https or localhost.';
  }
}

/** What failed, in words, with what to do; `subject`: the style, photo or file concerned. */
export function explain(activity: Activity, e: unknown, subject = ''): Explanation {
  const detail = e instanceof Error ? e.message : String(e);
  return { advice: advice(activity, detail, subject), detail };
}

/** Software rasterisers that some adapters do not flag as a fallback adapter. */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i;

/** Whether the adapter computes on the CPU: then each picture takes seconds instead of milliseconds. */
export function isSoftwareAdapter(a: AdapterSummary, description: string): boolean {
  return a.isFallbackAdapter || SOFTWARE_ADAPTER.test(description);
}

/** The adapter line: its name and, in plain words, what it means for speed. */
export function adapterLine(a: AdapterSummary, description: string): string {
  const raw = description.replace(/\s*\[fallback\]$/, '');
  const name = raw.charAt(0).toUpperCase() + raw.slice(1);
  return isSoftwareAdapter(a, description)
    ? `Graphics: ${name}, a software adapter: your GPU is not used (there is none, or the browser does not offer it), so every picture takes seconds.`
    : `Graphics: ${name}, on your GPU.`;
}
