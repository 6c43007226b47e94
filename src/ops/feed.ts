// How a tiled product (the conv GEMMs, the Winograd GEMM, gram) gets its operands, decided in one place for
// every op that has both kinds of kernel.

/**
 * `staged`: each workgroup copies tiles of both operands into workgroup memory behind barriers and every thread
 * reads them from there: the way GPUs reuse operands. `registers`: each thread reads its operands straight from
 * storage into registers, with no workgroup memory and no barriers: faster on CPU adapters (lavapipe), where
 * workgroup memory is ordinary memory and barriers only cost (figures in bench/RESULTS.md; `npm run bench --
 * --profile-train --variants conv-gemm-staged,winograd-gemm-staged,gram-staged,default`).
 */
export type Feed = 'staged' | 'registers';

/** A feed an engine choice asks for: one of them, or `auto` (resolveFeed). */
export type FeedChoice = 'auto' | Feed;

/** The feed a kernel runs with: `auto` is registers on fallback (CPU) adapters, staged elsewhere. */
export function resolveFeed(choice: FeedChoice, isFallbackAdapter: boolean): Feed {
  if (choice !== 'auto') return choice;
  return isFallbackAdapter ? 'registers' : 'staged';
}
