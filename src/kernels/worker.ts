// A kernel worker: instantiates the engine's module over the shared memory, then loops on the
// control block: wait for a new job sequence number, run this thread's share, count it done.
import { workerInput, workerReady } from '../platform/host.js';
import { ARGS_OFFSET, CONTROL_BYTES, DONE, ERROR, SEQ, SLEEPERS, STOP, runGemmShare, type WorkerInit } from './jobs.js';
import { instantiateKernels } from './module.js';

/**
 * Idle strategy. Waking a thread blocked in Atomics.wait (Atomics.notify) measured 0.1–2 ms on
 * the *calling* thread on the 2-vCPU EPYC VM — more than most GEMMs take — so the main thread
 * never notifies except to wake a worker from deep sleep (see ThreadPool). Instead a worker
 * polls for SPIN_MS after its last job (jobs usually follow within that during training), then
 * dozes in timed waits of DOZE_MS (it notices a job within a millisecond, and the main thread
 * never waits for it: units are claimed dynamically), and after IDLE_MS without a job sleeps
 * until notified, counted in SLEEPERS; the main thread wakes it (without a job) when it wants to
 * split calls again, and it then polls and dozes as after a job.
 */
const SPIN_MS = 2;
const DOZE_MS = 1;
const IDLE_MS = 1000;

const init = (await workerInput()) as WorkerInit;
const kernels = instantiateKernels(init.module, init.memory);
const ctl = new Int32Array(init.control, 0, ARGS_OFFSET / 4);
const args = new Float64Array(init.control, ARGS_OFFSET, (CONTROL_BYTES - ARGS_OFFSET) / 8);
workerReady();

let seen = Atomics.load(ctl, SEQ);
let lastJob = performance.now();
for (;;) {
  let seq = Atomics.load(ctl, SEQ);
  if (seq === seen && performance.now() - lastJob < SPIN_MS) {
    const until = lastJob + SPIN_MS;
    do {
      for (let i = 0; seq === seen && i < 1000; i++) seq = Atomics.load(ctl, SEQ);
    } while (seq === seen && performance.now() < until);
  }
  if (seq === seen) {
    if (performance.now() - lastJob < IDLE_MS) {
      Atomics.wait(ctl, SEQ, seen, DOZE_MS);
    } else {
      Atomics.add(ctl, SLEEPERS, 1);
      Atomics.wait(ctl, SEQ, seen);
      Atomics.sub(ctl, SLEEPERS, 1);
      // Woken with or without a job (ThreadPool nudges a sleeper when jobs resume): poll and doze
      // again as after a job.
      lastJob = performance.now();
    }
    continue;
  }
  lastJob = performance.now();
  seen = seq;
  if (Atomics.load(ctl, STOP)) break;
  try {
    runGemmShare(kernels, args, init.index, init.scratch, seq);
  } catch {
    Atomics.store(ctl, ERROR, init.index);
  }
  // Counted for diagnostics only: nobody waits on DONE, so no notify (it takes V8's waiter-list lock).
  Atomics.add(ctl, DONE, 1);
}
