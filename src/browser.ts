/**
 * srigl in the browser: the library's API (index.ts) less what reads or writes files by path,
 * bundled by scripts/build-browser.mjs into dist/browser/srigl.js with the platform seam
 * resolved to src/platform/browser.ts. Files come in as bytes (fetch, a dropped File), data
 * over HTTP (fetchDataset). Kernels: the same WebAssembly modules, fetched from wasm/ beside the
 * bundle; threads are module Workers over one shared memory when the page is cross-origin
 * isolated (COOP/COEP headers), else the engine runs on one thread. A page's main thread may
 * not block (Atomics.wait), so there it spins while workers finish and long work freezes the
 * page: train in a Worker, as the demo does.
 *
 * @example
 * ```ts
 * import { createEngine, fetchDataset, normalizeSplit, buildModel, SparseTraining, train, BatchIterator } from './srigl.js';
 *
 * const engine = await createEngine();                               // threads only when crossOriginIsolated
 * const { train: tr, test: te } = await fetchDataset('fashion-mnist', 'data/');
 * const trainSet = normalizeSplit(tr!), testSet = normalizeSplit(te!);
 * const model = buildModel(engine, { arch: 'mlp', inputShape: [1, 28, 28], classes: 10 }, { maxBatch: 128 });
 * const sparse = SparseTraining.create(model, { method: 'srigl', sparsity: 0.9 });
 * await train({ model, trainData: new BatchIterator(trainSet, { batchSize: 128 }), testData: testSet, epochs: 1,
 *   optimizer: { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 }, lr: 0.1, hooks: (o) => sparse.hooks(o) });
 * ```
 */
export { platformName, hardwareThreads } from './platform/host.js';
export { createEngine, type Engine, type EngineOptions, type BackendName } from './kernels/engine.js';
export { probeFeatures, type Features } from './kernels/probe.js';
export type { Kernels, Ptr } from './kernels/api.js';
export { Rng } from './tensor/rng.js';
export { Tensor, shapeSize, type NamedTensor } from './tensor/tensor.js';
export { Param } from './tensor/param.js';
export { ARCHS, Model, buildModel, parseModelSpec, VIT_DEFAULTS, type Arch, type ModelSpec, type BuildModelOptions } from './nn/models.js';
export type { Layer, BuildContext, SparsifiableLayer } from './nn/layer.js';
export { Linear, type LinearOptions } from './nn/linear.js';
export { Conv2d, type Conv2dOptions } from './nn/conv2d.js';
export { BatchNorm2d, type BatchNormOptions } from './nn/batchnorm.js';
export { ReLU, MaxPool2d, GlobalAvgPool, Flatten, Dropout, GELU } from './nn/activations.js';
export { LayerNorm, type LayerNormOptions } from './nn/layernorm.js';
export { MultiHeadSelfAttention, type AttentionOptions } from './nn/attention.js';
export { PatchEmbed, ClassTokenPosEmbed, type PatchEmbedOptions } from './nn/embedding.js';
export { TransformerBlock, type TransformerBlockOptions } from './nn/transformer.js';
export { BasicBlock, type BasicBlockOptions } from './nn/residual.js';
export { Sequential, type LayerFactory } from './nn/sequential.js';
export { SoftmaxCrossEntropy, type LossResult } from './nn/loss.js';
export { train, type TrainOptions, type TrainResult, type TrainHooks, type StepInfo, type EpochMetrics, type Batches } from './train/loop.js';
export { evaluate, type Examples, type EvalResult, type EvaluateOptions } from './train/evaluate.js';
export {
  createOptimizer, Sgd, AdamW, maskGradients, clipGradNorm,
  type Optimizer, type OptimizerOptions, type SgdOptions, type AdamWOptions,
} from './train/optimizer.js';
export { lrSchedule, type LrSchedule, type ScheduleOptions } from './train/schedule.js';
export { loadModel, type ModelInfo, type LoadedModel, type LoadModelOptions } from './io/model.js';
export { readSafetensors, encodeSafetensors, type SafeTensor, type SafetensorsFile } from './io/safetensors.js';
export { fetchDataset, type FetchDatasetOptions, type FetchedDataset, type FetchLike } from './data/fetch.js';
export { parseIdx, isGzip, type IdxArray } from './data/idx.js';
export { normalizeSplit, type NormalizedSplit } from './data/normalize.js';
export { BatchIterator, type BatchIteratorOptions } from './data/batches.js';
export { DATASETS, DATASET_NAMES, datasetSpec, type DatasetName, type DatasetSpec, type DatasetSplit, type Split } from './data/datasets.js';
export {
  CondensedModel, condenseModel, checkNet, nmLayersOf,
  type CondensedNet, type CondensedOp, type CondensedLayerReport, type CondensedModelOptions,
} from './sparse/condensed/model.js';
export {
  createCondensedRunner, probeWebGpu, CondensedGpuModel, GpuKernels, requestGpu, WebGpuError, WEBGPU_VARIANTS, CONDENSED_BACKENDS,
  type CondensedBackend, type CondensedRunner, type CondensedRunnerOptions, type CondensedGpuModelOptions, type WasmPredictor,
  type AdapterSummary, type WebGpuFailure, type WebGpuProbe, type GpuNetInput,
} from './kernels/webgpu/index.js';
// Browser-only (Node has no WebGPU to measure): the WebGPU-vs-wasm benchmark the demo page runs.
export {
  runWebGpuBench, formatWebGpuBench, interleavedMedians, SOFTWARE_ADAPTER_NOTE,
  type WebGpuBenchOptions, type WebGpuBenchResult, type WebGpuBenchRow, type TimedMethod,
} from './kernels/webgpu/index.js';
export { packCondensed, validateCondensed, type CondensedLayer } from './sparse/condensed/layer.js';
export {
  loadCondensed, readCondensed, CONDENSED_FORMAT,
  type CondensedInfo, type LoadedCondensedNet, type LoadCondensedOptions,
} from './io/condensed-file.js';
export {
  SparseTraining, SPARSE_METHODS, formatSparseTable,
  type SparseTrainingOptions, type SparseLayerStats, type SparseRunInfo, type SparseUpdateEvent, type SparseTrainingState,
} from './train/sparse.js';
export { SparseTopology, type SparseMethod, type TopologyOptions, type LayerTopologyStats } from './dst/topology.js';
export { sriglUpdate, type SriglInput, type SriglUpdate, type SriglStats } from './dst/srigl.js';
export { riglUpdate } from './dst/rigl.js';
export { setUpdate } from './dst/set.js';
export { riglUpdateSparse, setUpdateSparse, sriglUpdateSparse, type SparseLayerView, type SparseUpdateResult, type SriglSparseOptions } from './dst/sparse-update.js';
export { assertNM, nmGroups, nmMask, parseNM, type NMSpec, type NMStructure } from './sparse/nm.js';
export { isUpdateStep, dropFraction, tEndFromFraction } from './dst/schedule.js';
export { computeBudgets, type LayerSpec, type DistributionKind, type DistributionResult, type LayerBudget } from './sparse/distribution.js';
