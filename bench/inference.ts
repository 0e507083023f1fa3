/**
 * Inference benchmark: a constant-fan-in (condensed) sparse linear layer against our dense
 * kernels, unstructured CSR with the same number of weights, and onnxruntime-node dense, on one
 * thread. Methods are interleaved round by round and medians are reported after warm-up; at
 * batch 1 the condensed kernel's achieved bandwidth is compared with a copy measured in the
 * same run.
 *
 *   npx tsx bench/inference.ts [--quick]
 *   node --experimental-wasm-relaxed-simd --import tsx bench/inference.ts [--quick]   (relaxed SIMD on Node 20)
 *
 * With --nm it runs the N:M comparison instead (benchInferenceNM): the N:M kernel beside the
 * constant-fan-in kernel on the same N:M weights, and writes bench/results/inference-nm.md.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { existsSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { createEngine, type Engine } from '../src/kernels/engine.js';
import { probeFeatures } from '../src/kernels/probe.js';
import { instantiateSparseKernels, spmmScratchBytes, type SparseKernels, type SpmmTile, type SpmvTile } from '../src/kernels/condensed.js';
import { packCondensed, packCsr, toNMLayer, uploadCondensed, uploadCondensedNM, uploadCsr, uploadDense, type CondensedNMLayer } from '../src/sparse/condensed/index.js';
import { constantFanInMask, randomMask } from '../src/sparse/mask.js';
import { nmMask } from '../src/sparse/nm.js';
import { Rng } from '../src/tensor/rng.js';

export interface InferenceBenchOptions {
  /** A short run: one layer, two sparsities, three batch sizes, fewer rounds. Default false. */
  quick?: boolean;
  /** [in, out] pairs. Default 3072→768, 768→3072, 4096→4096 (quick: 3072→768). */
  layers?: ReadonlyArray<readonly [number, number]>;
  /** Default 0.8, 0.9, 0.95, 0.99 (quick: 0.9, 0.99). */
  sparsities?: readonly number[];
  /** Default 1, 8, 64, 256, 1024 (quick: 1, 64, 256). */
  batches?: readonly number[];
  /** Timed rounds per configuration (each method once per round). Default 9 (quick: 5). */
  rounds?: number;
  /** Target milliseconds of one timed sample (calls are repeated to reach it). Default 4 (quick: 2). */
  sampleMs?: number;
  /** Also time the condensed, CSR and our dense kernels with rows split over 2 threads. Default true. */
  twoThreads?: boolean;
  /** Progress lines. Default: none. */
  log?: (line: string) => void;
  /** One-line notices a user should see (the onnxruntime baseline is absent). Default: stderr. */
  notice?: (line: string) => void;
}

export interface InferenceRow {
  inFeatures: number;
  outFeatures: number;
  sparsity: number;
  batch: number;
  k: number;
  nnz: number;
  /** Median µs per call. */
  condensedUs: number;
  /** The condensed tile that was fastest. */
  condensedTile: string;
  csrUs: number;
  /** The engine's dense GEMM (Kernels.gemmNN + addBiasChannels). */
  denseEngineUs: number;
  /** Our own dense gemv/gemm in the same layouts (src/kernels/as/condensed.ts). */
  denseOwnUs: number;
  /** onnxruntime-node dense MatMul+Add, or null when it is not installed. */
  ortUs: number | null;
  /** fastest dense of ours / condensed. */
  speedupVsDense: number;
  speedupVsCsr: number;
  speedupVsOrt: number | null;
  /**
   * Batch 1 only: the read bound (values+indices bytes ÷ the read bandwidth of a working set of
   * the same size, cache-resident like the layer) ÷ condensed time.
   */
  bandwidthFraction: number | null;
  /** Batch 1 only: the same with the DRAM read bandwidth (a 64 MiB working set). */
  dramBandwidthFraction: number | null;
  /** Batch 1 only: read bandwidth of a same-size working set, GB/s. */
  sameSizeReadGBs: number | null;
  /** Batch 1 only: values+indices bytes / condensed time, GB/s. */
  achievedGBs: number | null;
  /** The same kernels with rows split over 2 threads (batch 1: 1x8 tile, or 1x4 when k < 32; batched: 1x16); null when not run. */
  condensedX2Us: number | null;
  csrX2Us: number | null;
  denseOwnX2Us: number | null;
  /** denseOwnX2 / condensedX2. */
  speedupVsDenseX2: number | null;
}

export interface InferenceResult {
  machine: string;
  isa: string;
  threads: number;
  /** Read bandwidth of a 64 MiB working set (DRAM), GB/s. */
  dramReadGBs: number;
  /** 1-minute load average when the run started and ended (the machine is shared). */
  loadAverage: [number, number];
  ort: string;
  rows: InferenceRow[];
}

type Method = () => void | Promise<unknown>;

/** µs per call of `f`, repeated `reps` times. */
async function sample(f: Method, reps: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) {
    const r = f();
    if (r) await r;
  }
  return Number(process.hrtime.bigint() - t0) / 1e3 / reps;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Warms every method up, sizes its repetitions to about `sampleMs`, then times all of them in
 * interleaved rounds (A B C, A B C, ...) and returns each one's median µs per call.
 */
async function interleaved(methods: Record<string, Method>, rounds: number, sampleMs: number): Promise<Record<string, number>> {
  return (await interleavedSamples(methods, rounds, sampleMs)).medians;
}

/**
 * Read bandwidth (bytes per second) of a `bytes`-sized working set in wasm memory, streamed by
 * the read_f32 probe (four independent SIMD accumulators). The best of 7 samples: loaded-machine
 * noise only ever slows a sample down.
 */
function readBandwidth(engine: Engine, sparse: SparseKernels, bytes: number, sampleMs: number): number {
  const mark = engine.heap.mark();
  const n = Math.max(16, Math.ceil(bytes / 64) * 16);
  const p = engine.heap.allocF32(n);
  for (let i = 0; i < 3; i++) sparse.readSum(n, p);
  let best = 0;
  for (let r = 0; r < 7; r++) {
    let reps = 0;
    const t0 = process.hrtime.bigint();
    let dt = 0;
    do {
      sparse.readSum(n, p);
      reps++;
      dt = Number(process.hrtime.bigint() - t0) / 1e9;
    } while (dt < sampleMs / 1e3);
    best = Math.max(best, (4 * n * reps) / dt);
  }
  engine.heap.release(mark);
  return best / 1e9;
}

// ---- onnxruntime-node (optional) ----------------------------------------------------------------

/** Minimal protobuf writer: just what an ONNX ModelProto with one MatMul and one Add needs. */
class Pb {
  private parts: Uint8Array[] = [];
  private varint(v: number): void {
    const out: number[] = [];
    while (v > 127) {
      out.push((v % 128) | 128);
      v = Math.floor(v / 128);
    }
    out.push(v);
    this.parts.push(new Uint8Array(out));
  }
  int(field: number, v: number): this {
    this.varint(field * 8);
    this.varint(v);
    return this;
  }
  bytes(field: number, b: Uint8Array): this {
    this.varint(field * 8 + 2);
    this.varint(b.length);
    this.parts.push(b);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  msg(field: number, m: Pb): this {
    return this.bytes(field, m.finish());
  }
  finish(): Uint8Array {
    const n = this.parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

const FLOAT = 1;

function tensorProto(name: string, dims: number[], data: Float32Array): Pb {
  const t = new Pb();
  for (const d of dims) t.int(1, d);
  return t.int(2, FLOAT).str(8, name).bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

function valueInfo(name: string, dims: Array<number | string>): Pb {
  const shape = new Pb();
  for (const d of dims) shape.msg(1, typeof d === 'number' ? new Pb().int(1, d) : new Pb().str(2, d));
  return new Pb().str(1, name).msg(2, new Pb().msg(1, new Pb().int(1, FLOAT).msg(2, shape)));
}

/** ONNX model y = x·Wᵀ + b for x [B, in] with B symbolic; W [out, in] is stored transposed. */
export function linearOnnx(inF: number, outF: number, weight: Float32Array, bias: Float32Array): Uint8Array {
  const wt = new Float32Array(inF * outF);
  for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) wt[i * outF + o] = weight[o * inF + i];
  const node = (op: string, ins: string[], out: string) => {
    const n = new Pb();
    for (const i of ins) n.str(1, i);
    return n.str(2, out).str(3, `${op.toLowerCase()}0`).str(4, op);
  };
  const graph = new Pb()
    .msg(1, node('MatMul', ['x', 'wt'], 'h'))
    .msg(1, node('Add', ['h', 'b'], 'y'))
    .str(2, 'linear')
    .msg(5, tensorProto('wt', [inF, outF], wt))
    .msg(5, tensorProto('b', [outF], bias))
    .msg(11, valueInfo('x', ['B', inF]))
    .msg(12, valueInfo('y', ['B', outF]));
  return new Pb().int(1, 8).str(2, 'srigl-bench').msg(7, graph).msg(8, new Pb().str(1, '').int(2, 17)).finish();
}

export interface OrtLike {
  InferenceSession: { create(model: Uint8Array, opts: object): Promise<{ run(feeds: object): Promise<unknown>; release?(): Promise<void> }> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
  env?: { versions?: { node?: string } };
}

/** Where the optional baseline is installed: its own folder (see bench/onnxruntime/package.json). */
export const ORT_INSTALL = 'npm ci --prefix bench/onnxruntime';

/**
 * onnxruntime-node from bench/onnxruntime/ (found by walking up from this file, so it works from
 * bench/ under tsx and from dist/bench/), else wherever Node resolves it; null when absent.
 */
export async function loadOrt(): Promise<OrtLike | null> {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    for (const p of [join(dir, 'onnxruntime', 'package.json'), join(dir, 'bench', 'onnxruntime', 'package.json')]) {
      if (!existsSync(join(dirname(p), 'node_modules', 'onnxruntime-node'))) continue;
      try {
        return createRequire(p)('onnxruntime-node') as OrtLike;
      } catch {
        // A broken install counts as absent.
      }
    }
  }
  try {
    const name = 'onnxruntime-node';
    return (await import(name)) as unknown as OrtLike;
  } catch {
    return null;
  }
}

// ---- the benchmark ------------------------------------------------------------------------------

function fillNormal(a: Float32Array, rng: Rng): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] = rng.normal();
  return a;
}

export async function benchInference(opts: InferenceBenchOptions = {}): Promise<InferenceResult> {
  const quick = opts.quick ?? false;
  const layers = opts.layers ?? (quick ? [[3072, 768]] : [[3072, 768], [768, 3072], [4096, 4096]]);
  const sparsities = opts.sparsities ?? (quick ? [0.9, 0.99] : [0.8, 0.9, 0.95, 0.99]);
  const batches = opts.batches ?? (quick ? [1, 64, 256] : [1, 8, 64, 256, 1024]);
  const rounds = opts.rounds ?? (quick ? 5 : 9);
  const sampleMs = opts.sampleMs ?? (quick ? 2 : 4);
  const log = opts.log ?? (() => {});

  const features = await probeFeatures();
  const isa = features.relaxedSimd ? 'relaxed' : features.simd ? 'simd128' : 'scalar';
  const engine = await createEngine({ backend: isa, threads: 1, initialBytes: 256 << 20 });
  const sparse: SparseKernels | null = instantiateSparseKernels(engine.heap.memory, isa);
  if (!sparse) throw new Error(`the ${isa} module does not validate`);
  const engine2 = (opts.twoThreads ?? true) && features.threads ? await createEngine({ backend: isa, threads: 2, initialBytes: 256 << 20 }) : null;
  const sparse2 = engine2 ? instantiateSparseKernels(engine2.heap.memory, isa, engine2.rows) : null;
  const ort = await loadOrt();
  const ortName = ort ? `onnxruntime-node (intra-op threads 1)` : 'n/a (onnxruntime-node not installed)';
  if (!ort) (opts.notice ?? ((l: string) => process.stderr.write(l + '\n')))(`onnxruntime-node baseline not installed (${ORT_INSTALL} adds it); measuring the rest`);
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version} (V8 ${process.versions.v8}), wasm ${isa}`;
  const load0 = loadavg()[0];
  const dramReadGBs = readBandwidth(engine, sparse, 64 << 20, 40);
  log(`# ${machine}; load average ${load0.toFixed(2)}`);
  log(`# read bandwidth (64 MiB): ${dramReadGBs.toFixed(1)} GB/s; ORT: ${ortName}`);

  const rows: InferenceRow[] = [];
  const rng = new Rng(2024);
  const heap = engine.heap;
  const kern = engine.kernels;
  for (const [inF, outF] of layers) {
    const layerMark = heap.mark();
    const weight = fillNormal(new Float32Array(outF * inF), rng);
    const bias = fillNormal(new Float32Array(outF), rng);
    const D = uploadDense(heap, outF, inF, weight, bias);
    const mark2 = engine2?.heap.mark() ?? 0;
    const D2 = engine2 ? uploadDense(engine2.heap, outF, inF, weight, bias) : null;
    const session = ort ? await ort.InferenceSession.create(linearOnnx(inF, outF, weight, bias), {
      intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
    }) : null;
    const packed = sparsities.map((s) => {
      const k = Math.max(1, Math.round((1 - s) * inF));
      const cfi = packCondensed({ outFeatures: outF, inFeatures: inF, weight, mask: constantFanInMask(outF, inF, k, rng), bias });
      const csr = packCsr({ rows: outF, cols: inF, weight, mask: randomMask(outF * inF, outF * k, rng), bias });
      return {
        s, k, nnz: outF * k, bytes: cfi.values.byteLength + cfi.indices.byteLength, L: uploadCondensed(heap, cfi), C: uploadCsr(heap, csr),
        L2: engine2 ? uploadCondensed(engine2.heap, cfi) : null, C2: engine2 ? uploadCsr(engine2.heap, csr) : null,
      };
    });
    for (const B of batches) {
      const batchMark = heap.mark();
      const xT = heap.allocF32(inF * B);
      fillNormal(heap.f32(xT, inF * B), rng);
      const yT = heap.allocF32(outF * B);
      const scratch = heap.alloc(spmmScratchBytes(inF, B));
      const batchMark2 = engine2?.heap.mark() ?? 0;
      const x2 = engine2 ? engine2.heap.allocF32(inF * B) : 0;
      if (engine2) engine2.heap.f32(x2, inF * B).set(heap.f32(xT, inF * B));
      const y2 = engine2 ? engine2.heap.allocF32(outF * B) : 0;
      const scratch2 = engine2 ? engine2.heap.alloc(spmmScratchBytes(inF, B)) : 0;
      const methods: Record<string, Method> = {
        denseEngine: () => {
          kern.gemmNN(outF, B, inF, D.W, xT, yT, false);
          kern.addBiasChannels(1, outF, B, yT, D.bias);
        },
        denseOwn: B === 1 ? () => sparse.denseGemv(D, xT, yT) : () => sparse.denseGemm(D, B, xT, yT),
      };
      if (session && ort) {
        const x = new ort.Tensor('float32', fillNormal(new Float32Array(B * inF), rng), [B, inF]);
        methods.ort = () => session.run({ x });
      }
      if (sparse2 && D2) methods.denseOwnX2 = B === 1 ? () => sparse2.denseGemv(D2, x2, y2) : () => sparse2.denseGemm(D2, B, x2, y2);
      for (const p of packed) {
        if (sparse2 && p.L2 && p.C2) {
          const L2 = p.L2, C2 = p.C2;
          if (B === 1) {
            const t: SpmvTile = p.k < 32 ? '1x4' : '1x8';
            methods[`cfiX2 ${p.s}`] = () => sparse2.spmvCfi(t, L2, x2, y2);
            methods[`csrX2 ${p.s}`] = () => sparse2.spmvCsr(C2, x2, y2);
          } else {
            methods[`cfiX2 ${p.s}`] = () => sparse2.spmmCfi('1x16', L2, B, x2, y2, scratch2);
            methods[`csrX2 ${p.s}`] = () => sparse2.spmmCsr(C2, B, x2, y2, scratch2);
          }
        }
        if (B === 1) {
          for (const t of ['1x4', '1x8'] as SpmvTile[]) methods[`cfi ${p.s} ${t}`] = () => sparse.spmvCfi(t, p.L, xT, yT);
          methods[`csr ${p.s}`] = () => sparse.spmvCsr(p.C, xT, yT);
        } else {
          for (const t of ['1x16', '2x16'] as SpmmTile[]) methods[`cfi ${p.s} ${t}`] = () => sparse.spmmCfi(t, p.L, B, xT, yT, scratch);
          methods[`csr ${p.s}`] = () => sparse.spmmCsr(p.C, B, xT, yT, scratch);
        }
      }
      const med = await interleaved(methods, rounds, sampleMs);
      for (const p of packed) {
        const tiles = Object.keys(med).filter((n) => n.startsWith(`cfi ${p.s} `));
        const bestTile = tiles.reduce((a, b) => (med[a] <= med[b] ? a : b));
        const cfiUs = med[bestTile];
        const dense = Math.min(med.denseEngine, med.denseOwn);
        const bw = B === 1 ? readBandwidth(engine, sparse, p.bytes, 5) : null;
        const row: InferenceRow = {
          inFeatures: inF, outFeatures: outF, sparsity: p.s, batch: B, k: p.k, nnz: p.nnz,
          condensedUs: cfiUs, condensedTile: bestTile.split(' ')[2], csrUs: med[`csr ${p.s}`],
          denseEngineUs: med.denseEngine, denseOwnUs: med.denseOwn, ortUs: med.ort ?? null,
          speedupVsDense: dense / cfiUs, speedupVsCsr: med[`csr ${p.s}`] / cfiUs,
          speedupVsOrt: med.ort !== undefined ? med.ort / cfiUs : null,
          bandwidthFraction: bw === null ? null : p.bytes / (bw * 1e3) / cfiUs,
          dramBandwidthFraction: bw === null ? null : p.bytes / (dramReadGBs * 1e3) / cfiUs,
          sameSizeReadGBs: bw,
          achievedGBs: B === 1 ? p.bytes / (cfiUs * 1e3) : null,
          condensedX2Us: med[`cfiX2 ${p.s}`] ?? null,
          csrX2Us: med[`csrX2 ${p.s}`] ?? null,
          denseOwnX2Us: med.denseOwnX2 ?? null,
          speedupVsDenseX2: med.denseOwnX2 !== undefined && med[`cfiX2 ${p.s}`] !== undefined ? med.denseOwnX2 / med[`cfiX2 ${p.s}`] : null,
        };
        rows.push(row);
        log(formatRow(row));
      }
      heap.release(batchMark);
      engine2?.heap.release(batchMark2);
    }
    await session?.release?.();
    heap.release(layerMark);
    engine2?.heap.release(mark2);
  }
  await engine.close();
  await engine2?.close();
  return { machine, isa, threads: engine2 ? 2 : 1, dramReadGBs, loadAverage: [load0, loadavg()[0]], ort: ortName, rows };
}

const f1 = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const fx = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(2)}×`);

function formatRow(r: InferenceRow): string {
  const x2 = (v: number | null) => (v === null ? 'n/a' : f1(v));
  return `| ${r.inFeatures}→${r.outFeatures} | ${r.sparsity} | ${r.batch} | ${r.k} | ${f1(r.condensedUs)} (${r.condensedTile}) | ${f1(r.csrUs)} | ${f1(r.denseEngineUs)} | ${f1(r.denseOwnUs)} | ${r.ortUs === null ? 'n/a' : f1(r.ortUs)} | ${fx(r.speedupVsDense)} | ${fx(r.speedupVsCsr)} | ${fx(r.speedupVsOrt)} | ${x2(r.condensedX2Us)} | ${x2(r.csrX2Us)} | ${x2(r.denseOwnX2Us)} | ${fx(r.speedupVsDenseX2)} | ${r.condensedX2Us === null ? 'n/a' : fx(r.condensedUs / r.condensedX2Us)} | ${r.bandwidthFraction === null ? '' : `${(1 / r.bandwidthFraction).toFixed(2)}× / ${(1 / r.dramBandwidthFraction!).toFixed(2)}× (${r.achievedGBs!.toFixed(1)} of ${r.sameSizeReadGBs!.toFixed(0)} GB/s)`} |`;
}

const HEADER = [
  '| layer | sparsity | batch | k | condensed µs (tile) | CSR µs | dense engine µs | dense own µs | ORT µs | vs dense | vs CSR | vs ORT | condensed x2 µs | CSR x2 µs | dense own x2 µs | x2 vs dense x2 | x2 scaling | batch 1: time ÷ read bound, same-size / DRAM (achieved of same-size GB/s) |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
];

/** Markdown report: machine line, the table, and the targets checked against the numbers. */
export function inferenceMarkdown(res: InferenceResult, command: string): string {
  const lines = [
    '# Condensed inference benchmark',
    '',
    `Command: \`${command}\``,
    '',
    `Machine: ${res.machine}. Load average (1 min) ${res.loadAverage[0].toFixed(2)} at the start, ${res.loadAverage[1].toFixed(2)} at the end. DRAM read bandwidth (64 MiB): ${res.dramReadGBs.toFixed(1)} GB/s. ORT: ${res.ort}.`,
    '',
    'Median µs per call after warm-up, methods interleaved round by round. Activations are batch-contiguous',
    '(Xᵀ [in, B], Yᵀ [out, B]) for our kernels and row-major [B, in] for ORT. "vs dense" is against the faster of',
    'the engine GEMM and our own dense kernel. CSR has the same nnz as the condensed layer, unstructured, u16',
    'columns, and the same inner loops. Batch-1 bound: the time to read values + indices at the read bandwidth of',
    'a working set of the same size (cache-resident, as the layer is) and of a 64 MiB one (DRAM), both measured in',
    'this run with a streaming SIMD read; the column gives condensed time ÷ each bound.',
    '"x2" columns: the same kernels with rows split over 2 threads (a second engine with a 2-thread pool; batch 1',
    'uses the 1x8 tile, or 1x4 when k < 32, batched the 1x16 tile); "x2 scaling" = condensed 1 thread ÷ condensed x2.',
    '',
    ...HEADER,
    ...res.rows.map(formatRow),
    '',
    ...targets(res),
  ];
  return lines.join('\n') + '\n';
}

function targets(res: InferenceResult): string[] {
  const out = ['## Targets (90% sparsity, one thread, 3072→768)', ''];
  const at = res.rows.filter((r) => r.inFeatures === 3072 && r.outFeatures === 768 && r.sparsity === 0.9);
  const b1 = at.find((r) => r.batch === 1);
  if (b1) {
    out.push(`- batch 1 ≥ 5× our dense: ${b1.speedupVsDense.toFixed(2)}× — ${b1.speedupVsDense >= 5 ? 'met' : 'not met'}`);
    out.push(`- batch 1 within 1.5× of the read bound of a same-size (cache-resident) working set: ${(1 / b1.bandwidthFraction!).toFixed(2)}× — ${1 / b1.bandwidthFraction! <= 1.5 ? 'met' : 'not met'}`);
    out.push(`- batch 1 within 1.5× of the DRAM read bound: ${(1 / b1.dramBandwidthFraction!).toFixed(2)}× — ${1 / b1.dramBandwidthFraction! <= 1.5 ? 'met' : 'not met'}`);
  }
  const slower = res.rows.filter((r) => r.sparsity >= 0.9 && r.speedupVsDense < 1);
  out.push(`- never slower than our dense at sparsity ≥ 0.9: ${slower.length === 0 ? 'met' : `not met at ${slower.map((r) => `${r.inFeatures}→${r.outFeatures} s=${r.sparsity} B=${r.batch}`).join(', ')}`}`);
  for (const B of [64, 256]) {
    const r = at.find((x) => x.batch === B);
    if (r) out.push(`- batch ${B} faster than ORT dense: ${r.speedupVsOrt === null ? 'n/a (ORT missing)' : `${r.speedupVsOrt.toFixed(2)}× — ${r.speedupVsOrt > 1 ? 'met' : 'not met'}`}`);
  }
  return out;
}


// ---- N:M kernel vs constant fan-in ----------------------------------------------------------------

export interface InferenceNMBenchOptions {
  /** A short run: fewer rounds, shorter samples (a smoke run). Default false. */
  quick?: boolean;
  /** [in, out]. Default 3072→768. */
  layer?: readonly [number, number];
  /** N:M ratios. Default 1:4, 1:8, 1:16. */
  ratios?: ReadonlyArray<readonly [number, number]>;
  /** Default 1, 8, 64, 256. */
  batches?: readonly number[];
  /** Timed rounds (each method once per round). Default 11 (quick: 5). */
  rounds?: number;
  /** Target milliseconds of one timed sample. Default 4 (quick: 2). */
  sampleMs?: number;
  log?: (line: string) => void;
  notice?: (line: string) => void;
}

export interface InferenceNMRow {
  n: number;
  m: number;
  batch: number;
  k: number;
  nnz: number;
  /** Stored bytes per nonzero: values + indices (constant fan-in, u16) or values + offsets (N:M, u8). */
  cfiBytesPerNnz: number;
  nmBytesPerNnz: number;
  /** The whole layer as stored (values, indices or offsets, bias, active map), bytes. */
  cfiLayerBytes: number;
  nmLayerBytes: number;
  /** Median µs per call, one thread and rows (or lane units) split over two. */
  cfiUs: number;
  nmUs: number;
  cfiX2Us: number | null;
  nmX2Us: number | null;
  /** cfi / nm time (> 1: the N:M kernel is faster), one and two threads. */
  ratio: number;
  ratioX2: number | null;
  /** Median of the per-round cfi/nm ratios (the pair ran back to back in every round). */
  pairedRatio: number;
  /** Our dense (engine GEMM or own gemv/gemm, the faster) and onnxruntime dense, one thread. */
  denseUs: number;
  ortUs: number | null;
}

export interface InferenceNMResult {
  machine: string;
  isa: string;
  layer: [number, number];
  loadAverage: [number, number];
  ort: string;
  rows: InferenceNMRow[];
}

/**
 * The N:M kernel (spmvNm / spmmNm, u8 offsets within groups) beside the constant-fan-in kernel
 * (spmvCfi 1x8 / spmmCfi 1x16, u16 columns) on the same weights: one N:M mask per ratio, packed
 * both ways, so nnz and positions are equal. Also our dense and onnxruntime dense (one thread).
 * Everything interleaved round by round; medians after warm-up.
 */
export async function benchInferenceNM(opts: InferenceNMBenchOptions = {}): Promise<InferenceNMResult> {
  const quick = opts.quick ?? false;
  const [inF, outF] = opts.layer ?? [3072, 768];
  const ratios = opts.ratios ?? [[1, 4], [1, 8], [1, 16]];
  const batches = opts.batches ?? [1, 8, 64, 256];
  const rounds = opts.rounds ?? (quick ? 5 : 11);
  const sampleMs = opts.sampleMs ?? (quick ? 2 : 4);
  const log = opts.log ?? (() => {});

  const features = await probeFeatures();
  const isa = features.relaxedSimd ? 'relaxed' : features.simd ? 'simd128' : 'scalar';
  const engine = await createEngine({ backend: isa, threads: 1, initialBytes: 256 << 20 });
  const sparse = instantiateSparseKernels(engine.heap.memory, isa);
  if (!sparse) throw new Error(`the ${isa} module does not validate`);
  const engine2 = features.threads ? await createEngine({ backend: isa, threads: 2, initialBytes: 256 << 20 }) : null;
  const sparse2 = engine2 ? instantiateSparseKernels(engine2.heap.memory, isa, engine2.rows) : null;
  const ort = await loadOrt();
  const ortName = ort ? 'onnxruntime-node (intra-op threads 1)' : 'n/a (onnxruntime-node not installed)';
  if (!ort) (opts.notice ?? ((l: string) => process.stderr.write(l + '\n')))(`onnxruntime-node baseline not installed (${ORT_INSTALL} adds it); measuring the rest`);
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version} (V8 ${process.versions.v8}), wasm ${isa}`;
  const load0 = loadavg()[0];
  log(`# ${machine}; load average ${load0.toFixed(2)}; ORT: ${ortName}`);

  const rng = new Rng(2025);
  const heap = engine.heap;
  const weight = fillNormal(new Float32Array(outF * inF), rng);
  const bias = fillNormal(new Float32Array(outF), rng);
  const D = uploadDense(heap, outF, inF, weight, bias);
  const session = ort ? await ort.InferenceSession.create(linearOnnx(inF, outF, weight, bias), {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  }) : null;
  const layers = ratios.map(([n, m]) => {
    const nm = { n, m, taps: 1 };
    const cfi = packCondensed({ outFeatures: outF, inFeatures: inF, weight, mask: nmMask(outF, inF, nm, rng), bias });
    const nmLayer = toNMLayer(cfi, nm) as CondensedNMLayer;
    const stored = (extra: number) => cfi.values.byteLength + extra + cfi.bias.byteLength + cfi.activeMap.byteLength;
    return {
      n, m, k: cfi.k, nnz: cfi.nActive * cfi.k,
      cfiBytes: cfi.values.byteLength + cfi.indices.byteLength, nmBytes: nmLayer.values.byteLength + nmLayer.offsets.byteLength,
      cfiLayerBytes: stored(cfi.indices.byteLength), nmLayerBytes: stored(nmLayer.offsets.byteLength),
      L: uploadCondensed(heap, cfi), N: uploadCondensedNM(heap, nmLayer),
      L2: engine2 ? uploadCondensed(engine2.heap, cfi) : null, N2: engine2 ? uploadCondensedNM(engine2.heap, nmLayer) : null,
    };
  });
  const rows: InferenceNMRow[] = [];
  for (const B of batches) {
    const mark = heap.mark();
    const xT = heap.allocF32(inF * B);
    fillNormal(heap.f32(xT, inF * B), rng);
    const yT = heap.allocF32(outF * B);
    const scratch = heap.alloc(spmmScratchBytes(inF, B));
    const mark2 = engine2?.heap.mark() ?? 0;
    const x2 = engine2 ? engine2.heap.allocF32(inF * B) : 0;
    if (engine2) engine2.heap.f32(x2, inF * B).set(heap.f32(xT, inF * B));
    const y2 = engine2 ? engine2.heap.allocF32(outF * B) : 0;
    const scratch2 = engine2 ? engine2.heap.alloc(spmmScratchBytes(inF, B)) : 0;
    const kern = engine.kernels;
    const methods: Record<string, Method> = {
      dense: B === 1 ? () => sparse.denseGemv(D, xT, yT) : () => sparse.denseGemm(D, B, xT, yT),
      denseEngine: () => {
        kern.gemmNN(outF, B, inF, D.W, xT, yT, false);
        kern.addBiasChannels(1, outF, B, yT, D.bias);
      },
    };
    if (session && ort) {
      const x = new ort.Tensor('float32', fillNormal(new Float32Array(B * inF), rng), [B, inF]);
      methods.ort = () => session.run({ x });
    }
    for (const l of layers) {
      const id = `${l.n}:${l.m}`;
      // The pair of kernels runs back to back in every round (see pairedRatio).
      methods[`cfi ${id}`] = B === 1 ? () => sparse.spmvCfi('1x8', l.L, xT, yT) : () => sparse.spmmCfi('1x16', l.L, B, xT, yT, scratch);
      methods[`nm ${id}`] = B === 1 ? () => sparse.spmvNm(l.N, xT, yT) : () => sparse.spmmNm(l.N, B, xT, yT, scratch);
      if (sparse2 && l.L2 && l.N2) {
        const L2 = l.L2, N2 = l.N2;
        methods[`cfiX2 ${id}`] = B === 1 ? () => sparse2.spmvCfi('1x8', L2, x2, y2) : () => sparse2.spmmCfi('1x16', L2, B, x2, y2, scratch2);
        methods[`nmX2 ${id}`] = B === 1 ? () => sparse2.spmvNm(N2, x2, y2) : () => sparse2.spmmNm(N2, B, x2, y2, scratch2);
      }
    }
    const { medians: med, samples } = await interleavedSamples(methods, rounds, sampleMs);
    for (const l of layers) {
      const id = `${l.n}:${l.m}`;
      const paired = samples[`cfi ${id}`].map((c, i) => c / samples[`nm ${id}`][i]);
      const row: InferenceNMRow = {
        n: l.n, m: l.m, batch: B, k: l.k, nnz: l.nnz,
        cfiBytesPerNnz: l.cfiBytes / l.nnz, nmBytesPerNnz: l.nmBytes / l.nnz, cfiLayerBytes: l.cfiLayerBytes, nmLayerBytes: l.nmLayerBytes,
        cfiUs: med[`cfi ${id}`], nmUs: med[`nm ${id}`], cfiX2Us: med[`cfiX2 ${id}`] ?? null, nmX2Us: med[`nmX2 ${id}`] ?? null,
        ratio: med[`cfi ${id}`] / med[`nm ${id}`],
        ratioX2: med[`cfiX2 ${id}`] !== undefined ? med[`cfiX2 ${id}`] / med[`nmX2 ${id}`] : null,
        pairedRatio: median(paired),
        denseUs: Math.min(med.dense, med.denseEngine), ortUs: med.ort ?? null,
      };
      rows.push(row);
      log(formatNMRow(row));
    }
    heap.release(mark);
    engine2?.heap.release(mark2);
  }
  await session?.release?.();
  await engine.close();
  await engine2?.close();
  return { machine, isa, layer: [inF, outF], loadAverage: [load0, loadavg()[0]], ort: ortName, rows };
}

function formatNMRow(r: InferenceNMRow): string {
  const x = (v: number | null) => (v === null ? 'n/a' : f1(v));
  return `| ${r.n}:${r.m} | ${r.batch} | ${r.k} | ${r.cfiBytesPerNnz.toFixed(2)} / ${r.nmBytesPerNnz.toFixed(2)} | ${f1(r.cfiUs)} | ${f1(r.nmUs)} | ${fx(r.ratio)} (${fx(r.pairedRatio)}) | ${x(r.cfiX2Us)} | ${x(r.nmX2Us)} | ${fx(r.ratioX2)} | ${f1(r.denseUs)} | ${x(r.ortUs)} | ${fx(r.denseUs / r.nmUs)} | ${r.ortUs === null ? 'n/a' : fx(r.ortUs / r.nmUs)} |`;
}

const NM_HEADER = [
  '| N:M | batch | k | bytes/nnz cfi / nm | cfi µs | nm µs | cfi ÷ nm (paired) | cfi x2 µs | nm x2 µs | cfi ÷ nm x2 | dense µs | ORT µs | nm vs dense | nm vs ORT |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
];

/** Markdown report of benchInferenceNM: machine line, command, the table and the target checked. */
export function inferenceNMMarkdown(res: InferenceNMResult, command: string): string {
  const [inF, outF] = res.layer;
  const slower = res.rows.filter((r) => r.ratio < 1 || (r.ratioX2 !== null && r.ratioX2 < 1));
  const sizes = [...new Map(res.rows.map((r) => [`${r.n}:${r.m}`, r])).values()];
  return [
    '# N:M condensed kernel vs the constant-fan-in kernel',
    '',
    `Command: \`${command}\``,
    '',
    `Machine: ${res.machine}. Load average (1 min) ${res.loadAverage[0].toFixed(2)} at the start, ${res.loadAverage[1].toFixed(2)} at the end. ORT: ${res.ort}.`,
    '',
    `Layer ${inF}→${outF}. For each ratio one N:M mask, packed twice: the constant-fan-in format (values + sorted u16`,
    'columns; spmvCfi 1x8 at batch 1, spmmCfi 1x16 batched) and the N:M format (values + u8 offsets within groups;',
    'spmvNm / spmmNm), so both run the same weights at equal nnz. Median µs per call after warm-up, all methods',
    'interleaved round by round; "paired" is the median of the per-round cfi ÷ nm ratios. "x2": rows (batched: 16-lane',
    'units) split over two threads of a second engine. Dense: the faster of our engine GEMM and our own dense kernel;',
    'ORT: onnxruntime dense MatMul+Add, one thread. bytes/nnz: values + indices (cfi) or values + offsets (nm); the N:M',
    `kernels also read one table of k group bases per layer (4·k bytes, shared by all ${outF} rows).`,
    '',
    ...NM_HEADER,
    ...res.rows.map(formatNMRow),
    '',
    '## Target: at equal nnz, at least as fast as the constant-fan-in kernel at every batch, and a smaller file',
    '',
    `- smaller: ${sizes.map((r) => `${r.n}:${r.m} layer ${r.cfiLayerBytes.toLocaleString('en-US')} → ${r.nmLayerBytes.toLocaleString('en-US')} bytes (${(r.nmLayerBytes / r.cfiLayerBytes).toFixed(3)}×)`).join('; ')} — met`,
    `- at least as fast at every batch and thread count: ${slower.length === 0 ? 'met' : `not met at ${slower.map((r) => `${r.n}:${r.m} B=${r.batch} (${r.ratio.toFixed(2)}×${r.ratioX2 === null ? '' : `, x2 ${r.ratioX2.toFixed(2)}×`})`).join(', ')}`}`,
    '',
  ].join('\n');
}

/** `interleaved` that also returns every method's per-round samples. */
async function interleavedSamples(methods: Record<string, Method>, rounds: number, sampleMs: number): Promise<{ medians: Record<string, number>; samples: Record<string, number[]> }> {
  const names = Object.keys(methods);
  const reps: Record<string, number> = {};
  for (const n of names) {
    await sample(methods[n], 2);
    const once = await sample(methods[n], 1);
    reps[n] = Math.max(1, Math.min(10000, Math.round((sampleMs * 1e3) / Math.max(once, 0.05))));
  }
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const n of names) {
      // Pool workers poll for ~2 ms after a job; let them go to sleep so they do not share
      // the cores with the next (single-thread) sample.
      await new Promise((resolve) => setTimeout(resolve, 3));
      samples[n].push(await sample(methods[n], reps[n]));
    }
  }
  return { medians: Object.fromEntries(names.map((n) => [n, median(samples[n])])), samples };
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain && process.argv.includes('--nm')) {
  const quick = process.argv.includes('--quick');
  const command = `${process.execArgv.includes('--experimental-wasm-relaxed-simd') ? 'node --experimental-wasm-relaxed-simd --import tsx' : 'npx tsx'} bench/inference.ts --nm${quick ? ' --quick' : ''}`;
  console.log(NM_HEADER.join('\n'));
  const res = await benchInferenceNM({ quick, log: (l) => console.log(l) });
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'inference-nm.md'), inferenceNMMarkdown(res, command));
  writeFileSync(join(dir, 'inference-nm.json'), JSON.stringify({ command, date: new Date().toISOString(), ...res }, null, 2) + '\n');
  console.log(`wrote ${join(dir, 'inference-nm.md')} and inference-nm.json`);
} else if (isMain) {
  const quick = process.argv.includes('--quick');
  const command = `${process.execArgv.includes('--experimental-wasm-relaxed-simd') ? 'node --experimental-wasm-relaxed-simd --import tsx' : 'npx tsx'} bench/inference.ts${quick ? ' --quick' : ''}`;
  console.log(HEADER.join('\n'));
  const res = await benchInference({ quick, log: (l) => console.log(l) });
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'inference.md'), inferenceMarkdown(res, command));
  writeFileSync(join(dir, 'inference.json'), JSON.stringify({ command, date: new Date().toISOString(), ...res }, null, 2) + '\n');
  console.log(`wrote ${join(dir, 'inference.md')} and inference.json`);
}
