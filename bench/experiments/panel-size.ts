/**
 * Does the batched condensed kernel wait on the cache? The same kernel (768 rows, k = 200) over
 * inputs of 256 columns (a 16 KB packed panel, L1-resident) and of 512, 1024 and 3072 columns
 * (up to 192 KB, L2), interleaved round by round in one process, medians. Equal G multiply-adds
 * per second mean the gathers are not cache-bound.
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/experiments/panel-size.ts
 */
import { createEngine } from '../../src/kernels/engine.js';
import { instantiateSparseKernels, spmmScratchBytes } from '../../src/kernels/condensed.js';
import { packCondensed, uploadCondensed } from '../../src/sparse/condensed/index.js';
import { constantFanInMask } from '../../src/sparse/mask.js';
import { Rng } from '../../src/tensor/rng.js';

const engine = await createEngine({ threads: 1 });
const sparse = instantiateSparseKernels(engine.heap.memory, engine.backend === 'reference' ? 'scalar' : engine.backend)!;
const heap = engine.heap;
const rng = new Rng(1);
const rows = 768, k = 200;
for (const n of [16, 64]) {
  const layers = [256, 512, 1024, 3072].map((cols) => {
    const weight = Float32Array.from({ length: rows * cols }, () => rng.uniform() - 0.5);
    const L = uploadCondensed(heap, packCondensed({ outFeatures: rows, inFeatures: cols, weight, mask: constantFanInMask(rows, cols, k, rng), bias: new Float32Array(rows) }));
    const xT = heap.allocF32(cols * n);
    heap.f32(xT, cols * n).fill(1);
    return { cols, L, xT, yT: heap.allocF32(rows * n), scratch: heap.alloc(spmmScratchBytes(cols, n)), times: [] as number[] };
  });
  for (let round = 0; round < 31; round++) {
    for (const l of layers) {
      const t = process.hrtime.bigint();
      for (let i = 0; i < 5; i++) sparse.spmmCfi('1x16', l.L, n, l.xT, l.yT, l.scratch);
      if (round > 0) l.times.push(Number(process.hrtime.bigint() - t) / 5e3);
    }
  }
  for (const l of layers) {
    const us = l.times.sort((a, b) => a - b)[l.times.length >> 1];
    console.log(`batch ${n}, ${l.cols} columns (panel ${(l.cols * 64) / 1024} KB): ${us.toFixed(1)} µs, ${((rows * k * n) / us / 1e3).toFixed(2)} G multiply-adds/s`);
  }
}
await engine.close();
