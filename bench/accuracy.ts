// Accuracy sweep: dense, static, SET, RigL, SRigL without and with neuron ablation on full
// Fashion-MNIST, at several sparsities, with the paper's small-scale recipe (SGD Nesterov 0.9,
// cosine lr, weight decay 5e-4, batch 128, ERK, ΔT 100, α 0.3, T_end 0.75, γ_sal 0.3).
//
// Resumable: each configuration writes one JSON file under bench/results/accuracy/ and is
// skipped when that file exists; a run in progress checkpoints every epoch into <id>.run/ there,
// and a sweep started after an interruption resumes it from that checkpoint (bit-identically).
// A finished run's model, metrics and curves stay in <id>.out/ (not committed).
// After every run (and with --summary-only) accuracy.md and accuracy.json are regenerated from
// whatever results exist, missing ones marked.
//
//   npx tsx bench/accuracy.ts                      # full sweep: mlp and cnn
//   npx tsx bench/accuracy.ts --models mlp --threads 2
//   npx tsx bench/accuracy.ts --summary-only
//   npx tsx bench/accuracy.ts --models cnn --jobs 2 --threads 1   # two runs at once, one core each
//
// Several sweeps (--jobs N in one process, or several processes) share the work: a run is
// claimed by creating <id>.lock next to its result (exclusive create); its holder refreshes it
// every minute, and a lock whose process is gone or that went 5 minutes unrefreshed is taken over.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawn } from 'node:child_process';
import { lineChart, type Series } from '../src/cli/plot.js';
import { readMetrics } from '../src/cli/resume.js';
import { latestCheckpoint, listCheckpoints } from '../src/io/checkpoint.js';

export const METHODS = ['dense', 'static', 'set', 'rigl', 'srigl-no-ablation', 'srigl-ablation'] as const;
export type SweepMethod = (typeof METHODS)[number];
const MODELS = ['mlp', 'cnn'] as const;
/**
 * Linear warm-up epochs per model, the same for every method. The cnn has no batch norm and at
 * the recipe's lr 0.1 its first steps blow up (loss to ln 10, every ReLU dead) for dense and
 * sparse alike; one epoch of warm-up trains it. The mlp needs none.
 */
const WARMUP_EPOCHS: Record<string, number> = { mlp: 0, cnn: 1 };

export interface SweepOptions {
  models: string[];
  methods: SweepMethod[];
  sparsities: number[];
  /** Seeds run at every sparsity in `multiSeedAt` (and for dense); other sparsities run the first seed only. */
  seeds: number[];
  multiSeedAt: number[];
  epochs: number;
  lr: number;
  /** Overrides WARMUP_EPOCHS for every model when set. */
  warmupEpochs?: number;
  threads: number;
  data?: string;
  limitTrain?: number;
  resultsDir: string;
  summaryOnly: boolean;
  /** A run still going after this many minutes is killed and reported failed. Default 60. */
  timeoutMinutes: number;
  /** Runs trained at the same time by this process (each with `threads` kernel threads). Default 1. */
  jobs: number;
}

export interface SweepConfig {
  id: string;
  model: string;
  method: SweepMethod;
  /** null for dense. */
  sparsity: number | null;
  seed: number;
  epochs: number;
  lr: number;
  /** Linear warm-up epochs (absent in results from before warm-up existed: 0). */
  warmupEpochs?: number;
  /** γ_sal for SRigL when not the recipe's 0.3 (bench/gamma-sal.ts). */
  gammaSal?: number;
}

export interface LayerResult {
  name: string;
  out: number;
  fanIn: number;
  nnz: number;
  density: number;
  k: number | null;
  ablatedNeurons: number;
}

export interface SweepResult extends SweepConfig {
  testAcc: number;
  testLoss: number;
  trainAcc: number;
  wallSeconds: number;
  /** Test accuracy after each epoch. */
  history: number[];
  nnz: number;
  totalWeights: number;
  updates: number;
  layers: LayerResult[];
  argv: string[];
  machine: string;
  /** Runs this sweep process trained at the same time (wall time is per run, under that sharing). */
  concurrentJobs?: number;
  /** Set when the run was resumed from an interrupted attempt's checkpoint at this step (same result; wall time counts every attempt's epochs). */
  resumedFromStep?: number;
  /** Set when this result is another study's run with the identical `srigl train` command line (runs are deterministic), not trained again: that result's file, relative to the results directory. */
  reusedFrom?: string;
  date: string;
}

/** The repository root: the nearest ancestor holding package.json (works from bench/ and dist/bench/). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

const ROOT = repoRoot();

export function configId(c: Omit<SweepConfig, 'id'>): string {
  const s = c.sparsity === null ? 'dense' : `s${c.sparsity.toFixed(2)}`;
  const w = c.warmupEpochs ?? 0;
  return `${c.model}_${c.method}_${s}_seed${c.seed}_e${c.epochs}_lr${c.lr}${w > 0 ? `_w${w}` : ''}${c.gammaSal !== undefined ? `_g${c.gammaSal}` : ''}`;
}

/** Every configuration of the grid, in the order they run: the most telling ones first. */
export function sweepConfigs(o: SweepOptions): SweepConfig[] {
  const list: SweepConfig[] = [];
  const add = (c: Omit<SweepConfig, 'id'>): void => {
    list.push({ id: configId(c), ...c });
  };
  const [first, ...more] = o.seeds;
  // Sparsities with several seeds first, then the rest, in the order given.
  const order = [...o.sparsities.filter((s) => o.multiSeedAt.includes(s)), ...o.sparsities.filter((s) => !o.multiSeedAt.includes(s))];
  for (const model of o.models) {
    const base = { model, epochs: o.epochs, lr: o.lr, warmupEpochs: o.warmupEpochs ?? WARMUP_EPOCHS[model] ?? 0 };
    if (o.methods.includes('dense')) add({ ...base, method: 'dense', sparsity: null, seed: first });
    for (const s of order) for (const m of o.methods) if (m !== 'dense') add({ ...base, method: m, sparsity: s, seed: first });
    for (const seed of more) {
      if (o.methods.includes('dense')) add({ ...base, method: 'dense', sparsity: null, seed });
      for (const s of order.filter((x) => o.multiSeedAt.includes(x))) for (const m of o.methods) if (m !== 'dense') add({ ...base, method: m, sparsity: s, seed });
    }
  }
  return list;
}

function machineLine(threads: number): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu}, ${availableParallelism()} cores available, ${threads} kernel thread(s), Node ${process.version}`;
}

function trainArgv(c: SweepConfig, o: SweepOptions, outDir: string): string[] {
  const argv = [
    'train', '--model', c.model, '--epochs', String(c.epochs), '--lr', String(c.lr), '--batch-size', '128',
    '--optimizer', 'sgd', '--momentum', '0.9', '--nesterov', '--weight-decay', '5e-4', '--schedule', 'cosine',
    '--seed', String(c.seed), '--threads', String(o.threads), '--out', outDir, '--json', '--quiet',
  ];
  if ((c.warmupEpochs ?? 0) > 0) argv.push('--warmup-epochs', String(c.warmupEpochs));
  if (o.data !== undefined) argv.push('--data', o.data);
  if (o.limitTrain !== undefined) argv.push('--limit-train', String(o.limitTrain));
  if (c.method === 'dense') return [...argv, '--method', 'dense'];
  const method = c.method.startsWith('srigl') ? 'srigl' : c.method;
  argv.push('--method', method, '--sparsity', String(c.sparsity), '--distribution', 'erk');
  if (method !== 'static') argv.push('--delta-t', '100', '--alpha', '0.3', '--t-end', '0.75');
  if (method === 'srigl') argv.push(c.method === 'srigl-ablation' ? '--ablation' : '--no-ablation', '--gamma-sal', String(c.gammaSal ?? 0.3));
  return argv;
}

/** The `srigl train` command line a result records for configuration `c`: what it was trained with, less its output directory. */
export function recordedArgv(c: SweepConfig, o: SweepOptions): string[] {
  const argv = trainArgv(c, o, '');
  return argv.filter((a, i) => a !== '--out' && argv[i - 1] !== '--out');
}

/**
 * A result in `dir` trained with exactly the command line configuration `c` would use (same
 * model, method, sparsity, seed, recipe, data, kernel threads, γ_sal), or null. Training is
 * deterministic for a given command line and thread count, so such a result is this
 * configuration's result and need not be trained again.
 */
export function findIdenticalRun(c: SweepConfig, o: SweepOptions, dir: string): SweepResult | null {
  const want = JSON.stringify(recordedArgv(c, o));
  for (const r of loadResults(dir).values()) if (JSON.stringify(r.argv) === want) return r;
  return null;
}

/**
 * The `srigl` command line for configuration `c` in `runDir`: `train --resume runDir` when an
 * earlier, interrupted attempt left a readable checkpoint there (resuming is bit-identical, so
 * the result is the same as an uninterrupted run's), else a fresh run writing to `runDir`.
 */
export function runCommand(c: SweepConfig, o: SweepOptions, runDir: string): { argv: string[]; resumedFromStep: number | null } {
  const ckpt = existsSync(runDir) ? latestCheckpoint(runDir, () => {}) : null;
  if (ckpt === null) {
    rmSync(runDir, { recursive: true, force: true });
    return { argv: trainArgv(c, o, runDir), resumedFromStep: null };
  }
  const argv = ['train', '--resume', runDir, '--threads', String(o.threads), '--json', '--quiet'];
  if (o.data !== undefined) argv.push('--data', o.data);
  return { argv, resumedFromStep: ckpt.step };
}

/**
 * Trains configuration `c` in `runDir` (kept while the run is unfinished, with a checkpoint per
 * epoch, so a sweep killed mid-run resumes it from its last epoch). Once the result is read the
 * run's model, metrics, summary and curves move to `keepDir` (for later analysis, e.g.
 * bench/fan-in.ts) and its checkpoints are removed; without `keepDir` all of it is removed.
 * The caller must hold the configuration's claim.
 */
export async function runConfig(c: SweepConfig, o: SweepOptions, runDir: string, keepDir?: string): Promise<SweepResult> {
  const { argv, resumedFromStep } = runCommand(c, o, runDir);
  const { code, out, err } = await runChild(argv, o.timeoutMinutes * 60_000);
  if (code !== 0) throw new Error(`srigl ${argv.join(' ')} exited ${code}: ${err.trim().split('\n').slice(-3).join(' / ')}`);
  const summary = JSON.parse(out);
  const history = readMetrics<{ testAcc: number }>(join(runDir, 'metrics.jsonl')).map((m) => m.testAcc);
  const sparse = summary.sparse;
  const result: SweepResult = {
    ...c,
    testAcc: summary.final.testAcc,
    testLoss: summary.final.testLoss,
    trainAcc: summary.final.trainAcc,
    wallSeconds: summary.final.wallSeconds,
    history,
    nnz: sparse.nnz,
    totalWeights: sparse.totalWeights,
    updates: sparse.updates,
    layers: sparse.layers.map((l: LayerResult) => ({ name: l.name, out: l.out, fanIn: l.fanIn, nnz: l.nnz, density: l.density, k: l.k, ablatedNeurons: l.ablatedNeurons })),
    argv: recordedArgv(c, o),
    machine: machineLine(o.threads),
    concurrentJobs: o.jobs,
    ...(resumedFromStep !== null ? { resumedFromStep } : {}),
    date: new Date().toISOString(),
  };
  if (keepDir === undefined) {
    rmSync(runDir, { recursive: true, force: true });
  } else {
    for (const { path } of listCheckpoints(runDir)) rmSync(path, { force: true });
    rmSync(keepDir, { recursive: true, force: true });
    renameSync(runDir, keepDir);
  }
  return result;
}

/**
 * Runs `srigl` in a child process (same Node flags, so tsx works from source), killed after
 * `timeoutMs`: one run that hangs or crashes cannot stop the sweep, and every run starts from
 * the code and kernels on disk at that moment.
 */
function runChild(argv: string[], timeoutMs: number): Promise<{ code: number; out: string; err: string }> {
  const here = fileURLToPath(import.meta.url);
  const cli = fileURLToPath(new URL(`../src/cli/main${here.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [...process.execArgv, cli, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      err += `\ntimed out after ${Math.round(timeoutMs / 60_000)} min`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? 1, out, err });
    });
  });
}

/** A lock not refreshed for this long is stale, whoever wrote it (its holder refreshes it every HEARTBEAT_MS). */
export const LOCK_STALE_MS = 5 * 60_000;
const HEARTBEAT_MS = 60_000;

/**
 * Claims a run by creating its lock file exclusively. Returns null when claimed, else a
 * description of the live holder. A lock is live while its holder keeps refreshing it (see
 * `holdLock`) and, on this host, while its process exists; any other lock (a killed sweep, a
 * machine that went away, a pid reused after a reboot) is taken over.
 */
export function claim(lock: string): string | null {
  const now = Date.now();
  const me = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date(now).toISOString() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, me, { flag: 'wx' });
      return null;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let held: { pid?: number; host?: string; since?: string } = {};
    let fresh = false;
    try {
      fresh = now - statSync(lock).mtimeMs < LOCK_STALE_MS;
      held = JSON.parse(readFileSync(lock, 'utf8')) as typeof held;
    } catch {
      // Unreadable or half-written (a writer killed mid-write): stale.
    }
    const alive = fresh && typeof held.host === 'string' && (held.host !== hostname() || (typeof held.pid === 'number' && pidAlive(held.pid)));
    if (alive) return `pid ${held.pid} on ${held.host} since ${held.since}`;
    rmSync(lock, { force: true });
  }
  return 'another sweep (lock re-created while taking it over)';
}

/** Keeps a claimed lock fresh while its run goes on; `release` stops that and removes the lock. */
export function holdLock(lock: string): { release: () => void } {
  const timer = setInterval(() => {
    try {
      const t = new Date();
      utimesSync(lock, t, t);
    } catch {
      // Removed under us (taken over as stale): nothing to refresh.
    }
  }, HEARTBEAT_MS);
  timer.unref();
  return {
    release: () => {
      clearInterval(timer);
      rmSync(lock, { force: true });
    },
  };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function loadResults(dir: string): Map<string, SweepResult> {
  const results = new Map<string, SweepResult>();
  if (!existsSync(dir)) return results;
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as SweepResult;
    results.set(r.id, r);
  }
  return results;
}

const pct = (x: number): string => (100 * x).toFixed(2);

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** "88.12" for one seed, "88.12 ± 0.10 (2)" (mean ± half the range, seeds) for several, "—" when none. */
function cell(rs: SweepResult[]): string {
  if (rs.length === 0) return '—';
  const accs = rs.map((r) => r.testAcc);
  if (accs.length === 1) return pct(accs[0]);
  return `${pct(mean(accs))} ± ${pct((Math.max(...accs) - Math.min(...accs)) / 2)} (${accs.length})`;
}

/**
 * Test accuracy (mean over seeds) against sparsity, one line per method, the dense model as a
 * dashed level. The x axis is log density (80%, 90%, 95%, 99% sparsity are density 20, 10, 5, 1%),
 * so high sparsities are not crowded together. Null when no sparse result exists yet.
 */
export function accuracyChart(model: string, rs: readonly SweepResult[], o: Pick<SweepOptions, 'sparsities' | 'methods'>): string | null {
  const x = (s: number): number => -Math.log10(1 - s);
  const sparsities = [...o.sparsities].sort((a, b) => a - b);
  const series: Series[] = [];
  for (const m of o.methods.filter((v) => v !== 'dense')) {
    const points = sparsities
      .map((s) => [s, rs.filter((r) => r.method === m && r.sparsity === s)] as const)
      .filter(([, at]) => at.length > 0)
      .map(([s, at]) => [x(s), 100 * mean(at.map((r) => r.testAcc))] as const);
    if (points.length > 0) series.push({ name: m, points });
  }
  if (series.length === 0) return null;
  const dense = rs.filter((r) => r.method === 'dense');
  if (dense.length > 0) {
    const level = 100 * mean(dense.map((r) => r.testAcc));
    const xs = sparsities.map(x);
    series.unshift({ name: 'dense', points: [[Math.min(...xs), level], [Math.max(...xs), level]], dashed: true });
  }
  return lineChart({
    title: `${model}, Fashion-MNIST: test accuracy against sparsity`,
    xLabel: 'sparsity (log density scale)',
    yLabel: 'test accuracy (%)',
    series,
    xTicks: sparsities.map((s) => ({ value: x(s), label: `${Number((100 * s).toFixed(2))}%` })),
  });
}

/** Regenerates accuracy.md and accuracy.json from the result files, marking missing configurations. */
export function writeSummary(given: SweepOptions): { md: string; present: number; missing: number } {
  // Columns in ascending sparsity, whatever order the runs were queued in.
  const o = { ...given, sparsities: [...given.sparsities].sort((a, b) => a - b) };
  const dir = join(o.resultsDir, 'accuracy');
  const results = loadResults(dir);
  const all = [...results.values()].filter((r) => r.epochs === o.epochs && r.lr === o.lr);
  // A run restricted to some models still summarises every model with results on disk.
  const models = MODELS.filter((m) => o.models.includes(m) || all.some((r) => r.model === m));
  const grid = sweepConfigs({ ...o, models });
  const missing = grid.filter((c) => !results.has(c.id));
  const lines: string[] = [
    '# Accuracy sweep: Fashion-MNIST',
    '',
    `Produced by \`npx tsx bench/accuracy.ts --models ${models.join(',')} --seeds ${o.seeds.join(',')} --multi-seed-at ${o.multiSeedAt.join(',')} --epochs ${o.epochs} --lr ${o.lr}\` (resumable; one result file per`,
    'configuration in `bench/results/accuracy/`). Recipe: SGD Nesterov momentum 0.9, cosine lr, weight decay 5e-4,',
    `batch 128, ${o.epochs} epochs, peak lr ${o.lr} (cnn: after ${o.warmupEpochs ?? WARMUP_EPOCHS.cnn} epoch(s) of linear warm-up, every method: without it the cnn diverges at lr ${o.lr}); sparse: ERK, ΔT 100, α 0.3, T_end 0.75, γ_sal 0.3; sparse-aware Kaiming init for every`,
    'method (dense included). The mlp keeps every layer sparse; the cnn keeps its first conv dense (as the paper\'s ResNets).',
    'Test accuracy in %, full 10,000-example test set, after the last epoch; several seeds: mean ± half-range (seeds).',
    '',
    `Machine: ${[...new Set(all.map((r) => r.machine))].join('; ') || '—'}. Wall times are indicative (shared machine).`,
    '',
  ];
  const json: Record<string, unknown> = { options: { ...o, resultsDir: undefined, timeoutMinutes: undefined }, results: all, missing: missing.map((c) => c.id) };
  const patterns: Record<string, unknown> = {};
  for (const model of models) {
    const rs = all.filter((r) => r.model === model);
    lines.push(`## ${model}`, '');
    const dense = rs.filter((r) => r.method === 'dense');
    lines.push(`Dense: ${cell(dense)}${dense.length > 0 ? `, ${Math.round(mean(dense.map((r) => r.wallSeconds)))} s per run` : ''}.`, '');
    lines.push(`| method | ${o.sparsities.map((s) => `${s * 100}%`).join(' | ')} |`, `|---|${o.sparsities.map(() => '---|').join('')}`);
    const at = (m: string, s: number): SweepResult[] => rs.filter((r) => r.method === m && r.sparsity === s);
    for (const m of o.methods.filter((x) => x !== 'dense')) lines.push(`| ${m} | ${o.sparsities.map((s) => cell(at(m, s))).join(' | ')} |`);
    lines.push('');
    const svg = accuracyChart(model, rs, o);
    if (svg !== null) {
      writeAtomic(join(o.resultsDir, `accuracy-${model}.svg`), svg);
      lines.push(`![${model}: test accuracy against sparsity, per method](accuracy-${model}.svg)`, '');
    }
    // The paper's pattern, as differences of means (percentage points).
    const diff = (a: string, b: string, s: number): number | null => {
      const x = at(a, s);
      const y = at(b, s);
      return x.length === 0 || y.length === 0 ? null : 100 * (mean(x.map((r) => r.testAcc)) - mean(y.map((r) => r.testAcc)));
    };
    const fmt = (d: number | null): string => (d === null ? '—' : `${d >= 0 ? '+' : ''}${d.toFixed(2)}`);
    const rows: [string, string, string][] = [
      ['SRigL+ablation − RigL', 'srigl-ablation', 'rigl'],
      ['SRigL+ablation − SRigL no ablation', 'srigl-ablation', 'srigl-no-ablation'],
      ['RigL − static', 'rigl', 'static'],
      ['SET − static', 'set', 'static'],
      ['SRigL+ablation − static', 'srigl-ablation', 'static'],
      ['SRigL no ablation − static', 'srigl-no-ablation', 'static'],
    ];
    lines.push('Differences in points (the paper: SRigL+ablation ≈ RigL up to 95%; ablation ahead of no ablation at 99%; every dynamic method ahead of static):', '');
    lines.push(`| difference | ${o.sparsities.map((s) => `${s * 100}%`).join(' | ')} |`, `|---|${o.sparsities.map(() => '---|').join('')}`);
    const pm: Record<string, (number | null)[]> = {};
    for (const [label, a, b] of rows) {
      const ds = o.sparsities.map((s) => diff(a, b, s));
      pm[label] = ds;
      lines.push(`| ${label} | ${ds.map(fmt).join(' | ')} |`);
    }
    patterns[model] = pm;
    lines.push('');
    lines.push('Per run: nnz (of all Linear/Conv2d weights), per-layer nnz / fan-in k / ablated neurons, topology updates, wall time:', '');
    lines.push('| method | sparsity | seed | test % | nnz | layers: nnz / k / ablated | updates | wall s |', '|---|---|---|---|---|---|---|---|');
    const sorted = [...rs].sort((a, b) => (a.sparsity ?? 0) - (b.sparsity ?? 0) || METHODS.indexOf(a.method) - METHODS.indexOf(b.method) || a.seed - b.seed);
    for (const r of sorted) {
      const layers = r.layers.map((l) => `${l.name} ${l.nnz}/${l.k ?? '-'}/${l.ablatedNeurons}`).join(', ');
      lines.push(`| ${r.method} | ${r.sparsity ?? '-'} | ${r.seed} | ${pct(r.testAcc)} | ${r.nnz} / ${r.totalWeights} | ${layers} | ${r.updates} | ${Math.round(r.wallSeconds)} |`);
    }
    lines.push('');
  }
  json.patterns = patterns;
  if (missing.length > 0) lines.push(`## Missing (${missing.length} of ${grid.length} configurations not run yet)`, '', ...missing.map((c) => `- ${c.id}`), '');
  const md = lines.join('\n');
  mkdirSync(o.resultsDir, { recursive: true });
  writeAtomic(join(o.resultsDir, 'accuracy.md'), md);
  writeAtomic(join(o.resultsDir, 'accuracy.json'), JSON.stringify(json, null, 2) + '\n');
  return { md, present: grid.length - missing.length, missing: missing.length };
}

/**
 * Trains configuration `c` into `dir`/<id>.json unless that result exists ('present') or another
 * sweep holds its claim ('claimed', logged); otherwise claims it, keeps the lock fresh while the
 * run goes on (resuming an interrupted attempt in <id>.run/, keeping the finished run in
 * <id>.out/), logs the outcome and releases the claim ('ran', also when the run failed).
 */
export async function runClaimed(c: SweepConfig, o: SweepOptions, dir: string, tag: string, log: (s: string) => void): Promise<'present' | 'claimed' | 'ran'> {
  const path = join(dir, `${c.id}.json`);
  if (existsSync(path)) return 'present';
  const lock = join(dir, `${c.id}.lock`);
  const holder = claim(lock);
  if (holder !== null) {
    log(`${tag}: claimed by ${holder}, skipped`);
    return 'claimed';
  }
  log(`${tag}: running`);
  const held = holdLock(lock);
  try {
    const r = await runConfig(c, o, join(dir, `${c.id}.run`), join(dir, `${c.id}.out`));
    writeAtomic(path, JSON.stringify(r, null, 2) + '\n');
    log(`${tag}: test ${pct(r.testAcc)}%, ${Math.round(r.wallSeconds)} s`);
  } catch (e) {
    log(`${tag}: FAILED: ${(e as Error).message}`);
  } finally {
    held.release();
  }
  return 'ran';
}

export async function runSweep(o: SweepOptions, log: (s: string) => void = (s) => process.stderr.write(s + '\n')): Promise<void> {
  const dir = join(o.resultsDir, 'accuracy');
  mkdirSync(dir, { recursive: true });
  if (!o.summaryOnly) {
    const grid = sweepConfigs(o);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < grid.length) {
        const i = next++;
        const c = grid[i];
        const tag = `[${i + 1}/${grid.length}] ${c.id}`;
        const outcome = await runClaimed(c, o, dir, tag, log);
        if (outcome === 'present') log(`${tag}: done already`);
        if (outcome !== 'ran') continue;
        writeSummary(o);
      }
    };
    await Promise.all(Array.from({ length: o.jobs }, worker));
  }
  const s = writeSummary(o);
  log(`summary: ${s.present} configurations present, ${s.missing} missing → ${join(o.resultsDir, 'accuracy.md')}`);
}

export function parseList<T>(raw: string, what: string, conv: (s: string) => T, ok: (v: T) => boolean): T[] {
  const vs = raw.split(',').map((s) => conv(s.trim()));
  for (const v of vs) if (!ok(v)) throw new Error(`--${what}: bad value ${String(v)} in "${raw}"`);
  return vs;
}

export function parseSweepArgs(argv: readonly string[]): SweepOptions {
  const o: SweepOptions = {
    models: [...MODELS],
    methods: [...METHODS],
    sparsities: [0.8, 0.9, 0.95, 0.99],
    seeds: [0, 1],
    multiSeedAt: [0.9, 0.99],
    epochs: 20,
    lr: 0.1,
    threads: Math.min(2, availableParallelism()),
    resultsDir: join(ROOT, 'bench', 'results'),
    summaryOnly: false,
    timeoutMinutes: 60,
    jobs: 1,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--models': o.models = parseList(val(), 'models', String, (v) => (MODELS as readonly string[]).includes(v)); break;
      case '--methods': o.methods = parseList(val(), 'methods', (s) => s as SweepMethod, (v) => METHODS.includes(v)); break;
      case '--sparsities': o.sparsities = parseList(val(), 'sparsities', Number, (v) => v > 0 && v < 1); break;
      case '--seeds': o.seeds = parseList(val(), 'seeds', Number, (v) => Number.isInteger(v) && v >= 0); break;
      case '--multi-seed-at': o.multiSeedAt = parseList(val(), 'multi-seed-at', Number, (v) => v > 0 && v < 1); break;
      case '--epochs': o.epochs = parseList(val(), 'epochs', Number, (v) => Number.isInteger(v) && v >= 1)[0]; break;
      case '--lr': o.lr = parseList(val(), 'lr', Number, (v) => v > 0)[0]; break;
      case '--warmup-epochs': o.warmupEpochs = parseList(val(), 'warmup-epochs', Number, (v) => v >= 0)[0]; break;
      case '--jobs': o.jobs = parseList(val(), 'jobs', Number, (v) => Number.isInteger(v) && v >= 1)[0]; break;
      case '--threads': o.threads = parseList(val(), 'threads', Number, (v) => Number.isInteger(v) && v >= 1)[0]; break;
      case '--data': o.data = val(); break;
      case '--limit-train': o.limitTrain = parseList(val(), 'limit-train', Number, (v) => Number.isInteger(v) && v >= 1)[0]; break;
      case '--results': o.resultsDir = val(); break;
      case '--summary-only': o.summaryOnly = true; break;
      case '--timeout-min': o.timeoutMinutes = parseList(val(), 'timeout-min', Number, (v) => v > 0)[0]; break;
      case '--help':
        process.stdout.write(
          'Usage: npx tsx bench/accuracy.ts [--models mlp,cnn] [--methods dense,static,set,rigl,srigl-no-ablation,srigl-ablation]\n' +
            '  [--sparsities 0.8,0.9,0.95,0.99] [--seeds 0,1] [--multi-seed-at 0.9,0.99] [--epochs 20] [--lr 0.1] [--threads 2] [--jobs 1]\n' +
            '  [--warmup-epochs X (default: mlp 0, cnn 1)] [--data DIR] [--limit-train N] [--results DIR] [--timeout-min 60] [--summary-only]\n',
        );
        process.exit(0);
      default:
        throw new Error(`unknown option ${a} (see --help)`);
    }
  }
  if (o.seeds.length === 0) throw new Error('--seeds: give at least one seed');
  return o;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runSweep(parseSweepArgs(process.argv.slice(2))).catch((e) => {
    process.stderr.write(`bench/accuracy: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
