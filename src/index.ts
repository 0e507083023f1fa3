/**
 * srigl: sparse neural network training with WebAssembly SIMD kernels.
 *
 * @example
 * ```ts
 * import { createEngine, buildModel, train, evaluate, saveModel, loadDataset, normalizeSplit, BatchIterator } from 'srigl';
 *
 * const engine = await createEngine();                       // fastest kernels this runtime has
 * const data = await loadDataset('fashion-mnist');            // full copy if installed, else the embedded subset
 * const trainSet = normalizeSplit(data.train);
 * const testSet = normalizeSplit(data.test);
 * const model = buildModel(engine, { arch: 'mlp', inputShape: [1, 28, 28], classes: 10 }, { maxBatch: 128, seed: 0 });
 * const { history } = await train({
 *   model,
 *   trainData: new BatchIterator(trainSet, { batchSize: 128, seed: 0 }),
 *   testData: testSet,
 *   epochs: 5,
 *   optimizer: { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
 *   lr: 0.1,
 * });
 * console.log(history.at(-1)?.testAcc, evaluate(model, testSet).accuracy);
 * saveModel('model.safetensors', model, { dataset: 'fashion-mnist' });
 * await engine.close();
 * ```
 */
export { createEngine, type Engine, type EngineOptions, type BackendName } from './kernels/engine.js';
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
export { saveModel, loadModel, type ModelInfo, type LoadedModel, type LoadModelOptions } from './io/model.js';
export { readSafetensors, writeSafetensors, type SafeTensor } from './io/safetensors.js';
export { loadDataset, loadSplit, locateDataset, type DataSource, type LoadedDataset } from './data/locate.js';
export { fetchDataset, type FetchDatasetOptions, type FetchedDataset, type FetchLike } from './data/fetch.js';
export { normalizeSplit, type NormalizedSplit } from './data/normalize.js';
export { BatchIterator, type BatchIteratorOptions } from './data/batches.js';
export { DATASET_NAMES, type DatasetName } from './data/datasets.js';
export {
  CondensedModel, condenseModel, checkNet,
  type CondensedNet, type CondensedOp, type CondensedLayerReport, type CondensedModelOptions,
} from './sparse/condensed/model.js';
export {
  createCondensedRunner, probeWebGpu, CondensedGpuModel, GpuKernels, requestGpu, WebGpuError, WEBGPU_VARIANTS, CONDENSED_BACKENDS,
  type CondensedBackend, type CondensedRunner, type CondensedRunnerOptions, type CondensedGpuModelOptions, type WasmPredictor,
  type AdapterSummary, type WebGpuFailure, type WebGpuProbe, type GpuNetInput,
} from './kernels/webgpu/index.js';
export { packCondensed, validateCondensed, type CondensedLayer } from './sparse/condensed/layer.js';
export {
  loadCondensed, saveCondensed, readCondensed, CONDENSED_FORMAT,
  type CondensedInfo, type LoadedCondensedNet, type LoadCondensedOptions,
} from './io/condensed-file.js';
export {
  readStateDict, mapStateDict, importStateDict, buildImportedModel, TorchImportError,
  type StateDict, type StateDictTensor, type ReadStateDictOptions, type ImportOptions, type ImportedModel, type ImportedLayer,
} from './io/torch.js';
export {
  modelToOnnx, summarizeOnnx, ortSession, ONNX_IR_VERSION, ONNX_OPSET, SRIGL_VERSION,
  type ModelToOnnxOptions, type OnnxSummary, type OrtModule, type OrtSessionOptions, type OrtClassifier,
} from './io/onnx.js';
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
