import { closeSync, fstatSync, openSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { Engine, type EngineOptions } from './engine.js';

// Dawn's GPU object must outlive every device made from it: if it is garbage-collected while a device
// lives, Dawn crashes at random. It is created once and held here for the life of the process.
let nodeGpu: GPU | null = null;

function gpu(): GPU {
  if (!nodeGpu) {
    Object.assign(globalThis, globals);
    nodeGpu = create([]) as GPU;
  }
  return nodeGpu;
}

/**
 * An engine on Node through the `webgpu` package (Dawn). Software adapters (Mesa lavapipe, which Dawn
 * reports as a fallback adapter) are accepted unless `allowFallbackAdapter: false`: on machines without a
 * GPU they are the only way to run, and `engine.adapter.isFallbackAdapter` tells callers to warn.
 */
export function createNodeEngine(options: NodeEngineOptions = {}): Promise<Engine> {
  const { quietDawnStartup, ...engineOptions } = options;
  const open = () =>
    Engine.create(gpu(), { allowFallbackAdapter: true, backendHint: platformBackend(engineOptions), ...engineOptions });
  return quietDawnStartup ? withNativeStderrSilenced(open) : open();
}

export interface NodeEngineOptions extends EngineOptions {
  /**
   * Discard what Dawn prints to stderr while it opens the adapter (see withNativeStderrSilenced). For
   * single-threaded programs such as the CLI: descriptor 2 is briefly closed, which another thread opening a
   * file at that instant could take.
   */
  quietDawnStartup?: boolean;
}

/**
 * Runs `fn` (the adapter and device request) with file descriptor 2 pointed at /dev/null. Dawn writes
 * warnings straight to the C stderr while it enumerates adapters: on lavapipe two lines saying that
 * maxDynamic{Uniform,Storage}BuffersPerPipelineLayout were "artificially reduced" to 16. They come from
 * clamping the adapter's own limits, whatever limits the device requests, and Dawn has no switch for them.
 * Only on Linux, and only when stderr is a terminal or a pipe: a regular file is left alone (reopening it
 * would give it a second file offset). FAST_STYLE_DEBUG=1 keeps Dawn's messages.
 */
async function withNativeStderrSilenced<T>(fn: () => Promise<T>): Promise<T> {
  if (process.platform !== 'linux' || process.env.FAST_STYLE_DEBUG) return fn();
  let saved: number;
  try {
    // Descriptors 0 and 1 must be open for the new ones below to land on 2.
    fstatSync(0);
    fstatSync(1);
    const st = fstatSync(2);
    if (!st.isFIFO() && !st.isCharacterDevice()) return fn();
    // A second descriptor for the same terminal or pipe, to put back as 2 afterwards (Node cannot dup()).
    saved = openSync('/proc/self/fd/2', 'a');
  } catch {
    return fn();
  }
  let silenced = false;
  try {
    closeSync(2);
    // open() takes the lowest free descriptor: 2, as 0 and 1 are open.
    const devNull = openSync('/dev/null', 'a');
    silenced = devNull === 2;
    if (!silenced) closeSync(devNull);
    return await fn();
  } finally {
    if (silenced) closeSync(2);
    const restored = openSync(`/proc/self/fd/${saved}`, 'a');
    closeSync(saved);
    if (restored !== 2) closeSync(restored);
  }
}

/** The GPU object, for peers (e.g. tfjs-backend-webgpu) that must share our navigator.gpu. */
export function nodeNavigatorGpu(): GPU {
  return gpu();
}

/** Dawn's backend on this platform: Vulkan on Linux, Metal on macOS, D3D12 on Windows; GLES in compatibility mode. */
function platformBackend(options: EngineOptions): string {
  if (options.compatibilityMode) return 'opengles';
  return { linux: 'vulkan', darwin: 'metal', win32: 'd3d12' }[process.platform as string] ?? '';
}
