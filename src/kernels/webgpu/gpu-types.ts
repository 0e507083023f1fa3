/**
 * The part of the WebGPU API (https://www.w3.org/TR/webgpu/) that srigl's WebGPU backend uses,
 * typed here because TypeScript's DOM library has no WebGPU types and @webgpu/types is not a
 * dependency. Names follow the specification, so switching to @webgpu/types later is a change
 * of import only. This is a module (not a global declaration): it declares nothing on
 * `navigator`, and the engine reaches `navigator.gpu` through `gpuOfRuntime()` in device.ts.
 * A .ts file of interfaces rather than a .d.ts, so that tsc emits its declarations into dist/
 * beside the modules that import it.
 */

/** GPUBufferUsage flags (spec values; the browser's global of that name holds the same numbers). */
export const BufferUsage = {
  MAP_READ: 0x0001,
  MAP_WRITE: 0x0002,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

/** GPUMapMode.READ. */
export const MAP_READ = 0x0001;

/** GPUShaderStage.COMPUTE. */
export const SHADER_STAGE_COMPUTE = 0x4;

export interface GPU {
  requestAdapter(options?: { powerPreference?: 'low-power' | 'high-performance' }): Promise<GPUAdapter | null>;
}

export interface GPUAdapterInfo {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  /** Newer browsers report a fallback (software) adapter here. */
  readonly isFallbackAdapter?: boolean;
}

/** The limits srigl reads or requests (a subset of GPUSupportedLimits). */
export interface GPUSupportedLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxStorageBuffersPerShaderStage: number;
}

export interface GPUAdapter {
  /** Absent in browsers that predate GPUAdapter.info (Chrome < 114). */
  readonly info?: GPUAdapterInfo;
  readonly limits: GPUSupportedLimits;
  /** Deprecated in favour of info.isFallbackAdapter; still present in some browsers. */
  readonly isFallbackAdapter?: boolean;
  requestDevice(descriptor?: { label?: string; requiredLimits?: Record<string, number> }): Promise<GPUDevice>;
}

export interface GPUDeviceLostInfo {
  readonly reason: 'unknown' | 'destroyed';
  readonly message: string;
}

export interface GPUError {
  readonly message: string;
}

export interface GPUUncapturedErrorEvent {
  readonly error: GPUError;
}

export type GPUErrorFilter = 'validation' | 'out-of-memory' | 'internal';

export interface GPUDevice {
  readonly limits: GPUSupportedLimits;
  readonly queue: GPUQueue;
  readonly lost: Promise<GPUDeviceLostInfo>;
  addEventListener(type: 'uncapturederror', listener: (event: GPUUncapturedErrorEvent) => void): void;
  createBuffer(descriptor: { label?: string; size: number; usage: number; mappedAtCreation?: boolean }): GPUBuffer;
  createShaderModule(descriptor: { label?: string; code: string }): GPUShaderModule;
  createBindGroupLayout(descriptor: { label?: string; entries: GPUBindGroupLayoutEntry[] }): GPUBindGroupLayout;
  createPipelineLayout(descriptor: { label?: string; bindGroupLayouts: GPUBindGroupLayout[] }): GPUPipelineLayout;
  createComputePipelineAsync(descriptor: GPUComputePipelineDescriptor): Promise<GPUComputePipeline>;
  createBindGroup(descriptor: { label?: string; layout: GPUBindGroupLayout; entries: { binding: number; resource: { buffer: GPUBuffer } }[] }): GPUBindGroup;
  createCommandEncoder(descriptor?: { label?: string }): GPUCommandEncoder;
  pushErrorScope(filter: GPUErrorFilter): void;
  popErrorScope(): Promise<GPUError | null>;
  destroy(): void;
}

export interface GPUBindGroupLayoutEntry {
  binding: number;
  visibility: number;
  buffer: { type: 'uniform' | 'storage' | 'read-only-storage' };
}

export interface GPUComputePipelineDescriptor {
  label?: string;
  layout: GPUPipelineLayout;
  compute: { module: GPUShaderModule; entryPoint: string };
}

export interface GPUCompilationMessage {
  readonly message: string;
  readonly type: 'error' | 'warning' | 'info';
  readonly lineNum: number;
  readonly linePos: number;
}

export interface GPUShaderModule {
  getCompilationInfo(): Promise<{ readonly messages: readonly GPUCompilationMessage[] }>;
}

export interface GPUBuffer {
  readonly size: number;
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}

export interface GPUQueue {
  submit(commandBuffers: GPUCommandBuffer[]): void;
  writeBuffer(buffer: GPUBuffer, bufferOffset: number, data: ArrayBufferView | ArrayBuffer, dataOffset?: number, size?: number): void;
  onSubmittedWorkDone(): Promise<void>;
}

export interface GPUCommandEncoder {
  beginComputePass(descriptor?: { label?: string }): GPUComputePassEncoder;
  copyBufferToBuffer(source: GPUBuffer, sourceOffset: number, destination: GPUBuffer, destinationOffset: number, size: number): void;
  finish(): GPUCommandBuffer;
}

export interface GPUComputePassEncoder {
  setPipeline(pipeline: GPUComputePipeline): void;
  setBindGroup(index: number, bindGroup: GPUBindGroup): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}

/* Opaque handles: srigl only passes them back to the device. */
export interface GPUBindGroupLayout { readonly __brand?: 'GPUBindGroupLayout' }
export interface GPUPipelineLayout { readonly __brand?: 'GPUPipelineLayout' }
export interface GPUComputePipeline { readonly __brand?: 'GPUComputePipeline' }
export interface GPUBindGroup { readonly __brand?: 'GPUBindGroup' }
export interface GPUCommandBuffer { readonly __brand?: 'GPUCommandBuffer' }
