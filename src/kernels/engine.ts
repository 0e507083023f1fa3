import { hardwareThreads } from '../platform/host.js';
import type { Kernels } from './api.js';
import type { RowRunner } from './condensed.js';
import { WasmHeap } from './memory.js';
import { compileKernels, instantiateKernels, type Isa } from './module.js';
import { probeFeatures, type Features } from './probe.js';
import { ReferenceKernels } from './reference.js';
import { ThreadPool } from './threads.js';
import { WasmKernels } from './wasm.js';
import { webgpuEngineMessage } from './webgpu/device.js';

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
  /** The engine's thread pool as a row runner for the sparse kernels; null with one thread. */
  readonly rows: RowRunner | null;
  /** Stops worker threads. The engine must not be used afterwards. */
  close(): Promise<void>;
}

/** The fastest ISA the probe allows: relaxed > simd128 > scalar. */
export function bestIsa(features: Features): Isa {
  return features.relaxedSimd ? 'relaxed' : features.simd ? 'simd128' : 'scalar';
}

/** Whether the runtime can run `isa` (scalar always can). */
export function isaSupported(isa: Isa, features: Features): boolean {
  return isa === 'scalar' || (isa === 'simd128' ? features.simd : features.relaxedSimd);
}

export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  // Untyped callers (the CLI's --backend) can ask for 'webgpu': WebGPU runs condensed inference only.
  if ((options.backend as string | undefined) === 'webgpu') throw new Error(webgpuEngineMessage());
  const heap = new WasmHeap(options.initialBytes);
  const backend = options.backend ?? 'auto';
  if (backend === 'reference') {
    return { heap, kernels: new ReferenceKernels(() => heap.memory.buffer), backend, threads: 1, rows: null, close: async () => {} };
  }
  const features = await probeFeatures();
  const isa = backend === 'auto' ? bestIsa(features) : backend;
  if (!isaSupported(isa, features)) throw new Error(`srigl: this runtime does not support the '${isa}' kernels`);
  const requested = options.threads ?? hardwareThreads();
  if (!Number.isInteger(requested) || requested < 1) throw new RangeError(`srigl: threads must be a positive integer, got ${requested}`);
  const threads = features.threads ? requested : 1;

  const module = await compileKernels(isa);
  const exports = instantiateKernels(module, heap.memory);
  // Per-thread GEMM scratch (packed panels), allocated first so it lives as long as the engine.
  const scratch = Array.from({ length: threads }, () => heap.alloc(exports.gemm_scratch_bytes()));
  const small = heap.alloc(16);
  const pool = threads > 1 ? await ThreadPool.create(threads, module, heap.memory, exports, scratch) : null;
  const kernels = new WasmKernels(isa, exports, scratch[0], small, heap.memory, pool);
  return { heap, kernels, backend: isa, threads, rows: pool, close: async () => { await pool?.close(); } };
}
