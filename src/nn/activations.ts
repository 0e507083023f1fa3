import type { Kernels, Ptr } from '../kernels/api.js';
import type { Param } from '../tensor/param.js';
import { Rng } from '../tensor/rng.js';
import { Tensor, shapeSize } from '../tensor/tensor.js';
import type { NamedTensor } from '../tensor/tensor.js';
import type { BuildContext, Layer, SparsifiableLayer } from './layer.js';

/** Base for layers without parameters. */
abstract class Stateless implements Layer {
  abstract readonly outShape: readonly number[];
  abstract forward(x: Ptr, n: number, training: boolean): Ptr;
  abstract backward(dy: Ptr, n: number): Ptr;
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

/**
 * max(x, 0), in place on both passes: no layer here needs its own output for backward, so the
 * producer's output buffer can hold the activation, and the consumer's input gradient can hold
 * ours. This halves activation memory of conv stacks. Do not put a ReLU directly on a buffer
 * that something else still reads (a model's input, a residual branch point).
 */
export class ReLU extends Stateless {
  private readonly k: Kernels;
  private readonly size: number;
  private y: Ptr = 0;

  constructor(ctx: BuildContext, inShape: readonly number[]) {
    super();
    this.k = ctx.engine.kernels;
    this.outShape = inShape;
    this.size = shapeSize(inShape);
  }

  readonly outShape: readonly number[];

  forward(x: Ptr, n: number): Ptr {
    this.k.reluForward(n * this.size, x, x);
    this.y = x;
    return x;
  }

  backward(dy: Ptr, n: number): Ptr {
    this.k.reluBackward(n * this.size, this.y, dy, dy);
    return dy;
  }
}

/**
 * GELU, x·Φ(x) with Φ the standard normal CDF: the erf form, PyTorch's default nn.GELU and what
 * timm's ViT uses, so weights carry over to PyTorch unchanged. (The tanh approximation saves
 * nothing here: the kernels' erf costs one exp, like tanh, and its φ(x) is the backward's.)
 * Forward writes its own buffer and keeps the input for backward, so the input must stay
 * unchanged until then (a Linear's output does). Backward works in place on dy, as ReLU's
 * does: the consumer's input gradient holds ours.
 */
export class GELU extends Stateless {
  readonly outShape: readonly number[];
  private readonly k: Kernels;
  private readonly size: number;
  private readonly y: Tensor;
  private x: Ptr = 0;

  constructor(ctx: BuildContext, inShape: readonly number[]) {
    super();
    this.k = ctx.engine.kernels;
    this.outShape = inShape;
    this.size = shapeSize(inShape);
    this.y = Tensor.zeros(ctx.engine.heap, [ctx.maxBatch, this.size]);
  }

  forward(x: Ptr, n: number): Ptr {
    this.x = x;
    this.k.geluForward(n * this.size, x, this.y.ptr);
    return this.y.ptr;
  }

  backward(dy: Ptr, n: number): Ptr {
    this.k.geluBackward(n * this.size, this.x, dy, dy);
    return dy;
  }
}

/** k×k max pooling with stride k (default), no padding, over [C, H, W]. */
export class MaxPool2d extends Stateless {
  readonly outShape: readonly number[];
  private readonly k: Kernels;
  private readonly c: number;
  private readonly h: number;
  private readonly w: number;
  private readonly ks: number;
  private readonly stride: number;
  private readonly y: Tensor;
  private readonly argmax: Tensor;
  private readonly dx: Tensor;

  constructor(ctx: BuildContext, inShape: readonly number[], kernel: number, stride = kernel) {
    super();
    const heap = ctx.engine.heap;
    this.k = ctx.engine.kernels;
    [this.c, this.h, this.w] = inShape;
    this.ks = kernel;
    this.stride = stride;
    const oh = Math.floor((this.h - kernel) / stride) + 1;
    const ow = Math.floor((this.w - kernel) / stride) + 1;
    this.outShape = [this.c, oh, ow];
    this.y = Tensor.zeros(heap, [ctx.maxBatch, this.c, oh, ow]);
    this.argmax = Tensor.zeros(heap, [ctx.maxBatch, this.c, oh, ow]);
    this.dx = Tensor.zeros(heap, [ctx.maxBatch, this.c, this.h, this.w]);
  }

  /** Window and stride (for converting to other representations). */
  get pooling(): { kernel: number; stride: number } {
    return { kernel: this.ks, stride: this.stride };
  }

  forward(x: Ptr, n: number): Ptr {
    this.k.maxPoolForward(n * this.c, this.h, this.w, this.ks, this.stride, x, this.y.ptr, this.argmax.ptr);
    return this.y.ptr;
  }

  backward(dy: Ptr, n: number): Ptr {
    this.k.maxPoolBackward(n * this.c, this.h, this.w, this.ks, this.stride, dy, this.argmax.ptr, this.dx.ptr);
    return this.dx.ptr;
  }
}

/** Mean over each channel plane: [C, H, W] → [C]. */
export class GlobalAvgPool extends Stateless {
  readonly outShape: readonly number[];
  private readonly k: Kernels;
  private readonly c: number;
  private readonly s: number;
  private readonly y: Tensor;
  private readonly dx: Tensor;

  constructor(ctx: BuildContext, inShape: readonly number[]) {
    super();
    const heap = ctx.engine.heap;
    this.k = ctx.engine.kernels;
    this.c = inShape[0];
    this.s = shapeSize(inShape.slice(1));
    this.outShape = [this.c];
    this.y = Tensor.zeros(heap, [ctx.maxBatch, this.c]);
    this.dx = Tensor.zeros(heap, [ctx.maxBatch, this.c * this.s]);
  }

  forward(x: Ptr, n: number): Ptr {
    this.k.globalAvgPoolForward(n * this.c, this.s, x, this.y.ptr);
    return this.y.ptr;
  }

  backward(dy: Ptr, n: number): Ptr {
    this.k.globalAvgPoolBackward(n * this.c, this.s, dy, this.dx.ptr);
    return this.dx.ptr;
  }
}

/** Reshape to [C·H·W]; free, since activations are already row-major per example. */
export class Flatten extends Stateless {
  readonly outShape: readonly number[];

  constructor(inShape: readonly number[]) {
    super();
    this.outShape = [shapeSize(inShape)];
  }

  forward(x: Ptr): Ptr {
    return x;
  }

  backward(dy: Ptr): Ptr {
    return dy;
  }
}

/**
 * Inverted dropout: in training, zeroes each activation with probability p and scales the rest
 * by 1/(1-p); the identity in eval. Masks come from a stream forked from the build RNG, so
 * runs are reproducible.
 */
export class Dropout extends Stateless {
  readonly outShape: readonly number[];
  private readonly k: Kernels;
  private readonly size: number;
  private readonly rng: Rng;
  private readonly mask: Tensor;
  private readonly y: Tensor;
  private readonly dx: Tensor;
  private trained = false;

  constructor(ctx: BuildContext, inShape: readonly number[], readonly p: number) {
    super();
    if (!(p >= 0 && p < 1)) throw new RangeError(`Dropout: p must be in [0, 1), got ${p}`);
    const heap = ctx.engine.heap;
    this.k = ctx.engine.kernels;
    this.outShape = inShape;
    this.size = shapeSize(inShape);
    this.rng = new Rng(ctx.rng.nextU32());
    this.mask = Tensor.zeros(heap, [ctx.maxBatch, this.size]);
    this.y = Tensor.zeros(heap, [ctx.maxBatch, this.size]);
    this.dx = Tensor.zeros(heap, [ctx.maxBatch, this.size]);
  }

  forward(x: Ptr, n: number, training: boolean): Ptr {
    this.trained = training;
    if (!training) return x;
    const m = this.mask.data;
    const keep = 1 / (1 - this.p);
    const total = n * this.size;
    for (let i = 0; i < total; i++) m[i] = this.rng.uniform() < this.p ? 0 : keep;
    this.k.mul(total, x, this.mask.ptr, this.y.ptr);
    return this.y.ptr;
  }

  backward(dy: Ptr, n: number): Ptr {
    if (!this.trained) return dy;
    this.k.mul(n * this.size, dy, this.mask.ptr, this.dx.ptr);
    return this.dx.ptr;
  }
}
