import type { KernelExports } from './module.js';

/**
 * The control block shared by the main thread and the workers: an Int32Array of flags and a
 * Float64Array of job arguments in one SharedArrayBuffer.
 */
export const CONTROL_BYTES = 256;
/** Int32 slots. */
export const SEQ = 0;
export const DONE = 1;
export const ERROR = 2;
export const STOP = 3;
/** Float64 slots, starting at byte ARGS_OFFSET. */
export const ARGS_OFFSET = 64;
export const A_FORM = 0, A_M = 1, A_N = 2, A_K = 3, A_A = 4, A_B = 5, A_C = 6, A_ACC = 7, A_ROWS = 8;

/** What a worker needs to run its share of every job. */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  /** Thread index, 1..threads-1 (the main thread is 0). */
  index: number;
  /** This thread's GEMM scratch area. */
  scratch: number;
}

/**
 * Runs thread `index`'s rows of the GEMM described in `args`: consecutive blocks of A_ROWS rows
 * (a multiple of the register tile), so the partition depends only on the shape and the thread
 * count, never on timing.
 */
export function runGemmShare(k: KernelExports, args: Float64Array, index: number, scratch: number): void {
  const M = args[A_M], rows = args[A_ROWS];
  const r0 = Math.min(M, index * rows), r1 = Math.min(M, r0 + rows);
  if (r0 < r1) k.gemm_f32(args[A_FORM], M, args[A_N], args[A_K], args[A_A], args[A_B], args[A_C], args[A_ACC], r0, r1, scratch);
}
