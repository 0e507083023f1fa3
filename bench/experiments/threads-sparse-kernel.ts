/**
 * The mlp's fc1 sparse forward (300 rows, 784 inputs, fan-in 78, batch 128) alone, at 1 and 2
 * threads, with and without the input transpose the layer runs before it (which rewrites Xᵀ on
 * the calling thread, so a worker's cached copy is invalidated every call):
 *
 *   npx tsx bench/experiments/threads-sparse-kernel.ts
 */
import { createEngine, type Engine } from '../../src/kernels/engine.js';
import { Rng } from '../../src/tensor/rng.js';

const rows = 300, cols = 784, k = 78, n = 128;
interface Setup { e: Engine; x: number; xT: number; yT: number; rowPtr: number; col: number; W: number }
async function setup(threads: number): Promise<Setup> {
  const e = await createEngine({ threads });
  const h = e.heap, rng = new Rng(1);
  const x = h.allocF32(n * cols), xT = h.allocF32(n * cols), yT = h.allocF32(rows * n);
  const rowPtr = h.allocI32(rows + 1), col = h.allocI32(rows * k), W = h.allocF32(rows * k);
  h.f32(x, n * cols).forEach((_, i, a) => { a[i] = rng.uniform() - 0.5; });
  h.f32(W, rows * k).forEach((_, i, a) => { a[i] = rng.uniform() - 0.5; });
  const rp = h.i32(rowPtr, rows + 1), cc = h.i32(col, rows * k);
  for (let j = 0; j <= rows; j++) rp[j] = j * k;
  for (let j = 0; j < rows; j++) {
    const set = new Set<number>();
    while (set.size < k) set.add(Math.floor(rng.uniform() * cols));
    [...set].sort((a, b) => a - b).forEach((c, t) => { cc[j * k + t] = c; });
  }
  return { e, x, xT, yT, rowPtr, col, W };
}
const s = [await setup(1), await setup(2)];
const variants: [string, (q: Setup) => void][] = [
  ['forward only', (q) => q.e.kernels.sparseRowsForward(rows, n, q.rowPtr, q.col, q.W, q.xT, q.yT)],
  ['transpose only', (q) => q.e.kernels.swapAxes(n, cols, 1, q.x, q.xT)],
  ['transpose+forward', (q) => { q.e.kernels.swapAxes(n, cols, 1, q.x, q.xT); q.e.kernels.sparseRowsForward(rows, n, q.rowPtr, q.col, q.W, q.xT, q.yT); }],
  ['fwd+transpose back', (q) => { q.e.kernels.sparseRowsForward(rows, n, q.rowPtr, q.col, q.W, q.xT, q.yT); q.e.kernels.swapAxes(rows, n, 1, q.yT, q.x); }],
];
for (const [name, f] of variants) {
  const ts: number[][] = [[], []];
  for (let r = 0; r < 400; r++) for (const i of [0, 1]) {
    const t = performance.now();
    for (let j = 0; j < 10; j++) f(s[i]);
    if (r >= 40) ts[i].push((performance.now() - t) * 100);
  }
  const med = ts.map((a) => a.sort((p, q) => p - q)[a.length >> 1]);
  console.log(`${name.padEnd(20)} x1 ${med[0].toFixed(1)} µs  x2 ${med[1].toFixed(1)} µs  ratio ${(med[0] / med[1]).toFixed(2)}`);
}
for (const q of s) await q.e.close();
