/**
 * Getting a WebGPU device and keeping track of its health: the runtime's `navigator.gpu`, the
 * adapter (and whether it is a software one), device loss and uncaptured errors, and compiling a
 * WGSL kernel into a pipeline with the compiler's messages in the error. Everything that fails
 * here throws a WebGpuError whose `reason` says which way it failed, so a caller choosing a
 * backend can fall back to WebAssembly and say why.
 */
import type {
  GPU, GPUAdapter, GPUBindGroupLayout, GPUComputePipeline, GPUDevice, GPUDeviceLostInfo, GPUError,
} from './gpu-types.js';

/** How a WebGPU step failed. */
export type WebGpuFailure =
  | 'unavailable' // the runtime has no navigator.gpu
  | 'no-adapter' // requestAdapter() gave none
  | 'software-adapter' // only a software adapter, and the caller did not accept one
  | 'device' // requestDevice() failed
  | 'compile' // a WGSL kernel did not compile or its pipeline was rejected
  | 'lost' // the device was lost (destroyed, driver reset, GPU removed)
  | 'validation' // a command was rejected (a bug, or a limit exceeded)
  | 'out-of-memory';

export class WebGpuError extends Error {
  override readonly name = 'WebGpuError';
  constructor(readonly reason: WebGpuFailure, message: string) {
    super(message);
  }
}

/** True when running under Node.js (which has no WebGPU). */
export function isNodeRuntime(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** The runtime's `navigator.gpu`, or null where there is none (Node, insecure pages, old browsers). */
export function gpuOfRuntime(): GPU | null {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  return nav?.gpu ?? null;
}

/** Why there is no navigator.gpu here, in words a user can act on. */
export function noWebGpuMessage(): string {
  if (isNodeRuntime()) return 'WebGPU needs a runtime with navigator.gpu (a browser); Node has none';
  const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext;
  if (secure === false) return 'navigator.gpu is missing: WebGPU is only exposed to secure contexts (https:// or http://localhost)';
  return 'navigator.gpu is missing: this browser has no WebGPU, or it is disabled (Chromium: a supported GPU, or --enable-unsafe-webgpu)';
}

/**
 * The error for an engine (createEngine) asked for backend 'webgpu', e.g. by `--backend webgpu`:
 * the engine's training and evaluation kernels are synchronous WebAssembly; WebGPU runs
 * condensed inference only (backend.ts).
 */
export function webgpuEngineMessage(): string {
  if (isNodeRuntime() || gpuOfRuntime() === null) return `backend 'webgpu': ${noWebGpuMessage()}`;
  return "backend 'webgpu': the engine's kernels (training, evaluation) run on WebAssembly; WebGPU runs condensed inference: createCondensedRunner(net, { backend: 'webgpu' })";
}

/** What the adapter says about itself, and whether it is a software (CPU) implementation. */
export interface AdapterSummary {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  /** A CPU implementation (SwiftShader, llvmpipe/lavapipe, WARP, or flagged as a fallback adapter): its timings are not GPU timings. */
  readonly software: boolean;
  /** One line: vendor, architecture, device or description, and "(software)" when it is one. */
  readonly label: string;
}

const SOFTWARE_NAMES = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i;

export function describeAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info;
  const vendor = info?.vendor ?? '', architecture = info?.architecture ?? '', device = info?.device ?? '', description = info?.description ?? '';
  const software = info?.isFallbackAdapter === true || adapter.isFallbackAdapter === true || SOFTWARE_NAMES.test([vendor, architecture, device, description].join(' '));
  const parts = [vendor, architecture, device || description].filter((s) => s !== '');
  const label = `${parts.length > 0 ? parts.join(' ') : 'unnamed adapter'}${software ? ' (software)' : ''}`;
  return { vendor, architecture, device, description, software, label };
}

/** Options for `requestGpu`. */
export interface RequestGpuOptions {
  /** The WebGPU entry point. Default: the runtime's navigator.gpu. */
  gpu?: GPU | null;
  /** Default 'high-performance' (the discrete GPU where there are two). */
  powerPreference?: 'low-power' | 'high-performance';
  /** Whether a software adapter is acceptable; when not, one is refused with reason 'software-adapter'. Default true. */
  allowSoftware?: boolean;
}

/**
 * A WebGPU device and what happened to it: `lost` is set once the device is lost and
 * `uncaptured` collects errors no error scope caught. Pipelines are compiled and cached here.
 */
export class GpuContext {
  private lostInfo: GPUDeviceLostInfo | null = null;
  private readonly uncaptured: GPUError[] = [];

  constructor(readonly device: GPUDevice, readonly adapter: AdapterSummary | null = null) {
    device.lost.then((info) => {
      this.lostInfo = info;
    });
    device.addEventListener('uncapturederror', (event) => {
      this.uncaptured.push(event.error);
    });
  }

  /** The loss, once the device is lost. */
  get lost(): GPUDeviceLostInfo | null {
    return this.lostInfo;
  }

  /** Throws a WebGpuError('lost') when the device is lost. */
  checkAlive(): void {
    if (this.lostInfo !== null) {
      throw new WebGpuError('lost', `WebGPU device lost (${this.lostInfo.reason})${this.lostInfo.message ? `: ${this.lostInfo.message}` : ''}`);
    }
  }

  /**
   * Explains a failed GPU operation: the device loss when that is what happened (the lost
   * promise may settle a moment after the failed call, so this waits one macrotask for it), else
   * `error` as a WebGpuError of reason `fallback`.
   */
  async explain(error: unknown, what: string, fallback: WebGpuFailure = 'validation'): Promise<WebGpuError> {
    if (error instanceof WebGpuError && error.reason !== 'validation') return error;
    await new Promise((resolve) => setTimeout(resolve, 0));
    try {
      this.checkAlive();
    } catch (lost) {
      return lost as WebGpuError;
    }
    if (error instanceof WebGpuError) return error;
    return new WebGpuError(fallback, `${what}: ${(error as Error)?.message ?? String(error)}`);
  }

  /** Errors no scope caught, oldest first, and forgets them. */
  takeUncaptured(): GPUError[] {
    return this.uncaptured.splice(0);
  }
}

/**
 * Requests an adapter and a device with the adapter's largest storage-buffer limits (so big
 * layers and batches fit). Throws WebGpuError: 'unavailable' without navigator.gpu,
 * 'no-adapter', 'software-adapter' (when allowSoftware is false), 'device'.
 */
export async function requestGpu(options: RequestGpuOptions = {}): Promise<GpuContext> {
  const gpu = options.gpu === undefined ? gpuOfRuntime() : options.gpu;
  if (gpu === null) throw new WebGpuError('unavailable', noWebGpuMessage());
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  } catch (e) {
    throw new WebGpuError('no-adapter', `navigator.gpu.requestAdapter() failed: ${(e as Error)?.message ?? String(e)}`);
  }
  if (adapter === null) {
    throw new WebGpuError('no-adapter', 'no WebGPU adapter: navigator.gpu.requestAdapter() returned null (no usable GPU or driver; in Chromium without a GPU, --enable-unsafe-webgpu gives the SwiftShader software adapter)');
  }
  const summary = describeAdapter(adapter);
  if (options.allowSoftware === false && summary.software) {
    throw new WebGpuError('software-adapter', `the only WebGPU adapter is a software one (${summary.label}); the WebAssembly kernels are faster on this CPU`);
  }
  const limits = adapter.limits;
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      label: 'srigl',
      requiredLimits: { maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize, maxBufferSize: limits.maxBufferSize },
    });
  } catch (e) {
    throw new WebGpuError('device', `requestDevice() on ${summary.label} failed: ${(e as Error)?.message ?? String(e)}`);
  }
  return new GpuContext(device, summary);
}

/**
 * Compiles WGSL `code` into a compute pipeline with entry point `main` over one bind group of
 * `layout`. A shader that does not compile, or a pipeline the device rejects, throws
 * WebGpuError('compile') quoting the compiler's messages with their source lines.
 */
export async function compilePipeline(ctx: GpuContext, name: string, code: string, layout: GPUBindGroupLayout): Promise<GPUComputePipeline> {
  ctx.checkAlive();
  const device = ctx.device;
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label: name, code });
  const pipeline = device
    .createComputePipelineAsync({ label: name, layout: device.createPipelineLayout({ label: name, bindGroupLayouts: [layout] }), compute: { module, entryPoint: 'main' } })
    .then((p) => ({ ok: true as const, p }), (e: unknown) => ({ ok: false as const, e }));
  const [info, scopeError, made] = await Promise.all([module.getCompilationInfo(), device.popErrorScope(), pipeline]);
  const lines = code.split('\n');
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length > 0) {
    const what = errors.map((m) => `line ${m.lineNum}:${m.linePos}: ${m.message}${m.lineNum > 0 ? ` (in "${lines[m.lineNum - 1]?.trim() ?? ''}")` : ''}`);
    throw new WebGpuError('compile', `WGSL kernel ${name} failed to compile: ${what.join('; ')}`);
  }
  if (!made.ok) throw await ctx.explain(made.e, `WGSL kernel ${name}: the device rejected its pipeline`, 'compile');
  if (scopeError !== null) throw new WebGpuError('compile', `WGSL kernel ${name}: ${scopeError.message}`);
  return made.p;
}
