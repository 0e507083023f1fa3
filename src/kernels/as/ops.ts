export function fill_f32(n: i32, dst: usize, value: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const v = f32x4.splat(value);
    for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v);
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), value);
}
