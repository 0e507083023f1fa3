import type { KernelExports } from './module.js';

/**
 * The control block shared by the main thread and the workers: an Int32Array of flags and a
 * Float64Array of job arguments in one SharedArrayBuffer. The flags that one side writes while
 * the other polls sit on cache lines of their own (16 Int32 slots apart): a worker polling SEQ
 * must not pull the line the main thread is writing job after job, nor the main thread polling
 * FINISHED the line workers claim units on. Measured on the 2-vCPU VM: with all flags on one line
 * a 2-part job cost ~2 µs of the calling thread's time in cache-line transfers alone.
 */
export const CONTROL_BYTES = 1024;
/** Int32 slots: SEQ and STOP (main writes, workers poll). */
export const SEQ = 0;
export const STOP = 1;
/**
 * Work units: NEXT is the claim counter, the open job's tag in its high bits and the next
 * unclaimed unit in its low UNIT_BITS; FINISHED counts the units that have finished.
 */
export const NEXT = 16;
export const FINISHED = 32;
/** Rarely written: jobs a worker has seen, a failed worker's index, workers asleep in Atomics.wait (not polling). */
export const DONE = 48;
export const ERROR = 49;
export const SLEEPERS = 50;
export const UNIT_BITS = 20;
/** Job tags cycle through [0, TAGS); tag TAGS marks NEXT closed between jobs. */
const TAGS = 2047;
/** The tag of the job opened with sequence number `seq`. */
export function jobTag(seq: number): number {
  return (seq >>> 0) % TAGS;
}
/** NEXT for the job of sequence number `seq`, before its first claim. */
export function openedNext(seq: number): number {
  return jobTag(seq) << UNIT_BITS;
}
/** NEXT between jobs: no claim matches any job's tag. */
export const CLOSED = TAGS << UNIT_BITS;
/** Float64 slots, starting at byte ARGS_OFFSET (past the flags' lines). */
export const ARGS_OFFSET = 256;
export const A_FORM = 0, A_M = 1, A_N = 2, A_K = 3, A_A = 4, A_B = 5, A_C = 6, A_ACC = 7, A_COLS = 8, A_UNITS = 9;
/** Which job the arguments describe (JOB_GEMM or JOB_ROWS); A_UNITS counts the units of either. */
export const A_JOB = 10;
export const JOB_GEMM = 0, JOB_ROWS = 1;
/**
 * A row job (ThreadPool.rows): export `name(a, b, ...args)` over units [a, b) of A_UNIT_ROWS rows
 * covering [A_R0, A_R1). A_FN numbers the export name (held as UTF-8 at NAME_OFFSET, A_NAME_LEN
 * bytes); A_SCRATCH_ARG ≥ 0 makes that argument thread t's scratch, A_SCRATCH + t·A_SCRATCH_STRIDE.
 */
export const A_FN = 11, A_NAME_LEN = 12, A_R0 = 13, A_R1 = 14, A_UNIT_ROWS = 15, A_SCRATCH_ARG = 16, A_SCRATCH = 17, A_SCRATCH_STRIDE = 18, A_NARGS = 19, A_ARGS = 20;
/** Most arguments (after r0, r1) a row job's export may take. */
export const MAX_ROW_ARGS = 16;
/** Bytes [NAME_OFFSET, CONTROL_BYTES) of the control block: a row job's export name. */
export const NAME_OFFSET = ARGS_OFFSET + (A_ARGS + MAX_ROW_ARGS) * 8;

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

type RowFn = (...args: number[]) => void;
/** Per module instance: the export behind each row-job function number (names decoded once). */
const rowFns = new WeakMap<object, Map<number, RowFn>>();

function rowFunction(k: object, args: Float64Array): RowFn {
  let fns = rowFns.get(k);
  if (!fns) rowFns.set(k, (fns = new Map()));
  const id = args[A_FN];
  let f = fns.get(id);
  if (!f) {
    const name = new TextDecoder().decode(new Uint8Array(args.buffer, NAME_OFFSET, args[A_NAME_LEN]).slice());
    const e = (k as Record<string, unknown>)[name];
    if (typeof e !== 'function') throw new Error(`srigl: row job names ${JSON.stringify(name)}, which the kernel module does not export`);
    f = e as RowFn;
    fns.set(id, f);
  }
  return f;
}

/** Runs unit u of the row job in `args` as thread `index` (which picks its scratch). */
function runRowUnit(k: KernelExports, args: Float64Array, index: number, u: number): void {
  const r0 = args[A_R0] + u * args[A_UNIT_ROWS];
  const r1 = Math.min(args[A_R1], r0 + args[A_UNIT_ROWS]);
  const n = args[A_NARGS];
  const s = args[A_SCRATCH_ARG];
  const f = rowFunction(k, args);
  if (s < 0 && n <= 10) {
    // A direct call (a wasm export ignores arguments past its own): no array, no spread, which
    // cost a small job's calling thread a measurable part of its time.
    const a = A_ARGS;
    f(r0, r1, args[a], args[a + 1], args[a + 2], args[a + 3], args[a + 4], args[a + 5], args[a + 6], args[a + 7], args[a + 8], args[a + 9]);
    return;
  }
  const call = new Array<number>(n + 2);
  call[0] = r0;
  call[1] = r1;
  for (let i = 0; i < n; i++) call[i + 2] = args[A_ARGS + i];
  if (s >= 0) call[s + 2] = args[A_SCRATCH] + index * args[A_SCRATCH_STRIDE];
  f(...call);
}

/**
 * Runs units of the job in `args` until none is left: for a row job (A_JOB = JOB_ROWS) unit u
 * is a row range of its export (see A_FN); the rest of this comment is about GEMM jobs.
 *
 * Runs units of the GEMM described in `args` until none is left. Unit u is the column range
 * [u·A_COLS, (u+1)·A_COLS) ∩ [0, N) over all rows (A_COLS is a multiple of the register tile's
 * columns); each thread packs only the B columns of the units it claims. Units are claimed
 * dynamically (a thread that starts late or is descheduled simply takes fewer), and every
 * output element is computed the same way whichever thread runs its unit, so results never
 * depend on timing or on the thread count.
 *
 * A claim counts only when it carries the tag of `seq`, the job this thread was woken for: the
 * main thread writes a job's arguments, then opens NEXT with the job's tag, then bumps SEQ, and
 * closes NEXT (CLOSED) once every unit has finished. So a thread that is late (still looping
 * after the last unit of an earlier job) can never take a unit of a job whose arguments are
 * being written, nor count a unit twice in FINISHED; a matching claim below A_UNITS always
 * belongs to the job whose arguments are in place.
 *
 * @returns how many units this thread ran
 */
export function runGemmShare(k: KernelExports, args: Float64Array, index: number, scratch: number, seq: number): number {
  const ctl = controlOf(args);
  for (let ran = 0; ; ran++) {
    // Compare-and-swap rather than add: a thread holding another job's tag must not use up a
    // unit of this one.
    const claim = Atomics.load(ctl, NEXT);
    if (claim >>> UNIT_BITS !== jobTag(seq)) return ran;
    const u = claim & ((1 << UNIT_BITS) - 1);
    if (u >= args[A_UNITS]) return ran;
    if (Atomics.compareExchange(ctl, NEXT, claim, claim + 1) !== claim) {
      ran--;
      continue;
    }
    runClaimedUnit(k, args, index, scratch, u);
  }
}

function controlOf(args: Float64Array): Int32Array {
  let ctl = controls.get(args.buffer);
  if (!ctl) {
    ctl = new Int32Array(args.buffer, 0, ARGS_OFFSET / 4);
    controls.set(args.buffer, ctl);
  }
  return ctl;
}

/**
 * Runs unit u of the job in `args`, which this thread has claimed (or, for unit 0 of a pinned
 * job, was given: see ThreadPool.rows), and counts it in FINISHED.
 */
export function runClaimedUnit(k: KernelExports, args: Float64Array, index: number, scratch: number, u: number): void {
  const ctl = controlOf(args);
  try {
    // The job kind is read after the claim, like every argument (see above).
    if (args[A_JOB] === JOB_ROWS) {
      runRowUnit(k, args, index, u);
      return;
    }
    const M = args[A_M], N = args[A_N], cols = args[A_COLS];
    const j0 = u * cols, j1 = Math.min(N, j0 + cols);
    k.gemm_f32(args[A_FORM], M, N, args[A_K], args[A_A], args[A_B], args[A_C], args[A_ACC], 0, M, j0, j1, scratch);
  } catch (err) {
    if (index > 0) Atomics.store(ctl, ERROR, index);
    throw err;
  } finally {
    Atomics.add(ctl, FINISHED, 1);
    // Nobody waits on FINISHED but a main thread that polled for SPIN_MS (threads.ts); a notify
    // with no waiter still takes V8's waiter-list lock, so only the last unit notifies.
    if (Atomics.load(ctl, FINISHED) >= args[A_UNITS]) Atomics.notify(ctl, FINISHED);
  }
}
