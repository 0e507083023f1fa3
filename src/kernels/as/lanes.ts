// Range kernels for the thread pool (ThreadPool.rows): each computes one part of a call, so a
// call can split over threads by the part its data lives in. Sparse training's activations are
// batch-contiguous (Xᵀ [features, n]); a part of the batch ("lanes" [b0, b1)) is what a thread
// keeps in its own cache from one layer to the next, so the forward pass and the input gradient
// split by lanes rather than by rows (which would make every thread read every lane, pulling the
// other core's lanes across). Every element is computed by the same code in the same order as by
// the whole-call kernels in sparse-train.ts, ops.ts, transformer.ts and condensed.ts, given that
// a part starts at a multiple of 16 elements (lanes) and ends at one or at the end: results are
// bit-identical for any split.
import { forwardRowLanes, inputGradColLanes, LANE_BLOCK } from './sparse-train';
import { add_bias_rows_f32, mul_f32, relu_backward_f32, relu_forward_f32, sgd_step_f32 } from './ops';
import { gelu_backward_f32, gelu_forward_f32, layer_norm_forward_f32, softmax_rows_backward_f32, softmax_rows_f32 } from './transformer';

@inline function f32At(p: usize, i: i32): usize { return p + (<usize>i << 2); }

/** Block edge of the transposes: 16×16 floats (1 KiB) of source and destination stay in L1. */
const TB: i32 = 16;

/** dst[c, r] = src[r, c] for src [rows, cols] and source rows r ∈ [r0, r1) (destination columns). */
export function transpose_src_rows_f32(r0: i32, r1: i32, rows: i32, cols: i32, src: usize, dst: usize): void {
  const lds = <usize>cols << 2;
  const ldd = <usize>rows << 2;
  for (let a0 = r0; a0 < r1; a0 += TB) {
    const a1 = min(a0 + TB, r1);
    for (let c0 = 0; c0 < cols; c0 += TB) {
      const c1 = min(c0 + TB, cols);
      for (let r = a0; r < a1; r++) {
        const s = src + <usize>r * lds;
        const d = dst + (<usize>r << 2);
        for (let c = c0; c < c1; c++) store<f32>(d + <usize>c * ldd, load<f32>(s + (<usize>c << 2)));
      }
    }
  }
}

/** dst[c, r] = src[r, c] for src [rows, cols] and destination rows c ∈ [c0, c1) (source columns). */
export function transpose_dst_rows_f32(c0: i32, c1: i32, rows: i32, cols: i32, src: usize, dst: usize): void {
  const lds = <usize>cols << 2;
  const ldd = <usize>rows << 2;
  for (let r0 = 0; r0 < rows; r0 += TB) {
    const r1 = min(r0 + TB, rows);
    for (let a0 = c0; a0 < c1; a0 += TB) {
      const a1 = min(a0 + TB, c1);
      for (let r = r0; r < r1; r++) {
        const s = src + <usize>r * lds;
        const d = dst + (<usize>r << 2);
        for (let c = a0; c < a1; c++) store<f32>(d + <usize>c * ldd, load<f32>(s + (<usize>c << 2)));
      }
    }
  }
}

/**
 * Lanes [l0, l1) of sparse_rows_forward_f32 (every row): Yᵀ[j, b] = Σ_t W[t]·Xᵀ[col[t], b].
 * Per lane the same path (16, 4 or 1 lanes at a time) and order as the whole call.
 */
export function sparse_rows_forward_lanes_f32(l0: i32, l1: i32, rows: i32, n: i32, rowPtr: usize, col: usize, W: usize, xT: usize, yT: usize): void {
  const ldx = <usize>n << 2;
  for (let b0 = l0; b0 < l1; b0 += LANE_BLOCK) {
    const b1 = min(l1, b0 + LANE_BLOCK);
    for (let j = 0; j < rows; j++) forwardRowLanes(j, b0, b1, ldx, rowPtr, col, W, xT, yT);
  }
}

/**
 * Lanes [l0, l1) of sparse_cols_input_grad_f32 (every input i < cols):
 * dXᵀ[i, b] = Σ_e W[wPos[e]]·dYᵀ[rowIdx[e], b], e ascending; the same per-lane path as the whole call.
 */
export function sparse_cols_input_grad_lanes_f32(l0: i32, l1: i32, cols: i32, n: i32, colPtr: usize, rowIdx: usize, wPos: usize, W: usize, dyT: usize, dxT: usize): void {
  const ldx = <usize>n << 2;
  for (let b0 = l0; b0 < l1; b0 += LANE_BLOCK) {
    const b1 = min(l1, b0 + LANE_BLOCK);
    for (let i = 0; i < cols; i++) inputGradColLanes(i, b0, b1, ldx, colPtr, rowIdx, wPos, W, dyT, dxT);
  }
}

// Elementwise kernels over elements [i0, i1) (rows [r0, r1) for the bias): the whole-call kernel
// on a sub-range. With i0 a multiple of 4 each element takes the same path (v128 or scalar tail)
// as in the whole call.

export function relu_forward_range_f32(i0: i32, i1: i32, x: usize, y: usize): void {
  relu_forward_f32(i1 - i0, f32At(x, i0), f32At(y, i0));
}

export function relu_backward_range_f32(i0: i32, i1: i32, y: usize, dy: usize, dx: usize): void {
  relu_backward_f32(i1 - i0, f32At(y, i0), f32At(dy, i0), f32At(dx, i0));
}

export function mul_range_f32(i0: i32, i1: i32, a: usize, b: usize, y: usize): void {
  mul_f32(i1 - i0, f32At(a, i0), f32At(b, i0), f32At(y, i0));
}

export function sgd_step_range_f32(i0: i32, i1: i32, w: usize, g: usize, m: usize, lr: f32, mu: f32, wd: f32, nesterov: i32): void {
  sgd_step_f32(i1 - i0, f32At(w, i0), f32At(g, i0), f32At(m, i0), lr, mu, wd, nesterov);
}

export function add_bias_rows_range_f32(r0: i32, r1: i32, N: i32, y: usize, bias: usize): void {
  add_bias_rows_f32(r1 - r0, N, y + <usize>r0 * (<usize>N << 2), bias);
}

export function gelu_forward_range_f32(i0: i32, i1: i32, x: usize, y: usize): void {
  gelu_forward_f32(i1 - i0, f32At(x, i0), f32At(y, i0));
}

export function gelu_backward_range_f32(i0: i32, i1: i32, x: usize, dy: usize, dx: usize): void {
  gelu_backward_f32(i1 - i0, f32At(x, i0), f32At(dy, i0), f32At(dx, i0));
}

// Row kernels over rows [r0, r1): each row is computed whole by one thread, as in the whole call.

export function softmax_rows_range_f32(r0: i32, r1: i32, N: i32, alpha: f32, x: usize, y: usize): void {
  const off = <usize>r0 * (<usize>N << 2);
  softmax_rows_f32(r1 - r0, N, alpha, x + off, y + off);
}

export function softmax_rows_backward_range_f32(r0: i32, r1: i32, N: i32, alpha: f32, y: usize, dy: usize, dx: usize): void {
  const off = <usize>r0 * (<usize>N << 2);
  softmax_rows_backward_f32(r1 - r0, N, alpha, y + off, dy + off, dx + off);
}

export function layer_norm_forward_range_f32(r0: i32, r1: i32, N: i32, x: usize, gamma: usize, beta: usize, y: usize, mean: usize, invStd: usize, eps: f32): void {
  const off = <usize>r0 * (<usize>N << 2);
  layer_norm_forward_f32(r1 - r0, N, x + off, gamma, beta, y + off, f32At(mean, r0), f32At(invStd, r0), eps);
}
