/**
 * A condensed network on the GPU: every layer uploaded once, activations kept in GPU buffers
 * between layers, all kernels of a batch recorded into one command buffer, and one read-back of
 * the logits per call (per chunk of maxBatch examples).
 *
 * It takes the condensed network as plain data (what src/sparse/condensed/model.ts's
 * CondensedNet holds, read structurally: this floor does not import sparse/) and runs the ops
 * linear, conv2d, relu, maxpool, flatten, save, swap, add and avgpool with the layouts of the
 * wasm CondensedModel: feature maps batch-major [n, C, H, W], flat activations after the first
 * Linear batch-contiguous [F, n], transposed on the GPU where one meets the other. A ReLU right
 * after a Linear or Conv2d runs in that kernel's epilogue. Any other op kind throws a
 * WebGpuError naming it, so `backend: 'auto'` (backend.ts) falls back to WebAssembly.
 */
import type { ConvGeometry } from '../condensed.js';
import { GpuContext, WebGpuError } from './device.js';
import type { GPUBuffer, GPUDevice } from './gpu-types.js';
import { GpuKernels, type CondensedLayerData, type CondensedNMLayerData, type GpuLayer, type KernelCall } from './kernels.js';

/** A condensed network as data: the model spec's input shape and classes, and its ops. */
export interface GpuNetInput {
  readonly spec: { readonly inputShape: readonly number[]; readonly classes: number };
  readonly ops: readonly { readonly kind: string }[];
}

/** A condensed layer of either format, as the ops carry it. */
type AnyLayerData = (CondensedLayerData | CondensedNMLayerData) & { readonly outFeatures: number; readonly activeMap: Uint32Array };

/** Options for `CondensedGpuModel.create`. */
export interface CondensedGpuModelOptions {
  /** Largest batch run at once; larger inputs run in chunks of it. Buffers are sized for it. Default 256. */
  maxBatch?: number;
}

type Shape = { kind: 'chw'; C: number; H: number; W: number } | { kind: 'flat'; F: number };
const sizeOf = (s: Shape) => (s.kind === 'chw' ? s.C * s.H * s.W : s.F);
const describe = (s: Shape) => (s.kind === 'chw' ? `[${s.C}, ${s.H}, ${s.W}]` : `[${s.F}]`);

/** A value in flight between ops: its buffer, per-example shape, and whether it is batch-contiguous [F, n]. */
interface Value {
  buf: GPUBuffer;
  shape: Shape;
  transposed: boolean;
}

/** One recorded step: `calls(n)` are its dispatches for batch n. */
type Step = (n: number) => readonly KernelCall[];

/** What `build` records: the steps, where the logits of n examples end up, and the buffers it allocated. */
interface Plan {
  steps: Step[];
  /** The buffer holding the logits [n, rows] after the steps ran. */
  result: (n: number) => GPUBuffer;
  /** Active rows of the last layer, and the class of each. */
  rows: number;
  classOf: Uint32Array;
  weightBytes: number;
  buffers: GPUBuffer[];
}

export class CondensedGpuModel {
  /** Bytes of weights uploaded (values, indices or offsets, group bases, biases). */
  readonly weightBytes: number;
  /** MAP_READ buffer the logits are copied to. */
  private readonly staging: GPUBuffer;
  /** Serialises runs: they share the activation buffers and the staging buffer. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly kernels: GpuKernels,
    readonly maxBatch: number,
    readonly inputSize: number,
    readonly classes: number,
    private readonly input: GPUBuffer,
    private readonly plan: Plan,
  ) {
    this.weightBytes = plan.weightBytes;
    this.staging = kernels.readBuffer(maxBatch * plan.rows * 4, 'srigl.logits.readback');
  }

  /**
   * Uploads `net` to `device` (a GPUDevice, or a GpuContext from requestGpu) and compiles the
   * kernels it needs, so that shader and shape errors surface here. Throws WebGpuError for GPU
   * failures and for op kinds this backend does not run; RangeError for malformed layers.
   */
  static async create(device: GPUDevice | GpuContext, net: GpuNetInput, opts: CondensedGpuModelOptions = {}): Promise<CondensedGpuModel> {
    const ctx = device instanceof GpuContext ? device : new GpuContext(device);
    const maxBatch = opts.maxBatch ?? 256;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`CondensedGpuModel: maxBatch must be a positive integer, got ${maxBatch}`);
    const spec = net?.spec;
    const shape0 = spec?.inputShape;
    if (!shape0 || shape0.length !== 3 || !shape0.every((v) => Number.isInteger(v) && v >= 1)) {
      throw new RangeError(`CondensedGpuModel: spec.inputShape must be three positive integers [C, H, W], got ${JSON.stringify(shape0)}`);
    }
    if (!Number.isInteger(spec.classes) || spec.classes < 1) throw new RangeError(`CondensedGpuModel: spec.classes must be a positive integer, got ${spec.classes}`);
    if (!Array.isArray(net.ops) || net.ops.length === 0) throw new RangeError('CondensedGpuModel: the network has no ops');
    const kernels = GpuKernels.create(ctx);
    const inputSize = shape0[0] * shape0[1] * shape0[2];
    const input = kernels.buffer(maxBatch * inputSize * 4, 'srigl.input');
    try {
      const built = await build(kernels, net, maxBatch, input);
      return new CondensedGpuModel(kernels, maxBatch, inputSize, spec.classes, input, built);
    } catch (e) {
      input.destroy();
      throw e;
    }
  }

  /**
   * Logits [batch, classes] row-major for `batch` examples x [batch, C·H·W] (default: as many as
   * x holds), in chunks of maxBatch, each one submit and one read-back. Classes whose neuron was
   * ablated get 0. Calls are serialised. A lost device throws WebGpuError('lost').
   */
  run(x: Float32Array, batch = x.length / this.inputSize): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new Error('CondensedGpuModel: run after close()'));
    if (!Number.isInteger(batch) || batch < 0 || batch * this.inputSize > x.length) {
      return Promise.reject(new RangeError(`CondensedGpuModel.run: ${x.length} inputs do not hold ${batch} examples of ${this.inputSize} features`));
    }
    const job = this.queue.then(() => this.runNow(x, batch));
    this.queue = job.catch(() => undefined);
    return job;
  }

  private async runNow(x: Float32Array, batch: number): Promise<Float32Array> {
    const out = new Float32Array(batch * this.classes);
    const { kernels } = this;
    const { rows, classOf, steps } = this.plan;
    for (let start = 0; start < batch; start += this.maxBatch) {
      const n = Math.min(this.maxBatch, batch - start);
      kernels.ctx.checkAlive();
      kernels.write(this.input, x.subarray(start * this.inputSize, (start + n) * this.inputSize));
      const calls = steps.flatMap((s) => s(n));
      await kernels.run(calls, n, { from: this.plan.result(n), to: this.staging, bytes: n * rows * 4 });
      const y = new Float32Array(this.staging.getMappedRange(0, n * rows * 4));
      if (rows === this.classes) {
        out.set(y, start * this.classes);
      } else {
        for (let b = 0; b < n; b++) for (let a = 0; a < rows; a++) out[(start + b) * this.classes + classOf[a]] = y[b * rows + a];
      }
      this.staging.unmap();
    }
    return out;
  }

  /** The adapter the model runs on (null when created from a bare GPUDevice). */
  get adapter() {
    return this.kernels.ctx.adapter;
  }

  /** Frees the model's GPU buffers (the device stays). Waits for a run in progress. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    for (const b of this.plan.buffers) b.destroy();
    this.input.destroy();
    this.staging.destroy();
    this.kernels.destroy();
  }
}

/** An error naming op `i` and its kind. */
function opError(i: number, kind: string, msg: string): RangeError {
  return new RangeError(`CondensedGpuModel: op ${i} (${kind}): ${msg}`);
}

function posInt(v: unknown, i: number, kind: string, what: string): number {
  if (!Number.isInteger(v) || (v as number) < 1) throw opError(i, kind, `${what} must be a positive integer, got ${JSON.stringify(v)}`);
  return v as number;
}

async function build(kernels: GpuKernels, net: GpuNetInput, B: number, input: GPUBuffer): Promise<Plan> {
  const buffers: GPUBuffer[] = [];
  const alloc = (floats: number, label: string) => {
    const b = kernels.buffer(floats * 4, label);
    buffers.push(b);
    return b;
  };
  try {
    return await buildSteps(kernels, net, B, input, alloc, buffers);
  } catch (e) {
    for (const b of buffers) b.destroy();
    throw e;
  }
}

/** Walks the ops once: uploads each layer, allocates each activation for B examples, and records the dispatches. */
async function buildSteps(
  kernels: GpuKernels, net: GpuNetInput, B: number, input: GPUBuffer, alloc: (floats: number, label: string) => GPUBuffer, buffers: GPUBuffer[],
): Promise<Plan> {
  const [C0, H0, W0] = net.spec.inputShape;
  let cur: Value = { buf: input, shape: { kind: 'chw', C: C0, H: H0, W: W0 }, transposed: false };
  const saved: Value[] = [];
  const steps: Step[] = [];
  let weightBytes = 0;
  // One scratch buffer for the [n, F] → [F, n] transposes before Linear layers (used one layer at a time).
  let transFloats = 0;
  for (const op of net.ops) {
    if (op.kind === 'linear') transFloats = Math.max(transFloats, ((op as { layer?: { inFeatures?: number } }).layer?.inFeatures ?? 0) * B);
  }
  const trans = alloc(Math.max(1, transFloats), 'srigl.transpose');
  let lastLinear: AnyLayerData | null = null;
  const ops = net.ops;
  const upload = (i: number, kind: string, layer: unknown, name: string): { data: AnyLayerData; gpu: GpuLayer } => {
    if (layer === null || typeof layer !== 'object') throw opError(i, kind, 'has no layer');
    const data = layer as AnyLayerData;
    const gpu = 'offsets' in data ? kernels.uploadCondensedNM(data, name) : kernels.uploadCondensed(data as CondensedLayerData, name);
    buffers.push(gpu.values, gpu.bias, ...(gpu.where ? [gpu.where] : []), ...(gpu.groupBase ? [gpu.groupBase] : []));
    weightBytes += gpu.bytes;
    return { data, gpu };
  };

  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    const kind = String(op?.kind);
    // A ReLU right after a layer runs in the layer's epilogue.
    const fuseRelu = ops[i + 1]?.kind === 'relu';
    switch (kind) {
      case 'linear': {
        const { name, layer } = op as { name?: string; layer?: unknown };
        const { data, gpu } = upload(i, kind, layer, name ?? `op ${i}`);
        // A feature map reads as its C·H·W features (batch-major, so flattening moves nothing).
        const F = sizeOf(cur.shape);
        if (gpu.cols !== F) throw opError(i, kind, `reads ${gpu.cols} features, the previous op gives ${describe(cur.shape)}`);
        const y = alloc(B * gpu.rows, `${name}.y`);
        const direct = await kernels.linear(gpu, cur.buf, y, { relu: fuseRelu });
        if (cur.transposed) {
          steps.push(() => [direct]);
        } else {
          // Batch-major [n, F]: at n = 1 that is already [F, 1]; otherwise transpose first.
          const toT = await kernels.transpose(cur.buf, trans, (n) => n, () => F);
          const viaT = await kernels.linear(gpu, trans, y, { relu: fuseRelu });
          steps.push((n) => (n === 1 ? [direct] : [toT, viaT]));
        }
        cur = { buf: y, shape: { kind: 'flat', F: gpu.rows }, transposed: true };
        lastLinear = data;
        if (fuseRelu) i++;
        break;
      }
      case 'conv2d': {
        const { name, layer, geometry } = op as { name?: string; layer?: unknown; geometry?: ConvGeometry };
        const { gpu } = upload(i, kind, layer, name ?? `op ${i}`);
        if (geometry === null || typeof geometry !== 'object') throw opError(i, kind, 'has no geometry');
        for (const f of ['C', 'H', 'W', 'kh', 'kw', 'stride'] as const) posInt(geometry[f], i, kind, `geometry.${f}`);
        if (!Number.isInteger(geometry.pad) || geometry.pad < 0) throw opError(i, kind, `geometry.pad must be a non-negative integer, got ${geometry.pad}`);
        const s = cur.shape;
        if (s.kind !== 'chw' || s.C !== geometry.C || s.H !== geometry.H || s.W !== geometry.W) {
          throw opError(i, kind, `expects [${geometry.C}, ${geometry.H}, ${geometry.W}], the previous op gives ${describe(s)}`);
        }
        const OH = Math.floor((geometry.H + 2 * geometry.pad - geometry.kh) / geometry.stride) + 1, OW = Math.floor((geometry.W + 2 * geometry.pad - geometry.kw) / geometry.stride) + 1;
        const y = alloc(B * gpu.rows * OH * OW, `${name}.y`);
        const call = await kernels.conv(gpu, geometry, cur.buf, y, { relu: fuseRelu });
        steps.push(() => [call]);
        cur = { buf: y, shape: { kind: 'chw', C: gpu.rows, H: OH, W: OW }, transposed: false };
        if (fuseRelu) i++;
        break;
      }
      case 'relu': {
        const y = alloc(B * sizeOf(cur.shape), `op${i}.relu`);
        const call = await kernels.biasRelu(cur.buf, y, { perExample: sizeOf(cur.shape) });
        steps.push(() => [call]);
        cur = { ...cur, buf: y };
        break;
      }
      case 'maxpool': {
        const { kernel, stride } = op as { kernel?: number; stride?: number };
        posInt(kernel, i, kind, 'kernel');
        posInt(stride, i, kind, 'stride');
        const s = cur.shape;
        if (s.kind !== 'chw' || s.H < kernel! || s.W < kernel!) throw opError(i, kind, `cannot pool ${describe(s)}`);
        const OH = Math.floor((s.H - kernel!) / stride!) + 1, OW = Math.floor((s.W - kernel!) / stride!) + 1;
        const y = alloc(B * s.C * OH * OW, `op${i}.maxpool`);
        const call = await kernels.maxPool(cur.buf, y, s.C, s.H, s.W, kernel!, stride!);
        steps.push(() => [call]);
        cur = { buf: y, shape: { kind: 'chw', C: s.C, H: OH, W: OW }, transposed: false };
        break;
      }
      case 'flatten':
        if (cur.shape.kind === 'chw') cur = { ...cur, shape: { kind: 'flat', F: sizeOf(cur.shape) } };
        break;
      case 'save':
        if (cur.shape.kind !== 'chw') throw opError(i, kind, `can only save a feature map, the previous op gives ${describe(cur.shape)}`);
        saved.push(cur);
        break;
      case 'swap': {
        const top = saved.pop();
        if (!top) throw opError(i, kind, 'has no saved activation to swap with');
        saved.push(cur);
        cur = top;
        break;
      }
      case 'add': {
        const other = saved.pop();
        if (!other) throw opError(i, kind, 'has no saved activation to add');
        if (describe(other.shape) !== describe(cur.shape) || other.transposed !== cur.transposed) throw opError(i, kind, `adds a saved ${describe(other.shape)} to ${describe(cur.shape)}`);
        const count = sizeOf(cur.shape);
        const y = alloc(B * count, `op${i}.add`);
        const call = await kernels.add(cur.buf, other.buf, y, count);
        steps.push(() => [call]);
        cur = { ...cur, buf: y };
        break;
      }
      case 'avgpool': {
        const s = cur.shape;
        if (s.kind !== 'chw') throw opError(i, kind, `cannot pool ${describe(s)}`);
        const y = alloc(B * s.C, `op${i}.avgpool`);
        const call = await kernels.avgPool(cur.buf, y, s.C, s.H * s.W);
        steps.push(() => [call]);
        cur = { buf: y, shape: { kind: 'flat', F: s.C }, transposed: false };
        break;
      }
      default:
        throw new WebGpuError('validation', `CondensedGpuModel: op ${i} (${kind}) is not supported by the WebGPU backend (it runs linear, conv2d, relu, maxpool, flatten, save, swap, add, avgpool)`);
    }
  }
  if (saved.length > 0) throw new RangeError(`CondensedGpuModel: ${saved.length} saved activation(s) are never added`);
  if (ops[ops.length - 1].kind !== 'linear' || lastLinear === null || lastLinear.outFeatures !== net.spec.classes) {
    throw new RangeError(`CondensedGpuModel: the last op must be a linear layer over the ${net.spec.classes} classes`);
  }
  const rows = lastLinear.nActive;
  const classOf = lastLinear.activeMap;
  if (!(classOf instanceof Uint32Array) || classOf.length !== rows || classOf.some((c) => c >= net.spec.classes)) {
    throw new RangeError(`CondensedGpuModel: the last layer's activeMap must be a Uint32Array of ${rows} classes below ${net.spec.classes}`);
  }
  // Yᵀ [rows, n] of the last layer → [n, rows] for the read-back (nothing to do at n = 1).
  const logitsT = cur.buf;
  const out = alloc(B * rows, 'srigl.logits');
  const toRows = await kernels.transpose(logitsT, out, () => rows, (n) => n);
  steps.push((n) => (n === 1 ? [] : [toRows]));
  return { steps, result: (n: number) => (n === 1 ? logitsT : out), rows, classOf, weightBytes, buffers };
}
