import type { Kernels, Ptr } from '../kernels/api.js';
import { kaimingUniformA5, biasInit } from '../tensor/init.js';
import { Param } from '../tensor/param.js';
import { Tensor } from '../tensor/tensor.js';
import type { NamedTensor } from '../tensor/tensor.js';
import { joinName, type BuildContext, type Layer, type SparsifiableLayer } from './layer.js';

/** Options for `Conv2d` (square kernels). */
export interface Conv2dOptions {
  out: number;
  kernel: number;
  /** Default 1. */
  stride?: number;
  /** Zero padding on every side. Default 0. */
  padding?: number;
  /** Add a bias. Default true (ResNet convs before BN pass false). */
  bias?: boolean;
}

/**
 * 2-D convolution over NCHW input as im2col + GEMM per image:
 * y_n[Cout, OH·OW] = W[Cout, Cin·kh·kw] · col_n. The column buffer holds one image, so memory
 * stays small; backward recomputes it rather than keeping every image's columns.
 * A 1×1, stride-1, unpadded conv skips im2col: the image already is its column matrix.
 */
export class Conv2d implements Layer {
  readonly outShape: readonly number[];
  readonly weight: Param;
  readonly bias: Param | null;
  private readonly k: Kernels;
  private readonly cin: number;
  private readonly h: number;
  private readonly w: number;
  private readonly cout: number;
  private readonly ks: number;
  private readonly stride: number;
  private readonly pad: number;
  private readonly fanIn: number;
  private readonly ohw: number;
  private readonly direct: boolean;
  private readonly y: Tensor;
  private readonly col: Tensor | null;
  private readonly dcol: Tensor | null;
  private readonly dx: Tensor | null;
  private x: Ptr = 0;

  constructor(ctx: BuildContext, readonly name: string, inShape: readonly number[], opts: Conv2dOptions, inputGrad: boolean) {
    if (inShape.length !== 3) throw new Error(`${name}: Conv2d expects [C, H, W] input, got [${inShape.join(', ')}]`);
    const heap = ctx.engine.heap;
    this.k = ctx.engine.kernels;
    [this.cin, this.h, this.w] = inShape;
    this.cout = opts.out;
    this.ks = opts.kernel;
    this.stride = opts.stride ?? 1;
    this.pad = opts.padding ?? 0;
    const oh = Math.floor((this.h + 2 * this.pad - this.ks) / this.stride) + 1;
    const ow = Math.floor((this.w + 2 * this.pad - this.ks) / this.stride) + 1;
    if (oh < 1 || ow < 1) throw new Error(`${name}: kernel ${this.ks} does not fit input ${this.h}×${this.w} with padding ${this.pad}`);
    this.outShape = [this.cout, oh, ow];
    this.ohw = oh * ow;
    this.fanIn = this.cin * this.ks * this.ks;
    this.direct = this.ks === 1 && this.stride === 1 && this.pad === 0;
    this.weight = new Param(heap, joinName(name, 'weight'), [this.cout, this.cin, this.ks, this.ks], true);
    kaimingUniformA5(this.weight.value.data, this.fanIn, ctx.rng);
    this.bias = opts.bias === false ? null : new Param(heap, joinName(name, 'bias'), [this.cout], false);
    if (this.bias) biasInit(this.bias.value.data, this.fanIn, ctx.rng);
    this.y = Tensor.zeros(heap, [ctx.maxBatch, this.cout, oh, ow]);
    this.col = this.direct ? null : Tensor.zeros(heap, [this.fanIn, this.ohw]);
    this.dcol = inputGrad && !this.direct ? Tensor.zeros(heap, [this.fanIn, this.ohw]) : null;
    this.dx = inputGrad ? Tensor.zeros(heap, [ctx.maxBatch, this.cin, this.h, this.w]) : null;
  }

  forward(x: Ptr, n: number): Ptr {
    this.x = x;
    const k = this.k;
    const inBytes = this.cin * this.h * this.w * 4;
    const outBytes = this.cout * this.ohw * 4;
    for (let i = 0; i < n; i++) {
      const cols = this.columns(x + i * inBytes);
      k.gemmNN(this.cout, this.ohw, this.fanIn, this.weight.value.ptr, cols, this.y.ptr + i * outBytes, false);
    }
    if (this.bias) k.addBiasChannels(n, this.cout, this.ohw, this.y.ptr, this.bias.value.ptr);
    return this.y.ptr;
  }

  backward(dy: Ptr, n: number): Ptr {
    const k = this.k;
    const inBytes = this.cin * this.h * this.w * 4;
    const outBytes = this.cout * this.ohw * 4;
    const W = this.weight.value.ptr;
    const dW = this.weight.grad.ptr;
    if (this.bias) k.sumChannels(n, this.cout, this.ohw, dy, this.bias.grad.ptr, false);
    if (n === 0) k.fill(this.weight.size, dW, 0);
    for (let i = 0; i < n; i++) {
      const dyi = dy + i * outBytes;
      const cols = this.columns(this.x + i * inBytes);
      k.gemmNT(this.cout, this.fanIn, this.ohw, dyi, cols, dW, i > 0);
      if (!this.dx) continue;
      const dxi = this.dx.ptr + i * inBytes;
      if (this.direct) {
        k.gemmTN(this.fanIn, this.ohw, this.cout, W, dyi, dxi, false);
      } else {
        const dcol = (this.dcol as Tensor).ptr;
        k.gemmTN(this.fanIn, this.ohw, this.cout, W, dyi, dcol, false);
        k.fill(this.cin * this.h * this.w, dxi, 0);
        k.col2im(this.cin, this.h, this.w, this.ks, this.ks, this.stride, this.pad, dcol, dxi);
      }
    }
    return this.dx ? this.dx.ptr : 0;
  }

  /** The column matrix of the image at `xi`: the image itself for a direct 1×1 conv. */
  private columns(xi: Ptr): Ptr {
    if (this.direct) return xi;
    const col = (this.col as Tensor).ptr;
    this.k.im2col(this.cin, this.h, this.w, this.ks, this.ks, this.stride, this.pad, xi, col);
    return col;
  }

  params(): Param[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  buffers(): NamedTensor[] {
    return [];
  }

  sparsifiable(): SparsifiableLayer[] {
    return [{ name: this.name, kind: 'conv2d', weight: this.weight, bias: this.bias, out: this.cout, fanIn: this.fanIn, kernel: [this.ks, this.ks], isFirst: false, isClassifier: false }];
  }
}
