// Placeholder until the register-blocked GEMM lands.
export function gemm_nn_f32_ref(M: i32, N: i32, K: i32, a: usize, b: usize, c: usize, acc: i32): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s: f32 = acc ? load<f32>(c + (<usize>(i * N + j) << 2)) : 0;
      for (let k = 0; k < K; k++) s += load<f32>(a + (<usize>(i * K + k) << 2)) * load<f32>(b + (<usize>(k * N + j) << 2));
      store<f32>(c + (<usize>(i * N + j) << 2), s);
    }
  }
}
