import type { Ptr } from '../kernels/api.js';
import type { WasmHeap } from '../kernels/memory.js';

/** Number of elements of a shape (1 for a scalar `[]`). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`bad shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

/**
 * A row-major f32 (or i32) buffer in the engine's shared wasm memory. Allocated once, never
 * freed individually; kernels take `ptr`. `data` is a view created once: the memory is shared,
 * so growing it does not detach existing views.
 */
export class Tensor {
  readonly size: number;
  readonly data: Float32Array;

  constructor(
    readonly heap: WasmHeap,
    readonly shape: readonly number[],
    readonly ptr: Ptr,
  ) {
    this.size = shapeSize(shape);
    this.data = heap.f32(ptr, this.size);
  }

  /** A zero-filled tensor allocated on `heap`. */
  static zeros(heap: WasmHeap, shape: readonly number[]): Tensor {
    return new Tensor(heap, shape, heap.allocF32(shapeSize(shape)));
  }

  /** The same bytes as i32 (labels, argmax). */
  get i32(): Int32Array {
    return this.heap.i32(this.ptr, this.size);
  }

  /** The first `n` rows (outermost dimension) as a view. */
  rows(n: number): Float32Array {
    return this.data.subarray(0, (this.size / this.shape[0]) * n);
  }
}

/** A named tensor that is saved with a model but not trained (BN running statistics). */
export interface NamedTensor {
  name: string;
  tensor: Tensor;
}
