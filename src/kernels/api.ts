/**
 * The contract every compute backend implements: the WebAssembly kernels (scalar, SIMD,
 * relaxed SIMD, multi-threaded) and the plain TypeScript reference that is their test oracle.
 *
 * All tensors live in one shared WebAssembly memory. Arguments are byte offsets (`Ptr`) into
 * that memory, 16-byte aligned, f32 unless named otherwise (labels and argmax are i32).
 * Layouts are row-major; images are NCHW. Kernels trust their inputs: callers (nn/ layers)
 * allocate buffers of the right size once and reuse them every step.
 */
export type Ptr = number;

export interface Kernels {
  /** Human-readable backend name, e.g. `wasm relaxed x2` or `reference`. */
  readonly name: string;

  /** C[M,N] (+)= A[M,K] · B[K,N]. */
  gemmNN(M: number, N: number, K: number, A: Ptr, B: Ptr, C: Ptr, accumulate: boolean): void;
  /** C[M,N] (+)= Aᵀ · B with A stored [K,M] and B [K,N]. */
  gemmTN(M: number, N: number, K: number, A: Ptr, B: Ptr, C: Ptr, accumulate: boolean): void;
  /** C[M,N] (+)= A · Bᵀ with A stored [M,K] and B [N,K]. */
  gemmNT(M: number, N: number, K: number, A: Ptr, B: Ptr, C: Ptr, accumulate: boolean): void;

  /** Y[m,n] += bias[n] for an [M,N] matrix. */
  addBiasRows(M: number, N: number, Y: Ptr, bias: Ptr): void;
  /** Y[b,c,s] += bias[c] for an [B,C,S] tensor (S = H·W). */
  addBiasChannels(B: number, C: number, S: number, Y: Ptr, bias: Ptr): void;
  /** out[n] (+)= Σ_m X[m,n] (bias gradient of a Linear layer). */
  sumRows(M: number, N: number, X: Ptr, out: Ptr, accumulate: boolean): void;
  /** out[c] (+)= Σ_{b,s} X[b,c,s] (bias gradient of a Conv2d layer). */
  sumChannels(B: number, C: number, S: number, X: Ptr, out: Ptr, accumulate: boolean): void;

  /** Y = max(X, 0). Y may alias X. */
  reluForward(n: number, X: Ptr, Y: Ptr): void;
  /** dX = dY where Y > 0, else 0 (Y is the ReLU output). dX may alias dY. */
  reluBackward(n: number, Y: Ptr, dY: Ptr, dX: Ptr): void;
  /** Y = A + B (elementwise). Y may alias A or B. */
  add(n: number, A: Ptr, B: Ptr, Y: Ptr): void;
  /** Y = A ⊙ B (elementwise). Y may alias A or B. */
  mul(n: number, A: Ptr, B: Ptr, Y: Ptr): void;
  /** X *= alpha. */
  scale(n: number, X: Ptr, alpha: number): void;
  /** dst = src (non-overlapping). */
  copy(n: number, src: Ptr, dst: Ptr): void;
  /** dst = value. */
  fill(n: number, dst: Ptr, value: number): void;
  /** Σ X². */
  sumSquares(n: number, X: Ptr): number;

  /*
   * Transformer layers. Rows are the last axis of a [..., N] tensor (a token's features, a row
   * of attention scores).
   */
  /**
   * Layer norm of M rows of N: Y = gamma ⊙ (X − μ)/√(σ² + eps) + beta per row, with the row's
   * mean μ and biased variance σ² (as PyTorch). Writes the per-row mean and 1/√(σ² + eps) for
   * the backward pass.
   */
  layerNormForward(M: number, N: number, X: Ptr, gamma: Ptr, beta: Ptr, Y: Ptr, mean: Ptr, invStd: Ptr, eps: number): void;
  /**
   * Layer norm gradients from the forward's mean and invStd: dX (overwritten) and
   * dGamma = Σ_rows dY ⊙ x̂, dBeta = Σ_rows dY (overwritten), x̂ the normalised input.
   */
  layerNormBackward(M: number, N: number, X: Ptr, dY: Ptr, gamma: Ptr, mean: Ptr, invStd: Ptr, dX: Ptr, dGamma: Ptr, dBeta: Ptr): void;
  /**
   * GELU, erf form (PyTorch's default nn.GELU): Y = X·Φ(X), Φ the standard normal CDF. The
   * WebAssembly kernels approximate erf within 1.5e-7 (Abramowitz & Stegun 7.1.26). Y may alias X.
   */
  geluForward(n: number, X: Ptr, Y: Ptr): void;
  /** dX = dY ⊙ (Φ(X) + X·φ(X)) for the GELU input X, φ the standard normal density. dX may alias dY. */
  geluBackward(n: number, X: Ptr, dY: Ptr, dX: Ptr): void;
  /** Y[m, :] = softmax(alpha·X[m, :]) for M rows of N, the row maximum subtracted first. Y may alias X. */
  softmaxRows(M: number, N: number, alpha: number, X: Ptr, Y: Ptr): void;
  /** Gradient of softmaxRows from its output Y: dX = alpha·Y ⊙ (dY − ⟨dY, Y⟩) per row. dX may alias dY. */
  softmaxRowsBackward(M: number, N: number, alpha: number, Y: Ptr, dY: Ptr, dX: Ptr): void;

  /**
   * Unfold one image X[C,H,W] into col[C·kh·kw, OH·OW] (zero padding), where
   * OH = (H + 2·pad - kh)/stride + 1 and likewise OW.
   */
  im2col(C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number, X: Ptr, col: Ptr): void;
  /** The adjoint of im2col: dX[C,H,W] += fold(col). The caller zeroes dX first if needed. */
  col2im(C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number, col: Ptr, dX: Ptr): void;

  /**
   * Max pooling over P planes of H×W with a k×k window and stride, no padding
   * (OH = floor((H - k)/stride) + 1). argmax (i32) records the plane-local input index.
   */
  maxPoolForward(P: number, H: number, W: number, k: number, stride: number, X: Ptr, Y: Ptr, argmax: Ptr): void;
  /** dX = scatter of dY through argmax (dX is fully overwritten). */
  maxPoolBackward(P: number, H: number, W: number, k: number, stride: number, dY: Ptr, argmax: Ptr, dX: Ptr): void;
  /** Y[p] = mean of plane p (P planes of S elements). */
  globalAvgPoolForward(P: number, S: number, X: Ptr, Y: Ptr): void;
  /** dX[p,s] = dY[p] / S. */
  globalAvgPoolBackward(P: number, S: number, dY: Ptr, dX: Ptr): void;

  /**
   * Batch norm over X[B,C,S] with batch statistics. Writes Y, the per-channel mean and
   * 1/sqrt(var + eps) (biased variance, as PyTorch normalises), and updates the running
   * statistics with `momentum` (PyTorch convention, unbiased variance in the running estimate).
   */
  batchNormTrainForward(
    B: number, C: number, S: number, X: Ptr, gamma: Ptr, beta: Ptr, Y: Ptr,
    mean: Ptr, invStd: Ptr, runMean: Ptr, runVar: Ptr, momentum: number, eps: number,
  ): void;
  /** Y = gamma · (X - runMean) / sqrt(runVar + eps) + beta. */
  batchNormEvalForward(
    B: number, C: number, S: number, X: Ptr, gamma: Ptr, beta: Ptr, runMean: Ptr, runVar: Ptr, eps: number, Y: Ptr,
  ): void;
  /** Gradients of the training-mode batch norm: dX (overwritten), dGamma and dBeta (accumulated). */
  batchNormBackward(
    B: number, C: number, S: number, X: Ptr, dY: Ptr, gamma: Ptr, mean: Ptr, invStd: Ptr,
    dX: Ptr, dGamma: Ptr, dBeta: Ptr,
  ): void;

  /**
   * Mean softmax cross-entropy over B rows of C logits with i32 labels and label smoothing ε
   * (target = (1-ε)·onehot + ε/C). Writes dLogits = (softmax - target)/B and returns the mean
   * loss and the number of rows whose arg-max equals the label.
   */
  softmaxCrossEntropy(B: number, C: number, logits: Ptr, labels: Ptr, smoothing: number, dLogits: Ptr): { loss: number; correct: number };

  /**
   * SGD with momentum (PyTorch semantics, dampening 0): g = G + wd·W; m = μ·m + g;
   * W -= lr · (nesterov ? g + μ·m : m).
   */
  sgdStep(n: number, W: Ptr, G: Ptr, M: Ptr, lr: number, momentum: number, weightDecay: number, nesterov: boolean): void;
  /**
   * AdamW (decoupled weight decay): W -= lr·wd·W; m = β1·m + (1-β1)·G; v = β2·v + (1-β2)·G²;
   * W -= lr · (m / bc1) / (sqrt(v / bc2) + eps), with bc1 = 1-β1^t and bc2 = 1-β2^t.
   */
  adamwStep(
    n: number, W: Ptr, G: Ptr, m: Ptr, v: Ptr, lr: number, beta1: number, beta2: number, eps: number,
    weightDecay: number, bc1: number, bc2: number,
  ): void;

  /**
   * Unfold B images X[B,C,H,W] into one column matrix col[C·kh·kw, B·OH·OW] (zero padding):
   * image b fills columns [b·OH·OW, (b+1)·OH·OW) of every row, exactly as `im2col` lays it out
   * for one image, so a convolution over the whole batch is a single GEMM.
   */
  im2colBatch(B: number, C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number, X: Ptr, col: Ptr): void;
  /** The adjoint of im2colBatch: dX[B,C,H,W] = fold(col) (dX is fully overwritten). */
  col2imBatch(B: number, C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number, col: Ptr, dX: Ptr): void;
  /** Y[j,i,s] = X[i,j,s] for X of shape [A,B,S] (e.g. a batched conv's [Cout, B, S] to NCHW). Non-overlapping. */
  swapAxes(A: number, B: number, S: number, X: Ptr, Y: Ptr): void;

  /*
   * Sparse training (SRIGL.md §5 layout): the active weights of a layer, listed per output row
   * in CSR form — rowPtr i32 [rows+1], col i32 (input columns, ascending within a row) — are
   * stored compact: W[t] and G[t] belong to list entry t. Activations are batch-contiguous:
   * Xᵀ [cols, n], Yᵀ [rows, n]. A row with no entry (an ablated neuron) contributes nothing.
   * Results do not depend on the thread count.
   */
  /** Yᵀ[j, :] = Σ_{t ∈ [rowPtr[j], rowPtr[j+1])} W[t] · Xᵀ[col[t], :] for j < rows (overwritten). */
  sparseRowsForward(rows: number, n: number, rowPtr: Ptr, col: Ptr, W: Ptr, xT: Ptr, yT: Ptr): void;
  /** G[t] = Σ_b dYᵀ[j, b] · Xᵀ[col[t], b] for every list entry t of every row j (G[0..rowPtr[rows]) overwritten). */
  sparseRowsWeightGrad(rows: number, n: number, rowPtr: Ptr, col: Ptr, G: Ptr, dyT: Ptr, xT: Ptr): void;
  /**
   * dXᵀ[i, :] = Σ_{e ∈ [colPtr[i], colPtr[i+1])} W[wPos[e]] · dYᵀ[rowIdx[e], :] for i < cols
   * (overwritten): the same active weights listed per input column (CSC: rowIdx i32 ascending
   * within a column, wPos i32 the weight's index t in the compact W), built once per topology.
   */
  sparseColsInputGrad(cols: number, n: number, colPtr: Ptr, rowIdx: Ptr, wPos: Ptr, W: Ptr, dyT: Ptr, dxT: Ptr): void;
}
