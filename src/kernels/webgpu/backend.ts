/**
 * Choosing where condensed inference runs: WebGPU or the WebAssembly kernels, probed at start-up
 * as the engine probes its ISA. `createCondensedRunner` gives one async interface over both.
 *
 * - 'auto' (default): WebGPU when the runtime has navigator.gpu, an adapter, a device, and every
 *   kernel of the network compiles; otherwise WebAssembly, with the reason in `fallbackReason`.
 *   A software adapter (SwiftShader, llvmpipe) is skipped unless `softwareAdapter: 'use'`: it is
 *   WebGPU on the CPU, slower than the wasm SIMD kernels (bench/webgpu measures both). If the
 *   device is lost or a run fails later, the runner switches to WebAssembly and reruns the batch.
 * - 'webgpu': WebGPU or a WebGpuError saying why not (no navigator.gpu, no adapter, no device,
 *   a kernel that does not compile, a lost device); never a silent fallback.
 * - 'wasm': the WebAssembly kernels.
 *
 * The WebAssembly side is passed in (`wasm`: a factory of anything with predict(), such as
 * src/sparse/condensed/model.ts's CondensedModel), so this module stays on the kernels floor.
 */
import { requestGpu, WebGpuError, type AdapterSummary, type GpuContext } from './device.js';

export { webgpuEngineMessage } from './device.js';
import type { GPU } from './gpu-types.js';
import { CondensedGpuModel, type GpuNetInput } from './model.js';

/** Where condensed inference may run. */
export type CondensedBackend = 'auto' | 'webgpu' | 'wasm';

/** The backends `createCondensedRunner` accepts, for option parsers. */
export const CONDENSED_BACKENDS: readonly CondensedBackend[] = ['auto', 'webgpu', 'wasm'];

/** The synchronous WebAssembly model the runner falls back to (CondensedModel has this shape). */
export interface WasmPredictor {
  predict(x: Float32Array, batch?: number): Float32Array;
  close?(): Promise<void>;
}

/** Condensed inference on whichever backend was chosen. */
export interface CondensedRunner {
  /** Where the next run executes. */
  readonly backend: 'webgpu' | 'wasm';
  /** Why WebGPU is not (or no longer) in use under 'auto'; null otherwise. */
  readonly fallbackReason: string | null;
  /** The WebGPU adapter in use (null on wasm). */
  readonly adapter: AdapterSummary | null;
  /** Logits [batch, classes] for x [batch, C·H·W] (default: as many examples as x holds). */
  run(x: Float32Array, batch?: number): Promise<Float32Array>;
  close(): Promise<void>;
}

export interface CondensedRunnerOptions {
  /** Default 'auto'. */
  backend?: CondensedBackend;
  /** Builds the WebAssembly model (called at most once, only when it is needed). Required unless backend is 'webgpu'. */
  wasm?: () => WasmPredictor | Promise<WasmPredictor>;
  /** The WebGPU entry point. Default: the runtime's navigator.gpu. */
  gpu?: GPU | null;
  /** Largest batch per GPU submit (CondensedGpuModelOptions.maxBatch). Default 256. */
  maxBatch?: number;
  /** Under 'auto', whether a software adapter is used ('use') or skipped for wasm ('skip'). Default 'skip'. 'webgpu' always uses it. */
  softwareAdapter?: 'use' | 'skip';
  /** Told once when 'auto' falls back to WebAssembly, with the reason (also in fallbackReason). */
  onFallback?: (reason: string, error: WebGpuError) => void;
}

/** The outcome of probing for WebGPU. */
export type WebGpuProbe =
  | { readonly available: true; readonly ctx: GpuContext; readonly adapter: AdapterSummary }
  | { readonly available: false; readonly error: WebGpuError };

/**
 * Asks the runtime for a WebGPU device (requestGpu) and reports the outcome instead of throwing
 * WebGpuError. `allowSoftware` defaults to true.
 */
export async function probeWebGpu(opts: { gpu?: GPU | null; allowSoftware?: boolean } = {}): Promise<WebGpuProbe> {
  try {
    const ctx = await requestGpu({ gpu: opts.gpu, allowSoftware: opts.allowSoftware ?? true });
    return { available: true, ctx, adapter: ctx.adapter! };
  } catch (e) {
    if (e instanceof WebGpuError) return { available: false, error: e };
    throw e;
  }
}

function wasmRunner(model: WasmPredictor, fallbackReason: string | null): CondensedRunner {
  return {
    backend: 'wasm',
    fallbackReason,
    adapter: null,
    run: async (x, batch) => model.predict(x, batch),
    close: async () => {
      await model.close?.();
    },
  };
}

/**
 * Builds the condensed network `net` on the backend `opts.backend` chooses (see the top of this
 * file). Shapes and malformed layers throw RangeError whatever the backend; only WebGPU failures
 * (WebGpuError) make 'auto' fall back.
 */
export async function createCondensedRunner(net: GpuNetInput, opts: CondensedRunnerOptions = {}): Promise<CondensedRunner> {
  const backend = opts.backend ?? 'auto';
  if (!CONDENSED_BACKENDS.includes(backend)) throw new RangeError(`createCondensedRunner: backend must be one of ${CONDENSED_BACKENDS.join(', ')}, got '${String(backend)}'`);
  const makeWasm = opts.wasm;
  if (backend !== 'webgpu' && makeWasm === undefined) throw new Error(`createCondensedRunner: backend '${backend}' needs opts.wasm (a factory of the WebAssembly model)`);
  if (backend === 'wasm') return wasmRunner(await makeWasm!(), null);

  let gpuModel: CondensedGpuModel;
  let ctx: GpuContext | null = null;
  try {
    ctx = await requestGpu({ gpu: opts.gpu, allowSoftware: backend === 'webgpu' || opts.softwareAdapter === 'use' });
    gpuModel = await CondensedGpuModel.create(ctx, net, { maxBatch: opts.maxBatch });
  } catch (e) {
    ctx?.device.destroy();
    if (backend === 'webgpu' || !(e instanceof WebGpuError)) throw e;
    opts.onFallback?.(e.message, e);
    return wasmRunner(await makeWasm!(), e.message);
  }
  if (backend === 'webgpu') {
    return {
      backend: 'webgpu', fallbackReason: null, adapter: gpuModel.adapter,
      run: (x, batch) => gpuModel.run(x, batch),
      close: () => closeGpu(gpuModel),
    };
  }
  return new AutoRunner(gpuModel, makeWasm!, opts.onFallback);
}

/** Frees a model the runner made, and the device it requested for it. */
async function closeGpu(model: CondensedGpuModel): Promise<void> {
  await model.close();
  model.kernels.ctx.device.destroy();
}

/** 'auto' after WebGPU came up: runs there until a WebGPU failure, then on WebAssembly from that batch on. */
class AutoRunner implements CondensedRunner {
  private reason: string | null = null;
  private switching: Promise<WasmPredictor> | null = null;

  constructor(
    private readonly gpuModel: CondensedGpuModel,
    private readonly makeWasm: () => WasmPredictor | Promise<WasmPredictor>,
    private readonly onFallback?: (reason: string, error: WebGpuError) => void,
  ) {}

  get backend(): 'webgpu' | 'wasm' {
    return this.reason === null ? 'webgpu' : 'wasm';
  }

  get fallbackReason(): string | null {
    return this.reason;
  }

  get adapter(): AdapterSummary | null {
    return this.reason === null ? this.gpuModel.adapter : null;
  }

  async run(x: Float32Array, batch?: number): Promise<Float32Array> {
    if (this.reason === null) {
      try {
        return await this.gpuModel.run(x, batch);
      } catch (e) {
        // A run queued behind the one that failed finds the model closed: it reruns on wasm too.
        if (this.reason === null) {
          if (!(e instanceof WebGpuError)) throw e;
          this.fallBack(e);
        }
      }
    }
    return (await this.switching!).predict(x, batch);
  }

  private fallBack(e: WebGpuError): void {
    this.reason = e.message;
    this.onFallback?.(e.message, e);
    this.switching = Promise.resolve(this.makeWasm());
    this.gpuModel.close().then(() => this.gpuModel.kernels.ctx.device.destroy(), () => undefined);
  }

  async close(): Promise<void> {
    if (this.reason === null) await closeGpu(this.gpuModel);
    else await (await this.switching!).close?.();
  }
}
