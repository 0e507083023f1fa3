// Training throughput (samples/s) of the dense models on Fashion-MNIST with 1 and 2 kernel
// threads: full training steps (forward, loss, backward, SGD step) at batch 128. Every config
// has its own engine and model; configs run interleaved, a few steps each per round, and the
// table reports the median round after a warm-up round.
//
//   npx tsx bench/train.ts [--quick] [--write] [--models mlp,cnn,resnet] [--threads 1,2]
//
// --write saves bench/results/training.md and .json; --quick is a smoke run, not for reporting.
import { availableParallelism, cpus, loadavg } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchIterator } from '../src/data/batches.js';
import { loadDataset } from '../src/data/locate.js';
import { normalizeSplit } from '../src/data/normalize.js';
import { createEngine, type Engine } from '../src/kernels/engine.js';
import { Model, type Arch } from '../src/nn/models.js';
import { createOptimizer, type Optimizer } from '../src/train/optimizer.js';

const BATCH = 128;
/** Steps per config per round: about the same wall time for each model. */
const STEPS: Record<Arch, number> = { mlp: 40, cnn: 8, resnet: 2, vit: 4 };

interface Config {
  arch: Arch;
  threads: number;
  engine: Engine;
  model: Model;
  optimizer: Optimizer;
  batches: BatchIterator;
  steps: number;
  /** Samples per second of each measured round. */
  rounds: number[];
}

export interface TrainBenchRow {
  model: Arch;
  threads: number;
  backend: string;
  batch: number;
  stepsPerRound: number;
  rounds: number;
  medianSamplesPerSec: number;
  minSamplesPerSec: number;
  maxSamplesPerSec: number;
  medianMsPerStep: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function step(c: Config): number {
  const rows = c.batches.next(c.model.inputs, c.model.labels);
  c.model.forward(rows, true);
  c.model.loss(rows);
  c.model.backward(rows);
  c.optimizer.step(0.01);
  return rows;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const write = args.includes('--write');
  const archs = (flag(args, '--models') ?? 'mlp,cnn,resnet').split(',') as Arch[];
  const threadCounts = (flag(args, '--threads') ?? '1,2').split(',').map(Number);
  const measuredRounds = quick ? 2 : 7;

  const data = await loadDataset('fashion-mnist');
  const train = normalizeSplit(data.train);
  const loadBefore = loadavg();
  const configs: Config[] = [];
  for (const arch of archs) {
    for (const threads of threadCounts) {
      const engine = await createEngine({ threads });
      const model = new Model(engine, { arch, inputShape: [1, train.rows, train.cols], classes: data.train.classes.length }, { maxBatch: BATCH, seed: 1 });
      const optimizer = createOptimizer(engine, model.parameters(), { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
      const batches = new BatchIterator(train, { batchSize: BATCH, seed: 1 });
      configs.push({ arch, threads: engine.threads, engine, model, optimizer, batches, steps: quick ? 1 : STEPS[arch], rounds: [] });
    }
  }
  const backend = configs[0]?.engine.backend ?? 'none';
  console.error(`data: ${data.source.kind} copy at ${data.source.path} (${train.n} train examples); kernels: ${backend}`);

  // Round 0 warms up (JIT, first touch of every buffer) and is not recorded.
  for (let round = 0; round <= measuredRounds; round++) {
    for (const c of configs) {
      let samples = 0;
      const t0 = performance.now();
      for (let s = 0; s < c.steps; s++) samples += step(c);
      const seconds = (performance.now() - t0) / 1000;
      if (round > 0) c.rounds.push(samples / seconds);
    }
    console.error(`round ${round}/${measuredRounds}: ${configs.map((c) => `${c.arch} x${c.threads} ${c.rounds.at(-1)?.toFixed(0) ?? 'warm-up'}`).join(', ')}`);
  }
  const loadAfter = loadavg();
  for (const c of configs) await c.engine.close();

  const rows: TrainBenchRow[] = configs.map((c) => {
    const med = median(c.rounds);
    return {
      model: c.arch, threads: c.threads, backend: c.engine.backend, batch: BATCH, stepsPerRound: c.steps, rounds: c.rounds.length,
      medianSamplesPerSec: med, minSamplesPerSec: Math.min(...c.rounds), maxSamplesPerSec: Math.max(...c.rounds),
      medianMsPerStep: (1000 * BATCH) / med,
    };
  });
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const fmt = (l: number[]): string => l.map((v) => v.toFixed(2)).join(' ');
  const machine = `${cpu}, ${availableParallelism()} cores, Node ${process.version}, wasm ${backend}; load average (1/5/15 min) ${fmt(loadBefore)} before, ${fmt(loadAfter)} after`;
  const command = `npx tsx bench/train.ts${args.length ? ' ' + args.join(' ') : ''}`;
  const lines = [
    '# Training throughput',
    '',
    `Command: \`${command}\``,
    '',
    `Machine: ${machine}.`,
    '',
    `Data: Fashion-MNIST (${data.source.kind} copy, ${train.n} training examples), batch ${BATCH}; one step = forward, loss, backward, SGD (momentum 0.9, Nesterov) update.`,
    `Configs run interleaved, ${measuredRounds} measured rounds after a warm-up round; samples/s is the median round (min–max beside it).`,
    '',
    '| model | threads | samples/s (median) | min–max | ms/step |',
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.model} | ${r.threads} | ${r.medianSamplesPerSec.toFixed(0)} | ${r.minSamplesPerSec.toFixed(0)}–${r.maxSamplesPerSec.toFixed(0)} | ${r.medianMsPerStep.toFixed(1)} |`),
    '',
  ];
  const markdown = lines.join('\n');
  console.log(markdown);
  if (write) {
    const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'training.md'), markdown);
    writeFileSync(join(dir, 'training.json'), JSON.stringify({ command, machine, load: { before: loadBefore, after: loadAfter }, rows }, null, 2) + '\n');
  }
}

await main();
