// Unstructured CSR sparse kernels: the baseline the constant-fan-in kernels are measured against.
// Row r holds values[rowPtr[r] .. rowPtr[r+1]) at columns colIdx[same range] (u16 or u32);
// rowPtr is u32. They share the condensed kernels' row helpers, so the only difference
// measured is the format (per-row lengths and offsets instead of one constant k).
import { spmm_lane_units } from './condensed';
import { gatherDot8, axpyRow16, axpyRow8, axpyRow4, axpyRow1, packPanel16 } from './condensed-rows';

@inline
function spmvCsr<I>(r0: i32, r1: i32, rowPtr: usize, colIdx: usize, values: usize, bias: usize, x: usize, y: usize): void {
  for (let r = r0; r < r1; r++) {
    const p = <usize>load<u32>(rowPtr + (<usize>r << 2));
    const len = <i32>(load<u32>(rowPtr + (<usize>r << 2), 4) - <u32>p);
    const s = gatherDot8<I>(values + (p << 2), colIdx + p * sizeof<I>(), len, x);
    store<f32>(y + (<usize>r << 2), load<f32>(bias + (<usize>r << 2)) + s);
  }
}

/** Batch 1: y[r] = bias[r] + Σ values·x[colIdx] over row r, j unrolled by 8. */
export function spmv_csr_f32_u16_1x8(r0: i32, r1: i32, rowPtr: usize, colIdx: usize, values: usize, bias: usize, x: usize, y: usize): void {
  spmvCsr<u16>(r0, r1, rowPtr, colIdx, values, bias, x, y);
}
export function spmv_csr_f32_u32_1x8(r0: i32, r1: i32, rowPtr: usize, colIdx: usize, values: usize, bias: usize, x: usize, y: usize): void {
  spmvCsr<u32>(r0, r1, rowPtr, colIdx, values, bias, x, y);
}

/**
 * Batched in the batch-contiguous layout (Xᵀ [cols, n], Yᵀ [rows, n]) over lane units [u0, u1)
 * and rows [r0, r1), with the same lane units as the constant-fan-in kernel (condensed.ts): full
 * 16-lane tiles read from the panels pack_panels16_f32 wrote, then one unit for the lane tail.
 */
@inline
function spmmCsr<I>(u0: i32, u1: i32, r0: i32, r1: i32, cols: i32, n: i32, rowPtr: usize, colIdx: usize, values: usize, bias: usize, xT: usize, yT: usize, packed: usize, packOwn: bool): void {
  const ldx = <usize>n << 2;
  const tiles = ASC_FEATURE_SIMD ? n >> 4 : 0;
  for (let u = u0; u < u1; u++) {
    if (ASC_FEATURE_SIMD && u < tiles) {
      const panel = packed + <usize>u * <usize>cols * 64;
      // Split by lane units, each thread packs the panels of its own units.
      if (packOwn) packPanel16(cols, n, u << 4, xT, panel);
      const yb = yT + (<usize>u << 6);
      for (let r = r0; r < r1; r++) {
        const p = <usize>load<u32>(rowPtr + (<usize>r << 2));
        const len = <i32>(load<u32>(rowPtr + (<usize>r << 2), 4) - <u32>p);
        axpyRow16<I>(values + (p << 2), colIdx + p * sizeof<I>(), len, panel, 64, load<f32>(bias + (<usize>r << 2)), yb + <usize>r * ldx);
      }
      continue;
    }
    let b = tiles << 4;
    if (ASC_FEATURE_SIMD) {
      if (b + 8 <= n) {
        const xb = xT + (<usize>b << 2);
        const yb = yT + (<usize>b << 2);
        for (let r = r0; r < r1; r++) {
          const p = <usize>load<u32>(rowPtr + (<usize>r << 2));
          const len = <i32>(load<u32>(rowPtr + (<usize>r << 2), 4) - <u32>p);
          axpyRow8<I>(values + (p << 2), colIdx + p * sizeof<I>(), len, xb, ldx, load<f32>(bias + (<usize>r << 2)), yb + <usize>r * ldx);
        }
        b += 8;
      }
      for (; b + 4 <= n; b += 4) {
        const xb = xT + (<usize>b << 2);
        const yb = yT + (<usize>b << 2);
        for (let r = r0; r < r1; r++) {
          const p = <usize>load<u32>(rowPtr + (<usize>r << 2));
          const len = <i32>(load<u32>(rowPtr + (<usize>r << 2), 4) - <u32>p);
          axpyRow4<I>(values + (p << 2), colIdx + p * sizeof<I>(), len, xb, ldx, load<f32>(bias + (<usize>r << 2)), yb + <usize>r * ldx);
        }
      }
    }
    for (; b < n; b++) {
      const xb = xT + (<usize>b << 2);
      const yb = yT + (<usize>b << 2);
      for (let r = r0; r < r1; r++) {
        const p = <usize>load<u32>(rowPtr + (<usize>r << 2));
        const len = <i32>(load<u32>(rowPtr + (<usize>r << 2), 4) - <u32>p);
        axpyRow1<I>(values + (p << 2), colIdx + p * sizeof<I>(), len, xb, ldx, load<f32>(bias + (<usize>r << 2)), yb + <usize>r * ldx);
      }
    }
  }
}

export function spmm_csr_f32_u16_1x16(
  r0: i32, r1: i32, cols: i32, n: i32, rowPtr: usize, colIdx: usize, values: usize, bias: usize, xT: usize, yT: usize, packed: usize,
): void {
  spmmCsr<u16>(0, spmm_lane_units(n), r0, r1, cols, n, rowPtr, colIdx, values, bias, xT, yT, packed, false);
}
export function spmm_csr_f32_u32_1x16(
  r0: i32, r1: i32, cols: i32, n: i32, rowPtr: usize, colIdx: usize, values: usize, bias: usize, xT: usize, yT: usize, packed: usize,
): void {
  spmmCsr<u32>(0, spmm_lane_units(n), r0, r1, cols, n, rowPtr, colIdx, values, bias, xT, yT, packed, false);
}
export function spmm_csr_f32_u16_1x16_lanes(
  u0: i32, u1: i32, r0: i32, r1: i32, cols: i32, n: i32, rowPtr: usize, colIdx: usize, values: usize, bias: usize, xT: usize, yT: usize, packed: usize,
): void {
  spmmCsr<u16>(u0, u1, r0, r1, cols, n, rowPtr, colIdx, values, bias, xT, yT, packed, true);
}
export function spmm_csr_f32_u32_1x16_lanes(
  u0: i32, u1: i32, r0: i32, r1: i32, cols: i32, n: i32, rowPtr: usize, colIdx: usize, values: usize, bias: usize, xT: usize, yT: usize, packed: usize,
): void {
  spmmCsr<u32>(u0, u1, r0, r1, cols, n, rowPtr, colIdx, values, bias, xT, yT, packed, true);
}
