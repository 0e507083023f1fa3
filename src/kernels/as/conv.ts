// Convolution lowering (im2col / col2im) and max pooling over NCHW planes.

import { add_row } from './simd';

@inline function at(p: usize, i: i32): usize { return p + (<usize>i << 2); }

/** First output column whose input column ox·stride - pad + q lies inside [0, W). */
@inline function first_valid(q: i32, pad: i32, stride: i32): i32 {
  const d = pad - q;
  return d > 0 ? (d + stride - 1) / stride : 0;
}

/** One past the last output column with a valid input column, clamped to OW. */
@inline function end_valid(W: i32, q: i32, pad: i32, stride: i32, OW: i32): i32 {
  const d = W + pad - q - 1;
  return d >= 0 ? min(OW, d / stride + 1) : 0;
}

/** dst[i] = src[i] for i < n: inline, since rows here are short and a bulk-memory call costs more. */
@inline function copy_run(n: i32, dst: usize, src: usize): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) v128.store(at(dst, i), v128.load(at(src, i)));
  }
  for (; i < n; i++) store<f32>(at(dst, i), load<f32>(at(src, i)));
}

/** dst[i] = 0 for i < n. */
@inline function zero_run(n: i32, dst: usize): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const z = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) v128.store(at(dst, i), z);
  }
  for (; i < n; i++) store<f32>(at(dst, i), 0);
}

/**
 * The OH rows of length OW that kernel offset (p, q) contributes to one column-matrix row, from
 * one input plane (zero where the window hangs over the padding).
 */
@inline function unfold_plane(H: i32, W: i32, stride: i32, pad: i32, p: i32, q: i32, OH: i32, OW: i32, plane: usize, dst: usize): void {
  const hi = end_valid(W, q, pad, stride, OW);
  const lo = min(first_valid(q, pad, stride), hi);
  // Rows whose input row iy = oy·stride - pad + p lies inside the plane.
  const oy0 = min(OH, p >= pad ? 0 : (pad - p + stride - 1) / stride);
  const oy1 = max(oy0, H + pad - p > 0 ? min(OH, (H + pad - p - 1) / stride + 1) : 0);
  zero_run(oy0 * OW, dst);
  zero_run((OH - oy1) * OW, at(dst, oy1 * OW));
  if (oy0 == oy1) return;
  if (stride == 1 && OW == W) {
    // Output and input rows have the same length, so the valid rows are one shifted run of the
    // plane; the elements that wrapped round a row edge are then zeroed.
    const first = oy0 * OW + lo, last = (oy1 - 1) * OW + hi;
    copy_run(last - first, at(dst, first), at(plane, (oy0 - pad + p) * W + lo + q - pad));
    for (let oy = oy0; oy < oy1; oy++) {
      const r = at(dst, oy * OW);
      for (let ox = 0; ox < lo; ox++) store<f32>(at(r, ox), 0);
      for (let ox = hi; ox < OW; ox++) store<f32>(at(r, ox), 0);
    }
    return;
  }
  for (let oy = oy0; oy < oy1; oy++) {
    const r = at(dst, oy * OW);
    const src = plane + (<usize>((oy * stride - pad + p) * W + q - pad) << 2);
    zero_run(lo, r);
    if (stride == 1) {
      copy_run(hi - lo, at(r, lo), at(src, lo));
    } else {
      for (let ox = lo; ox < hi; ox++) store<f32>(at(r, ox), load<f32>(at(src, ox * stride)));
    }
    zero_run(OW - hi, at(r, hi));
  }
}

/** The adjoint of unfold_plane: adds the OH×OW block at `src` into one input-gradient plane. */
@inline function fold_plane(H: i32, W: i32, stride: i32, pad: i32, p: i32, q: i32, OH: i32, OW: i32, src: usize, plane: usize): void {
  const hi = end_valid(W, q, pad, stride, OW);
  const lo = min(first_valid(q, pad, stride), hi);
  for (let oy = 0; oy < OH; oy++) {
    const iy = oy * stride - pad + p;
    if (iy >= 0 && iy < H) {
      const d = plane + (<usize>(iy * W + q - pad) << 2);
      if (stride == 1) {
        add_row(hi - lo, at(d, lo), at(src, lo));
      } else {
        for (let ox = lo; ox < hi; ox++) store<f32>(at(d, ox * stride), load<f32>(at(d, ox * stride)) + load<f32>(at(src, ox)));
      }
    }
    src = at(src, OW);
  }
}

export function im2col_f32(C: i32, H: i32, W: i32, kh: i32, kw: i32, stride: i32, pad: i32, x: usize, col: usize): void {
  const OH = (H + 2 * pad - kh) / stride + 1, OW = (W + 2 * pad - kw) / stride + 1;
  let dst = col;
  for (let c = 0; c < C; c++) for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) {
    unfold_plane(H, W, stride, pad, p, q, OH, OW, x + (<usize>(c * H * W) << 2), dst);
    dst = at(dst, OH * OW);
  }
}

export function col2im_f32(C: i32, H: i32, W: i32, kh: i32, kw: i32, stride: i32, pad: i32, col: usize, dx: usize): void {
  const OH = (H + 2 * pad - kh) / stride + 1, OW = (W + 2 * pad - kw) / stride + 1;
  let src = col;
  for (let c = 0; c < C; c++) for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) {
    fold_plane(H, W, stride, pad, p, q, OH, OW, src, dx + (<usize>(c * H * W) << 2));
    src = at(src, OH * OW);
  }
}

/**
 * Unfolds B images X[B,C,H,W] into col[C·kh·kw, B·OH·OW] (image b's columns at b·OH·OW).
 * Image-plane outer, kernel offsets inner: each input plane is read kh·kw times while it is hot.
 */
export function im2col_batch_f32(B: i32, C: i32, H: i32, W: i32, kh: i32, kw: i32, stride: i32, pad: i32, x: usize, col: usize): void {
  const OH = (H + 2 * pad - kh) / stride + 1, OW = (W + 2 * pad - kw) / stride + 1;
  const S = OH * OW;
  const rowBytes = <usize>B * <usize>S << 2;
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) {
    const plane = x + (<usize>(b * C + c) * <usize>(H * W) << 2);
    let dst = col + <usize>(c * kh * kw) * rowBytes + (<usize>(b * S) << 2);
    for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) {
      unfold_plane(H, W, stride, pad, p, q, OH, OW, plane, dst);
      dst += rowBytes;
    }
  }
}

/** dX[B,C,H,W] = fold(col[C·kh·kw, B·OH·OW]), the adjoint of im2col_batch_f32; dX is overwritten. */
export function col2im_batch_f32(B: i32, C: i32, H: i32, W: i32, kh: i32, kw: i32, stride: i32, pad: i32, col: usize, dx: usize): void {
  const OH = (H + 2 * pad - kh) / stride + 1, OW = (W + 2 * pad - kw) / stride + 1;
  const S = OH * OW;
  const rowBytes = <usize>B * <usize>S << 2;
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) {
    const plane = dx + (<usize>(b * C + c) * <usize>(H * W) << 2);
    memory.fill(plane, 0, <usize>(H * W) << 2);
    let src = col + <usize>(c * kh * kw) * rowBytes + (<usize>(b * S) << 2);
    for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) {
      fold_plane(H, W, stride, pad, p, q, OH, OW, src, plane);
      src += rowBytes;
    }
  }
}

/** Y[j,i,:] = X[i,j,:] for X of shape [A, Bn, S]: swaps the two outer axes, moving S-float runs. */
export function swap_axes_f32(A: i32, Bn: i32, S: i32, x: usize, y: usize): void {
  const run = <usize>S << 2;
  for (let i = 0; i < A; i++) for (let j = 0; j < Bn; j++) {
    memory.copy(y + <usize>(j * A + i) * run, x + <usize>(i * Bn + j) * run, run);
  }
}

/** Whether candidate v replaces the running best: larger, or the first NaN (so NaNs propagate). */
@inline function wins(v: f32, best: f32): bool {
  return v > best || (isNaN(v) && !isNaN(best));
}

/** Lane-wise `wins` as a mask. */
@inline function wins4(v: v128, best: v128): v128 {
  return v128.or(f32x4.gt(v, best), v128.andnot(f32x4.ne(v, v), f32x4.ne(best, best)));
}

/** Windows oy, ox in [ox0, OW) of one plane: the general k×k, any-stride path. */
@inline function pool_row(W: i32, k: i32, stride: i32, oy: i32, ox0: i32, OW: i32, plane: usize, y: usize, argmax: usize): void {
  for (let ox = ox0; ox < OW; ox++) {
    let best: f32 = -Infinity;
    let bi = 0;
    for (let p = 0; p < k; p++) for (let q = 0; q < k; q++) {
      const idx = (oy * stride + p) * W + ox * stride + q;
      const v = load<f32>(at(plane, idx));
      const w = wins(v, best);
      best = select<f32>(v, best, w);
      bi = select<i32>(idx, bi, w);
    }
    store<f32>(at(y, ox), best);
    store<i32>(at(argmax, ox), bi);
  }
}

export function max_pool_forward_f32(P: i32, H: i32, W: i32, k: i32, stride: i32, x: usize, y: usize, argmax: usize): void {
  const OH = (H - k) / stride + 1, OW = (W - k) / stride + 1;
  // 2×2 windows at stride 2, four outputs at a time: even and odd input columns of both rows
  // are deinterleaved and compared in window order, which keeps the reference's tie and NaN rule.
  const fast = ASC_FEATURE_SIMD && k == 2 && stride == 2;
  const ox4 = fast ? OW & ~3 : 0;
  for (let pl = 0; pl < P; pl++) {
    const plane = x + (<usize>pl * <usize>(H * W) << 2);
    for (let oy = 0; oy < OH; oy++) {
      const yr = y + (<usize>(pl * OH + oy) * <usize>OW << 2);
      const ar = argmax + (<usize>(pl * OH + oy) * <usize>OW << 2);
      if (ASC_FEATURE_SIMD) {
        const r0 = plane + (<usize>(2 * oy * W) << 2), r1 = r0 + (<usize>W << 2);
        for (let ox = 0; ox < ox4; ox += 4) {
          const a0 = v128.load(at(r0, 2 * ox)), a1 = v128.load(at(r0, 2 * ox + 4));
          const b0 = v128.load(at(r1, 2 * ox)), b1 = v128.load(at(r1, 2 * ox + 4));
          const i00 = i32x4.add(i32x4.splat(2 * oy * W + 2 * ox), i32x4(0, 2, 4, 6));
          let best = i32x4.shuffle(a0, a1, 0, 2, 4, 6);
          let bi = i00;
          let v = i32x4.shuffle(a0, a1, 1, 3, 5, 7);
          let m = wins4(v, best);
          best = v128.bitselect(v, best, m);
          bi = v128.bitselect(i32x4.add(i00, i32x4.splat(1)), bi, m);
          v = i32x4.shuffle(b0, b1, 0, 2, 4, 6);
          m = wins4(v, best);
          best = v128.bitselect(v, best, m);
          bi = v128.bitselect(i32x4.add(i00, i32x4.splat(W)), bi, m);
          v = i32x4.shuffle(b0, b1, 1, 3, 5, 7);
          m = wins4(v, best);
          best = v128.bitselect(v, best, m);
          bi = v128.bitselect(i32x4.add(i00, i32x4.splat(W + 1)), bi, m);
          v128.store(at(yr, ox), best);
          v128.store(at(ar, ox), bi);
        }
      }
      pool_row(W, k, stride, oy, ox4, OW, plane, yr, ar);
    }
  }
}

export function max_pool_backward_f32(P: i32, H: i32, W: i32, k: i32, stride: i32, dy: usize, argmax: usize, dx: usize): void {
  const OH = (H - k) / stride + 1, OW = (W - k) / stride + 1;
  memory.fill(dx, 0, <usize>P * <usize>(H * W) << 2);
  let o = 0;
  for (let pl = 0; pl < P; pl++) {
    const plane = dx + (<usize>pl * <usize>(H * W) << 2);
    for (let j = 0; j < OH * OW; j++) {
      const d = at(plane, load<i32>(at(argmax, o)));
      store<f32>(d, load<f32>(d) + load<f32>(at(dy, o)));
      o++;
    }
  }
}
