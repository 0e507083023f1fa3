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
