// Batch normalisation over X[B,C,S]: per channel c, the B planes of S contiguous elements.
// Statistics accumulate in f32 lanes per plane and in f64 across planes.

import { hsum } from './simd';

@inline function at(p: usize, i: i32): usize { return p + (<usize>i << 2); }
@inline function plane(x: usize, n: i32, c: i32, C: i32, S: i32): usize { return x + (<usize>(n * C + c) * <usize>S << 2); }

/** Σ x over one plane. */
@inline function plane_sum(S: i32, x: usize): f64 {
  let i = 0;
  let s: f64 = 0;
  if (ASC_FEATURE_SIMD) {
    let a = f32x4.splat(0);
    for (; i + 4 <= S; i += 4) a = f32x4.add(a, v128.load(at(x, i)));
    s = hsum(a);
  }
  for (; i < S; i++) s += <f64>load<f32>(at(x, i));
  return s;
}

/** Σ (x - mu)² over one plane. */
@inline function plane_sq_dev(S: i32, x: usize, mu: f32): f64 {
  let i = 0;
  let s: f64 = 0;
  if (ASC_FEATURE_SIMD) {
    const m = f32x4.splat(mu);
    let a = f32x4.splat(0);
    for (; i + 4 <= S; i += 4) { const d = f32x4.sub(v128.load(at(x, i)), m); a = f32x4.add(a, f32x4.mul(d, d)); }
    s = hsum(a);
  }
  for (; i < S; i++) { const d = load<f32>(at(x, i)) - mu; s += <f64>(d * d); }
  return s;
}

/** y = x·a + b over one plane. */
@inline function plane_affine(S: i32, x: usize, y: usize, a: f32, b: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(a), vb = f32x4.splat(b);
    for (; i + 4 <= S; i += 4) v128.store(at(y, i), f32x4.add(f32x4.mul(v128.load(at(x, i)), va), vb));
  }
  for (; i < S; i++) store<f32>(at(y, i), load<f32>(at(x, i)) * a + b);
}

export function batch_norm_train_forward_f32(
  B: i32, C: i32, S: i32, x: usize, gamma: usize, beta: usize, y: usize,
  mean: usize, invStd: usize, runMean: usize, runVar: usize, momentum: f32, eps: f32,
): void {
  const cnt = <f64>B * <f64>S;
  for (let c = 0; c < C; c++) {
    let s: f64 = 0;
    for (let n = 0; n < B; n++) s += plane_sum(S, plane(x, n, c, C, S));
    const mu = <f32>(s / cnt);
    let v: f64 = 0;
    for (let n = 0; n < B; n++) v += plane_sq_dev(S, plane(x, n, c, C, S), mu);
    const varB = v / cnt;
    const is = <f32>(1 / Math.sqrt(varB + <f64>eps));
    store<f32>(at(mean, c), mu);
    store<f32>(at(invStd, c), is);
    const a = load<f32>(at(gamma, c)) * is;
    const b = load<f32>(at(beta, c)) - mu * a;
    for (let n = 0; n < B; n++) plane_affine(S, plane(x, n, c, C, S), plane(y, n, c, C, S), a, b);
    const unbiased = cnt > 1 ? v / (cnt - 1) : varB;
    store<f32>(at(runMean, c), (1 - momentum) * load<f32>(at(runMean, c)) + momentum * mu);
    store<f32>(at(runVar, c), (1 - momentum) * load<f32>(at(runVar, c)) + momentum * <f32>unbiased);
  }
}

export function batch_norm_eval_forward_f32(
  B: i32, C: i32, S: i32, x: usize, gamma: usize, beta: usize, runMean: usize, runVar: usize, eps: f32, y: usize,
): void {
  for (let c = 0; c < C; c++) {
    const is = <f32>(1 / Math.sqrt(<f64>load<f32>(at(runVar, c)) + <f64>eps));
    const a = load<f32>(at(gamma, c)) * is;
    const b = load<f32>(at(beta, c)) - load<f32>(at(runMean, c)) * a;
    for (let n = 0; n < B; n++) plane_affine(S, plane(x, n, c, C, S), plane(y, n, c, C, S), a, b);
  }
}

export function batch_norm_backward_f32(
  B: i32, C: i32, S: i32, x: usize, dy: usize, gamma: usize, mean: usize, invStd: usize,
  dx: usize, dGamma: usize, dBeta: usize,
): void {
  const cnt = <f64>B * <f64>S;
  for (let c = 0; c < C; c++) {
    const mu = load<f32>(at(mean, c)), is = load<f32>(at(invStd, c)), g = load<f32>(at(gamma, c));
    let sdy: f64 = 0, sdyx: f64 = 0;
    for (let n = 0; n < B; n++) {
      const xp = plane(x, n, c, C, S), dp = plane(dy, n, c, C, S);
      let i = 0;
      if (ASC_FEATURE_SIMD) {
        const m = f32x4.splat(mu);
        let a = f32x4.splat(0), b = f32x4.splat(0);
        for (; i + 4 <= S; i += 4) {
          const d = v128.load(at(dp, i));
          a = f32x4.add(a, d);
          b = f32x4.add(b, f32x4.mul(d, f32x4.sub(v128.load(at(xp, i)), m)));
        }
        sdy += hsum(a);
        sdyx += hsum(b);
      }
      for (; i < S; i++) {
        const d = load<f32>(at(dp, i));
        sdy += <f64>d;
        sdyx += <f64>(d * (load<f32>(at(xp, i)) - mu));
      }
    }
    sdyx *= <f64>is;
    store<f32>(at(dGamma, c), load<f32>(at(dGamma, c)) + <f32>sdyx);
    store<f32>(at(dBeta, c), load<f32>(at(dBeta, c)) + <f32>sdy);
    // dx = k·(cnt·dy - sdy - xhat·sdyx) rewritten as dx = p·dy + q·(x - mu) + r, one pass per plane.
    const k = <f64>g * <f64>is / cnt;
    const p = <f32>(k * cnt);
    const q = <f32>(-k * <f64>is * sdyx);
    const r = <f32>(-k * sdy);
    for (let n = 0; n < B; n++) {
      const xp = plane(x, n, c, C, S), dp = plane(dy, n, c, C, S), op = plane(dx, n, c, C, S);
      let i = 0;
      if (ASC_FEATURE_SIMD) {
        const vp = f32x4.splat(p), vq = f32x4.splat(q), vr = f32x4.splat(r), m = f32x4.splat(mu);
        for (; i + 4 <= S; i += 4) {
          const xc = f32x4.sub(v128.load(at(xp, i)), m);
          v128.store(at(op, i), f32x4.add(f32x4.add(f32x4.mul(vp, v128.load(at(dp, i))), f32x4.mul(vq, xc)), vr));
        }
      }
      for (; i < S; i++) store<f32>(at(op, i), p * load<f32>(at(dp, i)) + q * (load<f32>(at(xp, i)) - mu) + r);
    }
  }
}
