// exp for the SIMD kernels of the transformer layers (transformer.ts) and of condensed ViT
// inference (condensed-vit.ts): one polynomial in v128 lanes and in scalar tails alike, so an
// element's value does not depend on where it falls in a row. Not exported from index.ts: the
// helpers are inlined where they are used.

// exp(x) = 2^n · e^r with n = round(x·log2 e) and r = x − n·ln 2 (ln 2 split in two for an exact
// product), e^r by Cephes' degree-6 polynomial: relative error ~1e-7. x is clamped to where 2^n
// is a normal f32, so exp underflows to ~1e-38 rather than 0 (harmless beside a softmax's ≥ 1 sum).
// The clamp uses pmin/pmax (one minps/maxps each on x86; a NaN input stays NaN): NaN-propagating
// min/max made GELU and softmax 1.35× slower. n is rounded by adding 1.5·2^23, which leaves n in
// the low mantissa bits of the sum: shifted into the exponent field with the bias (the
// constant's own bits shift out), they are 2^n; ~2% faster than nearest + trunc_sat.
const ROUND: f32 = 12582912;
const EXP_LO: f32 = -87.3;
const EXP_HI: f32 = 88.3;
const LOG2E: f32 = 1.44269504;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const P0: f32 = 1.9875691500e-4;
const P1: f32 = 1.3981999507e-3;
const P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2;
const P4: f32 = 1.6666665459e-1;
const P5: f32 = 5.0000001201e-1;

@inline
export function expS(x0: f32): f32 {
  const x = min(max(x0, EXP_LO), EXP_HI);
  const t = x * LOG2E + ROUND;
  const n = t - ROUND;
  const r = x - n * LN2_HI - n * LN2_LO;
  let p = P0;
  p = p * r + P1;
  p = p * r + P2;
  p = p * r + P3;
  p = p * r + P4;
  p = p * r + P5;
  p = p * r * r + r + 1;
  return p * reinterpret<f32>((reinterpret<i32>(t) + 127) << 23);
}

@inline
export function expV(x0: v128): v128 {
  const x = f32x4.pmin(f32x4.pmax(x0, f32x4.splat(EXP_LO)), f32x4.splat(EXP_HI));
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(ROUND));
  const n = f32x4.sub(t, f32x4.splat(ROUND));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI))), f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(P0);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P4));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P5));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  const scale = i32x4.shl(i32x4.add(t, i32x4.splat(127)), 23);
  return f32x4.mul(p, scale);
}
