import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine } from '../../src/kernels/engine.js';
import { probeFeatures } from '../../src/kernels/probe.js';
import { convScratchBytes, instantiateSparseKernels, spmmScratchBytes, SPARSE_VARIANTS, type SparseKernels, type SpmmTile, type SpmvTile } from '../../src/kernels/condensed.js';
import { packCondensed, packCsr, toNMLayer, uploadCondensed, uploadCondensedNM, uploadCsr, uploadDense, type CondensedNMLayer } from '../../src/sparse/condensed/index.js';
import { nmMask } from '../../src/sparse/nm.js';
import { constantFanInMask, randomMask } from '../../src/sparse/mask.js';
import { Rng } from '../../src/tensor/rng.js';

/**
 * Every __x2 variant (rows split over two threads by the engine's pool) against its one-thread
 * twin on the same inputs: bit-identical outputs, for row counts that do and do not divide into
 * the 4-row units, batch 1, a batch with every tail path split by rows (37), one split by lane
 * units (70), and a row sub-range; the N:M kernels on N:M masks of the same shapes.
 */
test('two-thread sparse kernels are bit-identical to one thread', async () => {
  const f = await probeFeatures();
  if (!f.threads) {
    console.log('# no wasm threads on this runtime: nothing to test');
    return;
  }
  const isa = f.relaxedSimd ? 'relaxed' : f.simd ? 'simd128' : 'scalar';
  const engine = await createEngine({ backend: isa, threads: 2 });
  try {
    assert.ok(engine.rows, 'a 2-thread engine exposes its row runner');
    const heap = engine.heap;
    const one = instantiateSparseKernels(heap.memory, isa)!;
    const two = instantiateSparseKernels(heap.memory, isa, engine.rows)!;
    const rng = new Rng(5);
    for (const [out, fanIn, k] of [[37, 120, 13], [64, 300, 30], [5, 40, 40]] as const) {
      const mark = heap.mark();
      const weight = Float32Array.from({ length: out * fanIn }, () => rng.normal());
      const bias = Float32Array.from({ length: out }, () => rng.normal());
      const L = uploadCondensed(heap, packCondensed({ outFeatures: out, inFeatures: fanIn, weight, mask: constantFanInMask(out, fanIn, k, rng), bias }));
      const C = uploadCsr(heap, packCsr({ rows: out, cols: fanIn, weight, mask: randomMask(out * fanIn, out * k, rng), bias }));
      const D = uploadDense(heap, out, fanIn, weight, bias);
      // 3:8 (120 and 40 inputs: whole groups) or 5:8 (300 = 37 groups and a partial one of 4).
      const nm = { n: fanIn === 300 ? 5 : 3, m: 8, taps: 1 };
      const N = uploadCondensedNM(heap, toNMLayer(packCondensed({ outFeatures: out, inFeatures: fanIn, weight, mask: nmMask(out, fanIn, nm, rng), bias }), nm) as CondensedNMLayer);
      const scratch = heap.alloc(spmmScratchBytes(fanIn, 70));
      // 37: rows split (two 16-lane tiles); 70: lane units split (four tiles and a 6-lane tail).
      for (const n of [1, 37, 70]) {
        const xT = heap.allocF32(fanIn * n);
        heap.f32(xT, fanIn * n).set(Float32Array.from({ length: fanIn * n }, () => rng.normal()));
        const y1 = heap.allocF32(out * n);
        const y2 = heap.allocF32(out * n);
        const run = (s: SparseKernels, v: (typeof SPARSE_VARIANTS)[number], y: number, r0: number, r1: number) => {
          switch (v.op) {
            case 'spmvCfi': return s.spmvCfi(v.tile as SpmvTile, L, xT, y, r0, r1);
            case 'spmmCfi': return s.spmmCfi(v.tile as SpmmTile, L, n, xT, y, scratch, r0, r1);
            case 'spmvNm': return s.spmvNm(N, xT, y, r0, r1);
            case 'spmmNm': return s.spmmNm(N, n, xT, y, scratch, r0, r1);
            case 'spmvCsr': return s.spmvCsr(C, xT, y, r0, r1);
            case 'spmmCsr': return s.spmmCsr(C, n, xT, y, scratch, r0, r1);
            case 'denseGemv': return s.denseGemv(D, xT, y, r0, r1);
            case 'denseGemm': return s.denseGemm(D, n, xT, y, r0, r1);
          }
        };
        for (const v of SPARSE_VARIANTS.filter((x) => x.threads === 2)) {
          if ((v.op === 'spmvCfi' || v.op === 'spmvNm' || v.op === 'spmvCsr' || v.op === 'denseGemv') !== (n === 1)) continue;
          for (const [r0, r1] of [[0, out], [1, out - 1]]) {
            heap.f32(y1, out * n).fill(7);
            heap.f32(y2, out * n).fill(7);
            run(one, v, y1, r0, r1);
            run(two, v, y2, r0, r1);
            assert.deepEqual(heap.f32(y2, out * n), heap.f32(y1, out * n), `${v.name} ${out}×${fanIn} k=${k} n=${n} rows [${r0}, ${r1})`);
          }
        }
      }
      heap.release(mark);
    }
    // Conv2d, images split over the threads (each with its own columns).
    const g = { C: 4, H: 9, W: 11, kh: 3, kw: 3, stride: 1, pad: 1 };
    const fanIn = g.C * g.kh * g.kw, out = 6, B = 5, S = g.H * g.W;
    const mark = heap.mark();
    const weight = Float32Array.from({ length: out * fanIn }, () => rng.normal());
    const L = uploadCondensed(heap, packCondensed({ outFeatures: out, inFeatures: fanIn, weight, mask: constantFanInMask(out, fanIn, 10, rng), bias: new Float32Array(out).fill(0.5) }));
    const X = heap.allocF32(B * g.C * g.H * g.W);
    heap.f32(X, B * g.C * g.H * g.W).set(Float32Array.from({ length: B * g.C * g.H * g.W }, () => rng.normal()));
    const scratch = heap.alloc(convScratchBytes(fanIn, S, 2));
    const y1 = heap.allocF32(B * out * S);
    const y2 = heap.allocF32(B * out * S);
    one.convCfi(L, g, B, X, y1, scratch);
    two.convCfi(L, g, B, X, y2, scratch);
    assert.deepEqual(heap.f32(y2, B * out * S), heap.f32(y1, B * out * S), 'convCfi: 2 threads vs 1');
    const nm = { n: 1, m: 4, taps: 9 };
    const N = uploadCondensedNM(heap, toNMLayer(packCondensed({ outFeatures: out, inFeatures: fanIn, weight, mask: nmMask(out, fanIn, nm, rng), bias: new Float32Array(out).fill(0.5) }), nm) as CondensedNMLayer);
    one.convNm(N, g, B, X, y1, scratch);
    two.convNm(N, g, B, X, y2, scratch);
    assert.deepEqual(heap.f32(y2, B * out * S), heap.f32(y1, B * out * S), 'convNm: 2 threads vs 1');
    heap.release(mark);
  } finally {
    await engine.close();
  }
});
