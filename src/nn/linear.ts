import type { Kernels, Ptr } from '../kernels/api.js';
import { kaimingUniformA5, biasInit } from '../tensor/init.js';
import { Param } from '../tensor/param.js';
import { Tensor, shapeSize } from '../tensor/tensor.js';
import type { NamedTensor } from '../tensor/tensor.js';
import type { WasmHeap } from '../kernels/memory.js';
import { joinName, type BuildContext, type Layer, type SparseComputeLayer, type SparsifiableLayer } from './layer.js';
import { chunkScratch, maskCount, SparseLists } from './sparse-lists.js';

/** Buffers of a Linear layer's sparse compute, allocated on first use. */
interface SparseBuffers {
  lists: SparseLists;
  /** Batch-contiguous activations: Xᵀ [in, maxBatch], Yᵀ and dYᵀ [out, maxBatch], dXᵀ [in, maxBatch] (two buffers in all, see setSparseCompute). */
  xT: Ptr;
  yT: Ptr;
  dyT: Ptr;
  dxT: Ptr;
}

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
export class Linear implements Layer, SparseComputeLayer {
  readonly outShape: readonly number[];
  readonly weight: Param;
  readonly bias: Param | null;
  readonly in: number;
  readonly out: number;
  private readonly k: Kernels;
  private readonly y: Tensor;
  private readonly dx: Tensor | null;
  private x: Ptr = 0;
  private readonly heap: WasmHeap;
  private readonly maxBatch: number;
  private sp: SparseBuffers | null = null;
  private sparseOn = false;
  /** Batch size of the last backward (its dYᵀ and input are what denseGradRows multiplies). */
  private lastN = 0;

  constructor(ctx: BuildContext, readonly name: string, inShape: readonly number[], opts: LinearOptions, inputGrad: boolean) {
    const heap = ctx.engine.heap;
    this.heap = heap;
    this.maxBatch = ctx.maxBatch;
    this.k = ctx.engine.kernels;
    this.in = shapeSize(inShape);
    this.out = opts.out;
    this.outShape = [this.out];
    this.weight = new Param(heap, joinName(name, 'weight'), [this.out, this.in], true);
    // Deferred: a weight that goes compact (sparse compute) before its first use never exists dense.
    const wRng = ctx.rng.clone();
    ctx.rng.skip(this.weight.size);
    this.weight.deferInit((d) => kaimingUniformA5(d, this.in, wRng));
    this.bias = opts.bias === false ? null : new Param(heap, joinName(name, 'bias'), [this.out], false);
    if (this.bias) biasInit(this.bias.value.data, this.in, ctx.rng);
    this.y = Tensor.zeros(heap, [ctx.maxBatch, this.out]);
    this.dx = inputGrad ? Tensor.zeros(heap, [ctx.maxBatch, this.in]) : null;
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
    const { out, in: inF } = this;
    const nnz = maskCount(mask);
    if (this.sp === null || this.sp.lists.capacity < nnz) {
      // Once per layer in practice: capacity is the layer's budget, which no topology exceeds.
      const B = this.maxBatch, h = this.heap;
      this.sp = {
        lists: new SparseLists(h, out, inF, Math.max(capacity, nnz, 1)),
        xT: h.allocF32(inF * B), yT: h.allocF32(out * B), dyT: 0, dxT: 0,
      };
      // Yᵀ lives only within forward and dYᵀ from backward to the next forward, so they share a
      // buffer; Xᵀ is spent once backward has the weight gradient, so dXᵀ takes its place.
      this.sp.dyT = this.sp.yT;
      this.sp.dxT = this.dx ? this.sp.xT : 0;
    }
    const lists = this.sp.lists;
    lists.build(mask, this.name);
    this.weight.toCompact(lists.capacity, lists, keepValues);
    this.sparseOn = true;
  }

  denseGradRows(r0: number, r1: number, dst: Float32Array): void {
    const len = (r1 - r0) * this.in;
    if (!(Number.isInteger(r0) && Number.isInteger(r1) && r0 >= 0 && r0 < r1 && r1 <= this.out)) throw new RangeError(`${this.name}: gradient rows [${r0}, ${r1}) out of [0, ${this.out})`);
    if (!this.sparseOn) {
      dst.set(this.weight.grad.data.subarray(r0 * this.in, r1 * this.in));
      return;
    }
    if (this.lastN === 0) throw new Error(`${this.name}: no backward has run, so there is no gradient to read`);
    const sp = this.sp as SparseBuffers;
    const tmp = chunkScratch(this.heap, len);
    // dW[r0:r1, :] = dYᵀ[r0:r1, :] · X, from the buffers the last backward left.
    this.k.gemmNN(r1 - r0, this.in, this.lastN, sp.dyT + r0 * this.lastN * 4, this.x, tmp, false);
    dst.set(this.heap.f32(tmp, len));
  }

  releaseDenseGrad(): void {}

  forward(x: Ptr, n: number): Ptr {
    this.x = x;
    const k = this.k;
    if (this.sparseOn) {
      const sp = this.sp as SparseBuffers;
      k.swapAxes(n, this.in, 1, x, sp.xT);
      k.sparseRowsForward(this.out, n, sp.lists.rowPtr, sp.lists.col, this.weight.value.ptr, sp.xT, sp.yT);
      k.swapAxes(this.out, n, 1, sp.yT, this.y.ptr);
    } else {
      k.gemmNT(n, this.out, this.in, x, this.weight.value.ptr, this.y.ptr, false);
    }
    if (this.bias) k.addBiasRows(n, this.out, this.y.ptr, this.bias.value.ptr);
    return this.y.ptr;
  }

  backward(dy: Ptr, n: number): Ptr {
    const k = this.k;
    if (this.sparseOn) return this.sparseBackward(dy, n, this.sp as SparseBuffers);
    k.gemmTN(this.out, this.in, n, dy, this.x, this.weight.grad.ptr, false);
    if (this.bias) k.sumRows(n, this.out, dy, this.bias.grad.ptr, false);
    if (!this.dx) return 0;
    k.gemmNN(n, this.in, this.out, dy, this.weight.value.ptr, this.dx.ptr, false);
    return this.dx.ptr;
  }

  /** The weight gradient at the active weights and the input gradient through them. */
  private sparseBackward(dy: Ptr, n: number, sp: SparseBuffers): Ptr {
    const k = this.k;
    k.swapAxes(n, this.out, 1, dy, sp.dyT);
    k.sparseRowsWeightGrad(this.out, n, sp.lists.rowPtr, sp.lists.col, this.weight.grad.ptr, sp.dyT, sp.xT);
    this.lastN = n;
    if (this.bias) k.sumRows(n, this.out, dy, this.bias.grad.ptr, false);
    if (!this.dx) return 0;
    k.sparseColsInputGrad(this.in, n, sp.lists.colPtr, sp.lists.rowIdx, sp.lists.wPos, this.weight.value.ptr, sp.dyT, sp.dxT);
    k.swapAxes(this.in, n, 1, sp.dxT, this.dx.ptr);
    return this.dx.ptr;
  }

  params(): Param[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  buffers(): NamedTensor[] {
    return [];
  }

  sparsifiable(): SparsifiableLayer[] {
    return [{ name: this.name, kind: 'linear', weight: this.weight, bias: this.bias, out: this.out, fanIn: this.in, kernel: [1, 1], isFirst: false, isClassifier: false, sparseCompute: this }];
  }
}
