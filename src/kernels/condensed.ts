/**
 * Sparse inference kernels over the shared WebAssembly memory: constant-fan-in ("condensed")
 * layers, the CSR baseline, and a dense baseline in the same layouts, each with a plain
 * TypeScript reference that is its test oracle.
 *
 * Layouts: batch 1 takes x [in] and writes y [rows]; batched kernels take batch-contiguous
 * activations Xᵀ [in, n] and write Yᵀ [rows, n] (one row's n batch values contiguous). Every
 * kernel computes the output rows [r0, r1) only, so a thread pool can split rows.
 */
import { loadWasmSync } from '../platform/host.js';
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

  /*
   * Condensed ViT (src/kernels/as/condensed-vit.ts). Token activations are feature-major: F
   * features of n examples × T tokens are X [F, N], N = n·T lanes, example b's tokens at lanes
   * [b·T, b·T + T): the batch-contiguous layout above with tokens as the batch.
   */
  /**
   * Patch embeddings X → tokens Y [D, n·(P+1)]: per example the class token first,
   * Y[d, b·T] = first[d], then Y[d, b·T + 1 + p] = X(b, d, p) + posT[d, 1 + p] (`first` [D] =
   * class token + position 0; `posT` [D, P+1] the position embedding transposed). X is
   * batch-major [n, D, P] (`layout` 'batch', a convolution's output) or feature-major [D, n·P]
   * ('features', the batched patch convolution's).
   */
  tokensEmbed(n: number, D: number, P: number, X: Ptr, layout: 'batch' | 'features', first: Ptr, posT: Ptr, Y: Ptr): void;
  /**
   * Layer norm of each of the N columns (tokens) of X [F, N] over its F features: Y = gamma ⊙
   * (x − μ)/√(σ² + eps) + beta (biased σ²); with gamma = beta = 0 (no pointers) Y = (x − μ)/√(σ² + eps).
   * Y must not alias X.
   */
  layerNormCols(F: number, N: number, X: Ptr, gamma: Ptr, beta: Ptr, Y: Ptr, eps: number): void;
  /**
   * Multi-head self-attention over n examples of T tokens, each example's first Tq tokens the
   * queries (Tq ≤ T): K [Fqk, n·T], V [Fv, n·T], Q [Fqk, n·Tq], O [Fv, n·Tq]; per example and head
   * h, O_h = V_h · softmax(alpha · Q_hᵀK_h)ᵀ with the softmax over keys, head h owning the rows the
   * view's tables give. `scratch` holds attentionScratchBytes(T, threads) bytes. With a thread
   * pool, examples split over the threads (bit-identical).
   */
  attentionCols(A: AttentionView, n: number, T: number, Tq: number, Q: Ptr, K: Ptr, V: Ptr, O: Ptr, scratch: Ptr): void;
  /** y[i] = x[i·stride] for i < count (the class tokens: [F, n·T] → [F, n] with stride T). */
  copyStrided(count: number, stride: number, x: Ptr, y: Ptr): void;
  /**
   * spmmCfi for 16 < n ≤ 19 lanes (batch 1 of the vit: 16 patch tokens and the class token): the
   * extra lanes in the same pass over each row's weights, Xᵀ read in place (no scratch).
   */
  spmmCfiNarrow(L: CondensedView, n: number, xT: Ptr, yT: Ptr, r0?: number, r1?: number): void;
}

/** The lane counts SparseKernels.spmmCfiNarrow takes: one 16-lane tile and 1 to 3 lanes more. */
export function isNarrowLanes(n: number): boolean {
  return n > 16 && n <= 19;
}

/**
 * The head structure of a condensed attention op in wasm memory: i32 tables of heads + 1
 * entries, head h owning rows [qkBase[h], qkBase[h+1]) of Q and K and [vBase[h], vBase[h+1]) of
 * V and O; `alpha` scales the scores (1/√d_h of the trained model's head width).
 */
export interface AttentionView {
  readonly heads: number;
  readonly alpha: number;
  readonly qkBase: Ptr;
  readonly vBase: Ptr;
}

/**
 * The condensed ViT kernels, named what-then-how (`__x2`: examples split over two threads, for
 * the kernel that splits): tests iterate this list against the reference at every ISA level.
 */
export const TOKEN_VARIANTS = [
  { name: 'tokens_embed_f32', op: 'tokensEmbed', threads: 1 },
  { name: 'layer_norm_cols_f32', op: 'layerNormCols', threads: 1 },
  { name: 'attention_cols_f32', op: 'attentionCols', threads: 1 },
  { name: 'attention_cols_f32__x2', op: 'attentionCols', threads: 2 },
  { name: 'copy_strided_f32', op: 'copyStrided', threads: 1 },
  { name: 'spmm_cfi_f32_1x16p', op: 'spmmCfiNarrow', threads: 1 },
  { name: 'spmm_cfi_f32_1x16p__x2', op: 'spmmCfiNarrow', threads: 2 },
] as const;

/** Bytes of SparseKernels.attentionCols's scratch for T tokens on `threads` threads: per thread the scores and their transpose. */
export function attentionScratchBytes(T: number, threads: number): number {
  return threads * attentionThreadBytes(T);
}
/** Room for attention_cols_f32's keys × queries tile [T, Tq] and, at the next 64-byte boundary past T·T floats, its rows [Tq mod 4, T] (Tq ≤ T). */
function attentionThreadBytes(T: number): number {
  return 2 * Math.ceil((T * T * 4) / 64) * 64;
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
    fn(`spmm_cfi_f32_${b}_1x16p`);
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
  const embed = fn('tokens_embed_f32');
  const layerNormCols = fn('layer_norm_cols_f32');
  const attention = fn('attention_cols_f32');
  const strided = fn('copy_strided_f32');
  const narrow16 = fn('spmm_cfi_f32_u16_1x16p'), narrow32 = fn('spmm_cfi_f32_u32_1x16p');
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
    tokensEmbed: (n, D, P, X, layout, first, posT, Y) => embed(0, n, n, D, P, X, layout === 'batch' ? D * P : P, layout === 'batch' ? P : n * P, first, posT, Y),
    layerNormCols: (F, N, X, gamma, beta, Y, eps) => layerNormCols(0, N, F, N, X, gamma, beta, Y, eps),
    // The ViT kernels run once or twice per block, so on one thread they call the export
    // directly: building the name and an argument array cost ~0.1 µs a call (a tenth of a layer
    // norm at batch 1).
    attentionCols: (A, n, T, Tq, Q, K, V, O, scratch) => {
      if (n <= 0) return;
      if (runner === null || n < 2) {
        attention(0, n, T, Tq, n, A.heads, A.alpha, A.qkBase, A.vBase, Q, K, V, O, scratch);
        return;
      }
      const args = [T, Tq, n, A.heads, A.alpha, A.qkBase, A.vBase, Q, K, V, O, scratch];
      runner.rows('attention_cols_f32', 0, n, 1, args, { arg: args.length - 1, base: scratch, stride: attentionThreadBytes(T) });
    },
    copyStrided: (count, stride, x, y) => strided(count, stride, x, y),
    spmmCfiNarrow: (L, n, xT, yT, r0 = 0, r1 = L.rows) => {
      if (!isNarrowLanes(n)) throw new RangeError(`spmmCfiNarrow: ${n} lanes, expected 17 to 19`);
      if (runner === null || r1 - r0 < 2) (L.indexBits === 16 ? narrow16 : narrow32)(r0, r1, L.k, n, L.values, L.indices, L.bias, xT, yT);
      else call(`spmm_cfi_f32_${bits(L)}_1x16p`, r0, r1, [L.k, n, L.values, L.indices, L.bias, xT, yT]);
    },
  };
}

/**
 * Instantiates the srigl wasm module of one ISA level over `memory`, or returns null when this
 * runtime does not validate it (e.g. relaxed SIMD on Node 20 without --experimental-wasm-relaxed-simd).
 */
export function instantiateSparseKernels(memory: WebAssembly.Memory, isa: Exclude<SparseIsa, 'reference'>, runner: RowRunner | null = null): SparseKernels | null {
  const bytes = loadWasmSync(`srigl-${isa}.wasm`);
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
    tokensEmbed: (n, D, P, X, layout, first, posT, Y) => {
      const h = f32();
      const T = P + 1, N = n * T, x = X >> 2, y = Y >> 2;
      const at = (b: number, d: number, p: number) => x + (layout === 'batch' ? (b * D + d) * P + p : d * n * P + b * P + p);
      for (let b = 0; b < n; b++) {
        for (let d = 0; d < D; d++) {
          h[y + d * N + b * T] = h[(first >> 2) + d];
          for (let p = 0; p < P; p++) h[y + d * N + b * T + 1 + p] = h[at(b, d, p)] + h[(posT >> 2) + d * T + 1 + p];
        }
      }
    },
    layerNormCols: (F, N, X, gamma, beta, Y, eps) => {
      const h = f32();
      const x = X >> 2, y = Y >> 2, g = gamma >> 2, be = beta >> 2;
      for (let l = 0; l < N; l++) {
        let s = 0;
        for (let f = 0; f < F; f++) s += h[x + f * N + l];
        const mu = s / F;
        let q = 0;
        for (let f = 0; f < F; f++) q += (h[x + f * N + l] - mu) ** 2;
        const is = 1 / Math.sqrt(q / F + eps);
        for (let f = 0; f < F; f++) h[y + f * N + l] = gamma === 0 ? (h[x + f * N + l] - mu) * is : (h[x + f * N + l] - mu) * is * h[g + f] + h[be + f];
      }
    },
    attentionCols: (A, n, T, Tq, Q, K, V, O) => {
      const h = f32();
      const qk = new Int32Array(buffer(), A.qkBase, A.heads + 1), vb = new Int32Array(buffer(), A.vBase, A.heads + 1);
      const N = n * T, Nq = n * Tq, q = Q >> 2, k = K >> 2, v = V >> 2, o = O >> 2;
      const p = new Float64Array(T);
      for (let b = 0; b < n; b++) {
        for (let hd = 0; hd < A.heads; hd++) {
          for (let t = 0; t < Tq; t++) {
            // Softmax over the keys of query t, its maximum subtracted first.
            let mx = -Infinity;
            for (let s2 = 0; s2 < T; s2++) {
              let dot = 0;
              for (let j = qk[hd]; j < qk[hd + 1]; j++) dot += h[q + j * Nq + b * Tq + t] * h[k + j * N + b * T + s2];
              p[s2] = A.alpha * dot;
              mx = Math.max(mx, p[s2]);
            }
            let z = 0;
            for (let s2 = 0; s2 < T; s2++) z += (p[s2] = Math.exp(p[s2] - mx));
            for (let j = vb[hd]; j < vb[hd + 1]; j++) {
              let acc = 0;
              for (let s2 = 0; s2 < T; s2++) acc += (p[s2] / z) * h[v + j * N + b * T + s2];
              h[o + j * Nq + b * Tq + t] = acc;
            }
          }
        }
      }
    },
    copyStrided: (count, stride, x, y) => {
      const h = f32();
      for (let i = 0; i < count; i++) h[(y >> 2) + i] = h[(x >> 2) + i * stride];
    },
    spmmCfiNarrow: (L, n, xT, yT, r0, r1) => {
      if (!isNarrowLanes(n)) throw new RangeError(`spmmCfiNarrow: ${n} lanes, expected 17 to 19`);
      spmmCfi(L, n, xT, yT, r0, r1);
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
