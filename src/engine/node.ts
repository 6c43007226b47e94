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
export function createNodeEngine(options: EngineOptions = {}): Promise<Engine> {
  return Engine.create(gpu(), { allowFallbackAdapter: true, backendHint: platformBackend(options), ...options });
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
