/**
 * Inference benchmark: a constant-fan-in (condensed) sparse linear layer against our dense
 * kernels, unstructured CSR with the same number of weights, and onnxruntime-node dense, on one
 * thread. Methods are interleaved round by round and medians are reported after warm-up; at
 * batch 1 the condensed kernel's achieved bandwidth is compared with a copy measured in the
 * same run.
 *
 *   npx tsx bench/inference.ts [--quick]
 *   node --experimental-wasm-relaxed-simd --import tsx bench/inference.ts [--quick]   (relaxed SIMD on Node 20)
 */
import { cpus, totalmem } from 'node:os';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine, type Engine } from '../src/kernels/engine.js';
import { probeFeatures } from '../src/kernels/probe.js';
import { instantiateSparseKernels, spmmScratchBytes, type SparseKernels, type SpmmTile, type SpmvTile } from '../src/kernels/condensed.js';
import { packCondensed, packCsr, uploadCondensed, uploadCsr, uploadDense } from '../src/sparse/condensed/index.js';
import { constantFanInMask, randomMask } from '../src/sparse/mask.js';
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
  /** Progress lines. Default: none. */
  log?: (line: string) => void;
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
  /** Batch 1 only: (values+indices bytes / copy bandwidth) / condensed time. */
  bandwidthFraction: number | null;
  /** Batch 1 only: values+indices bytes / condensed time, GB/s. */
  achievedGBs: number | null;
}

export interface InferenceResult {
  machine: string;
  isa: string;
  threads: number;
  /** Copy bandwidth of a 64 MiB buffer (read + write bytes / time), GB/s. */
  dramCopyGBs: number;
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
  const names = Object.keys(methods);
  const reps: Record<string, number> = {};
  for (const n of names) {
    await sample(methods[n], 2);
    const once = await sample(methods[n], 1);
    reps[n] = Math.max(1, Math.min(10000, Math.round((sampleMs * 1e3) / Math.max(once, 0.05))));
  }
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const n of names) times[n].push(await sample(methods[n], reps[n]));
  }
  return Object.fromEntries(names.map((n) => [n, median(times[n])]));
}

/** Copy bandwidth (read + write bytes per second, as STREAM counts it) for `bytes`-sized copies in wasm memory. */
function copyBandwidth(engine: Engine, bytes: number, sampleMs: number): number {
  const mark = engine.heap.mark();
  const n = Math.max(16, Math.ceil(bytes / 64) * 64);
  const src = engine.heap.alloc(n);
  const dst = engine.heap.alloc(n);
  const u8 = new Uint8Array(engine.heap.memory.buffer);
  const copy = () => u8.copyWithin(dst, src, src + n);
  for (let i = 0; i < 3; i++) copy();
  const best: number[] = [];
  for (let r = 0; r < 7; r++) {
    let reps = 0;
    const t0 = process.hrtime.bigint();
    let dt = 0;
    do {
      copy();
      reps++;
      dt = Number(process.hrtime.bigint() - t0) / 1e9;
    } while (dt < sampleMs / 1e3);
    best.push((2 * n * reps) / dt);
  }
  engine.heap.release(mark);
  return median(best) / 1e9;
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
function linearOnnx(inF: number, outF: number, weight: Float32Array, bias: Float32Array): Uint8Array {
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

interface OrtLike {
  InferenceSession: { create(model: Uint8Array, opts: object): Promise<{ run(feeds: object): Promise<unknown>; release?(): Promise<void> }> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
  env?: { versions?: { node?: string } };
}

async function loadOrt(): Promise<OrtLike | null> {
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
  const ort = await loadOrt();
  const ortName = ort ? `onnxruntime-node (intra-op threads 1)` : 'n/a (onnxruntime-node not installed)';
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version} (V8 ${process.versions.v8}), wasm ${isa}, 1 thread`;
  const dramCopyGBs = copyBandwidth(engine, 64 << 20, 20);
  log(`# ${machine}`);
  log(`# copy bandwidth (64 MiB): ${dramCopyGBs.toFixed(1)} GB/s; ORT: ${ortName}`);

  const rows: InferenceRow[] = [];
  const rng = new Rng(2024);
  const heap = engine.heap;
  const kern = engine.kernels;
  for (const [inF, outF] of layers) {
    const layerMark = heap.mark();
    const weight = fillNormal(new Float32Array(outF * inF), rng);
    const bias = fillNormal(new Float32Array(outF), rng);
    const D = uploadDense(heap, outF, inF, weight, bias);
    const session = ort ? await ort.InferenceSession.create(linearOnnx(inF, outF, weight, bias), {
      intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
    }) : null;
    const packed = sparsities.map((s) => {
      const k = Math.max(1, Math.round((1 - s) * inF));
      const cfi = packCondensed({ outFeatures: outF, inFeatures: inF, weight, mask: constantFanInMask(outF, inF, k, rng), bias });
      const csr = packCsr({ rows: outF, cols: inF, weight, mask: randomMask(outF * inF, outF * k, rng), bias });
      return { s, k, nnz: outF * k, bytes: cfi.values.byteLength + cfi.indices.byteLength, L: uploadCondensed(heap, cfi), C: uploadCsr(heap, csr) };
    });
    for (const B of batches) {
      const batchMark = heap.mark();
      const xT = heap.allocF32(inF * B);
      fillNormal(heap.f32(xT, inF * B), rng);
      const yT = heap.allocF32(outF * B);
      const scratch = heap.alloc(spmmScratchBytes(inF));
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
      for (const p of packed) {
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
        const bw = B === 1 ? copyBandwidth(engine, p.bytes, 5) : null;
        const row: InferenceRow = {
          inFeatures: inF, outFeatures: outF, sparsity: p.s, batch: B, k: p.k, nnz: p.nnz,
          condensedUs: cfiUs, condensedTile: bestTile.split(' ')[2], csrUs: med[`csr ${p.s}`],
          denseEngineUs: med.denseEngine, denseOwnUs: med.denseOwn, ortUs: med.ort ?? null,
          speedupVsDense: dense / cfiUs, speedupVsCsr: med[`csr ${p.s}`] / cfiUs,
          speedupVsOrt: med.ort !== undefined ? med.ort / cfiUs : null,
          bandwidthFraction: bw === null ? null : p.bytes / (bw * 1e3) / cfiUs,
          achievedGBs: B === 1 ? p.bytes / (cfiUs * 1e3) : null,
        };
        rows.push(row);
        log(formatRow(row));
      }
      heap.release(batchMark);
    }
    await session?.release?.();
    heap.release(layerMark);
  }
  await engine.close();
  return { machine, isa, threads: 1, dramCopyGBs, ort: ortName, rows };
}

const f1 = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const fx = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(2)}×`);

function formatRow(r: InferenceRow): string {
  return `| ${r.inFeatures}→${r.outFeatures} | ${r.sparsity} | ${r.batch} | ${r.k} | ${f1(r.condensedUs)} (${r.condensedTile}) | ${f1(r.csrUs)} | ${f1(r.denseEngineUs)} | ${f1(r.denseOwnUs)} | ${r.ortUs === null ? 'n/a' : f1(r.ortUs)} | ${fx(r.speedupVsDense)} | ${fx(r.speedupVsCsr)} | ${fx(r.speedupVsOrt)} | ${r.bandwidthFraction === null ? '' : `${(100 * r.bandwidthFraction).toFixed(0)}% (${r.achievedGBs!.toFixed(1)} GB/s)`} |`;
}

const HEADER = [
  '| layer | sparsity | batch | k | condensed µs (tile) | CSR µs | dense engine µs | dense own µs | ORT µs | vs dense | vs CSR | vs ORT | batch-1 bandwidth |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
];

/** Markdown report: machine line, the table, and the targets checked against the numbers. */
export function inferenceMarkdown(res: InferenceResult, command: string): string {
  const lines = [
    '# Condensed inference benchmark',
    '',
    `Command: \`${command}\``,
    '',
    `Machine: ${res.machine}. Copy bandwidth (64 MiB, read+write): ${res.dramCopyGBs.toFixed(1)} GB/s. ORT: ${res.ort}.`,
    '',
    'Median µs per call after warm-up, methods interleaved round by round. Activations are batch-contiguous',
    '(Xᵀ [in, B], Yᵀ [out, B]) for our kernels and row-major [B, in] for ORT. "vs dense" is against the faster of',
    'the engine GEMM and our own dense kernel. CSR has the same nnz as the condensed layer, unstructured, u16',
    'columns, and the same inner loops. Batch-1 bandwidth: (values + indices bytes ÷ a same-size copy\'s bandwidth',
    'measured in this run) ÷ condensed time, with the achieved GB/s of values + indices.',
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
    out.push(`- batch 1 within 1.5× of the bandwidth bound: ${(1 / b1.bandwidthFraction!).toFixed(2)}× the bound — ${1 / b1.bandwidthFraction! <= 1.5 ? 'met' : 'not met'}`);
  }
  const slower = res.rows.filter((r) => r.sparsity >= 0.9 && r.speedupVsDense < 1);
  out.push(`- never slower than our dense at sparsity ≥ 0.9: ${slower.length === 0 ? 'met' : `not met at ${slower.map((r) => `${r.inFeatures}→${r.outFeatures} s=${r.sparsity} B=${r.batch}`).join(', ')}`}`);
  for (const B of [64, 256]) {
    const r = at.find((x) => x.batch === B);
    if (r) out.push(`- batch ${B} faster than ORT dense: ${r.speedupVsOrt === null ? 'n/a (ORT missing)' : `${r.speedupVsOrt.toFixed(2)}× — ${r.speedupVsOrt > 1 ? 'met' : 'not met'}`}`);
  }
  return out;
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
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
