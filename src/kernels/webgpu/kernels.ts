/**
 * The WebGPU kernels bound to one device: pipelines compiled once per variant, layers uploaded
 * once, and `KernelCall`s (a pipeline, a bind group over fixed buffers, a uniform block) that a
 * command encoder replays for any batch n. Layouts and kernel contracts are in wgsl.ts.
 *
 * Kernel choice by shape, per call: batch 1 runs the gather-dot kernels (spmv/gemv; 16 lanes
 * per row when k ≥ 16, else 4), larger batches the tiled ones (spmm 8×8 up to n = 16, else 4×64;
 * dense gemm 64×8 up to n = 16, else 64×64). A `variant` option pins one, for tests and benchmarks.
 */
import type { ConvGeometry } from '../condensed.js';
import { compilePipeline, GpuContext, WebGpuError } from './device.js';
import {
  BufferUsage, MAP_READ, SHADER_STAGE_COMPUTE,
  type GPUBindGroup, type GPUBindGroupLayout, type GPUBuffer, type GPUComputePassEncoder, type GPUComputePipeline,
} from './gpu-types.js';
import {
  ELEMENTWISE_WORKGROUP, LAYOUT_BINDINGS, PARAMS, WEBGPU_VARIANTS, webgpuVariant,
  type BindingLayout, type GpuOp, type ParamSet, type ParamValues, type WebGpuVariant, type WeightFormat,
} from './wgsl.js';

/** A general condensed layer as plain arrays (src/sparse/condensed/layer.ts's CondensedLayer has this shape). */
export interface CondensedLayerData {
  readonly nActive: number;
  readonly inFeatures: number;
  readonly k: number;
  /** [nActive·k] row-major. */
  readonly values: Float32Array;
  /** [nActive·k] input columns. */
  readonly indices: Uint16Array | Uint32Array;
  /** [nActive] */
  readonly bias: Float32Array;
}

/** An N:M condensed layer as plain arrays (CondensedNMLayer's shape): offsets within groups, in group order. */
export interface CondensedNMLayerData {
  readonly nActive: number;
  readonly inFeatures: number;
  readonly k: number;
  readonly nm: { readonly n: number; readonly m: number; readonly taps: number };
  readonly values: Float32Array;
  readonly offsets: Uint8Array;
  readonly bias: Float32Array;
}

/** A layer in GPU buffers. */
export interface GpuLayer {
  readonly format: WeightFormat;
  readonly rows: number;
  /** Input features. */
  readonly cols: number;
  /** Weights per row (cols for a dense layer). */
  readonly k: number;
  /** Column distance between the members of an N:M group (1 otherwise). */
  readonly taps: number;
  readonly values: GPUBuffer;
  /** Packed u16 or u32 columns, or packed u8 N:M offsets; null for dense. */
  readonly where: GPUBuffer | null;
  readonly groupBase: GPUBuffer | null;
  readonly bias: GPUBuffer;
  /** Bytes uploaded for the layer. */
  readonly bytes: number;
}

/**
 * One dispatch ready to replay: `encode(pass, n)` records it for batch n (it may be recorded many
 * times in one submit, but for one n only: its uniform block holds one batch size).
 */
export interface KernelCall {
  readonly name: string;
  encode(pass: GPUComputePassEncoder, n: number): void;
}

/** The largest workgroup count per grid dimension every WebGPU device allows. */
const MAX_GROUPS = 65535;

/** A grid of `groups` workgroups in x, split over x · y when it exceeds one dimension (kernels flatten it back). */
function grid1d(groups: number): [number, number, number] {
  return groups <= MAX_GROUPS ? [groups, 1, 1] : [MAX_GROUPS, Math.ceil(groups / MAX_GROUPS), 1];
}

/** `x` groups of batch columns by `y` groups of rows, rows split over y · z past one dimension. */
function grid2d(x: number, y: number, what: string): [number, number, number] {
  if (x > MAX_GROUPS) throw new RangeError(`${what}: ${x} workgroups along the batch exceed ${MAX_GROUPS}; run a smaller batch`);
  return y <= MAX_GROUPS ? [x, y, 1] : [x, MAX_GROUPS, Math.ceil(y / MAX_GROUPS)];
}

/** The column where the group of each weight position starts, [k] (shared by all rows), from the N:M structure alone. */
export function nmGroupBasesOf(inFeatures: number, nm: { n: number; m: number; taps: number }): Uint32Array {
  const channels = inFeatures / nm.taps;
  const base: number[] = [];
  for (let c0 = 0; c0 < channels; c0 += nm.m) {
    const size = Math.min(nm.m, channels - c0);
    for (let tap = 0; tap < nm.taps; tap++) for (let q = 0; q < Math.min(nm.n, size); q++) base.push(c0 * nm.taps + tap);
  }
  return Uint32Array.from(base);
}

/**
 * The WebGPU kernels of one device. Create with `GpuKernels.create(ctx)`; pipelines compile on
 * first use of a variant (or up front with `prepare`) and are cached.
 */
export class GpuKernels {
  private readonly layouts = new Map<BindingLayout, GPUBindGroupLayout>();
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  private readonly dummy: GPUBuffer;
  /** Buffers this object made for itself (uniform blocks, the dummy binding), freed by destroy(). */
  private readonly owned: GPUBuffer[] = [];

  private constructor(readonly ctx: GpuContext) {
    this.dummy = this.buffer(16, 'srigl.dummy');
    this.owned.push(this.dummy);
  }

  /** Frees the uniform blocks of every call made here (those calls must not run again); the device stays. */
  destroy(): void {
    for (const b of this.owned.splice(0)) b.destroy();
  }

  static create(ctx: GpuContext): GpuKernels {
    ctx.checkAlive();
    return new GpuKernels(ctx);
  }

  get device() {
    return this.ctx.device;
  }

  private layout(name: BindingLayout): GPUBindGroupLayout {
    let l = this.layouts.get(name);
    if (!l) {
      l = this.device.createBindGroupLayout({
        label: `srigl.${name}`,
        entries: [
          { binding: 0, visibility: SHADER_STAGE_COMPUTE, buffer: { type: 'uniform' } },
          ...LAYOUT_BINDINGS[name].map((b) => ({ binding: b.binding, visibility: SHADER_STAGE_COMPUTE, buffer: { type: b.write ? ('storage' as const) : ('read-only-storage' as const) } })),
        ],
      });
      this.layouts.set(name, l);
    }
    return l;
  }

  /** The compiled pipeline of a variant (compiled once; a failed compile throws WebGpuError('compile') and is retried next time). */
  pipeline(variant: WebGpuVariant): Promise<GPUComputePipeline> {
    let p = this.pipelines.get(variant.name);
    if (!p) {
      p = compilePipeline(this.ctx, variant.name, variant.source, this.layout(variant.layout));
      p.catch(() => this.pipelines.delete(variant.name));
      this.pipelines.set(variant.name, p);
    }
    return p;
  }

  /** Compiles the given variants (default: all) now, so that compile errors surface here. */
  async prepare(variants: readonly WebGpuVariant[] = WEBGPU_VARIANTS): Promise<void> {
    await Promise.all(variants.map((v) => this.pipeline(v)));
  }

  /**
   * A storage buffer (also a copy source and target) of `bytes` bytes, or holding `data`; sizes
   * round up to 4 bytes and at least 16 (a binding may not be empty).
   */
  buffer(data: number | ArrayBufferView, label = 'srigl.buffer'): GPUBuffer {
    this.ctx.checkAlive();
    const bytes = typeof data === 'number' ? data : data.byteLength;
    if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`GpuKernels.buffer: bad size ${bytes}`);
    const size = Math.max(16, Math.ceil(bytes / 4) * 4);
    // Past the device's limits createBuffer would only log an uncaptured error and return an unusable buffer.
    const limit = Math.min(this.device.limits.maxBufferSize, this.device.limits.maxStorageBufferBindingSize);
    if (size > limit) throw new WebGpuError('out-of-memory', `${label}: ${size} bytes exceed this device's largest storage buffer (${limit} bytes); use a smaller maxBatch`);
    const buf = this.device.createBuffer({ label, size, usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST });
    if (typeof data !== 'number' && bytes > 0) this.write(buf, data);
    return buf;
  }

  /** Writes `data` at the start of `buf` (padded to whole words). */
  write(buf: GPUBuffer, data: ArrayBufferView): void {
    let src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (src.byteLength % 4 !== 0) {
      const padded = new Uint8Array(Math.ceil(src.byteLength / 4) * 4);
      padded.set(src);
      src = padded;
    }
    this.device.queue.writeBuffer(buf, 0, src);
  }

  /** Uploads a general condensed layer; checks its shapes and that every column is below inFeatures. */
  uploadCondensed(layer: CondensedLayerData, what = 'layer'): GpuLayer {
    const { nActive: rows, inFeatures: cols, k, values, indices, bias } = layer;
    checkShape(what, rows, cols, k, values, bias);
    if (!(indices instanceof Uint16Array || indices instanceof Uint32Array)) throw new TypeError(`${what}: indices must be a Uint16Array or Uint32Array`);
    if (indices.length !== rows * k) throw new RangeError(`${what}: indices has ${indices.length} elements, expected nActive·k = ${rows}·${k}`);
    for (let p = 0; p < indices.length; p++) {
      if (indices[p] >= cols) throw new RangeError(`${what}: indices[row ${Math.floor(p / k)}, ${p % k}] = ${indices[p]} is out of range [0, ${cols})`);
    }
    const format: WeightFormat = indices instanceof Uint16Array ? 'u16' : 'u32';
    return {
      format, rows, cols, k, taps: 1,
      values: this.buffer(values, `${what}.values`), where: this.buffer(indices, `${what}.indices`), groupBase: null, bias: this.buffer(bias, `${what}.bias`),
      bytes: values.byteLength + indices.byteLength + bias.byteLength,
    };
  }

  /** Uploads an N:M layer with the table of group bases its kernels read; checks shapes and offsets against their groups. */
  uploadCondensedNM(layer: CondensedNMLayerData, what = 'layer'): GpuLayer {
    const { nActive: rows, inFeatures: cols, k, nm, values, offsets, bias } = layer;
    checkShape(what, rows, cols, k, values, bias);
    if (!nm || ![nm.n, nm.m, nm.taps].every((v) => Number.isInteger(v) && v >= 1) || nm.n >= nm.m || nm.m > 64 || cols % nm.taps !== 0) {
      throw new RangeError(`${what}: bad N:M structure ${JSON.stringify(nm)} for ${cols} inputs (1 ≤ N < M ≤ 64, taps dividing the inputs)`);
    }
    const base = nmGroupBasesOf(cols, nm);
    if (base.length !== k) throw new RangeError(`${what}: k = ${k}, but ${nm.n}:${nm.m} over ${cols} inputs (${nm.taps} taps) keeps ${base.length}`);
    if (!(offsets instanceof Uint8Array) || offsets.length !== rows * k) throw new RangeError(`${what}: offsets must be a Uint8Array of nActive·k = ${rows}·${k} elements`);
    for (let p = 0; p < offsets.length; p++) {
      const col = base[p % k] + offsets[p] * nm.taps;
      if (col >= cols) throw new RangeError(`${what}: offsets[row ${Math.floor(p / k)}, ${p % k}] = ${offsets[p]} reads column ${col}, past ${cols} inputs`);
    }
    return {
      format: 'nm', rows, cols, k, taps: nm.taps,
      values: this.buffer(values, `${what}.values`), where: this.buffer(offsets, `${what}.offsets`), groupBase: this.buffer(base, `${what}.groupBase`),
      bias: this.buffer(bias, `${what}.bias`), bytes: values.byteLength + offsets.byteLength + base.byteLength + bias.byteLength,
    };
  }

  /** Uploads a dense layer W [rows, cols] row-major and bias [rows]. */
  uploadDense(rows: number, cols: number, weight: Float32Array, bias: Float32Array, what = 'dense layer'): GpuLayer {
    checkShape(what, rows, cols, cols, weight, bias);
    return {
      format: 'dense', rows, cols, k: cols, taps: 1,
      values: this.buffer(weight, `${what}.W`), where: null, groupBase: null, bias: this.buffer(bias, `${what}.bias`),
      bytes: weight.byteLength + bias.byteLength,
    };
  }

  /** A uniform block for `set` and its update for batch n (written only when n changes). */
  private paramBlock<S extends ParamSet>(set: S, values: (n: number) => ParamValues<S>): { buffer: GPUBuffer; update: (n: number) => void } {
    const fields = PARAMS[set] as readonly string[];
    const words = new Uint32Array(Math.ceil(fields.length / 4) * 4);
    const buffer = this.device.createBuffer({ label: `srigl.params.${set}`, size: words.byteLength, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
    this.owned.push(buffer);
    let lastN = -1;
    const update = (n: number) => {
      if (n !== lastN) {
        const v: Record<string, number> = values(n);
        fields.forEach((f, i) => {
          const x = v[f];
          if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new RangeError(`${set} parameter ${f} = ${x} is not a u32`);
          words[i] = x;
        });
        this.device.queue.writeBuffer(buffer, 0, words);
        lastN = n;
      }
    };
    return { buffer, update };
  }

  private bindGroup(layout: BindingLayout, params: GPUBuffer, buffers: Partial<Record<number, GPUBuffer>>, label: string): GPUBindGroup {
    const entries = [{ binding: 0, resource: { buffer: params } }];
    for (const b of LAYOUT_BINDINGS[layout]) {
      const buf = buffers[b.binding];
      if (!buf) throw new Error(`unreachable: ${label} lacks binding ${b.binding}`);
      entries.push({ binding: b.binding, resource: { buffer: buf } });
    }
    return this.device.createBindGroup({ label, layout: this.layout(layout), entries });
  }

  /**
   * A call over variants of one binding layout: `pick(n)` chooses the variant for batch n, and
   * `groups(n, variant)` its grid. Pipelines compile now (so compile errors surface here).
   */
  private async call<S extends ParamSet>(
    name: string, layout: BindingLayout, set: S, variants: readonly WebGpuVariant[], buffers: Partial<Record<number, GPUBuffer>>,
    values: (n: number) => ParamValues<S>, pick: (n: number) => WebGpuVariant, groups: (n: number, v: WebGpuVariant) => [number, number, number],
  ): Promise<KernelCall> {
    const compiled = new Map<string, GPUComputePipeline>();
    await Promise.all(variants.map(async (v) => compiled.set(v.name, await this.pipeline(v))));
    const params = this.paramBlock(set, values);
    const group = this.bindGroup(layout, params.buffer, buffers, name);
    return {
      name,
      encode: (pass, n) => {
        const v = pick(n);
        const pipeline = compiled.get(v.name);
        if (!pipeline) throw new Error(`unreachable: ${name} has no pipeline for ${v.name}`);
        params.update(n);
        const [x, y, z] = groups(n, v);
        if (x * y * z === 0) return;
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(x, y, z);
      },
    };
  }

  /**
   * Y = layer · X + bias (ReLU when `relu`), batch n chosen per encode: x is [cols] at n = 1 and
   * Xᵀ [cols, n] otherwise, y is [rows] or Yᵀ [rows, n]. `variant` pins a kernel of this layer's
   * format (an spmv/gemv variant serves only n = 1).
   */
  async linear(layer: GpuLayer, x: GPUBuffer, y: GPUBuffer, opts: { relu?: boolean; variant?: string } = {}): Promise<KernelCall> {
    const dense = layer.format === 'dense';
    const ofFormat = WEBGPU_VARIANTS.filter((v) => v.format === layer.format && v.op !== 'conv');
    const byName = (op: GpuOp, tile: (v: WebGpuVariant) => boolean) => ofFormat.find((v) => v.op === op && tile(v))!;
    const gemv = dense ? byName('gemv', () => true) : byName('spmv', (v) => v.tile.lanes === (layer.k >= 16 ? 16 : 4));
    const smallBatch = dense ? byName('gemm', (v) => v.tile.cols === 8) : byName('spmm', (v) => v.tile.cols === 8);
    const bigBatch = dense ? byName('gemm', (v) => v.tile.cols === 64) : byName('spmm', (v) => v.tile.cols === 64);
    let pinned: WebGpuVariant | null = null;
    if (opts.variant !== undefined) {
      pinned = webgpuVariant(opts.variant);
      if (!ofFormat.includes(pinned)) throw new Error(`linear: variant ${pinned.name} does not run ${layer.format} layers`);
    }
    const pick = (n: number): WebGpuVariant => {
      const single = pinned ? pinned.op === 'spmv' || pinned.op === 'gemv' : n === 1;
      if (pinned) {
        if (single && n !== 1) throw new Error(`linear: ${pinned.name} computes batch 1 only, asked for batch ${n}`);
        return pinned;
      }
      return n === 1 ? gemv : n <= 16 ? smallBatch : bigBatch;
    };
    const relu = opts.relu ? 1 : 0;
    const buffers = { 1: layer.values, 2: layer.where ?? undefined, 3: layer.bias, 4: x, 5: y, 6: layer.groupBase ?? undefined };
    return this.call(
      `linear ${layer.rows}x${layer.cols} ${layer.format}`, dense ? 'dense' : layer.format === 'nm' ? 'nm' : 'sparse', 'layer',
      pinned ? [pinned] : [gemv, smallBatch, bigBatch], buffers,
      (n) => ({ rows: layer.rows, k: layer.k, cols: layer.cols, n, taps: layer.taps, relu }), pick,
      (n, v) => (v.op === 'spmv' || v.op === 'gemv'
        ? grid1d(Math.ceil(layer.rows / v.tile.rows))
        : grid2d(Math.ceil(n / v.tile.cols), Math.ceil(layer.rows / v.tile.rows), `linear ${layer.rows}x${layer.cols}`)),
    );
  }

  /**
   * Condensed Conv2d over n images: X [n, C, H, W] → Y [n, rows, OH, OW] (+ bias, ReLU when
   * `relu`). The layer's inputs are C·kh·kw columns (channel-major, then tap).
   */
  async conv(layer: GpuLayer, g: ConvGeometry, x: GPUBuffer, y: GPUBuffer, opts: { relu?: boolean } = {}): Promise<KernelCall> {
    if (layer.format === 'dense') throw new Error('conv: dense convolutions run as condensed layers with k = fan-in');
    if (layer.cols !== g.C * g.kh * g.kw) throw new RangeError(`conv: the layer has ${layer.cols} inputs, the geometry ${g.C}·${g.kh}·${g.kw}`);
    if (layer.format === 'nm' && layer.taps !== g.kh * g.kw) throw new RangeError(`conv: N:M taps ${layer.taps} ≠ kh·kw = ${g.kh * g.kw}`);
    const OH = Math.floor((g.H + 2 * g.pad - g.kh) / g.stride) + 1, OW = Math.floor((g.W + 2 * g.pad - g.kw) / g.stride) + 1;
    if (OH < 1 || OW < 1) throw new RangeError(`conv: geometry ${JSON.stringify(g)} gives no output`);
    const v = WEBGPU_VARIANTS.find((c) => c.op === 'conv' && c.format === layer.format)!;
    const relu = opts.relu ? 1 : 0;
    return this.call(
      `conv ${layer.rows}x${layer.cols} ${layer.format}`, layer.format === 'nm' ? 'nm' : 'sparse', 'conv', [v],
      { 1: layer.values, 2: layer.where ?? undefined, 3: layer.bias, 4: x, 5: y, 6: layer.groupBase ?? undefined },
      (n) => ({ rows: layer.rows, k: layer.k, n, C: g.C, H: g.H, W: g.W, kh: g.kh, kw: g.kw, stride: g.stride, pad: g.pad, OH, OW, taps: layer.taps, relu }),
      () => v,
      (n) => grid2d(Math.ceil((n * OH * OW) / v.tile.cols), Math.ceil(layer.rows / v.tile.rows), 'conv'),
    );
  }

  /**
   * y = act(x + bias[c]) over n·perExample elements, channel c = (i / inner) % channels (so
   * [rows, n] takes inner = n: pass `inner` as a function of n). Without `bias`, only the ReLU.
   */
  async biasRelu(x: GPUBuffer, y: GPUBuffer, opts: { perExample: number; bias?: GPUBuffer; channels?: number; inner?: (n: number) => number; relu?: boolean }): Promise<KernelCall> {
    const v = webgpuVariant('bias_relu_f32__webgpu');
    const hasBias = opts.bias ? 1 : 0;
    return this.call(
      'bias_relu', 'binary', 'bias_relu', [v], { 1: opts.bias ?? this.dummy, 4: x, 5: y },
      (n) => ({ count: n * opts.perExample, inner: Math.max(1, opts.inner?.(n) ?? 1), channels: Math.max(1, opts.channels ?? 1), hasBias, relu: opts.relu === false ? 0 : 1 }),
      () => v, (n) => grid1d(Math.ceil((n * opts.perExample) / ELEMENTWISE_WORKGROUP)),
    );
  }

  /** y = x + other over n·perExample elements. */
  async add(x: GPUBuffer, other: GPUBuffer, y: GPUBuffer, perExample: number): Promise<KernelCall> {
    const v = webgpuVariant('add_f32__webgpu');
    return this.call('add', 'binary', 'add', [v], { 1: other, 4: x, 5: y }, (n) => ({ count: n * perExample }), () => v,
      (n) => grid1d(Math.ceil((n * perExample) / ELEMENTWISE_WORKGROUP)));
  }

  /** Max pooling of n·C planes H × W, kernel × kernel windows at `stride`. */
  async maxPool(x: GPUBuffer, y: GPUBuffer, C: number, H: number, W: number, kernel: number, stride: number): Promise<KernelCall> {
    const v = webgpuVariant('maxpool_f32__webgpu');
    const OH = Math.floor((H - kernel) / stride) + 1, OW = Math.floor((W - kernel) / stride) + 1;
    return this.call('maxpool', 'map', 'maxpool', [v], { 4: x, 5: y }, (n) => ({ planes: n * C, H, W, OH, OW, kernel, stride }), () => v,
      (n) => grid1d(Math.ceil((n * C * OH * OW) / ELEMENTWISE_WORKGROUP)));
  }

  /** Global average pooling: n·C planes of S values → [n, C]. */
  async avgPool(x: GPUBuffer, y: GPUBuffer, C: number, S: number): Promise<KernelCall> {
    const v = webgpuVariant('avgpool_f32__webgpu');
    return this.call('avgpool', 'map', 'avgpool', [v], { 4: x, 5: y }, (n) => ({ planes: n * C, S }), () => v,
      (n) => grid1d(Math.ceil((n * C) / ELEMENTWISE_WORKGROUP)));
  }

  /** y [cols, rows] = x [rows, cols]ᵀ, with rows and cols functions of n (e.g. [n, F] → [F, n]). */
  async transpose(x: GPUBuffer, y: GPUBuffer, rows: (n: number) => number, cols: (n: number) => number): Promise<KernelCall> {
    const v = webgpuVariant('transpose_f32_16x16__webgpu');
    return this.call('transpose', 'map', 'transpose', [v], { 4: x, 5: y }, (n) => ({ rows: rows(n), cols: cols(n) }), () => v, (n) => {
      const gx = Math.ceil(cols(n) / 16), gy = Math.ceil(rows(n) / 16);
      if (gx > MAX_GROUPS || gy > MAX_GROUPS) throw new RangeError(`transpose: ${rows(n)}×${cols(n)} exceeds ${MAX_GROUPS * 16} along a side`);
      return [gx, gy, 1];
    });
  }

  /**
   * Encodes `calls` for batch n in one compute pass, then the optional copy of `readBack.bytes`
   * bytes of `readBack.from` into `readBack.to` (a MAP_READ buffer), submits, and waits until the
   * GPU has finished. Validation and out-of-memory errors, and a lost device, throw WebGpuError.
   */
  async run(calls: readonly KernelCall[], n: number, readBack?: { from: GPUBuffer; to: GPUBuffer; bytes: number }): Promise<void> {
    this.ctx.checkAlive();
    const device = this.device;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    let encodeError: unknown = null;
    try {
      const encoder = device.createCommandEncoder({ label: 'srigl.run' });
      const pass = encoder.beginComputePass();
      for (const c of calls) c.encode(pass, n);
      pass.end();
      if (readBack) encoder.copyBufferToBuffer(readBack.from, 0, readBack.to, 0, readBack.bytes);
      device.queue.submit([encoder.finish()]);
    } catch (e) {
      encodeError = e;
    }
    const validation = await device.popErrorScope();
    const oom = await device.popErrorScope();
    // Errors outside any scope since the last run (a bad upload, say) make this run's results untrustworthy too.
    const [uncaptured] = this.ctx.takeUncaptured();
    if (encodeError !== null) throw await this.ctx.explain(encodeError, 'encoding the kernels');
    if (uncaptured) throw await this.ctx.explain(new WebGpuError('validation', `WebGPU reported an error before this run: ${uncaptured.message}`), '');
    if (validation) throw await this.ctx.explain(new WebGpuError('validation', `WebGPU rejected the commands of ${calls.map((c) => c.name).join(', ')}: ${validation.message}`), '');
    if (oom) throw new WebGpuError('out-of-memory', `WebGPU ran out of memory: ${oom.message}`);
    if (readBack) {
      try {
        await readBack.to.mapAsync(MAP_READ, 0, readBack.bytes);
      } catch (e) {
        throw await this.ctx.explain(e, 'reading the results back', 'lost');
      }
    } else {
      await device.queue.onSubmittedWorkDone();
      this.ctx.checkAlive();
    }
  }

  /** A MAP_READ buffer for read-backs of up to `bytes` bytes. */
  readBuffer(bytes: number, label = 'srigl.readback'): GPUBuffer {
    return this.device.createBuffer({ label, size: Math.max(16, Math.ceil(bytes / 4) * 4), usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  }

  /** `floats` f32 values from the start of `buf` (one read-back of its own). */
  async read(buf: GPUBuffer, floats: number): Promise<Float32Array> {
    const staging = this.readBuffer(floats * 4);
    try {
      await this.run([], 0, { from: buf, to: staging, bytes: Math.max(4, floats * 4) });
      const out = new Float32Array(staging.getMappedRange(0, Math.max(4, floats * 4)).slice(0, floats * 4));
      staging.unmap();
      return out;
    } finally {
      staging.destroy();
    }
  }
}

function checkShape(what: string, rows: number, cols: number, k: number, values: Float32Array, bias: Float32Array): void {
  for (const [name, v] of [['nActive', rows], ['inFeatures', cols], ['k', k]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${what}: ${name} must be a non-negative integer, got ${v}`);
  }
  if (cols < 1) throw new RangeError(`${what}: inFeatures must be ≥ 1, got ${cols}`);
  if (rows > 0 && (k < 1 || k > cols)) throw new RangeError(`${what}: k = ${k} must be in [1, inFeatures = ${cols}]`);
  if (!(values instanceof Float32Array) || values.length !== rows * k) throw new RangeError(`${what}: values must be a Float32Array of nActive·k = ${rows}·${k} elements, got ${values?.length}`);
  if (!(bias instanceof Float32Array) || bias.length !== rows) throw new RangeError(`${what}: bias must be a Float32Array of nActive = ${rows} elements, got ${bias?.length}`);
}
