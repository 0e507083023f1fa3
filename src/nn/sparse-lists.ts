import type { Ptr } from '../kernels/api.js';
import type { WasmHeap } from '../kernels/memory.js';
import type { CompactIndex } from '../tensor/param.js';

/**
 * The active weights of one [out, fanIn] weight, as the sparse training kernels read them
 * (kernels/api.ts): per output row in wasm memory (CSR: rowPtr, col ascending; entry t is the
 * compact weight t), per input column (CSC: colPtr, rowIdx ascending, wPos = the compact index)
 * for the input gradient, and each entry's dense element index in `pos` (the param's
 * CompactIndex). Allocated once for `capacity` weights (the layer's budget, which no topology
 * exceeds); `build` rewrites them after every topology change.
 */
export class SparseLists implements CompactIndex {
  readonly rowPtr: Ptr;
  readonly col: Ptr;
  readonly colPtr: Ptr;
  readonly rowIdx: Ptr;
  readonly wPos: Ptr;
  /** Dense element index (row·fanIn + column) of each entry, ascending. */
  readonly pos: Int32Array;
  /** Active weights listed now. */
  count = 0;

  constructor(private readonly heap: WasmHeap, readonly out: number, readonly fanIn: number, readonly capacity: number) {
    this.rowPtr = heap.allocI32(out + 1);
    this.col = heap.allocI32(capacity);
    this.pos = new Int32Array(capacity);
    this.colPtr = heap.allocI32(fanIn + 1);
    this.rowIdx = heap.allocI32(capacity);
    this.wPos = heap.allocI32(capacity);
  }

  /** Lists the nonzero positions of `mask` ([out, fanIn], row-major); throws when they exceed the capacity. */
  build(mask: ArrayLike<number>, what: string): number {
    const { out, fanIn, capacity, heap } = this;
    if (mask.length !== out * fanIn) throw new RangeError(`${what}: sparse compute mask has ${mask.length} elements, the weight ${out * fanIn}`);
    const rowPtr = heap.i32(this.rowPtr, out + 1), col = heap.i32(this.col, capacity), pos = this.pos;
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
        wPos[e] = q;
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

/**
 * A wasm buffer of at least `floats` floats for temporaries that live within one call (rows of
 * a dense gradient at a topology update), one per heap, grown when a larger one is asked for.
 */
export function chunkScratch(heap: WasmHeap, floats: number): Ptr {
  const have = scratchOf.get(heap);
  if (have !== undefined && have.floats >= floats) return have.ptr;
  const ptr = heap.allocF32(floats);
  scratchOf.set(heap, { ptr, floats });
  return ptr;
}

const scratchOf = new WeakMap<WasmHeap, { ptr: Ptr; floats: number }>();

/** Rows of a dense [rows, fanIn] gradient computed per chunk: about 256 K elements (1 MB), at least one row. */
export function gradRowsPerChunk(out: number, fanIn: number): number {
  return Math.max(1, Math.min(out, Math.floor((1 << 18) / fanIn)));
}
