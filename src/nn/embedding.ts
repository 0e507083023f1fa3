import type { Kernels, Ptr } from '../kernels/api.js';
import { truncNormalInit } from '../tensor/init.js';
import { Param } from '../tensor/param.js';
import { Tensor } from '../tensor/tensor.js';
import type { NamedTensor } from '../tensor/tensor.js';
import { Conv2d } from './conv2d.js';
import { joinName, type BuildContext, type Layer, type SparsifiableLayer } from './layer.js';

/** Options for `PatchEmbed`. */
export interface PatchEmbedOptions {
  /** Patch edge in pixels; must divide H and W. */
  patch: number;
  /** Embedding width D. */
  dim: number;
}

/**
 * Cuts [C, H, W] images into non-overlapping patch×patch patches and embeds each linearly:
 * [C, H, W] → [T, D] with T = (H/patch)·(W/patch) tokens in row-major patch order. This is a
 * Conv2d with kernel = stride = patch named `proj`, as in timm (`patch_embed.proj.weight`
 * [D, C, patch, patch]), so the weights line up with PyTorch's and the convolution's batched
 * im2col, GEMM and sparse compute are reused; its NCHW output [D, T] is transposed to tokens.
 */
export class PatchEmbed implements Layer {
  readonly outShape: readonly number[];
  readonly proj: Conv2d;
  private readonly k: Kernels;
  private readonly t: number;
  private readonly d: number;
  private readonly y: Tensor;
  private readonly dconv: Tensor;

  constructor(ctx: BuildContext, readonly name: string, inShape: readonly number[], opts: PatchEmbedOptions, inputGrad: boolean) {
    if (inShape.length !== 3) throw new Error(`${name}: patch embedding expects [C, H, W] input, got [${inShape.join(', ')}]`);
    const [, h, w] = inShape, p = opts.patch;
    if (!Number.isInteger(p) || p < 1 || h % p !== 0 || w % p !== 0) throw new Error(`${name}: patch ${p} does not divide the ${h}×${w} image`);
    this.k = ctx.engine.kernels;
    this.proj = new Conv2d(ctx, joinName(name, 'proj'), inShape, { out: opts.dim, kernel: p, stride: p }, inputGrad);
    this.t = (h / p) * (w / p);
    this.d = opts.dim;
    this.outShape = [this.t, this.d];
    this.y = Tensor.zeros(ctx.engine.heap, [ctx.maxBatch, this.t, this.d]);
    this.dconv = Tensor.zeros(ctx.engine.heap, [ctx.maxBatch, this.d, this.t]);
  }

  forward(x: Ptr, n: number): Ptr {
    const c = this.proj.forward(x, n), bytes = this.t * this.d * 4;
    for (let b = 0; b < n; b++) this.k.swapAxes(this.d, this.t, 1, c + b * bytes, this.y.ptr + b * bytes);
    return this.y.ptr;
  }

  backward(dy: Ptr, n: number): Ptr {
    const bytes = this.t * this.d * 4;
    for (let b = 0; b < n; b++) this.k.swapAxes(this.t, this.d, 1, dy + b * bytes, this.dconv.ptr + b * bytes);
    return this.proj.backward(this.dconv.ptr, n);
  }

  params(): Param[] {
    return this.proj.params();
  }

  buffers(): NamedTensor[] {
    return [];
  }

  sparsifiable(): SparsifiableLayer[] {
    return this.proj.sparsifiable();
  }
}

/** Standard deviation of the class token's and position embedding's truncated-normal init (timm's ViT). */
const EMBED_INIT_STD = 0.02;

/**
 * Prepends a learned class token to [T, D] tokens and adds a learned position embedding:
 * [T, D] → [T + 1, D], the class token first. The params are `cls_token` [D] and `pos_embed`
 * [T + 1, D] (timm names; timm stores them as [1, 1, D] and [1, T + 1, D], the same elements),
 * both drawn from a normal of std 0.02 truncated at ±2σ and exempt from weight decay, as timm
 * excludes them.
 */
export class ClassTokenPosEmbed implements Layer {
  readonly outShape: readonly number[];
  readonly clsToken: Param;
  readonly posEmbed: Param;
  private readonly k: Kernels;
  private readonly t: number;
  private readonly d: number;
  private readonly y: Tensor;
  private readonly dx: Tensor | null;

  constructor(ctx: BuildContext, readonly name: string, inShape: readonly number[], inputGrad: boolean) {
    if (inShape.length !== 2) throw new Error(`${name}: class token and position embedding expect [T, D] input, got [${inShape.join(', ')}]`);
    const heap = ctx.engine.heap;
    this.k = ctx.engine.kernels;
    [this.t, this.d] = inShape;
    this.outShape = [this.t + 1, this.d];
    this.posEmbed = new Param(heap, joinName(name, 'pos_embed'), [this.t + 1, this.d], false);
    truncNormalInit(this.posEmbed.value.data, EMBED_INIT_STD, ctx.rng);
    this.clsToken = new Param(heap, joinName(name, 'cls_token'), [this.d], false);
    truncNormalInit(this.clsToken.value.data, EMBED_INIT_STD, ctx.rng);
    this.y = Tensor.zeros(heap, [ctx.maxBatch, this.t + 1, this.d]);
    this.dx = inputGrad ? Tensor.zeros(heap, [ctx.maxBatch, this.t, this.d]) : null;
  }

  forward(x: Ptr, n: number): Ptr {
    const { k, t, d } = this, inBytes = t * d * 4, outBytes = (t + 1) * d * 4;
    for (let b = 0; b < n; b++) {
      const yb = this.y.ptr + b * outBytes;
      k.copy(d, this.clsToken.value.ptr, yb);
      k.copy(t * d, x + b * inBytes, yb + d * 4);
    }
    // The position embedding is a bias over each example's flattened [T + 1, D].
    k.addBiasRows(n, (t + 1) * d, this.y.ptr, this.posEmbed.value.ptr);
    return this.y.ptr;
  }

  backward(dy: Ptr, n: number): Ptr {
    const { k, t, d } = this, inBytes = t * d * 4, outBytes = (t + 1) * d * 4;
    k.sumRows(n, (t + 1) * d, dy, this.posEmbed.grad.ptr, false);
    // The class token reaches the output only through row 0, as pos_embed[0] does: same gradient.
    k.copy(d, this.posEmbed.grad.ptr, this.clsToken.grad.ptr);
    if (!this.dx) return 0;
    for (let b = 0; b < n; b++) k.copy(t * d, dy + b * outBytes + d * 4, this.dx.ptr + b * inBytes);
    return this.dx.ptr;
  }

  params(): Param[] {
    return [this.clsToken, this.posEmbed];
  }

  buffers(): NamedTensor[] {
    return [];
  }

  sparsifiable(): SparsifiableLayer[] {
    return [];
  }
}
