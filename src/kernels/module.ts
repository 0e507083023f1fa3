import { loadWasm } from '../platform/host.js';
import { RESERVED_BYTES } from './memory.js';
import { enableRelaxedSimd } from './probe.js';

/** Instruction-set level of a compiled kernel module. */
export type Isa = 'scalar' | 'simd128' | 'relaxed';

/** The exports of src/kernels/as/index.ts (pointers are byte offsets; booleans are 0/1). */
export interface KernelExports {
  heap_base(): number;
  gemm_scratch_bytes(): number;
  gemm_tile(): number;
  gemm_f32(form: number, M: number, N: number, K: number, a: number, b: number, c: number, acc: number, r0: number, r1: number, j0: number, j1: number, scratch: number): void;
  fill_f32(n: number, dst: number, value: number): void;
  copy_f32(n: number, src: number, dst: number): void;
  scale_f32(n: number, x: number, alpha: number): void;
  add_f32(n: number, a: number, b: number, y: number): void;
  mul_f32(n: number, a: number, b: number, y: number): void;
  sum_squares_f32(n: number, x: number): number;
  layer_norm_forward_f32(M: number, N: number, x: number, gamma: number, beta: number, y: number, mean: number, invStd: number, eps: number): void;
  layer_norm_backward_f32(M: number, N: number, x: number, dy: number, gamma: number, mean: number, invStd: number, dx: number, dGamma: number, dBeta: number): void;
  gelu_forward_f32(n: number, x: number, y: number): void;
  gelu_backward_f32(n: number, x: number, dy: number, dx: number): void;
  softmax_rows_f32(M: number, N: number, alpha: number, x: number, y: number): void;
  softmax_rows_backward_f32(M: number, N: number, alpha: number, y: number, dy: number, dx: number): void;
  relu_forward_f32(n: number, x: number, y: number): void;
  relu_backward_f32(n: number, y: number, dy: number, dx: number): void;
  add_bias_rows_f32(M: number, N: number, y: number, bias: number): void;
  add_bias_channels_f32(B: number, C: number, S: number, y: number, bias: number): void;
  sum_rows_f32(M: number, N: number, x: number, out: number, acc: number): void;
  sum_channels_f32(B: number, C: number, S: number, x: number, out: number, acc: number): void;
  global_avg_pool_forward_f32(P: number, S: number, x: number, y: number): void;
  global_avg_pool_backward_f32(P: number, S: number, dy: number, dx: number): void;
  sgd_step_f32(n: number, w: number, g: number, m: number, lr: number, mu: number, wd: number, nesterov: number): void;
  adamw_step_f32(n: number, w: number, g: number, m: number, v: number, lr: number, b1: number, b2: number, eps: number, wd: number, bc1: number, bc2: number): void;
  softmax_cross_entropy_f32(B: number, C: number, logits: number, labels: number, smoothing: number, dlogits: number, correct: number): number;
  im2col_f32(C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number, x: number, col: number): void;
  col2im_f32(C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number, col: number, dx: number): void;
  max_pool_forward_f32(P: number, H: number, W: number, k: number, stride: number, x: number, y: number, argmax: number): void;
  max_pool_backward_f32(P: number, H: number, W: number, k: number, stride: number, dy: number, argmax: number, dx: number): void;
  batch_norm_train_forward_f32(
    B: number, C: number, S: number, x: number, gamma: number, beta: number, y: number,
    mean: number, invStd: number, runMean: number, runVar: number, momentum: number, eps: number,
  ): void;
  batch_norm_eval_forward_f32(B: number, C: number, S: number, x: number, gamma: number, beta: number, runMean: number, runVar: number, eps: number, y: number): void;
  batch_norm_backward_f32(
    B: number, C: number, S: number, x: number, dy: number, gamma: number, mean: number, invStd: number,
    dx: number, dGamma: number, dBeta: number,
  ): void;
  im2col_batch_f32(B: number, C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number, x: number, col: number): void;
  col2im_batch_f32(B: number, C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number, col: number, dx: number): void;
  swap_axes_f32(A: number, B: number, S: number, x: number, y: number): void;
  transpose_f32(rows: number, cols: number, src: number, dst: number): void;
  sparse_rows_forward_f32(r0: number, r1: number, n: number, rowPtr: number, col: number, W: number, xT: number, yT: number): void;
  sparse_rows_weight_grad_f32(r0: number, r1: number, n: number, rowPtr: number, col: number, G: number, dyT: number, xT: number): void;
  sparse_cols_input_grad_f32(i0: number, i1: number, n: number, colPtr: number, rowIdx: number, wPos: number, W: number, dyT: number, dxT: number): void;
}

/** Compiles srigl-<isa>.wasm (dist/wasm in Node, wasm/ beside the browser bundle; run `npm run build:wasm` first). */
export async function compileKernels(isa: Isa): Promise<WebAssembly.Module> {
  if (isa === 'relaxed') await enableRelaxedSimd();
  return WebAssembly.compile(await loadWasm(`srigl-${isa}.wasm`));
}

/** Instantiates a kernel module over the shared memory and checks its static data fits below the heap. */
export function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const instance = new WebAssembly.Instance(module, {
    env: {
      memory,
      abort: (_msg: number, _file: number, line: number, column: number) => {
        throw new Error(`srigl kernel abort at ${line}:${column}`);
      },
    },
  });
  const exports = instance.exports as unknown as KernelExports;
  const base = exports.heap_base();
  if (base > RESERVED_BYTES) throw new Error(`srigl: kernel static data ends at ${base}, above the reserved ${RESERVED_BYTES} bytes`);
  return exports;
}
