/**
 * Cost of one split job on the kernel pool: a pinned 2-part ReLU over `n` floats, back to back
 * (the worker polls), against the same ReLU on the calling thread; and a bare cross-thread
 * ping-pong over a SharedArrayBuffer (the floor of any dispatch on this machine).
 *
 *   npx tsx bench/experiments/threads-dispatch.ts
 */
import { Worker } from 'node:worker_threads';
import { createEngine } from '../../src/kernels/engine.js';
import type { ThreadPool } from '../../src/kernels/threads.js';
import type { WasmKernels } from '../../src/kernels/wasm.js';

const e = await createEngine({ threads: 2 });
const pool = e.rows as unknown as ThreadPool;
const k = (e.kernels as unknown as { k: { relu_forward_f32(n: number, x: number, y: number): void } }).k;
const X = e.heap.allocF32(1 << 20), Y = e.heap.allocF32(1 << 20);
void (e.kernels as WasmKernels);
for (const n of [64, 4096, 38400, 100352]) {
  const t: number[][] = [[], []];
  for (let r = 0; r < 300; r++) {
    let s = performance.now();
    for (let i = 0; i < 20; i++) pool.parts('relu_forward_range_f32', 0, n, 16, [X, Y]);
    t[0].push((performance.now() - s) * 50);
    s = performance.now();
    for (let i = 0; i < 20; i++) k.relu_forward_f32(n, X, Y);
    t[1].push((performance.now() - s) * 50);
  }
  const med = t.map((a) => a.sort((p, q) => p - q)[a.length >> 1]);
  console.log(`relu n=${n}: split ${med[0].toFixed(2)} µs, one thread ${med[1].toFixed(2)} µs; pool ${JSON.stringify(pool.stats)}`);
}
await e.close();

// Ping-pong: main sets flag=1, the worker answers flag=2, round trips per second.
const sab = new SharedArrayBuffer(64);
const f = new Int32Array(sab);
const w = new Worker(`const { workerData } = require('node:worker_threads'); const f = new Int32Array(workerData); for (;;) { while (Atomics.load(f, 0) !== 1) {} if (Atomics.load(f, 1)) break; Atomics.store(f, 0, 2); }`, { eval: true, workerData: sab });
await new Promise((r) => setTimeout(r, 200));
const N = 20000;
const s = performance.now();
for (let i = 0; i < N; i++) { Atomics.store(f, 0, 1); while (Atomics.load(f, 0) !== 2) {} }
console.log(`ping-pong round trip: ${((performance.now() - s) * 1000 / N).toFixed(2)} µs`);
Atomics.store(f, 1, 1); Atomics.store(f, 0, 1);
await w.terminate();
