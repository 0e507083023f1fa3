import { canBlock, startWorker, type WorkerHandle } from '../platform/host.js';
import { ARGS_OFFSET, A_ACC, A_A, A_B, A_C, A_COLS, A_FORM, A_K, A_M, A_N, A_UNITS, CLOSED, CONTROL_BYTES, ERROR, FINISHED, NEXT, SEQ, SLEEPERS, STOP, openedNext, runClaimedUnit, runGemmShare, type WorkerInit } from './jobs.js';
import {
  A_ARGS, A_FN, A_JOB, A_NAME_LEN, A_NARGS, A_R0, A_R1, A_SCRATCH, A_SCRATCH_ARG, A_SCRATCH_STRIDE, A_UNIT_ROWS, JOB_GEMM, JOB_ROWS,
  MAX_ROW_ARGS, NAME_OFFSET,
} from './jobs.js';
import type { RowRunner } from './condensed.js';
import type { KernelExports } from './module.js';

/**
 * Below this many multiply-adds a GEMM runs on the calling thread even when the workers are
 * awake (polling). Measured on the 2-core EPYC VM (~45 GFLOP/s per thread, dispatch ~1 µs):
 * 64×64×64 (2^18, ~12 µs) gained nothing from a second thread, 64×128×64 (2^19) 1.35–1.5×.
 */
export const PARALLEL_MIN_MACS = 1 << 19;
/**
 * Below this many multiply-adds a GEMM runs on the calling thread when a worker is in deep
 * sleep (idle for a second, see worker.ts): waking it (Atomics.notify) measured up to ~2 ms on
 * the calling thread on the 2-vCPU VM, so only a GEMM of ≥ 2^27 (512×512×512, ~5.6 ms
 * single-threaded) is worth it.
 */
export const PARALLEL_MIN_MACS_ASLEEP = 1 << 27;
/** Most GEMM calls run on the calling thread after splits that did not pay off (see gemm). */
const MAX_BACKOFF = 64;
/** GEMM work units per thread (see ThreadPool.unitCols): enough for a late thread to catch up. */
const UNITS_PER_THREAD = 8;
/** Least milliseconds between two wake-ups of a deep sleeper without a job (see ThreadPool.polling). */
const NUDGE_MS = 50;
/** Milliseconds the main thread polls for the workers' last units before it sleeps. */
const SPIN_MS = 20;

/**
 * The kernel worker module: worker.js beside this file (in dist/, and in the browser bundle,
 * where it is the worker bundle), or worker.ts when running from sources under tsx.
 */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

/** Whether the calling thread may sleep in Atomics.wait (not on a browser page's main thread). */
const BLOCKING = canBlock();

/**
 * Threads for the GEMM kernels: (threads − 1) workers plus the calling thread, all running the
 * same module over the same shared memory. Dispatch is synchronous: the caller publishes a
 * job in the control block, runs share 0 itself, then waits until every worker has finished.
 */
export class ThreadPool implements RowRunner {
  private readonly ctl: Int32Array;
  private readonly args: Float64Array;
  /** Where a row job's export name goes, and the names seen so far → their number and bytes. */
  private readonly names: Uint8Array;
  private readonly rowFns = new Map<string, { id: number; bytes: Uint8Array }>();
  /** GEMM calls still to run unsplit, and the length of the next such run (see gemm). */
  private skip = 0;
  private backoff = 0;
  /** Counters for benchmarks and tests: jobs split, their units, those the calling thread ran, splits judged not to pay. */
  readonly stats = { jobs: 0, units: 0, mine: 0, failed: 0 };
  /** Sequence number of the job open now (its tag is in NEXT). */
  private seq = 0;

  private constructor(
    readonly threads: number,
    private readonly workers: WorkerHandle[],
    control: SharedArrayBuffer,
    private readonly kernels: KernelExports,
    private readonly scratch: number,
  ) {
    this.ctl = new Int32Array(control, 0, ARGS_OFFSET / 4);
    this.args = new Float64Array(control, ARGS_OFFSET, (NAME_OFFSET - ARGS_OFFSET) / 8);
    this.names = new Uint8Array(control, NAME_OFFSET, CONTROL_BYTES - NAME_OFFSET);
    Atomics.store(this.ctl, NEXT, CLOSED);
  }

  /**
   * Starts threads − 1 workers. `scratch[t]` is thread t's GEMM scratch area; `kernels` is the
   * calling thread's instance of `module`.
   */
  static async create(threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, kernels: KernelExports, scratch: number[]): Promise<ThreadPool> {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const workers: WorkerHandle[] = [];
    try {
      for (let index = 1; index < threads; index++) {
        const init: WorkerInit = { module, memory, control, index, scratch: scratch[index] };
        workers.push(await startWorker(WORKER_URL, init));
      }
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
    return new ThreadPool(threads, workers, control, kernels, scratch[0]);
  }

  /** Whether a GEMM of M·N·K multiply-adds is worth splitting (see PARALLEL_MIN_MACS*). */
  worthSplitting(macs: number): boolean {
    if (macs < PARALLEL_MIN_MACS) return false;
    if (this.skip > 0) {
      this.skip--;
      return false;
    }
    return macs >= PARALLEL_MIN_MACS_ASLEEP || this.polling();
  }

  /** When the last deep sleeper was woken without a job (see polling). */
  private nudged = -Infinity;

  /**
   * Whether no worker is in deep sleep. One that is gets woken (at most every NUDGE_MS), with no
   * job: this call still runs unsplit, but the worker polls again by the next ones. Without it a
   * worker that slept through a pause (a second without jobs: an evaluation, checkpointing, or a
   * benchmark running other configs in between) stayed asleep for good, since only GEMMs of
   * ≥ PARALLEL_MIN_MACS_ASLEEP wake a sleeper, and training at 2 threads ran on one.
   */
  private polling(): boolean {
    if (Atomics.load(this.ctl, SLEEPERS) === 0) return true;
    const now = performance.now();
    if (now - this.nudged > NUDGE_MS) {
      this.nudged = now;
      Atomics.notify(this.ctl, SEQ);
    }
    return false;
  }

  /** Columns per work unit: about UNITS_PER_THREAD units per thread, whole register tiles. */
  unitCols(N: number, tileCols: number): number {
    return Math.ceil(N / (UNITS_PER_THREAD * this.threads * tileCols)) * tileCols;
  }

  /**
   * C[M,N] (+)= op(A)·op(B) (see KernelExports.gemm_f32) over all threads: the columns split
   * into units of unitCols(N) claimed dynamically (see runGemmShare). Returns when every unit
   * has finished; a worker that never woke up is not waited for.
   *
   * On a shared machine the other core may be busy: a worker that is descheduled while it
   * holds a unit makes the split slower than running alone. So each split is timed against
   * the serial time the calling thread's own units predict; when it saved less than 10%, the
   * next GEMMs run unsplit (1, 2, 4, … up to MAX_BACKOFF calls) before the split is tried again.
   */
  gemm(form: number, M: number, N: number, K: number, A: number, B: number, C: number, acc: number, tileCols: number): void {
    const a = this.args;
    const cols = this.unitCols(N, tileCols);
    const units = Math.ceil(N / cols);
    a[A_JOB] = JOB_GEMM;
    a[A_FORM] = form; a[A_M] = M; a[A_N] = N; a[A_K] = K;
    a[A_A] = A; a[A_B] = B; a[A_C] = C; a[A_ACC] = acc;
    a[A_COLS] = cols; a[A_UNITS] = units;
    const t0 = performance.now();
    this.start(0);
    let mine = 0, t1 = t0;
    try {
      mine = runGemmShare(this.kernels, a, 0, this.scratch, this.seq);
      t1 = performance.now();
    } finally {
      this.awaitUnits(units);
    }
    this.judge(t0, t1, mine, units);
    this.throwIfWorkerFailed();
  }

  /**
   * Times a split against the serial time the calling thread's own units predict: when it saved
   * less than 10%, the next splits run unsplit (1, 2, 4, … up to MAX_BACKOFF calls) before one is
   * tried again. A split whose units all ran here (no worker came: it was dozing, or its core busy)
   * cost only the dispatch and proves nothing either way.
   */
  private judge(t0: number, t1: number, mine: number, units: number, tolerance = 0.9): void {
    const st = this.stats;
    st.jobs++; st.units += units; st.mine += mine;
    if (mine >= units) return;
    const serial = mine > 0 ? ((t1 - t0) * units) / mine : Infinity;
    if (performance.now() - t0 > tolerance * serial) {
      this.backoff = Math.min(MAX_BACKOFF, Math.max(1, 2 * this.backoff));
      this.skip = this.backoff;
      st.failed++;
    } else {
      this.backoff = 0;
    }
  }

  /**
   * Whether a small job (a few µs to a few tens of µs) is worth splitting now: only while every
   * worker is polling or dozing (never wake a deep sleeper for it, see worker.ts) and no split has
   * lately failed to pay (see judge; each call counts the backoff down, as worthSplitting does).
   */
  awake(): boolean {
    if (this.skip > 0) {
      this.skip--;
      return false;
    }
    return this.polling();
  }

  /** Whether a worker is in deep sleep (waking it costs the calling thread up to ~2 ms, see worker.ts). */
  asleep(): boolean {
    return Atomics.load(this.ctl, SLEEPERS) > 0;
  }

  /**
   * Runs the wasm export `name(a, b, ...args)` over units [a, b) of `unitRows` rows covering
   * [r0, r1) on all threads (RowRunner): how the sparse inference kernels split their rows.
   * Units are claimed dynamically as in gemm (the same protocol and control block); each row is
   * computed by one thread with the same code, so results match one thread bit for bit.
   * `scratch.arg` names the argument that becomes thread t's scratch, base + t·stride.
   */
  rows(name: string, r0: number, r1: number, unitRows: number, args: readonly number[], scratch?: { arg: number; base: number; stride: number } | null, pinned = false): void {
    if (args.length > MAX_ROW_ARGS) throw new RangeError(`ThreadPool.rows: ${name} takes ${args.length} arguments, at most ${MAX_ROW_ARGS} fit`);
    if (!(r1 > r0) || !Number.isInteger(unitRows) || unitRows < 1) throw new RangeError(`ThreadPool.rows: bad rows [${r0}, ${r1}) or unit ${unitRows}`);
    let fn = this.rowFns.get(name);
    if (!fn) {
      const bytes = new TextEncoder().encode(name);
      if (bytes.length > this.names.length) throw new RangeError(`ThreadPool.rows: export name ${name} is too long`);
      this.rowFns.set(name, (fn = { id: this.rowFns.size, bytes }));
    }
    const a = this.args;
    const units = Math.ceil((r1 - r0) / unitRows);
    this.names.set(fn.bytes);
    a[A_JOB] = JOB_ROWS; a[A_FN] = fn.id; a[A_NAME_LEN] = fn.bytes.length;
    a[A_R0] = r0; a[A_R1] = r1; a[A_UNIT_ROWS] = unitRows; a[A_UNITS] = units;
    a[A_SCRATCH_ARG] = scratch ? scratch.arg : -1; a[A_SCRATCH] = scratch?.base ?? 0; a[A_SCRATCH_STRIDE] = scratch?.stride ?? 0;
    a[A_NARGS] = args.length;
    for (let i = 0; i < args.length; i++) a[A_ARGS + i] = args[i];
    const t0 = performance.now();
    let mine = 0, t1 = t0;
    this.start(pinned ? 1 : 0);
    try {
      if (pinned) {
        runClaimedUnit(this.kernels, a, 0, this.scratch, 0);
        mine = 1;
      }
      mine += runGemmShare(this.kernels, a, 0, this.scratch, this.seq);
      t1 = performance.now();
    } finally {
      this.awaitUnits(units);
    }
    // A pinned part is judged leniently: the worker's part often takes longer than the calling
    // thread's (it reads what this thread wrote last), yet the split still pays.
    this.judge(t0, t1, mine, units, pinned ? 1.5 : 0.9);
    this.throwIfWorkerFailed();
  }

  /**
   * Rows [r0, r1) split into one part per thread, `align` rows apart (the last part takes the
   * rest), the calling thread's part first (see rows with `pinned`): so with two threads the
   * worker always gets the second part of a tensor, and what it wrote stays in its cache for the
   * next call that splits the same way. Parts are claimed dynamically past the first, so a worker
   * that does not come costs only the dispatch. Measured against 4 dynamically claimed parts per
   * thread (bench/experiments/threads-mlp.ts, 2 cores of a quiet 16-core Xeon): the mlp's sparse
   * training step at 2 threads 1.19–1.36× one thread with fixed halves, 1.04–1.09× with 4 claimed
   * parts per thread (whose data lands on either core).
   */
  parts(name: string, r0: number, r1: number, align: number, args: readonly number[]): void {
    const unit = Math.ceil((r1 - r0) / (this.threads * align)) * align;
    this.rows(name, r0, r1, unit, args, null, true);
  }

  /**
   * Opens the job now in `args` to the workers: resets the unit counters and bumps SEQ. The
   * first `given` units are the calling thread's (pinned): they are never claimable.
   */
  private start(given: number): void {
    const ctl = this.ctl;
    Atomics.store(ctl, FINISHED, 0);
    // ERROR is written only when a job failed (and then thrown, see throwIfWorkerFailed): reset it
    // only then, so its line stays untouched job after job.
    if (Atomics.load(ctl, ERROR) !== 0) Atomics.store(ctl, ERROR, 0);
    // Only this thread writes SEQ while jobs run (close() aside), so the next value is known.
    this.seq = (Atomics.load(ctl, SEQ) + 1) | 0;
    Atomics.store(ctl, NEXT, openedNext(this.seq) + given);
    Atomics.store(ctl, SEQ, this.seq);
    // Polling and dozing workers see SEQ by themselves; only deep sleepers need (costly) waking.
    if (Atomics.load(ctl, SLEEPERS) > 0) Atomics.notify(ctl, SEQ);
  }

  /** Waits until all `units` of the open job are finished, then closes it to late claimers. */
  private awaitUnits(units: number): void {
    const ctl = this.ctl;
    // Poll: the missing units are running on a worker and end within one unit's time, and
    // being woken from Atomics.wait is slow (see worker.ts).
    let done = Atomics.load(ctl, FINISHED);
    const until = performance.now() + SPIN_MS;
    while (done !== units && performance.now() < until) {
      for (let i = 0; done !== units && i < 1000; i++) done = Atomics.load(ctl, FINISHED);
    }
    while (done !== units) {
      if (BLOCKING) Atomics.wait(ctl, FINISHED, done, 1);
      done = Atomics.load(ctl, FINISHED);
    }
    Atomics.store(ctl, NEXT, CLOSED);
  }

  private throwIfWorkerFailed(): void {
    const failed = Atomics.load(this.ctl, ERROR);
    if (failed) throw new Error(`srigl: kernel worker ${failed} failed`);
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    Atomics.store(this.ctl, STOP, 1);
    Atomics.add(this.ctl, SEQ, 1);
    Atomics.notify(this.ctl, SEQ);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
