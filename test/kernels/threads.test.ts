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
