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
/** GEMM work units: the next unclaimed unit, and how many have finished. */
export const NEXT = 4;
export const FINISHED = 5;
/** Workers asleep in Atomics.wait (not polling). */
export const SLEEPERS = 6;
/** NEXT between jobs: every late claim lands past the last unit of any job. */
export const CLOSED = 1 << 30;
/** Float64 slots, starting at byte ARGS_OFFSET. */
export const ARGS_OFFSET = 64;
export const A_FORM = 0, A_M = 1, A_N = 2, A_K = 3, A_A = 4, A_B = 5, A_C = 6, A_ACC = 7, A_COLS = 8, A_UNITS = 9;

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

const controls = new WeakMap<ArrayBufferLike, Int32Array>();

/**
 * Runs units of the GEMM described in `args` until none is left. Unit u is the column range
 * [u·A_COLS, (u+1)·A_COLS) ∩ [0, N) over all rows (A_COLS is a multiple of the register tile's
 * columns); each thread packs only the B columns of the units it claims. Units are claimed
 * dynamically (a thread that starts late or is descheduled simply takes fewer), and every
 * output element is computed the same way whichever thread runs its unit, so results never
 * depend on timing or on the thread count.
 *
 * Arguments are read after each successful claim: the main thread reopens NEXT only after
 * publishing a job's arguments and closes it (CLOSED) once every unit has finished, so a
 * claim below A_UNITS always belongs to the job whose arguments are in place.
 *
 * @returns how many units this thread ran
 */
export function runGemmShare(k: KernelExports, args: Float64Array, index: number, scratch: number): number {
  let ctl = controls.get(args.buffer);
  if (!ctl) {
    ctl = new Int32Array(args.buffer, 0, ARGS_OFFSET / 4);
    controls.set(args.buffer, ctl);
  }
  for (let ran = 0; ; ran++) {
    const u = Atomics.add(ctl, NEXT, 1);
    if (u >= CLOSED || u >= args[A_UNITS]) return ran;
    const M = args[A_M], N = args[A_N], cols = args[A_COLS];
    const j0 = u * cols, j1 = Math.min(N, j0 + cols);
    try {
      k.gemm_f32(args[A_FORM], M, N, args[A_K], args[A_A], args[A_B], args[A_C], args[A_ACC], 0, M, j0, j1, scratch);
    } catch (err) {
      if (index > 0) Atomics.store(ctl, ERROR, index);
      throw err;
    } finally {
      Atomics.add(ctl, FINISHED, 1);
      Atomics.notify(ctl, FINISHED);
    }
  }
}
