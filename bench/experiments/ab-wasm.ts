/**
 * A/B of two builds of the relaxed-SIMD kernel module on the batched condensed kernel
 * (3072→768, k = 307), interleaved round by round in one process (the machine's speed drifts
 * ±30% between processes, so only side-by-side ratios mean anything); outputs are compared.
 * Build A, copy dist/wasm/srigl-relaxed.wasm away, change the kernel, build B, then:
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/experiments/ab-wasm.ts A.wasm B.wasm [tile] [n,n,...]
 *   (TA / TB in the environment give each side its own tile)
 */
import { readFileSync } from 'node:fs';
import { createEngine } from '../../src/kernels/engine.js';
import { bindSparseKernels, spmmScratchBytes } from '../../src/kernels/condensed.js';
import { packCondensed, uploadCondensed } from '../../src/sparse/condensed/index.js';
import { constantFanInMask } from '../../src/sparse/mask.js';
import { Rng } from '../../src/tensor/rng.js';
const [fa, fb, tile = '1x16', ns = '8,16,64,256'] = process.argv.slice(2);
const engine = await createEngine({ threads: 1 });
const heap = engine.heap; const rng = new Rng(1);
const mk = (f: string) => bindSparseKernels(new WebAssembly.Instance(new WebAssembly.Module(readFileSync(f)), { env: { memory: heap.memory } }).exports, 'relaxed');
const K = [mk(fa), mk(fb)];
const rows = 768, cols = 3072, k = 307;
const weight = new Float32Array(rows * cols).map(() => rng.uniform() - 0.5);
const L = uploadCondensed(heap, packCondensed({ outFeatures: rows, inFeatures: cols, weight, mask: constantFanInMask(rows, cols, k, rng), bias: new Float32Array(rows) }));
for (const n of ns.split(',').map(Number)) {
  const m = heap.mark();
  const xT = heap.allocF32(cols * n); heap.f32(xT, cols * n).fill(1);
  const y = [heap.allocF32(rows * n), heap.allocF32(rows * n)]; const sc = heap.alloc(spmmScratchBytes(cols, n));
  const ts: number[][] = [[], []];
  const reps = Math.max(1, Math.round(64 / n));
  for (let r = 0; r < 41; r++) for (const v of [0, 1]) {
    const t = process.hrtime.bigint(); for (let i = 0; i < reps; i++) K[v].spmmCfi((v ? (process.env.TB ?? tile) : (process.env.TA ?? tile)) as '1x16', L, n, xT, y[v], sc); const dt = Number(process.hrtime.bigint() - t) / 1e3 / reps;
    if (r > 0) ts[v].push(dt);
  }
  const med = ts.map((a) => a.sort((p, q) => p - q)[a.length >> 1]);
  const same = heap.f32(y[0], rows * n).every((x, i) => Math.abs(x - heap.f32(y[1], rows * n)[i]) <= 1e-4 * (1 + Math.abs(x)));
  console.log(`n=${n}: A ${med[0].toFixed(1)} us (${(rows * k * n / med[0] / 1e3).toFixed(2)} GMAC/s)  B ${med[1].toFixed(1)} us (${(rows * k * n / med[1] / 1e3).toFixed(2)} GMAC/s)  B/A speedup ${(med[0] / med[1]).toFixed(2)}x ${same ? '' : 'MISMATCH'}`);
  heap.release(m);
}
