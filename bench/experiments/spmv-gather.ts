/**
 * Batch-1 experiment: four gather-dot variants (bench/experiments/as/spmv-gather.ts) on a
 * 3072→768 layer at 90% sparsity (k = 307), interleaved round by round, medians; the same
 * outputs are checked. Compiles the AssemblyScript with the project's asc into a temp dir.
 * Needs relaxed SIMD (Node 20: the flag below).
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/experiments/spmv-gather.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/tensor/rng.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'srigl-exp-'));
const wasm = join(tmp, 'exp.wasm');
execFileSync(process.execPath, [
  join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js'), join(here, 'as', 'spmv-gather.ts'), '-o', wasm,
  '-O3', '--noAssert', '--runtime', 'stub', '--importMemory', '--sharedMemory', '--initialMemory', '32', '--maximumMemory', '32768',
  '--enable', 'threads', '--enable', 'simd', '--enable', 'relaxed-simd',
]);
const memory = new WebAssembly.Memory({ initial: 2048, maximum: 32768, shared: true });
const ex = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(wasm)), { env: { memory, abort() {} } }).exports as Record<string, (...a: number[]) => void>;
rmSync(tmp, { recursive: true, force: true });

const rows = 768, cols = 3072, k = 307;
const rng = new Rng(3);
let top = 1 << 20;
const alloc = (bytes: number) => {
  const p = top;
  top += Math.ceil(bytes / 64) * 64 + 64;
  return p;
};
const values = alloc(rows * k * 4), idx = alloc(rows * k * 2), offs = alloc(rows * k * 2), bias = alloc(rows * 4), x = alloc(cols * 4), y = alloc(rows * 4 * 4);
const f32 = new Float32Array(memory.buffer), u16 = new Uint16Array(memory.buffer);
const FIXED_X = 32768; // variant C's x address (XC in the AssemblyScript)
for (let r = 0; r < rows; r++) {
  const set = new Set<number>();
  while (set.size < k) set.add(rng.int(cols));
  const s = [...set].sort((a, b) => a - b);
  for (let j = 0; j < k; j++) {
    f32[(values >> 2) + r * k + j] = rng.uniform() - 0.5;
    u16[(idx >> 1) + r * k + j] = s[j];
    u16[(offs >> 1) + r * k + j] = s[j] * 4;
  }
}
for (let c = 0; c < cols; c++) f32[(FIXED_X >> 2) + c] = f32[(x >> 2) + c] = rng.uniform();
const variants: [string, () => void][] = [
  ['A shipped', () => ex.spmvA(0, rows, k, values, idx, bias, x, y)],
  ['B byte offsets', () => ex.spmvB(0, rows, k, values, offs, bias, x, y + rows * 4)],
  ['C offsets + fixed x', () => ex.spmvC(0, rows, k, values, offs, bias, x, y + rows * 8)],
  ['D two rows', () => ex.spmvD(0, rows, k, values, offs, bias, x, y + rows * 12)],
];
const times: number[][] = variants.map(() => []);
for (let round = 0; round < 61; round++) {
  variants.forEach(([, f], i) => {
    const t = process.hrtime.bigint();
    for (let q = 0; q < 20; q++) f();
    if (round > 0) times[i].push(Number(process.hrtime.bigint() - t) / 20e3);
  });
}
const med = times.map((a) => a.sort((p, q) => p - q)[a.length >> 1]);
const ref = f32.subarray(y >> 2, (y >> 2) + rows);
variants.forEach(([name], i) => {
  const out = f32.subarray((y >> 2) + i * rows, (y >> 2) + (i + 1) * rows);
  const same = out.every((v, j) => Math.abs(v - ref[j]) <= 1e-4 * (1 + Math.abs(ref[j])));
  console.log(`${name}: ${med[i].toFixed(1)} µs (${(med[0] / med[i]).toFixed(2)}× vs A)${same ? '' : ' OUTPUT DIFFERS'}`);
});
