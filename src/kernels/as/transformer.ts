// Kernels of the transformer layers: layer norm over rows, GELU (erf form) and the row softmax
// of attention. exp is evaluated by one polynomial (Cephes expf) in v128 lanes and in the scalar
// tails alike, so an element's value does not depend on where it falls in a row. Sums
// accumulate in f32 lanes and in f64 across them, as batch norm's do.

import { expS, expV } from './exp';
import { hsum } from './simd';

@inline function at(p: usize, i: i32): usize { return p + (<usize>i << 2); }
@inline function row(p: usize, r: i32, N: i32): usize { return p + (<usize>r * <usize>N << 2); }

// Φ(x) = ½(1 + erf(x/√2)) by Abramowitz & Stegun 7.1.26 (|error of erf| ≤ 1.5e-7):
// erfc(a) ≈ q = t·(a1 + t(a2 + t(a3 + t(a4 + t·a5))))·e^(−a²), t = 1/(1 + p·a), a = |x|/√2.
// Φ(x) = q/2 for x < 0 and 1 − q/2 otherwise (no cancellation in the left tail). e^(−a²) =
// e^(−x²/2) is also the Gaussian density's exponent, so the backward pass gets φ(x) for free.
const RSQRT2: f32 = 0.70710678;
const RSQRT2PI: f32 = 0.39894228;
const AS_P: f32 = 0.3275911;
const A1: f32 = 0.254829592;
const A2: f32 = -0.284496736;
const A3: f32 = 1.421413741;
const A4: f32 = -1.453152027;
const A5: f32 = 1.061405429;

/** Half the erfc approximation q/2 at a = |x|/√2, given e = e^(−a²). */
@inline
function halfErfcS(a: f32, e: f32): f32 {
  const t: f32 = 1 / (1 + AS_P * a);
  return 0.5 * t * (A1 + t * (A2 + t * (A3 + t * (A4 + t * A5)))) * e;
}

@inline
function halfErfcV(a: v128, e: v128): v128 {
  const t = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.splat(AS_P), a)));
  let p = f32x4.add(f32x4.mul(t, f32x4.splat(A5)), f32x4.splat(A4));
  p = f32x4.add(f32x4.mul(t, p), f32x4.splat(A3));
  p = f32x4.add(f32x4.mul(t, p), f32x4.splat(A2));
  p = f32x4.add(f32x4.mul(t, p), f32x4.splat(A1));
  return f32x4.mul(f32x4.mul(f32x4.mul(t, p), e), f32x4.splat(0.5));
}

/** Φ(x) from the half erfc hq of |x|/√2. */
@inline
function cdfV(x: v128, hq: v128): v128 {
  return v128.bitselect(hq, f32x4.sub(f32x4.splat(1), hq), f32x4.lt(x, f32x4.splat(0)));
}

/** y = x·Φ(x) (GELU, erf form). y may alias x. */
export function gelu_forward_f32(n: i32, x: usize, y: usize): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(at(x, i));
      const a = f32x4.mul(f32x4.abs(v), f32x4.splat(RSQRT2));
      const hq = halfErfcV(a, expV(f32x4.neg(f32x4.mul(a, a))));
      v128.store(at(y, i), f32x4.mul(v, cdfV(v, hq)));
    }
  }
  for (; i < n; i++) {
    const v = load<f32>(at(x, i));
    const a = abs<f32>(v) * RSQRT2;
    const hq = halfErfcS(a, expS(-a * a));
    store<f32>(at(y, i), v * (v < 0 ? hq : 1 - hq));
  }
}

/** dx = dy·(Φ(x) + x·φ(x)) for the GELU input x. dx may alias dy. */
export function gelu_backward_f32(n: i32, x: usize, dy: usize, dx: usize): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const c = f32x4.splat(RSQRT2PI);
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(at(x, i));
      const a = f32x4.mul(f32x4.abs(v), f32x4.splat(RSQRT2));
      const e = expV(f32x4.neg(f32x4.mul(a, a)));
      const d = f32x4.add(cdfV(v, halfErfcV(a, e)), f32x4.mul(v, f32x4.mul(e, c)));
      v128.store(at(dx, i), f32x4.mul(v128.load(at(dy, i)), d));
    }
  }
  for (; i < n; i++) {
    const v = load<f32>(at(x, i));
    const a = abs<f32>(v) * RSQRT2;
    const e = expS(-a * a);
    const hq = halfErfcS(a, e);
    store<f32>(at(dx, i), load<f32>(at(dy, i)) * ((v < 0 ? hq : 1 - hq) + v * e * RSQRT2PI));
  }
}

/** Y[m, :] = softmax(alpha·X[m, :]) over M rows of N (max subtracted first). Y may alias X. */
export function softmax_rows_f32(M: i32, N: i32, alpha: f32, x: usize, y: usize): void {
  for (let m = 0; m < M; m++) {
    const xr = row(x, m, N), yr = row(y, m, N);
    let j = 0;
    let mx: f32 = -Infinity;
    if (ASC_FEATURE_SIMD) {
      const va = f32x4.splat(alpha);
      let vm = f32x4.splat(-Infinity);
      for (; j + 4 <= N; j += 4) vm = f32x4.max(vm, f32x4.mul(v128.load(at(xr, j)), va));
      mx = max(max(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)), max(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3)));
    }
    for (; j < N; j++) mx = max(mx, load<f32>(at(xr, j)) * alpha);
    j = 0;
    let s: f64 = 0;
    if (ASC_FEATURE_SIMD) {
      const va = f32x4.splat(alpha), vm = f32x4.splat(mx);
      let acc = f32x4.splat(0);
      for (; j + 4 <= N; j += 4) {
        const e = expV(f32x4.sub(f32x4.mul(v128.load(at(xr, j)), va), vm));
        v128.store(at(yr, j), e);
        acc = f32x4.add(acc, e);
      }
      s = hsum(acc);
    }
    for (; j < N; j++) {
      const e = expS(load<f32>(at(xr, j)) * alpha - mx);
      store<f32>(at(yr, j), e);
      s += <f64>e;
    }
    const inv = <f32>(1 / s);
    j = 0;
    if (ASC_FEATURE_SIMD) {
      const vi = f32x4.splat(inv);
      for (; j + 4 <= N; j += 4) v128.store(at(yr, j), f32x4.mul(v128.load(at(yr, j)), vi));
    }
    for (; j < N; j++) store<f32>(at(yr, j), load<f32>(at(yr, j)) * inv);
  }
}

/** dX[m, :] = alpha·Y ⊙ (dY − ⟨dY, Y⟩) per row, Y the softmax output. dX may alias dY. */
export function softmax_rows_backward_f32(M: i32, N: i32, alpha: f32, y: usize, dy: usize, dx: usize): void {
  for (let m = 0; m < M; m++) {
    const yr = row(y, m, N), gr = row(dy, m, N), dr = row(dx, m, N);
    let j = 0;
    let s: f64 = 0;
    if (ASC_FEATURE_SIMD) {
      let acc = f32x4.splat(0);
      for (; j + 4 <= N; j += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(at(yr, j)), v128.load(at(gr, j))));
      s = hsum(acc);
    }
    for (; j < N; j++) s += <f64>(load<f32>(at(yr, j)) * load<f32>(at(gr, j)));
    const dot = <f32>s;
    j = 0;
    if (ASC_FEATURE_SIMD) {
      const vd = f32x4.splat(dot), va = f32x4.splat(alpha);
      for (; j + 4 <= N; j += 4) {
        v128.store(at(dr, j), f32x4.mul(va, f32x4.mul(v128.load(at(yr, j)), f32x4.sub(v128.load(at(gr, j)), vd))));
      }
    }
    for (; j < N; j++) store<f32>(at(dr, j), alpha * (load<f32>(at(yr, j)) * (load<f32>(at(gr, j)) - dot)));
  }
}

/** Σ x over one row. */
@inline function row_sum(N: i32, x: usize): f64 {
  let j = 0;
  let s: f64 = 0;
  if (ASC_FEATURE_SIMD) {
    let a = f32x4.splat(0);
    for (; j + 4 <= N; j += 4) a = f32x4.add(a, v128.load(at(x, j)));
    s = hsum(a);
  }
  for (; j < N; j++) s += <f64>load<f32>(at(x, j));
  return s;
}

/** Σ (x − mu)² over one row. */
@inline function row_sq_dev(N: i32, x: usize, mu: f32): f64 {
  let j = 0;
  let s: f64 = 0;
  if (ASC_FEATURE_SIMD) {
    const m = f32x4.splat(mu);
    let a = f32x4.splat(0);
    for (; j + 4 <= N; j += 4) { const d = f32x4.sub(v128.load(at(x, j)), m); a = f32x4.add(a, f32x4.mul(d, d)); }
    s = hsum(a);
  }
  for (; j < N; j++) { const d = load<f32>(at(x, j)) - mu; s += <f64>(d * d); }
  return s;
}

/**
 * Layer norm of M rows of N: Y = gamma ⊙ (X − mean)·invStd + beta with the row's mean and
 * biased variance (as PyTorch), both saved per row for the backward pass.
 */
export function layer_norm_forward_f32(M: i32, N: i32, x: usize, gamma: usize, beta: usize, y: usize, mean: usize, invStd: usize, eps: f32): void {
  for (let m = 0; m < M; m++) {
    const xr = row(x, m, N), yr = row(y, m, N);
    const mu = <f32>(row_sum(N, xr) / <f64>N);
    const is = <f32>(1 / Math.sqrt(row_sq_dev(N, xr, mu) / <f64>N + <f64>eps));
    store<f32>(at(mean, m), mu);
    store<f32>(at(invStd, m), is);
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      const vm = f32x4.splat(mu), vs = f32x4.splat(is);
      for (; j + 4 <= N; j += 4) {
        const h = f32x4.mul(f32x4.sub(v128.load(at(xr, j)), vm), vs);
        v128.store(at(yr, j), f32x4.add(f32x4.mul(h, v128.load(at(gamma, j))), v128.load(at(beta, j))));
      }
    }
    for (; j < N; j++) store<f32>(at(yr, j), (load<f32>(at(xr, j)) - mu) * is * load<f32>(at(gamma, j)) + load<f32>(at(beta, j)));
  }
}

/**
 * Layer norm gradients: with x̂ = (x − mean)·invStd and g = dY ⊙ gamma per row,
 * dX = invStd·(g − mean(g) − x̂·mean(g ⊙ x̂)) (overwritten); dGamma = Σ_rows dY ⊙ x̂ and
 * dBeta = Σ_rows dY (overwritten, summed row after row).
 */
export function layer_norm_backward_f32(M: i32, N: i32, x: usize, dy: usize, gamma: usize, mean: usize, invStd: usize, dx: usize, dGamma: usize, dBeta: usize): void {
  memory.fill(dGamma, 0, <usize>N << 2);
  memory.fill(dBeta, 0, <usize>N << 2);
  const rn: f64 = 1 / <f64>N;
  for (let m = 0; m < M; m++) {
    const xr = row(x, m, N), gr = row(dy, m, N), dr = row(dx, m, N);
    const mu = load<f32>(at(mean, m)), is = load<f32>(at(invStd, m));
    let j = 0;
    let s1: f64 = 0, s2: f64 = 0;
    if (ASC_FEATURE_SIMD) {
      const vm = f32x4.splat(mu), vs = f32x4.splat(is);
      let a = f32x4.splat(0), b = f32x4.splat(0);
      for (; j + 4 <= N; j += 4) {
        const d = v128.load(at(gr, j));
        const h = f32x4.mul(f32x4.sub(v128.load(at(xr, j)), vm), vs);
        const g = f32x4.mul(d, v128.load(at(gamma, j)));
        a = f32x4.add(a, g);
        b = f32x4.add(b, f32x4.mul(g, h));
        v128.store(at(dGamma, j), f32x4.add(v128.load(at(dGamma, j)), f32x4.mul(d, h)));
        v128.store(at(dBeta, j), f32x4.add(v128.load(at(dBeta, j)), d));
      }
      s1 = hsum(a);
      s2 = hsum(b);
    }
    for (; j < N; j++) {
      const d = load<f32>(at(gr, j));
      const h = (load<f32>(at(xr, j)) - mu) * is;
      const g = d * load<f32>(at(gamma, j));
      s1 += <f64>g;
      s2 += <f64>(g * h);
      store<f32>(at(dGamma, j), load<f32>(at(dGamma, j)) + d * h);
      store<f32>(at(dBeta, j), load<f32>(at(dBeta, j)) + d);
    }
    const c1 = <f32>(s1 * rn), c2 = <f32>(s2 * rn);
    j = 0;
    if (ASC_FEATURE_SIMD) {
      const vm = f32x4.splat(mu), vs = f32x4.splat(is), v1 = f32x4.splat(c1), v2 = f32x4.splat(c2);
      for (; j + 4 <= N; j += 4) {
        const h = f32x4.mul(f32x4.sub(v128.load(at(xr, j)), vm), vs);
        const g = f32x4.mul(v128.load(at(gr, j)), v128.load(at(gamma, j)));
        v128.store(at(dr, j), f32x4.mul(vs, f32x4.sub(f32x4.sub(g, v1), f32x4.mul(h, v2))));
      }
    }
    for (; j < N; j++) {
      const h = (load<f32>(at(xr, j)) - mu) * is;
      const g = load<f32>(at(gr, j)) * load<f32>(at(gamma, j));
      store<f32>(at(dr, j), is * (g - c1 - h * c2));
    }
  }
}
