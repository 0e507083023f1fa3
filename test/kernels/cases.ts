// Randomized test cases for every op of the Kernels contract. A case holds its input data;
// `run` copies it into an engine's heap, calls the op and reads back every output, so the
// same case runs on a WebAssembly variant and on the reference and the results are compared.
import type { Kernels, Ptr } from '../../src/kernels/api.js';
import type { WasmHeap } from '../../src/kernels/memory.js';
import type { KernelOp } from '../../src/kernels/table.js';
import { Rng } from '../../src/tensor/rng.js';

type Data = Float32Array | Int32Array;

export interface CaseResult {
  outputs: Record<string, Data>;
  returned: unknown;
}

export interface Case {
  label: string;
  run(kernels: Kernels, heap: WasmHeap): CaseResult;
}

/**
 * @param buffers inputs (and output buffers with their initial contents)
 * @param outputs names of the buffers read back
 * @param alias buffer name → name of the buffer it shares memory with (in-place cases)
 */
function makeCase(
  label: string,
  buffers: Record<string, Data>,
  outputs: string[],
  call: (k: Kernels, p: Record<string, Ptr>) => unknown,
  alias: Record<string, string> = {},
): Case {
  return {
    label,
    run(kernels, heap) {
      const mark = heap.mark();
      const p: Record<string, Ptr> = {};
      for (const [name, data] of Object.entries(buffers)) {
        if (alias[name]) continue;
        p[name] = heap.alloc(Math.max(data.length, 1) * 4, 16);
        const view = data instanceof Int32Array ? heap.i32(p[name], data.length) : heap.f32(p[name], data.length);
        view.set(data);
      }
      for (const [name, target] of Object.entries(alias)) p[name] = p[target];
      const returned = call(kernels, p);
      const out: Record<string, Data> = {};
      for (const name of outputs) {
        const n = buffers[name].length;
        out[name] = buffers[name] instanceof Int32Array ? heap.i32(p[name], n).slice() : heap.f32(p[name], n).slice();
      }
      heap.release(mark);
      return { outputs: out, returned };
    },
  };
}

const normal = (rng: Rng, n: number, scale = 1, shift = 0): Float32Array =>
  Float32Array.from({ length: n }, () => shift + scale * rng.normal());
const positive = (rng: Rng, n: number): Float32Array => Float32Array.from({ length: n }, () => 0.1 + rng.uniform());

/** Lengths around the 4-lane vector and 8-column tile edges, plus primes. */
const LENGTHS = [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 97, 1000, 4099];

/** GEMM shapes [M, N, K] at register-tile (6×8), L1/L2 block (KC = NC = 256, MC = 72) edges and tiny sizes. */
const GEMM_SHAPES: readonly [number, number, number][] = [
  [1, 1, 1], [1, 1, 0], [2, 3, 1], [5, 7, 3], [6, 8, 4], [7, 9, 5], [12, 16, 17], [13, 17, 31],
  [1, 300, 64], [300, 1, 64], [73, 11, 257], [64, 257, 40], [37, 41, 43],
  // Large enough (≥ 2^18 multiply-adds) to be split over threads.
  [128, 100, 30], [97, 263, 31], [130, 70, 300],
];

function gemmCases(op: 'gemmNN' | 'gemmTN' | 'gemmNT', rng: Rng): Case[] {
  return GEMM_SHAPES.flatMap(([M, N, K]) => [false, true].map((acc) => makeCase(
    `M=${M} N=${N} K=${K} accumulate=${acc}`,
    { A: normal(rng, M * K), B: normal(rng, K * N), C: normal(rng, M * N) },
    ['C'],
    (k, p) => k[op](M, N, K, p.A, p.B, p.C, acc),
  )));
}

function unaryLengths(rng: Rng, build: (n: number) => Case[]): Case[] {
  return LENGTHS.flatMap(build).concat(build(1 + rng.int(500)));
}

/** Image shapes [C, H, W, kh, kw, stride, pad], including kernels larger than the padding allows a full sweep. */
const CONV_SHAPES: readonly number[][] = [
  [1, 1, 1, 1, 1, 1, 0], [1, 5, 5, 3, 3, 1, 1], [2, 7, 6, 3, 3, 2, 1], [3, 8, 8, 5, 5, 1, 2],
  [2, 9, 11, 3, 2, 2, 0], [1, 4, 4, 4, 4, 1, 0], [2, 6, 5, 1, 1, 1, 0], [1, 7, 7, 3, 3, 3, 2], [3, 13, 10, 3, 3, 1, 1],
];

/** Batched-conv shapes [B, C, H, W, kh, kw, stride, pad]: batch 1 and 3, stride 2, padding 0/1/2. */
const BATCH_CONV_SHAPES: readonly number[][] = [
  [1, 1, 5, 5, 3, 3, 1, 1], [3, 2, 7, 6, 3, 3, 2, 1], [3, 3, 8, 8, 5, 5, 1, 2], [2, 2, 9, 11, 3, 2, 2, 0],
  [3, 2, 6, 5, 1, 1, 1, 0], [3, 4, 5, 5, 1, 1, 2, 0], [1, 1, 7, 7, 3, 3, 3, 2],
];

function batchConvCases(rng: Rng, op: 'im2colBatch' | 'col2imBatch'): Case[] {
  return BATCH_CONV_SHAPES.map(([B, C, H, W, kh, kw, s, pad]) => {
    const OH = Math.floor((H + 2 * pad - kh) / s) + 1, OW = Math.floor((W + 2 * pad - kw) / s) + 1;
    const cols = C * kh * kw * B * OH * OW, image = B * C * H * W;
    const label = `B=${B} C=${C} H=${H} W=${W} k=${kh}x${kw} stride=${s} pad=${pad}`;
    return op === 'im2colBatch'
      ? makeCase(label, { X: normal(rng, image), col: normal(rng, cols) }, ['col'], (k, p) => k.im2colBatch(B, C, H, W, kh, kw, s, pad, p.X, p.col))
      : makeCase(label, { col: normal(rng, cols), dX: normal(rng, image) }, ['dX'], (k, p) => k.col2imBatch(B, C, H, W, kh, kw, s, pad, p.col, p.dX));
  });
}

/**
 * Row shapes [M, N] of the row-wise ops (layer norm, softmax): rows around the 4-lane steps,
 * attention's T = 65, and the last two large enough (≥ PARALLEL_MIN_ELEMENTS) to split.
 */
const ROW_SHAPES: readonly [number, number][] = [[1, 1], [1, 4], [3, 5], [2, 8], [7, 17], [5, 65], [130, 64], [260, 65]];

/** Case builders, one per op; the Record type makes a missing op a compile error. */
/**
 * Sparse row lists [rows, cols, n, fan-in]: fan-in k > 0 gives a constant fan-in with every
 * fifth row empty (ablated); k = 0 random counts per row (some rows empty, some full). Lane
 * counts around the 16- and 4-lane steps; the last shapes are large enough to split.
 */
const SPARSE_ROW_SHAPES: readonly [number, number, number, number][] = [
  [1, 1, 1, 1], [3, 5, 1, 0], [7, 13, 3, 2], [5, 9, 16, 0], [10, 20, 17, 4], [33, 40, 37, 0], [4, 6, 4, 6], [9, 31, 20, 0],
  [256, 512, 64, 64], [300, 784, 128, 0],
  // More lanes than one 256-lane block (a convolution's B·OH·OW), with tails.
  [7, 13, 300, 0], [20, 30, 530, 5],
];

interface SparseRowsCase { rows: number; cols: number; n: number; label: string; rowPtr: Int32Array; col: Int32Array }

function sparseRowLists(rng: Rng): SparseRowsCase[] {
  return SPARSE_ROW_SHAPES.map(([rows, cols, n, k]) => {
    const rowPtr = new Int32Array(rows + 1);
    const cols_: number[] = [];
    for (let j = 0; j < rows; j++) {
      const count = k > 0 ? (j % 5 === 4 ? 0 : k) : rng.uniform() < 0.15 ? 0 : rng.uniform() < 0.1 ? cols : 1 + rng.int(Math.max(1, Math.floor(cols / 4)));
      // `count` distinct columns, ascending.
      const pick = Array.from({ length: cols }, (_, i) => i);
      for (let i = 0; i < count; i++) {
        const r = i + rng.int(cols - i);
        [pick[i], pick[r]] = [pick[r], pick[i]];
      }
      cols_.push(...pick.slice(0, count).sort((a, b) => a - b));
      rowPtr[j + 1] = cols_.length;
    }
    return { rows, cols, n, label: `rows=${rows} cols=${cols} n=${n} ${k > 0 ? `k=${k}` : 'random fan-in'} nnz=${cols_.length}`, rowPtr, col: Int32Array.from(cols_) };
  });
}

/** The CSC lists of a CSR row list over a [rows, cols] weight (element index j·cols + i). */
function transposeLists(rows: number, cols: number, rowPtr: Int32Array, col: Int32Array): { colPtr: Int32Array; rowIdx: Int32Array; wPos: Int32Array } {
  const colPtr = new Int32Array(cols + 1), rowIdx = new Int32Array(col.length), wPos = new Int32Array(col.length);
  for (const c of col) colPtr[c + 1]++;
  for (let i = 0; i < cols; i++) colPtr[i + 1] += colPtr[i];
  const fill = colPtr.slice(0, cols);
  for (let j = 0; j < rows; j++) for (let t = rowPtr[j]; t < rowPtr[j + 1]; t++) { const c = col[t]; rowIdx[fill[c]] = j; wPos[fill[c]++] = t; }
  return { colPtr, rowIdx, wPos };
}

export const CASES: Record<KernelOp, (rng: Rng) => Case[]> = {
  gemmNN: (rng) => gemmCases('gemmNN', rng),
  gemmTN: (rng) => gemmCases('gemmTN', rng),
  gemmNT: (rng) => gemmCases('gemmNT', rng),
  addBiasRows: (rng) => [[1, 1], [3, 7], [5, 16], [17, 33]].map(([M, N]) => makeCase(
    `M=${M} N=${N}`, { Y: normal(rng, M * N), b: normal(rng, N) }, ['Y'], (k, p) => k.addBiasRows(M, N, p.Y, p.b))),
  addBiasChannels: (rng) => [[1, 1, 1], [2, 3, 5], [3, 4, 16], [2, 5, 49]].map(([B, C, S]) => makeCase(
    `B=${B} C=${C} S=${S}`, { Y: normal(rng, B * C * S), b: normal(rng, C) }, ['Y'], (k, p) => k.addBiasChannels(B, C, S, p.Y, p.b))),
  sumRows: (rng) => [[1, 1], [3, 7], [5, 16], [130, 33]].flatMap(([M, N]) => [false, true].map((acc) => makeCase(
    `M=${M} N=${N} accumulate=${acc}`, { X: normal(rng, M * N), o: normal(rng, N) }, ['o'], (k, p) => k.sumRows(M, N, p.X, p.o, acc)))),
  sumChannels: (rng) => [[1, 1, 1], [2, 3, 5], [3, 4, 16], [8, 5, 49]].flatMap(([B, C, S]) => [false, true].map((acc) => makeCase(
    `B=${B} C=${C} S=${S} accumulate=${acc}`, { X: normal(rng, B * C * S), o: normal(rng, C) }, ['o'], (k, p) => k.sumChannels(B, C, S, p.X, p.o, acc)))),
  reluForward: (rng) => unaryLengths(rng, (n) => [
    makeCase(`n=${n}`, { X: normal(rng, n), Y: normal(rng, n) }, ['Y'], (k, p) => k.reluForward(n, p.X, p.Y)),
    makeCase(`n=${n} in place`, { X: normal(rng, n), Y: new Float32Array(n) }, ['X'], (k, p) => k.reluForward(n, p.X, p.Y), { Y: 'X' }),
  ]),
  reluBackward: (rng) => unaryLengths(rng, (n) => {
    const Y = normal(rng, n).map((v) => Math.max(v, 0));
    return [
      makeCase(`n=${n}`, { Y, dY: normal(rng, n), dX: normal(rng, n) }, ['dX'], (k, p) => k.reluBackward(n, p.Y, p.dY, p.dX)),
      makeCase(`n=${n} dX aliases dY`, { Y, dY: normal(rng, n), dX: new Float32Array(n) }, ['dY'], (k, p) => k.reluBackward(n, p.Y, p.dY, p.dX), { dX: 'dY' }),
    ];
  }),
  add: (rng) => unaryLengths(rng, (n) => [
    makeCase(`n=${n}`, { A: normal(rng, n), B: normal(rng, n), Y: normal(rng, n) }, ['Y'], (k, p) => k.add(n, p.A, p.B, p.Y)),
    makeCase(`n=${n} Y aliases A`, { A: normal(rng, n), B: normal(rng, n), Y: new Float32Array(n) }, ['A'], (k, p) => k.add(n, p.A, p.B, p.Y), { Y: 'A' }),
    makeCase(`n=${n} Y aliases B`, { A: normal(rng, n), B: normal(rng, n), Y: new Float32Array(n) }, ['B'], (k, p) => k.add(n, p.A, p.B, p.Y), { Y: 'B' }),
  ]),
  mul: (rng) => unaryLengths(rng, (n) => [
    makeCase(`n=${n}`, { A: normal(rng, n), B: normal(rng, n), Y: normal(rng, n) }, ['Y'], (k, p) => k.mul(n, p.A, p.B, p.Y)),
    makeCase(`n=${n} Y aliases A`, { A: normal(rng, n), B: normal(rng, n), Y: new Float32Array(n) }, ['A'], (k, p) => k.mul(n, p.A, p.B, p.Y), { Y: 'A' }),
    makeCase(`n=${n} Y aliases B`, { A: normal(rng, n), B: normal(rng, n), Y: new Float32Array(n) }, ['B'], (k, p) => k.mul(n, p.A, p.B, p.Y), { Y: 'B' }),
  ]),
  scale: (rng) => unaryLengths(rng, (n) => {
    const alpha = rng.normal();
    return [makeCase(`n=${n} alpha=${alpha.toFixed(3)}`, { X: normal(rng, n) }, ['X'], (k, p) => k.scale(n, p.X, alpha))];
  }),
  copy: (rng) => unaryLengths(rng, (n) => [makeCase(`n=${n}`, { s: normal(rng, n), d: normal(rng, n + 1) }, ['d'], (k, p) => k.copy(n, p.s, p.d))]),
  fill: (rng) => unaryLengths(rng, (n) => {
    const v = rng.normal();
    return [makeCase(`n=${n}`, { d: normal(rng, n + 1) }, ['d'], (k, p) => k.fill(n, p.d, v))];
  }),
  sumSquares: (rng) => unaryLengths(rng, (n) => [makeCase(`n=${n}`, { X: normal(rng, n) }, [], (k, p) => k.sumSquares(n, p.X))]),
  layerNormForward: (rng) => ROW_SHAPES.map(([M, N]) => makeCase(
    `M=${M} N=${N}`,
    { X: normal(rng, M * N, 2, 3), g: normal(rng, N), b: normal(rng, N), Y: normal(rng, M * N), mean: normal(rng, M), is: normal(rng, M) },
    ['Y', 'mean', 'is'], (k, p) => k.layerNormForward(M, N, p.X, p.g, p.b, p.Y, p.mean, p.is, 1e-5))),
  // Not N = 1: there dX is exactly 0 in exact arithmetic and both sides return rounding noise.
  layerNormBackward: (rng) => ROW_SHAPES.filter(([, N]) => N > 1).map(([M, N]) => {
    const X = normal(rng, M * N, 2, 3);
    // Consistent statistics, as the forward pass would have produced them.
    const mean = new Float32Array(M), is = new Float32Array(M);
    for (let m = 0; m < M; m++) {
      const row = X.subarray(m * N, (m + 1) * N);
      const mu = row.reduce((a, v) => a + v, 0) / N;
      mean[m] = mu;
      is[m] = 1 / Math.sqrt(row.reduce((a, v) => a + (v - mu) ** 2, 0) / N + 1e-5);
    }
    return makeCase(`M=${M} N=${N}`,
      { X, dY: normal(rng, M * N), g: normal(rng, N), mean, is, dX: normal(rng, M * N), dG: normal(rng, N), dB: normal(rng, N) },
      ['dX', 'dG', 'dB'], (k, p) => k.layerNormBackward(M, N, p.X, p.dY, p.g, p.mean, p.is, p.dX, p.dG, p.dB));
  }),
  // Inputs spread over ±12 reach both tails of Φ (and exp's clamp) as well as the middle.
  geluForward: (rng) => unaryLengths(rng, (n) => [
    makeCase(`n=${n}`, { X: normal(rng, n, 3), Y: normal(rng, n) }, ['Y'], (k, p) => k.geluForward(n, p.X, p.Y)),
    makeCase(`n=${n} in place`, { X: normal(rng, n, 3), Y: new Float32Array(n) }, ['X'], (k, p) => k.geluForward(n, p.X, p.Y), { Y: 'X' }),
  ]).concat(makeCase('x in ±12, ±0', { X: Float32Array.from({ length: 99 }, (_, i) => (i - 49) / 4), Y: new Float32Array(99) }, ['Y'],
    (k, p) => k.geluForward(99, p.X, p.Y))),
  geluBackward: (rng) => unaryLengths(rng, (n) => [
    makeCase(`n=${n}`, { X: normal(rng, n, 3), dY: normal(rng, n), dX: normal(rng, n) }, ['dX'], (k, p) => k.geluBackward(n, p.X, p.dY, p.dX)),
    makeCase(`n=${n} dX aliases dY`, { X: normal(rng, n, 3), dY: normal(rng, n), dX: new Float32Array(n) }, ['dY'],
      (k, p) => k.geluBackward(n, p.X, p.dY, p.dX), { dX: 'dY' }),
  ]),
  // Scores up to ±30 after scaling (a row whose maximum dominates), negative alpha, in place.
  softmaxRows: (rng) => ROW_SHAPES.flatMap(([M, N]) => [0.125, 1, -2].flatMap((alpha) => [
    makeCase(`M=${M} N=${N} alpha=${alpha}`, { X: normal(rng, M * N, 15), Y: normal(rng, M * N) }, ['Y'], (k, p) => k.softmaxRows(M, N, alpha, p.X, p.Y)),
    makeCase(`M=${M} N=${N} alpha=${alpha} in place`, { X: normal(rng, M * N, 3), Y: new Float32Array(M * N) }, ['X'],
      (k, p) => k.softmaxRows(M, N, alpha, p.X, p.Y), { Y: 'X' }),
  ])),
  softmaxRowsBackward: (rng) => ROW_SHAPES.flatMap(([M, N]) => [0.125, -2].flatMap((alpha) => {
    // A softmax output: positive rows summing to 1.
    const Y = Float32Array.from({ length: M * N }, () => Math.exp(2 * rng.normal()));
    for (let m = 0; m < M; m++) {
      const row = Y.subarray(m * N, (m + 1) * N);
      const s = row.reduce((a, v) => a + v, 0);
      row.forEach((v, j) => (row[j] = v / s));
    }
    return [
      makeCase(`M=${M} N=${N} alpha=${alpha}`, { Y, dY: normal(rng, M * N), dX: normal(rng, M * N) }, ['dX'],
        (k, p) => k.softmaxRowsBackward(M, N, alpha, p.Y, p.dY, p.dX)),
      makeCase(`M=${M} N=${N} alpha=${alpha} dX aliases dY`, { Y, dY: normal(rng, M * N), dX: new Float32Array(M * N) }, ['dY'],
        (k, p) => k.softmaxRowsBackward(M, N, alpha, p.Y, p.dY, p.dX), { dX: 'dY' }),
    ];
  })),
  im2col: (rng) => CONV_SHAPES.map(([C, H, W, kh, kw, s, pad]) => {
    const OH = Math.floor((H + 2 * pad - kh) / s) + 1, OW = Math.floor((W + 2 * pad - kw) / s) + 1;
    return makeCase(`C=${C} H=${H} W=${W} k=${kh}x${kw} stride=${s} pad=${pad}`,
      { X: normal(rng, C * H * W), col: normal(rng, C * kh * kw * OH * OW) }, ['col'],
      (k, p) => k.im2col(C, H, W, kh, kw, s, pad, p.X, p.col));
  }),
  col2im: (rng) => CONV_SHAPES.map(([C, H, W, kh, kw, s, pad]) => {
    const OH = Math.floor((H + 2 * pad - kh) / s) + 1, OW = Math.floor((W + 2 * pad - kw) / s) + 1;
    return makeCase(`C=${C} H=${H} W=${W} k=${kh}x${kw} stride=${s} pad=${pad}`,
      { col: normal(rng, C * kh * kw * OH * OW), dX: normal(rng, C * H * W) }, ['dX'],
      (k, p) => k.col2im(C, H, W, kh, kw, s, pad, p.col, p.dX));
  }),
  maxPoolForward: (rng) => {
    // 2×2 stride-2 shapes with OW ≥ 4 run the vector path (four windows at a time) plus a tail.
    const shapes = [[1, 2, 2, 2, 2], [3, 7, 7, 2, 2], [2, 9, 8, 3, 2], [4, 6, 6, 3, 3], [1, 5, 5, 1, 1], [3, 28, 28, 2, 2], [2, 9, 19, 2, 2], [2, 8, 8, 2, 2]];
    const cases = shapes.map(([P, H, W, kk, s]) => {
      const OH = Math.floor((H - kk) / s) + 1, OW = Math.floor((W - kk) / s) + 1;
      return makeCase(`P=${P} H=${H} W=${W} k=${kk} stride=${s}`,
        { X: normal(rng, P * H * W), Y: normal(rng, P * OH * OW), am: new Int32Array(P * OH * OW) }, ['Y', 'am'],
        (k, p) => k.maxPoolForward(P, H, W, kk, s, p.X, p.Y, p.am));
    });
    // Ties (the first maximum in window order wins), NaNs (the first NaN wins) and -∞. Only the
    // arg-max is compared (exactly; it determines Y): a NaN in Y defeats the rms tolerance.
    for (const [P, H, W, kk, s] of [[2, 8, 16, 2, 2], [1, 7, 9, 3, 2]]) {
      const OH = Math.floor((H - kk) / s) + 1, OW = Math.floor((W - kk) / s) + 1;
      const X = Float32Array.from({ length: P * H * W }, () => {
        const u = rng.uniform();
        return u < 0.1 ? NaN : u < 0.15 ? -Infinity : rng.int(3);
      });
      cases.push(makeCase(`P=${P} H=${H} W=${W} k=${kk} stride=${s} ties, NaN, -inf`,
        { X, Y: normal(rng, P * OH * OW), am: new Int32Array(P * OH * OW) }, ['am'],
        (k, p) => k.maxPoolForward(P, H, W, kk, s, p.X, p.Y, p.am)));
    }
    return cases;
  },
  maxPoolBackward: (rng) => [[1, 2, 2, 2, 2], [3, 7, 7, 2, 2], [2, 9, 8, 3, 2], [4, 6, 6, 3, 1]].map(([P, H, W, kk, s]) => {
    const OH = Math.floor((H - kk) / s) + 1, OW = Math.floor((W - kk) / s) + 1;
    // Arg-max indices inside each window (overlapping windows may pick the same input).
    const am = new Int32Array(P * OH * OW);
    for (let o = 0; o < am.length; o++) {
      const oy = Math.floor((o % (OH * OW)) / OW), ox = o % OW;
      am[o] = (oy * s + rng.int(kk)) * W + ox * s + rng.int(kk);
    }
    return makeCase(`P=${P} H=${H} W=${W} k=${kk} stride=${s}`,
      { dY: normal(rng, P * OH * OW), am, dX: normal(rng, P * H * W) }, ['dX'],
      (k, p) => k.maxPoolBackward(P, H, W, kk, s, p.dY, p.am, p.dX));
  }),
  globalAvgPoolForward: (rng) => [[1, 1], [3, 7], [4, 16], [5, 49]].map(([P, S]) => makeCase(
    `P=${P} S=${S}`, { X: normal(rng, P * S), Y: normal(rng, P) }, ['Y'], (k, p) => k.globalAvgPoolForward(P, S, p.X, p.Y))),
  globalAvgPoolBackward: (rng) => [[1, 1], [3, 7], [4, 16], [5, 49]].map(([P, S]) => makeCase(
    `P=${P} S=${S}`, { dY: normal(rng, P), dX: normal(rng, P * S) }, ['dX'], (k, p) => k.globalAvgPoolBackward(P, S, p.dY, p.dX))),
  batchNormTrainForward: (rng) => [[1, 1, 2], [2, 3, 1], [4, 3, 7], [8, 5, 16], [3, 2, 49]].map(([B, C, S]) => makeCase(
    `B=${B} C=${C} S=${S}`,
    { X: normal(rng, B * C * S, 2, 3), g: normal(rng, C), b: normal(rng, C), Y: new Float32Array(B * C * S), mean: new Float32Array(C),
      is: new Float32Array(C), rm: normal(rng, C), rv: positive(rng, C) },
    ['Y', 'mean', 'is', 'rm', 'rv'],
    (k, p) => k.batchNormTrainForward(B, C, S, p.X, p.g, p.b, p.Y, p.mean, p.is, p.rm, p.rv, 0.1, 1e-5))),
  batchNormEvalForward: (rng) => [[1, 1, 2], [2, 3, 1], [4, 3, 7], [3, 2, 49]].map(([B, C, S]) => makeCase(
    `B=${B} C=${C} S=${S}`,
    { X: normal(rng, B * C * S), g: normal(rng, C), b: normal(rng, C), rm: normal(rng, C), rv: positive(rng, C), Y: new Float32Array(B * C * S) },
    ['Y'], (k, p) => k.batchNormEvalForward(B, C, S, p.X, p.g, p.b, p.rm, p.rv, 1e-5, p.Y))),
  // Not B·S = 2: there dX is exactly 0 in exact arithmetic and both sides return rounding noise.
  batchNormBackward: (rng) => [[1, 1, 5], [3, 3, 1], [4, 3, 7], [8, 5, 16], [3, 2, 49]].map(([B, C, S]) => {
    const X = normal(rng, B * C * S, 2, 3);
    // Consistent statistics, as the forward pass would have produced them.
    const mean = new Float32Array(C), is = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      let s = 0, q = 0;
      for (let n = 0; n < B; n++) for (let i = 0; i < S; i++) s += X[(n * C + c) * S + i];
      const mu = s / (B * S);
      for (let n = 0; n < B; n++) for (let i = 0; i < S; i++) q += (X[(n * C + c) * S + i] - mu) ** 2;
      mean[c] = mu;
      is[c] = 1 / Math.sqrt(q / (B * S) + 1e-5);
    }
    return makeCase(`B=${B} C=${C} S=${S}`,
      { X, dY: normal(rng, B * C * S), g: normal(rng, C), mean, is, dX: normal(rng, B * C * S), dG: normal(rng, C), dB: normal(rng, C) },
      ['dX', 'dG', 'dB'], (k, p) => k.batchNormBackward(B, C, S, p.X, p.dY, p.g, p.mean, p.is, p.dX, p.dG, p.dB));
  }),
  softmaxCrossEntropy: (rng) => [[1, 1], [1, 10], [5, 3], [128, 10], [7, 100]].flatMap(([B, C]) => [0, 0.1].map((eps) => makeCase(
    `B=${B} C=${C} smoothing=${eps}`,
    { z: normal(rng, B * C, 3), y: Int32Array.from({ length: B }, () => rng.int(C)), d: normal(rng, B * C) },
    ['d'], (k, p) => k.softmaxCrossEntropy(B, C, p.z, p.y, eps, p.d)))),
  sgdStep: (rng) => unaryLengths(rng, (n) => [false, true].map((nesterov) => makeCase(
    `n=${n} nesterov=${nesterov}`, { W: normal(rng, n), G: normal(rng, n), M: normal(rng, n) }, ['W', 'M'],
    (k, p) => k.sgdStep(n, p.W, p.G, p.M, 0.05, 0.9, 5e-4, nesterov)))),
  adamwStep: (rng) => unaryLengths(rng, (n) => {
    const t = 1 + rng.int(50);
    return [makeCase(`n=${n} t=${t}`,
      { W: normal(rng, n), G: normal(rng, n), m: normal(rng, n, 0.1), v: positive(rng, n) }, ['W', 'm', 'v'],
      (k, p) => k.adamwStep(n, p.W, p.G, p.m, p.v, 1e-3, 0.9, 0.999, 1e-8, 0.01, 1 - 0.9 ** t, 1 - 0.999 ** t))];
  }),
  im2colBatch: (rng) => batchConvCases(rng, 'im2colBatch'),
  col2imBatch: (rng) => batchConvCases(rng, 'col2imBatch'),
  swapAxes: (rng) => [[1, 1, 1], [2, 3, 5], [3, 1, 4], [4, 7, 49], [5, 2, 1], [17, 33, 1], [128, 784, 1], [300, 129, 1]].map(([A, B, S]) => makeCase(
    `A=${A} B=${B} S=${S}`, { X: normal(rng, A * B * S), Y: normal(rng, A * B * S) }, ['Y'], (k, p) => k.swapAxes(A, B, S, p.X, p.Y))),
  sparseRowsForward: (rng) => sparseRowLists(rng).map(({ rows, cols, n, label, rowPtr, col }) => makeCase(label,
    { rowPtr, col, W: normal(rng, col.length + 3), xT: normal(rng, cols * n), yT: normal(rng, rows * n) }, ['yT'],
    (k, p) => k.sparseRowsForward(rows, n, p.rowPtr, p.col, p.W, p.xT, p.yT))),
  sparseRowsWeightGrad: (rng) => sparseRowLists(rng).map(({ rows, cols, n, label, rowPtr, col }) => makeCase(label,
    { rowPtr, col, G: normal(rng, col.length + 3), dyT: normal(rng, rows * n), xT: normal(rng, cols * n) }, ['G'],
    (k, p) => k.sparseRowsWeightGrad(rows, n, p.rowPtr, p.col, p.G, p.dyT, p.xT))),
  sparseColsInputGrad: (rng) => sparseRowLists(rng).map(({ rows, cols, n, label, rowPtr, col }) => {
    const { colPtr, rowIdx, wPos } = transposeLists(rows, cols, rowPtr, col);
    return makeCase(label, { colPtr, rowIdx, wPos, W: normal(rng, col.length + 1), dyT: normal(rng, rows * n), dxT: normal(rng, cols * n) }, ['dxT'],
      (k, p) => k.sparseColsInputGrad(cols, n, p.colPtr, p.rowIdx, p.wPos, p.W, p.dyT, p.dxT));
  }),
};

/** Cases for one op from a fixed seed (so every variant of the op sees the same data). */
export function casesFor(op: KernelOp, seed: number): Case[] {
  return CASES[op](new Rng(seed));
}
