/**
 * Sparse inference kernels over the shared WebAssembly memory: constant-fan-in ("condensed")
 * layers, the CSR baseline, and a dense baseline in the same layouts, each with a plain
 * TypeScript reference that is its test oracle.
 *
 * Layouts: batch 1 takes x [in] and writes y [rows]; batched kernels take batch-contiguous
 * activations Xᵀ [in, n] and write Yᵀ [rows, n] (one row's n batch values contiguous). Every
 * kernel computes the output rows [r0, r1) only, so a thread pool can split rows.
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Ptr } from './api.js';

/** A constant-fan-in layer in wasm memory: rows × k values and indices (u16 or u32), bias [rows]. */
export interface CondensedView {
  readonly rows: number;
  /** Input features (rows of Xᵀ). */
  readonly cols: number;
  readonly k: number;
  readonly indexBits: 16 | 32;
  readonly values: Ptr;
  readonly indices: Ptr;
  readonly bias: Ptr;
}

/**
 * An N:M condensed layer in wasm memory (src/sparse/condensed/layer.ts): rows × k values and u8
 * offsets within groups, in group order; bias [rows]; `groupBase` i32 [k], the column where the
 * group of each weight position starts (shared by all rows). Weight j of a row reads column
 * groupBase[j] + offset·nm.taps.
 */
export interface CondensedNMView {
  readonly rows: number;
  /** Input features (rows of Xᵀ). */
  readonly cols: number;
  readonly k: number;
  /** N of every M; taps = the column distance between members of a group (1 for Linear, kh·kw for Conv2d). */
  readonly nm: { readonly n: number; readonly m: number; readonly taps: number };
  readonly values: Ptr;
  readonly offsets: Ptr;
  readonly groupBase: Ptr;
  readonly bias: Ptr;
}

/** A CSR matrix in wasm memory: rowPtr u32 [rows+1], colIdx (u16 or u32) and values [nnz], bias [rows]. */
export interface CsrView {
  readonly rows: number;
  readonly cols: number;
  readonly indexBits: 16 | 32;
  readonly rowPtr: Ptr;
  readonly colIdx: Ptr;
  readonly values: Ptr;
  readonly bias: Ptr;
}

/** A dense layer in wasm memory: W [rows, cols] row-major, bias [rows]. */
export interface DenseView {
  readonly rows: number;
  readonly cols: number;
  readonly W: Ptr;
  readonly bias: Ptr;
}

/** Batch-1 tiles: weights per SIMD step of one row (4 = one accumulator, 8 = two). */
export type SpmvTile = '1x4' | '1x8';
/** Batched register tiles: rows × batch lanes. */
export type SpmmTile = '1x16' | '2x16';

export type SparseIsa = 'reference' | 'scalar' | 'simd128' | 'relaxed';

/** The sparse and dense inference kernels of one backend, bound to one memory. */
export interface SparseKernels {
  readonly isa: SparseIsa;
  /** y[r] = bias[r] + Σ_j values[r,j]·x[indices[r,j]] for r in [r0, r1). */
  spmvCfi(tile: SpmvTile, L: CondensedView, x: Ptr, y: Ptr, r0?: number, r1?: number): void;
  /**
   * Yᵀ[r,:] = bias[r] + Σ_j values[r,j]·Xᵀ[indices[r,j],:] for r in [r0, r1), batch n.
   * `scratch` holds spmmScratchBytes(L.cols, n) bytes, used by this call alone (every thread of
   * a row split reads the panels packed there once, on the calling thread).
   */
  spmmCfi(tile: SpmmTile, L: CondensedView, n: number, xT: Ptr, yT: Ptr, scratch: Ptr, r0?: number, r1?: number): void;
  /** N:M layer, batch 1: y[r] = bias[r] + Σ_g Σ_{j<quota} values[r, ·]·x[base(g) + offset·taps] for r in [r0, r1). */
  spmvNm(L: CondensedNMView, x: Ptr, y: Ptr, r0?: number, r1?: number): void;
  /** N:M layer, batched (as spmmCfi's 1x16 tile; `scratch` holds spmmScratchBytes(L.cols, n) bytes). */
  spmmNm(L: CondensedNMView, n: number, xT: Ptr, yT: Ptr, scratch: Ptr, r0?: number, r1?: number): void;
  spmvCsr(L: CsrView, x: Ptr, y: Ptr, r0?: number, r1?: number): void;
  spmmCsr(L: CsrView, n: number, xT: Ptr, yT: Ptr, scratch: Ptr, r0?: number, r1?: number): void;
  /** y = W·x + bias (the dense baseline). */
  denseGemv(L: DenseView, x: Ptr, y: Ptr, r0?: number, r1?: number): void;
  /** Yᵀ = W·Xᵀ + bias (the dense baseline). */
  denseGemm(L: DenseView, n: number, xT: Ptr, yT: Ptr, r0?: number, r1?: number): void;
  /** dst[c, r] = src[r, c] for src [rows, cols]: batch-major [B, F] ⇄ batch-contiguous [F, B]. */
  transpose(rows: number, cols: number, src: Ptr, dst: Ptr): void;
  /** Σ of n floats at p, streamed: the benchmark's read-bandwidth probe. */
  readSum(n: number, p: Ptr): number;
  /**
   * Condensed Conv2d forward over B images: X [B, C, H, W] → Y [B, rows, OH, OW] (the active
   * channels), per image im2col then the batched kernel over OH·OW lanes. `scratch` holds
   * convScratchBytes(L.cols, OH·OW, threads) bytes. With a thread pool, images split over the
   * threads (each with its own columns); results are bit-identical to one thread.
   */
  convCfi(L: CondensedView, g: ConvGeometry, B: number, X: Ptr, Y: Ptr, scratch: Ptr): void;
  /** The same for an N:M layer (L.nm.taps = g.kh·g.kw). */
  convNm(L: CondensedNMView, g: ConvGeometry, B: number, X: Ptr, Y: Ptr, scratch: Ptr): void;
}

const SPARSE_KERNELS = [
  { name: 'spmv_cfi_f32_1x4', op: 'spmvCfi', tile: '1x4' },
  { name: 'spmv_cfi_f32_1x8', op: 'spmvCfi', tile: '1x8' },
  { name: 'spmm_cfi_f32_1x16', op: 'spmmCfi', tile: '1x16' },
  { name: 'spmm_cfi_f32_2x16', op: 'spmmCfi', tile: '2x16' },
  { name: 'spmv_nm_f32_1x8', op: 'spmvNm', tile: '1x8' },
  { name: 'spmm_nm_f32_1x16', op: 'spmmNm', tile: '1x16' },
  { name: 'spmv_csr_f32_1x8', op: 'spmvCsr', tile: '1x8' },
  { name: 'spmm_csr_f32_1x16', op: 'spmmCsr', tile: '1x16' },
  { name: 'dense_gemv_f32_4x4', op: 'denseGemv', tile: '4x4' },
  { name: 'dense_gemm_f32_4x8', op: 'denseGemm', tile: '4x8' },
] as const;

/**
 * Every kernel variant, named what-then-how (`__x2`: rows split over two threads through a
 * RowRunner, bit-identical to one thread): tests and the benchmark iterate over this list.
 */
export const SPARSE_VARIANTS = SPARSE_KERNELS.flatMap((v) => [
  { ...v, threads: 1 as const },
  { ...v, name: `${v.name}__x2`, threads: 2 as const },
]);

type Fn = (...args: number[]) => void;

/**
 * Scratch bytes a batched sparse kernel call over Xᵀ [cols, n] needs: every full 16-lane tile of
 * Xᵀ packed as a contiguous [cols, 16] panel (cols · 64 bytes each), whatever the thread count.
 */
export function spmmScratchBytes(cols: number, n: number): number {
  return Math.max(64, cols * 64 * Math.floor(n / 16));
}

/**
 * Scratch bytes of SparseKernels.convCfi for a layer of `cols` = C·kh·kw inputs and S = OH·OW
 * output positions on `threads` threads: the geometry, then per thread its im2col columns and
 * their packed 16-lane panels.
 */
export function convScratchBytes(cols: number, S: number, threads: number): number {
  return 64 + threads * convThreadBytes(cols, S);
}
function convThreadBytes(cols: number, S: number): number {
  return Math.ceil((cols * S * 4) / 64) * 64 + spmmScratchBytes(cols, S) + 64;
}

/**
 * Runs a row-splittable export `name(r0, r1, ...args)` over a row range on several threads
 * (ThreadPool.rows, with the engine's own module instances): rows go out in units claimed dynamically, each row
 * computed by exactly one thread with the same code, so results are bit-identical to one thread.
 * With `scratch`, thread t gets `base + t·stride` as argument `arg` (its own scratch area).
 */
export interface RowRunner {
  readonly threads: number;
  /** Whether the other threads sleep (waking them costs more than small jobs gain). */
  asleep(): boolean;
  /** Calls `name(a, b, ...args)` for units [a, b) of `unitRows` rows covering [r0, r1); `scratch.arg` indexes `args`. */
  rows(name: string, r0: number, r1: number, unitRows: number, args: readonly number[], scratch?: { arg: number; base: number; stride: number }): void;
}

/**
 * Binds the exports of one srigl wasm module (any ISA level) to the SparseKernels interface.
 * With a `runner` every row-splittable kernel splits its rows [r0, r1) over the runner's
 * threads; the spmm kernels first pack Xᵀ into `scratch` on the calling thread (spmmScratchBytes(cols, n)).
 * The runner calls exports of its engine's module by name, so that engine must run the same
 * ISA level as `isa`.
 */
export function bindSparseKernels(
  exports: WebAssembly.Exports, isa: Exclude<SparseIsa, 'reference'>, runner: RowRunner | null = null, memory: WebAssembly.Memory | null = null,
): SparseKernels {
  const fn = (name: string): Fn => {
    const f = exports[name];
    if (typeof f !== 'function') throw new Error(`wasm module (${isa}) lacks export ${name}`);
    return f as Fn;
  };
  /** Calls `name(r0, r1, ...args)` here, or splits [r0, r1) over the runner's threads. */
  const call = (name: string, r0: number, r1: number, args: number[]): void => {
    const rows = r1 - r0;
    if (runner === null || rows < 2) {
      fn(name)(r0, r1, ...args);
      return;
    }
    // About four units per thread (a late or descheduled thread takes fewer), in whole 4-row
    // blocks so the dense kernels' row tiles, and so every row's arithmetic, match one thread.
    const unit = 4 * Math.ceil(rows / (16 * runner.threads));
    runner.rows(name, r0, r1, unit, args);
  };
  const bits = (L: { indexBits: 16 | 32 }) => (L.indexBits === 16 ? 'u16' : 'u32');
  const pack = fn('pack_panels16_f32');
  const laneUnits = fn('spmm_lane_units') as unknown as (n: number) => number;
  /**
   * A batched kernel `name(r0, r1, ...args)` (and its `${name}_lanes(u0, u1, r0, r1, ...args)`).
   * With a runner and at least two 16-lane tiles per thread the threads split the lane units:
   * each packs and reads only its own panels and streams all the weights. Otherwise Xᵀ's tiles
   * are packed into `scratch` once, here, and the threads (if any) split rows, every unit reading
   * every panel: for small batches the only split there is.
   */
  const batched = (name: string, r0: number, r1: number, n: number, cols: number, xT: number, scratch: number, args: number[]): void => {
    if (r1 <= r0 || n <= 0) return;
    if (runner !== null && Math.floor(n / 16) >= 2 * runner.threads) {
      // Each lane unit packs its own panel (no serial copy before the split).
      runner.rows(`${name}_lanes`, 0, laneUnits(n), 1, [r0, r1, ...args]);
      return;
    }
    pack(cols, n, xT, scratch);
    call(name, r0, r1, args);
  };
  for (const b of ['u16', 'u32']) {
    for (const n of [`spmv_cfi_f32_${b}_1x4`, `spmv_cfi_f32_${b}_1x8`, `spmm_cfi_f32_${b}_1x16`, `spmm_cfi_f32_${b}_2x16`, `spmv_csr_f32_${b}_1x8`, `spmm_csr_f32_${b}_1x16`]) {
      fn(n);
      if (n.startsWith('spmm')) fn(`${n}_lanes`);
    }
  }
  fn('spmv_nm_f32_1x8');
  fn('spmm_nm_f32_1x16');
  fn('spmm_nm_f32_1x16_lanes');
  fn('conv_nm_f32_images');
  fn('dense_gemv_f32_4x4');
  fn('dense_gemm_f32_4x8');
  fn('conv_cfi_f32_u16_images');
  fn('conv_cfi_f32_u32_images');
  /**
   * A convolution `name(b0, b1, geom, ...args, scratch)` over images [0, B): the geometry goes to
   * the start of `scratch`, each thread's columns after it (images split over the threads).
   */
  const conv = (name: string, cols: number, g: ConvGeometry, B: number, scratch: number, args: number[]): void => {
    if (B <= 0) return;
    if (memory === null) throw new Error('convCfi/convNm: bindSparseKernels was given no memory (the geometry is written there)');
    new Int32Array(memory.buffer, scratch, 7).set([g.C, g.H, g.W, g.kh, g.kw, g.stride, g.pad]);
    const { OH, OW } = convOutputSize(g);
    const all = [scratch, ...args, scratch + 64];
    if (runner === null || B < 2) fn(name)(0, B, ...all);
    else runner.rows(name, 0, B, 1, all, { arg: all.length - 1, base: scratch + 64, stride: convThreadBytes(cols, OH * OW) });
  };
  const transpose = fn('transpose_f32');
  const read = fn('read_f32') as unknown as (n: number, p: number) => number;
  return {
    isa,
    spmvCfi: (tile, L, x, y, r0 = 0, r1 = L.rows) => call(`spmv_cfi_f32_${bits(L)}_${tile}`, r0, r1, [L.k, L.values, L.indices, L.bias, x, y]),
    spmmCfi: (tile, L, n, xT, yT, scratch, r0 = 0, r1 = L.rows) =>
      batched(`spmm_cfi_f32_${bits(L)}_${tile}`, r0, r1, n, L.cols, xT, scratch, [L.k, L.cols, n, L.values, L.indices, L.bias, xT, yT, scratch]),
    spmvNm: (L, x, y, r0 = 0, r1 = L.rows) => call('spmv_nm_f32_1x8', r0, r1, [L.k, L.nm.n, L.nm.m, L.nm.taps, L.cols, L.values, L.offsets, L.groupBase, L.bias, x, y]),
    spmmNm: (L, n, xT, yT, scratch, r0 = 0, r1 = L.rows) =>
      batched('spmm_nm_f32_1x16', r0, r1, n, L.cols, xT, scratch, [L.k, L.nm.n, L.nm.m, L.nm.taps, L.cols, n, L.values, L.offsets, L.groupBase, L.bias, xT, yT, scratch]),
    spmvCsr: (L, x, y, r0 = 0, r1 = L.rows) => call(`spmv_csr_f32_${bits(L)}_1x8`, r0, r1, [L.rowPtr, L.colIdx, L.values, L.bias, x, y]),
    spmmCsr: (L, n, xT, yT, scratch, r0 = 0, r1 = L.rows) =>
      batched(`spmm_csr_f32_${bits(L)}_1x16`, r0, r1, n, L.cols, xT, scratch, [L.cols, n, L.rowPtr, L.colIdx, L.values, L.bias, xT, yT, scratch]),
    denseGemv: (L, x, y, r0 = 0, r1 = L.rows) => call('dense_gemv_f32_4x4', r0, r1, [L.cols, L.W, L.bias, x, y]),
    denseGemm: (L, n, xT, yT, r0 = 0, r1 = L.rows) => call('dense_gemm_f32_4x8', r0, r1, [L.cols, n, L.W, L.bias, xT, yT]),
    transpose: (rows, cols, src, dst) => transpose(rows, cols, src, dst),
    readSum: (n, p) => read(n, p),
    convCfi: (L, g, B, X, Y, scratch) => conv(`conv_cfi_f32_${bits(L)}_images`, L.cols, g, B, scratch, [L.rows, L.k, L.values, L.indices, L.bias, X, Y]),
    convNm: (L, g, B, X, Y, scratch) => conv('conv_nm_f32_images', L.cols, g, B, scratch, [L.rows, L.k, L.values, L.offsets, L.groupBase, L.bias, X, Y]),
  };
}

/** dist/wasm/srigl-<isa>.wasm, found by walking up from this file (works from src/ and dist/src/). */
export function sparseWasmPath(isa: Exclude<SparseIsa, 'reference'>): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    for (const cand of [join(dir, 'dist', 'wasm'), join(dir, 'wasm')]) {
      const p = join(cand, `srigl-${isa}.wasm`);
      if (existsSync(p)) return p;
    }
    dir = dirname(dir);
  }
  throw new Error(`srigl-${isa}.wasm not found above ${fileURLToPath(import.meta.url)}; run npm run build:wasm`);
}

/**
 * Instantiates the srigl wasm module of one ISA level over `memory`, or returns null when this
 * runtime does not validate it (e.g. relaxed SIMD on Node 20 without --experimental-wasm-relaxed-simd).
 */
export function instantiateSparseKernels(memory: WebAssembly.Memory, isa: Exclude<SparseIsa, 'reference'>, runner: RowRunner | null = null): SparseKernels | null {
  const bytes = readFileSync(sparseWasmPath(isa));
  if (!WebAssembly.validate(bytes)) return null;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  return bindSparseKernels(instance.exports, isa, runner, memory);
}

/**
 * The TypeScript oracle: the same contract, computed with f64 sums in the most obvious order.
 * `buffer` returns the memory's current buffer (it changes when the memory grows).
 */
export function referenceSparseKernels(buffer: () => ArrayBufferLike): SparseKernels {
  const f32 = () => new Float32Array(buffer());
  const idx = (bits: 16 | 32, p: Ptr, n: number) => (bits === 16 ? new Uint16Array(buffer(), p, n) : new Uint32Array(buffer(), p, n));
  const u32 = (p: Ptr, n: number) => new Uint32Array(buffer(), p, n);

  /** Yᵀ[r, b] for lanes b < n, from row r's weights (positions [p, p+len) of values/indices). */
  const rowTimes = (h: Float32Array, vals: number, cols: ArrayLike<number>, p: number, len: number, bias: number, n: number, xT: number, yT: number, r: number) => {
    for (let b = 0; b < n; b++) {
      let s = bias;
      for (let j = 0; j < len; j++) s += h[vals + p + j] * h[xT + cols[p + j] * n + b];
      h[yT + r * n + b] = s;
    }
  };
  const spmmCfi = (L: CondensedView, n: number, xT: Ptr, yT: Ptr, r0 = 0, r1 = L.rows) => {
    const h = f32();
    const cols = idx(L.indexBits, L.indices, L.rows * L.k);
    for (let r = r0; r < r1; r++) rowTimes(h, L.values >> 2, cols, r * L.k, L.k, h[(L.bias >> 2) + r], n, xT >> 2, yT >> 2, r);
  };
  /**
   * Input column of every weight position of an N:M row, from the structure alone (not from the
   * kernels' groupBase table): groups channel-block-major, then tap; group (c0, tap) holds
   * channels c0·M … c0·M + size − 1 at that tap and keeps min(N, size) of them.
   */
  const nmColumns = (L: CondensedNMView, offsets: Uint8Array, r: number): number[] => {
    const { n, m, taps } = L.nm;
    const channels = L.cols / taps;
    const out: number[] = [];
    let p = r * L.k;
    for (let c0 = 0; c0 < channels; c0 += m) {
      const size = Math.min(m, channels - c0);
      for (let tap = 0; tap < taps; tap++) {
        for (let q = 0; q < Math.min(n, size); q++) out.push((c0 + offsets[p++]) * taps + tap);
      }
    }
    return out;
  };
  const spmmNm = (L: CondensedNMView, n: number, xT: Ptr, yT: Ptr, r0 = 0, r1 = L.rows) => {
    const h = f32();
    const offsets = new Uint8Array(buffer(), L.offsets, L.rows * L.k);
    for (let r = r0; r < r1; r++) {
      const cols = nmColumns(L, offsets, r);
      rowTimes(h, (L.values >> 2) + r * L.k, cols, 0, L.k, h[(L.bias >> 2) + r], n, xT >> 2, yT >> 2, r);
    }
  };
  const spmmCsr = (L: CsrView, n: number, xT: Ptr, yT: Ptr, r0 = 0, r1 = L.rows) => {
    const h = f32();
    const rp = u32(L.rowPtr, L.rows + 1);
    const cols = idx(L.indexBits, L.colIdx, rp[L.rows]);
    for (let r = r0; r < r1; r++) rowTimes(h, L.values >> 2, cols, rp[r], rp[r + 1] - rp[r], h[(L.bias >> 2) + r], n, xT >> 2, yT >> 2, r);
  };
  const denseGemm = (L: DenseView, n: number, xT: Ptr, yT: Ptr, r0 = 0, r1 = L.rows) => {
    const h = f32();
    const w = L.W >> 2, x = xT >> 2, y = yT >> 2;
    for (let r = r0; r < r1; r++) {
      for (let b = 0; b < n; b++) {
        let s = h[(L.bias >> 2) + r];
        for (let c = 0; c < L.cols; c++) s += h[w + r * L.cols + c] * h[x + c * n + b];
        h[y + r * n + b] = s;
      }
    }
  };
  /** Direct convolution: input column j of a row is (c, dy, dx) = (j / (kh·kw), …), zero outside the image. */
  const directConv = (L: { rows: number; k: number; values: Ptr; bias: Ptr }, rowCols: (r: number) => ArrayLike<number>, g: ConvGeometry, B: number, X: Ptr, Y: Ptr) => {
    const h = f32();
    const { OH, OW } = convOutputSize(g);
    const x = X >> 2, y = Y >> 2, v = L.values >> 2, bias = L.bias >> 2;
    for (let b = 0; b < B; b++) {
      for (let r = 0; r < L.rows; r++) {
        const cols = rowCols(r);
        for (let oy = 0; oy < OH; oy++) {
          for (let ox = 0; ox < OW; ox++) {
            let s = h[bias + r];
            for (let j = 0; j < L.k; j++) {
              const col = cols[j];
              const c = Math.floor(col / (g.kh * g.kw)), dy = Math.floor(col / g.kw) % g.kh, dx = col % g.kw;
              const iy = oy * g.stride - g.pad + dy, ix = ox * g.stride - g.pad + dx;
              if (iy >= 0 && iy < g.H && ix >= 0 && ix < g.W) s += h[v + r * L.k + j] * h[x + ((b * g.C + c) * g.H + iy) * g.W + ix];
            }
            h[y + ((b * L.rows + r) * OH + oy) * OW + ox] = s;
          }
        }
      }
    }
  };
  return {
    isa: 'reference',
    spmvCfi: (_tile, L, x, y, r0, r1) => spmmCfi(L, 1, x, y, r0, r1),
    spmmCfi: (_tile, L, n, xT, yT, _scratch, r0, r1) => spmmCfi(L, n, xT, yT, r0, r1),
    spmvNm: (L, x, y, r0, r1) => spmmNm(L, 1, x, y, r0, r1),
    spmmNm: (L, n, xT, yT, _scratch, r0, r1) => spmmNm(L, n, xT, yT, r0, r1),
    spmvCsr: (L, x, y, r0, r1) => spmmCsr(L, 1, x, y, r0, r1),
    spmmCsr: (L, n, xT, yT, _scratch, r0, r1) => spmmCsr(L, n, xT, yT, r0, r1),
    denseGemv: (L, x, y, r0, r1) => denseGemm(L, 1, x, y, r0, r1),
    denseGemm,
    transpose: (rows, cols, src, dst) => {
      const h = f32();
      const s = src >> 2, d = dst >> 2;
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) h[d + c * rows + r] = h[s + r * cols + c];
    },
    readSum: (n, p) => {
      const h = f32();
      let s = 0;
      for (let i = 0; i < n; i++) s += h[(p >> 2) + i];
      return s;
    },
    convCfi: (L, g, B, X, Y) => {
      const cols = idx(L.indexBits, L.indices, L.rows * L.k);
      directConv(L, (r) => cols.subarray(r * L.k, (r + 1) * L.k), g, B, X, Y);
    },
    convNm: (L, g, B, X, Y) => {
      const offsets = new Uint8Array(buffer(), L.offsets, L.rows * L.k);
      directConv(L, (r) => nmColumns(L, offsets, r), g, B, X, Y);
    },
  };
}

/** Geometry of a condensed Conv2d: input [C, H, W] per image, square-free kernel kh × kw. */
export interface ConvGeometry {
  readonly C: number;
  readonly H: number;
  readonly W: number;
  readonly kh: number;
  readonly kw: number;
  readonly stride: number;
  readonly pad: number;
}

export function convOutputSize(g: ConvGeometry): { OH: number; OW: number } {
  return { OH: Math.floor((g.H + 2 * g.pad - g.kh) / g.stride) + 1, OW: Math.floor((g.W + 2 * g.pad - g.kw) / g.stride) + 1 };
}
