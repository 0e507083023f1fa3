/**
 * The benchmark this page runs lives in src/kernels/webgpu/bench.ts, so that the library bundle
 * exports it and the demo page runs the same code (its "WebGPU" section); this module keeps the
 * bench/webgpu import path for main.ts and the browser tests.
 */
export {
  runWebGpuBench, formatWebGpuBench, SOFTWARE_ADAPTER_NOTE,
  type WebGpuBenchOptions, type WebGpuBenchResult, type WebGpuBenchRow,
} from '../../src/kernels/webgpu/bench.js';
