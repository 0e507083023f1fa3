import { Worker } from 'node:worker_threads';
import { ARGS_OFFSET, A_ACC, A_A, A_B, A_C, A_FORM, A_K, A_M, A_N, A_ROWS, CONTROL_BYTES, DONE, ERROR, SEQ, STOP, runGemmShare, type WorkerInit } from './jobs.js';
import type { KernelExports } from './module.js';

/** Below this many multiply-adds a GEMM runs on the calling thread: waking workers costs more. */
export const PARALLEL_MIN_MACS = 1 << 18;
/** Main-thread polls of the done counter before it sleeps in Atomics.wait. */
const SPIN = 100000;

/**
 * Starts a kernel worker: worker.js beside this compiled file; when running from sources under
 * tsx (whose loader hooks do not reach workers in Node 20) a tiny bootstrap registers tsx in
 * the worker first and then imports worker.ts.
 */
function spawnWorker(init: WorkerInit): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const worker = JSON.stringify(new URL('./worker.ts', import.meta.url).href);
  return new Worker(`import(${tsx}).then((m) => { m.register(); return import(${worker}); })`, { eval: true, workerData: init });
}

/**
 * Threads for the GEMM kernels: (threads − 1) workers plus the calling thread, all running the
 * same module over the same shared memory. Dispatch is synchronous: the caller publishes a
 * job in the control block, runs share 0 itself, then waits until every worker has finished.
 */
export class ThreadPool {
  private readonly ctl: Int32Array;
  private readonly args: Float64Array;

  private constructor(
    readonly threads: number,
    private readonly workers: Worker[],
    control: SharedArrayBuffer,
    private readonly kernels: KernelExports,
    private readonly scratch: number,
  ) {
    this.ctl = new Int32Array(control, 0, ARGS_OFFSET / 4);
    this.args = new Float64Array(control, ARGS_OFFSET, (CONTROL_BYTES - ARGS_OFFSET) / 8);
  }

  /**
   * Starts threads − 1 workers. `scratch[t]` is thread t's GEMM scratch area; `kernels` is the
   * calling thread's instance of `module`.
   */
  static async create(threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, kernels: KernelExports, scratch: number[]): Promise<ThreadPool> {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const workers: Worker[] = [];
    try {
      for (let index = 1; index < threads; index++) {
        const init: WorkerInit = { module, memory, control, index, scratch: scratch[index] };
        const worker = spawnWorker(init);
        workers.push(worker);
        await new Promise<void>((resolve, reject) => {
          worker.once('message', () => resolve());
          worker.once('error', reject);
          worker.once('exit', (code) => reject(new Error(`srigl: kernel worker exited with code ${code} during start-up`)));
        });
        worker.removeAllListeners('exit').removeAllListeners('error');
        // A pool must never keep the process alive; engine.close() terminates workers.
        worker.unref();
      }
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
    return new ThreadPool(threads, workers, control, kernels, scratch[0]);
  }

  /** Rows per thread: the M rows split into equal runs of whole register tiles. */
  private rowsPerThread(M: number, tileRows: number): number {
    return Math.ceil(Math.ceil(M / tileRows) / this.threads) * tileRows;
  }

  /** Rows [0, M) of a GEMM (see KernelExports.gemm_f32) split over all threads. */
  gemm(form: number, M: number, N: number, K: number, A: number, B: number, C: number, acc: number, tileRows: number): void {
    const a = this.args, ctl = this.ctl;
    a[A_FORM] = form; a[A_M] = M; a[A_N] = N; a[A_K] = K;
    a[A_A] = A; a[A_B] = B; a[A_C] = C; a[A_ACC] = acc;
    a[A_ROWS] = this.rowsPerThread(M, tileRows);
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, ERROR, 0);
    Atomics.add(ctl, SEQ, 1);
    Atomics.notify(ctl, SEQ);
    runGemmShare(this.kernels, a, 0, this.scratch);
    const want = this.threads - 1;
    let done = Atomics.load(ctl, DONE);
    for (let i = 0; done !== want && i < SPIN; i++) done = Atomics.load(ctl, DONE);
    while (done !== want) {
      Atomics.wait(ctl, DONE, done);
      done = Atomics.load(ctl, DONE);
    }
    const failed = Atomics.load(ctl, ERROR);
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
