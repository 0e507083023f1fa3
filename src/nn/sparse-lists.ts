import type { Ptr } from '../kernels/api.js';
import type { WasmHeap } from '../kernels/memory.js';

/**
 * The active weights of one [out, fanIn] weight in wasm memory, as the sparse training kernels
 * read them (kernels/api.ts): per output row (CSR: rowPtr, col ascending) with their element
 * indices (pos, also the optimizer's active list), and per input column (CSC: colPtr, rowIdx
 * ascending, wPos) for the input gradient. Allocated once for `capacity` weights (the layer's
 * budget, which no topology exceeds); `build` rewrites them after every topology change.
 */
export class SparseLists {
  readonly rowPtr: Ptr;
  readonly col: Ptr;
  readonly pos: Ptr;
  readonly colPtr: Ptr;
  readonly rowIdx: Ptr;
  readonly wPos: Ptr;
  /** Active weights listed now. */
  count = 0;

  constructor(private readonly heap: WasmHeap, readonly out: number, readonly fanIn: number, readonly capacity: number) {
    this.rowPtr = heap.allocI32(out + 1);
    this.col = heap.allocI32(capacity);
    this.pos = heap.allocI32(capacity);
    this.colPtr = heap.allocI32(fanIn + 1);
    this.rowIdx = heap.allocI32(capacity);
    this.wPos = heap.allocI32(capacity);
  }

  /** Lists the nonzero positions of `mask` ([out, fanIn], row-major); throws when they exceed the capacity. */
  build(mask: ArrayLike<number>, what: string): number {
    const { out, fanIn, capacity, heap } = this;
    if (mask.length !== out * fanIn) throw new RangeError(`${what}: sparse compute mask has ${mask.length} elements, the weight ${out * fanIn}`);
    const rowPtr = heap.i32(this.rowPtr, out + 1), col = heap.i32(this.col, capacity), pos = heap.i32(this.pos, capacity);
    let t = 0;
    rowPtr[0] = 0;
    for (let j = 0; j < out; j++) {
      const base = j * fanIn;
      for (let i = 0; i < fanIn; i++) {
        if (mask[base + i] === 0) continue;
        if (t === capacity) throw new RangeError(`${what}: the mask holds more than the ${capacity} active weights the layer was sized for`);
        col[t] = i;
        pos[t] = base + i;
        t++;
      }
      rowPtr[j + 1] = t;
    }
    // The transposed lists: counts per column, offsets, then rows in order.
    const colPtr = heap.i32(this.colPtr, fanIn + 1), rowIdx = heap.i32(this.rowIdx, capacity), wPos = heap.i32(this.wPos, capacity);
    colPtr.fill(0);
    for (let q = 0; q < t; q++) colPtr[col[q] + 1]++;
    for (let i = 0; i < fanIn; i++) colPtr[i + 1] += colPtr[i];
    const fill = colPtr.slice(0, fanIn);
    for (let j = 0; j < out; j++) {
      for (let q = rowPtr[j]; q < rowPtr[j + 1]; q++) {
        const e = fill[col[q]]++;
        rowIdx[e] = j;
        wPos[e] = pos[q];
      }
    }
    this.count = t;
    return t;
  }
}

/** Nonzero count of a 0/1 mask. */
export function maskCount(mask: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) n++;
  return n;
}
