import type { Kernels, Ptr } from '../kernels/api.js';
import type { Param } from '../tensor/param.js';
import { Tensor } from '../tensor/tensor.js';
import type { NamedTensor } from '../tensor/tensor.js';
import type { BuildContext, Layer, SparsifiableLayer } from './layer.js';

/**
 * Keeps the first token of [T, D] tokens: [T, D] → [D]. A ViT's class-token pooling (timm's
 * `global_pool='token'`); the other tokens get a zero gradient.
 */
export class ClassTokenPool implements Layer {
  readonly outShape: readonly number[];
  private readonly k: Kernels;
  private readonly t: number;
  private readonly d: number;
  private readonly y: Tensor;
  private readonly dx: Tensor | null;

  constructor(ctx: BuildContext, inShape: readonly number[], inputGrad: boolean) {
    if (inShape.length !== 2) throw new Error(`class-token pooling expects [T, D] input, got [${inShape.join(', ')}]`);
    this.k = ctx.engine.kernels;
    [this.t, this.d] = inShape;
    this.outShape = [this.d];
    this.y = Tensor.zeros(ctx.engine.heap, [ctx.maxBatch, this.d]);
    this.dx = inputGrad ? Tensor.zeros(ctx.engine.heap, [ctx.maxBatch, this.t, this.d]) : null;
  }

  forward(x: Ptr, n: number): Ptr {
    const { k, t, d } = this;
    for (let b = 0; b < n; b++) k.copy(d, x + b * t * d * 4, this.y.ptr + b * d * 4);
    return this.y.ptr;
  }

  backward(dy: Ptr, n: number): Ptr {
    if (!this.dx) return 0;
    const { k, t, d } = this;
    k.fill(n * t * d, this.dx.ptr, 0);
    for (let b = 0; b < n; b++) k.copy(d, dy + b * d * 4, this.dx.ptr + b * t * d * 4);
    return this.dx.ptr;
  }

  params(): Param[] {
    return [];
  }

  buffers(): NamedTensor[] {
    return [];
  }

  sparsifiable(): SparsifiableLayer[] {
    return [];
  }
}
