// GEMM throughput of every GEMM variant in the kernel table, beside a plain-JS triple loop,
// at the shapes training uses. Contenders run interleaved (round-robin), medians after warm-up.
import { cpus, availableParallelism, loadavg } from 'node:os';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createEngine, isaSupported, type Engine } from '../src/kernels/engine.js';
import { probeFeatures } from '../src/kernels/probe.js';
import { KERNEL_VARIANTS, type KernelVariant } from '../src/kernels/table.js';
import { Rng } from '../src/tensor/rng.js';

export interface KernelBenchOptions {
  /** Thread counts to measure (each must have variants in the table: 1 or 2). Default [1, 2]. */
  threads?: number[];
  /** Print JSON instead of the markdown table. Default false. */
  json?: boolean;
  /** Fewer, shorter repetitions (a smoke run, not for reporting). Default false. */
  quick?: boolean;
}

export interface KernelBenchRow {
  /** Variant name from the kernel table, or `gemm_nn_f32__js_ikj` for the plain-JS loop. */
  name: string;
  form: 'NN' | 'TN' | 'NT';
  M: number;
  K: number;
  N: number;
  isa: string;
  threads: number;
  medianMs: number;
  gflops: number;
}

export interface KernelBenchResult {
  machine: string;
  /** 1-minute load average before and after the run (the machine may be shared). */
  load: [number, number];
  /** Shapes are M×K×N: C[M,N] = A[M,K]·B[K,N] (op(A), op(B) for TN/NT). */
  rows: KernelBenchRow[];
}

/** Training shapes as M×K×N: the MLP's 784→300 and 300→100 layers at batch 128, and a square one. */
const SHAPES: readonly [number, number, number][] = [[128, 784, 300], [128, 300, 100], [512, 512, 512]];
const FORMS = { NN: 'gemmNN', TN: 'gemmTN', NT: 'gemmNT' } as const;

/** The plain-JS baseline: C = A·B over Float32Arrays, ikj order (row of B streamed). */
function jsGemmIkj(M: number, N: number, K: number, a: Float32Array, b: Float32Array, c: Float32Array): void {
  c.fill(0);
  for (let i = 0; i < M; i++) {
    const ci = i * N;
    for (let k = 0; k < K; k++) {
      const aik = a[i * K + k], bk = k * N;
      for (let j = 0; j < N; j++) c[ci + j] += aik * b[bk + j];
    }
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function machineLine(backend: string): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu.trim()}, ${availableParallelism()} cores, Node ${process.version}, ${backend}`;
}

interface Contender {
  name: string;
  isa: string;
  threads: number;
  /** Runs the GEMM once. */
  run: () => void;
  samples: number[];
}

/** Measures every GEMM variant (supported ISA, requested thread counts) and the JS loop. */
export async function benchKernels(opts: KernelBenchOptions = {}): Promise<KernelBenchResult> {
  const threadCounts = opts.threads ?? [1, 2];
  const rounds = opts.quick ? 3 : 9;
  const warmup = opts.quick ? 1 : 2;
  const minSampleMs = opts.quick ? 5 : 40;
  const features = await probeFeatures();
  const variants = KERNEL_VARIANTS.filter((v) => v.op.startsWith('gemm') && isaSupported(v.isa, features) && threadCounts.includes(v.threads));
  const engines = new Map<string, Engine>();
  const engineFor = async (v: KernelVariant): Promise<Engine> => {
    const key = `${v.isa}/${v.threads}`;
    if (!engines.has(key)) engines.set(key, await createEngine(v.engine));
    return engines.get(key)!;
  };
  const rows: KernelBenchRow[] = [];
  const rng = new Rng(1);
  const loadBefore = loadavg()[0];
  try {
    for (const [M, K, N] of SHAPES) {
      const a = Float32Array.from({ length: M * K }, () => rng.normal());
      const b = Float32Array.from({ length: K * N }, () => rng.normal());
      for (const [form, op] of Object.entries(FORMS) as ['NN' | 'TN' | 'NT', (typeof FORMS)[keyof typeof FORMS]][]) {
        const contenders: Contender[] = [];
        if (form === 'NN') {
          const c = new Float32Array(M * N);
          contenders.push({ name: 'gemm_nn_f32__js_ikj', isa: 'js', threads: 1, run: () => jsGemmIkj(M, N, K, a, b, c), samples: [] });
        }
        for (const v of variants.filter((x) => x.op === op)) {
          const e = await engineFor(v);
          const A = e.heap.allocF32(a.length), B = e.heap.allocF32(b.length), C = e.heap.allocF32(M * N);
          e.heap.f32(A, a.length).set(a);
          e.heap.f32(B, b.length).set(b);
          const kernels = e.kernels;
          contenders.push({ name: v.name, isa: v.isa, threads: v.threads, run: () => kernels[op](M, N, K, A, B, C, false), samples: [] });
        }
        // Calls per sample so a sample lasts at least minSampleMs (calibrated once, after a warm-up call).
        const reps = contenders.map((c) => {
          c.run();
          const t0 = performance.now();
          c.run();
          return Math.max(1, Math.ceil(minSampleMs / Math.max(performance.now() - t0, 1e-3)));
        });
        for (let r = 0; r < warmup + rounds; r++) {
          contenders.forEach((c, i) => {
            const t0 = performance.now();
            for (let q = 0; q < reps[i]; q++) c.run();
            if (r >= warmup) c.samples.push((performance.now() - t0) / reps[i]);
          });
        }
        for (const c of contenders) {
          const ms = median(c.samples);
          rows.push({ name: c.name, form, M, K, N, isa: c.isa, threads: c.threads, medianMs: ms, gflops: (2 * M * N * K) / (ms * 1e6) });
        }
      }
    }
  } finally {
    for (const e of engines.values()) await e.close();
  }
  const load: [number, number] = [loadBefore, loadavg()[0]];
  const result = { machine: machineLine(`wasm kernels (probe: simd=${features.simd} relaxed=${features.relaxedSimd} threads=${features.threads})`), load, rows };
  console.log(opts.json ? JSON.stringify(result, null, 2) : formatMarkdown(result));
  return result;
}

/** The result as a markdown table (one row per variant and shape). */
export function formatMarkdown(result: KernelBenchResult): string {
  const lines = [
    `Machine: ${result.machine}`,
    '',
    `Load average (1 min) before / after the run: ${result.load[0].toFixed(2)} / ${result.load[1].toFixed(2)} on ${availableParallelism()} cores.`,
    '',
    'Shapes are M×K×N: C[M,N] = op(A)[M,K] · op(B)[K,N]; GFLOP/s = 2·M·N·K / median time.',
    '',
    '| shape (M×K×N) | form | variant | ISA | threads | median ms | GFLOP/s |',
    '|---|---|---|---|---:|---:|---:|',
  ];
  for (const r of result.rows) {
    lines.push(`| ${r.M}×${r.K}×${r.N} | ${r.form} | ${r.name} | ${r.isa} | ${r.threads} | ${r.medianMs.toFixed(3)} | ${r.gflops.toFixed(1)} |`);
  }
  return lines.join('\n');
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const argv = process.argv.slice(2);
  const threadsArg = argv.find((x) => x.startsWith('--threads='));
  const result = await benchKernels({
    quick: argv.includes('--quick'),
    json: argv.includes('--json'),
    threads: threadsArg ? threadsArg.slice('--threads='.length).split(',').map(Number) : undefined,
  });
  if (argv.includes('--write')) {
    const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
    mkdirSync(dir, { recursive: true });
    const command = `npx tsx bench/kernels.ts ${argv.join(' ')}`.trim();
    writeFileSync(join(dir, 'kernels.json'), JSON.stringify({ command, ...result }, null, 2) + '\n');
    writeFileSync(join(dir, 'kernels.md'), `# Kernel benchmark\n\nCommand: \`${command}\`\n\n${formatMarkdown(result)}\n`);
  }
}
