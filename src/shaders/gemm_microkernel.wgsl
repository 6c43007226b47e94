// The register block of the tiled GEMMs (conv2d_gemm.wgsl, conv2d_winograd_gemm.wgsl): WGSL has no includes,
// so src/ops/conv2d.ts and src/ops/conv2d-winograd.ts prefix both shaders with this file, and each shader
// keeps only its own loaders (how A and B are gathered) and stores.
//
// A workgroup of WG_X×WG_Y threads owns a TILE_M×TILE_N4·4 tile of C; each thread a register block of TM rows
// (TM·ly …) × TN4 vec4 columns (vec4 columns lx + WG_X·j, interleaved so that for each j neighbouring threads
// read neighbouring vec4s of B). One k step is TM/4 + TN4 vec4 reads and 4·TM·TN4 vec4 FMAs: the bigger the
// block, the fewer reads per FMA (on lavapipe, where workgroup-memory reads are gathers, 8×8 blocks beat 4×4:
// bench/sgemm.ts, figures in bench/RESULTS.md).
//
// Two ways to feed it: a shader that stages TILE_K-deep tiles of A (k-major) and B in workgroup memory (GPUs)
// is followed by gemm_staged.wgsl, whose accumulateStaged walks them; a shader's registers entry point
// gathers each k step's BlockA/BlockB from storage itself and calls `accumulate` (CPU adapters, where
// workgroup memory is ordinary memory and a barrier ends a SIMD loop over the invocations, so that staging
// only adds copies).

override WG_X: u32 = 16u;
override WG_Y: u32 = 8u;
// Rows per thread: 4 or 8; vec4 columns per thread: 1 or 2 (the register arrays hold at most MAX_TM × MAX_TN4).
override TM: u32 = 8u;
override TN4: u32 = 2u;
override TILE_K: u32 = 16u;

const MAX_TM: u32 = 8u;
const MAX_TN4: u32 = 2u;

override THREADS: u32 = WG_X * WG_Y;
override TILE_M: u32 = WG_Y * TM;
override TILE_N4: u32 = WG_X * TN4;
// Row strides of the staged tiles, in vec4s (one vec4 of padding).
override A_ROW: u32 = TILE_M / 4u + 1u;
override B_ROW: u32 = TILE_N4 + 1u;

// A thread's TM values of A at one k, four rows per vec4.
alias BlockA = array<vec4f, MAX_TM / 4u>;
// A thread's TN4 vec4 columns of B at one k.
alias BlockB = array<vec4f, MAX_TN4>;
// A thread's accumulators: acc[i][j] is row TM·ly + i, vec4 column lx + WG_X·j.
alias Block = array<BlockB, MAX_TM>;

// acc += a ⊗ b: one k step.
fn accumulate(acc: ptr<function, Block>, a: BlockA, b: BlockB) {
  for (var i4 = 0u; i4 < TM / 4u; i4++) {
    let av = a[i4];
    for (var j = 0u; j < TN4; j++) {
      (*acc)[i4 * 4u][j] += av.x * b[j];
      (*acc)[i4 * 4u + 1u][j] += av.y * b[j];
      (*acc)[i4 * 4u + 2u][j] += av.z * b[j];
      (*acc)[i4 * 4u + 3u][j] += av.w * b[j];
    }
  }
}
