import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { BatchIterator } from '../../data/batches.js';
import { DATASET_NAMES, datasetSpec, type DatasetName } from '../../data/datasets.js';
import { loadDataset } from '../../data/locate.js';
import { normalizeSplit } from '../../data/normalize.js';
import { saveModel } from '../../io/model.js';
import { createEngine, type BackendName } from '../../kernels/engine.js';
import { ARCHS, Model, type Arch, type ModelSpec } from '../../nn/models.js';
import { train, type EpochMetrics } from '../../train/loop.js';
import { AUTO_SPARSE_DENSITY, COMPUTE_MODES, formatSparseLine, formatSparseTable, SPARSE_METHODS, SparseTraining, type ComputeMode, type SparseTrainingOptions, type SparseTrainingState } from '../../train/sparse.js';
import type { SparseMethod } from '../../dst/topology.js';
import type { DistributionKind } from '../../sparse/distribution.js';
import { parseNM } from '../../sparse/nm.js';
import type { SparseInitRule } from '../../sparse/mask.js';
import type { OptimizerOptions } from '../../train/optimizer.js';
import { formatHelp, parseArgs, UsageError, type OptionSpec } from '../args.js';
import { limitSplit } from '../common.js';
import { BACKENDS, type CliIo } from '../io.js';
import { trainingCurves, type EpochPoint } from '../plot.js';
import { Progress } from '../progress.js';
import { condenseAndCompare, formatComparison, type CondensedComparison } from '../condense.js';
import { checkpointing, lastEpochMetrics, readMetrics, resolveResume, RESUME_SPECS, runRecord, trimMetrics, trimTopology } from '../resume.js';
import { TOPOLOGY_LOG, topologyRecord } from '../report/topology.js';
import { REPORT_FILE, writeRunReport } from '../report/write.js';

/**
 * The vit's regularisation, chosen by measurement on the full Fashion-MNIST
 * (bench/results/vit-accuracy.md): without it the vit overfits (train 98.7%, test 87.2%).
 */
export const VIT_RECIPE = { cropPadding: 0, flip: true, labelSmoothing: 0.1, dropout: 0 } as const;

const SPECS: OptionSpec[] = [
  { name: 'model', kind: 'enum', values: ARCHS, help: 'Architecture: 784-300-100-10 MLP, small CNN, ResNet-20, or a small ViT (patch 7, width 64, 4 blocks of 4 heads, MLP ratio 2, class-token head; trained by default with the ViT recipe: AdamW, lr 0.001, weight decay 0.05, 1 warm-up epoch, cosine, label smoothing 0.1, random horizontal flips, uniform sparsity). Default mlp.' },
  { name: 'hidden', kind: 'int-list', arg: 'N[,N...]', min: 1, help: 'Hidden layer widths of the mlp, e.g. 4096,4096 for a wide one. Default 300,100.' },
  { name: 'dataset', kind: 'enum', values: DATASET_NAMES, help: 'Dataset. Default fashion-mnist.' },
  { name: 'data', kind: 'string', arg: 'DIR', help: 'Directory holding the dataset files. Default: $SRIGL_DATA, /usr/share/datasets/<dataset>, the cache, then the embedded subset.' },
  { name: 'epochs', kind: 'int', arg: 'N', min: 1, help: 'Training epochs. Default 5.' },
  { name: 'batch-size', kind: 'int', arg: 'N', min: 1, help: 'Examples per step. Default 128.' },
  { name: 'lr', kind: 'number', arg: 'X', min: 0, help: 'Peak learning rate. Default 0.1 (sgd), 0.001 (adamw, and the vit).' },
  { name: 'optimizer', kind: 'enum', values: ['sgd', 'adamw'], help: 'Optimizer. Default adamw for the vit, else sgd.' },
  { name: 'momentum', kind: 'number', arg: 'X', min: 0, help: 'SGD momentum. Default 0.9.' },
  { name: 'nesterov', kind: 'bool', help: 'Nesterov momentum for SGD. Default on.' },
  { name: 'weight-decay', kind: 'number', arg: 'X', min: 0, help: 'Weight decay on weights (not biases or norm params). Default 5e-4 (sgd), 0.01 (adamw, decoupled), 0.05 (adamw on the vit).' },
  { name: 'schedule', kind: 'enum', values: ['cosine', 'step', 'constant'], help: 'Learning-rate schedule; step multiplies by 0.1 at 50% and 75% of epochs. Default cosine.' },
  { name: 'warmup-epochs', kind: 'number', arg: 'X', min: 0, help: 'Linear warm-up length in epochs. Default 1 for the cnn (it has no batch norm and diverges at lr 0.1 without warm-up) and the vit (its recipe), else 0.' },
  { name: 'label-smoothing', kind: 'number', arg: 'X', min: 0, help: `Label smoothing ε in [0, 1). Default ${VIT_RECIPE.labelSmoothing} for the vit, else 0.` },
  { name: 'crop-padding', kind: 'int', arg: 'N', min: 0, help: `Augmentation: pad each training image by N black pixels per side and crop a random 28×28 window, drawn afresh each epoch. Default ${VIT_RECIPE.cropPadding} for the vit, else 0.` },
  { name: 'flip', kind: 'bool', help: `Augmentation: mirror each training image left–right with probability 1/2. Default ${VIT_RECIPE.flip ? 'on' : 'off'} for the vit, else off.` },
  { name: 'dropout', kind: 'number', arg: 'X', min: 0, help: `vit: dropout after the attention projection, the MLP activation and fc2, in [0, 1). Default ${VIT_RECIPE.dropout}.` },
  { name: 'patch', kind: 'int', arg: 'N', min: 1, help: 'vit: patch edge in pixels (must divide 28). Default 7.' },
  { name: 'dim', kind: 'int', arg: 'N', min: 1, help: 'vit: embedding width. Default 64.' },
  { name: 'depth', kind: 'int', arg: 'N', min: 1, help: 'vit: transformer blocks. Default 4.' },
  { name: 'heads', kind: 'int', arg: 'N', min: 1, help: 'vit: attention heads (must divide --dim). Default 4.' },
  { name: 'mlp-ratio', kind: 'number', arg: 'X', min: 0, help: 'vit: MLP hidden width as a multiple of --dim. Default 2.' },
  { name: 'init', kind: 'enum', values: ['kaiming-normal', 'kaiming-uniform'], help: 'Initial weights of the Linear/Conv2d layers, every method alike, with the active fan-in k of each neuron: kaiming-normal N(0, 2/k), biases 0 (the reference implementation\'s), or kaiming-uniform U(±1/√k) with PyTorch\'s default biases (what transformers train better with). Default kaiming-uniform for the vit, else kaiming-normal.' },
  { name: 'clip-norm', kind: 'number', arg: 'X', min: 0, help: 'Clip gradients to this global L2 norm; 0 disables. Default 0.' },
  { name: 'method', kind: 'enum', values: SPARSE_METHODS, help: 'Training method: dense, or sparse from scratch with a static mask, SET, RigL or SRigL (constant fan-in). Default srigl.' },
  { name: 'condense', kind: 'bool', help: 'After a sparse run, write model.condensed.safetensors beside the model and compare the two: stored weights, file size, test accuracy, and latency at batch 1 and 256 (one thread, interleaved, medians). Default on for sparse methods.' },
  { name: 'sparsity', kind: 'number', arg: 'X', min: 0, help: 'Global sparsity of the Linear/Conv2d weights, in [0, 1). Default 0.9 (sparse methods).' },
  { name: 'distribution', kind: 'enum', values: ['erk', 'uniform'], help: 'How the sparsity is shared among layers (exact global density). Default uniform for the vit (as the paper\'s ViT), else erk.' },
  { name: 'dense-first', kind: 'bool', help: 'Keep the first layer dense. Default: on when it is a convolution (cnn, resnet, as the paper\'s ResNets), off for the mlp (its first layer holds 88% of the weights).' },
  { name: 'sparsity-override', kind: 'number-map', arg: 'NAME=X,...', min: 0, maxExclusive: 1, help: 'Per-layer sparsity by layer name, e.g. fc3=0.5; the other layers share the rest. Default none.' },
  { name: 'nm', kind: 'string', arg: 'N:M', help: 'N:M structure (srigl, rigl): every active neuron keeps exactly N of every M consecutive inputs (Conv2d: M consecutive input channels at each kernel position), e.g. 2:4 or 1:8, 1 ≤ N < M ≤ 64. Sets the sparsity to 1 − N/M; with --distribution erk each layer gets its own N_l:M. Default none (constant fan-in at free positions).' },
  { name: 'fan-in', kind: 'string', arg: 'K|NAME=K,...', help: 'A fan-in you fix (srigl): every active neuron keeps exactly K weights for the whole run, no budget redistribution when neurons are ablated. K alone applies to every layer that would be sparse (layers with fan-in ≤ K stay dense; the global density follows and is printed); NAME=K,... to those layers only, the rest sharing --sparsity. Default none.' },
  { name: 'ablation', kind: 'bool', help: 'SRigL neuron ablation (the classifier never ablates). Default on.' },
  { name: 'gamma-sal', kind: 'number', arg: 'X', min: 0, help: 'SRigL saliency threshold fraction γ_sal. Default 0.3 (the authors used 0.95 for their ImageNet ViT-B/16).' },
  { name: 'delta-t', kind: 'int', arg: 'N', min: 1, help: 'Optimizer steps between topology updates ΔT. Default 100.' },
  { name: 'alpha', kind: 'number', arg: 'X', min: 0, help: 'Initial drop fraction α in [0, 1], cosine-annealed to 0 at T_end. Default 0.3.' },
  { name: 't-end', kind: 'number', arg: 'X', min: 0, help: 'Fraction of all steps after which the topology is frozen (T_end). Default 0.75.' },
  { name: 'compute', kind: 'enum', values: COMPUTE_MODES, help: `How sparse layers compute: sparse (forward, backward and optimizer over the active weights only; Linear and Conv2d layers), dense (GEMMs over the masked weights), or auto: sparse for layers of density ≤ ${AUTO_SPARSE_DENSITY}. Results agree up to float summation order. Default auto.` },
  { name: 'grad-accumulation', kind: 'int', arg: 'N', min: 1, help: 'Average the dense gradient over the last N steps before each update (N ≤ ΔT). Default 1.' },
  { name: 'seed', kind: 'int', arg: 'N', min: 0, help: 'Seed of initial weights and data order. Default 0.' },
  { name: 'threads', kind: 'int', arg: 'N', min: 1, help: 'Kernel threads. Default: all cores.' },
  { name: 'backend', kind: 'enum', values: BACKENDS, help: 'Kernel backend. Default auto (the fastest this runtime supports).' },
  { name: 'out', kind: 'string', arg: 'DIR', help: 'Output directory for model.safetensors, metrics.jsonl, summary.json and curves.svg (loss and accuracy per epoch). Default runs/<model>-<timestamp>.' },
  { name: 'limit-train', kind: 'int', arg: 'N', min: 1, help: 'Use only the first N training examples (quick runs). Default: all.' },
  { name: 'limit-test', kind: 'int', arg: 'N', min: 1, help: 'Evaluate on only the first N test examples. Default: all.' },
  { name: 'json', kind: 'bool', help: 'Print one JSON summary on stdout (progress goes to stderr). Default off.' },
  { name: 'quiet', kind: 'bool', help: 'No progress output. Default off.' },
  ...RESUME_SPECS,
];

export const TRAIN_HELP = formatHelp(
  'srigl train [options]',
  'Trains a model, dense or sparse (--method), and saves it with its metrics. With no options: the\n' +
    'MLP with SRigL at 90% sparsity (ERK, neuron ablation on) on Fashion-MNIST (the full dataset when\n' +
    'installed, else the embedded subset) for 5 epochs, then condensed and compared with the trained\n' +
    'model (size, accuracy, latency). Sparse runs log per-layer density, fan-in k and ablated neurons\n' +
    'every epoch and end with a table. --method dense trains the dense network.',
  SPECS,
);

/** Architectures the condensed format supports (a ResNet's BatchNorms are folded into its convs). */

/** Flags that shape or regularise the vit only. */
const VIT_FLAGS = ['dropout', 'patch', 'dim', 'depth', 'heads', 'mlp-ratio'] as const;

function vitSpecFields(o: Map<string, unknown>): Partial<ModelSpec> {
  const fields: Partial<ModelSpec> = {};
  if (o.has('patch')) fields.patch = o.get('patch') as number;
  if (o.has('dim')) fields.dim = o.get('dim') as number;
  if (o.has('depth')) fields.depth = o.get('depth') as number;
  if (o.has('heads')) fields.heads = o.get('heads') as number;
  if (o.has('mlp-ratio')) fields.mlpRatio = o.get('mlp-ratio') as number;
  const dropout = o.has('dropout') ? (o.get('dropout') as number) : VIT_RECIPE.dropout;
  if (dropout >= 1) throw new UsageError(`srigl train: --dropout expects a number in [0, 1), got "${dropout}"`);
  if (dropout > 0) fields.dropout = dropout;
  return fields;
}

/** The standardised value of a black pixel, which padding must show so a crop looks like the data. */
function blackPixel(dataset: DatasetName): number {
  const { mean, std } = datasetSpec(dataset);
  return (0 - mean) / std;
}


function timestamp(d = new Date()): string {
  const p = (v: number): string => String(v).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

export async function trainCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const given = parseArgs(argv, SPECS, 'srigl train');
  if (given.help) {
    io.stdout.write(TRAIN_HELP);
    return 0;
  }
  const resumed = resolveResume(given, argv, SPECS, io.cwd ?? process.cwd(), (m) => io.stderr.write(`srigl train: ${m}\n`));
  const args = resumed?.args ?? given;
  if (args.positionals.length > 0) throw new UsageError(`srigl train: unexpected argument "${args.positionals[0]}" (see srigl train --help)`);
  const o = args.options;
  const get = <T>(name: string, fallback: T): T => (o.has(name) ? (o.get(name) as T) : fallback);
  const arch = get<Arch>('model', 'mlp');
  if (o.has('hidden') && arch !== 'mlp') throw new UsageError(`srigl train: --hidden applies to --model mlp only, not ${arch}`);
  for (const flag of VIT_FLAGS) if (o.has(flag) && arch !== 'vit') throw new UsageError(`srigl train: --${flag} applies to --model vit only, not ${arch}`);
  const dataset = get<DatasetName>('dataset', 'fashion-mnist');
  // The vit's recipe (the reference implementation's): AdamW, lr 1e-3, weight decay 0.05, one
  // warm-up epoch, cosine; each flag the user gives overrides its part.
  const vit = arch === 'vit';
  const optimizerKind = get<'sgd' | 'adamw'>('optimizer', vit ? 'adamw' : 'sgd');
  const smoothing = get('label-smoothing', vit ? VIT_RECIPE.labelSmoothing : 0);
  if (smoothing >= 1) throw new UsageError(`srigl train: --label-smoothing expects a number in [0, 1), got "${smoothing}"`);
  const epochs = get('epochs', 5);
  const batchSize = get('batch-size', 128);
  const seed = get('seed', 0);
  const lr = get('lr', optimizerKind === 'sgd' ? 0.1 : 0.001);
  const optimizer: OptimizerOptions =
    optimizerKind === 'sgd'
      ? { kind: 'sgd', momentum: get('momentum', 0.9), nesterov: get('nesterov', true), weightDecay: get('weight-decay', 5e-4) }
      : { kind: 'adamw', weightDecay: get('weight-decay', vit ? 0.05 : 0.01) };
  if (optimizerKind === 'adamw' && (o.has('momentum') || o.has('nesterov'))) {
    throw new UsageError(`srigl train: --momentum and --nesterov apply to --optimizer sgd only${vit && !o.has('optimizer') ? ' (the vit trains with adamw unless you give --optimizer sgd)' : ''}`);
  }
  const method = get<SparseMethod>('method', 'srigl');
  const sparseOptions: SparseTrainingOptions = {
    method,
    sparsity: get('sparsity', 0.9),
    distribution: get<DistributionKind>('distribution', vit ? 'uniform' : 'erk'),
    denseFirst: get<boolean | undefined>('dense-first', undefined),
    overrides: get<Record<string, number>>('sparsity-override', {}),
    ablation: get('ablation', true),
    gammaSal: get('gamma-sal', 0.3),
    deltaT: get('delta-t', 100),
    alpha: get('alpha', 0.3),
    tEnd: get('t-end', 0.75),
    gradAccumulation: get('grad-accumulation', 1),
    seed,
    compute: get<ComputeMode>('compute', 'auto'),
    init: get<SparseInitRule>('init', vit ? 'kaiming-uniform' : 'kaiming-normal'),
  };
  checkSparseOptions(o, sparseOptions);
  Object.assign(sparseOptions, structureOptions(o, sparseOptions));
  if (o.get('condense') === true && method === 'dense') throw new UsageError('srigl train: --condense needs a sparse --method (static, set, rigl or srigl)');
  const condense = get('condense', method !== 'dense');
  const cwd = resumed?.cwd ?? io.cwd ?? process.cwd();
  const outDir = resumed?.outDir ?? resolve(cwd, get('out', join('runs', `${arch}-${timestamp()}`)));
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
    const spec: ModelSpec = {
      arch, inputShape: [1, trainSplit.rows, trainSplit.cols], classes: loaded.train.classes.length,
      ...(o.has('hidden') ? { hidden: o.get('hidden') as number[] } : {}),
      ...(vit ? vitSpecFields(o) : {}),
    };
    let model: Model;
    try {
      model = new Model(engine, spec, { maxBatch: Math.min(batchSize, trainSplit.n), seed });
    } catch (e) {
      throw new UsageError(`srigl train: ${(e as Error).message.replace(/^model spec: /, '')}`);
    }
    const cropPadding = get('crop-padding', vit ? VIT_RECIPE.cropPadding : 0);
    const flip = get('flip', vit ? VIT_RECIPE.flip : false);
    if (cropPadding >= Math.min(trainSplit.rows, trainSplit.cols)) throw new UsageError(`srigl train: --crop-padding must be below the image size ${Math.min(trainSplit.rows, trainSplit.cols)}, got ${cropPadding}`);
    const augment = cropPadding > 0 || flip
      ? { shape: [1, trainSplit.rows, trainSplit.cols] as const, cropPadding, flip, fill: blackPixel(dataset) }
      : undefined;
    const batches = new BatchIterator(trainSplit, { batchSize: model.maxBatch, seed, augment });
    log(`model: ${arch}, ${model.numParams.toLocaleString('en-US')} parameters; kernels: ${engine.kernels.name}, ${engine.threads} thread(s)`);
    let sparse: SparseTraining;
    try {
      sparse = resumed
        ? SparseTraining.restore(model, sparseOptions, resumed.checkpoint.captured.state.extra.sparse as SparseTrainingState)
        : SparseTraining.create(model, sparseOptions);
    } catch (e) {
      // Bad layer names, infeasible overrides: the user's input, so a usage error, naming the option.
      const message = (e as Error).message.replace(/^fanIn( of | )?/, (_, sep: string | undefined) => `--fan-in${sep ?? ''}`).replace(/^nm:/, '--nm:');
      throw new UsageError(`srigl train: ${message}`);
    }
    if (method !== 'dense') {
      const info = sparse.info();
      const structure = info.nm ? `N:M ${info.nm.n}:${info.nm.m} (${info.distribution === 'erk' ? 'per-layer N_l by ERK' : 'every sparse layer'}), ` : info.fanIn !== undefined ? `fixed fan-in ${typeof info.fanIn === 'number' ? info.fanIn : Object.entries(info.fanIn).map(([n, k]) => `${n}=${k}`).join(',')}, ` : '';
      log(`sparse: ${method}, ${structure}sparsity ${+info.sparsity.toFixed(4)} (global density ${(info.nnz / info.totalWeights).toFixed(4)}), ${info.distribution}, ${info.nnz.toLocaleString('en-US')} of ${info.totalWeights.toLocaleString('en-US')} weights` +
        (method === 'srigl' ? `, ablation ${info.ablation ? `on (γ_sal ${info.gammaSal})` : 'off'}` : '') +
        (method === 'static' ? '' : `, ΔT ${info.deltaT}, α ${info.alpha}, T_end ${info.tEnd}`) +
        `; compute: ${info.layers.filter((l) => l.density < 1).map((l) => `${l.name} ${l.sparseCompute ? 'sparse' : 'dense'}`).join(', ') || 'dense'}`);
      log(`  ${formatSparseLine(info.layers)}`);
      if (method !== 'static') {
        // Updates fall at the multiples of ΔT strictly between step 0 and T_end.
        const totalSteps = epochs * batches.batchesPerEpoch;
        const tEnd = sparse.tEndSteps(totalSteps);
        if (tEnd <= info.deltaT) {
          io.stderr.write(`srigl train: warning: ${method} will make no topology update: T_end is step ${tEnd} of ${totalSteps} and --delta-t is ${info.deltaT}, so this run is static sparse training; lower --delta-t or train longer\n`);
        }
      }
    }
    mkdirSync(outDir, { recursive: true });
    const metricsPath = join(outDir, 'metrics.jsonl');
    if (resumed) trimMetrics(metricsPath, resumed.checkpoint.captured.state.loop.epoch);
    else writeFileSync(metricsPath, '');
    // Sparse runs log the initial topology and then every update, one line each (report.html draws them).
    const topologyPath = join(outDir, TOPOLOGY_LOG);
    let updatesLogged = resumed ? (resumed.checkpoint.captured.state.extra.sparse as SparseTrainingState).updates : 0;
    if (method === 'dense') {
      if (!resumed) rmSync(topologyPath, { force: true });
    } else if (resumed) {
      trimTopology(topologyPath, updatesLogged);
    } else {
      writeFileSync(topologyPath, JSON.stringify(topologyRecord({ update: 0, step: 0, epoch: 0, dropFraction: 0 }, sparse.stats())) + '\n');
    }
    // Wall time keeps counting across sessions: from the last epoch the earlier ones logged.
    const wallSecondsBefore = resumed ? (lastEpochMetrics<EpochMetrics>(metricsPath)?.wallSeconds ?? 0) : 0;
    const progress = quiet ? null : new Progress(io.stderr, epochs);
    const training = {
      model: arch, dataset, epochs, batchSize: model.maxBatch, lr, optimizer, schedule: get<'cosine' | 'step' | 'constant'>('schedule', 'cosine'),
      warmupEpochs: get('warmup-epochs', arch === 'cnn' || vit ? 1 : 0), labelSmoothing: smoothing, clipNorm: get('clip-norm', 0), seed,
      cropPadding, flip, ...(vit ? { dropout: spec.dropout ?? 0 } : {}), init: sparseOptions.init,
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
      wallSecondsBefore,
      hooks: (optimizer) => sparse.hooks(optimizer, (e) => {
        const at = { update: ++updatesLogged, step: e.step, epoch: Math.floor(e.step / batches.batchesPerEpoch) + 1, dropFraction: e.dropFraction };
        appendFileSync(topologyPath, JSON.stringify(topologyRecord(at, sparse.stats(), e.layers)) + '\n');
      }),
      ...checkpointing({
        model, batches, outDir, every: get('checkpoint-every', batches.batchesPerEpoch), keep: get('keep-checkpoints', 3),
        run: resumed?.run ?? runRecord(argv, cwd), checkpoint: resumed?.checkpoint ?? null, extra: () => ({ sparse: sparse.toJSON() }),
      }),
      onStep: progress ? (s) => progress.step(s) : undefined,
      onEpoch: (m: EpochMetrics) => {
        // Ablated neurons now, and how many this epoch's updates ablated and revived.
        const changes = sparse.takeAblationChanges();
        const stats = method === 'dense' ? undefined : sparse.stats();
        const layers = stats?.map(({ name, nnz, density, k, ablatedNeurons }) => ({ name, nnz, density, k, ablatedNeurons, newlyAblated: 0, revived: 0, ...changes.get(name) }));
        appendFileSync(metricsPath, JSON.stringify(layers === undefined ? m : { ...m, sparse: layers }) + '\n');
        progress?.epoch(m);
        if (stats !== undefined) log(`  ${formatSparseLine(stats, changes)}`);
      },
    });
    const final = result.history.at(-1) ?? lastEpochMetrics<EpochMetrics>(metricsPath);
    if (final === undefined) throw new Error(`${outDir}: the run trained no epoch and logged none`);
    const modelPath = join(outDir, 'model.safetensors');
    const metrics = { testAcc: final.testAcc, testLoss: final.testLoss, trainAcc: final.trainAcc, trainLoss: final.trainLoss, wallSeconds: final.wallSeconds };
    const sparseInfo = sparse.info();
    saveModel(modelPath, model, { dataset, training, metrics, sparse: sparseInfo });
    if (method !== 'dense') log(`${method} at sparsity ${+sparseInfo.sparsity.toFixed(4)}, ${sparseInfo.updates} topology update(s):\n${formatSparseTable(sparseInfo)}`);
    log(`test accuracy ${(100 * (final.testAcc ?? 0)).toFixed(2)}% after ${epochs} epoch(s); saved ${modelPath}`);
    let condensed: CondensedComparison | null = null;
    if (condense) {
      if (!quiet) io.stderr.write('condensing and timing the condensed model against the trained one…\n');
      condensed = await condenseAndCompare({
        modelPath, outPath: join(outDir, 'model.condensed.safetensors'), test: testSplit, backend: engine.backend,
        dataset, source: { model: modelPath, metrics, sparse: sparseInfo },
      });
      log(formatComparison(condensed));
      if (!condensed.accuracy.agree || condensed.accuracy.differingPredictions > 0) {
        io.stderr.write(`srigl train: warning: the condensed model predicts differently from the trained one on ${condensed.accuracy.differingPredictions} test example(s); please report this\n`);
      }
    }
    const summary = {
      command: 'train', model: modelPath, metrics: metricsPath, outDir, spec, params: model.numParams,
      data: { dataset, source: loaded.source.kind, path: loaded.source.path, train: trainSplit.n, test: testSplit.n },
      training, sparse: sparseInfo, final: metrics, condensed, report: join(outDir, REPORT_FILE),
    };
    writeFileSync(join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    // Every epoch of the run (earlier sessions of a resumed one included), from metrics.jsonl.
    writeFileSync(join(outDir, 'curves.svg'), trainingCurves(readMetrics<EpochPoint>(metricsPath), `${arch}${method === 'dense' ? '' : `, ${method} at ${sparseInfo.sparsity}`}`));
    // Everything above in one page that opens offline; a failure here loses no training result.
    try {
      log(`report: ${writeRunReport(outDir, summary.report).path}`);
    } catch (e) {
      io.stderr.write(`srigl train: warning: ${summary.report} not written: ${(e as Error).message} (srigl report ${outDir} retries)\n`);
    }
    if (json) io.stdout.write(JSON.stringify(summary) + '\n');
    return 0;
  } finally {
    await engine.close();
  }
}

/** Range checks the option parser cannot express, and options that make no sense together. */
function checkSparseOptions(o: Map<string, unknown>, s: SparseTrainingOptions): void {
  const bad = (msg: string): UsageError => new UsageError(`srigl train: ${msg}`);
  if ((s.sparsity as number) >= 1) throw bad(`--sparsity expects a number in [0, 1), got "${s.sparsity}"`);
  if ((s.alpha as number) > 1) throw bad(`--alpha expects a number in [0, 1], got "${s.alpha}"`);
  if ((s.tEnd as number) > 1) throw bad(`--t-end expects a fraction in [0, 1], got "${s.tEnd}"`);
  if ((s.gradAccumulation as number) > (s.deltaT as number)) throw bad(`--grad-accumulation ${s.gradAccumulation} exceeds --delta-t ${s.deltaT}`);
  const sparseOnly = ['sparsity', 'distribution', 'dense-first', 'sparsity-override', 'nm', 'fan-in', 'ablation', 'gamma-sal', 'delta-t', 'alpha', 't-end', 'grad-accumulation', 'compute'];
  if (s.method === 'dense') {
    const given = sparseOnly.filter((n) => o.has(n));
    if (given.length > 0) throw bad(`--${given[0]} needs a sparse --method (static, set, rigl or srigl)`);
  }
  if (s.method !== 'srigl' && (o.has('ablation') || o.has('gamma-sal'))) throw bad('--ablation and --gamma-sal apply to --method srigl only');
}

/** --nm and --fan-in, parsed and checked against the method and each other (their values: a usage error naming the option). */
function structureOptions(o: Map<string, unknown>, s: SparseTrainingOptions): Pick<SparseTrainingOptions, 'nm' | 'fanIn' | 'sparsity'> {
  const bad = (msg: string): UsageError => new UsageError(`srigl train: ${msg}`);
  if (o.has('nm') && o.has('fan-in')) throw bad('--nm and --fan-in both fix the fan-in; give one');
  if (o.has('nm')) {
    if (s.method !== 'srigl' && s.method !== 'rigl') throw bad(`--nm applies to --method srigl or rigl, not ${s.method}`);
    if (o.has('sparsity')) throw bad('--nm sets the sparsity (1 − N/M); leave out --sparsity');
    let nm;
    try {
      nm = parseNM(o.get('nm') as string);
    } catch (e) {
      throw bad(`--nm ${(e as Error).message}`);
    }
    return { nm, sparsity: undefined };
  }
  if (o.has('fan-in')) {
    if (s.method !== 'srigl') throw bad(`--fan-in applies to --method srigl, not ${s.method}`);
    const text = (o.get('fan-in') as string).trim();
    const positive = (v: string, what: string): number => {
      if (!/^\d+$/.test(v) || Number(v) < 1) throw bad(`--fan-in expects a positive integer${what}, got "${v}"`);
      return Number(v);
    };
    if (/^[^=]*$/.test(text)) {
      if (o.has('sparsity')) throw bad('--fan-in K fixes every sparse layer, so the sparsity follows from it; leave out --sparsity');
      return { fanIn: positive(text, '') };
    }
    const fanIn: Record<string, number> = {};
    for (const part of text.split(',')) {
      const eq = part.indexOf('=');
      const name = part.slice(0, eq).trim();
      if (eq < 1 || name === '') throw bad(`--fan-in expects K or NAME=K,..., got "${part}"`);
      if (name in fanIn) throw bad(`--fan-in names ${name} twice`);
      fanIn[name] = positive(part.slice(eq + 1).trim(), ` for ${name}`);
    }
    return { fanIn };
  }
  return {};
}
