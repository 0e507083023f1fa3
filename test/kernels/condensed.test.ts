import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WasmHeap } from '../../src/kernels/memory.js';
import {
  convOutputSize, convScratchBytes, instantiateSparseKernels, referenceSparseKernels,
  spmmScratchBytes, type SparseKernels, type SpmmTile, type SpmvTile,
} from '../../src/kernels/condensed.js';
import { packCondensed, packCsr, expandRows, toNMLayer, uploadCondensed, uploadCondensedNM, uploadCsr, uploadDense, type CondensedNMLayer } from '../../src/sparse/condensed/index.js';
import { nmMask, type NMStructure } from '../../src/sparse/nm.js';
import { constantFanInMask, randomMask } from '../../src/sparse/mask.js';
import { Rng } from '../../src/tensor/rng.js';

const ISAS = ['scalar', 'simd128', 'relaxed'] as const;
const SPMV_TILES: SpmvTile[] = ['1x4', '1x8'];
const SPMM_TILES: SpmmTile[] = ['1x16', '2x16'];
/**
 * Batch sizes: 1, below one SIMD vector, the 8-lane tile alone, a full 16-lane tile, and
 * 16·2 + 8 + 4 + 1 (every tail path after the packed tiles).
 */
const BATCHES = [1, 3, 8, 16, 45];

/** Every backend this runtime can run: the TS oracle first, then each wasm module that validates. */
function backends(heap: WasmHeap): SparseKernels[] {
  const out: SparseKernels[] = [referenceSparseKernels(() => heap.memory.buffer)];
  for (const isa of ISAS) {
    const k = instantiateSparseKernels(heap.memory, isa);
    if (k) out.push(k);
    else console.log(`# ${isa} wasm does not validate on this runtime: not tested`);
  }
  return out;
}

interface Case { name: string; out: number; fanIn: number; k: number; keepOnly?: number }

const CASES: Case[] = [
  { name: 'k=1', out: 13, fanIn: 40, k: 1 },
  { name: 'k=fan-in', out: 9, fanIn: 33, k: 33 },
  { name: 'k not a multiple of 8', out: 24, fanIn: 100, k: 11 },
  { name: 'k=16, out odd', out: 7, fanIn: 64, k: 16 },
  { name: 'all neurons ablated but one', out: 10, fanIn: 20, k: 5, keepOnly: 7 },
  { name: 'u32 indices (fan-in > 65536)', out: 3, fanIn: 70001, k: 37 },
];

function makeLayer(c: Case, rng: Rng) {
  const weight = new Float32Array(c.out * c.fanIn);
  for (let i = 0; i < weight.length; i++) weight[i] = rng.normal();
  const mask = constantFanInMask(c.out, c.fanIn, c.k, rng);
  const bias = new Float32Array(c.out);
  for (let r = 0; r < c.out; r++) bias[r] = rng.normal();
  if (c.keepOnly !== undefined) {
    for (let r = 0; r < c.out; r++) {
      if (r === c.keepOnly) continue;
      mask.fill(0, r * c.fanIn, (r + 1) * c.fanIn);
      bias[r] = 0;
    }
  }
  return { weight, mask, bias };
}

/**
 * The independent oracle: Yᵀ = (W ⊙ M)·Xᵀ + b over every original neuron, in f64, with the
 * scale Σ|w·x| + |b| of each output for a relative tolerance that survives cancellation.
 */
function maskedDense(out: number, fanIn: number, weight: Float32Array, mask: Uint8Array, bias: Float32Array, xT: Float32Array, n: number) {
  const y = new Float64Array(out * n);
  const scale = new Float64Array(out * n);
  for (let r = 0; r < out; r++) {
    for (let b = 0; b < n; b++) {
      let s = bias[r], a = Math.abs(bias[r]);
      for (let c = 0; c < fanIn; c++) {
        if (!mask[r * fanIn + c]) continue;
        const t = weight[r * fanIn + c] * xT[c * n + b];
        s += t;
        a += Math.abs(t);
      }
      y[r * n + b] = s;
      scale[r * n + b] = a;
    }
  }
  return { y, scale };
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, scale: ArrayLike<number>, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    const tol = 1e-5 * scale[i] + 1e-30;
    if (!(Math.abs(got[i] - want[i]) <= tol)) assert.fail(`${what}: element ${i}: got ${got[i]}, want ${want[i]} (tolerance ${tol})`);
  }
}

function randomInput(rng: Rng, n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.normal();
  return x;
}

test('constant fan-in kernels equal the masked dense layer and the reference, every ISA, tile and batch', () => {
  const seed = 1234;
  const rng = new Rng(seed);
  for (const c of CASES) {
    const heap = new WasmHeap(16 << 20);
    const { weight, mask, bias } = makeLayer(c, rng);
    const layer = packCondensed({ outFeatures: c.out, inFeatures: c.fanIn, weight, mask, bias });
    assert.equal(layer.nActive, c.keepOnly === undefined ? c.out : 1);
    assert.equal(layer.indices instanceof Uint32Array, c.fanIn > 65536);
    const L = uploadCondensed(heap, layer);
    const scratch = heap.alloc(spmmScratchBytes(c.fanIn, Math.max(...BATCHES)));
    const ks = backends(heap);
    for (const n of BATCHES) {
      const xT = randomInput(rng, c.fanIn * n);
      const { y: want, scale } = maskedDense(c.out, c.fanIn, weight, mask, bias, xT, n);
      const xp = heap.allocF32(xT.length);
      heap.f32(xp, xT.length).set(xT);
      const yp = heap.allocF32(layer.nActive * n);
      const run = (label: string, f: () => void) => {
        heap.f32(yp, layer.nActive * n).fill(NaN);
        f();
        const got = expandRows(layer, heap.f32(yp, layer.nActive * n).slice(), n);
        assertClose(got, want, scale, `${c.name}, batch ${n}, ${label} (seed ${seed})`);
      };
      for (const k of ks) {
        if (n === 1) for (const t of SPMV_TILES) run(`${k.isa} spmv ${t}`, () => k.spmvCfi(t, L, xp, yp));
        for (const t of SPMM_TILES) run(`${k.isa} spmm ${t}`, () => k.spmmCfi(t, L, n, xp, yp, scratch));
        // Rows split in two calls, as a thread pool would: same result.
        const mid = layer.nActive >> 1;
        run(`${k.isa} spmm 2x16 rows split at ${mid}`, () => {
          k.spmmCfi('2x16', L, n, xp, yp, scratch, 0, mid);
          k.spmmCfi('2x16', L, n, xp, yp, scratch, mid, layer.nActive);
        });
      }
    }
  }
});

/** An N:M layer (mask from nmMask) with rows `ablate` emptied (bias 0), packed in the N:M format. */
function nmLayer(out: number, fanIn: number, nm: NMStructure, ablate: number[], rng: Rng) {
  const weight = randomInput(rng, out * fanIn);
  const mask = nmMask(out, fanIn, nm, rng);
  const bias = randomInput(rng, out);
  for (const r of ablate) {
    mask.fill(0, r * fanIn, (r + 1) * fanIn);
    bias[r] = 0;
  }
  const layer = toNMLayer(packCondensed({ outFeatures: out, inFeatures: fanIn, weight, mask, bias }), nm);
  if (typeof layer === 'string') assert.fail(layer);
  return { weight, mask, bias, layer: layer as CondensedNMLayer };
}

/**
 * N:M shapes [out, fanIn, N, M]: M = 4, 8, 16, 64; partial last groups (fanIn mod M ≠ 0, with
 * fewer and more than N inputs), k = out's fan-in not a multiple of 4 or 8, a single group.
 */
const NM_CASES: readonly [number, number, number, number][] = [
  [13, 40, 2, 4], [9, 42, 2, 4], [7, 41, 3, 4], [24, 100, 1, 8], [11, 77, 3, 8], [6, 203, 5, 16], [5, 150, 7, 64], [4, 64, 63, 64], [3, 10, 1, 16], [5, 70, 4, 16], [6, 61, 4, 8],
];

test('N:M kernels equal the masked dense layer and the reference: M = 4…64, partial groups, ablated rows, every ISA and batch', () => {
  const seed = 4321;
  const rng = new Rng(seed);
  for (const [out, fanIn, n, m] of NM_CASES) {
    const heap = new WasmHeap(16 << 20);
    const nm = { n, m, taps: 1 };
    const { weight, mask, bias, layer } = nmLayer(out, fanIn, nm, out > 4 ? [1, out - 2] : [], rng);
    const L = uploadCondensedNM(heap, layer);
    const scratch = heap.alloc(spmmScratchBytes(fanIn, Math.max(...BATCHES)));
    const ks = backends(heap);
    for (const batch of BATCHES) {
      const xT = randomInput(rng, fanIn * batch);
      const { y: want, scale } = maskedDense(out, fanIn, weight, mask, bias, xT, batch);
      const xp = heap.allocF32(xT.length);
      heap.f32(xp, xT.length).set(xT);
      const yp = heap.allocF32(layer.nActive * batch);
      const run = (label: string, f: () => void) => {
        heap.f32(yp, layer.nActive * batch).fill(NaN);
        f();
        const got = expandRows(layer, heap.f32(yp, layer.nActive * batch).slice(), batch);
        assertClose(got, want, scale, `${out}×${fanIn} ${n}:${m} k=${layer.k}, batch ${batch}, ${label} (seed ${seed})`);
      };
      for (const k of ks) {
        if (batch === 1) run(`${k.isa} spmv nm`, () => k.spmvNm(L, xp, yp));
        run(`${k.isa} spmm nm`, () => k.spmmNm(L, batch, xp, yp, scratch));
        const mid = layer.nActive >> 1;
        run(`${k.isa} spmm nm rows split at ${mid}`, () => {
          k.spmmNm(L, batch, xp, yp, scratch, 0, mid);
          k.spmmNm(L, batch, xp, yp, scratch, mid, layer.nActive);
        });
      }
    }
  }
});

test('toNMLayer keeps group order for convolutions and refuses rows that are not N:M', () => {
  const rng = new Rng(3);
  // 6 channels × 4 taps, 2:4: groups (c0, tap) = channels 0–3 and 4–5 at each tap.
  const nm = { n: 2, m: 4, taps: 4 };
  const { layer, mask, weight } = nmLayer(3, 24, nm, [], rng);
  assert.equal(layer.k, 4 * (2 + 2));
  for (let r = 0; r < 3; r++) {
    let p = r * layer.k;
    for (const [c0, size] of [[0, 4], [4, 2]]) {
      for (let tap = 0; tap < 4; tap++) {
        const want = [...Array(size).keys()].filter((i) => mask[r * 24 + (c0 + i) * 4 + tap]);
        assert.deepEqual([...layer.offsets.subarray(p, p + 2)], want, `row ${r} group (${c0}, ${tap})`);
        for (const o of want) assert.equal(layer.values[p++], weight[r * 24 + (c0 + o) * 4 + tap]);
      }
    }
  }
  const general = packCondensed({ outFeatures: 2, inFeatures: 8, weight: new Float32Array(16).fill(1), mask: Uint8Array.of(1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0) });
  assert.match(toNMLayer(general, { n: 2, m: 4, taps: 1 }) as string, /row 1 holds more than 2 weights in group 0/);
  assert.match(toNMLayer(general, { n: 1, m: 4, taps: 1 }) as string, /rows hold 4 weights, 1:4 over 8 inputs keeps 2/);
});

test('CSR and dense baseline kernels equal the masked dense layer (unstructured mask, empty rows)', () => {
  const seed = 99;
  const rng = new Rng(seed);
  for (const [rows, cols, nnz] of [[17, 50, 85], [6, 300, 40], [5, 70001, 600]] as const) {
    const heap = new WasmHeap(16 << 20);
    const weight = randomInput(rng, rows * cols);
    const mask = randomMask(rows * cols, nnz, rng);
    const bias = randomInput(rng, rows);
    const csr = packCsr({ rows, cols, weight, mask, bias });
    assert.equal(csr.rowPtr[rows], nnz);
    const C = uploadCsr(heap, csr);
    const masked = weight.map((w, i) => (mask[i] ? w : 0));
    const D = uploadDense(heap, rows, cols, masked, bias);
    const scratch = heap.alloc(spmmScratchBytes(cols, Math.max(...BATCHES)));
    for (const n of BATCHES) {
      const xT = randomInput(rng, cols * n);
      const { y: want, scale } = maskedDense(rows, cols, weight, mask, bias, xT, n);
      const xp = heap.allocF32(xT.length);
      heap.f32(xp, xT.length).set(xT);
      const yp = heap.allocF32(rows * n);
      for (const k of backends(heap)) {
        const check = (label: string, f: () => void) => {
          heap.f32(yp, rows * n).fill(NaN);
          f();
          assertClose(heap.f32(yp, rows * n).slice(), want, scale, `${rows}x${cols} nnz ${nnz}, batch ${n}, ${k.isa} ${label} (seed ${seed})`);
        };
        if (n === 1) {
          check('spmv csr', () => k.spmvCsr(C, xp, yp));
          check('dense gemv', () => k.denseGemv(D, xp, yp));
        }
        check('spmm csr', () => k.spmmCsr(C, n, xp, yp, scratch));
        check('dense gemm', () => k.denseGemm(D, n, xp, yp));
        check('dense gemm rows split', () => {
          k.denseGemm(D, n, xp, yp, 0, 3);
          k.denseGemm(D, n, xp, yp, 3, rows);
        });
      }
    }
  }
});

test('dense gemm baseline covers K and lane blocking (K > 256, n > 256)', () => {
  const rng = new Rng(5);
  const rows = 9, cols = 300, n = 261;
  const heap = new WasmHeap(16 << 20);
  const weight = randomInput(rng, rows * cols);
  const bias = randomInput(rng, rows);
  const mask = new Uint8Array(rows * cols).fill(1);
  const D = uploadDense(heap, rows, cols, weight, bias);
  const xT = randomInput(rng, cols * n);
  const { y: want, scale } = maskedDense(rows, cols, weight, mask, bias, xT, n);
  const xp = heap.allocF32(xT.length);
  heap.f32(xp, xT.length).set(xT);
  const yp = heap.allocF32(rows * n);
  for (const k of backends(heap)) {
    k.denseGemm(D, n, xp, yp);
    assertClose(heap.f32(yp, rows * n).slice(), want, scale, `dense gemm ${k.isa}`);
  }
});

/** `k`: a constant fan-in, or an N:M structure along the input channels (the N:M kernel). */
function convCase(seed: number, g: { C: number; H: number; W: number; kh: number; kw: number; stride: number; pad: number }, Cout: number, B: number, k: number | { n: number; m: number }): void {
  const rng = new Rng(seed);
  const fanIn = g.C * g.kh * g.kw;
  const { OH, OW } = convOutputSize(g);
  const weight = randomInput(rng, Cout * fanIn);
  const nm = typeof k === 'number' ? null : { ...k, taps: g.kh * g.kw };
  const mask = nm === null ? constantFanInMask(Cout, fanIn, k as number, rng) : nmMask(Cout, fanIn, nm, rng);
  // Ablate output channel 2 to check the activeMap bookkeeping as well.
  mask.fill(0, 2 * fanIn, 3 * fanIn);
  const bias = randomInput(rng, Cout);
  bias[2] = 0;
  const layer = packCondensed({ outFeatures: Cout, inFeatures: fanIn, weight, mask, bias });
  const nmLayer_ = nm === null ? null : toNMLayer(layer, nm);
  if (typeof nmLayer_ === 'string') assert.fail(nmLayer_);
  const X = randomInput(rng, B * g.C * g.H * g.W);

  // Direct convolution in f64, NCHW.
  const want = new Float64Array(B * Cout * OH * OW);
  const scale = new Float64Array(want.length);
  for (let b = 0; b < B; b++) for (let o = 0; o < Cout; o++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    let s = bias[o], a = Math.abs(bias[o]);
    for (let c = 0; c < g.C; c++) for (let dy = 0; dy < g.kh; dy++) for (let dx = 0; dx < g.kw; dx++) {
      const col = (c * g.kh + dy) * g.kw + dx;
      if (!mask[o * fanIn + col]) continue;
      const iy = oy * g.stride + dy - g.pad, ix = ox * g.stride + dx - g.pad;
      if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
      const t = weight[o * fanIn + col] * X[((b * g.C + c) * g.H + iy) * g.W + ix];
      s += t;
      a += Math.abs(t);
    }
    const i = ((b * Cout + o) * OH + oy) * OW + ox;
    want[i] = s;
    scale[i] = a;
  }

  const heap = new WasmHeap(16 << 20);
  const L = uploadCondensed(heap, layer);
  const N = nmLayer_ === null ? null : uploadCondensedNM(heap, nmLayer_);
  const xp = heap.allocF32(X.length);
  heap.f32(xp, X.length).set(X);
  const yp = heap.allocF32(B * layer.nActive * OH * OW);
  const convScratch = heap.alloc(convScratchBytes(fanIn, OH * OW, 1));
  const check = (label: string) => {
    const yAct = heap.f32(yp, B * layer.nActive * OH * OW);
    const got = new Float64Array(want.length);
    for (let b = 0; b < B; b++) for (let a = 0; a < layer.nActive; a++) {
      for (let s = 0; s < OH * OW; s++) got[(b * Cout + layer.activeMap[a]) * OH * OW + s] = yAct[(b * layer.nActive + a) * OH * OW + s];
    }
    assertClose(got, want, scale, `${label} (seed ${seed})`);
  };
  for (const ks of backends(heap)) {
    // im2col + the batched kernel per image, in one wasm call per image range.
    heap.f32(yp, B * layer.nActive * OH * OW).fill(NaN);
    ks.convCfi(L, g, B, xp, yp, convScratch);
    check(`convCfi ${ks.isa}`);
    if (N !== null) {
      heap.f32(yp, B * layer.nActive * OH * OW).fill(NaN);
      ks.convNm(N, g, B, xp, yp, convScratch);
      check(`convNm ${ks.isa}`);
    }
  }
}

test('condensed Conv2d (convCfi: im2col + batched kernel per image) equals a direct masked convolution', () => {
  // 4×3 outputs: lane tails only; 9×10: five 16-lane tiles and a 10-lane tail.
  convCase(7, { C: 3, H: 7, W: 6, kh: 3, kw: 3, stride: 2, pad: 1 }, 5, 2, 4);
  convCase(8, { C: 2, H: 9, W: 10, kh: 3, kw: 3, stride: 1, pad: 1 }, 6, 3, 7);
});

test('N:M Conv2d (convNm: groups of M input channels at each tap, partial last group) equals a direct masked convolution', () => {
  convCase(9, { C: 6, H: 7, W: 6, kh: 3, kw: 3, stride: 2, pad: 1 }, 5, 2, { n: 2, m: 4 });
  convCase(10, { C: 11, H: 9, W: 10, kh: 3, kw: 2, stride: 1, pad: 1 }, 6, 3, { n: 3, m: 8 });
});
