import type { Kernels, Ptr } from '../kernels/api.js';
import type { Param } from '../tensor/param.js';
import { Tensor } from '../tensor/tensor.js';
import type { NamedTensor } from '../tensor/tensor.js';
import { BatchNorm2d } from './batchnorm.js';
import { Conv2d } from './conv2d.js';
import { joinName, type BuildContext, type Layer, type SparsifiableLayer } from './layer.js';

/** Options for `BasicBlock`. */
export interface BasicBlockOptions {
  out: number;
  /** Stride of the first conv (and of the projection). Default 1. */
  stride?: number;
}

/**
 * ResNet basic block: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), 3×3 convs without
 * bias. The shortcut is the identity when shapes match, else a 1×1 conv + BN projection
 * (named `downsample.0/1` as in torchvision, so state-dict names line up).
 */
export class BasicBlock implements Layer {
  readonly outShape: readonly number[];
  private readonly k: Kernels;
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm2d;
  private readonly conv2: Conv2d;
  private readonly bn2: BatchNorm2d;
  private readonly downConv: Conv2d | null;
  private readonly downBn: BatchNorm2d | null;
  private readonly y: Tensor;
  private readonly size: number;
  private readonly inSize: number;
  private readonly inputGrad: boolean;

  constructor(ctx: BuildContext, readonly name: string, inShape: readonly number[], opts: BasicBlockOptions, inputGrad: boolean) {
    this.k = ctx.engine.kernels;
    const stride = opts.stride ?? 1;
    this.inputGrad = inputGrad;
    this.conv1 = new Conv2d(ctx, joinName(name, 'conv1'), inShape, { out: opts.out, kernel: 3, stride, padding: 1, bias: false }, inputGrad);
    this.bn1 = new BatchNorm2d(ctx, joinName(name, 'bn1'), this.conv1.outShape);
    this.conv2 = new Conv2d(ctx, joinName(name, 'conv2'), this.bn1.outShape, { out: opts.out, kernel: 3, padding: 1, bias: false }, true);
    this.bn2 = new BatchNorm2d(ctx, joinName(name, 'bn2'), this.conv2.outShape);
    this.outShape = this.bn2.outShape;
    const project = stride !== 1 || inShape[0] !== opts.out;
    this.downConv = project ? new Conv2d(ctx, joinName(name, 'downsample.0'), inShape, { out: opts.out, kernel: 1, stride, bias: false }, inputGrad) : null;
    this.downBn = this.downConv ? new BatchNorm2d(ctx, joinName(name, 'downsample.1'), this.downConv.outShape) : null;
    this.size = this.outShape.reduce((a, b) => a * b, 1);
    this.inSize = inShape.reduce((a, b) => a * b, 1);
    this.y = Tensor.zeros(ctx.engine.heap, [ctx.maxBatch, this.size]);
  }

  forward(x: Ptr, n: number, training: boolean): Ptr {
    const k = this.k;
    let h = this.bn1.forward(this.conv1.forward(x, n), n, training);
    k.reluForward(n * this.size, h, h);
    h = this.bn2.forward(this.conv2.forward(h, n), n, training);
    const shortcut = this.downConv && this.downBn ? this.downBn.forward(this.downConv.forward(x, n), n, training) : x;
    k.add(n * this.size, h, shortcut, this.y.ptr);
    k.reluForward(n * this.size, this.y.ptr, this.y.ptr);
    return this.y.ptr;
  }

  backward(dy: Ptr, n: number): Ptr {
    const k = this.k;
    // dy belongs to the next layer and is rewritten by it every step, so mask it in place.
    k.reluBackward(n * this.size, this.y.ptr, dy, dy);
    let g = this.conv2.backward(this.bn2.backward(dy, n), n);
    // bn1's output holds relu(bn1(·)): the forward ReLU ran in place.
    k.reluBackward(n * this.size, this.bn1.outputPtr, g, g);
    g = this.conv1.backward(this.bn1.backward(g, n), n);
    if (this.downConv && this.downBn) {
      const gs = this.downConv.backward(this.downBn.backward(dy, n), n);
      if (this.inputGrad) k.add(n * this.inSize, g, gs, g);
    } else if (this.inputGrad) {
      k.add(n * this.inSize, g, dy, g);
    }
    return this.inputGrad ? g : 0;
  }

  private children(): Layer[] {
    const c: Layer[] = [this.conv1, this.bn1, this.conv2, this.bn2];
    if (this.downConv && this.downBn) c.push(this.downConv, this.downBn);
    return c;
  }

  params(): Param[] {
    return this.children().flatMap((l) => l.params());
  }

  buffers(): NamedTensor[] {
    return this.children().flatMap((l) => l.buffers());
  }

  sparsifiable(): SparsifiableLayer[] {
    return this.children().flatMap((l) => l.sparsifiable());
  }
}
