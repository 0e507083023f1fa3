// Constant-fan-in ("condensed") sparse kernels: every active output row r holds exactly k
// weights values[r, 0..k) at sorted input columns indices[r, 0..k) (u16 or u32).
//
//   batch 1  (spmv): y[r]     = bias[r] + Σ_j values[r,j] · x[indices[r,j]]
//   batched  (spmm): Yᵀ[r, :] = bias[r] + Σ_j values[r,j] · Xᵀ[indices[r,j], :]
//
// Batched activations are batch-contiguous (Xᵀ is [in, n], Yᵀ is [rows, n]), so the inner loop
// is a contiguous SIMD axpy over the batch and the gather happens once per weight, not per
// lane. Every kernel computes the row range [r0, r1) so a thread pool can split rows.
// The row helpers (condensed-rows.ts) take (values, indices, length), shared with the CSR kernels.
import { madd } from './simd';
import { im2col_f32 } from './conv';
import { gatherDot4, gatherDot8, axpyRow16, axpyRow2x16, axpyRow8, axpyRow4, axpyRow1, packPanel16 } from './condensed-rows';

// ---- constant fan-in kernels ------------------------------------------------------------------

@inline
function spmvCfi<I>(r0: i32, r1: i32, k: i32, values: usize, indices: usize, bias: usize, x: usize, y: usize, unroll8: bool): void {
  for (let r = r0; r < r1; r++) {
    const base = <usize>r * <usize>k;
    const vp = values + (base << 2);
    const ip = indices + base * sizeof<I>();
    const s = unroll8 ? gatherDot8<I>(vp, ip, k, x) : gatherDot4<I>(vp, ip, k, x);
    store<f32>(y + (<usize>r << 2), load<f32>(bias + (<usize>r << 2)) + s);
  }
}

/** Batch 1, j unrolled by 4 (one SIMD accumulator). */
export function spmv_cfi_f32_u16_1x4(r0: i32, r1: i32, k: i32, values: usize, indices: usize, bias: usize, x: usize, y: usize): void {
  spmvCfi<u16>(r0, r1, k, values, indices, bias, x, y, false);
}
export function spmv_cfi_f32_u32_1x4(r0: i32, r1: i32, k: i32, values: usize, indices: usize, bias: usize, x: usize, y: usize): void {
  spmvCfi<u32>(r0, r1, k, values, indices, bias, x, y, false);
}
/** Batch 1, j unrolled by 8 (two SIMD accumulators). */
export function spmv_cfi_f32_u16_1x8(r0: i32, r1: i32, k: i32, values: usize, indices: usize, bias: usize, x: usize, y: usize): void {
  spmvCfi<u16>(r0, r1, k, values, indices, bias, x, y, true);
}
export function spmv_cfi_f32_u32_1x8(r0: i32, r1: i32, k: i32, values: usize, indices: usize, bias: usize, x: usize, y: usize): void {
  spmvCfi<u32>(r0, r1, k, values, indices, bias, x, y, true);
}

/**
 * Batched, over lane units [u0, u1) and rows [r0, r1). Lane unit u < n/16 is the 16-lane tile
 * [16u, 16u+16), read from its packed panel at packed + u·cols·64 (pack_panels16_f32 wrote them
 * once per call, before any split; one panel is cols × 64 bytes, sized for L2) while every row
 * streams its weights past it; the unit after the last full tile is the lane tail (8, 4, then
 * single lanes), read from Xᵀ in place. The scalar module has no tiles: its one unit is every lane.
 * `rows2` processes rows in pairs. Splitting either range over threads leaves every output
 * element computed by the same code, so results are bit-identical for any split.
 */
@inline
function spmmCfi<I>(
  u0: i32, u1: i32, r0: i32, r1: i32, k: i32, cols: i32, n: i32, values: usize, indices: usize, bias: usize, xT: usize, yT: usize, packed: usize, rows2: bool, packOwn: bool,
): void {
  const ldx = <usize>n << 2;
  const rowV = <usize>k << 2;
  const rowI = <usize>k * sizeof<I>();
  const tiles = ASC_FEATURE_SIMD ? n >> 4 : 0;
  for (let u = u0; u < u1; u++) {
    if (ASC_FEATURE_SIMD && u < tiles) {
      const panel = packed + <usize>u * <usize>cols * 64;
      // Split by lane units, each thread packs the panels of its own units.
      if (packOwn) packPanel16(cols, n, u << 4, xT, panel);
      const yb = yT + (<usize>u << 6);
      let r = r0;
      if (rows2) {
        for (; r + 2 <= r1; r += 2) {
          axpyRow2x16<I>(
            values + <usize>r * rowV, indices + <usize>r * rowI, values + <usize>(r + 1) * rowV, indices + <usize>(r + 1) * rowI,
            k, panel, 64, load<f32>(bias + (<usize>r << 2)), load<f32>(bias + (<usize>(r + 1) << 2)),
            yb + <usize>r * ldx, yb + <usize>(r + 1) * ldx,
          );
        }
      }
      for (; r < r1; r++) {
        axpyRow16<I>(values + <usize>r * rowV, indices + <usize>r * rowI, k, panel, 64, load<f32>(bias + (<usize>r << 2)), yb + <usize>r * ldx);
      }
      continue;
    }
    let b = tiles << 4;
    if (ASC_FEATURE_SIMD) {
      if (b + 8 <= n) {
        const xb = xT + (<usize>b << 2);
        const yb = yT + (<usize>b << 2);
        for (let r = r0; r < r1; r++) {
          axpyRow8<I>(values + <usize>r * rowV, indices + <usize>r * rowI, k, xb, ldx, load<f32>(bias + (<usize>r << 2)), yb + <usize>r * ldx);
        }
        b += 8;
      }
      for (; b + 4 <= n; b += 4) {
        const xb = xT + (<usize>b << 2);
        const yb = yT + (<usize>b << 2);
        for (let r = r0; r < r1; r++) {
          axpyRow4<I>(values + <usize>r * rowV, indices + <usize>r * rowI, k, xb, ldx, load<f32>(bias + (<usize>r << 2)), yb + <usize>r * ldx);
        }
      }
    }
    for (; b < n; b++) {
      const xb = xT + (<usize>b << 2);
      const yb = yT + (<usize>b << 2);
      for (let r = r0; r < r1; r++) {
        axpyRow1<I>(values + <usize>r * rowV, indices + <usize>r * rowI, k, xb, ldx, load<f32>(bias + (<usize>r << 2)), yb + <usize>r * ldx);
      }
    }
  }
}

/** Lane units of a batch of n (see spmmCfi): the full 16-lane tiles, plus one for any tail. */
export function spmm_lane_units(n: i32): i32 {
  const tiles = ASC_FEATURE_SIMD ? n >> 4 : 0;
  return tiles + (n > tiles << 4 ? 1 : 0);
}

/** Batched, one row × 16 lanes per register tile: rows [r0, r1), every lane. */
export function spmm_cfi_f32_u16_1x16(
  r0: i32, r1: i32, k: i32, cols: i32, n: i32, values: usize, indices: usize, bias: usize, xT: usize, yT: usize, packed: usize,
): void {
  spmmCfi<u16>(0, spmm_lane_units(n), r0, r1, k, cols, n, values, indices, bias, xT, yT, packed, false, false);
}
export function spmm_cfi_f32_u32_1x16(
  r0: i32, r1: i32, k: i32, cols: i32, n: i32, values: usize, indices: usize, bias: usize, xT: usize, yT: usize, packed: usize,
): void {
  spmmCfi<u32>(0, spmm_lane_units(n), r0, r1, k, cols, n, values, indices, bias, xT, yT, packed, false, false);
}
/** Batched, two rows × 16 lanes per register tile: rows [r0, r1), every lane. */
export function spmm_cfi_f32_u16_2x16(
  r0: i32, r1: i32, k: i32, cols: i32, n: i32, values: usize, indices: usize, bias: usize, xT: usize, yT: usize, packed: usize,
): void {
  spmmCfi<u16>(0, spmm_lane_units(n), r0, r1, k, cols, n, values, indices, bias, xT, yT, packed, true, false);
}
export function spmm_cfi_f32_u32_2x16(
  r0: i32, r1: i32, k: i32, cols: i32, n: i32, values: usize, indices: usize, bias: usize, xT: usize, yT: usize, packed: usize,
): void {
  spmmCfi<u32>(0, spmm_lane_units(n), r0, r1, k, cols, n, values, indices, bias, xT, yT, packed, true, false);
}
/** The same kernels over lane units [u0, u1) (a thread pool splits these for large batches). */
export function spmm_cfi_f32_u16_1x16_lanes(
  u0: i32, u1: i32, r0: i32, r1: i32, k: i32, cols: i32, n: i32, values: usize, indices: usize, bias: usize, xT: usize, yT: usize, packed: usize,
): void {
  spmmCfi<u16>(u0, u1, r0, r1, k, cols, n, values, indices, bias, xT, yT, packed, false, true);
}
export function spmm_cfi_f32_u32_1x16_lanes(
  u0: i32, u1: i32, r0: i32, r1: i32, k: i32, cols: i32, n: i32, values: usize, indices: usize, bias: usize, xT: usize, yT: usize, packed: usize,
): void {
  spmmCfi<u32>(u0, u1, r0, r1, k, cols, n, values, indices, bias, xT, yT, packed, false, true);
}
export function spmm_cfi_f32_u16_2x16_lanes(
  u0: i32, u1: i32, r0: i32, r1: i32, k: i32, cols: i32, n: i32, values: usize, indices: usize, bias: usize, xT: usize, yT: usize, packed: usize,
): void {
  spmmCfi<u16>(u0, u1, r0, r1, k, cols, n, values, indices, bias, xT, yT, packed, true, true);
}
export function spmm_cfi_f32_u32_2x16_lanes(
  u0: i32, u1: i32, r0: i32, r1: i32, k: i32, cols: i32, n: i32, values: usize, indices: usize, bias: usize, xT: usize, yT: usize, packed: usize,
): void {
  spmmCfi<u32>(u0, u1, r0, r1, k, cols, n, values, indices, bias, xT, yT, packed, true, true);
}

/**
 * Condensed Conv2d forward for images [b0, b1): per image, im2col into this thread's `scratch`
 * (col [C·kh·kw, OH·OW], then its packed 16-lane panels at the next 64-byte boundary) and the
 * batched kernel with OH·OW as the lanes; Y [B, rows, OH, OW]. `geom` holds i32 C, H, W, kh, kw,
 * stride, pad. A thread pool splits images, each thread with its own scratch: an image's
 * columns never leave the core that made them.
 */
@inline
function convCfi<I>(b0: i32, b1: i32, geom: usize, rows: i32, k: i32, values: usize, indices: usize, bias: usize, X: usize, Y: usize, scratch: usize): void {
  const C = load<i32>(geom), H = load<i32>(geom, 4), W = load<i32>(geom, 8);
  const kh = load<i32>(geom, 12), kw = load<i32>(geom, 16), stride = load<i32>(geom, 20), pad = load<i32>(geom, 24);
  const S = ((H + 2 * pad - kh) / stride + 1) * ((W + 2 * pad - kw) / stride + 1);
  const cols = C * kh * kw;
  const packed = (scratch + <usize>cols * <usize>S * 4 + 63) & ~(<usize>63);
  const units = spmm_lane_units(S);
  for (let b = b0; b < b1; b++) {
    im2col_f32(C, H, W, kh, kw, stride, pad, X + <usize>b * <usize>(C * H * W) * 4, scratch);
    spmmCfi<I>(0, units, 0, rows, k, cols, S, values, indices, bias, scratch, Y + <usize>b * <usize>(rows * S) * 4, packed, false, true);
  }
}
export function conv_cfi_f32_u16_images(b0: i32, b1: i32, geom: usize, rows: i32, k: i32, values: usize, indices: usize, bias: usize, X: usize, Y: usize, scratch: usize): void {
  convCfi<u16>(b0, b1, geom, rows, k, values, indices, bias, X, Y, scratch);
}
export function conv_cfi_f32_u32_images(b0: i32, b1: i32, geom: usize, rows: i32, k: i32, values: usize, indices: usize, bias: usize, X: usize, Y: usize, scratch: usize): void {
  convCfi<u32>(b0, b1, geom, rows, k, values, indices, bias, X, Y, scratch);
}

/**
 * Packs every full 16-lane tile of Xᵀ [cols, n] into contiguous [cols, 16] panels, tile t at
 * packed + t·cols·64 (cols · floor(n/16) · 64 bytes). The batched sparse kernels read these, so
 * the copy happens once per call however the rows are split over threads.
 */
export function pack_panels16_f32(cols: i32, n: i32, xT: usize, packed: usize): void {
  // The scalar module's kernels read Xᵀ in place (no 16-lane tiles), so it packs nothing.
  if (!ASC_FEATURE_SIMD) return;
  for (let b = 0; b + 16 <= n; b += 16) packPanel16(cols, n, b, xT, packed + <usize>(b >> 4) * <usize>cols * 64);
}

// ---- dense baseline ---------------------------------------------------------------------------
// A plain blocked dense matvec/matmul in the same layouts, so benchmarks compare like with like
// (W is [rows, K] row-major, Xᵀ is [K, n], Yᵀ is [rows, n]).

/** y[r] = bias[r] + W[r, :] · x for r in [r0, r1); four rows share each load of x. */
export function dense_gemv_f32_4x4(r0: i32, r1: i32, K: i32, W: usize, bias: usize, x: usize, y: usize): void {
  const ldw = <usize>K << 2;
  let r = r0;
  if (ASC_FEATURE_SIMD) {
    for (; r + 4 <= r1; r += 4) {
      const w0 = W + <usize>r * ldw;
      const w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
      let a0 = f32x4.splat(0);
      let a1 = a0, a2 = a0, a3 = a0;
      let k = 0;
      for (; k + 4 <= K; k += 4) {
        const o = <usize>k << 2;
        const xv = v128.load(x + o);
        a0 = madd(v128.load(w0 + o), xv, a0);
        a1 = madd(v128.load(w1 + o), xv, a1);
        a2 = madd(v128.load(w2 + o), xv, a2);
        a3 = madd(v128.load(w3 + o), xv, a3);
      }
      let s0 = f32x4.extract_lane(a0, 0) + f32x4.extract_lane(a0, 1) + f32x4.extract_lane(a0, 2) + f32x4.extract_lane(a0, 3);
      let s1 = f32x4.extract_lane(a1, 0) + f32x4.extract_lane(a1, 1) + f32x4.extract_lane(a1, 2) + f32x4.extract_lane(a1, 3);
      let s2 = f32x4.extract_lane(a2, 0) + f32x4.extract_lane(a2, 1) + f32x4.extract_lane(a2, 2) + f32x4.extract_lane(a2, 3);
      let s3 = f32x4.extract_lane(a3, 0) + f32x4.extract_lane(a3, 1) + f32x4.extract_lane(a3, 2) + f32x4.extract_lane(a3, 3);
      for (; k < K; k++) {
        const o = <usize>k << 2;
        const xs = load<f32>(x + o);
        s0 += load<f32>(w0 + o) * xs;
        s1 += load<f32>(w1 + o) * xs;
        s2 += load<f32>(w2 + o) * xs;
        s3 += load<f32>(w3 + o) * xs;
      }
      const yp = y + (<usize>r << 2);
      const bp = bias + (<usize>r << 2);
      store<f32>(yp, load<f32>(bp) + s0);
      store<f32>(yp, load<f32>(bp, 4) + s1, 4);
      store<f32>(yp, load<f32>(bp, 8) + s2, 8);
      store<f32>(yp, load<f32>(bp, 12) + s3, 12);
    }
  }
  for (; r < r1; r++) {
    const w = W + <usize>r * ldw;
    let s: f32 = 0;
    for (let k = 0; k < K; k++) s += load<f32>(w + (<usize>k << 2)) * load<f32>(x + (<usize>k << 2));
    store<f32>(y + (<usize>r << 2), load<f32>(bias + (<usize>r << 2)) + s);
  }
}

/** Depth of a K block: a 4-row block of W (4·256·4 = 4 KiB) stays in L1 across lane tiles. */
const KC: i32 = 256;
/** Lanes of an Xᵀ panel: KC × NC × 4 = 256 KiB, sized for L2. */
const NC: i32 = 256;

/**
 * Yᵀ[r, :] = bias[r] + W[r, :] · Xᵀ for r in [r0, r1): K blocks of KC, lane panels of NC, and
 * 4 rows × 8 lanes of accumulators in registers (no packing).
 */
export function dense_gemm_f32_4x8(r0: i32, r1: i32, K: i32, n: i32, W: usize, bias: usize, xT: usize, yT: usize): void {
  const ldw = <usize>K << 2;
  const ldx = <usize>n << 2;
  for (let r = r0; r < r1; r++) {
    const bv = load<f32>(bias + (<usize>r << 2));
    const yp = yT + <usize>r * ldx;
    for (let b = 0; b < n; b++) store<f32>(yp + (<usize>b << 2), bv);
  }
  for (let k0 = 0; k0 < K; k0 += KC) {
    const k1 = min(k0 + KC, K);
    for (let n0 = 0; n0 < n; n0 += NC) {
      const n1 = min(n0 + NC, n);
      let r = r0;
      if (ASC_FEATURE_SIMD) {
        for (; r + 4 <= r1; r += 4) {
          const w0 = W + <usize>r * ldw;
          let b = n0;
          for (; b + 8 <= n1; b += 8) {
            const y0 = yT + <usize>r * ldx + (<usize>b << 2);
            const y1 = y0 + ldx, y2 = y1 + ldx, y3 = y2 + ldx;
            let a0 = v128.load(y0), a1 = v128.load(y0, 16);
            let c0 = v128.load(y1), c1 = v128.load(y1, 16);
            let d0 = v128.load(y2), d1 = v128.load(y2, 16);
            let e0 = v128.load(y3), e1 = v128.load(y3, 16);
            let xp = xT + <usize>k0 * ldx + (<usize>b << 2);
            for (let k = k0; k < k1; k++) {
              const x0 = v128.load(xp);
              const x1 = v128.load(xp, 16);
              const wp = w0 + (<usize>k << 2);
              let w = f32x4.splat(load<f32>(wp));
              a0 = madd(w, x0, a0);
              a1 = madd(w, x1, a1);
              w = f32x4.splat(load<f32>(wp + ldw));
              c0 = madd(w, x0, c0);
              c1 = madd(w, x1, c1);
              w = f32x4.splat(load<f32>(wp + 2 * ldw));
              d0 = madd(w, x0, d0);
              d1 = madd(w, x1, d1);
              w = f32x4.splat(load<f32>(wp + 3 * ldw));
              e0 = madd(w, x0, e0);
              e1 = madd(w, x1, e1);
              xp += ldx;
            }
            v128.store(y0, a0); v128.store(y0, a1, 16);
            v128.store(y1, c0); v128.store(y1, c1, 16);
            v128.store(y2, d0); v128.store(y2, d1, 16);
            v128.store(y3, e0); v128.store(y3, e1, 16);
          }
          for (; b < n1; b++) denseLane(r, r + 4, k0, k1, b, ldw, ldx, W, xT, yT);
        }
      }
      for (let b = n0; b < n1; b++) denseLane(r, r1, k0, k1, b, ldw, ldx, W, xT, yT);
    }
  }
}

/** Yᵀ[r, b] += Σ_{k∈[k0,k1)} W[r,k]·Xᵀ[k,b] for rows [r0, r1): the scalar edge of dense_gemm. */
@inline
function denseLane(r0: i32, r1: i32, k0: i32, k1: i32, b: i32, ldw: usize, ldx: usize, W: usize, xT: usize, yT: usize): void {
  for (let r = r0; r < r1; r++) {
    const yp = yT + <usize>r * ldx + (<usize>b << 2);
    let s = load<f32>(yp);
    const wp = W + <usize>r * ldw;
    for (let k = k0; k < k1; k++) s += load<f32>(wp + (<usize>k << 2)) * load<f32>(xT + <usize>k * ldx + (<usize>b << 2));
    store<f32>(yp, s);
  }
}

// ---- layout change ----------------------------------------------------------------------------

/** Block edge of the transpose: 16×16 floats (1 KiB) of source and destination stay in L1. */
const TB: i32 = 16;

/**
 * dst[c, r] = src[r, c] for src [rows, cols] row-major: converts batch-major activations
 * [B, features] to the batch-contiguous Xᵀ [features, B] the batched kernels take, and back.
 */
export function transpose_f32(rows: i32, cols: i32, src: usize, dst: usize): void {
  const lds = <usize>cols << 2;
  const ldd = <usize>rows << 2;
  for (let r0 = 0; r0 < rows; r0 += TB) {
    const r1 = min(r0 + TB, rows);
    for (let c0 = 0; c0 < cols; c0 += TB) {
      const c1 = min(c0 + TB, cols);
      for (let r = r0; r < r1; r++) {
        const s = src + <usize>r * lds;
        const d = dst + (<usize>r << 2);
        for (let c = c0; c < c1; c++) store<f32>(d + <usize>c * ldd, load<f32>(s + (<usize>c << 2)));
      }
    }
  }
}

// ---- benchmark probe --------------------------------------------------------------------------

/**
 * Σ of `n` floats at p (n a multiple of 16 in the SIMD modules) with four independent
 * accumulators: a pure streaming read, so the inference benchmark can measure the read
 * bandwidth of a working set the size of a layer's values + indices.
 */
export function read_f32(n: i32, p: usize): f32 {
  let s: f32 = 0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    let a0 = f32x4.splat(0);
    let a1 = a0, a2 = a0, a3 = a0;
    for (; i + 16 <= n; i += 16) {
      const q = p + (<usize>i << 2);
      a0 = f32x4.add(a0, v128.load(q));
      a1 = f32x4.add(a1, v128.load(q, 16));
      a2 = f32x4.add(a2, v128.load(q, 32));
      a3 = f32x4.add(a3, v128.load(q, 48));
    }
    const a = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
    s = f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3);
  }
  for (; i < n; i++) s += load<f32>(p + (<usize>i << 2));
  return s;
}
