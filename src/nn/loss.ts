import type { Kernels, Ptr } from '../kernels/api.js';
import { Tensor } from '../tensor/tensor.js';
import type { BuildContext } from './layer.js';

/** Loss value and correct predictions of one batch. */
export interface LossResult {
  /** Mean loss over the batch. */
  loss: number;
  /** Rows whose arg-max logit equals the label. */
  correct: number;
}

/**
 * Mean softmax cross-entropy with label smoothing over [n, classes] logits. Owns the i32 label
 * buffer (callers write labels into `labels.i32`) and the logits gradient.
 */
export class SoftmaxCrossEntropy {
  readonly labels: Tensor;
  readonly dLogits: Tensor;
  private readonly k: Kernels;

  constructor(ctx: BuildContext, readonly classes: number) {
    this.k = ctx.engine.kernels;
    this.labels = Tensor.zeros(ctx.engine.heap, [ctx.maxBatch]);
    this.dLogits = Tensor.zeros(ctx.engine.heap, [ctx.maxBatch, classes]);
  }

  /** Computes the loss of n rows and writes its gradient into `dLogits`. */
  compute(logits: Ptr, n: number, smoothing = 0): LossResult {
    return this.k.softmaxCrossEntropy(n, this.classes, logits, this.labels.ptr, smoothing, this.dLogits.ptr);
  }
}
