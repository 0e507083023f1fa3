import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { BatchIterator } from '../../data/batches.js';
import { DATASET_NAMES, type DatasetName } from '../../data/datasets.js';
import { loadDataset } from '../../data/locate.js';
import { normalizeSplit, type NormalizedSplit } from '../../data/normalize.js';
import { saveModel } from '../../io/model.js';
import { createEngine, type BackendName } from '../../kernels/engine.js';
import { ARCHS, Model, type Arch, type ModelSpec } from '../../nn/models.js';
import { train, type EpochMetrics } from '../../train/loop.js';
import type { OptimizerOptions } from '../../train/optimizer.js';
import { formatHelp, parseArgs, UsageError, type OptionSpec } from '../args.js';
import { BACKENDS, type CliIo } from '../io.js';
import { Progress } from '../progress.js';

const SPECS: OptionSpec[] = [
  { name: 'model', kind: 'enum', values: ARCHS, help: 'Architecture: 784-300-100-10 MLP, small CNN, or ResNet-20. Default mlp.' },
  { name: 'dataset', kind: 'enum', values: DATASET_NAMES, help: 'Dataset. Default fashion-mnist.' },
  { name: 'data', kind: 'string', arg: 'DIR', help: 'Directory holding the dataset files. Default: $SRIGL_DATA, /usr/share/datasets/<dataset>, the cache, then the embedded subset.' },
  { name: 'epochs', kind: 'int', arg: 'N', min: 1, help: 'Training epochs. Default 5.' },
  { name: 'batch-size', kind: 'int', arg: 'N', min: 1, help: 'Examples per step. Default 128.' },
  { name: 'lr', kind: 'number', arg: 'X', min: 0, help: 'Peak learning rate. Default 0.1 (sgd), 0.001 (adamw).' },
  { name: 'optimizer', kind: 'enum', values: ['sgd', 'adamw'], help: 'Optimizer. Default sgd.' },
  { name: 'momentum', kind: 'number', arg: 'X', min: 0, help: 'SGD momentum. Default 0.9.' },
  { name: 'nesterov', kind: 'bool', help: 'Nesterov momentum for SGD. Default on.' },
  { name: 'weight-decay', kind: 'number', arg: 'X', min: 0, help: 'Weight decay on weights (not biases or norm params). Default 5e-4 (sgd), 0.01 (adamw, decoupled).' },
  { name: 'schedule', kind: 'enum', values: ['cosine', 'step', 'constant'], help: 'Learning-rate schedule; step multiplies by 0.1 at 50% and 75% of epochs. Default cosine.' },
  { name: 'warmup-epochs', kind: 'number', arg: 'X', min: 0, help: 'Linear warm-up length in epochs. Default 0.' },
  { name: 'label-smoothing', kind: 'number', arg: 'X', min: 0, help: 'Label smoothing ε in [0, 1). Default 0.' },
  { name: 'clip-norm', kind: 'number', arg: 'X', min: 0, help: 'Clip gradients to this global L2 norm; 0 disables. Default 0.' },
  { name: 'seed', kind: 'int', arg: 'N', min: 0, help: 'Seed of initial weights and data order. Default 0.' },
  { name: 'threads', kind: 'int', arg: 'N', min: 1, help: 'Kernel threads. Default: all cores.' },
  { name: 'backend', kind: 'enum', values: BACKENDS, help: 'Kernel backend. Default auto (the fastest this runtime supports).' },
  { name: 'out', kind: 'string', arg: 'DIR', help: 'Output directory for model.safetensors, metrics.jsonl and summary.json. Default runs/<model>-<timestamp>.' },
  { name: 'limit-train', kind: 'int', arg: 'N', min: 1, help: 'Use only the first N training examples (quick runs). Default: all.' },
  { name: 'limit-test', kind: 'int', arg: 'N', min: 1, help: 'Evaluate on only the first N test examples. Default: all.' },
  { name: 'json', kind: 'bool', help: 'Print one JSON summary on stdout (progress goes to stderr). Default off.' },
  { name: 'quiet', kind: 'bool', help: 'No progress output. Default off.' },
];

export const TRAIN_HELP = formatHelp(
  'srigl train [options]',
  'Trains a dense model and saves it with its metrics. With no options: the MLP on Fashion-MNIST\n(the full dataset when installed, else the embedded subset) for 5 epochs.',
  SPECS,
);

/** The first N examples of a split (views, no copy). */
export function limitSplit(s: NormalizedSplit, n: number | undefined): NormalizedSplit {
  if (n === undefined || n >= s.n) return s;
  return { ...s, n, x: s.x.subarray(0, n * s.features), labels: s.labels.subarray(0, n) };
}

function timestamp(d = new Date()): string {
  const p = (v: number): string => String(v).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

export async function trainCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, SPECS, 'srigl train');
  if (args.help) {
    io.stdout.write(TRAIN_HELP);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`srigl train: unexpected argument "${args.positionals[0]}" (see srigl train --help)`);
  const o = args.options;
  const get = <T>(name: string, fallback: T): T => (o.has(name) ? (o.get(name) as T) : fallback);
  const arch = get<Arch>('model', 'mlp');
  const dataset = get<DatasetName>('dataset', 'fashion-mnist');
  const optimizerKind = get<'sgd' | 'adamw'>('optimizer', 'sgd');
  const smoothing = get('label-smoothing', 0);
  if (smoothing >= 1) throw new UsageError(`srigl train: --label-smoothing expects a number in [0, 1), got "${smoothing}"`);
  const epochs = get('epochs', 5);
  const batchSize = get('batch-size', 128);
  const seed = get('seed', 0);
  const lr = get('lr', optimizerKind === 'sgd' ? 0.1 : 0.001);
  const optimizer: OptimizerOptions =
    optimizerKind === 'sgd'
      ? { kind: 'sgd', momentum: get('momentum', 0.9), nesterov: get('nesterov', true), weightDecay: get('weight-decay', 5e-4) }
      : { kind: 'adamw', weightDecay: get('weight-decay', 0.01) };
  if (optimizerKind === 'adamw' && (o.has('momentum') || o.has('nesterov'))) {
    throw new UsageError('srigl train: --momentum and --nesterov apply to --optimizer sgd only');
  }
  const cwd = io.cwd ?? process.cwd();
  const outDir = resolve(cwd, get('out', join('runs', `${arch}-${timestamp()}`)));
  const json = get('json', false);
  const quiet = get('quiet', false);
  const log = (line: string): void => {
    if (!quiet) io.stderr.write(line + '\n');
  };

  const loaded = await loadDataset(dataset, { dir: o.has('data') ? resolve(cwd, o.get('data') as string) : undefined });
  const trainSplit = limitSplit(normalizeSplit(loaded.train), get<number | undefined>('limit-train', undefined));
  const testSplit = limitSplit(normalizeSplit(loaded.test), get<number | undefined>('limit-test', undefined));
  log(`data: ${dataset} from ${loaded.source.kind} copy at ${loaded.source.path} (${trainSplit.n} train, ${testSplit.n} test examples)`);

  const engine = await createEngine({ backend: get<BackendName>('backend', 'auto'), threads: get('threads', availableParallelism()) });
  try {
    const spec: ModelSpec = { arch, inputShape: [1, trainSplit.rows, trainSplit.cols], classes: loaded.train.classes.length };
    const model = new Model(engine, spec, { maxBatch: Math.min(batchSize, trainSplit.n), seed });
    const batches = new BatchIterator(trainSplit, { batchSize: model.maxBatch, seed });
    log(`model: ${arch}, ${model.numParams.toLocaleString('en-US')} parameters; kernels: ${engine.kernels.name}, ${engine.threads} thread(s)`);
    mkdirSync(outDir, { recursive: true });
    const metricsPath = join(outDir, 'metrics.jsonl');
    writeFileSync(metricsPath, '');
    const progress = quiet ? null : new Progress(io.stderr, epochs);
    const training = {
      model: arch, dataset, epochs, batchSize: model.maxBatch, lr, optimizer, schedule: get<'cosine' | 'step' | 'constant'>('schedule', 'cosine'),
      warmupEpochs: get('warmup-epochs', 0), labelSmoothing: smoothing, clipNorm: get('clip-norm', 0), seed,
      limitTrain: get<number | null>('limit-train', null), limitTest: get<number | null>('limit-test', null),
      backend: engine.backend, threads: engine.threads,
    };
    const result = await train({
      model,
      trainData: batches,
      testData: testSplit,
      epochs,
      optimizer,
      lr,
      schedule: training.schedule,
      warmupEpochs: training.warmupEpochs,
      labelSmoothing: smoothing,
      clipNorm: training.clipNorm,
      onStep: progress ? (s) => progress.step(s) : undefined,
      onEpoch: (m: EpochMetrics) => {
        appendFileSync(metricsPath, JSON.stringify(m) + '\n');
        progress?.epoch(m);
      },
    });
    const final = result.history[result.history.length - 1];
    const modelPath = join(outDir, 'model.safetensors');
    const metrics = { testAcc: final.testAcc, testLoss: final.testLoss, trainAcc: final.trainAcc, trainLoss: final.trainLoss, wallSeconds: final.wallSeconds };
    saveModel(modelPath, model, { dataset, training, metrics });
    const summary = {
      command: 'train', model: modelPath, metrics: metricsPath, outDir, spec, params: model.numParams,
      data: { dataset, source: loaded.source.kind, path: loaded.source.path, train: trainSplit.n, test: testSplit.n },
      training, final: metrics,
    };
    writeFileSync(join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    log(`test accuracy ${(100 * (final.testAcc ?? 0)).toFixed(2)}% after ${epochs} epoch(s); saved ${modelPath}`);
    if (json) io.stdout.write(JSON.stringify(summary) + '\n');
    return 0;
  } finally {
    await engine.close();
  }
}
