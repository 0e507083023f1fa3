/**
 * The Node.js side of the platform seam (see host.ts). File access is Node's own fs, re-exported
 * so that the library's call sites read as before; the rest wraps what differs between Node and
 * browsers behind one small function each.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { gunzip as gunzipCallback } from 'node:zlib';
import type { PlatformName, WorkerHandle } from './types.js';

export type { PlatformName, WorkerHandle } from './types.js';

export const platformName: PlatformName = 'node';

export { closeSync, existsSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
export { basename, dirname, join } from 'node:path';
export { randomBytes } from 'node:crypto';
export { gunzipSync, gzipSync } from 'node:zlib';

/** Threads worth running kernels on: os.availableParallelism(). */
export function hardwareThreads(): number {
  return availableParallelism();
}

const gunzipAsync = promisify(gunzipCallback);

/** Decompresses gzip data off the calling thread (zlib's thread pool). */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const out = await gunzipAsync(bytes);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * dist/wasm of this package: the nearest ancestor directory holding package.json, so the same
 * code finds the modules from dist/src/platform/*.js and from src/platform/*.ts under tsx.
 */
function wasmDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('srigl: cannot find package.json above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return join(dir, 'dist', 'wasm');
}

function missingWasm(path: string, err: unknown): Error {
  return new Error(`srigl: missing kernel module ${path}; run \`npm run build:wasm\``, { cause: err });
}

/** The bytes of the kernel module `file` (e.g. `srigl-simd128.wasm`) from dist/wasm. */
export async function loadWasm(file: string): Promise<Uint8Array<ArrayBuffer>> {
  const path = join(wasmDir(), file);
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    throw missingWasm(path, err);
  }
}

/** As loadWasm, synchronously (the condensed kernels instantiate synchronously). */
export function loadWasmSync(file: string): Uint8Array<ArrayBuffer> {
  const path = join(wasmDir(), file);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (err) {
    throw missingWasm(path, err);
  }
}

/**
 * Sets V8 flags (Node 20 hides relaxed SIMD behind `--experimental-wasm-relaxed-simd`); they
 * must be set before the first module is compiled. Best effort: a runtime that locks its flags
 * simply keeps them, and the feature probe then reports what it has.
 */
export async function setEngineFlags(flags: string): Promise<void> {
  try {
    setFlagsFromString(flags);
  } catch {
    // Flags locked: the probe reports the features as they are.
  }
}

/** Whether this thread may block in Atomics.wait (every Node thread may). */
export function canBlock(): boolean {
  return true;
}

/**
 * Starts the worker module at `url` with `data` (its workerInput()) and resolves once it has
 * called workerReady(). From sources under tsx (a `.ts` url), whose loader hooks do not reach
 * workers in Node 20, a tiny bootstrap registers tsx in the worker first. The worker never keeps
 * the process alive: its owner terminates it.
 */
export async function startWorker(url: URL, data: unknown): Promise<WorkerHandle> {
  let worker: Worker;
  if (url.pathname.endsWith('.ts')) {
    const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
    worker = new Worker(`import(${tsx}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`, { eval: true, workerData: data });
  } else {
    worker = new Worker(url, { workerData: data });
  }
  try {
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`srigl: kernel worker exited with code ${code} during start-up`)));
    });
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  worker.removeAllListeners('exit').removeAllListeners('error');
  worker.unref();
  return { terminate: async () => { await worker.terminate(); } };
}

/** Inside a worker: the `data` its starter passed to startWorker. */
export async function workerInput(): Promise<unknown> {
  return workerData;
}

/** Inside a worker: tells startWorker that the worker is ready. */
export function workerReady(): void {
  parentPort!.postMessage('ready');
}

/** Standard base64 (with padding) of `bytes`. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** The bytes of a base64 string (Node's decoder: characters outside the alphabet are skipped). */
export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** Lets timers, I/O and signal handlers run (between training epochs). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
