import type { Kernels, Ptr } from '../kernels/api.js';
import { kaimingUniformA5, biasInit } from '../tensor/init.js';
import { Param } from '../tensor/param.js';
import { Tensor, shapeSize } from '../tensor/tensor.js';
import type { NamedTensor } from '../tensor/tensor.js';
import { joinName, type BuildContext, type Layer, type SparsifiableLayer } from './layer.js';

/** Options for `Linear`. */
export interface LinearOptions {
  out: number;
  /** Add a bias. Default true. */
  bias?: boolean;
}

/**
 * y = x·Wᵀ + b with W stored [out, in] as in PyTorch, so a row is one neuron's fan-in (the
 * unit of constant fan-in sparsity). Input of any per-example shape is read flattened.
 */
export class Linear implements Layer {
  readonly outShape: readonly number[];
  readonly weight: Param;
  readonly bias: Param | null;
  readonly in: number;
  readonly out: number;
  private readonly k: Kernels;
  private readonly y: Tensor;
  private readonly dx: Tensor | null;
  private x: Ptr = 0;

  constructor(ctx: BuildContext, readonly name: string, inShape: readonly number[], opts: LinearOptions, inputGrad: boolean) {
    const heap = ctx.engine.heap;
    this.k = ctx.engine.kernels;
    this.in = shapeSize(inShape);
    this.out = opts.out;
    this.outShape = [this.out];
    this.weight = new Param(heap, joinName(name, 'weight'), [this.out, this.in], true);
    kaimingUniformA5(this.weight.value.data, this.in, ctx.rng);
    this.bias = opts.bias === false ? null : new Param(heap, joinName(name, 'bias'), [this.out], false);
    if (this.bias) biasInit(this.bias.value.data, this.in, ctx.rng);
    this.y = Tensor.zeros(heap, [ctx.maxBatch, this.out]);
    this.dx = inputGrad ? Tensor.zeros(heap, [ctx.maxBatch, this.in]) : null;
  }

  forward(x: Ptr, n: number): Ptr {
    this.x = x;
    this.k.gemmNT(n, this.out, this.in, x, this.weight.value.ptr, this.y.ptr, false);
    if (this.bias) this.k.addBiasRows(n, this.out, this.y.ptr, this.bias.value.ptr);
    return this.y.ptr;
  }

  backward(dy: Ptr, n: number): Ptr {
    const k = this.k;
    k.gemmTN(this.out, this.in, n, dy, this.x, this.weight.grad.ptr, false);
    if (this.bias) k.sumRows(n, this.out, dy, this.bias.grad.ptr, false);
    if (!this.dx) return 0;
    k.gemmNN(n, this.in, this.out, dy, this.weight.value.ptr, this.dx.ptr, false);
    return this.dx.ptr;
  }

  params(): Param[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  buffers(): NamedTensor[] {
    return [];
  }

  sparsifiable(): SparsifiableLayer[] {
    return [{ name: this.name, kind: 'linear', weight: this.weight, bias: this.bias, out: this.out, fanIn: this.in, kernel: [1, 1], isFirst: false, isClassifier: false }];
  }
}
