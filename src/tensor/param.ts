import type { WasmHeap } from '../kernels/memory.js';
import { shapeSize, Tensor } from './tensor.js';

/**
 * Where a compact param's entries sit in its dense shape: entry t is element `pos[t]`
 * (ascending). `pos` is a view the owner (a sparse-compute layer) rewrites after every topology
 * change; `count` entries are valid.
 */
export interface CompactIndex {
  readonly count: number;
  readonly pos: Int32Array;
}

/**
 * A trainable tensor with its gradient. Layers own their params; optimizers and sparse
 * topology updates reach them through `parameters()` and the layers' `sparsifiable()` lists.
 *
 * Storage comes in two forms, and `value`/`grad` are always the storage the kernels and the
 * optimizer work on:
 * - dense: [shape] tensors, allocated on first use (so a param that goes compact before it is
 *   used never holds dense memory; an initialiser given to `deferInit` runs then);
 * - compact (sparse compute): [capacity] tensors holding only the active elements, in the
 *   order of `compact.pos`; the dense weight and gradient do not exist. Read and write the
 *   dense view through `denseValues()` / `assign()`.
 */
export class Param {
  readonly shape: readonly number[];
  /** Elements of the dense shape. */
  readonly size: number;

  /**
   * Sparsity mask of a dense param, same shape as `value`, exactly 0 or 1; null for dense and
   * compact params. When set, the training loop masks the gradient before the optimizer step
   * and multiplies the weight by the mask after it, so masked weights stay exactly 0 (weight
   * decay included). `setMask` installs one.
   */
  mask: Tensor | null = null;

  /**
   * Asks the layer's next backward for the gradient of every element, not only the active ones
   * (a convolution's topology update grows from it; a Linear layer computes it on demand).
   */
  denseGrad = false;

  private denseStore: { value: Tensor; grad: Tensor } | null = null;
  private compactStore: { value: Tensor; grad: Tensor; index: CompactIndex } | null = null;
  /** Fills the dense values when they are first allocated (a deferred init, or values assigned before). */
  private pending: ((data: Float32Array) => void) | null = null;

  constructor(
    private readonly heap: WasmHeap,
    /** Dotted name as in PyTorch state dicts: `fc1.weight`, `layer1.0.bn1.bias`. */
    readonly name: string,
    shape: readonly number[],
    /** Whether weight decay applies: true for weights, false for biases and norm params. */
    readonly decay: boolean,
  ) {
    this.shape = [...shape];
    this.size = shapeSize(shape);
  }

  /** The values the kernels read: dense [shape], or compact [capacity] (allocates dense storage on first use). */
  get value(): Tensor {
    return this.storage().value;
  }

  /** The gradient, stored like `value`. */
  get grad(): Tensor {
    return this.storage().grad;
  }

  /** The compact index when the param is stored compact, else null. */
  get compact(): CompactIndex | null {
    return this.compactStore?.index ?? null;
  }

  /** Elements the optimizer updates: the active ones of a compact param, else all. */
  get count(): number {
    return this.compactStore === null ? this.size : this.compactStore.index.count;
  }

  /** Whether dense storage has been allocated. */
  get materialized(): boolean {
    return this.denseStore !== null;
  }

  /**
   * Runs `fill` on the dense values when they are first allocated, instead of now: a param
   * that goes compact first never allocates them (`toCompact` with keepValues false drops it).
   */
  deferInit(fill: (data: Float32Array) => void): void {
    if (this.denseStore !== null) fill(this.denseStore.value.data);
    else this.pending = fill;
  }

  /**
   * Switches to compact storage of `capacity` entries laid out by `index` (which the caller
   * keeps up to date). With `keepValues` the current dense values (allocated, or pending) are
   * gathered into it; without, the entries start at 0 for the caller to initialise and a
   * pending init is dropped. Storage of an earlier switch is reused when it is large enough.
   */
  toCompact(capacity: number, index: CompactIndex, keepValues: boolean): void {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`${this.name}: compact capacity must be a positive integer, got ${capacity}`);
    if (index.count > capacity) throw new RangeError(`${this.name}: ${index.count} active elements exceed the compact capacity ${capacity}`);
    let source: Float32Array | null = null;
    if (keepValues && this.compactStore === null) {
      if (this.denseStore !== null) source = this.denseStore.value.data;
      else if (this.pending !== null) {
        source = new Float32Array(this.size);
        this.pending(source);
      }
    }
    this.pending = null;
    const prev = this.compactStore;
    const fits = prev !== null && prev.value.size >= capacity;
    const value = fits ? prev.value : Tensor.zeros(this.heap, [capacity]);
    const grad = fits ? prev.grad : Tensor.zeros(this.heap, [capacity]);
    this.compactStore = { value, grad, index };
    this.mask = null;
    if (source !== null) {
      const v = value.data, pos = index.pos;
      for (let t = 0; t < index.count; t++) v[t] = source[pos[t]];
    }
  }

  /** Back to dense storage, holding the compact values at their positions (zeros elsewhere). */
  toDense(): void {
    const c = this.compactStore;
    if (c === null) return;
    const dense = this.denseValues();
    this.compactStore = null;
    this.storage().value.data.set(dense);
    this.storage().grad.data.fill(0);
  }

  /** The dense values [size]: a view of dense storage, or a new array built from the compact entries. */
  denseValues(): Float32Array {
    const c = this.compactStore;
    if (c === null) return this.value.data;
    return this.scatter(c.value.data);
  }

  /** A new dense [size] array holding `compactData[t]` at `pos[t]` (t < count), zeros elsewhere. */
  scatter(compactData: Float32Array): Float32Array {
    const c = this.compactStore;
    if (c === null) throw new Error(`${this.name} is not stored compact`);
    const out = new Float32Array(this.size);
    const pos = c.index.pos;
    for (let t = 0; t < c.index.count; t++) out[pos[t]] = compactData[t];
    return out;
  }

  /** Writes `dense[pos[t]]` into `compactData[t]` for t < count and zeroes the rest. */
  gather(dense: Float32Array, compactData: Float32Array): void {
    const c = this.compactStore;
    if (c === null) throw new Error(`${this.name} is not stored compact`);
    const pos = c.index.pos;
    for (let t = 0; t < c.index.count; t++) compactData[t] = dense[pos[t]];
    compactData.fill(0, c.index.count);
  }

  /**
   * Sets the values from a dense [size] array: into dense storage, gathered into a compact one,
   * or (before any storage exists) kept until it is allocated — `src` must not change until then.
   */
  assign(src: Float32Array): void {
    if (src.length !== this.size) throw new RangeError(`${this.name}: ${src.length} values for a param of ${this.size}`);
    const c = this.compactStore;
    if (c !== null) this.gather(src, c.value.data);
    else if (this.denseStore !== null) this.denseStore.value.data.set(src);
    else this.pending = (d) => d.set(src);
  }

  /** The mask as 0/1 per dense element: the mask tensor's data, one built from the compact index, or null for a dense param. */
  denseMask(): Float32Array | Uint8Array | null {
    const c = this.compactStore;
    if (c === null) return this.mask === null ? null : this.mask.data;
    const m = new Uint8Array(this.size);
    for (let t = 0; t < c.index.count; t++) m[c.index.pos[t]] = 1;
    return m;
  }

  /**
   * Makes a dense param sparse: allocates the mask on first use (once; later calls reuse it),
   * copies `mask` (0/1 per element) into it and zeroes the masked weights. Pass values
   * from a Uint8Array or Float32Array.
   */
  setMask(mask: ArrayLike<number>): void {
    if (mask.length !== this.size) throw new RangeError(`${this.name}: mask has ${mask.length} elements, the param ${this.size}`);
    if (this.compactStore !== null) throw new Error(`${this.name} is stored compact: its mask is its index`);
    if (this.mask === null) this.mask = Tensor.zeros(this.heap, this.shape);
    const m = this.mask.data;
    const w = this.value.data;
    for (let i = 0; i < m.length; i++) {
      const keep = mask[i] !== 0 ? 1 : 0;
      m[i] = keep;
      if (keep === 0) w[i] = 0;
    }
  }

  private storage(): { value: Tensor; grad: Tensor } {
    if (this.compactStore !== null) return this.compactStore;
    if (this.denseStore === null) {
      this.denseStore = { value: Tensor.zeros(this.heap, this.shape), grad: Tensor.zeros(this.heap, this.shape) };
      const fill = this.pending;
      this.pending = null;
      fill?.(this.denseStore.value.data);
    }
    return this.denseStore;
  }
}
