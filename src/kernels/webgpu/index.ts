/**
 * The WebGPU backend for condensed inference: WGSL kernels (wgsl.ts) bound to a device
 * (kernels.ts), a whole condensed network on the GPU (model.ts), and the choice between WebGPU
 * and the WebAssembly kernels (backend.ts), and the benchmark of WebGPU against WebAssembly
 * (bench.ts). Browser-only at run time; importing it anywhere is safe.
 */
export {
  createCondensedRunner, probeWebGpu, webgpuEngineMessage, CONDENSED_BACKENDS,
  type CondensedBackend, type CondensedRunner, type CondensedRunnerOptions, type WasmPredictor, type WebGpuProbe,
} from './backend.js';
export { CondensedGpuModel, type CondensedGpuModelOptions, type GpuNetInput } from './model.js';
export { GpuKernels, nmGroupBasesOf, type GpuLayer, type KernelCall, type CondensedLayerData, type CondensedNMLayerData } from './kernels.js';
export {
  requestGpu, compilePipeline, describeAdapter, gpuOfRuntime, GpuContext, WebGpuError,
  type AdapterSummary, type RequestGpuOptions, type WebGpuFailure,
} from './device.js';
export { WEBGPU_VARIANTS, webgpuVariant, type WebGpuVariant, type WeightFormat } from './wgsl.js';
export {
  runWebGpuBench, formatWebGpuBench, interleavedMedians, SOFTWARE_ADAPTER_NOTE,
  type WebGpuBenchOptions, type WebGpuBenchResult, type WebGpuBenchRow, type TimedMethod, type InterleavedOptions,
} from './bench.js';
export type * from './gpu-types.js';
