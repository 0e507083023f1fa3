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

export function im2col_f32(C: i32, H: i32, W: i32, kh: i32, kw: i32, stride: i32, pad: i32, x: usize, col: usize): void {
  const OH = (H + 2 * pad - kh) / stride + 1, OW = (W + 2 * pad - kw) / stride + 1;
  let dst = col;
  for (let c = 0; c < C; c++) for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) {
    const lo = min(first_valid(q, pad, stride), end_valid(W, q, pad, stride, OW));
    const hi = end_valid(W, q, pad, stride, OW);
    for (let oy = 0; oy < OH; oy++) {
      const iy = oy * stride - pad + p;
      if (iy < 0 || iy >= H) {
        memory.fill(dst, 0, <usize>OW << 2);
      } else {
        const src = x + (<usize>((c * H + iy) * W + q - pad) << 2);
        memory.fill(dst, 0, <usize>lo << 2);
        if (stride == 1) {
          memory.copy(at(dst, lo), at(src, lo), <usize>(hi - lo) << 2);
        } else {
          for (let ox = lo; ox < hi; ox++) store<f32>(at(dst, ox), load<f32>(at(src, ox * stride)));
        }
        memory.fill(at(dst, hi), 0, <usize>(OW - hi) << 2);
      }
      dst = at(dst, OW);
    }
  }
}

export function col2im_f32(C: i32, H: i32, W: i32, kh: i32, kw: i32, stride: i32, pad: i32, col: usize, dx: usize): void {
  const OH = (H + 2 * pad - kh) / stride + 1, OW = (W + 2 * pad - kw) / stride + 1;
  let src = col;
  for (let c = 0; c < C; c++) for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) {
    const lo = min(first_valid(q, pad, stride), end_valid(W, q, pad, stride, OW));
    const hi = end_valid(W, q, pad, stride, OW);
    for (let oy = 0; oy < OH; oy++) {
      const iy = oy * stride - pad + p;
      if (iy >= 0 && iy < H) {
        const d = dx + (<usize>((c * H + iy) * W + q - pad) << 2);
        if (stride == 1) {
          add_row(hi - lo, at(d, lo), at(src, lo));
        } else {
          for (let ox = lo; ox < hi; ox++) store<f32>(at(d, ox * stride), load<f32>(at(d, ox * stride)) + load<f32>(at(src, ox)));
        }
      }
      src = at(src, OW);
    }
  }
}

export function max_pool_forward_f32(P: i32, H: i32, W: i32, k: i32, stride: i32, x: usize, y: usize, argmax: usize): void {
  const OH = (H - k) / stride + 1, OW = (W - k) / stride + 1;
  let o = 0;
  for (let pl = 0; pl < P; pl++) {
    const plane = x + (<usize>pl * <usize>(H * W) << 2);
    for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
      let best: f32 = -Infinity;
      let bi = 0;
      for (let p = 0; p < k; p++) for (let q = 0; q < k; q++) {
        const idx = (oy * stride + p) * W + ox * stride + q;
        const v = load<f32>(at(plane, idx));
        // A NaN wins once (as in the reference), so NaNs propagate instead of vanishing.
        if (v > best || (isNaN(v) && !isNaN(best))) { best = v; bi = idx; }
      }
      store<f32>(at(y, o), best);
      store<i32>(at(argmax, o), bi);
      o++;
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
