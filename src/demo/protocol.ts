/** The messages between the demo page (page.ts) and its worker (train-worker.ts). */
import type { AdapterSummary, WebGpuBenchOptions, WebGpuBenchResult, WebGpuBenchRow } from '../browser.js';

/** What the page asks the worker to do. */
export type PageMessage =
  | { type: 'train'; options: DemoTrainOptions }
  | { type: 'run-file'; name: string; bytes: ArrayBuffer }
  | { type: 'webgpu-bench'; size: WebGpuBenchSize };

/** The sizes the page offers for the WebGPU benchmark (src/kernels/webgpu/bench.ts). */
export type WebGpuBenchSize = 'full' | 'toy';

/**
 * The benchmark's options per size: 'full' is issue 17's table (3072→768, 90% and 99%, batch
 * 1/8/64/256: minutes on a software adapter), 'toy' a layer small enough to finish in seconds
 * anywhere, to see that it runs.
 */
export const WEBGPU_BENCH_SIZES: Readonly<Record<WebGpuBenchSize, Omit<WebGpuBenchOptions, 'gpu'>>> = {
  full: {},
  toy: { inFeatures: 96, outFeatures: 40, sparsities: [0.9], batches: [1, 3], rounds: 1, sampleMs: 1 },
};

/** The trained condensed model on WebGPU, beside the same model on the wasm kernels. */
export type GpuComparison =
  | {
      adapter: AdapterSummary;
      /** Logits compared: the whole test split, [n, classes]. */
      logits: number;
      /** Largest |WebGPU − wasm| over them. */
      maxAbsDiff: number;
      /** Largest |wasm| logit, the scale maxAbsDiff is to be read against. */
      maxAbs: number;
      /** Test images whose top class differs between the two. */
      differing: number;
      /** Median µs per call (inputs in, logits out) at each timed batch, the two interleaved. */
      latency: { batch: number; wasmUs: number; gpuUs: number }[];
    }
  | { adapter: AdapterSummary; error: string };

/** Training settings the page offers; the rest is `srigl train`'s default recipe for the mlp. */
export interface DemoTrainOptions {
  /** Epochs over the embedded 10,000 training images (79 steps each at batch 128). */
  epochs: number;
  /** Global sparsity of SRigL. */
  sparsity: number;
  /** SRigL's γ_sal: a neuron with fewer than γ_sal·k salient weights is ablated (0.3 by default; higher ablates more). */
  gammaSal: number;
  /** Seed of the weights, masks and data order. */
  seed: number;
}

/** One layer after a topology update (or at the start). */
export interface LayerPoint {
  name: string;
  density: number;
  /** Constant fan-in k (null for a dense layer). */
  k: number | null;
  activeNeurons: number;
  ablatedNeurons: number;
}

/** Median µs per call at one batch size. */
export interface Latency {
  batch: number;
  us: number;
}

/** A test image with the model's three most probable classes. */
export interface Prediction {
  /** Index in the test split. */
  index: number;
  label: number;
  top3: { cls: number; p: number }[];
}

/** What the worker reports. */
export type WorkerMessage =
  | { type: 'status'; text: string }
  | {
      /** Sent once the worker has started: what the runtime offers, probed. */
      type: 'probe';
      features: { simd: boolean; relaxedSimd: boolean; threads: boolean };
      /** Threads the engine will use: the cores when wasm threads work (a cross-origin isolated page), else 1. */
      threads: number;
      isolated: boolean;
    }
  | {
      /** Sent once the data is loaded. */
      type: 'data';
      classes: readonly string[];
      train: number;
      test: number;
      /** Side of the square images. */
      size: number;
      /** Pixels (u8, size² each) of the test images predictions are shown for. */
      images: Uint8Array;
      imageIndices: number[];
    }
  | {
      /** Training starts: the kernels in use, e.g. `wasm relaxed x2`, and their threads. */
      type: 'ready';
      kernels: string;
      threads: number;
    }
  | {
      /** Sent once at start-up: the WebGPU adapter the worker got, or why there is none. */
      type: 'webgpu';
      found: true;
      adapter: AdapterSummary;
    }
  | { type: 'webgpu'; found: false; message: string }
  | { type: 'webgpu-bench-row'; row: WebGpuBenchRow }
  | { type: 'webgpu-bench-done'; result: WebGpuBenchResult; table: string }
  | { type: 'webgpu-bench-failed'; message: string }
  | { type: 'step'; step: number; totalSteps: number; loss: number; acc: number; lr: number }
  | { type: 'epoch'; epoch: number; step: number; trainAcc: number; trainLoss: number; testAcc: number; testLoss: number; samplesPerSec: number }
  | { type: 'topology'; step: number; update: number; layers: LayerPoint[] }
  | {
      type: 'condensed';
      trainSeconds: number;
      steps: number;
      /** Weights of the dense layers and weights the condensed file stores. */
      denseWeights: number;
      storedWeights: number;
      layers: { name: string; out: number; nActive: number; fanIn: number; k: number }[];
      accuracy: { dense: number; condensed: number; n: number; differing: number };
      /** Dense (masked, GEMM) and condensed latency, 1 thread, interleaved medians. */
      latency: { batch: number; denseUs: number; condensedUs: number }[];
      predictions: Prediction[];
      /** The condensed model on WebGPU too; null where the worker found no WebGPU adapter. */
      webgpu: GpuComparison | null;
    }
  | {
      type: 'file-result';
      name: string;
      arch: string;
      kernels: string;
      accuracy: number;
      n: number;
      latency: Latency[];
      predictions: Prediction[];
      /** Logits [n, classes] of the whole test split, computed in batches of 256 (for comparison with Node). */
      logits: Float32Array;
    }
  | { type: 'error'; message: string };
