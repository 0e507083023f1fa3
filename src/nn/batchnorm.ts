import type { Kernels, Ptr } from '../kernels/api.js';
import { Param } from '../tensor/param.js';
import { Tensor } from '../tensor/tensor.js';
import type { NamedTensor } from '../tensor/tensor.js';
import { joinName, type BuildContext, type Layer, type SparsifiableLayer } from './layer.js';

/** Options for `BatchNorm2d` (PyTorch defaults). */
export interface BatchNormOptions {
  /** Running-statistics update rate (PyTorch convention). Default 0.1. */
  momentum?: number;
  /** Default 1e-5. */
  eps?: number;
}

/**
 * Batch norm per channel over [C, H, W] input (or [C], as BatchNorm1d): batch statistics in
 * training (updating the running ones), running statistics in eval. γ starts at 1, β at 0.
 */
export class BatchNorm2d implements Layer {
  readonly outShape: readonly number[];
  readonly gamma: Param;
  readonly beta: Param;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  private readonly k: Kernels;
  private readonly c: number;
  private readonly s: number;
  private readonly momentum: number;
  private readonly eps: number;
  private readonly y: Tensor;
  private readonly dx: Tensor;
  private readonly mean: Tensor;
  private readonly invStd: Tensor;
  private x: Ptr = 0;

  constructor(ctx: BuildContext, readonly name: string, inShape: readonly number[], opts: BatchNormOptions = {}) {
    const heap = ctx.engine.heap;
    this.k = ctx.engine.kernels;
    this.c = inShape[0];
    this.s = inShape.slice(1).reduce((a, b) => a * b, 1);
    this.outShape = inShape;
    this.momentum = opts.momentum ?? 0.1;
    this.eps = opts.eps ?? 1e-5;
    this.gamma = new Param(heap, joinName(name, 'weight'), [this.c], false);
    this.gamma.value.data.fill(1);
    this.beta = new Param(heap, joinName(name, 'bias'), [this.c], false);
    this.runningMean = Tensor.zeros(heap, [this.c]);
    this.runningVar = Tensor.zeros(heap, [this.c]);
    this.runningVar.data.fill(1);
    this.mean = Tensor.zeros(heap, [this.c]);
    this.invStd = Tensor.zeros(heap, [this.c]);
    this.y = Tensor.zeros(heap, [ctx.maxBatch, this.c * this.s]);
    // BN is never a model's first layer here, and its input gradient is what feeds the conv
    // below it, so it always computes one.
    this.dx = Tensor.zeros(heap, [ctx.maxBatch, this.c * this.s]);
  }

  forward(x: Ptr, n: number, training: boolean): Ptr {
    this.x = x;
    const { k, c, s } = this;
    if (training) {
      k.batchNormTrainForward(n, c, s, x, this.gamma.value.ptr, this.beta.value.ptr, this.y.ptr, this.mean.ptr, this.invStd.ptr, this.runningMean.ptr, this.runningVar.ptr, this.momentum, this.eps);
    } else {
      k.batchNormEvalForward(n, c, s, x, this.gamma.value.ptr, this.beta.value.ptr, this.runningMean.ptr, this.runningVar.ptr, this.eps, this.y.ptr);
    }
    return this.y.ptr;
  }

  /** Gradient of the training-mode forward (through the batch statistics). */
  backward(dy: Ptr, n: number): Ptr {
    const { k, c, s } = this;
    k.fill(c, this.gamma.grad.ptr, 0);
    k.fill(c, this.beta.grad.ptr, 0);
    k.batchNormBackward(n, c, s, this.x, dy, this.gamma.value.ptr, this.mean.ptr, this.invStd.ptr, this.dx.ptr, this.gamma.grad.ptr, this.beta.grad.ptr);
    return this.dx.ptr;
  }

  /** Where forward writes its output. */
  get outputPtr(): Ptr {
    return this.y.ptr;
  }

  params(): Param[] {
    return [this.gamma, this.beta];
  }

  buffers(): NamedTensor[] {
    return [
      { name: joinName(this.name, 'running_mean'), tensor: this.runningMean },
      { name: joinName(this.name, 'running_var'), tensor: this.runningVar },
    ];
  }

  sparsifiable(): SparsifiableLayer[] {
    return [];
  }
}
