// Kernels of condensed ViT inference (src/sparse/condensed/model.ts) over feature-major token
// activations: a tensor of F features per token is stored X [F, N] with N = n·T lanes, example
// b's T tokens at lanes [b·T, b·T + T). That is the batch-contiguous Xᵀ the condensed kernels
// take (condensed.ts), with tokens as the batch, so every Linear of a block runs as one batched
// constant-fan-in call and nothing is transposed between layers. These kernels do the rest of a
// block in the same layout: layer norm down the columns, multi-head attention, the patch tokens'
// class token and position embedding, and the class-token pick; and a constant-fan-in layer over
// 16 + 1…3 lanes, the 17 tokens of batch 1, in one pass per row.
//
// Each has a plain TypeScript reference in src/kernels/condensed.ts (referenceSparseKernels).
import { expV } from './exp';
import { softmax_rows_f32 } from './transformer';
import { madd } from './simd';

@inline function at(p: usize, i: i32): usize { return p + (<usize>i << 2); }

/**
 * Patch tokens to the token layout, with the class token first and the position embedding
 * added, for examples [b0, b1) of n: patch p of example b has feature d at X + (b·sb + d·sd + p)
 * floats (sb = D·P, sd = P: batch-major [n, D, P]; sb = P, sd = n·P: feature-major [D, n·P], as
 * the batched patch convolution writes it) → Y [D, n·T], T = P + 1. Y[d, b·T] = first[d] (class
 * token + position 0, summed once at load); Y[d, b·T + 1 + p] = X(b, d, p) + posT[d, 1 + p]
 * (posT [D, T], the position embedding transposed).
 */
export function tokens_embed_f32(b0: i32, b1: i32, n: i32, D: i32, P: i32, X: usize, sb: i32, sd: i32, first: usize, posT: usize, Y: usize): void {
  const T = P + 1;
  const ldy = <usize>n * <usize>T << 2;
  for (let b = b0; b < b1; b++) {
    for (let d = 0; d < D; d++) {
      const y = Y + <usize>d * ldy + (<usize>b * <usize>T << 2);
      const x = X + ((<usize>b * <usize>sb + <usize>d * <usize>sd) << 2);
      const p = posT + (<usize>d * <usize>T << 2) + 4;
      store<f32>(y, load<f32>(at(first, d)));
      let j = 0;
      if (ASC_FEATURE_SIMD) {
        for (; j + 4 <= P; j += 4) v128.store(at(y + 4, j), f32x4.add(v128.load(at(x, j)), v128.load(at(p, j))));
      }
      for (; j < P; j++) store<f32>(at(y + 4, j), load<f32>(at(x, j)) + load<f32>(at(p, j)));
    }
  }
}

/**
 * Σ_f x[f, ·] (mu 0 and squares false) or Σ_f (x[f, ·] − mu)² (squares true) down four lanes,
 * in four partial sums over f mod 4 (a lone lane group's sums would otherwise be one chain of
 * dependent adds).
 */
@inline
function colSum4(F: i32, x: usize, ld: usize, mu: v128, squares: bool): v128 {
  let a0 = f32x4.splat(0);
  let a1 = a0, a2 = a0, a3 = a0;
  let f = 0;
  for (; f + 4 <= F; f += 4) {
    const p = x + <usize>f * ld;
    let d0 = f32x4.sub(v128.load(p), mu), d1 = f32x4.sub(v128.load(p + ld), mu);
    let d2 = f32x4.sub(v128.load(p + 2 * ld), mu), d3 = f32x4.sub(v128.load(p + 3 * ld), mu);
    if (squares) {
      d0 = f32x4.mul(d0, d0);
      d1 = f32x4.mul(d1, d1);
      d2 = f32x4.mul(d2, d2);
      d3 = f32x4.mul(d3, d3);
    }
    a0 = f32x4.add(a0, d0);
    a1 = f32x4.add(a1, d1);
    a2 = f32x4.add(a2, d2);
    a3 = f32x4.add(a3, d3);
  }
  for (; f < F; f++) {
    let d = f32x4.sub(v128.load(x + <usize>f * ld), mu);
    if (squares) d = f32x4.mul(d, d);
    a0 = f32x4.add(a0, d);
  }
  return f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
}

/** 1/√(σ² + eps) of four lanes from their Σ(x − μ)² (σ² = Σ/F). */
@inline
function invStd4(q: v128, rf: v128, eps: v128): v128 {
  return f32x4.div(f32x4.splat(1), f32x4.sqrt(f32x4.add(f32x4.div(q, rf), eps)));
}

/** Y = gamma ⊙ (x − μ)·invStd + beta down four lanes (Y = (x − μ)·invStd when gamma is 0, no pointer). */
@inline
function affine4(F: i32, x: usize, y: usize, ld: usize, mu: v128, is: v128, gamma: usize, beta: usize): void {
  if (gamma == 0) {
    for (let f = 0; f < F; f++) {
      const o = <usize>f * ld;
      v128.store(y + o, f32x4.mul(f32x4.sub(v128.load(x + o), mu), is));
    }
    return;
  }
  for (let f = 0; f < F; f++) {
    const o = <usize>f * ld;
    const h = f32x4.mul(f32x4.sub(v128.load(x + o), mu), is);
    v128.store(y + o, f32x4.add(f32x4.mul(h, f32x4.splat(load<f32>(at(gamma, f)))), f32x4.splat(load<f32>(at(beta, f)))));
  }
}

/** Layer norm of lanes [l, l + 4). */
@inline
function layerNorm4(l: i32, F: i32, x: usize, ld: usize, gamma: usize, beta: usize, y: usize, rf: v128, eps: v128): void {
  const xl = at(x, l);
  const mu = f32x4.div(colSum4(F, xl, ld, f32x4.splat(0), false), rf);
  affine4(F, xl, at(y, l), ld, mu, invStd4(colSum4(F, xl, ld, mu, true), rf, eps), gamma, beta);
}

/** Layer norm of lanes [l, l + 16): four independent sums, so the adds pipeline. */
@inline
function layerNorm16(l: i32, F: i32, x: usize, ld: usize, gamma: usize, beta: usize, y: usize, vf: v128, ve: v128): void {
  const xl = at(x, l);
  let s0 = f32x4.splat(0);
  let s1 = s0, s2 = s0, s3 = s0;
  for (let f = 0; f < F; f++) {
    const p = xl + <usize>f * ld;
    s0 = f32x4.add(s0, v128.load(p));
    s1 = f32x4.add(s1, v128.load(p, 16));
    s2 = f32x4.add(s2, v128.load(p, 32));
    s3 = f32x4.add(s3, v128.load(p, 48));
  }
  const m0 = f32x4.div(s0, vf), m1 = f32x4.div(s1, vf), m2 = f32x4.div(s2, vf), m3 = f32x4.div(s3, vf);
  let q0 = f32x4.splat(0);
  let q1 = q0, q2 = q0, q3 = q0;
  for (let f = 0; f < F; f++) {
    const p = xl + <usize>f * ld;
    const d0 = f32x4.sub(v128.load(p), m0), d1 = f32x4.sub(v128.load(p, 16), m1);
    const d2 = f32x4.sub(v128.load(p, 32), m2), d3 = f32x4.sub(v128.load(p, 48), m3);
    q0 = f32x4.add(q0, f32x4.mul(d0, d0));
    q1 = f32x4.add(q1, f32x4.mul(d1, d1));
    q2 = f32x4.add(q2, f32x4.mul(d2, d2));
    q3 = f32x4.add(q3, f32x4.mul(d3, d3));
  }
  const yl = at(y, l);
  affine4(F, xl, yl, ld, m0, invStd4(q0, vf, ve), gamma, beta);
  affine4(F, xl + 16, yl + 16, ld, m1, invStd4(q1, vf, ve), gamma, beta);
  affine4(F, xl + 32, yl + 32, ld, m2, invStd4(q2, vf, ve), gamma, beta);
  affine4(F, xl + 48, yl + 48, ld, m3, invStd4(q3, vf, ve), gamma, beta);
}

/**
 * Layer norm down the columns of X [F, N], lanes [l0, l1): each lane (a token) is normalised
 * over its F features, Y = gamma ⊙ (x − μ)/√(σ² + eps) + beta with the lane's mean μ and biased
 * variance σ² (as PyTorch), summed in feature order in f32; with gamma = 0 (no pointer) only
 * Y = (x − μ)/√(σ² + eps), for a norm whose scale and shift were folded into the layers that
 * read it. Sixteen lanes per step (each lane summed in feature order), then groups of four
 * (summed in four partial sums, see colSum4); lanes left over are covered by the group ending at
 * l1, which recomputes up to three lanes. The scalar module sums in feature order. Y must not
 * alias X.
 */
export function layer_norm_cols_f32(l0: i32, l1: i32, F: i32, N: i32, x: usize, gamma: usize, beta: usize, y: usize, eps: f32): void {
  const ld = <usize>N << 2;
  const rf: f32 = <f32>F;
  let l = l0;
  if (ASC_FEATURE_SIMD) {
    const vf = f32x4.splat(rf), ve = f32x4.splat(eps);
    for (; l + 16 <= l1; l += 16) layerNorm16(l, F, x, ld, gamma, beta, y, vf, ve);
    for (; l + 4 <= l1; l += 4) layerNorm4(l, F, x, ld, gamma, beta, y, vf, ve);
    if (l < l1 && l1 - l0 >= 4) {
      layerNorm4(l1 - 4, F, x, ld, gamma, beta, y, vf, ve);
      return;
    }
  }
  for (; l < l1; l++) {
    const xl = at(x, l), yl = at(y, l);
    let s: f32 = 0;
    for (let f = 0; f < F; f++) s += load<f32>(xl + <usize>f * ld);
    const mu = s / rf;
    let q: f32 = 0;
    for (let f = 0; f < F; f++) {
      const d = load<f32>(xl + <usize>f * ld) - mu;
      q += d * d;
    }
    const is: f32 = 1 / sqrt<f32>(q / rf + eps);
    for (let f = 0; f < F; f++) {
      const h = (load<f32>(xl + <usize>f * ld) - mu) * is;
      store<f32>(yl + <usize>f * ld, gamma == 0 ? h : h * load<f32>(at(gamma, f)) + load<f32>(at(beta, f)));
    }
  }
}

/**
 * Scores of one (example, head), keys × queries: St[s, t] = Σ_{j ∈ [j0, j1)} K[j, s]·Q[j, t] for
 * keys s < T and the queries t < tq (a multiple of 4) that go down the SIMD lanes; q and k point
 * at the example's first lane, their rows ldq and ldk bytes apart; St's rows are tq floats.
 * Two keys × 16 queries per register tile share the loads of Q's rows (contiguous in t).
 */
@inline
function scoresT(tq: i32, T: i32, j0: i32, j1: i32, q: usize, ldq: usize, k: usize, ldk: usize, St: usize): void {
  const ldS = <usize>tq << 2;
  let s = 0;
  for (; s + 2 <= T; s += 2) {
    const r0 = St + <usize>s * ldS, r1 = r0 + ldS;
    let t = 0;
    for (; t + 16 <= tq; t += 16) {
      let a0 = f32x4.splat(0);
      let a1 = a0, a2 = a0, a3 = a0, c0 = a0, c1 = a0, c2 = a0, c3 = a0;
      for (let j = j0; j < j1; j++) {
        const kp = at(k + <usize>j * ldk, s);
        const u = f32x4.splat(load<f32>(kp)), w = f32x4.splat(load<f32>(kp, 4));
        const qp = at(q + <usize>j * ldq, t);
        const q0 = v128.load(qp), q1 = v128.load(qp, 16), q2 = v128.load(qp, 32), q3 = v128.load(qp, 48);
        a0 = madd(u, q0, a0);
        a1 = madd(u, q1, a1);
        a2 = madd(u, q2, a2);
        a3 = madd(u, q3, a3);
        c0 = madd(w, q0, c0);
        c1 = madd(w, q1, c1);
        c2 = madd(w, q2, c2);
        c3 = madd(w, q3, c3);
      }
      const o0 = at(r0, t), o1 = at(r1, t);
      v128.store(o0, a0);
      v128.store(o0, a1, 16);
      v128.store(o0, a2, 32);
      v128.store(o0, a3, 48);
      v128.store(o1, c0);
      v128.store(o1, c1, 16);
      v128.store(o1, c2, 32);
      v128.store(o1, c3, 48);
    }
    for (; t < tq; t += 4) {
      let a = f32x4.splat(0), c = a;
      for (let j = j0; j < j1; j++) {
        const kp = at(k + <usize>j * ldk, s);
        const qv = v128.load(at(q + <usize>j * ldq, t));
        a = madd(f32x4.splat(load<f32>(kp)), qv, a);
        c = madd(f32x4.splat(load<f32>(kp, 4)), qv, c);
      }
      v128.store(at(r0, t), a);
      v128.store(at(r1, t), c);
    }
  }
  // An odd last key: 16 queries per step (four independent sums), then groups of four.
  for (; s < T; s++) {
    const r0 = St + <usize>s * ldS;
    let t = 0;
    for (; t + 16 <= tq; t += 16) {
      let a0 = f32x4.splat(0);
      let a1 = a0, a2 = a0, a3 = a0;
      for (let j = j0; j < j1; j++) {
        const u = f32x4.splat(load<f32>(at(k + <usize>j * ldk, s)));
        const qp = at(q + <usize>j * ldq, t);
        a0 = madd(u, v128.load(qp), a0);
        a1 = madd(u, v128.load(qp, 16), a1);
        a2 = madd(u, v128.load(qp, 32), a2);
        a3 = madd(u, v128.load(qp, 48), a3);
      }
      const o = at(r0, t);
      v128.store(o, a0);
      v128.store(o, a1, 16);
      v128.store(o, a2, 32);
      v128.store(o, a3, 48);
    }
    for (; t < tq; t += 4) {
      let a = f32x4.splat(0);
      for (let j = j0; j < j1; j++) a = madd(f32x4.splat(load<f32>(at(k + <usize>j * ldk, s))), v128.load(at(q + <usize>j * ldq, t)), a);
      v128.store(at(r0, t), a);
    }
  }
}

/**
 * Softmax over the keys of every query column of St [T, tq] (tq a multiple of 4), in place:
 * St[s, t] = exp(alpha·St[s, t] − m_t) / Σ_s exp(alpha·St[s, t] − m_t), m_t the column's maximum
 * of alpha·St, four queries per SIMD step (so no exp is left to a scalar tail).
 */
@inline
function softmaxCols(T: i32, tq: i32, alpha: f32, St: usize): void {
  const ldS = <usize>tq << 2;
  const va = f32x4.splat(alpha);
  for (let t = 0; t < tq; t += 4) {
    const col = at(St, t);
    let m = f32x4.splat(-Infinity);
    for (let s = 0; s < T; s++) m = f32x4.max(m, f32x4.mul(v128.load(col + <usize>s * ldS), va));
    let z = f32x4.splat(0);
    for (let s = 0; s < T; s++) {
      const p = col + <usize>s * ldS;
      const e = expV(f32x4.sub(f32x4.mul(v128.load(p), va), m));
      v128.store(p, e);
      z = f32x4.add(z, e);
    }
    const inv = f32x4.div(f32x4.splat(1), z);
    for (let s = 0; s < T; s++) {
      const p = col + <usize>s * ldS;
      v128.store(p, f32x4.mul(v128.load(p), inv));
    }
  }
}

/**
 * O[j, t] = Σ_s P[s, t]·V[j, s] for value features j ∈ [v0, v1) and the SIMD queries t < tq,
 * from the weights Pt [T, tq] (keys × queries), V[j, s] broadcast, two value rows × 16 queries
 * per register tile sharing the loads of Pt. V's rows are ldv bytes apart, O's ldo.
 */
@inline
function weightedT(tq: i32, T: i32, v0: i32, v1: i32, Pt: usize, v: usize, ldv: usize, o: usize, ldo: usize): void {
  const ldp = <usize>tq << 2;
  let j = v0;
  for (; j + 2 <= v1; j += 2) {
    const vr = v + <usize>j * ldv, wr = vr + ldv;
    const orow = o + <usize>j * ldo, prow = orow + ldo;
    let t = 0;
    for (; t + 16 <= tq; t += 16) {
      let a0 = f32x4.splat(0);
      let a1 = a0, a2 = a0, a3 = a0, c0 = a0, c1 = a0, c2 = a0, c3 = a0;
      let pp = at(Pt, t);
      for (let s = 0; s < T; s++) {
        const u = f32x4.splat(load<f32>(at(vr, s))), w = f32x4.splat(load<f32>(at(wr, s)));
        const p0 = v128.load(pp), p1 = v128.load(pp, 16), p2 = v128.load(pp, 32), p3 = v128.load(pp, 48);
        a0 = madd(u, p0, a0);
        a1 = madd(u, p1, a1);
        a2 = madd(u, p2, a2);
        a3 = madd(u, p3, a3);
        c0 = madd(w, p0, c0);
        c1 = madd(w, p1, c1);
        c2 = madd(w, p2, c2);
        c3 = madd(w, p3, c3);
        pp += ldp;
      }
      const q0 = at(orow, t), q1 = at(prow, t);
      v128.store(q0, a0);
      v128.store(q0, a1, 16);
      v128.store(q0, a2, 32);
      v128.store(q0, a3, 48);
      v128.store(q1, c0);
      v128.store(q1, c1, 16);
      v128.store(q1, c2, 32);
      v128.store(q1, c3, 48);
    }
    for (; t < tq; t += 4) {
      let a = f32x4.splat(0), c = a;
      let pp = at(Pt, t);
      for (let s = 0; s < T; s++) {
        const pv = v128.load(pp);
        a = madd(f32x4.splat(load<f32>(at(vr, s))), pv, a);
        c = madd(f32x4.splat(load<f32>(at(wr, s))), pv, c);
        pp += ldp;
      }
      v128.store(at(orow, t), a);
      v128.store(at(prow, t), c);
    }
  }
  for (; j < v1; j++) {
    const vr = v + <usize>j * ldv, orow = o + <usize>j * ldo;
    for (let t = 0; t < tq; t += 4) {
      let a = f32x4.splat(0);
      let pp = at(Pt, t);
      for (let s = 0; s < T; s++) {
        a = madd(f32x4.splat(load<f32>(at(vr, s))), v128.load(pp), a);
        pp += ldp;
      }
      v128.store(at(orow, t), a);
    }
  }
}

/** Σ_s a[s]·b[s] over n contiguous floats (four lanes, then the rest). */
@inline
function dot(n: i32, a: usize, b: usize): f32 {
  let s = 0;
  let r: f32 = 0;
  if (ASC_FEATURE_SIMD) {
    let acc = f32x4.splat(0);
    for (; s + 4 <= n; s += 4) acc = madd(v128.load(at(a, s)), v128.load(at(b, s)), acc);
    r = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  }
  for (; s < n; s++) r += load<f32>(at(a, s)) * load<f32>(at(b, s));
  return r;
}

/**
 * Queries [t0, Tq) of one (example, head) row by row (the last Tq mod 4 queries in the SIMD
 * modules, all of them in the scalar one): scores S [Tq − t0, T] with the keys contiguous,
 * softmax by rows (the transformer kernel), then O[j, t] = Σ_s P[t, s]·V[j, s] as dot products.
 */
@inline
function queryRows(t0: i32, Tq: i32, T: i32, j0: i32, j1: i32, v0: i32, v1: i32, alpha: f32, q: usize, ldq: usize, k: usize, ldk: usize, v: usize, ldv: usize, o: usize, ldo: usize, S: usize): void {
  const ldS = <usize>T << 2;
  for (let t = t0; t < Tq; t++) {
    const sr = S + <usize>(t - t0) * ldS;
    let s = 0;
    if (ASC_FEATURE_SIMD) {
      // 16 keys per step (four independent sums over j), then groups of four.
      for (; s + 16 <= T; s += 16) {
        let a0 = f32x4.splat(0);
        let a1 = a0, a2 = a0, a3 = a0;
        for (let j = j0; j < j1; j++) {
          const u = f32x4.splat(load<f32>(at(q + <usize>j * ldq, t)));
          const kp = at(k + <usize>j * ldk, s);
          a0 = madd(u, v128.load(kp), a0);
          a1 = madd(u, v128.load(kp, 16), a1);
          a2 = madd(u, v128.load(kp, 32), a2);
          a3 = madd(u, v128.load(kp, 48), a3);
        }
        const o = at(sr, s);
        v128.store(o, a0);
        v128.store(o, a1, 16);
        v128.store(o, a2, 32);
        v128.store(o, a3, 48);
      }
      for (; s + 4 <= T; s += 4) {
        let a = f32x4.splat(0);
        for (let j = j0; j < j1; j++) a = madd(f32x4.splat(load<f32>(at(q + <usize>j * ldq, t))), v128.load(at(k + <usize>j * ldk, s)), a);
        v128.store(at(sr, s), a);
      }
    }
    for (; s < T; s++) {
      let a: f32 = 0;
      for (let j = j0; j < j1; j++) a += load<f32>(at(q + <usize>j * ldq, t)) * load<f32>(at(k + <usize>j * ldk, s));
      store<f32>(at(sr, s), a);
    }
  }
  softmax_rows_f32(Tq - t0, T, alpha, S, S);
  for (let t = t0; t < Tq; t++) {
    const pr = S + <usize>(t - t0) * ldS;
    for (let j = v0; j < v1; j++) store<f32>(at(o + <usize>j * ldo, t), dot(T, pr, v + <usize>j * ldv));
  }
}

/**
 * Multi-head self-attention of examples [b0, b1) of n, with each example's first Tq of its T
 * tokens as the queries (Tq = T: every token; Tq = 1: the class token only, when nothing but it
 * is read afterwards): K, V [·, n·T] and Q, O [·, n·Tq], feature-major. Head h owns the q/k rows
 * [qkBase[h], qkBase[h+1]) and the v/o rows [vBase[h], vBase[h+1]) (i32 tables of heads + 1
 * entries; heads may differ in width once ablated features are dropped, and a head without q/k
 * rows attends uniformly). Per (example, head), O_h = V_h·softmax(alpha·Q_hᵀK_h)ᵀ: queries in
 * whole groups of four as keys × queries tiles (scores, softmax down the columns, weighted sum,
 * all across the SIMD lanes), the rest row by row. `scratch` holds those tiles, [T, Tq] floats,
 * and at the next 64-byte boundary past T·T floats the rows, [Tq mod 4, T] (attentionScratchBytes
 * in condensed.ts), for this call alone.
 */
export function attention_cols_f32(
  b0: i32, b1: i32, T: i32, Tq: i32, n: i32, heads: i32, alpha: f32, qkBase: usize, vBase: usize, Q: usize, K: usize, V: usize, O: usize, scratch: usize,
): void {
  const ldk = <usize>n * <usize>T << 2, ldq = <usize>n * <usize>Tq << 2;
  const St = scratch;
  const S = scratch + ((<usize>T * <usize>T * 4 + 63) & ~(<usize>63));
  const tq = ASC_FEATURE_SIMD ? Tq & ~3 : 0;
  for (let b = b0; b < b1; b++) {
    const lk = <usize>b * <usize>T << 2, lq = <usize>b * <usize>Tq << 2;
    for (let h = 0; h < heads; h++) {
      const v0 = load<i32>(vBase + (<usize>h << 2)), v1 = load<i32>(vBase + (<usize>h << 2), 4);
      if (v0 >= v1) continue;
      const j0 = load<i32>(qkBase + (<usize>h << 2)), j1 = load<i32>(qkBase + (<usize>h << 2), 4);
      if (ASC_FEATURE_SIMD && tq > 0) {
        scoresT(tq, T, j0, j1, Q + lq, ldq, K + lk, ldk, St);
        softmaxCols(T, tq, alpha, St);
        weightedT(tq, T, v0, v1, St, V + lk, ldk, O + lq, ldq);
      }
      if (tq < Tq) queryRows(tq, Tq, T, j0, j1, v0, v1, alpha, Q + lq, ldq, K + lk, ldk, V + lk, ldk, O + lq, ldq, S);
    }
  }
}

/** y[i] = x[i·stride] for i < count: the class token of every example, [F, n·T] → [F, n] (stride T). */
export function copy_strided_f32(count: i32, stride: i32, x: usize, y: usize): void {
  const st = <usize>stride << 2;
  for (let i = 0; i < count; i++) store<f32>(at(y, i), load<f32>(x + <usize>i * st));
}

/**
 * A constant-fan-in layer over N = 16 + t lanes, t ∈ {1, 2, 3} (batch 1 of the vit: 16 patch
 * tokens and the class token), rows [r0, r1): Yᵀ[r, :] = bias[r] + Σ_j values[r, j]·Xᵀ[indices[r, j], :]
 * as spmm_cfi_f32_*_1x16 computes it, but with the t extra lanes in the same pass over the row's
 * weights (one more load and multiply-add per weight, where the batched kernel makes a second
 * pass of index loads for them) and Xᵀ read in place (N floats a row: it stays in L1, so no
 * panel is packed).
 */
@inline
function spmm16p<I>(r0: i32, r1: i32, k: i32, N: i32, values: usize, indices: usize, bias: usize, xT: usize, yT: usize): void {
  const ld = <usize>N << 2;
  const t = N - 16;
  for (let r = r0; r < r1; r++) {
    const vp = values + (<usize>r * <usize>k << 2);
    const ip = indices + <usize>r * <usize>k * sizeof<I>();
    const b = load<f32>(at(bias, r));
    const y = yT + <usize>r * ld;
    if (ASC_FEATURE_SIMD) {
      let a0 = f32x4.splat(b);
      let a1 = a0, a2 = a0, a3 = a0;
      let s0 = b, s1 = b, s2 = b;
      for (let j = 0; j < k; j++) {
        const w = load<f32>(at(vp, j));
        const xr = xT + <usize>load<I>(ip + <usize>j * sizeof<I>()) * ld;
        const wv = f32x4.splat(w);
        a0 = madd(wv, v128.load(xr), a0);
        a1 = madd(wv, v128.load(xr, 16), a1);
        a2 = madd(wv, v128.load(xr, 32), a2);
        a3 = madd(wv, v128.load(xr, 48), a3);
        s0 += w * load<f32>(xr, 64);
        if (t > 1) s1 += w * load<f32>(xr, 68);
        if (t > 2) s2 += w * load<f32>(xr, 72);
      }
      v128.store(y, a0);
      v128.store(y, a1, 16);
      v128.store(y, a2, 32);
      v128.store(y, a3, 48);
      store<f32>(y, s0, 64);
      if (t > 1) store<f32>(y, s1, 68);
      if (t > 2) store<f32>(y, s2, 72);
    } else {
      for (let l = 0; l < N; l++) {
        let s = b;
        for (let j = 0; j < k; j++) s += load<f32>(at(vp, j)) * load<f32>(at(xT + <usize>load<I>(ip + <usize>j * sizeof<I>()) * ld, l));
        store<f32>(at(y, l), s);
      }
    }
  }
}
export function spmm_cfi_f32_u16_1x16p(r0: i32, r1: i32, k: i32, N: i32, values: usize, indices: usize, bias: usize, xT: usize, yT: usize): void {
  spmm16p<u16>(r0, r1, k, N, values, indices, bias, xT, yT);
}
export function spmm_cfi_f32_u32_1x16p(r0: i32, r1: i32, k: i32, N: i32, values: usize, indices: usize, bias: usize, xT: usize, yT: usize): void {
  spmm16p<u32>(r0, r1, k, N, values, indices, bias, xT, yT);
}
