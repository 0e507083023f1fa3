import type { Kernels, Ptr } from '../kernels/api.js';
import type { WasmHeap } from '../kernels/memory.js';
import { kaimingUniformA5, biasInit } from '../tensor/init.js';
import { Param } from '../tensor/param.js';
import { Tensor } from '../tensor/tensor.js';
import type { NamedTensor } from '../tensor/tensor.js';
import { joinName, type BuildContext, type Layer, type SparseComputeLayer, type SparsifiableLayer } from './layer.js';
import { chunkScratch, maskCount, SparseLists } from './sparse-lists.js';

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
 * Scratch shared by every Conv2d built with one BuildContext: the batch's column matrix
 * [C·kh·kw, B·OH·OW] and the channel-major output (or output gradient) [Cout, B·OH·OW]. Layers
 * run one at a time and backward rebuilds its columns, so one pair of buffers serves the whole
 * model; per-layer columns kept from forward would cost ResNet-20 at batch 128 some 650 MB.
 * Sized at build time (grown, never shrunk, as larger layers are built): steps allocate nothing.
 */
class ConvScratch {
  col = 0;
  out = 0;
  private colFloats = 0;
  private outFloats = 0;

  constructor(private readonly heap: WasmHeap) {}

  reserve(colFloats: number, outFloats: number): void {
    if (colFloats > this.colFloats) {
      this.col = this.heap.allocF32(colFloats);
      this.colFloats = colFloats;
    }
    if (outFloats > this.outFloats) {
      this.out = this.heap.allocF32(outFloats);
      this.outFloats = outFloats;
    }
  }
}

/** One scratch per build context: the context is what a model's layers share. */
const scratchOf = new WeakMap<BuildContext, ConvScratch>();

function sharedScratch(ctx: BuildContext): ConvScratch {
  let s = scratchOf.get(ctx);
  if (!s) {
    s = new ConvScratch(ctx.engine.heap);
    scratchOf.set(ctx, s);
  }
  return s;
}

/**
 * 2-D convolution over NCHW input, batched: one im2col of all n images into
 * col[Cin·kh·kw, n·OH·OW], one GEMM Y' = W[Cout, Cin·kh·kw] · col into channel-major
 * Y'[Cout, n, OH·OW], then a swap of the two outer axes into NCHW. Backward swaps dY the other
 * way and needs one GEMM per gradient: dW = dY'·colᵀ and dcol = Wᵀ·dY', folded back by col2im.
 * Few large GEMMs rather than 2–3 small ones per image: each call amortises packing and thread
 * wake-up over the whole batch. With sparse compute (setSparseCompute) the three GEMMs become the
 * sparse kernels over the same column matrix: its B·OH·OW columns are their lanes.
 */
export class Conv2d implements Layer, SparseComputeLayer {
  readonly outShape: readonly number[];
  readonly weight: Param;
  readonly bias: Param | null;
  private readonly k: Kernels;
  private readonly scratch: ConvScratch;
  private readonly cin: number;
  private readonly h: number;
  private readonly w: number;
  private readonly cout: number;
  private readonly ks: number;
  private readonly stride: number;
  private readonly pad: number;
  private readonly fanIn: number;
  private readonly ohw: number;
  private readonly y: Tensor;
  private readonly dx: Tensor | null;
  private x: Ptr = 0;
  private readonly heap: WasmHeap;
  private lists: SparseLists | null = null;
  private sparseOn = false;
  /** The dense weight gradient of a sparse backward run with weight.denseGrad, until the update has read it. */
  private keptDenseGrad: Float32Array | null = null;

  constructor(ctx: BuildContext, readonly name: string, inShape: readonly number[], opts: Conv2dOptions, inputGrad: boolean) {
    if (inShape.length !== 3) throw new Error(`${name}: Conv2d expects [C, H, W] input, got [${inShape.join(', ')}]`);
    const heap = ctx.engine.heap;
    this.heap = heap;
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
    this.weight = new Param(heap, joinName(name, 'weight'), [this.cout, this.cin, this.ks, this.ks], true);
    // Deferred: a weight that goes compact (sparse compute) before its first use never exists dense.
    const wRng = ctx.rng.clone();
    ctx.rng.skip(this.weight.size);
    this.weight.deferInit((d) => kaimingUniformA5(d, this.fanIn, wRng));
    this.bias = opts.bias === false ? null : new Param(heap, joinName(name, 'bias'), [this.cout], false);
    if (this.bias) biasInit(this.bias.value.data, this.fanIn, ctx.rng);
    this.y = Tensor.zeros(heap, [ctx.maxBatch, this.cout, oh, ow]);
    this.dx = inputGrad ? Tensor.zeros(heap, [ctx.maxBatch, this.cin, this.h, this.w]) : null;
    this.scratch = sharedScratch(ctx);
    this.scratch.reserve(this.fanIn * ctx.maxBatch * this.ohw, this.cout * ctx.maxBatch * this.ohw);
  }

  get sparse(): boolean {
    return this.sparseOn;
  }

  setSparseCompute(mask: ArrayLike<number> | null, capacity: number, keepValues = true): void {
    if (mask === null) {
      this.sparseOn = false;
      this.weight.toDense();
      return;
    }
    const nnz = maskCount(mask);
    // Once per layer in practice: capacity is the layer's budget, which no topology exceeds.
    if (this.lists === null || this.lists.capacity < nnz) this.lists = new SparseLists(this.heap, this.cout, this.fanIn, Math.max(capacity, nnz, 1));
    this.lists.build(mask, this.name);
    this.weight.toCompact(this.lists.capacity, this.lists, keepValues);
    this.sparseOn = true;
  }

  denseGradRows(r0: number, r1: number, dst: Float32Array): void {
    const { fanIn, cout } = this;
    if (!(Number.isInteger(r0) && Number.isInteger(r1) && r0 >= 0 && r0 < r1 && r1 <= cout)) throw new RangeError(`${this.name}: gradient rows [${r0}, ${r1}) out of [0, ${cout})`);
    const src = this.sparseOn ? this.keptDenseGrad : this.weight.grad.data;
    if (src === null) {
      throw new Error(
        `${this.name}: a topology update needs the dense gradient, but the last backward computed the active weights' only: ` +
          "set weight.denseGrad before that step's forward pass (the sparse hooks' beforeStep does; train() calls it), or use compute: 'dense'",
      );
    }
    dst.set(src.subarray(r0 * fanIn, r1 * fanIn));
  }

  releaseDenseGrad(): void {
    this.keptDenseGrad = null;
  }

  forward(x: Ptr, n: number): Ptr {
    this.x = x;
    const { k, cout, ohw } = this;
    const col = this.columns(x, n);
    // For one image the channel-major output already is NCHW.
    const out = n === 1 ? this.y.ptr : this.scratch.out;
    const L = this.sparseOn ? (this.lists as SparseLists) : null;
    if (L) k.sparseRowsForward(cout, n * ohw, L.rowPtr, L.col, this.weight.value.ptr, col, out);
    else k.gemmNN(cout, n * ohw, this.fanIn, this.weight.value.ptr, col, out, false);
    if (n > 1) k.swapAxes(cout, n, ohw, out, this.y.ptr);
    if (this.bias) k.addBiasChannels(n, cout, ohw, this.y.ptr, this.bias.value.ptr);
    return this.y.ptr;
  }

  backward(dy: Ptr, n: number): Ptr {
    const { k, cout, ohw, fanIn } = this;
    if (this.bias) k.sumChannels(n, cout, ohw, dy, this.bias.grad.ptr, false);
    let dyT = dy;
    if (n > 1) {
      dyT = this.scratch.out;
      k.swapAxes(n, cout, ohw, dy, dyT);
    }
    const col = this.columns(this.x, n);
    const L = this.sparseOn ? (this.lists as SparseLists) : null;
    // Sparse: the gradient at the active weights; when a topology update asks for all of it, that
    // too, kept outside the wasm heap until the update has read it (the columns are gone by then).
    if (L) {
      k.sparseRowsWeightGrad(cout, n * ohw, L.rowPtr, L.col, this.weight.grad.ptr, dyT, col);
      this.keptDenseGrad = null;
      if (this.weight.denseGrad) {
        const tmp = chunkScratch(this.heap, cout * fanIn);
        k.gemmNT(cout, fanIn, n * ohw, dyT, col, tmp, false);
        this.keptDenseGrad = this.heap.f32(tmp, cout * fanIn).slice();
      }
    } else {
      k.gemmNT(cout, fanIn, n * ohw, dyT, col, this.weight.grad.ptr, false);
    }
    if (!this.dx) return 0;
    // The columns are spent: their buffer takes the column gradient.
    if (L) k.sparseColsInputGrad(fanIn, n * ohw, L.colPtr, L.rowIdx, L.wPos, this.weight.value.ptr, dyT, col);
    else k.gemmTN(fanIn, n * ohw, cout, this.weight.value.ptr, dyT, col, false);
    k.col2imBatch(n, this.cin, this.h, this.w, this.ks, this.ks, this.stride, this.pad, col, this.dx.ptr);
    return this.dx.ptr;
  }

  /** Input [C, H, W], square kernel, stride and zero padding (for converting to other representations). */
  get geometry(): { C: number; H: number; W: number; kh: number; kw: number; stride: number; pad: number } {
    return { C: this.cin, H: this.h, W: this.w, kh: this.ks, kw: this.ks, stride: this.stride, pad: this.pad };
  }

  /** The column matrix of n images at `x`, in the shared scratch. */
  private columns(x: Ptr, n: number): Ptr {
    const col = this.scratch.col;
    this.k.im2colBatch(n, this.cin, this.h, this.w, this.ks, this.ks, this.stride, this.pad, x, col);
    return col;
  }

  params(): Param[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  buffers(): NamedTensor[] {
    return [];
  }

  sparsifiable(): SparsifiableLayer[] {
    return [{ name: this.name, kind: 'conv2d', weight: this.weight, bias: this.bias, out: this.cout, fanIn: this.fanIn, kernel: [this.ks, this.ks], isFirst: false, isClassifier: false, sparseCompute: this }];
  }
}
