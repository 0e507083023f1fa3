import type { WasmHeap } from '../kernels/memory.js';
import { Tensor } from './tensor.js';

/**
 * A trainable tensor with its gradient. Layers own their params; optimizers and sparse
 * topology updates reach them through `parameters()` and the layers' `sparsifiable()` lists.
 */
export class Param {
  readonly value: Tensor;
  readonly grad: Tensor;
  /**
   * Sparsity mask, same shape as `value`, exactly 0 or 1; null for dense params. When set,
   * the training loop masks the gradient before the optimizer step and multiplies the weight
   * by the mask after it, so masked weights stay exactly 0 (weight decay included). Sparse
   * code edits `mask.data` (a Float32Array view) in place; `setMask` installs one.
   */
  mask: Tensor | null = null;

  /**
   * Sparse compute (set by the layer when it computes only its active weights): `count` i32
   * element indices at `pos` in wasm memory, the weights that exist. Then the optimizer updates
   * only these elements and skips the mask multiply (the others are exactly 0 and are never
   * touched), and the gradient is exactly 0 off the list except after a step that asked for the
   * dense gradient (`denseGrad`), which `maskGradients` clears. null: every element is computed.
   */
  active: { count: number; pos: number } | null = null;

  /**
   * Asks the layer's next backward for the gradient of every element, not only the active ones
   * (topology updates grow from it). Layers without sparse compute always compute it.
   */
  denseGrad = false;

  /** Whether the last backward computed the gradient of every element (false: the active ones only). */
  gradIsDense = true;

  constructor(
    heap: WasmHeap,
    /** Dotted name as in PyTorch state dicts: `fc1.weight`, `layer1.0.bn1.bias`. */
    readonly name: string,
    shape: readonly number[],
    /** Whether weight decay applies: true for weights, false for biases and norm params. */
    readonly decay: boolean,
  ) {
    this.value = Tensor.zeros(heap, shape);
    this.grad = Tensor.zeros(heap, shape);
  }

  get size(): number {
    return this.value.size;
  }

  get shape(): readonly number[] {
    return this.value.shape;
  }

  /**
   * Makes the param sparse: allocates the mask on first use (once; later calls reuse it),
   * copies `mask` (0/1 per element) into it and zeroes the masked weights. Pass values
   * from a Uint8Array or Float32Array.
   */
  setMask(mask: ArrayLike<number>): void {
    if (mask.length !== this.size) throw new RangeError(`${this.name}: mask has ${mask.length} elements, the param ${this.size}`);
    if (this.mask === null) this.mask = Tensor.zeros(this.value.heap, this.shape);
    const m = this.mask.data;
    const w = this.value.data;
    for (let i = 0; i < m.length; i++) {
      const keep = mask[i] !== 0 ? 1 : 0;
      m[i] = keep;
      if (keep === 0) w[i] = 0;
    }
  }
}
