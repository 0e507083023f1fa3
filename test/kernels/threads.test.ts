// Thread-count determinism: every GEMM output element is computed by one thread with a fixed
// summation order, so 1 and 2 threads must agree bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, isaSupported } from '../../src/kernels/engine.js';
import { probeFeatures } from '../../src/kernels/probe.js';
import { PARALLEL_MIN_MACS } from '../../src/kernels/threads.js';
import { Rng } from '../../src/tensor/rng.js';

const features = await probeFeatures();
const SEED = 7331;

for (const isa of ['scalar', 'simd128', 'relaxed'] as const) {
  const skip = !features.threads ? 'no threads' : isaSupported(isa, features) ? false : `${isa} not supported`;
  test(`GEMM results are bitwise identical with 1 and 2 threads (${isa})`, { skip }, async () => {
    const one = await createEngine({ backend: isa, threads: 1 });
    const two = await createEngine({ backend: isa, threads: 2 });
    try {
      assert.equal(two.threads, 2);
      const rng = new Rng(SEED);
      // Odd sizes so the row split lands inside a block and the right edge is partial.
      const shapes = [[97, 263, 31], [128, 300, 100], [131, 37, 257]];
      for (const [M, N, K] of shapes) {
        assert.ok(M * N * K >= PARALLEL_MIN_MACS, 'shape is large enough to be split');
        for (const op of ['gemmNN', 'gemmTN', 'gemmNT'] as const) {
          for (const acc of [false, true]) {
            const a = Float32Array.from({ length: M * K }, () => rng.normal());
            const b = Float32Array.from({ length: K * N }, () => rng.normal());
            const c = Float32Array.from({ length: M * N }, () => rng.normal());
            const out = [one, two].map((e) => {
              const mark = e.heap.mark();
              const A = e.heap.allocF32(a.length), B = e.heap.allocF32(b.length), C = e.heap.allocF32(c.length);
              e.heap.f32(A, a.length).set(a);
              e.heap.f32(B, b.length).set(b);
              e.heap.f32(C, c.length).set(c);
              e.kernels[op](M, N, K, A, B, C, acc);
              const r = e.heap.f32(C, c.length).slice();
              e.heap.release(mark);
              return r;
            });
            const diff = out[0].findIndex((v, i) => !Object.is(v, out[1][i]));
            assert.equal(diff, -1, `${op} M=${M} N=${N} K=${K} acc=${acc} (seed ${SEED}): element ${diff} differs`);
          }
        }
      }
    } finally {
      await one.close();
      await two.close();
    }
  });
}

// Thousands of back-to-back jobs of changing shapes: a thread that arrives late from one job must
// neither take nor use up a unit of the next (each would hang or corrupt the run). Every call's
// result must still equal the one-thread result.
test('back-to-back GEMM jobs on 2 threads never hang and stay exact', { skip: !features.threads ? 'no threads' : false, timeout: 120_000 }, async () => {
  const one = await createEngine({ threads: 1 });
  const two = await createEngine({ threads: 2 });
  try {
    const rng = new Rng(SEED + 1);
    const size = 224 * 256;
    const bufs = [one, two].map((e) => {
      const [A, B, C] = [e.heap.allocF32(size), e.heap.allocF32(size), e.heap.allocF32(size)];
      return { e, A, B, C };
    });
    const a = Float32Array.from({ length: size }, () => rng.normal());
    const b = Float32Array.from({ length: size }, () => rng.normal());
    for (const { e, A, B } of bufs) {
      e.heap.f32(A, size).set(a);
      e.heap.f32(B, size).set(b);
    }
    for (let i = 0; i < 3000; i++) {
      const M = 32 + (i % 7) * 32, N = 16 + ((i * 3) % 13) * 16, K = 64 + (i % 5) * 32;
      const op = (['gemmNN', 'gemmTN', 'gemmNT'] as const)[i % 3];
      for (const { e, A, B, C } of bufs) e.kernels[op](M, N, K, A, B, C, false);
      if (i % 97 === 0) {
        const [r1, r2] = bufs.map(({ e, C }) => e.heap.f32(C, M * N));
        assert.deepEqual(r2, r1, `call ${i}: ${op} ${M}×${N}×${K} differs between 1 and 2 threads`);
      }
    }
  } finally {
    await one.close();
    await two.close();
  }
});

// The memory-bound ops and the sparse training kernels split too (by batch lanes, rows or
// elements, see wasm.ts and as/lanes.ts): 1 and 2 threads must agree bit for bit, for batches
// that are and are not multiples of the 16-lane parts.
test('split transposes, elementwise ops and sparse training kernels are bitwise identical with 1 and 2 threads', { skip: !features.threads ? 'no threads' : false }, async () => {
  for (const isa of ['simd128', 'relaxed', 'scalar'] as const) {
    if (!isaSupported(isa, features)) continue;
    const one = await createEngine({ backend: isa, threads: 1 });
    const two = await createEngine({ backend: isa, threads: 2 });
    const pool = two.rows as unknown as { stats: { jobs: number } };
    try {
      const rng = new Rng(SEED + 2);
      for (const [n, rows, cols, k] of [[128, 300, 784, 78], [100, 100, 300, 30], [48, 37, 515, 9], [300, 64, 200, 17]]) {
        const rowPtr = new Int32Array(rows + 1), col: number[] = [];
        for (let j = 0; j < rows; j++) {
          const fan = j % 11 === 3 ? 0 : k; // an ablated (empty) row now and then
          const set = new Set<number>();
          while (set.size < fan) set.add(Math.floor(rng.uniform() * cols));
          col.push(...[...set].sort((a, b) => a - b));
          rowPtr[j + 1] = col.length;
        }
        const nnz = col.length;
        // CSC of the same lists: per input column the rows reading it (ascending) and the weight's position.
        const colPtr = new Int32Array(cols + 1), rowIdx = new Int32Array(nnz), wPos = new Int32Array(nnz);
        for (const c of col) colPtr[c + 1]++;
        for (let c = 0; c < cols; c++) colPtr[c + 1] += colPtr[c];
        const fill = colPtr.slice(0, cols);
        for (let j = 0; j < rows; j++) for (let t = rowPtr[j]; t < rowPtr[j + 1]; t++) { const e = fill[col[t]]++; rowIdx[e] = j; wPos[e] = t; }
        const data = {
          x: Float32Array.from({ length: n * cols }, () => rng.normal()),
          w: Float32Array.from({ length: nnz }, () => rng.normal()),
          dy: Float32Array.from({ length: n * rows }, () => rng.normal()),
          bias: Float32Array.from({ length: rows }, () => rng.normal()),
          m: Float32Array.from({ length: nnz }, () => rng.normal()),
        };
        const out = [one, two].map((e) => {
          const h = e.heap, mark = h.mark();
          const put = (a: Float32Array | Int32Array): number => {
            const p = a instanceof Int32Array ? h.allocI32(a.length) : h.allocF32(a.length);
            (a instanceof Int32Array ? h.i32(p, a.length) : h.f32(p, a.length)).set(a as never);
            return p;
          };
          const K = e.kernels;
          const x = put(data.x), xT = h.allocF32(n * cols), W = put(data.w), rp = put(rowPtr), cl = put(Int32Array.from(col));
          const cp = put(colPtr), ri = put(rowIdx), wp = put(wPos), dy = put(data.dy), dyT = h.allocF32(n * rows);
          const yT = h.allocF32(n * rows), y = h.allocF32(n * rows), bias = put(data.bias), G = h.allocF32(nnz), M = put(data.m);
          const dxT = h.allocF32(n * cols), dx = h.allocF32(n * cols), mask = put(Float32Array.from({ length: n * rows }, (_, i) => (i % 3 ? 1 : 0)));
          K.swapAxes(n, cols, 1, x, xT);
          K.sparseRowsForward(rows, n, rp, cl, W, xT, yT);
          K.swapAxes(rows, n, 1, yT, y);
          K.addBiasRows(n, rows, y, bias);
          K.reluForward(n * rows, y, y);
          K.reluBackward(n * rows, y, dy, dy);
          K.mul(n * rows, dy, mask, dy);
          K.swapAxes(n, rows, 1, dy, dyT);
          K.sparseRowsWeightGrad(rows, n, rp, cl, G, dyT, xT);
          K.sparseColsInputGrad(cols, n, cp, ri, wp, W, dyT, dxT);
          K.swapAxes(cols, n, 1, dxT, dx);
          K.sgdStep(nnz, W, G, M, 0.05, 0.9, 5e-4, true);
          const r = [xT, yT, y, dy, G, dx, W, M].map((p, i) => h.f32(p, [n * cols, n * rows, n * rows, n * rows, nnz, n * cols, nnz, nnz][i]).slice());
          h.release(mark);
          return r;
        });
        ['xT', 'yT', 'y', 'dy', 'G', 'dx', 'W', 'M'].forEach((name, i) => {
          const diff = out[0][i].findIndex((v, j) => !Object.is(v, out[1][i][j]));
          assert.equal(diff, -1, `${isa} n=${n} rows=${rows} cols=${cols}: ${name}[${diff}] differs between 1 and 2 threads`);
        });
      }
      assert.ok(pool.stats.jobs > 0, `${isa}: nothing was split over the two threads`);
    } finally {
      await one.close();
      await two.close();
    }
  }
});

// The transformer kernels split by elements (GELU) or whole rows (softmax, layer norm forward).
test('split GELU, softmax and layer-norm kernels are bitwise identical with 1 and 2 threads', { skip: !features.threads ? 'no threads' : false }, async () => {
  for (const isa of ['simd128', 'relaxed', 'scalar'] as const) {
    if (!isaSupported(isa, features)) continue;
    const one = await createEngine({ backend: isa, threads: 1 });
    const two = await createEngine({ backend: isa, threads: 2 });
    const pool = two.rows as unknown as { stats: { jobs: number } };
    try {
      const rng = new Rng(SEED + 3);
      // Attention's score rows (T = 65, not a multiple of 4) and a token's features; sizes past PARALLEL_MIN_ELEMENTS.
      for (const [M, N] of [[390, 65], [300, 64], [129, 97]]) {
        const x = Float32Array.from({ length: M * N }, () => 3 * rng.normal());
        const dy = Float32Array.from({ length: M * N }, () => rng.normal());
        const g = Float32Array.from({ length: N }, () => rng.normal());
        const out = [one, two].map((e) => {
          const h = e.heap, mark = h.mark(), K = e.kernels;
          const put = (a: Float32Array): number => {
            const p = h.allocF32(a.length);
            h.f32(p, a.length).set(a);
            return p;
          };
          const X = put(x), dY = put(dy), G = put(g), B = put(g.map((v) => -v));
          const [Y, dX, P, dP, L, dL] = Array.from({ length: 6 }, () => h.allocF32(M * N));
          const mean = h.allocF32(M), is = h.allocF32(M), dG = h.allocF32(N), dB = h.allocF32(N);
          K.geluForward(M * N, X, Y);
          K.geluBackward(M * N, X, dY, dX);
          K.softmaxRows(M, N, 0.125, X, P);
          K.softmaxRowsBackward(M, N, 0.125, P, dY, dP);
          K.layerNormForward(M, N, X, G, B, L, mean, is, 1e-5);
          K.layerNormBackward(M, N, X, dY, G, mean, is, dL, dG, dB);
          const r = [Y, dX, P, dP, L, mean, is, dL, dG, dB].map((p, i) => h.f32(p, [M * N, M * N, M * N, M * N, M * N, M, M, M * N, N, N][i]).slice());
          h.release(mark);
          return r;
        });
        ['gelu', 'gelu dX', 'softmax', 'softmax dX', 'layer norm', 'mean', 'invStd', 'layer norm dX', 'dGamma', 'dBeta'].forEach((name, i) => {
          const diff = out[0][i].findIndex((v, j) => !Object.is(v, out[1][i][j]));
          assert.equal(diff, -1, `${isa} M=${M} N=${N}: ${name}[${diff}] differs between 1 and 2 threads`);
        });
      }
      assert.ok(pool.stats.jobs > 0, `${isa}: nothing was split over the two threads`);
    } finally {
      await one.close();
      await two.close();
    }
  }
});
