/** Types shared by the two sides of the platform seam (node.ts and browser.ts). */

/** Which runtime a platform module serves. */
export type PlatformName = 'node' | 'browser';

/** A started worker (Node worker_threads or a browser module Worker) that has signalled it is ready. */
export interface WorkerHandle {
  /** Stops the worker; resolves once it has stopped. */
  terminate(): Promise<void>;
}
