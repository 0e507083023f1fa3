/**
 * Condensed vit inference benchmark: a vit trained by SRigL at 90% sparsity, run condensed
 * (src/sparse/condensed: token-wise constant-fan-in layers and the condensed ViT kernels) against
 * our dense engine (the training Model's eval forward, masked weights as zeros) and onnxruntime
 * (the model exported by src/io/onnx.ts, dense-equivalent weights), at batch 1 and 256 on one
 * thread. Methods are interleaved round by round and medians are reported after warm-up. The
 * condensed model is timed twice: as CondensedModel runs it by default (the last block computes
 * only the class token, the one token the head reads) and with every token to the end, as the
 * trained model computes.
 *
 *   npx tsx bench/vit-inference.ts [--model FILE] [--quick] [--write]
 *
 * Without --model it first trains the model with the CLI on the embedded Fashion-MNIST subset
 * (TRAIN_ARGS below, a few tens of seconds); --write writes bench/results/vit-inference.md and
 * .json with the exact command. onnxruntime-node is optional (ORT_INSTALL in bench/inference.ts).
 */
import { loadavg } from 'node:os';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.js';
import { machineLine, median } from '../src/cli/timing.js';
import { loadModel } from '../src/io/model.js';
import { ortSession, type OrtModule } from '../src/io/onnx.js';
import { createEngine } from '../src/kernels/engine.js';
import { CondensedModel, condenseModel, nmLayersOf } from '../src/sparse/condensed/model.js';
import { Rng } from '../src/tensor/rng.js';
import { loadOrt, ORT_INSTALL } from './inference.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * How the benchmark trains its model when none is given (after `--data` with the embedded
 * subset): SRigL at 90%, 5 epochs, a topology update every 50 steps, the vit recipe otherwise.
 */
export const TRAIN_ARGS = ['train', '--model', 'vit', '--method', 'srigl', '--sparsity', '0.9', '--epochs', '5', '--delta-t', '50', '--seed', '0', '--threads', '1', '--no-condense', '--quiet'];

export interface VitInferenceBenchOptions {
  /** The trained vit model file (from `srigl train --model vit`). */
  modelPath: string;
  /** Batch sizes. Default 1 and 256. */
  batches?: readonly number[];
  /** Timed rounds per batch size (each method once per round). Default 15 (quick: 5). */
  rounds?: number;
  /** Target milliseconds of one timed sample (calls are repeated to reach it). Default 5 (quick: 2). */
  sampleMs?: number;
  /** Time onnxruntime too when it is installed. Default true. */
  ort?: boolean;
  /** Progress lines. Default: none. */
  log?: (line: string) => void;
  /** One-line notices (the onnxruntime baseline is absent). Default: stderr. */
  notice?: (line: string) => void;
}

export interface VitInferenceRow {
  batch: number;
  /** Median µs per call: dense engine, condensed (class token only in the last block), condensed with every token, onnxruntime. */
  denseUs: number;
  condensedUs: number;
  condensedAllTokensUs: number;
  ortUs: number | null;
  /** denseUs ÷ condensedUs, denseUs ÷ condensedAllTokensUs, ortUs ÷ condensedUs. */
  speedup: number;
  speedupAllTokens: number;
  speedupVsOrt: number | null;
  /** Minima (load only ever adds time). */
  denseMinUs: number;
  condensedMinUs: number;
}

export interface VitInferenceResult {
  machine: string;
  isa: string;
  /** 1-minute load average when the run started and ended (the machine is shared). */
  loadAverage: [number, number];
  ort: string;
  model: {
    path: string;
    /** Global sparsity and method recorded in the file; test accuracy recorded in it. */
    method: string | null;
    sparsity: number | null;
    testAcc: number | null;
    /** Weights of the Linear/Conv2d layers (out × fan-in summed), and the values the condensed model stores (padding included). */
    denseWeights: number;
    storedWeights: number;
    /** Neurons kept of all, over the condensed layers. */
    keptRows: number;
    rows: number;
  };
  /** Largest |logit difference| to the dense model over the first timed batch of 256 (condensed, and ORT). */
  maxAbsDiff: { condensed: number; ort: number | null };
  rounds: number;
  rows: VitInferenceRow[];
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

/**
 * Warms every method up (≥ 50 ms each), sizes its repetitions to about `sampleMs`, then times
 * all of them in interleaved rounds (A B C, A B C, …); returns each one's per-round samples.
 */
async function interleaved(methods: Record<string, Method>, rounds: number, sampleMs: number): Promise<Record<string, number[]>> {
  const names = Object.keys(methods);
  const reps: Record<string, number> = {};
  for (const n of names) {
    for (let t0 = performance.now(); performance.now() - t0 < 50; ) await sample(methods[n], 1);
    const once = await sample(methods[n], 1);
    reps[n] = Math.max(1, Math.min(10000, Math.round((sampleMs * 1e3) / Math.max(once, 0.05))));
  }
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const n of names) times[n].push(await sample(methods[n], reps[n]));
  }
  return times;
}

/** Times the model at each batch size: dense engine, condensed (both ways), onnxruntime. */
export async function benchVitInference(opts: VitInferenceBenchOptions): Promise<VitInferenceResult> {
  const batches = opts.batches ?? [1, 256];
  const rounds = opts.rounds ?? 15;
  const sampleMs = opts.sampleMs ?? 5;
  const log = opts.log ?? (() => {});
  const maxB = Math.max(...batches);
  const load0 = loadavg()[0];
  const engine = await createEngine({ threads: 1 });
  const isa = engine.backend;
  try {
    const { model, info } = loadModel(engine, opts.modelPath, { maxBatch: maxB });
    if (model.spec.arch !== 'vit') throw new Error(`${opts.modelPath}: a ${model.spec.arch} model; this benchmark times a vit`);
    const { net, report } = condenseModel(model, { nm: nmLayersOf(info.sparse) });
    const condensed = new CondensedModel(engine, net, { maxBatch: maxB });
    const allTokens = new CondensedModel(engine, net, { maxBatch: maxB, classTokenOnly: false });
    const ort: OrtModule | null = opts.ort === false ? null : ((await loadOrt()) as unknown as OrtModule | null);
    const ortName = ort ? 'onnxruntime-node (intra-op threads 1), the model exported by src/io/onnx.ts' : 'n/a (onnxruntime-node not installed)';
    if (opts.ort !== false && !ort) (opts.notice ?? ((l: string) => process.stderr.write(l + '\n')))(`onnxruntime-node baseline not installed (${ORT_INSTALL} adds it); measuring the rest`);
    const session = ort ? await ortSession(ort, model, { threads: 1, sessionOptions: { executionMode: 'sequential', graphOptimizationLevel: 'all' } }) : null;
    const machine = `${machineLine()} (V8 ${process.versions.v8}), wasm ${isa}`;
    log(`# ${machine}; load average ${load0.toFixed(2)}; ORT: ${ortName}`);

    const rng = new Rng(2025);
    const inputs = Float32Array.from({ length: maxB * model.inputSize }, () => rng.normal());
    const dense = (B: number): Float32Array => {
      model.inputs.set(inputs.subarray(0, B * model.inputSize));
      model.forward(B, false);
      return model.logits(B).slice();
    };
    const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
    const want = dense(maxB);
    const maxAbsDiff = {
      condensed: Math.max(maxDiff(condensed.predict(inputs, maxB), want), maxDiff(allTokens.predict(inputs, maxB), want)),
      ort: session ? maxDiff(await session.run(inputs.subarray(0, maxB * model.inputSize), maxB), want) : null,
    };
    log(`# largest |logit difference| to the dense model at batch ${maxB}: condensed ${maxAbsDiff.condensed.toExponential(2)}, ORT ${maxAbsDiff.ort?.toExponential(2) ?? 'n/a'}`);

    const rows: VitInferenceRow[] = [];
    for (const B of batches) {
      const x = inputs.subarray(0, B * model.inputSize);
      const methods: Record<string, Method> = {
        dense: () => {
          dense(B);
        },
        condensed: () => {
          condensed.predict(x, B);
        },
        allTokens: () => {
          allTokens.predict(x, B);
        },
      };
      if (session) methods.ort = () => session.run(x, B);
      const t = await interleaved(methods, rounds, sampleMs);
      const med = (n: string) => median(t[n]);
      const row: VitInferenceRow = {
        batch: B, denseUs: med('dense'), condensedUs: med('condensed'), condensedAllTokensUs: med('allTokens'), ortUs: session ? med('ort') : null,
        speedup: med('dense') / med('condensed'), speedupAllTokens: med('dense') / med('allTokens'), speedupVsOrt: session ? med('ort') / med('condensed') : null,
        denseMinUs: Math.min(...t.dense), condensedMinUs: Math.min(...t.condensed),
      };
      rows.push(row);
      log(formatRow(row));
    }
    await session?.release();
    const metrics = info.metrics as { testAcc?: number } | undefined;
    const sparse = info.sparse as { method?: string; sparsity?: number } | undefined;
    return {
      machine, isa, loadAverage: [load0, loadavg()[0]], ort: ortName, rounds, maxAbsDiff, rows,
      model: {
        path: opts.modelPath, method: sparse?.method ?? null, sparsity: sparse?.sparsity ?? null, testAcc: metrics?.testAcc ?? null,
        denseWeights: report.reduce((a, r) => a + r.out * r.fanIn, 0), storedWeights: report.reduce((a, r) => a + r.nActive * r.k, 0),
        keptRows: report.reduce((a, r) => a + r.nActive, 0), rows: report.reduce((a, r) => a + r.out, 0),
      },
    };
  } finally {
    await engine.close();
  }
}

const f1 = (v: number) => (v >= 1000 ? v.toFixed(0) : v.toPrecision(3));
const fx = (v: number | null) => (v === null ? 'n/a' : `${v.toFixed(2)}×`);

function formatRow(r: VitInferenceRow): string {
  return `| ${r.batch} | ${f1(r.denseUs)} | ${f1(r.condensedUs)} | ${f1(r.condensedAllTokensUs)} | ${r.ortUs === null ? 'n/a' : f1(r.ortUs)} | ${fx(r.speedup)} | ${fx(r.speedupAllTokens)} | ${fx(r.speedupVsOrt)} | ${f1(r.denseMinUs)} / ${f1(r.condensedMinUs)} |`;
}

const HEADER = [
  '| batch | dense engine µs | condensed µs | condensed, every token µs | ORT µs | vs dense | every token vs dense | vs ORT | min dense / condensed µs |',
  '|---|---|---|---|---|---|---|---|---|',
];

/** Markdown report: command, machine line, the model, the table and the target checked. */
export function vitInferenceMarkdown(res: VitInferenceResult, command: string, trainCommand: string | null): string {
  const m = res.model;
  const b1 = res.rows.find((r) => r.batch === 1);
  return [
    '# Condensed vit inference',
    '',
    `Command: \`${command}\``,
    '',
    `Machine: ${res.machine}. Load average (1 min) ${res.loadAverage[0].toFixed(2)} at the start, ${res.loadAverage[1].toFixed(2)} at the end. ORT: ${res.ort}.`,
    '',
    trainCommand === null
      ? `Model: ${m.path}.`
      : `Model: trained for this run by \`${trainCommand}\` (the embedded Fashion-MNIST subset, 10,000 training images).`,
    `${m.method ?? 'unknown method'} at sparsity ${m.sparsity ?? '?'}, test accuracy ${m.testAcc === null ? '?' : `${(100 * m.testAcc).toFixed(2)}%`}; the condensed model stores ${m.storedWeights.toLocaleString('en-US')} of ${m.denseWeights.toLocaleString('en-US')} weights (the patch embedding dense) and keeps ${m.keptRows} of ${m.rows} neurons.`,
    `Largest |logit difference| to the dense model over a batch of 256 random inputs: condensed ${res.maxAbsDiff.condensed.toExponential(2)}, ORT ${res.maxAbsDiff.ort === null ? 'n/a' : res.maxAbsDiff.ort.toExponential(2)}.`,
    '',
    `Median µs per call after warm-up over ${res.rounds} rounds, one thread, methods interleaved round by round (input copy-in and`,
    'logits copy-out included). Dense engine: the training Model\'s eval forward (GEMMs over the masked weights).',
    'Condensed: CondensedModel as it runs by default, the last block computing only the class token (the one token the',
    'head reads; keys and values still cover every token); "every token": the same model with classTokenOnly false,',
    'every token to the end as the trained model computes. ORT: onnxruntime-node on the ONNX export (dense-equivalent',
    'weights), graph optimisations on.',
    '',
    ...HEADER,
    ...res.rows.map(formatRow),
    '',
    '## Target: condensed ≥ 3× our dense engine at batch 1',
    '',
    b1 ? `- ${b1.speedup.toFixed(2)}× (every token: ${b1.speedupAllTokens.toFixed(2)}×) — ${b1.speedup >= 3 ? 'met' : 'not met'}` : '- batch 1 not measured',
    '',
  ].join('\n');
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const at = argv.indexOf('--model');
  const given = at >= 0 ? argv[at + 1] : null;
  if (given !== null && (given === undefined || given.startsWith('--'))) throw new Error('--model needs a FILE');
  let modelPath: string | null = given;
  const command = `${process.execArgv.includes('--experimental-wasm-relaxed-simd') ? 'node --experimental-wasm-relaxed-simd --import tsx' : 'npx tsx'} bench/vit-inference.ts${argv.length ? ` ${argv.join(' ')}` : ''}`;
  let tmp: string | null = null;
  let trainCommand: string | null = null;
  try {
    if (modelPath === null) {
      tmp = mkdtempSync(join(tmpdir(), 'srigl-vit-bench-'));
      trainCommand = `srigl ${[...TRAIN_ARGS, '--data', 'data/fashion-mnist-subset'].join(' ')} --out DIR`;
      console.log(`# training: ${trainCommand}`);
      const err: string[] = [];
      const code = await main([...TRAIN_ARGS, '--data', join(ROOT, 'data', 'fashion-mnist-subset'), '--out', tmp], { stdout: { write: () => true }, stderr: { write: (s: string) => (err.push(s), true) } });
      if (code !== 0) throw new Error(`training failed (exit ${code}): ${err.join('')}`);
      modelPath = join(tmp, 'model.safetensors');
    }
    console.log(HEADER.join('\n'));
    if (modelPath === null) throw new Error('unreachable: no model');
    const res = await benchVitInference({ modelPath, rounds: quick ? 5 : undefined, sampleMs: quick ? 2 : undefined, log: (l) => console.log(l) });
    if (tmp !== null) res.model.path = '(trained for this run)';
    else res.model.path = relative(ROOT, modelPath);
    const b1 = res.rows.find((r) => r.batch === 1);
    if (b1) console.log(`batch 1: condensed ${b1.speedup.toFixed(2)}× the dense engine (target 3×)`);
    if (argv.includes('--write')) {
      const dir = join(ROOT, 'bench', 'results');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'vit-inference.md'), vitInferenceMarkdown(res, command, trainCommand));
      writeFileSync(join(dir, 'vit-inference.json'), JSON.stringify({ command, trainCommand, date: new Date().toISOString(), ...res }, null, 2) + '\n');
      console.log(`wrote ${join(dir, 'vit-inference.md')} and vit-inference.json`);
    }
  } finally {
    if (tmp !== null) rmSync(tmp, { recursive: true, force: true });
  }
}
