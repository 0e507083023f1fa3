import type { Ptr } from './api.js';

/** Bytes below this offset belong to the WebAssembly modules' own static data. */
export const RESERVED_BYTES = 65536;
const PAGE = 65536;
/** Matches `--maximumMemory` in scripts/build-wasm.mjs (2 GiB). */
export const MAX_PAGES = 32768;

/**
 * One shared WebAssembly memory holding every tensor, plus a bump allocator over it.
 * Shared so that worker threads run kernels on the same buffers without copies. Tensors are
 * allocated once (model build) and reused every step; `mark`/`release` scope scratch space.
 */
export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  private top = RESERVED_BYTES;

  constructor(initialBytes = 64 << 20) {
    const pages = Math.min(MAX_PAGES, Math.max(32, Math.ceil(initialBytes / PAGE)));
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared: true });
  }

  /** Allocates `bytes` bytes aligned to `align` (default 64, a cache line); zero-filled. */
  alloc(bytes: number, align = 64): Ptr {
    if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`WasmHeap.alloc: bad size ${bytes}`);
    const ptr = Math.ceil(this.top / align) * align;
    const end = ptr + Math.max(bytes, 0);
    this.ensure(end);
    new Uint8Array(this.memory.buffer, ptr, bytes).fill(0);
    this.top = end;
    return ptr;
  }

  allocF32(n: number): Ptr {
    return this.alloc(n * 4);
  }

  allocI32(n: number): Ptr {
    return this.alloc(n * 4);
  }

  /** Current allocation top, to pass to `release` later. */
  mark(): number {
    return this.top;
  }

  /** Frees everything allocated after `mark` was taken. */
  release(mark: number): void {
    if (mark < RESERVED_BYTES || mark > this.top) throw new RangeError(`WasmHeap.release: bad mark ${mark}`);
    this.top = mark;
  }

  /** Bytes in use by tensors. */
  get used(): number {
    return this.top - RESERVED_BYTES;
  }

  f32(ptr: Ptr, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }

  i32(ptr: Ptr, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, n);
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const need = Math.ceil((end - have) / PAGE);
    if (have / PAGE + need > MAX_PAGES) {
      throw new RangeError(`WasmHeap: out of memory: need ${end} bytes, the limit is ${MAX_PAGES * PAGE}`);
    }
    this.memory.grow(need);
  }
}
