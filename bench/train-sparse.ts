// Sparse training throughput: samples/s of full training steps — the training loop's step as
// `train` runs it (forward, loss, backward, the sparse hooks with their topology updates every
// ΔT steps, gradient masking, SGD, the finiteness guard) — for dense, RigL and SRigL at several
// sparsities, each with compute 'dense' (masks on dense GEMMs) and 'sparse' (active weights
// only), at 1 and 2 kernel threads; beside PyTorch dense (Debian python3-torch) on the same
// machine when it is installed. Configs run interleaved, a few steps each per round; the table
// reports the median round after a warm-up round. Peak RSS is measured per config in a child
// process of its own (one thread, RSS_STEPS steps), so configs do not share it; the child
// trains on the first RSS_EXAMPLES training images only (read from the embedded subset), so
// what it measures is the training's memory, not the 220 MB every method spends alike on a
// normalised copy of the full data set. It also reports the wasm heap in use (tensors,
// activations, sparse lists: exact, noise-free).
//
//   npx tsx bench/train-sparse.ts [--quick] [--write] [--models mlp,cnn,wide] [--threads 1,2]
//
// --write saves bench/results/training-sparse.md and .json; --quick is a smoke run, not for reporting.
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchIterator } from '../src/data/batches.js';
import { loadDataset, loadSplit } from '../src/data/locate.js';
import { normalizeSplit, type NormalizedSplit } from '../src/data/normalize.js';
import { createEngine, type Engine } from '../src/kernels/engine.js';
import { Model, type ModelSpec } from '../src/nn/models.js';
import { checkFinite } from '../src/train/guard.js';
import type { StepInfo, TrainHooks } from '../src/train/loop.js';
import { createOptimizer, maskGradients, type Optimizer } from '../src/train/optimizer.js';
import { SparseTraining, type ComputeMode } from '../src/train/sparse.js';
import type { SparseMethod } from '../src/dst/topology.js';
import { median } from '../src/cli/timing.js';

const BATCH = 128;
/** A long run's step count: T_end (75%) lies far beyond the benchmark, so updates every ΔT = 100 steps keep coming. */
const TOTAL_STEPS = 100_000;

type ModelName = 'mlp' | 'cnn' | 'wide';
const SPECS: Record<ModelName, (s: NormalizedSplit) => ModelSpec> = {
  mlp: (s) => ({ arch: 'mlp', inputShape: [1, s.rows, s.cols], classes: 10 }),
  cnn: (s) => ({ arch: 'cnn', inputShape: [1, s.rows, s.cols], classes: 10 }),
  wide: (s) => ({ arch: 'mlp', inputShape: [1, s.rows, s.cols], classes: 10, hidden: [4096, 4096] }),
};
/** Steps per config per round: about the same wall time for each model. */
const STEPS: Record<ModelName, number> = { mlp: 40, cnn: 4, wide: 4 };
/** Steps of the peak-RSS child: each includes a topology update (ΔT = 100 in `build`, the first at step 100). */
const RSS_STEPS: Record<ModelName, number> = { mlp: 101, cnn: 101, wide: 101 };
/** Training images the peak-RSS child holds. */
const RSS_EXAMPLES = 1024;
const SPARSITIES: Record<ModelName, number[]> = { mlp: [0.8, 0.9, 0.95, 0.99], cnn: [0.8, 0.9, 0.95, 0.99], wide: [0.9, 0.99] };

export interface ConfigKey {
  model: ModelName;
  method: SparseMethod;
  sparsity: number | null;
  compute: ComputeMode;
}

interface Config extends ConfigKey {
  threads: number;
  engine: Engine;
  model_: Model;
  optimizer: Optimizer;
  hooks: TrainHooks;
  batches: BatchIterator;
  step: number;
  steps: number;
  rounds: number[];
  sparseLayers: string;
}

export interface SparseTrainRow extends ConfigKey {
  threads: number;
  sparseLayers: string;
  medianSamplesPerSec: number;
  minSamplesPerSec: number;
  maxSamplesPerSec: number;
  /** Against the same model's dense method at the same thread count. */
  vsDense: number;
  peakRssMiB: number | null;
  /** Peak RSS above the child's RSS before the model was built (Node, the loaded modules and the data slice). */
  trainingMiB: number | null;
  /** Wasm memory in use by the model's tensors, state and buffers (the child's, one thread). */
  heapMiB: number | null;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

const info: StepInfo = {
  step: 0, totalSteps: TOTAL_STEPS, epoch: 0, stepInEpoch: 0, stepsPerEpoch: TOTAL_STEPS, lr: 0.01, rows: 0, loss: 0, correct: 0,
  epochLoss: 0, epochAcc: 0, epochSamples: 0, epochSeconds: 0,
};

/** One step as `train` takes it (loop.ts), without the bookkeeping of epochs and progress. */
function trainStep(c: Pick<Config, 'model_' | 'optimizer' | 'hooks' | 'batches' | 'step' | 'engine'>): number {
  const model = c.model_;
  const rows = c.batches.next(model.inputs, model.labels);
  c.hooks.beforeStep?.(c.step, TOTAL_STEPS);
  model.forward(rows, true);
  model.loss(rows);
  model.backward(rows);
  info.step = c.step;
  info.rows = rows;
  c.hooks.afterBackward?.(info);
  const params = model.parameters();
  maskGradients(c.engine, params);
  c.optimizer.step(0.01);
  c.hooks.afterStep?.(info);
  const bad = checkFinite(params, c.step, true, c.engine.kernels);
  if (bad) throw bad;
  c.step++;
  return rows;
}

async function build(key: ConfigKey, threads: number, train: NormalizedSplit): Promise<Omit<Config, 'steps' | 'rounds'>> {
  const engine = await createEngine({ threads });
  const model_ = new Model(engine, SPECS[key.model](train), { maxBatch: BATCH, seed: 1 });
  const sparse = SparseTraining.create(model_, { method: key.method, sparsity: key.sparsity ?? undefined, compute: key.compute, seed: 1 });
  const optimizer = createOptimizer(engine, model_.parameters(), { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const batches = new BatchIterator(train, { batchSize: BATCH, seed: 1 });
  const sparseLayers = sparse.stats().filter((l) => l.sparseCompute).map((l) => l.name).join(',') || '-';
  return { ...key, threads: engine.threads, engine, model_, optimizer, hooks: sparse.hooks(optimizer), batches, step: 0, sparseLayers };
}

function keysFor(models: ModelName[]): ConfigKey[] {
  const keys: ConfigKey[] = [];
  for (const model of models) {
    keys.push({ model, method: 'dense', sparsity: null, compute: 'dense' });
    for (const sparsity of SPARSITIES[model]) {
      for (const method of ['rigl', 'srigl'] as const) for (const compute of ['dense', 'sparse'] as const) keys.push({ model, method, sparsity, compute });
    }
  }
  return keys;
}

/** Peak RSS and wasm heap in use (MiB) of a child process that builds config `key` on one thread and runs RSS_STEPS steps. */
function peakRss(key: ConfigKey): { rss: number; base: number; heap: number } | null {
  const self = fileURLToPath(import.meta.url);
  const runner = self.endsWith('.ts') ? [process.execPath, '--import', 'tsx', self] : [process.execPath, self];
  try {
    const out = execFileSync(runner[0], [...runner.slice(1), '--rss-child', JSON.stringify(key)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return JSON.parse(out.trim().split('\n').at(-1) as string) as { rss: number; base: number; heap: number };
  } catch {
    return null;
  }
}

/** PyTorch dense samples/s of the same model (Debian python3-torch), one thread, or null. */
function torchDense(models: ModelName[], threads: number): Record<string, number> | null {
  const python = '/usr/bin/python3';
  if (!existsSync(python)) return null;
  const script = `
import time, torch, json
torch.set_num_threads(${threads})
nets = {
 'mlp': lambda: torch.nn.Sequential(torch.nn.Linear(784,300), torch.nn.ReLU(), torch.nn.Linear(300,100), torch.nn.ReLU(), torch.nn.Linear(100,10)),
 'wide': lambda: torch.nn.Sequential(torch.nn.Linear(784,4096), torch.nn.ReLU(), torch.nn.Linear(4096,4096), torch.nn.ReLU(), torch.nn.Linear(4096,10)),
 'cnn': lambda: torch.nn.Sequential(torch.nn.Conv2d(1,32,3,padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Conv2d(32,64,3,padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(3136,256), torch.nn.ReLU(), torch.nn.Linear(256,10)),
}
out = {}
for name in ${JSON.stringify(models)}:
    net = nets[name]()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.randn(${BATCH}, 1, 28, 28) if name == 'cnn' else torch.randn(${BATCH}, 784)
    y = torch.randint(0, 10, (${BATCH},))
    def step():
        opt.zero_grad(); torch.nn.functional.cross_entropy(net(x), y).backward(); opt.step()
    for _ in range(5): step()
    rates = []
    for _ in range(7):
        n = ${JSON.stringify(STEPS)}[name]
        t0 = time.perf_counter()
        for _ in range(n): step()
        rates.append(n * ${BATCH} / (time.perf_counter() - t0))
    rates.sort(); out[name] = rates[len(rates) // 2]
print(json.dumps(out))
`;
  try {
    return JSON.parse(execFileSync(python, ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').at(-1) as string);
  } catch {
    return null;
  }
}

/** The repository's embedded Fashion-MNIST subset (from bench/ under tsx, or dist/bench/). */
function embeddedSubset(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return join(dir, 'data', 'fashion-mnist-subset');
}

async function rssChild(key: ConfigKey): Promise<void> {
  const { data } = await loadSplit('fashion-mnist', 'train', { dir: embeddedSubset() });
  const pixels = RSS_EXAMPLES * data.rows * data.cols;
  const train = normalizeSplit({ ...data, n: RSS_EXAMPLES, images: data.images.slice(0, pixels), labels: data.labels.slice(0, RSS_EXAMPLES) });
  const base = procStatusMiB('VmRSS');
  const c = await build(key, 1, train);
  for (let s = 0; s < RSS_STEPS[key.model]; s++) trainStep(c);
  const heap = c.engine.heap.used / 2 ** 20;
  await c.engine.close();
  // VmHWM: this process image's own peak (getrusage's maxRSS would carry the spawning parent's across exec).
  console.log(JSON.stringify({ rss: procStatusMiB('VmHWM'), base, heap }));
}

/** A memory line of /proc/self/status in MiB. */
function procStatusMiB(key: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  if (m === null) throw new Error(`no ${key} in /proc/self/status`);
  return Number(m[1]) / 1024;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const child = flag(args, '--rss-child');
  if (child !== undefined) return rssChild(JSON.parse(child) as ConfigKey);
  const quick = args.includes('--quick');
  const write = args.includes('--write');
  const models = (flag(args, '--models') ?? 'mlp,cnn,wide').split(',') as ModelName[];
  const threadCounts = (flag(args, '--threads') ?? '1,2').split(',').map(Number);
  const measuredRounds = quick ? 2 : 7;

  const data = await loadDataset('fashion-mnist');
  const train = normalizeSplit(data.train);
  const loadBefore = loadavg();
  const keys = keysFor(models);
  const configs: Config[] = [];
  for (const key of keys) for (const threads of threadCounts) configs.push({ ...(await build(key, threads, train)), steps: quick ? 1 : STEPS[key.model], rounds: [] });
  const backend = configs[0]?.engine.backend ?? 'none';
  console.error(`data: ${data.source.kind} copy (${train.n} train examples); kernels: wasm ${backend}; ${configs.length} configs`);
  const name = (c: Config): string => `${c.model} ${c.method}${c.sparsity === null ? '' : ` ${c.sparsity}`} ${c.compute} x${c.threads}`;
  for (let round = 0; round <= measuredRounds; round++) {
    for (const c of configs) {
      let samples = 0;
      const t0 = performance.now();
      for (let s = 0; s < c.steps; s++) samples += trainStep(c);
      if (round > 0) c.rounds.push(samples / ((performance.now() - t0) / 1000));
    }
    console.error(`round ${round}/${measuredRounds}${round === 0 ? ' (warm-up)' : ''}`);
  }
  const loadAfter = loadavg();
  for (const c of configs) await c.engine.close();
  console.error('peak RSS: one child process per config…');
  const rss = new Map(keys.filter((k) => !quick || args.includes('--rss')).map((k) => [JSON.stringify(k), peakRss(k)]));
  const torch = quick ? null : { 1: torchDense(models, 1), 2: torchDense(models, 2) } as Record<number, Record<string, number> | null>;

  const rows: SparseTrainRow[] = configs.map((c) => {
    const dense = configs.find((d) => d.model === c.model && d.method === 'dense' && d.threads === c.threads) as Config;
    const med = median(c.rounds);
    const key: ConfigKey = { model: c.model, method: c.method, sparsity: c.sparsity, compute: c.compute };
    return {
      ...key, threads: c.threads, sparseLayers: c.sparseLayers, medianSamplesPerSec: med, minSamplesPerSec: Math.min(...c.rounds), maxSamplesPerSec: Math.max(...c.rounds),
      vsDense: med / median(dense.rounds),
      peakRssMiB: c.threads === 1 ? (rss.get(JSON.stringify(key))?.rss ?? null) : null,
      trainingMiB: c.threads === 1 ? ((m) => (m ? m.rss - m.base : null))(rss.get(JSON.stringify(key))) : null,
      heapMiB: c.threads === 1 ? (rss.get(JSON.stringify(key))?.heap ?? null) : null,
    };
  });
  for (const r of rows) console.error(`${r.model} ${r.method} ${r.sparsity ?? ''} ${r.compute} x${r.threads}: ${r.medianSamplesPerSec.toFixed(0)} samples/s (${r.vsDense.toFixed(2)}× dense)`);
  const cpu = (cpus()[0]?.model ?? 'unknown CPU').trim();
  const fmt = (l: number[]): string => l.map((v) => v.toFixed(2)).join(' ');
  const machine = `${cpu}, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, wasm ${backend}; load average (1/5/15 min) ${fmt(loadBefore)} before, ${fmt(loadAfter)} after`;
  const command = `npx tsx bench/train-sparse.ts${args.length ? ' ' + args.join(' ') : ''}`;
  const torchCell = (m: ModelName, t: number): string => (torch?.[t]?.[m] === undefined ? 'n/a' : (torch[t] as Record<string, number>)[m].toFixed(0));
  const lines = [
    '# Sparse training throughput',
    '',
    `Command: \`${command}\``,
    '',
    `Machine: ${machine}.`,
    '',
    `Data: Fashion-MNIST (${data.source.kind} copy), batch ${BATCH}. One step = the training loop's step: forward, loss, backward, the sparse`,
    'hooks (a topology update with a dense gradient every ΔT = 100 steps), gradient masking, SGD (momentum 0.9, Nesterov,',
    'weight decay 5e-4), the finiteness guard. ERK distribution (the mlp\'s every layer sparse; the cnn\'s first conv dense).',
    `compute dense = masks on dense GEMMs; sparse = forward, backward and SGD over the active weights (Linear layers: "sparse layers").`,
    `Configs run interleaved, ${measuredRounds} measured rounds after a warm-up round; samples/s is the median round (min–max beside it);`,
    `"× dense" is against the same model trained dense at the same thread count. Peak RSS: a child process per config, one thread,`,
    `${RSS_STEPS.mlp} steps (a topology update at step 100) on the first ${RSS_EXAMPLES} training images (so the data set's memory, the same for every method, is left out);`,
    '"above base" is that peak minus the RSS before the model was built (Node, the loaded code and the data slice: the part every',
    'config shares); "wasm heap" is the memory the tensors, optimizer state, activations and sparse lists take (exact).',
    '',
    '| model | method | sparsity | compute | sparse layers | threads | samples/s | min–max | × dense | peak RSS MiB | above base MiB | wasm heap MiB |',
    '|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.model} | ${r.method} | ${r.sparsity ?? '-'} | ${r.compute} | ${r.sparseLayers} | ${r.threads} | ${r.medianSamplesPerSec.toFixed(0)} | ${r.minSamplesPerSec.toFixed(0)}–${r.maxSamplesPerSec.toFixed(0)} | ${r.vsDense.toFixed(2)} | ${r.peakRssMiB === null ? '' : r.peakRssMiB.toFixed(0)} | ${r.trainingMiB === null ? '' : r.trainingMiB.toFixed(0)} | ${r.heapMiB === null ? '' : r.heapMiB.toFixed(1)} |`),
    '',
    'PyTorch 1.13 dense (Debian python3-torch, OpenBLAS), the same architectures and SGD, batch 128, synthetic inputs, median of 7 rounds:',
    '',
    '| model | threads | samples/s |',
    '|---|---:|---:|',
    ...models.flatMap((m) => threadCounts.map((t) => `| ${m} | ${t} | ${torchCell(m, t)} |`)),
    '',
  ];
  const markdown = lines.join('\n');
  console.log(markdown);
  if (write) {
    const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'training-sparse.md'), markdown);
    writeFileSync(join(dir, 'training-sparse.json'), JSON.stringify({ command, machine, date: new Date().toISOString(), load: { before: loadBefore, after: loadAfter }, torch, rows }, null, 2) + '\n');
  }
}

await main();
