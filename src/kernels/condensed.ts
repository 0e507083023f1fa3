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
import type { Kernels, Ptr } from './api.js';

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
   * `scratch` holds spmmScratchBytes(L.cols) bytes owned by the calling thread.
   */
  spmmCfi(tile: SpmmTile, L: CondensedView, n: number, xT: Ptr, yT: Ptr, scratch: Ptr, r0?: number, r1?: number): void;
  spmvCsr(L: CsrView, x: Ptr, y: Ptr, r0?: number, r1?: number): void;
  spmmCsr(L: CsrView, n: number, xT: Ptr, yT: Ptr, scratch: Ptr, r0?: number, r1?: number): void;
  /** y = W·x + bias (the dense baseline). */
  denseGemv(L: DenseView, x: Ptr, y: Ptr, r0?: number, r1?: number): void;
  /** Yᵀ = W·Xᵀ + bias (the dense baseline). */
  denseGemm(L: DenseView, n: number, xT: Ptr, yT: Ptr, r0?: number, r1?: number): void;
}

/** Every kernel variant, named what-then-how: tests and the benchmark iterate over this list. */
export const SPARSE_VARIANTS = [
  { name: 'spmv_cfi_f32_1x4', op: 'spmvCfi', tile: '1x4' },
  { name: 'spmv_cfi_f32_1x8', op: 'spmvCfi', tile: '1x8' },
  { name: 'spmm_cfi_f32_1x16', op: 'spmmCfi', tile: '1x16' },
  { name: 'spmm_cfi_f32_2x16', op: 'spmmCfi', tile: '2x16' },
  { name: 'spmv_csr_f32_1x8', op: 'spmvCsr', tile: '1x8' },
  { name: 'spmm_csr_f32_1x16', op: 'spmmCsr', tile: '1x16' },
  { name: 'dense_gemv_f32_4x4', op: 'denseGemv', tile: '4x4' },
  { name: 'dense_gemm_f32_4x8', op: 'denseGemm', tile: '4x8' },
] as const;

type Fn = (...args: number[]) => void;

/** Scratch bytes the batched sparse kernels need: one packed 16-lane panel of Xᵀ (cols × 64 bytes). */
export function spmmScratchBytes(cols: number): number {
  return cols * 64;
}

/** Binds the exports of one srigl wasm module (any ISA level) to the SparseKernels interface. */
export function bindSparseKernels(exports: WebAssembly.Exports, isa: Exclude<SparseIsa, 'reference'>): SparseKernels {
  const fn = (name: string): Fn => {
    const f = exports[name];
    if (typeof f !== 'function') throw new Error(`wasm module (${isa}) lacks export ${name}`);
    return f as Fn;
  };
  const spmv = { 16: { '1x4': fn('spmv_cfi_f32_u16_1x4'), '1x8': fn('spmv_cfi_f32_u16_1x8') }, 32: { '1x4': fn('spmv_cfi_f32_u32_1x4'), '1x8': fn('spmv_cfi_f32_u32_1x8') } };
  const spmm = { 16: { '1x16': fn('spmm_cfi_f32_u16_1x16'), '2x16': fn('spmm_cfi_f32_u16_2x16') }, 32: { '1x16': fn('spmm_cfi_f32_u32_1x16'), '2x16': fn('spmm_cfi_f32_u32_2x16') } };
  const csrv = { 16: fn('spmv_csr_f32_u16_1x8'), 32: fn('spmv_csr_f32_u32_1x8') };
  const csrm = { 16: fn('spmm_csr_f32_u16_1x16'), 32: fn('spmm_csr_f32_u32_1x16') };
  const gemv = fn('dense_gemv_f32_4x4');
  const gemm = fn('dense_gemm_f32_4x8');
  return {
    isa,
    spmvCfi: (tile, L, x, y, r0 = 0, r1 = L.rows) => spmv[L.indexBits][tile](r0, r1, L.k, L.values, L.indices, L.bias, x, y),
    spmmCfi: (tile, L, n, xT, yT, scratch, r0 = 0, r1 = L.rows) => spmm[L.indexBits][tile](r0, r1, L.k, L.cols, n, L.values, L.indices, L.bias, xT, yT, scratch),
    spmvCsr: (L, x, y, r0 = 0, r1 = L.rows) => csrv[L.indexBits](r0, r1, L.rowPtr, L.colIdx, L.values, L.bias, x, y),
    spmmCsr: (L, n, xT, yT, scratch, r0 = 0, r1 = L.rows) => csrm[L.indexBits](r0, r1, L.cols, n, L.rowPtr, L.colIdx, L.values, L.bias, xT, yT, scratch),
    denseGemv: (L, x, y, r0 = 0, r1 = L.rows) => gemv(r0, r1, L.cols, L.W, L.bias, x, y),
    denseGemm: (L, n, xT, yT, r0 = 0, r1 = L.rows) => gemm(r0, r1, L.cols, n, L.W, L.bias, xT, yT),
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
export function instantiateSparseKernels(memory: WebAssembly.Memory, isa: Exclude<SparseIsa, 'reference'>): SparseKernels | null {
  const bytes = readFileSync(sparseWasmPath(isa));
  if (!WebAssembly.validate(bytes)) return null;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  return bindSparseKernels(instance.exports, isa);
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
  return {
    isa: 'reference',
    spmvCfi: (_tile, L, x, y, r0, r1) => spmmCfi(L, 1, x, y, r0, r1),
    spmmCfi: (_tile, L, n, xT, yT, _scratch, r0, r1) => spmmCfi(L, n, xT, yT, r0, r1),
    spmvCsr: (L, x, y, r0, r1) => spmmCsr(L, 1, x, y, r0, r1),
    spmmCsr: (L, n, xT, yT, _scratch, r0, r1) => spmmCsr(L, n, xT, yT, r0, r1),
    denseGemv: (L, x, y, r0, r1) => denseGemm(L, 1, x, y, r0, r1),
    denseGemm,
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

/**
 * Condensed Conv2d forward over B images: each active filter has k weights over the C·kh·kw
 * im2col rows. Per image, im2col gives col [C·kh·kw, OH·OW], which is exactly the batched
 * kernel's Xᵀ with OH·OW as the batch, and Yᵀ [rows, OH·OW] is that image's NCHW output for
 * the active channels. `col` is scratch of C·kh·kw·OH·OW floats and `scratch` of
 * spmmScratchBytes(C·kh·kw) bytes; X is [B, C, H, W] and Y is [B, rows, OH, OW].
 */
export function conv2dCfi(
  sparse: SparseKernels, kernels: Pick<Kernels, 'im2col'>, tile: SpmmTile, L: CondensedView, g: ConvGeometry,
  B: number, X: Ptr, col: Ptr, scratch: Ptr, Y: Ptr,
): void {
  const { OH, OW } = convOutputSize(g);
  const S = OH * OW;
  for (let b = 0; b < B; b++) {
    kernels.im2col(g.C, g.H, g.W, g.kh, g.kw, g.stride, g.pad, X + b * g.C * g.H * g.W * 4, col);
    sparse.spmmCfi(tile, L, S, col, Y + b * L.rows * S * 4, scratch);
  }
}
