import type { Ptr } from '../kernels/api.js';
import type { Engine } from '../kernels/engine.js';
import type { Param } from '../tensor/param.js';
import { Rng } from '../tensor/rng.js';
import { Tensor, shapeSize, type NamedTensor } from '../tensor/tensor.js';

/** One tensor of a model's saved state (see `Model.stateTensors`). */
export interface StateTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
  /** The values, dense [shape]. */
  readonly data: Float32Array;
  /** Sets the values from a dense [shape] array. */
  assign(src: Float32Array): void;
}
import { Flatten, GlobalAvgPool, MaxPool2d, ReLU } from './activations.js';
import { BatchNorm2d } from './batchnorm.js';
import { Conv2d } from './conv2d.js';
import type { BuildContext, SparsifiableLayer } from './layer.js';
import { Linear } from './linear.js';
import { SoftmaxCrossEntropy, type LossResult } from './loss.js';
import { BasicBlock } from './residual.js';
import { Sequential, type LayerFactory } from './sequential.js';
import { ClassTokenPosEmbed, PatchEmbed } from './embedding.js';
import { LayerNorm } from './layernorm.js';
import { ClassTokenPool } from './token.js';
import { TransformerBlock } from './transformer.js';

export const ARCHS = ['mlp', 'cnn', 'resnet', 'vit'] as const;
export type Arch = (typeof ARCHS)[number];

/** Everything needed to rebuild a model's structure; JSON-serialisable, stored in model files. */
export interface ModelSpec {
  arch: Arch;
  /** Per-example input shape [C, H, W]. */
  inputShape: [number, number, number];
  classes: number;
  /** mlp only: hidden layer widths. Default [300, 100] (the 784-300-100-10 LeNet-300-100). */
  hidden?: number[];
  /** vit only: patch edge in pixels, dividing H and W. Default 7 (16 patches of a 28×28 image). */
  patch?: number;
  /** vit only: embedding width D. Default 64. */
  dim?: number;
  /** vit only: transformer blocks. Default 4. */
  depth?: number;
  /** vit only: attention heads, dividing dim. Default 4. */
  heads?: number;
  /** vit only: MLP hidden width as a multiple of dim (round(mlpRatio·dim) units). Default 2. */
  mlpRatio?: number;
  /**
   * vit only: dropout probability after the attention projection, after the MLP's GELU and
   * after fc2 (timm's proj_drop / drop), in [0, 1). Training only. Default 0 (no dropout layers).
   */
  dropout?: number;
}

/** The vit's structure when the spec leaves a field out. */
export const VIT_DEFAULTS = { patch: 7, dim: 64, depth: 4, heads: 4, mlpRatio: 2 } as const;

/** A vit spec's structure with its defaults filled in. */
export function vitOptions(spec: ModelSpec): { patch: number; dim: number; depth: number; heads: number; mlpRatio: number } {
  return {
    patch: spec.patch ?? VIT_DEFAULTS.patch,
    dim: spec.dim ?? VIT_DEFAULTS.dim,
    depth: spec.depth ?? VIT_DEFAULTS.depth,
    heads: spec.heads ?? VIT_DEFAULTS.heads,
    mlpRatio: spec.mlpRatio ?? VIT_DEFAULTS.mlpRatio,
  };
}

/** The vit's fields of a spec, in the order they are checked. */
const VIT_FIELDS = ['patch', 'dim', 'depth', 'heads', 'mlpRatio', 'dropout'] as const;

/** The mlp's hidden widths when the spec gives none. */
export const MLP_HIDDEN: readonly number[] = [300, 100];

/** Options for `buildModel`. */
export interface BuildModelOptions {
  /** Largest batch forward/backward will see; every buffer is sized for it. Default 128. */
  maxBatch?: number;
  /** Seed of the initial weights (and dropout masks). Default 0. */
  seed?: number;
}

/** Checks a spec read from JSON (a model file, the CLI) and returns it typed. */
export function parseModelSpec(value: unknown): ModelSpec {
  const v = value as Partial<ModelSpec> | null;
  if (typeof v !== 'object' || v === null) throw new Error('model spec: expected an object');
  if (!(ARCHS as readonly unknown[]).includes(v.arch)) throw new Error(`model spec: unknown arch ${JSON.stringify(v.arch)}; known: ${ARCHS.join(', ')}`);
  const s = v.inputShape;
  if (!Array.isArray(s) || s.length !== 3 || !s.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(`model spec: inputShape must be three positive integers [C, H, W], got ${JSON.stringify(s)}`);
  }
  if (!Number.isInteger(v.classes) || (v.classes as number) < 2) throw new Error(`model spec: classes must be an integer ≥ 2, got ${JSON.stringify(v.classes)}`);
  const spec: ModelSpec = { arch: v.arch as Arch, inputShape: [s[0], s[1], s[2]], classes: v.classes as number };
  if (v.hidden !== undefined) {
    const h = v.hidden;
    if (v.arch !== 'mlp') throw new Error(`model spec: hidden applies to the mlp only, not ${v.arch}`);
    if (!Array.isArray(h) || h.length < 1 || h.length > 8 || !h.every((d) => Number.isInteger(d) && d >= 1 && d <= 65536)) {
      throw new Error(`model spec: hidden must be 1 to 8 layer widths, integers in [1, 65536], got ${JSON.stringify(h)}`);
    }
    spec.hidden = [...h];
  }
  const intIn = (name: string, x: unknown, lo: number, hi: number): number => {
    if (!Number.isInteger(x) || (x as number) < lo || (x as number) > hi) throw new Error(`model spec: ${name} must be an integer in [${lo}, ${hi}], got ${JSON.stringify(x)}`);
    return x as number;
  };
  for (const f of VIT_FIELDS) {
    const x = v[f];
    if (x === undefined) continue;
    if (v.arch !== 'vit') throw new Error(`model spec: ${f} applies to the vit only, not ${v.arch}`);
    if (f === 'mlpRatio') {
      if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0 || x > 16) throw new Error(`model spec: mlpRatio must be a number in (0, 16], got ${JSON.stringify(x)}`);
      spec.mlpRatio = x;
    } else if (f === 'dropout') {
      if (typeof x !== 'number' || !(x >= 0 && x < 1)) throw new Error(`model spec: dropout must be a number in [0, 1), got ${JSON.stringify(x)}`);
      if (x > 0) spec.dropout = x;
    } else {
      spec[f] = intIn(f, x, 1, f === 'depth' ? 64 : 4096);
    }
  }
  if (spec.arch === 'vit') {
    const { patch, dim, heads, mlpRatio } = vitOptions(spec);
    const [, h, w] = spec.inputShape;
    if (h % patch !== 0 || w % patch !== 0) throw new Error(`model spec: vit patch ${patch} does not divide the ${h}×${w} input`);
    if (dim % heads !== 0) throw new Error(`model spec: vit heads ${heads} do not divide dim ${dim}`);
    if (Math.round(mlpRatio * dim) < 1) throw new Error(`model spec: vit mlpRatio ${mlpRatio} leaves no hidden units`);
  }
  return spec;
}

const relu: LayerFactory = (ctx, shape) => new ReLU(ctx, shape);

function linear(name: string, out: number): LayerFactory {
  return (ctx, shape, inputGrad) => new Linear(ctx, name, shape, { out }, inputGrad);
}

function layers(spec: ModelSpec): LayerFactory[] {
  const { classes } = spec;
  switch (spec.arch) {
    case 'mlp': {
      const widths = spec.hidden ?? MLP_HIDDEN;
      return [...widths.flatMap((w, i) => [linear(`fc${i + 1}`, w), relu]), linear(`fc${widths.length + 1}`, classes)];
    }
    case 'cnn':
      return [
        (ctx, s, g) => new Conv2d(ctx, 'conv1', s, { out: 32, kernel: 3, padding: 1 }, g),
        relu,
        (ctx, s) => new MaxPool2d(ctx, s, 2),
        (ctx, s, g) => new Conv2d(ctx, 'conv2', s, { out: 64, kernel: 3, padding: 1 }, g),
        relu,
        (ctx, s) => new MaxPool2d(ctx, s, 2),
        (_ctx, s) => new Flatten(s),
        linear('fc1', 256),
        relu,
        linear('fc2', classes),
      ];
    case 'resnet': {
      const stem: LayerFactory[] = [
        (ctx, s, g) => new Conv2d(ctx, 'conv1', s, { out: 16, kernel: 3, padding: 1, bias: false }, g),
        (ctx, s) => new BatchNorm2d(ctx, 'bn1', s),
        relu,
      ];
      const stages: LayerFactory[] = [];
      [16, 32, 64].forEach((out, stage) => {
        for (let b = 0; b < 3; b++) {
          const stride = stage > 0 && b === 0 ? 2 : 1;
          stages.push((ctx, s, g) => new BasicBlock(ctx, `layer${stage + 1}.${b}`, s, { out, stride }, g));
        }
      });
      return [...stem, ...stages, (ctx, s) => new GlobalAvgPool(ctx, s), linear('fc', classes)];
    }
    case 'vit': {
      // timm's VisionTransformer with class-token pooling; the final norm is per token, so
      // normalising only the class token after pooling computes the same logits.
      const { patch, dim, depth, heads, mlpRatio } = vitOptions(spec);
      const dropout = spec.dropout ?? 0;
      const blocks: LayerFactory[] = Array.from({ length: depth }, (_, i): LayerFactory => (ctx, s, g) => new TransformerBlock(ctx, `blocks.${i}`, s, { heads, mlpRatio, dropout }, g));
      return [
        (ctx, s, g) => new PatchEmbed(ctx, 'patch_embed', s, { patch, dim }, g),
        (ctx, s, g) => new ClassTokenPosEmbed(ctx, '', s, g),
        ...blocks,
        (ctx, s, g) => new ClassTokenPool(ctx, s, g),
        (ctx, s) => new LayerNorm(ctx, 'norm', s),
        linear('head', classes),
      ];
    }
  }
}

/**
 * A classifier built from a `ModelSpec`, with its input, label and loss buffers. Callers write
 * a batch into `inputs` and `labels` (views created once), then call forward / loss /
 * backward with the batch's row count n ≤ maxBatch.
 */
export class Model {
  readonly spec: ModelSpec;
  readonly maxBatch: number;
  /** [maxBatch, C, H, W] input batch. */
  readonly input: Tensor;
  /** Views of the input and label buffers, for batch iterators to fill. */
  readonly inputs: Float32Array;
  readonly labels: Int32Array;
  readonly lossFn: SoftmaxCrossEntropy;
  readonly net: Sequential;
  private logitsPtr: Ptr = 0;

  constructor(readonly engine: Engine, spec: ModelSpec, opts: BuildModelOptions = {}) {
    this.spec = parseModelSpec(spec);
    this.maxBatch = opts.maxBatch ?? 128;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${this.maxBatch}`);
    const ctx: BuildContext = { engine, maxBatch: this.maxBatch, rng: new Rng(opts.seed ?? 0) };
    this.input = Tensor.zeros(engine.heap, [this.maxBatch, ...this.spec.inputShape]);
    this.inputs = this.input.data;
    this.net = new Sequential(ctx, this.spec.inputShape, layers(this.spec), false);
    this.lossFn = new SoftmaxCrossEntropy(ctx, this.spec.classes);
    this.labels = this.lossFn.labels.i32;
  }

  /** Runs n examples from `inputs`; returns the logits' address ([n, classes]). */
  forward(n: number, training: boolean): Ptr {
    this.checkBatch(n);
    this.logitsPtr = this.net.forward(this.input.ptr, n, training);
    return this.logitsPtr;
  }

  /** The last forward's logits, [n, classes] row-major (a fresh view; not for hot loops). */
  logits(n: number): Float32Array {
    return this.engine.heap.f32(this.logitsPtr, n * this.spec.classes);
  }

  /** Loss of the last forward against `labels`; also writes the logits gradient. */
  loss(n: number, smoothing = 0): LossResult {
    return this.lossFn.compute(this.logitsPtr, n, smoothing);
  }

  /** Backpropagates the gradient from the last `loss` call; overwrites every param's grad. */
  backward(n: number): void {
    this.net.backward(this.lossFn.dLogits.ptr, n);
  }

  parameters(): Param[] {
    return this.net.params();
  }

  /** Non-trained tensors saved with the model (BN running statistics). */
  buffers(): NamedTensor[] {
    return this.net.buffers();
  }

  /**
   * Everything a model file holds, params then buffers, by name, in their dense shapes. `data`
   * is read when asked for: a live view of dense storage, or a new array built from a compact
   * param; `assign` writes values back (into a param not used yet, without allocating it).
   */
  stateTensors(): StateTensor[] {
    const params = this.parameters().map((p): StateTensor => ({
      name: p.name,
      shape: p.shape,
      size: p.size,
      get data() {
        return p.denseValues();
      },
      assign: (src) => p.assign(src),
    }));
    const buffers = this.buffers().map(({ name, tensor }): StateTensor => ({
      name,
      shape: tensor.shape,
      size: tensor.size,
      data: tensor.data,
      assign: (src) => tensor.data.set(src),
    }));
    return [...params, ...buffers];
  }

  /** Linear/Conv2d weights in forward order, first and classifier flagged. */
  sparsifiable(): SparsifiableLayer[] {
    const list = this.net.sparsifiable();
    return list.map((l, i) => ({ ...l, isFirst: i === 0, isClassifier: i === list.length - 1 }));
  }

  /** Trainable element count. */
  get numParams(): number {
    return this.parameters().reduce((a, p) => a + p.size, 0);
  }

  get inputSize(): number {
    return shapeSize(this.spec.inputShape);
  }

  private checkBatch(n: number): void {
    if (!Number.isInteger(n) || n < 1 || n > this.maxBatch) throw new RangeError(`batch of ${n} rows: expected 1..${this.maxBatch}`);
  }
}

/** Builds a model for a spec, e.g. `buildModel(engine, { arch: 'cnn', inputShape: [1, 28, 28], classes: 10 })`. */
export function buildModel(engine: Engine, spec: ModelSpec, opts: BuildModelOptions = {}): Model {
  return new Model(engine, spec, opts);
}
