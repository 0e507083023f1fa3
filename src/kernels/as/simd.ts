// Shared SIMD helpers, resolved at compile time per ISA level.

/** a·b + c lane-wise: one fused instruction with relaxed SIMD, mul then add otherwise. */
@inline
export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Sum of the four lanes, as f64. */
@inline
export function hsum(v: v128): f64 {
  return <f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1) + <f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3);
}

/** y[j] += x[j] for j < n. */
@inline
export function add_row(n: i32, y: usize, x: usize): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    for (; j + 4 <= n; j += 4) v128.store(y + (<usize>j << 2), f32x4.add(v128.load(y + (<usize>j << 2)), v128.load(x + (<usize>j << 2))));
  }
  for (; j < n; j++) store<f32>(y + (<usize>j << 2), load<f32>(y + (<usize>j << 2)) + load<f32>(x + (<usize>j << 2)));
}
