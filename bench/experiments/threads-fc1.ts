/**
 * The mlp's fc1 forward as the sparse Linear layer runs it (transpose x → Xᵀ, sparse forward,
 * transpose Yᵀ → y, bias, ReLU; 784 → 300, fan-in 78, batch 128), op by op at 1 and 2 threads:
 * median µs of each op over many back-to-back passes, and the pool's split counters.
 *
 *   npx tsx bench/experiments/threads-fc1.ts
 */
import { createEngine, type Engine } from '../../src/kernels/engine.js';
import type { ThreadPool } from '../../src/kernels/threads.js';
import { Rng } from '../../src/tensor/rng.js';

const rows = 300, cols = 784, k = 78, n = 128;
interface Setup { e: Engine; x: number; xT: number; yT: number; y: number; bias: number; rowPtr: number; col: number; W: number }
async function setup(threads: number): Promise<Setup> {
  const e = await createEngine({ threads });
  const h = e.heap, rng = new Rng(1);
  const x = h.allocF32(n * cols), xT = h.allocF32(n * cols), yT = h.allocF32(rows * n), y = h.allocF32(rows * n), bias = h.allocF32(rows);
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
  return { e, x, xT, yT, y, bias, rowPtr, col, W };
}
const s = [await setup(1), await setup(2)];
const ops: [string, (q: Setup) => void][] = [
  ['write x (main, JS)', (q) => { const a = q.e.heap.f32(q.x, n * cols); for (let i = 0; i < a.length; i += 16) a[i] = i; }],
  ['transpose x→xT', (q) => q.e.kernels.swapAxes(n, cols, 1, q.x, q.xT)],
  ['sparse forward', (q) => q.e.kernels.sparseRowsForward(rows, n, q.rowPtr, q.col, q.W, q.xT, q.yT)],
  ['transpose yT→y', (q) => q.e.kernels.swapAxes(rows, n, 1, q.yT, q.y)],
  ['bias', (q) => q.e.kernels.addBiasRows(n, rows, q.y, q.bias)],
  ['relu', (q) => q.e.kernels.reluForward(n * rows, q.y, q.y)],
];
const ts = ops.map(() => [[], []] as number[][]);
const totals: number[][] = [[], []];
for (let r = 0; r < 2000; r++) for (const i of [0, 1]) {
  const q = s[i];
  const t0 = performance.now();
  let t = t0;
  ops.forEach(([, f], o) => { f(q); const now = performance.now(); if (r >= 200) ts[o][i].push((now - t) * 1000); t = now; });
  if (r >= 200) totals[i].push((t - t0) * 1000);
}
const med = (a: number[]): number => a.sort((p, q) => p - q)[a.length >> 1];
ops.forEach(([name], o) => console.log(`${name.padEnd(20)} x1 ${med(ts[o][0]).toFixed(1).padStart(6)} µs  x2 ${med(ts[o][1]).toFixed(1).padStart(6)} µs`));
console.log(`${'pass'.padEnd(20)} x1 ${med(totals[0]).toFixed(1).padStart(6)} µs  x2 ${med(totals[1]).toFixed(1).padStart(6)} µs  ratio ${(med(totals[0]) / med(totals[1])).toFixed(2)}`);
console.log('pool', JSON.stringify((s[1].e.rows as unknown as ThreadPool).stats));
for (const q of s) await q.e.close();
