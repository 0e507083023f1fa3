import type { Kernels, Ptr } from './api.js';
import type { Isa, KernelExports } from './module.js';
import { PARALLEL_MIN_MACS_ASLEEP, type ThreadPool } from './threads.js';

const NN = 0, TN = 1, NT = 2;

/**
 * Below this many elements a memory-bound op (transpose, ReLU, bias, SGD step, mask) runs on the
 * calling thread even when the workers are polling: a split costs ~1–2 µs of dispatch, and such an
 * op moves ~1 ns per element.
 */
export const PARALLEL_MIN_ELEMENTS = 1 << 13;
/**
 * Below this many multiply-adds a sparse training kernel runs on the calling thread even when
 * the workers are polling: they gather (~4 GMAC/s per thread), so 2^15 is ~8 µs.
 */
export const PARALLEL_MIN_SPARSE_MACS = 1 << 15;
/** Parts of a split start at multiples of this many lanes or elements (one cache line, and whole v128 steps). */
const ALIGN = 16;

/**
 * The WebAssembly kernels of one ISA level, optionally with a thread pool. GEMMs and the sparse
 * training kernels split over it; so do the memory-bound ops of a training step (transposes,
 * ReLU, bias, mask, SGD, GELU; softmax and layer norm by rows) when they are large enough and
 * the workers are polling (each thread takes the same part of every batch, so its activations
 * stay in its cache). Reductions across rows (sums, the loss, layer norm's parameter
 * gradients) run on the calling thread: their order must not depend on the split.
 */
export class WasmKernels implements Kernels {
  readonly name: string;
  /** Rows of the GEMM register tile. */
  readonly tileRows: number;
  /** Columns of the GEMM register tile (threads split the columns in multiples of it). */
  readonly tileCols: number;

  /**
   * @param k the calling thread's instance
   * @param scratch the calling thread's GEMM scratch area (gemm_scratch_bytes() bytes)
   * @param small 16 bytes for small results (the softmax hit count)
   */
  constructor(
    readonly isa: Isa,
    private readonly k: KernelExports,
    private readonly scratch: Ptr,
    private readonly small: Ptr,
    private readonly memory: WebAssembly.Memory,
    private readonly pool: ThreadPool | null,
  ) {
    const tile = k.gemm_tile();
    this.tileRows = Math.floor(tile / 100);
    this.tileCols = tile % 100;
    this.name = `wasm ${isa} x${pool ? pool.threads : 1}`;
  }

  private gemm(form: number, M: number, N: number, K: number, A: Ptr, B: Ptr, C: Ptr, accumulate: boolean): void {
    const acc = accumulate ? 1 : 0;
    if (this.pool && N > this.pool.unitCols(N, this.tileCols) && this.pool.worthSplitting(M * N * K)) {
      this.pool.gemm(form, M, N, K, A, B, C, acc, this.tileCols);
    } else {
      this.k.gemm_f32(form, M, N, K, A, B, C, acc, 0, M, 0, N, this.scratch);
    }
  }

  gemmNN(M: number, N: number, K: number, A: Ptr, B: Ptr, C: Ptr, accumulate: boolean): void {
    this.gemm(NN, M, N, K, A, B, C, accumulate);
  }
  gemmTN(M: number, N: number, K: number, A: Ptr, B: Ptr, C: Ptr, accumulate: boolean): void {
    this.gemm(TN, M, N, K, A, B, C, accumulate);
  }
  gemmNT(M: number, N: number, K: number, A: Ptr, B: Ptr, C: Ptr, accumulate: boolean): void {
    this.gemm(NT, M, N, K, A, B, C, accumulate);
  }

  addBiasRows(M: number, N: number, Y: Ptr, bias: Ptr): void {
    const pool = M > 1 ? this.memBound(M * N) : null;
    if (pool) pool.parts('add_bias_rows_range_f32', 0, M, 1, [N, Y, bias]);
    else this.k.add_bias_rows_f32(M, N, Y, bias);
  }
  addBiasChannels(B: number, C: number, S: number, Y: Ptr, bias: Ptr): void {
    this.k.add_bias_channels_f32(B, C, S, Y, bias);
  }
  sumRows(M: number, N: number, X: Ptr, out: Ptr, accumulate: boolean): void {
    this.k.sum_rows_f32(M, N, X, out, accumulate ? 1 : 0);
  }
  sumChannels(B: number, C: number, S: number, X: Ptr, out: Ptr, accumulate: boolean): void {
    this.k.sum_channels_f32(B, C, S, X, out, accumulate ? 1 : 0);
  }
  reluForward(n: number, X: Ptr, Y: Ptr): void {
    const pool = this.memBound(n);
    if (pool) pool.parts('relu_forward_range_f32', 0, n, ALIGN, [X, Y]);
    else this.k.relu_forward_f32(n, X, Y);
  }
  reluBackward(n: number, Y: Ptr, dY: Ptr, dX: Ptr): void {
    const pool = this.memBound(n);
    if (pool) pool.parts('relu_backward_range_f32', 0, n, ALIGN, [Y, dY, dX]);
    else this.k.relu_backward_f32(n, Y, dY, dX);
  }
  add(n: number, A: Ptr, B: Ptr, Y: Ptr): void {
    this.k.add_f32(n, A, B, Y);
  }
  mul(n: number, A: Ptr, B: Ptr, Y: Ptr): void {
    const pool = this.memBound(n);
    if (pool) pool.parts('mul_range_f32', 0, n, ALIGN, [A, B, Y]);
    else this.k.mul_f32(n, A, B, Y);
  }
  scale(n: number, X: Ptr, alpha: number): void {
    this.k.scale_f32(n, X, alpha);
  }
  copy(n: number, src: Ptr, dst: Ptr): void {
    this.k.copy_f32(n, src, dst);
  }
  fill(n: number, dst: Ptr, value: number): void {
    this.k.fill_f32(n, dst, value);
  }
  sumSquares(n: number, X: Ptr): number {
    return this.k.sum_squares_f32(n, X);
  }
  layerNormForward(M: number, N: number, X: Ptr, gamma: Ptr, beta: Ptr, Y: Ptr, mean: Ptr, invStd: Ptr, eps: number): void {
    const pool = M > 1 ? this.memBound(M * N) : null;
    if (pool) pool.parts('layer_norm_forward_range_f32', 0, M, 1, [N, X, gamma, beta, Y, mean, invStd, eps]);
    else this.k.layer_norm_forward_f32(M, N, X, gamma, beta, Y, mean, invStd, eps);
  }
  layerNormBackward(M: number, N: number, X: Ptr, dY: Ptr, gamma: Ptr, mean: Ptr, invStd: Ptr, dX: Ptr, dGamma: Ptr, dBeta: Ptr): void {
    this.k.layer_norm_backward_f32(M, N, X, dY, gamma, mean, invStd, dX, dGamma, dBeta);
  }
  geluForward(n: number, X: Ptr, Y: Ptr): void {
    const pool = this.memBound(n);
    if (pool) pool.parts('gelu_forward_range_f32', 0, n, ALIGN, [X, Y]);
    else this.k.gelu_forward_f32(n, X, Y);
  }
  geluBackward(n: number, X: Ptr, dY: Ptr, dX: Ptr): void {
    const pool = this.memBound(n);
    if (pool) pool.parts('gelu_backward_range_f32', 0, n, ALIGN, [X, dY, dX]);
    else this.k.gelu_backward_f32(n, X, dY, dX);
  }
  softmaxRows(M: number, N: number, alpha: number, X: Ptr, Y: Ptr): void {
    const pool = M > 1 ? this.memBound(M * N) : null;
    if (pool) pool.parts('softmax_rows_range_f32', 0, M, 1, [N, alpha, X, Y]);
    else this.k.softmax_rows_f32(M, N, alpha, X, Y);
  }
  softmaxRowsBackward(M: number, N: number, alpha: number, Y: Ptr, dY: Ptr, dX: Ptr): void {
    const pool = M > 1 ? this.memBound(M * N) : null;
    if (pool) pool.parts('softmax_rows_backward_range_f32', 0, M, 1, [N, alpha, Y, dY, dX]);
    else this.k.softmax_rows_backward_f32(M, N, alpha, Y, dY, dX);
  }
  im2col(C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number, X: Ptr, col: Ptr): void {
    this.k.im2col_f32(C, H, W, kh, kw, stride, pad, X, col);
  }
  col2im(C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number, col: Ptr, dX: Ptr): void {
    this.k.col2im_f32(C, H, W, kh, kw, stride, pad, col, dX);
  }
  maxPoolForward(P: number, H: number, W: number, k: number, stride: number, X: Ptr, Y: Ptr, argmax: Ptr): void {
    this.k.max_pool_forward_f32(P, H, W, k, stride, X, Y, argmax);
  }
  maxPoolBackward(P: number, H: number, W: number, k: number, stride: number, dY: Ptr, argmax: Ptr, dX: Ptr): void {
    this.k.max_pool_backward_f32(P, H, W, k, stride, dY, argmax, dX);
  }
  globalAvgPoolForward(P: number, S: number, X: Ptr, Y: Ptr): void {
    this.k.global_avg_pool_forward_f32(P, S, X, Y);
  }
  globalAvgPoolBackward(P: number, S: number, dY: Ptr, dX: Ptr): void {
    this.k.global_avg_pool_backward_f32(P, S, dY, dX);
  }
  batchNormTrainForward(
    B: number, C: number, S: number, X: Ptr, gamma: Ptr, beta: Ptr, Y: Ptr,
    mean: Ptr, invStd: Ptr, runMean: Ptr, runVar: Ptr, momentum: number, eps: number,
  ): void {
    this.k.batch_norm_train_forward_f32(B, C, S, X, gamma, beta, Y, mean, invStd, runMean, runVar, momentum, eps);
  }
  batchNormEvalForward(
    B: number, C: number, S: number, X: Ptr, gamma: Ptr, beta: Ptr, runMean: Ptr, runVar: Ptr, eps: number, Y: Ptr,
  ): void {
    this.k.batch_norm_eval_forward_f32(B, C, S, X, gamma, beta, runMean, runVar, eps, Y);
  }
  batchNormBackward(
    B: number, C: number, S: number, X: Ptr, dY: Ptr, gamma: Ptr, mean: Ptr, invStd: Ptr,
    dX: Ptr, dGamma: Ptr, dBeta: Ptr,
  ): void {
    this.k.batch_norm_backward_f32(B, C, S, X, dY, gamma, mean, invStd, dX, dGamma, dBeta);
  }
  softmaxCrossEntropy(B: number, C: number, logits: Ptr, labels: Ptr, smoothing: number, dLogits: Ptr): { loss: number; correct: number } {
    const loss = this.k.softmax_cross_entropy_f32(B, C, logits, labels, smoothing, dLogits, this.small);
    return { loss, correct: new Int32Array(this.memory.buffer, this.small, 1)[0] };
  }
  sgdStep(n: number, W: Ptr, G: Ptr, M: Ptr, lr: number, momentum: number, weightDecay: number, nesterov: boolean): void {
    // lr, μ and wd travel as f64 and become the same f32 in every thread's call.
    const pool = this.memBound(n);
    if (pool) pool.parts('sgd_step_range_f32', 0, n, ALIGN, [W, G, M, lr, momentum, weightDecay, nesterov ? 1 : 0]);
    else this.k.sgd_step_f32(n, W, G, M, lr, momentum, weightDecay, nesterov ? 1 : 0);
  }
  adamwStep(
    n: number, W: Ptr, G: Ptr, m: Ptr, v: Ptr, lr: number, beta1: number, beta2: number, eps: number,
    weightDecay: number, bc1: number, bc2: number,
  ): void {
    this.k.adamw_step_f32(n, W, G, m, v, lr, beta1, beta2, eps, weightDecay, bc1, bc2);
  }

  im2colBatch(B: number, C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number, X: Ptr, col: Ptr): void {
    this.k.im2col_batch_f32(B, C, H, W, kh, kw, stride, pad, X, col);
  }
  col2imBatch(B: number, C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number, col: Ptr, dX: Ptr): void {
    this.k.col2im_batch_f32(B, C, H, W, kh, kw, stride, pad, col, dX);
  }
  swapAxes(A: number, B: number, S: number, X: Ptr, Y: Ptr): void {
    // S = 1 is a plain transpose (sparse layers' batch-major ⇄ batch-contiguous): the blocked kernel.
    if (S !== 1) {
      this.k.swap_axes_f32(A, B, S, X, Y);
      return;
    }
    const pool = this.memBound(A * B);
    if (!pool) {
      this.k.transpose_f32(A, B, X, Y);
      return;
    }
    // Split along the batch, so each thread writes the lanes (or batch rows) it computes next
    // (see sparseRowsForward). Which axis is the batch the call does not say: the mlp's and the
    // sparse convolutions' batch (or B·OH·OW lanes) is the axis that is a multiple of 16 when only
    // one is, else the shorter one. Either split gives the same result.
    const splitA = A % ALIGN === 0 && B % ALIGN !== 0 ? true : B % ALIGN === 0 && A % ALIGN !== 0 ? false : A <= B;
    if (splitA) pool.parts('transpose_src_rows_f32', 0, A, ALIGN, [A, B, X, Y]);
    else pool.parts('transpose_dst_rows_f32', 0, B, ALIGN, [A, B, X, Y]);
  }

  /** Active weights of a CSR (or CSC) list (ptr[rows]), read from memory: the work of a sparse call. */
  private nnzOf(rowPtr: Ptr, rows: number): number {
    return new Int32Array(this.memory.buffer, rowPtr + rows * 4, 1)[0];
  }

  /** Whether a sparse call of `macs` multiply-adds splits over the pool (as a GEMM of that size would). */
  private split(macs: number): ThreadPool | null {
    return this.pool && this.pool.worthSplitting(macs) ? this.pool : null;
  }

  /** The pool, when a memory-bound op of `n` elements is worth splitting now (see ThreadPool.awake). */
  private memBound(n: number): ThreadPool | null {
    return this.pool && n >= PARALLEL_MIN_ELEMENTS && this.pool.awake() ? this.pool : null;
  }

  /** The pool, when a sparse training call of `macs` multiply-adds over n ≥ 2·ALIGN lanes is worth splitting now. */
  private sparse(macs: number): ThreadPool | null {
    if (!this.pool) return null;
    return macs >= PARALLEL_MIN_MACS_ASLEEP || (macs >= PARALLEL_MIN_SPARSE_MACS && this.pool.awake()) ? this.pool : null;
  }

  /*
   * The forward pass and the input gradient split by lanes (the batch: each thread keeps its
   * part of every activation in its own cache, layer after layer, see lanes.ts); the weight
   * gradient, a sum over the lanes, splits by rows. Batches of fewer than 2·ALIGN lanes split by
   * rows as before.
   */
  sparseRowsForward(rows: number, n: number, rowPtr: Ptr, col: Ptr, W: Ptr, xT: Ptr, yT: Ptr): void {
    const macs = this.nnzOf(rowPtr, rows) * n;
    const lanes = n >= 2 * ALIGN ? this.sparse(macs) : null;
    if (lanes) {
      lanes.parts('sparse_rows_forward_lanes_f32', 0, n, ALIGN, [rows, n, rowPtr, col, W, xT, yT]);
      return;
    }
    const pool = rows > 1 ? this.split(macs) : null;
    if (pool) pool.rows('sparse_rows_forward_f32', 0, rows, Math.ceil(rows / (8 * pool.threads)), [n, rowPtr, col, W, xT, yT]);
    else this.k.sparse_rows_forward_f32(0, rows, n, rowPtr, col, W, xT, yT);
  }
  sparseRowsWeightGrad(rows: number, n: number, rowPtr: Ptr, col: Ptr, G: Ptr, dyT: Ptr, xT: Ptr): void {
    const pool = rows > 1 ? this.sparse(this.nnzOf(rowPtr, rows) * n) : null;
    // One part per thread, the calling thread's first: the gradient of a constant fan-in layer's
    // first rows is the first part of its compact G, which the SGD step splits the same way.
    if (pool) pool.parts('sparse_rows_weight_grad_f32', 0, rows, 1, [n, rowPtr, col, G, dyT, xT]);
    else this.k.sparse_rows_weight_grad_f32(0, rows, n, rowPtr, col, G, dyT, xT);
  }
  sparseColsInputGrad(cols: number, n: number, colPtr: Ptr, rowIdx: Ptr, wPos: Ptr, W: Ptr, dyT: Ptr, dxT: Ptr): void {
    const macs = this.nnzOf(colPtr, cols) * n;
    const lanes = n >= 2 * ALIGN ? this.sparse(macs) : null;
    if (lanes) {
      lanes.parts('sparse_cols_input_grad_lanes_f32', 0, n, ALIGN, [cols, n, colPtr, rowIdx, wPos, W, dyT, dxT]);
      return;
    }
    const pool = cols > 1 ? this.split(macs) : null;
    if (pool) pool.rows('sparse_cols_input_grad_f32', 0, cols, Math.ceil(cols / (8 * pool.threads)), [n, colPtr, rowIdx, wPos, W, dyT, dxT]);
    else this.k.sparse_cols_input_grad_f32(0, cols, n, colPtr, rowIdx, wPos, W, dyT, dxT);
  }
}
