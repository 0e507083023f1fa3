// A kernel worker: instantiates the engine's module over the shared memory, then loops on the
// control block: wait for a new job sequence number, run this thread's share, count it done.
import { parentPort, workerData } from 'node:worker_threads';
import { ARGS_OFFSET, CONTROL_BYTES, DONE, ERROR, SEQ, STOP, runGemmShare, type WorkerInit } from './jobs.js';
import { instantiateKernels } from './module.js';

/** Polls before sleeping: a job usually follows the last within microseconds during training. */
const SPIN = 20000;

const init = workerData as WorkerInit;
const kernels = instantiateKernels(init.module, init.memory);
const ctl = new Int32Array(init.control, 0, ARGS_OFFSET / 4);
const args = new Float64Array(init.control, ARGS_OFFSET, (CONTROL_BYTES - ARGS_OFFSET) / 8);
parentPort!.postMessage('ready');

let seen = Atomics.load(ctl, SEQ);
for (;;) {
  let seq = Atomics.load(ctl, SEQ);
  for (let i = 0; seq === seen && i < SPIN; i++) seq = Atomics.load(ctl, SEQ);
  if (seq === seen) {
    Atomics.wait(ctl, SEQ, seen);
    continue;
  }
  seen = seq;
  if (Atomics.load(ctl, STOP)) break;
  try {
    runGemmShare(kernels, args, init.index, init.scratch);
  } catch {
    Atomics.store(ctl, ERROR, init.index);
  }
  Atomics.add(ctl, DONE, 1);
  Atomics.notify(ctl, DONE);
}
