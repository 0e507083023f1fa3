/**
 * The browser side of the platform seam (see host.ts): the browser bundle resolves host.ts to
 * this file. Kernel modules are fetched beside the bundle (wasm/ next to it), workers are module
 * Workers, gzip goes through DecompressionStream. A browser has no file system: the functions
 * that take a path throw, naming the byte-based call to use instead (readSafetensors,
 * readCondensed, loadModel and loadCondensed all take a Uint8Array).
 */
import type { PlatformName, WorkerHandle } from './types.js';

export type { PlatformName, WorkerHandle } from './types.js';

export const platformName: PlatformName = 'browser';

/** A Node-only call: throws, saying what to do instead. Typed to stand in for any signature. */
function unavailable(name: string, instead: string): (...args: unknown[]) => never {
  return () => {
    throw new Error(`srigl: ${name} is not available in the browser (${instead})`);
  };
}

const NO_FILES = 'no file system: pass the file\'s bytes, e.g. from fetch() or a dropped File, instead of a path';
export const closeSync = unavailable('closeSync', NO_FILES);
export const existsSync = unavailable('existsSync', NO_FILES);
export const fstatSync = unavailable('fstatSync', NO_FILES);
export const fsyncSync = unavailable('fsyncSync', NO_FILES);
export const openSync = unavailable('openSync', NO_FILES);
export const readFileSync = unavailable('readFileSync', NO_FILES);
export const readSync = unavailable('readSync', NO_FILES);
export const renameSync = unavailable('renameSync', NO_FILES);
export const rmSync = unavailable('rmSync', NO_FILES);
export const writeSync = unavailable('writeSync', NO_FILES);
export const basename = unavailable('basename', NO_FILES);
export const dirname = unavailable('dirname', NO_FILES);
export const join = unavailable('join', NO_FILES);
export const randomBytes = unavailable('randomBytes', 'it only names temporary files, and there are no files');
export const gunzipSync = unavailable('gunzipSync', 'decompression is asynchronous here: gunzip() the bytes first, as fetchDataset does');
export const gzipSync = unavailable('gzipSync', 'only the Node build writes gzipped files');

/** Threads worth running kernels on: navigator.hardwareConcurrency (1 when the browser does not say). */
export function hardwareThreads(): number {
  return globalThis.navigator?.hardwareConcurrency || 1;
}

/** Decompresses gzip data with the browser's DecompressionStream. */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Bytes fetched by loadWasm, for loadWasmSync (the condensed kernels instantiate synchronously). */
const fetched = new Map<string, Uint8Array<ArrayBuffer>>();

/** The URL of kernel module `file`: wasm/ beside this bundle (scripts/build-browser.mjs copies them there). */
function wasmUrl(file: string): URL {
  return new URL(`wasm/${file}`, import.meta.url);
}

/** Fetches the kernel module `file` (e.g. `srigl-simd128.wasm`) from wasm/ beside the bundle, once. */
export async function loadWasm(file: string): Promise<Uint8Array<ArrayBuffer>> {
  const known = fetched.get(file);
  if (known !== undefined) return known;
  const url = wasmUrl(file);
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new Error(`srigl: cannot fetch kernel module ${url}: ${(err as Error).message}`, { cause: err });
  }
  if (!response.ok) throw new Error(`srigl: missing kernel module ${url} (HTTP ${response.status})`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  fetched.set(file, bytes);
  return bytes;
}

/**
 * The bytes loadWasm fetched for `file`. A browser cannot read a file synchronously, so the
 * module must have been loaded once before: createEngine does so for the module of its backend,
 * which is the one the condensed kernels then instantiate.
 */
export function loadWasmSync(file: string): Uint8Array<ArrayBuffer> {
  const bytes = fetched.get(file);
  if (bytes === undefined) throw new Error(`srigl: kernel module ${file} was not loaded yet; create the engine (createEngine) with this backend first`);
  return bytes;
}

/** Browsers take no engine flags from a page (relaxed SIMD is on where supported). */
export async function setEngineFlags(_flags: string): Promise<void> {}

/** Whether this thread may block in Atomics.wait: in a worker yes, on a page's main thread never. */
export function canBlock(): boolean {
  return 'WorkerGlobalScope' in globalThis;
}

/**
 * Starts the module Worker at `url`, posts it `data` (its workerInput()) and resolves once it
 * has called workerReady(). Shared memories and SharedArrayBuffers in `data` reach the worker
 * only on a cross-origin isolated page; the engine starts workers only there (probe.ts).
 */
export async function startWorker(url: URL, data: unknown): Promise<WorkerHandle> {
  const worker = new Worker(url, { type: 'module' });
  try {
    await new Promise<void>((resolve, reject) => {
      worker.addEventListener('message', () => resolve(), { once: true });
      worker.addEventListener('error', (e) => reject(new Error(`srigl: worker ${url} failed during start-up${e.message ? `: ${e.message}` : ''}`)), { once: true });
      worker.addEventListener('messageerror', () => reject(new Error(`srigl: worker ${url} could not receive its start-up data`)), { once: true });
      worker.postMessage(data);
    });
  } catch (err) {
    worker.terminate();
    throw err;
  }
  return {
    terminate: async () => {
      worker.terminate();
    },
  };
}

/** A dedicated worker's global scope, as far as the seam uses it. */
interface WorkerScope {
  addEventListener(type: 'message', listener: (e: MessageEvent) => void, options: { once: boolean }): void;
  postMessage(message: unknown): void;
}

/** Inside a worker: the `data` its starter posted (startWorker). */
export function workerInput(): Promise<unknown> {
  return new Promise((resolve) => (globalThis as unknown as WorkerScope).addEventListener('message', (e) => resolve(e.data), { once: true }));
}

/** Inside a worker: tells startWorker that the worker is ready. */
export function workerReady(): void {
  (globalThis as unknown as WorkerScope).postMessage('ready');
}

/** Standard base64 (with padding) of `bytes`. */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  // In chunks: String.fromCharCode takes its arguments on the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** The bytes of a base64 string (atob: a character outside the alphabet throws). */
export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Lets the event loop run (between training epochs): a macrotask, as setImmediate is in Node. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
