// Dense GEMM: C[M,N] (+)= op(A) · op(B) in three storage forms (NN, TN, NT).
//
// Structure (BLIS-like): B is packed, one KC×NC block at a time, into k-major panels of NR
// columns (zero-padded at the right edge) in the calling thread's scratch area; A is read in
// place through a (row stride, k stride) pair, which covers both A[M,K] and A stored [K,M]
// without packing (packing A into MR-row panels measured no faster). An MR×NR
// register-blocked microkernel then walks the panels.
//
// Threads split the output into column ranges (see jobs.ts). Every output element is produced
// by one lane of one microkernel with the same sequence of multiply-adds over k whatever the
// split (the MR-row and 1-row kernels do identical per-element work, and C round-trips through
// memory exactly between KC blocks), so results are bit-identical for any thread count.

import { madd } from './simd';

/**
 * Rows of the register tile. 4×8 (8 accumulators, 2 B vectors, 4 broadcasts = 14 of V8's 15
 * allocatable xmm registers) measured ~1.8× faster than 6×8: V8 hoists all broadcast loads to
 * the top of the loop body, so 6×8 needs 20 live vectors and spills accumulators every step.
 */
const MR: i32 = ASC_FEATURE_SIMD ? 4 : 1;
/** Columns of the register tile (two v128 vectors). */
const NR: i32 = 8;
/** Depth of a packed block: KC·NR·4 bytes of a B panel stay in L1 while the rows stream. */
const KC: i32 = 256;
/** Width of a packed block: KC·NC·4 = 256 KiB of B stays in L2. */
const NC: i32 = 256;
/** Rows per L2 pass over the packed block. */
const MC: i32 = 72;
const PACK_BYTES: usize = <usize>KC * <usize>NC * 4;
/** Room for an MR×NR edge tile after the packed block. */
const EDGE_BYTES: usize = 64 * 4 * 4;

/** Bytes of per-thread scratch `gemm_f32` needs. */
export function gemm_scratch_bytes(): usize {
  return PACK_BYTES + EDGE_BYTES;
}

/** Register tile as MR·100 + NR (for the variant table). */
export function gemm_tile(): i32 {
  return MR * 100 + NR;
}

/**
 * Rows [r0, r1) × columns [j0, j1) of C (+)= op(A)·op(B). form: 0 = NN (A[M,K], B[K,N]),
 * 1 = TN (A[K,M]), 2 = NT (B[N,K]). j0 must be a multiple of NR (the split never moves the
 * panel grid). `scratch` is gemm_scratch_bytes() bytes owned by the calling thread.
 */
export function gemm_f32(form: i32, M: i32, N: i32, K: i32, a: usize, b: usize, c: usize, acc: i32, r0: i32, r1: i32, j0: i32, j1: i32, scratch: usize): void {
  if (r0 >= r1 || j0 >= j1) return;
  const ldc = <usize>N << 2;
  if (K <= 0) {
    if (!acc) {
      for (let i = r0; i < r1; i++) memory.fill(c + <usize>i * ldc + (<usize>j0 << 2), 0, <usize>(j1 - j0) << 2);
    }
    return;
  }
  const rsA: usize = form == 1 ? 4 : <usize>K << 2;
  const ksA: usize = form == 1 ? <usize>M << 2 : 4;
  const ksB: usize = form == 2 ? 4 : <usize>N << 2;
  const jsB: usize = form == 2 ? <usize>K << 2 : 4;
  const edge = scratch + PACK_BYTES;
  for (let jc = j0; jc < j1; jc += NC) {
    const nc = min(NC, j1 - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      pack_b(b + <usize>pc * ksB + <usize>jc * jsB, ksB, jsB, kc, nc, scratch);
      const keep = acc != 0 || pc > 0;
      for (let ic = r0; ic < r1; ic += MC) {
        const mc = min(MC, r1 - ic);
        const ap = a + <usize>ic * rsA + <usize>pc * ksA;
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const bp = scratch + (<usize>jr * <usize>kc << 2);
          const cp = c + <usize>ic * ldc + (<usize>(jc + jr) << 2);
          if (nr == NR) {
            block(mc, kc, ap, rsA, ksA, bp, cp, ldc, keep);
          } else {
            // Right edge: run full-width tiles on a zero-padded copy, then keep nr columns.
            for (let i = 0; i < mc; i += MR) {
              const mr = min(MR, mc - i);
              const ci = cp + <usize>i * ldc;
              copy_tile(mr, nr, ci, ldc, edge, NR << 2, keep);
              block(mr, kc, ap + <usize>i * rsA, rsA, ksA, bp, edge, NR << 2, keep);
              copy_tile(mr, nr, edge, NR << 2, ci, ldc, true);
            }
          }
        }
      }
    }
  }
}

/** mc rows of one panel: MR-row tiles, then single rows. */
@inline
function block(mc: i32, kc: i32, a: usize, rsA: usize, ksA: usize, b: usize, c: usize, ldc: usize, keep: bool): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + MR <= mc; i += MR) kernel_4x8(kc, a + <usize>i * rsA, rsA, ksA, b, c + <usize>i * ldc, ldc, keep);
  }
  for (; i < mc; i++) kernel_1x8(kc, a + <usize>i * rsA, ksA, b, c + <usize>i * ldc, keep);
}

/** Copies an mr×nr tile; when `keep` is false the destination's first nr columns are zeroed instead. */
function copy_tile(mr: i32, nr: i32, src: usize, lds: usize, dst: usize, ldd: usize, keep: bool): void {
  for (let i = 0; i < mr; i++) {
    for (let j = 0; j < nr; j++) {
      const v: f32 = keep ? load<f32>(src + <usize>i * lds + (<usize>j << 2)) : 0;
      store<f32>(dst + <usize>i * ldd + (<usize>j << 2), v);
    }
  }
}

/**
 * Packs a kc×nc block of B (element (k, j) at b + k·ks + j·js) into panels of NR columns,
 * each kc×NR contiguous (k-major), zero-padding the last panel.
 */
function pack_b(b: usize, ks: usize, js: usize, kc: i32, nc: i32, dst: usize): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = min(NR, nc - jr);
    const panel = dst + (<usize>jr * <usize>kc << 2);
    const bj = b + <usize>jr * js;
    if (ASC_FEATURE_SIMD && js == 4 && nr == NR) {
      for (let k = 0; k < kc; k++) {
        const src = bj + <usize>k * ks;
        const d = panel + (<usize>k << 5);
        v128.store(d, v128.load(src));
        v128.store(d, v128.load(src, 16), 16);
      }
    } else if (ASC_FEATURE_SIMD && ks == 4 && nr == NR) {
      // Transposed source (NT): 8 columns × 4 k at a time through two 4×4 transposes.
      let k = 0;
      for (; k + 4 <= kc; k += 4) {
        const src = bj + (<usize>k << 2);
        const d = panel + (<usize>k << 5);
        transpose_store(src, js, d);
        transpose_store(src + js * 4, js, d + 16);
      }
      for (; k < kc; k++) {
        const src = bj + (<usize>k << 2);
        const d = panel + (<usize>k << 5);
        for (let j = 0; j < NR; j++) store<f32>(d + (<usize>j << 2), load<f32>(src + <usize>j * js));
      }
    } else {
      // Column by column so a transposed source (ks == 4) is read sequentially.
      for (let j = 0; j < NR; j++) {
        const d = panel + (<usize>j << 2);
        if (j < nr) {
          const src = bj + <usize>j * js;
          for (let k = 0; k < kc; k++) store<f32>(d + (<usize>k << 5), load<f32>(src + <usize>k * ks));
        } else {
          for (let k = 0; k < kc; k++) store<f32>(d + (<usize>k << 5), 0);
        }
      }
    }
  }
}

/**
 * Reads 4 k-contiguous values from each of 4 columns (column j at src + j·js) and stores them
 * k-major: 4 vectors of 4 columns, 32 bytes apart (one panel row each).
 */
@inline
function transpose_store(src: usize, js: usize, d: usize): void {
  const r0 = v128.load(src), r1 = v128.load(src + js), r2 = v128.load(src + js * 2), r3 = v128.load(src + js * 3);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(d, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(d, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 32);
  v128.store(d, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 64);
  v128.store(d, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 96);
}

/** One row of C (8 columns) over kc steps of a packed panel. */
@inline
function kernel_1x8(kc: i32, a: usize, ksA: usize, b: usize, c: usize, keep: bool): void {
  if (ASC_FEATURE_SIMD) {
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
    if (keep) { c0 = v128.load(c); c1 = v128.load(c, 16); }
    for (let k = 0; k < kc; k++) {
      const x = v128.load32_splat(a);
      c0 = madd(x, v128.load(b), c0);
      c1 = madd(x, v128.load(b, 16), c1);
      a += ksA; b += 32;
    }
    v128.store(c, c0); v128.store(c, c1, 16);
  } else {
    let c0: f32 = 0, c1: f32 = 0, c2: f32 = 0, c3: f32 = 0, c4: f32 = 0, c5: f32 = 0, c6: f32 = 0, c7: f32 = 0;
    if (keep) {
      c0 = load<f32>(c); c1 = load<f32>(c, 4); c2 = load<f32>(c, 8); c3 = load<f32>(c, 12);
      c4 = load<f32>(c, 16); c5 = load<f32>(c, 20); c6 = load<f32>(c, 24); c7 = load<f32>(c, 28);
    }
    for (let k = 0; k < kc; k++) {
      const x = load<f32>(a);
      c0 += x * load<f32>(b); c1 += x * load<f32>(b, 4); c2 += x * load<f32>(b, 8); c3 += x * load<f32>(b, 12);
      c4 += x * load<f32>(b, 16); c5 += x * load<f32>(b, 20); c6 += x * load<f32>(b, 24); c7 += x * load<f32>(b, 28);
      a += ksA; b += 32;
    }
    store<f32>(c, c0); store<f32>(c, c1, 4); store<f32>(c, c2, 8); store<f32>(c, c3, 12);
    store<f32>(c, c4, 16); store<f32>(c, c5, 20); store<f32>(c, c6, 24); store<f32>(c, c7, 28);
  }
}

/** Four rows × 8 columns: 8 v128 accumulators, 2 B vectors, 4 broadcasts (14 of 15 xmm). */
@inline
function kernel_4x8(kc: i32, a: usize, rsA: usize, ksA: usize, b: usize, c: usize, ldc: usize, keep: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const r1 = c + ldc, r2 = r1 + ldc, r3 = r2 + ldc;
  if (keep) {
    c00 = v128.load(c); c01 = v128.load(c, 16);
    c10 = v128.load(r1); c11 = v128.load(r1, 16);
    c20 = v128.load(r2); c21 = v128.load(r2, 16);
    c30 = v128.load(r3); c31 = v128.load(r3, 16);
  }
  const d1 = rsA, d2 = rsA * 2, d3 = rsA * 3;
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    let x = v128.load32_splat(a);
    c00 = madd(x, b0, c00); c01 = madd(x, b1, c01);
    x = v128.load32_splat(a + d1);
    c10 = madd(x, b0, c10); c11 = madd(x, b1, c11);
    x = v128.load32_splat(a + d2);
    c20 = madd(x, b0, c20); c21 = madd(x, b1, c21);
    x = v128.load32_splat(a + d3);
    c30 = madd(x, b0, c30); c31 = madd(x, b1, c31);
    a += ksA; b += 32;
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(r1, c10); v128.store(r1, c11, 16);
  v128.store(r2, c20); v128.store(r2, c21, 16);
  v128.store(r3, c30); v128.store(r3, c31, 16);
}
