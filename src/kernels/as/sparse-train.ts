// Sparse training kernels: a layer's active weights, listed per output row in CSR form
// (rowPtr i32 [rows+1], col i32 ascending within a row), are stored compact: value t of the
// list is W[t] and its gradient G[t], so a row's weights are contiguous and no dense weight,
// gradient or optimizer state exists. Activations are batch-contiguous (Xᵀ [cols, n],
// Yᵀ [rows, n]): a weight is loaded once and applied to all n batch lanes with contiguous SIMD loads.
//
//   forward      Yᵀ[j, :] = Σ_t W[t] · Xᵀ[col[t], :]                   rows [r0, r1)
//   weight grad  G[t] = Σ_b dYᵀ[j, b] · Xᵀ[col[t], b]                   rows [r0, r1)
//   input grad   dXᵀ[i, :] = Σ_{j reading i} W[t(j, i)] · dYᵀ[j, :]   inputs [i0, i1), from
//                the transposed (CSC) lists built once per topology: a gather with register
//                accumulators, measured ~1.6× faster than scattering each weight's dYᵀ row
//
// Rows (of the output, or for the input gradient of dXᵀ) split over threads, and each output element is
// computed by the same code in the same order whatever the split: results are bit-identical
// for any thread count. With a constant fan-in (SRigL) rowPtr[j] = j·k; an ablated neuron is
// an empty row.
import { madd } from './simd';

@inline function f32At(p: usize, i: i32): usize { return p + (<usize>i << 2); }

/**
 * Lanes per block: every kernel walks the lanes in blocks of this many (a multiple of 16), so a
 * convolution's column matrix (B·OH·OW lanes per row) is read one L2-sized block at a time; the
 * mlp's batch of ≤ 256 is one block. The weight gradient sums a block's partial dot products in
 * block order.
 */
export const LANE_BLOCK: i32 = 256;

/** Rows [r0, r1) of Yᵀ, lane block by lane block; per row 16 lanes at a time (then 4, then 1), by t over the row's weights. */
export function sparse_rows_forward_f32(r0: i32, r1: i32, n: i32, rowPtr: usize, col: usize, W: usize, xT: usize, yT: usize): void {
  const ldx = <usize>n << 2;
  for (let b0 = 0; b0 < n; b0 += LANE_BLOCK) {
    const b1 = min(n, b0 + LANE_BLOCK);
    for (let j = r0; j < r1; j++) forwardRowLanes(j, b0, b1, ldx, rowPtr, col, W, xT, yT);
  }
}

/**
 * Yᵀ[j, b0..b1) of the forward pass: 16 lanes at a time, then 4, then 1, each lane summing over
 * t in order. Shared by the row-split kernel above and the lane-split one (lanes.ts), so a lane
 * gets the same arithmetic whichever way a call splits (when parts start at multiples of 16).
 */
@inline
export function forwardRowLanes(j: i32, b0: i32, b1: i32, ldx: usize, rowPtr: usize, col: usize, W: usize, xT: usize, yT: usize): void {
  const t0 = load<i32>(f32At(rowPtr, j)), t1 = load<i32>(f32At(rowPtr, j + 1));
  const y = yT + <usize>j * ldx;
  let b = b0;
  if (ASC_FEATURE_SIMD) {
    for (; b + 16 <= b1; b += 16) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      const xb = xT + (<usize>b << 2);
      for (let t = t0; t < t1; t++) {
        const c = load<i32>(f32At(col, t));
        const w = f32x4.splat(load<f32>(f32At(W, t)));
        const xp = xb + <usize>c * ldx;
        a0 = madd(w, v128.load(xp), a0);
        a1 = madd(w, v128.load(xp, 16), a1);
        a2 = madd(w, v128.load(xp, 32), a2);
        a3 = madd(w, v128.load(xp, 48), a3);
      }
      const yp = y + (<usize>b << 2);
      v128.store(yp, a0);
      v128.store(yp, a1, 16);
      v128.store(yp, a2, 32);
      v128.store(yp, a3, 48);
    }
    for (; b + 4 <= b1; b += 4) {
      let a0 = f32x4.splat(0);
      const xb = xT + (<usize>b << 2);
      for (let t = t0; t < t1; t++) {
        const c = load<i32>(f32At(col, t));
        a0 = madd(f32x4.splat(load<f32>(f32At(W, t))), v128.load(xb + <usize>c * ldx), a0);
      }
      v128.store(y + (<usize>b << 2), a0);
    }
  }
  for (; b < b1; b++) {
    let s: f32 = 0;
    const xb = xT + (<usize>b << 2);
    for (let t = t0; t < t1; t++) {
      const c = load<i32>(f32At(col, t));
      s += load<f32>(f32At(W, t)) * load<f32>(xb + <usize>c * ldx);
    }
    store<f32>(y + (<usize>b << 2), s);
  }
}

/** Σ_b a[b]·x[b] over n lanes: 16 lanes per step in four accumulators, then 4, then 1. */
@inline
function laneDot(n: i32, a: usize, x: usize): f32 {
  let b = 0;
  let s: f32 = 0;
  if (ASC_FEATURE_SIMD) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (; b + 16 <= n; b += 16) {
      const ap = a + (<usize>b << 2), xp = x + (<usize>b << 2);
      a0 = madd(v128.load(ap), v128.load(xp), a0);
      a1 = madd(v128.load(ap, 16), v128.load(xp, 16), a1);
      a2 = madd(v128.load(ap, 32), v128.load(xp, 32), a2);
      a3 = madd(v128.load(ap, 48), v128.load(xp, 48), a3);
    }
    for (; b + 4 <= n; b += 4) a0 = madd(v128.load(a + (<usize>b << 2)), v128.load(x + (<usize>b << 2)), a0);
    const acc = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
    s = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  }
  for (; b < n; b++) s += load<f32>(a + (<usize>b << 2)) * load<f32>(x + (<usize>b << 2));
  return s;
}

export function sparse_rows_weight_grad_f32(r0: i32, r1: i32, n: i32, rowPtr: usize, col: usize, G: usize, dyT: usize, xT: usize): void {
  const ldx = <usize>n << 2;
  for (let b0 = 0; b0 < n; b0 += LANE_BLOCK) {
    const b1 = min(n, b0 + LANE_BLOCK);
    const first = b0 == 0;
    const lane0 = <usize>b0 << 2;
    for (let j = r0; j < r1; j++) {
      const t0 = load<i32>(f32At(rowPtr, j)), t1 = load<i32>(f32At(rowPtr, j + 1));
      const dy = dyT + <usize>j * ldx + lane0;
      let t = t0;
      if (ASC_FEATURE_SIMD) {
        // Four weights at a time: each dYᵀ load feeds four FMAs, four independent chains.
        const w4 = (b1 - b0) & ~3;
        for (; t + 4 <= t1; t += 4) {
          const c0 = load<i32>(f32At(col, t)), c1 = load<i32>(f32At(col, t + 1)), c2 = load<i32>(f32At(col, t + 2)), c3 = load<i32>(f32At(col, t + 3));
          const x0 = xT + <usize>c0 * ldx + lane0, x1 = xT + <usize>c1 * ldx + lane0, x2 = xT + <usize>c2 * ldx + lane0, x3 = xT + <usize>c3 * ldx + lane0;
          let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
          for (let b = 0; b < w4; b += 4) {
            const o = <usize>b << 2;
            const d = v128.load(dy + o);
            a0 = madd(d, v128.load(x0 + o), a0);
            a1 = madd(d, v128.load(x1 + o), a1);
            a2 = madd(d, v128.load(x2 + o), a2);
            a3 = madd(d, v128.load(x3 + o), a3);
          }
          let s0 = (f32x4.extract_lane(a0, 0) + f32x4.extract_lane(a0, 1)) + (f32x4.extract_lane(a0, 2) + f32x4.extract_lane(a0, 3));
          let s1 = (f32x4.extract_lane(a1, 0) + f32x4.extract_lane(a1, 1)) + (f32x4.extract_lane(a1, 2) + f32x4.extract_lane(a1, 3));
          let s2 = (f32x4.extract_lane(a2, 0) + f32x4.extract_lane(a2, 1)) + (f32x4.extract_lane(a2, 2) + f32x4.extract_lane(a2, 3));
          let s3 = (f32x4.extract_lane(a3, 0) + f32x4.extract_lane(a3, 1)) + (f32x4.extract_lane(a3, 2) + f32x4.extract_lane(a3, 3));
          for (let b = w4; b < b1 - b0; b++) {
            const o = <usize>b << 2;
            const d = load<f32>(dy + o);
            s0 += d * load<f32>(x0 + o);
            s1 += d * load<f32>(x1 + o);
            s2 += d * load<f32>(x2 + o);
            s3 += d * load<f32>(x3 + o);
          }
          put(G, t + 0, s0, first);
          put(G, t + 1, s1, first);
          put(G, t + 2, s2, first);
          put(G, t + 3, s3, first);
        }
      }
      for (; t < t1; t++) {
        const c = load<i32>(f32At(col, t));
        put(G, t, laneDot(b1 - b0, dy, xT + <usize>c * ldx + lane0), first);
      }
    }
  }
}

/** g[t] = v on the first lane block, g[t] += v on the later ones. */
@inline function put(g: usize, t: i32, v: f32, first: bool): void {
  const p = f32At(g, t);
  store<f32>(p, first ? v : load<f32>(p) + v);
}

/**
 * The input gradient from the transposed lists (CSC: per input column i, the rows j that read
 * it, ascending, and wPos: each weight's index t in the compact W), rows i of dXᵀ in [i0, i1): each
 * 16-lane chunk of dXᵀ[i, :] accumulates in registers and is stored once. Every element sums
 * over j ascending.
 */
export function sparse_cols_input_grad_f32(i0: i32, i1: i32, n: i32, colPtr: usize, rowIdx: usize, wPos: usize, W: usize, dyT: usize, dxT: usize): void {
  const ldx = <usize>n << 2;
  for (let b0 = 0; b0 < n; b0 += LANE_BLOCK) {
    const b1 = min(n, b0 + LANE_BLOCK);
    for (let i = i0; i < i1; i++) inputGradColLanes(i, b0, b1, ldx, colPtr, rowIdx, wPos, W, dyT, dxT);
  }
}

/** dXᵀ[i, b0..b1) of the input gradient, every lane summing over e in order; shared with lanes.ts like forwardRowLanes. */
@inline
export function inputGradColLanes(i: i32, b0: i32, b1: i32, ldx: usize, colPtr: usize, rowIdx: usize, wPos: usize, W: usize, dyT: usize, dxT: usize): void {
  const e0 = load<i32>(f32At(colPtr, i)), e1 = load<i32>(f32At(colPtr, i + 1));
  const dx = dxT + <usize>i * ldx;
  let b = b0;
  if (ASC_FEATURE_SIMD) {
    for (; b + 16 <= b1; b += 16) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      const db = dyT + (<usize>b << 2);
      for (let e = e0; e < e1; e++) {
        const w = f32x4.splat(load<f32>(f32At(W, load<i32>(f32At(wPos, e)))));
        const dp = db + <usize>load<i32>(f32At(rowIdx, e)) * ldx;
        a0 = madd(w, v128.load(dp), a0);
        a1 = madd(w, v128.load(dp, 16), a1);
        a2 = madd(w, v128.load(dp, 32), a2);
        a3 = madd(w, v128.load(dp, 48), a3);
      }
      const o = dx + (<usize>b << 2);
      v128.store(o, a0);
      v128.store(o, a1, 16);
      v128.store(o, a2, 32);
      v128.store(o, a3, 48);
    }
    for (; b + 4 <= b1; b += 4) {
      let a0 = f32x4.splat(0);
      const db = dyT + (<usize>b << 2);
      for (let e = e0; e < e1; e++) {
        const w = f32x4.splat(load<f32>(f32At(W, load<i32>(f32At(wPos, e)))));
        a0 = madd(w, v128.load(db + <usize>load<i32>(f32At(rowIdx, e)) * ldx), a0);
      }
      v128.store(dx + (<usize>b << 2), a0);
    }
  }
  for (; b < b1; b++) {
    let s: f32 = 0;
    for (let e = e0; e < e1; e++) {
      s += load<f32>(f32At(W, load<i32>(f32At(wPos, e)))) * load<f32>(dyT + <usize>load<i32>(f32At(rowIdx, e)) * ldx + (<usize>b << 2));
    }
    store<f32>(dx + (<usize>b << 2), s);
  }
}
