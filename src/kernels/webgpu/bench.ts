/**
 * The WebGPU inference benchmark, runnable in any page or worker with WebGPU (bench/webgpu is its
 * own page; the demo page runs it from its worker): one Linear layer of `inFeatures → outFeatures`
 * at each sparsity (constant fan-in k = round((1 − s)·in), random columns), run as
 *  - condensed on WebGPU (GpuKernels.linear: spmv at batch 1, tiled spmm above),
 *  - dense on WebGPU (the same layer as a dense W [out, in]: gemv / tiled gemm),
 *  - condensed on the WebAssembly kernels (the engine's ISA, one thread: spmv_cfi / spmm_cfi),
 * at each batch, methods interleaved round by round, medians after a warm-up. A GPU sample
 * records `reps` dispatches in one submit and waits for the queue, so it is the kernels' time
 * (with one submit's overhead spread over them), not a read-back's. On a software adapter
 * (SwiftShader) these are CPU timings of a WebGPU implementation, not GPU numbers; the result
 * says so.
 *
 * It stays on the kernels floor (the library bundle exports it, so the demo runs the same code):
 * the layers are generated and uploaded to wasm memory here rather than with src/tensor's Rng and
 * src/sparse's upload, which sit above this floor.
 */
import { instantiateSparseKernels, spmmScratchBytes, type CondensedView, type SparseKernels } from '../condensed.js';
import { createEngine } from '../engine.js';
import type { WasmHeap } from '../memory.js';
import { requestGpu, type AdapterSummary } from './device.js';
import type { GPU } from './gpu-types.js';
import { GpuKernels, type CondensedLayerData, type KernelCall } from './kernels.js';

/** What `runWebGpuBench` measures; every field has the default of issue 17's table. */
export interface WebGpuBenchOptions {
  /** Default 3072. */
  inFeatures?: number;
  /** Default 768. */
  outFeatures?: number;
  /** Each in (0, 1). Default [0.9, 0.99]. */
  sparsities?: number[];
  /** Positive integers. Default [1, 8, 64, 256]. */
  batches?: number[];
  /** Timed rounds per configuration. Default 7. */
  rounds?: number;
  /** Target length of one sample in ms (repetitions are sized to it). Default 20. */
  sampleMs?: number;
  /** Seed of the random layers and inputs. Default 1. */
  seed?: number;
  /** Default: the runtime's navigator.gpu. */
  gpu?: GPU | null;
}

export interface WebGpuBenchRow {
  sparsity: number;
  k: number;
  batch: number;
  /** Median µs per layer call. */
  gpuCondensedUs: number;
  gpuDenseUs: number;
  wasmCondensedUs: number;
}

export interface WebGpuBenchResult {
  adapter: AdapterSummary;
  /** The wasm kernels' ISA (relaxed, simd128 or scalar). */
  wasmIsa: string;
  userAgent: string;
  inFeatures: number;
  outFeatures: number;
  rounds: number;
  rows: WebGpuBenchRow[];
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A seeded stream of uniform and normal numbers (splitmix32; Box–Muller). */
function randomStream(seed: number): { uniform(): number; normal(): number; int(n: number): number } {
  let x = seed >>> 0;
  const uniform = (): number => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 2 ** 32;
  };
  return {
    uniform,
    normal: () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()),
    int: (n) => Math.floor(uniform() * n),
  };
}

/** A constant fan-in layer [out, in] with random sorted columns and normal weights (no ablated rows). */
function randomCondensed(rng: ReturnType<typeof randomStream>, out: number, inF: number, k: number): CondensedLayerData {
  const values = Float32Array.from({ length: out * k }, () => rng.normal() / Math.sqrt(k));
  const indices = new Uint16Array(out * k);
  const cols = Int32Array.from({ length: inF }, (_, i) => i);
  for (let r = 0; r < out; r++) {
    for (let j = 0; j < k; j++) {
      const t = j + rng.int(inF - j);
      [cols[j], cols[t]] = [cols[t], cols[j]];
    }
    indices.set(cols.subarray(0, k).slice().sort(), r * k);
  }
  return { nActive: out, inFeatures: inF, k, values, indices, bias: Float32Array.from({ length: out }, () => 0.1 * rng.normal()) };
}

/** The same weights as a dense W [out, in]. */
function densify(L: CondensedLayerData): Float32Array {
  const W = new Float32Array(L.nActive * L.inFeatures);
  for (let r = 0; r < L.nActive; r++) for (let j = 0; j < L.k; j++) W[r * L.inFeatures + L.indices[r * L.k + j]] = L.values[r * L.k + j];
  return W;
}

/** Copies the layer into wasm memory, as the kernels read it. */
function uploadToHeap(heap: WasmHeap, L: CondensedLayerData): CondensedView {
  const put = (a: Float32Array | Uint16Array): number => {
    const p = heap.alloc(a.byteLength);
    new Uint8Array(heap.memory.buffer, p, a.byteLength).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    return p;
  };
  return { rows: L.nActive, cols: L.inFeatures, k: L.k, indexBits: 16, values: put(L.values), indices: put(L.indices as Uint16Array), bias: put(L.bias) };
}

/** An async method to time: runs `reps` calls and resolves when they are done. */
export type TimedMethod = (reps: number) => Promise<void>;

/** Options for `interleavedMedians`. */
export interface InterleavedOptions {
  /** Timed rounds. Default 7. */
  rounds?: number;
  /** Target length of one sample in ms: each method's repetitions are sized to it from one warm call. Default 20. */
  sampleMs?: number;
}

/**
 * Median µs per call of each method, interleaved round by round after a warm-up (two calls
 * each; the second sizes the repetitions, at most 1000). Async, so GPU work can be awaited.
 */
export async function interleavedMedians<K extends string>(methods: Record<K, TimedMethod>, opts: InterleavedOptions = {}): Promise<Record<K, number>> {
  const rounds = opts.rounds ?? 7, sampleMs = opts.sampleMs ?? 20;
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`interleavedMedians: rounds must be a positive integer, got ${rounds}`);
  if (!(sampleMs > 0)) throw new RangeError(`interleavedMedians: sampleMs must be positive, got ${sampleMs}`);
  const names = Object.keys(methods) as K[];
  const reps = {} as Record<K, number>;
  for (const n of names) {
    await methods[n](1);
    const t0 = performance.now();
    await methods[n](1);
    const one = Math.max(performance.now() - t0, 1e-3);
    reps[n] = Math.max(1, Math.min(1000, Math.round(sampleMs / one)));
  }
  const times = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (let r = 0; r < rounds; r++) {
    for (const n of names) {
      const t0 = performance.now();
      await methods[n](reps[n]);
      times[n].push(((performance.now() - t0) * 1e3) / reps[n]);
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(times[n])])) as Record<K, number>;
}

/** The options with their defaults, checked: a bad one throws a RangeError naming it. */
function resolveOptions(opts: WebGpuBenchOptions) {
  const inF = opts.inFeatures ?? 3072, out = opts.outFeatures ?? 768;
  const sparsities = opts.sparsities ?? [0.9, 0.99], batches = opts.batches ?? [1, 8, 64, 256];
  const rounds = opts.rounds ?? 7, sampleMs = opts.sampleMs ?? 20;
  // u16 column indices (the wasm and WGSL u16 kernels) cover in ≤ 65536.
  if (!Number.isInteger(inF) || inF < 1 || inF > 65536) throw new RangeError(`runWebGpuBench: inFeatures must be an integer in 1..65536, got ${inF}`);
  if (!Number.isInteger(out) || out < 1) throw new RangeError(`runWebGpuBench: outFeatures must be a positive integer, got ${out}`);
  if (!Array.isArray(sparsities) || sparsities.length === 0 || !sparsities.every((s) => s > 0 && s < 1)) {
    throw new RangeError(`runWebGpuBench: sparsities must be numbers in (0, 1), got ${JSON.stringify(sparsities)}`);
  }
  if (!Array.isArray(batches) || batches.length === 0 || !batches.every((b) => Number.isInteger(b) && b >= 1)) {
    throw new RangeError(`runWebGpuBench: batches must be positive integers, got ${JSON.stringify(batches)}`);
  }
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`runWebGpuBench: rounds must be a positive integer, got ${rounds}`);
  if (!(sampleMs > 0)) throw new RangeError(`runWebGpuBench: sampleMs must be positive, got ${sampleMs}`);
  return { inF, out, sparsities, batches, rounds, sampleMs };
}

/**
 * Runs the benchmark (see the top of this file). `onRow` sees each row as it is measured.
 * Throws WebGpuError when there is no WebGPU device, RangeError for a bad option.
 */
export async function runWebGpuBench(opts: WebGpuBenchOptions = {}, onRow?: (row: WebGpuBenchRow) => void): Promise<WebGpuBenchResult> {
  const { inF, out, sparsities, batches, rounds, sampleMs } = resolveOptions(opts);
  const maxBatch = Math.max(...batches);
  const ctx = await requestGpu({ gpu: opts.gpu });
  const gpu = GpuKernels.create(ctx);
  const engine = await createEngine({ threads: 1 });
  const rng = randomStream(opts.seed ?? 1);
  const rows: WebGpuBenchRow[] = [];
  try {
    const isa = engine.backend === 'reference' ? null : engine.backend;
    const sparse: SparseKernels | null = isa ? instantiateSparseKernels(engine.heap.memory, isa) : null;
    if (!sparse) throw new Error(`the ${engine.backend} wasm kernels do not run here`);
    const heap = engine.heap;
    const x = Float32Array.from({ length: inF * maxBatch }, () => rng.normal());
    // GPU: one input and output, sized for the largest batch (the kernels read [in, n] of it).
    const gx = gpu.buffer(x, 'bench.x');
    const gy = gpu.buffer(out * maxBatch * 4, 'bench.y');
    // wasm: Xᵀ [in, n], Yᵀ [out, n] and the packed panels, in the engine's memory.
    const wx = heap.allocF32(inF * maxBatch);
    heap.f32(wx, inF * maxBatch).set(x);
    const wy = heap.allocF32(out * maxBatch);
    const scratch = heap.alloc(spmmScratchBytes(inF, maxBatch));
    const gpuMethod = (call: KernelCall, n: number): TimedMethod => (reps) => gpu.run(new Array<KernelCall>(reps).fill(call), n);
    for (const s of sparsities) {
      const k = Math.max(1, Math.round((1 - s) * inF));
      const L = randomCondensed(rng, out, inF, k);
      const gL = gpu.uploadCondensed(L, `bench ${s}`);
      const dL = gpu.uploadDense(out, inF, densify(L), L.bias, `bench dense ${s}`);
      const condensedCall = await gpu.linear(gL, gx, gy);
      const denseCall = await gpu.linear(dL, gx, gy);
      const mark = heap.mark();
      const view = uploadToHeap(heap, L);
      for (const n of batches) {
        const wasm: TimedMethod = async (reps) => {
          for (let i = 0; i < reps; i++) {
            if (n === 1) sparse.spmvCfi(k >= 16 ? '1x8' : '1x4', view, wx, wy);
            else sparse.spmmCfi('1x16', view, n, wx, wy, scratch);
          }
        };
        const t = await interleavedMedians({ gpuCondensed: gpuMethod(condensedCall, n), gpuDense: gpuMethod(denseCall, n), wasmCondensed: wasm }, { rounds, sampleMs });
        const row: WebGpuBenchRow = { sparsity: s, k, batch: n, gpuCondensedUs: t.gpuCondensed, gpuDenseUs: t.gpuDense, wasmCondensedUs: t.wasmCondensed };
        rows.push(row);
        onRow?.(row);
      }
      heap.release(mark);
      for (const b of [gL.values, gL.where!, gL.bias, dL.values, dL.bias]) b.destroy();
    }
    gx.destroy();
    gy.destroy();
    return {
      adapter: ctx.adapter!, wasmIsa: engine.backend, userAgent: globalThis.navigator?.userAgent ?? '',
      inFeatures: inF, outFeatures: out, rounds, rows,
    };
  } finally {
    gpu.destroy();
    await engine.close();
    ctx.device.destroy();
  }
}

/** The line a software adapter's table carries (the tests look for it). */
export const SOFTWARE_ADAPTER_NOTE = 'NOTE: this is a software adapter (WebGPU implemented on the CPU): these are NOT GPU numbers, only a check that the kernels run.';

/** A ratio with two significant digits at least (SwiftShader's are far below 1). */
const times = (r: number) => `${r >= 10 ? r.toFixed(1) : r >= 0.1 ? r.toFixed(2) : r.toPrecision(2)}×`;
const us = (v: number) => (v >= 1e4 ? `${(v / 1e3).toFixed(1)} ms` : `${v.toFixed(v < 100 ? 1 : 0)} µs`);

/** The result as a text table, with the adapter line and, on a software adapter, the warning that these are not GPU numbers. */
export function formatWebGpuBench(r: WebGpuBenchResult): string {
  const a = r.adapter;
  const lines = [
    `WebGPU adapter: ${a.label} (vendor "${a.vendor}", architecture "${a.architecture}", device "${a.device}", description "${a.description}")`,
    `wasm kernels: ${r.wasmIsa}, 1 thread; browser: ${r.userAgent}`,
    `layer ${r.inFeatures}→${r.outFeatures}, constant fan-in; µs per layer call, median of ${r.rounds} interleaved rounds after warm-up`,
  ];
  if (a.software) lines.push(SOFTWARE_ADAPTER_NOTE);
  const head = ['sparsity', 'k', 'batch', 'webgpu condensed', 'webgpu dense', 'wasm condensed', 'dense/condensed (webgpu)', 'wasm/webgpu (condensed)'];
  const body = r.rows.map((x) => [
    `${(x.sparsity * 100).toFixed(0)}%`, String(x.k), String(x.batch), us(x.gpuCondensedUs), us(x.gpuDenseUs), us(x.wasmCondensedUs),
    times(x.gpuDenseUs / x.gpuCondensedUs), times(x.wasmCondensedUs / x.gpuCondensedUs),
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(width[i])).join('  ');
  lines.push(fmt(head), ...body.map(fmt));
  return lines.join('\n');
}
