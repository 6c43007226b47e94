/**
 * Files shipped with the package: its package.json (version) and the models/ folder of trained styles.
 * Found by walking up from this module, which works both from src/ (tests) and from the dist/ bundle.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'fast-style-webgpu';
const MODEL_EXTENSION = '.safetensors';

let cachedRoot: string | null = null;

export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === PACKAGE_NAME) {
          cachedRoot = dir;
          return dir;
        }
      } catch {
        // Not our manifest; keep walking up.
      }
    }
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`cannot find the ${PACKAGE_NAME} package root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The folder of trained styles shipped with the package. */
export function modelsDir(): string {
  return join(packageRoot(), 'models');
}

/**
 * Where `scripts/demo.sh` imports the ml5.js nets of ../shared (`import`): git-ignored, since they are another
 * project's weights. `--style NAME` looks here after models/.
 */
export function importedModelsDir(): string {
  return join(packageRoot(), '.models-ml5');
}

/** The folders `--style NAME` searches, in order: shipped styles, then imported ones. */
export function styleDirs(): string[] {
  return [modelsDir(), importedModelsDir()];
}

/** Names of the shipped styles (models/NAME.safetensors), sorted. */
export function shippedStyles(dir = modelsDir()): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(MODEL_EXTENSION))
    .map((f) => f.slice(0, -MODEL_EXTENSION.length))
    .sort();
}

/** The model file of a style in the first of `dirs` that has it, or an error listing the styles there are. */
export function resolveStyle(name: string, dirs: string | readonly string[] = styleDirs()): string {
  const folders = typeof dirs === 'string' ? [dirs] : dirs;
  for (const dir of folders) if (shippedStyles(dir).includes(name)) return join(dir, name + MODEL_EXTENSION);
  const available = [...new Set(folders.flatMap((dir) => shippedStyles(dir)))].sort();
  const list = available.length
    ? `available: ${available.join(', ')}`
    : `no styles are installed in ${folders.join(' or ')}`;
  const hint = /[/\\]|\.safetensors$/.test(name) ? '; for a model file use --model PATH' : '';
  throw new StyleNotFoundError(`unknown style '${name}' (${list})${hint}`);
}

export class StyleNotFoundError extends Error {
  override name = 'StyleNotFoundError';
}

/**
 * `stylize --list-styles`: one line per style file, `NAME<TAB>FOLDER`, in the order --style searches. A
 * name found in an earlier folder too is marked hidden, with the folder whose file --style NAME runs.
 */
export function styleListing(dirs: readonly string[] = styleDirs()): string[] {
  const first = new Map<string, string>();
  return dirs.flatMap((dir) =>
    shippedStyles(dir).map((style) => {
      const winner = first.get(style);
      if (winner !== undefined) return `${style}\t${dir}\t(hidden: --style ${style} runs the one in ${winner})`;
      first.set(style, dir);
      return `${style}\t${dir}`;
    }),
  );
}
