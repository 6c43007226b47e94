// The staged tiles of gemm_microkernel.wgsl's register block: src/ops appends this file to the GEMM shaders
// whose loaders fill tileA (k-major) and tileB, TILE_K deep, rows padded by one vec4 against bank conflicts.
//
// Appended, not prefixed like the microkernel: Naga (the WGSL compiler of wgpu: Deno, Firefox) panics
// creating the pipeline when an override is declared after an array sized by an override expression, or
// after a function that uses such an array (lowered, with the array, where the function is declared), and
// the shaders' own overrides follow the microkernel.

var<workgroup> tileA: array<vec4f, TILE_K * A_ROW>;
var<workgroup> tileB: array<vec4f, TILE_K * B_ROW>;

// The TILE_K k steps of the staged tiles (between the loaders' two barriers).
fn accumulateStaged(acc: ptr<function, Block>, lid: vec3u) {
  for (var kk = 0u; kk < TILE_K; kk++) {
    var a: BlockA;
    for (var i4 = 0u; i4 < TM / 4u; i4++) { a[i4] = tileA[kk * A_ROW + lid.y * (TM / 4u) + i4]; }
    var b: BlockB;
    for (var j = 0u; j < TN4; j++) { b[j] = tileB[kk * B_ROW + lid.x + j * WG_X]; }
    accumulate(acc, a, b);
  }
}
