/**
 * A srigl model as a standard ONNX graph, so onnxruntime, Netron or any ONNX tool can run or read
 * it. The graph computes the model's eval-mode forward with dense-equivalent weights (W ⊙ M: a
 * masked weight is stored as an explicit 0), so it is exactly as large as the dense model; the
 * sparsity shows only in the values and in the metadata.
 *
 * Format: ONNX IR version 8 (ONNX ≥ 1.10), default-domain opset 17 (ONNX ≥ 1.12, onnxruntime ≥
 * 1.13), the first with LayerNormalization. Encoded with onnx-proto's generated protobufjs
 * classes. Input `input` [N, C, H, W] float32 (or [N, C·H·W], `inputLayout: 'flat'`) with a
 * symbolic batch `N`; output `logits` [N, classes]. Initializers carry the srigl param names
 * (`fc1.weight`, `layer1.0.bn1.running_var` …, the names of the model file); a weight that a
 * MatMul reads transposed is stored as `<name>.T`, [in, out].
 *
 * How each layer is written:
 * - Linear on features: Gemm (transB = 1, so the weight keeps its PyTorch [out, in] layout),
 *   after a Flatten when its input is an image; on tokens [N, T, D]: MatMul by Wᵀ and Add.
 * - Conv2d: Conv; BatchNorm2d: BatchNormalization in inference mode (running statistics), kept
 *   as its own node rather than folded, so every initializer is a tensor of the model file
 *   (onnxruntime folds it into the conv when it optimises the graph).
 * - ReLU, MaxPool2d, Flatten, GlobalAvgPool: Relu, MaxPool, Flatten, GlobalAveragePool + Flatten.
 * - BasicBlock: its convs and BNs, Add of the shortcut (identity or 1×1 conv + BN), Relu.
 * - ViT: patch Conv, Reshape + Transpose to tokens, the class token Expanded over the batch and
 *   Concatenated first, Add of the position embedding; per block LayerNormalization, MatMul
 *   q/k/v, Reshape + Transpose into heads, MatMul, Mul by 1/√(D/heads), Softmax, MatMul,
 *   Transpose + Reshape back, the projection, Add residuals, and GELU as 0.5·x·(1 + erf(x/√2))
 *   (Erf: opset 17 has no Gelu); the class token Gathered, LayerNormalization and a Gemm head.
 * - Dropout: nothing (the identity in eval).
 */
import onnxProto from 'onnx-proto';
import { Dropout, Flatten, GELU, GlobalAvgPool, MaxPool2d, ReLU } from '../nn/activations.js';
import { MultiHeadSelfAttention } from '../nn/attention.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv2d.js';
import { ClassTokenPosEmbed, PatchEmbed } from '../nn/embedding.js';
import type { Layer } from '../nn/layer.js';
import { LayerNorm } from '../nn/layernorm.js';
import { Linear } from '../nn/linear.js';
import type { Model } from '../nn/models.js';
import { BasicBlock } from '../nn/residual.js';
import { Sequential } from '../nn/sequential.js';
import { ClassTokenPool } from '../nn/token.js';
import { TransformerBlock } from '../nn/transformer.js';
import type { Param } from '../tensor/param.js';
import { shapeSize } from '../tensor/tensor.js';
import type { ModelInfo } from './model.js';

// onnx-proto is CommonJS: its exports object is the protobufjs root holding the `onnx` namespace.
const { onnx } = onnxProto;

/** ONNX IR version written (IR 8: ONNX 1.10 and later). */
export const ONNX_IR_VERSION = 8;
/** Default-domain opset written: 17, the first with LayerNormalization (onnxruntime ≥ 1.13). */
export const ONNX_OPSET = 17;
/** Name of the graph's input and output. */
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'logits';
/** The symbolic batch dimension of input and output. */
export const ONNX_BATCH_DIM = 'N';

/** Options for `modelToOnnx`. */
export interface ModelToOnnxOptions {
  /**
   * The input's layout: `image` [N, C, H, W] (what `Model.inputs` holds, row-major), or `flat`
   * [N, C·H·W] (the same numbers; a Reshape restores the image for convolutional models).
   * Default `image`.
   */
  inputLayout?: 'image' | 'flat';
  /**
   * Facts about the model (a `loadModel` result's `info`): its dataset, metrics and sparse
   * training facts go into the metadata. Default none: the metadata then holds the architecture
   * and the mask counts only.
   */
  info?: ModelInfo;
  /** The graph's name. Default `srigl-<arch>`. */
  graphName?: string;
}

/**
 * srigl's version, written as the ONNX producer_version. Kept here rather than read from
 * package.json so the export needs no file access (it runs in browsers too); a test checks that
 * it matches package.json.
 */
export const SRIGL_VERSION = '0.1.0';

type Attr = { f: number } | { i: number } | { ints: readonly number[] };

/** A tensor flowing through the graph: its name and per-example shape (without N). */
interface Value {
  name: string;
  shape: readonly number[];
}

/**
 * Collects nodes and initializers with unique names. Tensor names are readable paths
 * (`blocks.0.attn/scores`); each node is named after its first output.
 */
class GraphBuilder {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  initializerBytes = 0;
  private readonly used = new Set<string>();
  private readonly constants = new Map<string, string>();

  /** `base`, or `base_2`, `base_3` … when taken. */
  private unique(base: string): string {
    let name = base;
    for (let i = 2; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** A float32 initializer; `data` is written little-endian whatever the platform. */
  float(name: string, dims: readonly number[], data: Float32Array): string {
    if (data.length !== shapeSize(dims)) throw new Error(`onnx export: ${name} has ${data.length} values for shape [${dims.join(', ')}]`);
    const raw = new Uint8Array(data.length * 4);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
    return this.tensor(name, dims, onnx.TensorProto.DataType.FLOAT, raw);
  }

  /** An int64 initializer (shapes, indices). */
  int64(name: string, dims: readonly number[], values: readonly number[]): string {
    const raw = new Uint8Array(values.length * 8);
    const view = new DataView(raw.buffer);
    values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
    return this.tensor(name, dims, onnx.TensorProto.DataType.INT64, raw);
  }

  /** A shared float scalar constant. */
  scalar(value: number): string {
    const key = `f:${value}`;
    let name = this.constants.get(key);
    if (name === undefined) {
      name = this.float(`const_${value}`, [], Float32Array.of(value));
      this.constants.set(key, name);
    }
    return name;
  }

  /** A shared int64 constant of shape [values.length] (or a scalar with `scalar`). */
  ints(values: readonly number[], scalar = false): string {
    const key = `i:${scalar ? 's' : 'v'}:${values.join(',')}`;
    let name = this.constants.get(key);
    if (name === undefined) {
      name = this.int64(`const_i64_${scalar ? '' : 'v'}${values.join('_').replace(/-/g, 'm')}`, scalar ? [] : [values.length], values);
      this.constants.set(key, name);
    }
    return name;
  }

  private tensor(name: string, dims: readonly number[], dataType: number, rawData: Uint8Array): string {
    const unique = this.unique(name);
    if (unique !== name) throw new Error(`onnx export: two initializers named ${name}`);
    this.initializers.push({ name, dims: [...dims], dataType, rawData });
    this.initializerBytes += rawData.length;
    return name;
  }

  /** Appends an `op` node reading `inputs`; returns its output, named `out` (made unique). */
  node(op: string, inputs: readonly string[], out: string, attrs: Record<string, Attr> = {}): string {
    const output = this.unique(out);
    const attribute = Object.entries(attrs).map(([name, a]): onnxProto.onnx.IAttributeProto => {
      if ('f' in a) return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: a.f };
      if ('i' in a) return { name, type: onnx.AttributeProto.AttributeType.INT, i: a.i };
      return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...a.ints] };
    });
    this.nodes.push({ name: output, opType: op, input: [...inputs], output: [output], attribute });
    return output;
  }

  /** Renames the last node's output (the graph's result) to `name`. */
  renameLastOutput(from: string, name: string): void {
    const last = this.nodes[this.nodes.length - 1];
    if (last === undefined || last.output?.[0] !== from) throw new Error(`onnx export: the graph does not end in ${from}`);
    last.output = [name];
  }
}

/** A param's dense values with masked entries exactly 0 (W ⊙ M), as a new array. */
function maskedValues(p: Param): Float32Array {
  const w = Float32Array.from(p.denseValues());
  const m = p.denseMask();
  if (m !== null) for (let i = 0; i < w.length; i++) if (m[i] === 0) w[i] = 0;
  return w;
}

/** Writes a model's eval-mode forward into a GraphBuilder, layer by layer. */
class Lowering {
  constructor(readonly g: GraphBuilder) {}

  param(p: Param): string {
    return this.g.float(p.name, p.shape, maskedValues(p));
  }

  layer(layer: Layer, x: Value): Value {
    const g = this.g;
    if (layer instanceof Linear) return this.linear(layer, x);
    if (layer instanceof Conv2d) return this.conv(layer, x);
    if (layer instanceof BatchNorm2d) return this.batchNorm(layer, x);
    if (layer instanceof ReLU) return { name: g.node('Relu', [x.name], `${x.name}/relu`), shape: x.shape };
    if (layer instanceof Dropout) return x;
    if (layer instanceof MaxPool2d) {
      const { kernel, stride } = layer.pooling;
      return { name: g.node('MaxPool', [x.name], `${x.name}/maxpool`, { kernel_shape: { ints: [kernel, kernel] }, strides: { ints: [stride, stride] } }), shape: layer.outShape };
    }
    if (layer instanceof Flatten) return this.flatten(x);
    if (layer instanceof GlobalAvgPool) {
      const pooled = g.node('GlobalAveragePool', [x.name], `${x.name}/avgpool`);
      return { name: g.node('Flatten', [pooled], `${x.name}/avgpool_flat`, { axis: { i: 1 } }), shape: layer.outShape };
    }
    if (layer instanceof BasicBlock) return this.basicBlock(layer, x);
    if (layer instanceof PatchEmbed) return this.patchEmbed(layer, x);
    if (layer instanceof ClassTokenPosEmbed) return this.classToken(layer, x);
    if (layer instanceof TransformerBlock) return this.transformerBlock(layer, x);
    if (layer instanceof ClassTokenPool) {
      const [, d] = x.shape;
      return { name: g.node('Gather', [x.name, g.ints([0], true)], 'cls_pool', { axis: { i: 1 } }), shape: [d] };
    }
    if (layer instanceof LayerNorm) return this.layerNorm(layer, x);
    if (layer instanceof GELU) return this.gelu(x, `${x.name}/gelu`);
    if (layer instanceof MultiHeadSelfAttention) return this.attention(layer, x);
    if (layer instanceof Sequential) return layer.layers.reduce((v, l) => this.layer(l, v), x);
    throw new Error(`onnx export: layer ${layer.constructor.name} has no ONNX form`);
  }

  flatten(x: Value): Value {
    if (x.shape.length <= 1) return x;
    return { name: this.g.node('Flatten', [x.name], `${x.name}/flatten`, { axis: { i: 1 } }), shape: [shapeSize(x.shape)] };
  }

  /** Gemm on [N, F] features (flattening an image first); MatMul by Wᵀ + Add on [N, …, F] tokens. */
  linear(layer: Linear, x: Value, tokens = false): Value {
    const g = this.g;
    const { name, in: inF, out } = layer;
    if (!tokens) {
      const f = this.flatten(x);
      const inputs = [f.name, this.param(layer.weight)];
      if (layer.bias) inputs.push(this.param(layer.bias));
      return { name: g.node('Gemm', inputs, name, { transB: { i: 1 } }), shape: [out] };
    }
    const w = maskedValues(layer.weight);
    const wt = new Float32Array(inF * out);
    for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) wt[i * out + o] = w[o * inF + i];
    const shape = [...x.shape.slice(0, -1), out];
    const mm = g.node('MatMul', [x.name, g.float(`${layer.weight.name}.T`, [inF, out], wt)], layer.bias ? `${name}/matmul` : name);
    if (!layer.bias) return { name: mm, shape };
    return { name: g.node('Add', [mm, this.param(layer.bias)], name), shape };
  }

  conv(layer: Conv2d, x: Value): Value {
    const { kh, kw, stride, pad } = layer.geometry;
    const inputs = [x.name, this.param(layer.weight)];
    if (layer.bias) inputs.push(this.param(layer.bias));
    const attrs = { kernel_shape: { ints: [kh, kw] }, strides: { ints: [stride, stride] }, pads: { ints: [pad, pad, pad, pad] } };
    return { name: this.g.node('Conv', inputs, layer.name, attrs), shape: layer.outShape };
  }

  batchNorm(bn: BatchNorm2d, x: Value): Value {
    const g = this.g;
    const c = bn.runningMean.size;
    const inputs = [
      x.name, this.param(bn.gamma), this.param(bn.beta),
      g.float(`${bn.name}.running_mean`, [c], bn.runningMean.data), g.float(`${bn.name}.running_var`, [c], bn.runningVar.data),
    ];
    // ε is private to BatchNorm2d; element access reads it typed, so a rename there fails to compile here.
    return { name: g.node('BatchNormalization', inputs, bn.name, { epsilon: { f: bn['eps'] } }), shape: bn.outShape };
  }

  basicBlock(block: BasicBlock, x: Value): Value {
    const g = this.g;
    // The block keeps its layers private (its public face is the training API); element access
    // reads them typed, so a rename there fails to compile here.
    let h = this.batchNorm(block['bn1'], this.conv(block['conv1'], x));
    h = { name: g.node('Relu', [h.name], `${block.name}/relu1`), shape: h.shape };
    h = this.batchNorm(block['bn2'], this.conv(block['conv2'], h));
    const downConv = block['downConv'], downBn = block['downBn'];
    const shortcut = downConv && downBn ? this.batchNorm(downBn, this.conv(downConv, x)) : x;
    const sum = g.node('Add', [h.name, shortcut.name], `${block.name}/add`);
    return { name: g.node('Relu', [sum], block.name), shape: block.outShape };
  }

  /** Conv with kernel = stride = patch, then [N, D, h, w] → [N, T, D]. */
  patchEmbed(layer: PatchEmbed, x: Value): Value {
    const g = this.g;
    const conv = this.conv(layer.proj, x);
    const [t, d] = layer.outShape;
    const flat = g.node('Reshape', [conv.name, g.ints([0, d, t])], `${layer.name}/flat`);
    return { name: g.node('Transpose', [flat], layer.name, { perm: { ints: [0, 2, 1] } }), shape: layer.outShape };
  }

  /** The class token broadcast to [N, 1, D] and put first, then the position embedding added. */
  classToken(layer: ClassTokenPosEmbed, x: Value): Value {
    const g = this.g;
    const [, d] = x.shape;
    const prefix = layer.name === '' ? 'embed' : layer.name;
    const batch = g.node('Shape', [x.name], `${prefix}/batch`, { start: { i: 0 }, end: { i: 1 } });
    const shape = g.node('Concat', [batch, g.ints([1, d])], `${prefix}/cls_shape`, { axis: { i: 0 } });
    const cls = g.node('Expand', [this.param(layer.clsToken), shape], `${prefix}/cls`);
    const cat = g.node('Concat', [cls, x.name], `${prefix}/tokens`, { axis: { i: 1 } });
    return { name: g.node('Add', [cat, this.param(layer.posEmbed)], `${prefix}/pos`), shape: layer.outShape };
  }

  layerNorm(ln: LayerNorm, x: Value): Value {
    // ε is private to LayerNorm; element access reads it typed.
    const attrs = { axis: { i: -1 }, epsilon: { f: ln['eps'] } };
    return { name: this.g.node('LayerNormalization', [x.name, this.param(ln.gamma), this.param(ln.beta)], ln.name, attrs), shape: x.shape };
  }

  /** x·Φ(x) = 0.5·x·(1 + erf(x/√2)), the exact GELU srigl computes. */
  gelu(x: Value, name: string): Value {
    const g = this.g;
    const e = g.node('Erf', [g.node('Mul', [x.name, g.scalar(Math.SQRT1_2)], `${name}/scaled`)], `${name}/erf`);
    const xPhi2 = g.node('Mul', [x.name, g.node('Add', [e, g.scalar(1)], `${name}/one_plus`)], `${name}/x_times`);
    return { name: g.node('Mul', [xPhi2, g.scalar(0.5)], name), shape: x.shape };
  }

  attention(attn: MultiHeadSelfAttention, x: Value): Value {
    const g = this.g;
    const [t, d] = x.shape;
    // The head count is private to the layer; element access reads it typed.
    const heads: number = attn['heads'];
    const dh = d / heads;
    const split = (v: Value, perm: number[], what: string) => {
      const r = g.node('Reshape', [v.name, g.ints([0, 0, heads, dh])], `${attn.name}/${what}_split`);
      return g.node('Transpose', [r], `${attn.name}/${what}_heads`, { perm: { ints: perm } });
    };
    // Q and V as [N, heads, T, dh]; K already transposed, [N, heads, dh, T].
    const q = split(this.linear(attn.q, x, true), [0, 2, 1, 3], 'q');
    const k = split(this.linear(attn.k, x, true), [0, 2, 3, 1], 'k');
    const v = split(this.linear(attn.v, x, true), [0, 2, 1, 3], 'v');
    const scores = g.node('MatMul', [q, k], `${attn.name}/scores`);
    // srigl scales the scores inside its softmax; so does this Mul, just before it.
    const scaled = g.node('Mul', [scores, g.scalar(1 / Math.sqrt(dh))], `${attn.name}/scaled`);
    const p = g.node('Softmax', [scaled], `${attn.name}/softmax`, { axis: { i: -1 } });
    const o = g.node('MatMul', [p, v], `${attn.name}/context`);
    const merged = g.node('Transpose', [o], `${attn.name}/merge`, { perm: { ints: [0, 2, 1, 3] } });
    const cat = g.node('Reshape', [merged, g.ints([0, 0, d])], `${attn.name}/concat_heads`);
    return this.linear(attn.proj, { name: cat, shape: [t, d] }, true);
  }

  transformerBlock(block: TransformerBlock, x: Value): Value {
    const g = this.g;
    const a = this.attention(block.attn, this.layerNorm(block.norm1, x));
    const r = { name: g.node('Add', [x.name, a.name], `${block.name}/residual1`), shape: x.shape };
    const h = this.linear(block.fc1, this.layerNorm(block.norm2, r), true);
    const m = this.linear(block.fc2, this.gelu(h, `${block.fc1.name}/gelu`), true);
    return { name: g.node('Add', [r.name, m.name], block.name), shape: x.shape };
  }
}

/** Nonzero mask entries and total weights over the model's sparsifiable layers. */
function maskCounts(model: Model): { nnz: number; total: number } {
  let nnz = 0, total = 0;
  for (const l of model.sparsifiable()) {
    const m = l.weight.denseMask();
    total += l.weight.size;
    if (m === null) nnz += l.weight.size;
    else for (let i = 0; i < m.length; i++) nnz += m[i] !== 0 ? 1 : 0;
  }
  return { nnz, total };
}

/**
 * The metadata_props: `srigl.arch` (the JSON ModelSpec), `srigl.method` (`dense` without sparse
 * facts), `srigl.sparsity` (the target, with sparse facts), `srigl.weights.nnz` /
 * `srigl.weights.total` / `srigl.weights.density` (counted from the masks of the Linear and
 * Conv2d weights), and when `info` has them `srigl.dataset`, `srigl.metrics` and `srigl.sparse`
 * (JSON, the model file's entries).
 */
function metadata(model: Model, info: ModelInfo | undefined): Record<string, string> {
  const { nnz, total } = maskCounts(model);
  const sparse = info?.sparse as { method?: unknown; sparsity?: unknown } | undefined;
  const meta: Record<string, string> = {
    'srigl.arch': JSON.stringify(model.spec),
    'srigl.method': typeof sparse?.method === 'string' ? sparse.method : 'dense',
  };
  if (typeof sparse?.sparsity === 'number') meta['srigl.sparsity'] = String(sparse.sparsity);
  meta['srigl.weights.nnz'] = String(nnz);
  meta['srigl.weights.total'] = String(total);
  meta['srigl.weights.density'] = total === 0 ? '1' : (nnz / total).toFixed(6);
  if (info?.dataset !== undefined) meta['srigl.dataset'] = info.dataset;
  if (info?.metrics !== undefined) meta['srigl.metrics'] = JSON.stringify(info.metrics);
  if (info?.sparse !== undefined) meta['srigl.sparse'] = JSON.stringify(info.sparse);
  return meta;
}

function valueInfo(name: string, dims: readonly (number | string)[]): onnxProto.onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim } } } };
}

/**
 * The model's eval-mode forward as an encoded ONNX ModelProto (see the module comment for the
 * format and the nodes). Reads the current weights, masks and BatchNorm statistics, dense or
 * compact (sparse compute); does not modify the model. Throws naming the layer when one has no
 * ONNX form.
 */
export function modelToOnnx(model: Model, opts: ModelToOnnxOptions = {}): Uint8Array {
  const layout = opts.inputLayout ?? 'image';
  if (layout !== 'image' && layout !== 'flat') throw new Error(`onnx export: inputLayout must be "image" or "flat", got ${JSON.stringify(layout)}`);
  const spec = model.spec;
  const g = new GraphBuilder();
  const lower = new Lowering(g);
  const image = spec.inputShape;
  let x: Value = { name: ONNX_INPUT, shape: layout === 'image' ? image : [shapeSize(image)] };
  const first = model.net.layers[0];
  // A flat input needs its image back unless the model starts with a Linear, which flattens anyway.
  if (layout === 'flat' && !(first instanceof Linear)) x = { name: g.node('Reshape', [x.name, g.ints([-1, ...image])], 'input_image'), shape: image };
  for (const layer of model.net.layers) x = lower.layer(layer, x);
  if (x.shape.length !== 1 || x.shape[0] !== spec.classes) throw new Error(`onnx export: the graph ends in shape [${x.shape.join(', ')}], expected [${spec.classes}]`);
  g.renameLastOutput(x.name, ONNX_OUTPUT);

  const graph: onnxProto.onnx.IGraphProto = {
    name: opts.graphName ?? `srigl-${spec.arch}`,
    node: g.nodes,
    initializer: g.initializers,
    input: [valueInfo(ONNX_INPUT, [ONNX_BATCH_DIM, ...(layout === 'image' ? image : [shapeSize(image)])])],
    output: [valueInfo(ONNX_OUTPUT, [ONNX_BATCH_DIM, spec.classes])],
    docString: `srigl ${spec.arch}: eval-mode forward, dense-equivalent weights (masked weights stored as 0)`,
  };
  const proto = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'srigl',
    producerVersion: SRIGL_VERSION,
    graph,
    metadataProps: Object.entries(metadata(model, opts.info)).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(proto).finish();
}

/** What an encoded ONNX model holds, at a glance (`srigl export --format onnx --json`). */
export interface OnnxSummary {
  irVersion: number;
  /** The default-domain opset. */
  opset: number;
  producer: string;
  nodes: number;
  /** Node count per op type. */
  ops: Record<string, number>;
  initializers: number;
  /** Bytes of initializer data (raw_data). */
  initializerBytes: number;
  input: { name: string; shape: (number | string)[] };
  output: { name: string; shape: (number | string)[] };
  metadata: Record<string, string>;
}

function dimsOf(v: onnxProto.onnx.IValueInfoProto | undefined): (number | string)[] {
  return (v?.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));
}

/** Decodes `bytes` (an ONNX ModelProto) and counts what it holds; throws when they do not decode. */
export function summarizeOnnx(bytes: Uint8Array): OnnxSummary {
  const m = onnx.ModelProto.toObject(onnx.ModelProto.decode(bytes), { longs: Number, defaults: true }) as onnxProto.onnx.IModelProto;
  const graph = m.graph ?? {};
  const ops: Record<string, number> = {};
  for (const n of graph.node ?? []) ops[n.opType ?? ''] = (ops[n.opType ?? ''] ?? 0) + 1;
  const opset = (m.opsetImport ?? []).find((o) => (o.domain ?? '') === '');
  return {
    irVersion: Number(m.irVersion),
    opset: Number(opset?.version ?? 0),
    producer: `${m.producerName ?? ''} ${m.producerVersion ?? ''}`.trim(),
    nodes: graph.node?.length ?? 0,
    ops,
    initializers: graph.initializer?.length ?? 0,
    initializerBytes: (graph.initializer ?? []).reduce((a, t) => a + (t.rawData?.length ?? 0), 0),
    input: { name: graph.input?.[0]?.name ?? '', shape: dimsOf(graph.input?.[0] ?? undefined) },
    output: { name: graph.output?.[0]?.name ?? '', shape: dimsOf(graph.output?.[0] ?? undefined) },
    metadata: Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? ''])),
  };
}

/**
 * The part of the onnxruntime module (onnxruntime-node or onnxruntime-web) that `ortSession`
 * uses; pass the module itself. srigl does not depend on onnxruntime: the caller loads it (bench
 * code: `loadOrt()` of bench/inference.ts).
 */
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, opts: object): Promise<OrtSessionHandle> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
}

/** An onnxruntime InferenceSession, as far as `ortSession` uses it. */
export interface OrtSessionHandle {
  run(feeds: object): Promise<unknown>;
  release?(): Promise<void>;
}

/** Options for `ortSession`. */
export interface OrtSessionOptions extends ModelToOnnxOptions {
  /** onnxruntime intra-op threads. Default 1 (as srigl's single-thread latency numbers). */
  threads?: number;
  /** More InferenceSession options, merged over the thread settings. Default none. */
  sessionOptions?: object;
}

/** A srigl model running in onnxruntime. */
export interface OrtClassifier {
  /** The session, for callers that build their own feeds (`{ input: tensor }`). */
  readonly session: OrtSessionHandle;
  /** The ONNX model it runs. */
  readonly onnx: Uint8Array;
  /** [C, H, W] per example, and the logits per example. */
  readonly inputShape: readonly [number, number, number];
  readonly classes: number;
  /** The logits [n, classes] of n examples x ([n, C, H, W] row-major, like `Model.inputs`). */
  run(x: Float32Array, n: number): Promise<Float32Array>;
  /** Frees the session (a no-op where the runtime has no release). */
  release(): Promise<void>;
}

/**
 * Exports `model` (`modelToOnnx`) and opens it in onnxruntime: a baseline for latency benchmarks
 * and a check of the export. The session sees the weights as they are now.
 */
export async function ortSession(ort: OrtModule, model: Model, opts: OrtSessionOptions = {}): Promise<OrtClassifier> {
  const threads = opts.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`ortSession: threads must be a positive integer, got ${threads}`);
  const bytes = modelToOnnx(model, opts);
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, ...opts.sessionOptions });
  const inputShape = model.spec.inputShape, classes = model.spec.classes;
  const perExample = shapeSize(inputShape);
  const dims = (n: number) => (opts.inputLayout === 'flat' ? [n, perExample] : [n, ...inputShape]);
  return {
    session, onnx: bytes, inputShape, classes,
    async run(x: Float32Array, n: number): Promise<Float32Array> {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`ortSession.run: batch must be a positive integer, got ${n}`);
      if (x.length !== n * perExample) throw new RangeError(`ortSession.run: ${x.length} inputs for ${n} examples of [${inputShape.join(', ')}] (expected ${n * perExample})`);
      const out = (await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', x, dims(n)) })) as Record<string, { data: Float32Array; dims: readonly number[] } | undefined>;
      const logits = out[ONNX_OUTPUT];
      if (logits === undefined || logits.data.length !== n * classes) throw new Error(`ortSession.run: onnxruntime returned no ${ONNX_OUTPUT} [${n}, ${classes}]`);
      return logits.data;
    },
    async release(): Promise<void> {
      await session.release?.();
    },
  };
}
