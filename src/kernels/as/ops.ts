// Elementwise, reduction, bias, ReLU and optimizer kernels. Memory-bound, so each is one
// v128 pass with a scalar tail; under the scalar build the v128 branches compile away.

import { add_row, hsum } from './simd';
import { adamwElement, sgdElement } from './optim-element';

@inline function at(p: usize, i: i32): usize { return p + (<usize>i << 2); }

export function fill_f32(n: i32, dst: usize, value: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const v = f32x4.splat(value);
    for (; i + 4 <= n; i += 4) v128.store(at(dst, i), v);
  }
  for (; i < n; i++) store<f32>(at(dst, i), value);
}

export function copy_f32(n: i32, src: usize, dst: usize): void {
  memory.copy(dst, src, <usize>n << 2);
}

export function scale_f32(n: i32, x: usize, alpha: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const v = f32x4.splat(alpha);
    for (; i + 4 <= n; i += 4) v128.store(at(x, i), f32x4.mul(v128.load(at(x, i)), v));
  }
  for (; i < n; i++) store<f32>(at(x, i), load<f32>(at(x, i)) * alpha);
}

export function add_f32(n: i32, a: usize, b: usize, y: usize): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) v128.store(at(y, i), f32x4.add(v128.load(at(a, i)), v128.load(at(b, i))));
  }
  for (; i < n; i++) store<f32>(at(y, i), load<f32>(at(a, i)) + load<f32>(at(b, i)));
}

export function mul_f32(n: i32, a: usize, b: usize, y: usize): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) v128.store(at(y, i), f32x4.mul(v128.load(at(a, i)), v128.load(at(b, i))));
  }
  for (; i < n; i++) store<f32>(at(y, i), load<f32>(at(a, i)) * load<f32>(at(b, i)));
}

/** Σ x² accumulated in f64 (the result feeds gradient-norm clipping, where drift matters). */
export function sum_squares_f32(n: i32, x: usize): f64 {
  let i = 0;
  let s: f64 = 0;
  if (ASC_FEATURE_SIMD) {
    let lo = f64x2.splat(0), hi = f64x2.splat(0);
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(at(x, i));
      const sq = f32x4.mul(v, v);
      lo = f64x2.add(lo, f64x2.promote_low_f32x4(sq));
      hi = f64x2.add(hi, f64x2.promote_low_f32x4(i32x4.shuffle(sq, sq, 2, 3, 0, 1)));
    }
    const t = f64x2.add(lo, hi);
    s = f64x2.extract_lane(t, 0) + f64x2.extract_lane(t, 1);
  }
  for (; i < n; i++) { const v = load<f32>(at(x, i)); s += <f64>(v * v); }
  return s;
}

export function relu_forward_f32(n: i32, x: usize, y: usize): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const z = f32x4.splat(0);
    // max(x, 0) with NaN → 0, matching the reference's `x > 0 ? x : 0`.
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(at(x, i));
      v128.store(at(y, i), v128.and(v, f32x4.gt(v, z)));
    }
  }
  for (; i < n; i++) { const v = load<f32>(at(x, i)); store<f32>(at(y, i), v > 0 ? v : 0); }
}

export function relu_backward_f32(n: i32, y: usize, dy: usize, dx: usize): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const z = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      v128.store(at(dx, i), v128.and(v128.load(at(dy, i)), f32x4.gt(v128.load(at(y, i)), z)));
    }
  }
  for (; i < n; i++) store<f32>(at(dx, i), load<f32>(at(y, i)) > 0 ? load<f32>(at(dy, i)) : 0);
}

@inline
function add_scalar(n: i32, y: usize, value: f32): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const v = f32x4.splat(value);
    for (; j + 4 <= n; j += 4) v128.store(at(y, j), f32x4.add(v128.load(at(y, j)), v));
  }
  for (; j < n; j++) store<f32>(at(y, j), load<f32>(at(y, j)) + value);
}

/** Sum of n contiguous floats, f32 lanes then an f64 horizontal sum. */
@inline
function sum_f32(n: i32, x: usize): f64 {
  let j = 0;
  let s: f64 = 0;
  if (ASC_FEATURE_SIMD) {
    let a = f32x4.splat(0), b = f32x4.splat(0);
    for (; j + 8 <= n; j += 8) { a = f32x4.add(a, v128.load(at(x, j))); b = f32x4.add(b, v128.load(at(x, j + 4))); }
    for (; j + 4 <= n; j += 4) a = f32x4.add(a, v128.load(at(x, j)));
    s = hsum(f32x4.add(a, b));
  }
  for (; j < n; j++) s += <f64>load<f32>(at(x, j));
  return s;
}

export function add_bias_rows_f32(M: i32, N: i32, y: usize, bias: usize): void {
  for (let i = 0; i < M; i++) add_row(N, y + (<usize>i * <usize>N << 2), bias);
}

export function add_bias_channels_f32(B: i32, C: i32, S: i32, y: usize, bias: usize): void {
  for (let n = 0; n < B; n++) {
    for (let c = 0; c < C; c++) add_scalar(S, y + (<usize>(n * C + c) * <usize>S << 2), load<f32>(at(bias, c)));
  }
}

/** out[n] (+)= Σ_m X[m,n], summed row by row into out so the pass is sequential in memory. */
export function sum_rows_f32(M: i32, N: i32, x: usize, out: usize, acc: i32): void {
  if (!acc) fill_f32(N, out, 0);
  for (let i = 0; i < M; i++) add_row(N, out, x + (<usize>i * <usize>N << 2));
}

export function sum_channels_f32(B: i32, C: i32, S: i32, x: usize, out: usize, acc: i32): void {
  for (let c = 0; c < C; c++) {
    let s: f64 = 0;
    for (let n = 0; n < B; n++) s += sum_f32(S, x + (<usize>(n * C + c) * <usize>S << 2));
    store<f32>(at(out, c), acc ? load<f32>(at(out, c)) + <f32>s : <f32>s);
  }
}

export function global_avg_pool_forward_f32(P: i32, S: i32, x: usize, y: usize): void {
  for (let p = 0; p < P; p++) store<f32>(at(y, p), <f32>(sum_f32(S, x + (<usize>p * <usize>S << 2)) / <f64>S));
}

export function global_avg_pool_backward_f32(P: i32, S: i32, dy: usize, dx: usize): void {
  for (let p = 0; p < P; p++) fill_f32(S, dx + (<usize>p * <usize>S << 2), load<f32>(at(dy, p)) / <f32>S);
}

/** SGD with momentum (PyTorch semantics, dampening 0). */
export function sgd_step_f32(n: i32, w: usize, g: usize, m: usize, lr: f32, mu: f32, wd: f32, nesterov: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vlr = f32x4.splat(lr), vmu = f32x4.splat(mu), vwd = f32x4.splat(wd);
    for (; i + 4 <= n; i += 4) {
      const wi = v128.load(at(w, i));
      const gi = f32x4.add(v128.load(at(g, i)), f32x4.mul(vwd, wi));
      const mi = f32x4.add(f32x4.mul(vmu, v128.load(at(m, i))), gi);
      v128.store(at(m, i), mi);
      const step = nesterov ? f32x4.add(gi, f32x4.mul(vmu, mi)) : mi;
      v128.store(at(w, i), f32x4.sub(wi, f32x4.mul(vlr, step)));
    }
  }
  for (; i < n; i++) sgdElement(i, w, g, m, lr, mu, wd, nesterov);
}

/** AdamW with decoupled weight decay; bc1, bc2 are the bias corrections 1-β^t. */
export function adamw_step_f32(n: i32, w: usize, g: usize, m: usize, v: usize, lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, bc1: f32, bc2: f32): void {
  const decay: f32 = 1 - lr * wd;
  const ib1: f32 = 1 - b1, ib2: f32 = 1 - b2;
  const rbc1: f32 = 1 / bc1, rbc2: f32 = 1 / bc2;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vdecay = f32x4.splat(decay), vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2), vib1 = f32x4.splat(ib1), vib2 = f32x4.splat(ib2);
    const vr1 = f32x4.splat(rbc1), vr2 = f32x4.splat(rbc2), veps = f32x4.splat(eps), vlr = f32x4.splat(lr);
    for (; i + 4 <= n; i += 4) {
      const gi = v128.load(at(g, i));
      const mi = f32x4.add(f32x4.mul(vb1, v128.load(at(m, i))), f32x4.mul(vib1, gi));
      const vi = f32x4.add(f32x4.mul(vb2, v128.load(at(v, i))), f32x4.mul(vib2, f32x4.mul(gi, gi)));
      v128.store(at(m, i), mi);
      v128.store(at(v, i), vi);
      const den = f32x4.add(f32x4.sqrt(f32x4.mul(vi, vr2)), veps);
      const wi = f32x4.mul(v128.load(at(w, i)), vdecay);
      v128.store(at(w, i), f32x4.sub(wi, f32x4.div(f32x4.mul(vlr, f32x4.mul(mi, vr1)), den)));
    }
  }
  for (; i < n; i++) adamwElement(i, w, g, m, v, lr, b1, b2, eps, decay, ib1, ib2, rbc1, rbc2);
}

/**
 * Mean softmax cross-entropy with label smoothing; writes dLogits and returns the mean loss.
 * The count of rows whose arg-max equals the label is stored as an i32 at `correct`.
 */
export function softmax_cross_entropy_f32(B: i32, C: i32, logits: usize, labels: usize, smoothing: f32, dlogits: usize, correct: usize): f64 {
  let loss: f64 = 0;
  let hits = 0;
  const off: f64 = <f64>smoothing / <f64>C;
  for (let b = 0; b < B; b++) {
    const z = logits + (<usize>b * <usize>C << 2);
    const d = dlogits + (<usize>b * <usize>C << 2);
    let mx: f32 = -Infinity;
    let arg = 0;
    for (let c = 0; c < C; c++) { const v = load<f32>(at(z, c)); if (v > mx) { mx = v; arg = c; } }
    let se: f64 = 0;
    for (let c = 0; c < C; c++) se += Math.exp(<f64>load<f32>(at(z, c)) - <f64>mx);
    const lse = <f64>mx + Math.log(se);
    const y = load<i32>(labels + (<usize>b << 2));
    if (arg == y) hits++;
    for (let c = 0; c < C; c++) {
      const t: f64 = (c == y ? 1 - <f64>smoothing : 0) + off;
      const lp = <f64>load<f32>(at(z, c)) - lse;
      loss -= t * lp;
      store<f32>(at(d, c), <f32>((Math.exp(lp) - t) / <f64>B));
    }
  }
  store<i32>(correct, hits);
  return loss / <f64>B;
}
