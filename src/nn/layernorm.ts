import type { Kernels, Ptr } from '../kernels/api.js';
import { Param } from '../tensor/param.js';
import { Tensor, shapeSize } from '../tensor/tensor.js';
import type { NamedTensor } from '../tensor/tensor.js';
import { joinName, type BuildContext, type Layer, type SparsifiableLayer } from './layer.js';

/** Options for `LayerNorm` (PyTorch defaults). */
export interface LayerNormOptions {
  /** Added to the variance. Default 1e-5. */
  eps?: number;
}

/**
 * Layer norm over the last axis of the per-example shape (a token's D features for [T, D]
 * input), with learnable per-feature scale and shift named `weight` and `bias` as in PyTorch;
 * γ starts at 1, β at 0, and neither takes weight decay. Statistics are the row's own, so
 * training and eval compute the same function.
 */
export class LayerNorm implements Layer {
  readonly outShape: readonly number[];
  readonly gamma: Param;
  readonly beta: Param;
  private readonly k: Kernels;
  /** Features per row (the last axis) and rows per example. */
  private readonly d: number;
  private readonly rows: number;
  private readonly eps: number;
  private readonly y: Tensor;
  private readonly dx: Tensor;
  private readonly mean: Tensor;
  private readonly invStd: Tensor;
  private x: Ptr = 0;

  constructor(ctx: BuildContext, readonly name: string, inShape: readonly number[], opts: LayerNormOptions = {}) {
    if (inShape.length < 1) throw new Error(`${name}: LayerNorm needs at least one axis`);
    const heap = ctx.engine.heap;
    this.k = ctx.engine.kernels;
    this.outShape = inShape;
    this.d = inShape[inShape.length - 1];
    this.rows = shapeSize(inShape) / this.d;
    this.eps = opts.eps ?? 1e-5;
    this.gamma = new Param(heap, joinName(name, 'weight'), [this.d], false);
    this.gamma.value.data.fill(1);
    this.beta = new Param(heap, joinName(name, 'bias'), [this.d], false);
    const rows = ctx.maxBatch * this.rows;
    this.mean = Tensor.zeros(heap, [rows]);
    this.invStd = Tensor.zeros(heap, [rows]);
    this.y = Tensor.zeros(heap, [rows, this.d]);
    // Layer norm sits inside blocks, never first, so it always computes its input gradient.
    this.dx = Tensor.zeros(heap, [rows, this.d]);
  }

  forward(x: Ptr, n: number): Ptr {
    this.x = x;
    this.k.layerNormForward(n * this.rows, this.d, x, this.gamma.value.ptr, this.beta.value.ptr, this.y.ptr, this.mean.ptr, this.invStd.ptr, this.eps);
    return this.y.ptr;
  }

  backward(dy: Ptr, n: number): Ptr {
    this.k.layerNormBackward(n * this.rows, this.d, this.x, dy, this.gamma.value.ptr, this.mean.ptr, this.invStd.ptr, this.dx.ptr, this.gamma.grad.ptr, this.beta.grad.ptr);
    return this.dx.ptr;
  }

  params(): Param[] {
    return [this.gamma, this.beta];
  }

  buffers(): NamedTensor[] {
    return [];
  }

  sparsifiable(): SparsifiableLayer[] {
    return [];
  }
}
