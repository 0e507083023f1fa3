// Row helpers shared by the constant-fan-in (condensed.ts) and CSR (csr.ts) kernels: one
// output row given its values, indices (u16 or u32) and length. Kept out of index.ts's exports
// because generic functions cannot be WebAssembly exports.
import { madd } from './simd';

// ---- one row, batch 1 -------------------------------------------------------------------------

/** Σ_j v[j]·x[idx[j]] over `len` weights; j unrolled by 4, x gathered lane by lane. */
@inline
export function gatherDot4<I>(vp: usize, ip: usize, len: i32, x: usize): f32 {
  let j = 0;
  let s: f32 = 0;
  if (ASC_FEATURE_SIMD) {
    let acc = f32x4.splat(0);
    for (; j + 4 <= len; j += 4) {
      let xv = v128.load32_zero(x + (<usize>load<I>(ip) << 2));
      xv = v128.load32_lane(x + (<usize>load<I>(ip, sizeof<I>()) << 2), xv, 1);
      xv = v128.load32_lane(x + (<usize>load<I>(ip, 2 * sizeof<I>()) << 2), xv, 2);
      xv = v128.load32_lane(x + (<usize>load<I>(ip, 3 * sizeof<I>()) << 2), xv, 3);
      acc = madd(v128.load(vp), xv, acc);
      vp += 16;
      ip += 4 * sizeof<I>();
    }
    s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
  } else {
    let s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    for (; j + 4 <= len; j += 4) {
      s += load<f32>(vp) * load<f32>(x + (<usize>load<I>(ip) << 2));
      s1 += load<f32>(vp, 4) * load<f32>(x + (<usize>load<I>(ip, sizeof<I>()) << 2));
      s2 += load<f32>(vp, 8) * load<f32>(x + (<usize>load<I>(ip, 2 * sizeof<I>()) << 2));
      s3 += load<f32>(vp, 12) * load<f32>(x + (<usize>load<I>(ip, 3 * sizeof<I>()) << 2));
      vp += 16;
      ip += 4 * sizeof<I>();
    }
    s = (s + s1) + (s2 + s3);
  }
  for (; j < len; j++) {
    s += load<f32>(vp) * load<f32>(x + (<usize>load<I>(ip) << 2));
    vp += 4;
    ip += sizeof<I>();
  }
  return s;
}

/**
 * As gatherDot4 but j unrolled by 8 into two accumulators, so two independent FMA chains hide
 * the add latency. In the scalar module it is the same code as gatherDot4.
 */
@inline
export function gatherDot8<I>(vp: usize, ip: usize, len: i32, x: usize): f32 {
  if (!ASC_FEATURE_SIMD) return gatherDot4<I>(vp, ip, len, x);
  let j = 0;
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  for (; j + 8 <= len; j += 8) {
    let x0 = v128.load32_zero(x + (<usize>load<I>(ip) << 2));
    let x1 = v128.load32_zero(x + (<usize>load<I>(ip, 4 * sizeof<I>()) << 2));
    x0 = v128.load32_lane(x + (<usize>load<I>(ip, sizeof<I>()) << 2), x0, 1);
    x1 = v128.load32_lane(x + (<usize>load<I>(ip, 5 * sizeof<I>()) << 2), x1, 1);
    x0 = v128.load32_lane(x + (<usize>load<I>(ip, 2 * sizeof<I>()) << 2), x0, 2);
    x1 = v128.load32_lane(x + (<usize>load<I>(ip, 6 * sizeof<I>()) << 2), x1, 2);
    x0 = v128.load32_lane(x + (<usize>load<I>(ip, 3 * sizeof<I>()) << 2), x0, 3);
    x1 = v128.load32_lane(x + (<usize>load<I>(ip, 7 * sizeof<I>()) << 2), x1, 3);
    a0 = madd(v128.load(vp), x0, a0);
    a1 = madd(v128.load(vp, 16), x1, a1);
    vp += 32;
    ip += 8 * sizeof<I>();
  }
  const acc = f32x4.add(a0, a1);
  let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
  return s + gatherDot4<I>(vp, ip, len - j, x);
}

// ---- one row, batch-contiguous lanes ------------------------------------------------------------

/**
 * Lanes [b, b+16) of one output row: y = bias + Σ_j v[j] · Xᵀ[idx[j], b..b+16), with the 16
 * lanes held in four registers for the whole row. `ldx` is the byte stride of a row of Xᵀ.
 *
 * Two weights per step, combined off the accumulator chain: acc += v₁·x₁ + v₀·x₀ (one mul and
 * one fused madd, then one add into acc). With one madd per weight straight into acc the loop
 * waits on the 4-cycle FMA latency (four chains, one step each per weight); here each chain
 * advances by one 3-cycle add per two weights. Eight accumulators would also break the chain but
 * spill: V8 gives wasm 16 vector registers. Measured 1.03-1.17x faster than one madd per weight
 * (bench/experiments/ab-wasm.ts, 3072→768, k 307, batch 16-256; bench/results/inference-ceilings.md).
 */
@inline
export function axpyRow16<I>(vp: usize, ip: usize, len: i32, xb: usize, ldx: usize, bias: f32, yp: usize): void {
  let a0 = f32x4.splat(bias);
  let a1 = a0, a2 = a0, a3 = a0;
  let j = 0;
  for (; j + 2 <= len; j += 2) {
    const v = f32x4.splat(load<f32>(vp));
    const w = f32x4.splat(load<f32>(vp, 4));
    const xp = xb + <usize>load<I>(ip) * ldx;
    const xq = xb + <usize>load<I>(ip, sizeof<I>()) * ldx;
    a0 = f32x4.add(a0, madd(w, v128.load(xq), f32x4.mul(v, v128.load(xp))));
    a1 = f32x4.add(a1, madd(w, v128.load(xq, 16), f32x4.mul(v, v128.load(xp, 16))));
    a2 = f32x4.add(a2, madd(w, v128.load(xq, 32), f32x4.mul(v, v128.load(xp, 32))));
    a3 = f32x4.add(a3, madd(w, v128.load(xq, 48), f32x4.mul(v, v128.load(xp, 48))));
    vp += 8;
    ip += 2 * sizeof<I>();
  }
  if (j < len) {
    const v = f32x4.splat(load<f32>(vp));
    const xp = xb + <usize>load<I>(ip) * ldx;
    a0 = madd(v, v128.load(xp), a0);
    a1 = madd(v, v128.load(xp, 16), a1);
    a2 = madd(v, v128.load(xp, 32), a2);
    a3 = madd(v, v128.load(xp, 48), a3);
  }
  v128.store(yp, a0);
  v128.store(yp, a1, 16);
  v128.store(yp, a2, 32);
  v128.store(yp, a3, 48);
}

/** Two rows × 16 lanes at once: eight accumulators (one madd per weight into each). */
@inline
export function axpyRow2x16<I>(
  vp: usize, ip: usize, vq: usize, iq: usize, len: i32, xb: usize, ldx: usize, biasP: f32, biasQ: f32, yp: usize, yq: usize,
): void {
  let a0 = f32x4.splat(biasP);
  let a1 = a0, a2 = a0, a3 = a0;
  let c0 = f32x4.splat(biasQ);
  let c1 = c0, c2 = c0, c3 = c0;
  for (let j = 0; j < len; j++) {
    const v = f32x4.splat(load<f32>(vp));
    const xp = xb + <usize>load<I>(ip) * ldx;
    const w = f32x4.splat(load<f32>(vq));
    const xq = xb + <usize>load<I>(iq) * ldx;
    a0 = madd(v, v128.load(xp), a0);
    c0 = madd(w, v128.load(xq), c0);
    a1 = madd(v, v128.load(xp, 16), a1);
    c1 = madd(w, v128.load(xq, 16), c1);
    a2 = madd(v, v128.load(xp, 32), a2);
    c2 = madd(w, v128.load(xq, 32), c2);
    a3 = madd(v, v128.load(xp, 48), a3);
    c3 = madd(w, v128.load(xq, 48), c3);
    vp += 4;
    ip += sizeof<I>();
    vq += 4;
    iq += sizeof<I>();
  }
  v128.store(yp, a0);
  v128.store(yp, a1, 16);
  v128.store(yp, a2, 32);
  v128.store(yp, a3, 48);
  v128.store(yq, c0);
  v128.store(yq, c1, 16);
  v128.store(yq, c2, 32);
  v128.store(yq, c3, 48);
}

/**
 * Lanes [b, b+8) of one row (batch 8, and the tail of the 16-lane tiles). Four weights per step
 * summed pairwise off the chain, so each of the two accumulators takes one add per four weights.
 */
@inline
export function axpyRow8<I>(vp: usize, ip: usize, len: i32, xb: usize, ldx: usize, bias: f32, yp: usize): void {
  let a0 = f32x4.splat(bias);
  let a1 = a0;
  let j = 0;
  for (; j + 4 <= len; j += 4) {
    const v0 = f32x4.splat(load<f32>(vp));
    const v1 = f32x4.splat(load<f32>(vp, 4));
    const v2 = f32x4.splat(load<f32>(vp, 8));
    const v3 = f32x4.splat(load<f32>(vp, 12));
    const x0 = xb + <usize>load<I>(ip) * ldx;
    const x1 = xb + <usize>load<I>(ip, sizeof<I>()) * ldx;
    const x2 = xb + <usize>load<I>(ip, 2 * sizeof<I>()) * ldx;
    const x3 = xb + <usize>load<I>(ip, 3 * sizeof<I>()) * ldx;
    const p0 = madd(v1, v128.load(x1), f32x4.mul(v0, v128.load(x0)));
    const q0 = madd(v3, v128.load(x3), f32x4.mul(v2, v128.load(x2)));
    a0 = f32x4.add(a0, f32x4.add(p0, q0));
    const p1 = madd(v1, v128.load(x1, 16), f32x4.mul(v0, v128.load(x0, 16)));
    const q1 = madd(v3, v128.load(x3, 16), f32x4.mul(v2, v128.load(x2, 16)));
    a1 = f32x4.add(a1, f32x4.add(p1, q1));
    vp += 16;
    ip += 4 * sizeof<I>();
  }
  for (; j < len; j++) {
    const v = f32x4.splat(load<f32>(vp));
    const xp = xb + <usize>load<I>(ip) * ldx;
    a0 = madd(v, v128.load(xp), a0);
    a1 = madd(v, v128.load(xp, 16), a1);
    vp += 4;
    ip += sizeof<I>();
  }
  v128.store(yp, a0);
  v128.store(yp, a1, 16);
}

/** Lanes [b, b+4) of one row (SIMD tail): four weights per step, summed pairwise off the chain. */
@inline
export function axpyRow4<I>(vp: usize, ip: usize, len: i32, xb: usize, ldx: usize, bias: f32, yp: usize): void {
  let a0 = f32x4.splat(bias);
  let j = 0;
  for (; j + 4 <= len; j += 4) {
    const p = madd(
      f32x4.splat(load<f32>(vp, 4)), v128.load(xb + <usize>load<I>(ip, sizeof<I>()) * ldx),
      f32x4.mul(f32x4.splat(load<f32>(vp)), v128.load(xb + <usize>load<I>(ip) * ldx)),
    );
    const q = madd(
      f32x4.splat(load<f32>(vp, 12)), v128.load(xb + <usize>load<I>(ip, 3 * sizeof<I>()) * ldx),
      f32x4.mul(f32x4.splat(load<f32>(vp, 8)), v128.load(xb + <usize>load<I>(ip, 2 * sizeof<I>()) * ldx)),
    );
    a0 = f32x4.add(a0, f32x4.add(p, q));
    vp += 16;
    ip += 4 * sizeof<I>();
  }
  for (; j < len; j++) {
    a0 = madd(f32x4.splat(load<f32>(vp)), v128.load(xb + <usize>load<I>(ip) * ldx), a0);
    vp += 4;
    ip += sizeof<I>();
  }
  v128.store(yp, a0);
}

/** One lane of one row: the scalar tail, and the whole kernel in the scalar module. */
@inline
export function axpyRow1<I>(vp: usize, ip: usize, len: i32, xb: usize, ldx: usize, bias: f32, yp: usize): void {
  let s = bias;
  for (let j = 0; j < len; j++) {
    s += load<f32>(vp) * load<f32>(xb + <usize>load<I>(ip) * ldx);
    vp += 4;
    ip += sizeof<I>();
  }
  store<f32>(yp, s);
}

/**
 * Copies lanes [b, b+16) of Xᵀ [cols, n] into a contiguous [cols, 16] panel. In place, a
 * power-of-two batch puts every gathered 64-byte slice at the same cache-set offset (a 1–4 KiB
 * row stride), so the tile thrashes L1/L2 however small it is; packed, it is cols·64 contiguous
 * bytes.
 */
@inline
export function packPanel16(cols: i32, n: i32, b: i32, xT: usize, panel: usize): void {
  const ldx = <usize>n << 2;
  let src = xT + (<usize>b << 2);
  let dst = panel;
  for (let c = 0; c < cols; c++) {
    v128.store(dst, v128.load(src));
    v128.store(dst, v128.load(src, 16), 16);
    v128.store(dst, v128.load(src, 32), 32);
    v128.store(dst, v128.load(src, 48), 48);
    src += ldx;
    dst += 64;
  }
}
