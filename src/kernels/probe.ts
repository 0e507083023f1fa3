/**
 * Start-up feature probe: which WebAssembly extensions this runtime compiles and runs.
 * Each feature is tested with a tiny hand-assembled module, so the answer reflects the engine
 * (and its flags), not a user-agent guess.
 */

import { setEngineFlags } from '../platform/host.js';

/** What the runtime supports; `relaxedSimd` implies `simd`. */
export interface Features {
  simd: boolean;
  relaxedSimd: boolean;
  /** Shared memory and atomics, plus SharedArrayBuffer on the JS side. */
  threads: boolean;
}

const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/** One section: id, byte length (single-byte LEB128: every probe section is short), payload. */
function section(id: number, payload: number[]): number[] {
  return [id, payload.length, ...payload];
}

/** A module exporting one function `f` of type () → result with the given body. */
function moduleWith(result: number[], body: number[], extra: number[][] = []): Uint8Array<ArrayBuffer> {
  return new Uint8Array([
    ...HEADER,
    ...section(1, [0x01, 0x60, 0x00, result.length, ...result]),
    ...section(3, [0x01, 0x00]),
    ...extra.flat(),
    ...section(7, [0x01, 0x01, 0x66, 0x00, 0x00]),
    ...section(10, [0x01, body.length + 1, 0x00, ...body]),
  ]);
}

const F32 = 0x7d;
const f32Const = (x: number): number[] => [0x43, ...new Uint8Array(new Float32Array([x]).buffer)];
const splat = [0xfd, 0x13];
const extractLane0 = [0xfd, 0x1f, 0x00];

/** f32x4.extract_lane 0 of (splat 2 + splat 3): uses v128 values and a SIMD opcode. */
const SIMD_MODULE = moduleWith([F32], [...f32Const(2), ...splat, ...f32Const(3), ...splat, 0xfd, 0xe4, 0x01, ...extractLane0, 0x0b]);

/** f32x4.relaxed_madd(splat 2, splat 3, splat 1), lane 0: must be 7 fused or not. */
const RELAXED_MODULE = moduleWith([F32], [
  ...f32Const(2), ...splat, ...f32Const(3), ...splat, ...f32Const(1), ...splat, 0xfd, 0x85, 0x02, ...extractLane0, 0x0b,
]);

/** A shared memory (min 1, max 1 page) and an atomic load from it. */
const THREADS_MODULE = moduleWith([], [0x41, 0x00, 0xfe, 0x10, 0x02, 0x00, 0x1a, 0x0b], [section(5, [0x01, 0x03, 0x01, 0x01])]);

let relaxedFlag: Promise<void> | undefined;

/**
 * Node 20's V8 hides relaxed SIMD behind `--experimental-wasm-relaxed-simd`; the flag must be
 * set before the first module is compiled. Browsers need nothing (the platform's call is a no-op
 * there); where flags are locked the probe below simply reports no relaxed SIMD.
 */
export function enableRelaxedSimd(): Promise<void> {
  relaxedFlag ??= setEngineFlags('--experimental-wasm-relaxed-simd');
  return relaxedFlag;
}

/** Runs `f` of a probe module and returns its result, or undefined if it does not validate. */
function run(bytes: Uint8Array<ArrayBuffer>, imports: WebAssembly.Imports = {}): number | undefined {
  if (!WebAssembly.validate(bytes)) return undefined;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), imports);
    return (instance.exports.f as () => number)();
  } catch {
    return undefined;
  }
}

function hasThreads(): boolean {
  if (typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') return false;
  if (!WebAssembly.validate(THREADS_MODULE)) return false;
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

/** Probes the runtime (after enabling relaxed SIMD where a flag is needed). */
export async function probeFeatures(): Promise<Features> {
  await enableRelaxedSimd();
  const simd = run(SIMD_MODULE) === 5;
  return {
    simd,
    relaxedSimd: simd && run(RELAXED_MODULE) === 7,
    threads: hasThreads(),
  };
}
