import type { Kernels } from './api.js';
import { WasmHeap } from './memory.js';
import { ReferenceKernels } from './reference.js';

/** Which kernels run: the TypeScript reference, or a WebAssembly module of one ISA level. */
export type BackendName = 'auto' | 'reference' | 'scalar' | 'simd128' | 'relaxed';

export interface EngineOptions {
  /** Kernel backend. Default `'auto'`: the fastest WebAssembly module this runtime validates. */
  backend?: BackendName;
  /** Threads for the WebAssembly kernels (main thread included). Default: all available cores. */
  threads?: number;
  /** Initial size of the shared memory in bytes; it grows on demand. Default 64 MiB. */
  initialBytes?: number;
}

/**
 * The compute context passed to everything that computes: one shared memory holding all
 * tensors, and the kernels that run on it. No global state: two engines are independent.
 */
export interface Engine {
  readonly heap: WasmHeap;
  readonly kernels: Kernels;
  /** The backend actually in use (never `'auto'`). */
  readonly backend: Exclude<BackendName, 'auto'>;
  readonly threads: number;
  /** Stops worker threads. The engine must not be used afterwards. */
  close(): Promise<void>;
}

export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  const heap = new WasmHeap(options.initialBytes);
  const backend = options.backend ?? 'auto';
  if (backend === 'reference' || backend === 'auto') {
    return {
      heap,
      kernels: new ReferenceKernels(() => heap.memory.buffer),
      backend: 'reference',
      threads: 1,
      close: async () => {},
    };
  }
  throw new Error(`backend '${backend}' is not available yet`);
}
