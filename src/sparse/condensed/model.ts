/**
 * A whole network in the condensed representation (SRIGL.md §5): every Linear/Conv2d as a
 * constant-fan-in layer holding only its active neurons, with the next layer's inputs remapped
 * so that ablated neurons disappear end to end, and the parameter-free ops between them.
 *
 * Conversion (`condenseModel`) is exact. An ablated neuron (no active weight, bias 0) outputs 0;
 * ReLU, max-pooling, flattening and eval-mode dropout keep 0 at 0, so every later weight that
 * reads it multiplies 0 and can go. Dropping those weights can leave a row with fewer than k
 * weights; such rows are padded back to the layer's k with weights of value 0 at unused
 * columns (0·x = 0), so the layer stays constant fan-in. Layers without a mask (kept dense, e.g.
 * the CNN's first conv) become condensed layers with k = their (remapped) fan-in, so one kernel
 * path runs everything. A row that has no weight left but a nonzero bias is kept (it outputs its
 * bias). The result holds for any masks, not just SRigL's: unstructured masks (RigL, SET) are
 * padded to their longest row.
 *
 * ResNets. Each BatchNorm2d is folded into the convolution before it, with the running
 * statistics of eval mode: per output channel s = γ/√(σ²+ε), W' = s·W and b' = β + s·(b − μ).
 * An ablated filter then outputs the constant b', not 0. Dropping such a channel from the next
 * layer's inputs would need that constant folded into the next layer's bias, which is exact
 * only where the next layer sees it at every tap: a 3×3 convolution with zero padding sees it at
 * fewer taps along the borders, so no bias can stand in for it. Hence, exactly:
 * - inside a BasicBlock, a conv1 channel whose filter is ablated is dropped when b' ≤ 0 (the ReLU
 *   after it makes it 0 everywhere, and conv2 reads nothing else of it); when b' > 0 it is kept
 *   as a bias-only row, which outputs b' and meets the same zero padding as in the model;
 * - the residual stream (the stem's output, each block's conv2 and downsample outputs, the block
 *   outputs) keeps every channel: an ablated channel there adds its b' to the shortcut, so it is
 *   not constant after the sum, and identity shortcuts need both operands in the same layout. Its
 *   ablated rows are kept as bias-only rows.
 * A block runs as `save` (its input), [the downsample conv, `swap`], conv1, relu, conv2, `add`
 * (the saved shortcut), relu; the head as `avgpool` (global average pooling) and the Linear.
 *
 * N:M layers (condenseModel's `nm` option): a layer trained N:M whose
 * inputs are all still there (nothing dropped upstream, so every group is intact) is stored in
 * the N:M format (offsets within groups, layer.ts) and runs the N:M kernels. When upstream
 * ablation dropped some of its inputs, its groups no longer line up with the condensed columns,
 * and it falls back to the general format (u16 indices, possibly padded): exact either way.
 *
 * ViTs. The patch embedding's convolution runs as a condensed conv (dense: k = its fan-in) and
 * keeps every channel: the tokens it makes (`embed`: class token first, position embedding
 * added) are the residual stream, which keeps every feature, as a ResNet's does. Every Linear of
 * a block runs token-wise, the tokens as the batch. Each block is `save`, `layernorm`,
 * `attention` (q, k, v, the heads, proj), `add`, `save`, `layernorm`, fc1, `gelu`, fc2, `add`;
 * the head is `cls_pool`, `layernorm`, the Linear. An ablated row outputs its bias b at every
 * token, a constant. A Linear sees a constant input c at every token it is applied to, so the
 * weights W[:, j] that read one can go, with W[:, j]·c folded into its bias (summed in double
 * precision). Hence, exactly:
 * - fc1: a neuron without weights is dropped; fc2 folds W[:, j]·GELU(b_j) (GELU in double
 *   precision, erf form) into its bias;
 * - v: a feature without weights is dropped; softmax rows sum to 1, so attention outputs b_j for
 *   it at every token, and proj folds W[:, j]·b_j into its bias;
 * - q and k keep the same features, so that a head's q and k rows pair up: feature j is dropped
 *   when k row j has no weights (its score term Q_jt·b_j is the same for every key, and softmax
 *   ignores a constant added along a row) or q row j has neither weights nor bias (its term is
 *   0); a q row with a bias but no weights is kept (bias only) when k row j has weights. Heads
 *   then differ in width; a head left with no q/k feature attends uniformly, and one with no v
 *   feature contributes only proj's folded bias (the attention kernel takes each head's rows);
 * - proj and fc2 write the residual stream and keep every row (bias-only rows for ablated ones);
 * - a layer keeps at least one row (keeping a row is always exact), so no layer is empty.
 * The scale 1/√d_h stays that of the trained head width. CondensedModel may fold each
 * LayerNorm's scale and shift into the layers that read it and run the last block for the class
 * token only (CondensedModelOptions.classTokenOnly); neither changes the net or its file.
 *
 * Supported: every architecture srigl trains: `mlp`, `cnn`, `resnet` and `vit` (Linear, Conv2d,
 * BatchNorm2d after a Conv2d, ReLU, MaxPool2d, Flatten, Dropout, BasicBlock, GlobalAvgPool,
 * PatchEmbed, ClassTokenPosEmbed, TransformerBlock, ClassTokenPool, LayerNorm).
 */
import type { Ptr } from '../../kernels/api.js';
import type { Engine } from '../../kernels/engine.js';
import {
  attentionScratchBytes, convOutputSize, convScratchBytes, instantiateSparseKernels, isNarrowLanes, referenceSparseKernels, spmmScratchBytes,
  type AttentionView, type CondensedNMView, type CondensedView, type ConvGeometry, type SparseKernels,
} from '../../kernels/condensed.js';
import { Dropout, Flatten, GlobalAvgPool, MaxPool2d, ReLU } from '../../nn/activations.js';
import { BatchNorm2d } from '../../nn/batchnorm.js';
import { Conv2d } from '../../nn/conv2d.js';
import { ClassTokenPosEmbed, PatchEmbed } from '../../nn/embedding.js';
import { LayerNorm } from '../../nn/layernorm.js';
import { Linear } from '../../nn/linear.js';
import { parseModelSpec, type Model, type ModelSpec } from '../../nn/models.js';
import { BasicBlock } from '../../nn/residual.js';
import { ClassTokenPool } from '../../nn/token.js';
import { TransformerBlock } from '../../nn/transformer.js';
import type { NMStructure } from '../nm.js';
import {
  condensedBytes, isNMLayer, nmToIndices, toNMLayer, validateAnyCondensed,
  type AnyCondensedLayer, type CondensedLayer,
} from './layer.js';
import { condenseRows, identityMap, mapOf, reportOf, type RowRule } from './rows.js';
import { condenseBlock, foldLayerNorm, headBases, layerNormOp, type PackLinear } from './transformer.js';
import { uploadCondensed, uploadCondensedNM } from './upload.js';

/**
 * One step of a condensed network. Conv geometry counts the condensed input channels. Residual
 * connections use a stack of saved activations: `save` pushes the current activation, `swap`
 * exchanges the current activation with the last saved one, `add` pops the last saved one and
 * adds it to the current one (same shape). `avgpool` is global average pooling, [C, H, W] → [C].
 *
 * Transformer ops work on tokens, [T, F] per example. `embed` turns a feature map [C, H, W] into
 * H·W + 1 tokens of C features: the class token `clsToken` [C] first, then one token per position
 * (row-major), plus the position embedding `posEmbed` [T, C]. `linear` on tokens applies the layer
 * to every token; `layernorm` normalises each token's features (or a flat vector) with scale
 * `gamma`, shift `beta` and `eps`; `gelu` is the erf GELU, elementwise; `attention` is multi-head
 * self-attention with `heads` heads: Q, K and V from the layers q, k and v, per head
 * softmax(Q_h·K_hᵀ/√d_h)·V_h with d_h = q.outFeatures/heads, the heads concatenated and projected by
 * `proj`. Head h owns the kept rows of q, k (the same features in both) and v whose original
 * features lie in [h·d, (h+1)·d), d = outFeatures/heads. `cls_pool` keeps the first token,
 * [T, F] → [F].
 */
export type CondensedOp =
  | { kind: 'linear'; name: string; layer: AnyCondensedLayer }
  | { kind: 'conv2d'; name: string; layer: AnyCondensedLayer; geometry: ConvGeometry }
  | { kind: 'relu' }
  | { kind: 'maxpool'; kernel: number; stride: number }
  | { kind: 'flatten' }
  | { kind: 'save' }
  | { kind: 'swap' }
  | { kind: 'add' }
  | { kind: 'avgpool' }
  | { kind: 'embed'; name: string; clsToken: Float32Array; posEmbed: Float32Array }
  | { kind: 'layernorm'; name: string; gamma: Float32Array; beta: Float32Array; eps: number }
  | { kind: 'attention'; name: string; heads: number; q: AnyCondensedLayer; k: AnyCondensedLayer; v: AnyCondensedLayer; proj: AnyCondensedLayer }
  | { kind: 'gelu' }
  | { kind: 'cls_pool' };

/** The op kinds that only ResNets and ViTs use (a file holding one is format version 3 or later). */
export const RESIDUAL_OP_KINDS: readonly CondensedOp['kind'][] = ['save', 'swap', 'add', 'avgpool'];
/** The op kinds that only ViTs use (a file holding one is format version 4). */
export const TRANSFORMER_OP_KINDS: readonly CondensedOp['kind'][] = ['embed', 'layernorm', 'attention', 'gelu', 'cls_pool'];

/** A condensed network as plain data (what a condensed file holds). */
export interface CondensedNet {
  /** The architecture it was converted from (input shape and classes are unchanged). */
  spec: ModelSpec;
  ops: CondensedOp[];
}

/** What conversion did to one Linear/Conv2d layer. */
export interface CondensedLayerReport {
  name: string;
  kind: 'linear' | 'conv2d';
  /** Neurons of the original layer, and those kept. */
  out: number;
  nActive: number;
  /** Original fan-in, and fan-in after dropping the inputs of ablated upstream neurons. */
  fanIn: number;
  inFeatures: number;
  k: number;
  /** Whether the layer had a mask (false: stored as condensed with k = fan-in). */
  masked: boolean;
  /** Active weights that read a dropped input (removed: they multiplied 0, or a ViT's constant, folded into the bias). */
  droppedWeights: number;
  /** Zero weights added so every kept row has k. */
  paddedWeights: number;
  /** The layer's N:M structure as trained (null: none), and the format it was stored in. */
  nm: NMStructure | null;
  format: 'indices' | 'nm';
  /** The BatchNorm2d folded into this conv (null: none). */
  batchNorm: string | null;
}

/** Options for `condenseModel`. */
export interface CondenseOptions {
  /**
   * The N:M structure of each layer trained N:M, by layer name (see nmLayersOf for a model file's
   * `sparse` metadata). Such a layer is stored in the N:M format when none of its inputs was
   * dropped; its mask must then hold the structure (checked). Default: none (every layer general).
   */
  nm?: Readonly<Record<string, NMStructure>>;
}

/**
 * The N:M structure of every layer a sparse run's facts (`SparseRunInfo`, a model file's `sparse`
 * metadata) record as N:M: `layers[].nm` = {n, m, taps}. Layers without one are absent; anything
 * that is not such a record gives an empty result, and a malformed `nm` throws naming the layer.
 */
export function nmLayersOf(sparse: unknown): Record<string, NMStructure> {
  const out: Record<string, NMStructure> = {};
  const layers = (sparse as { layers?: unknown } | null | undefined)?.layers;
  if (!Array.isArray(layers)) return out;
  for (const l of layers as { name?: unknown; nm?: unknown }[]) {
    if (l === null || typeof l !== 'object' || l.nm === null || l.nm === undefined) continue;
    const nm = l.nm as Record<string, unknown>;
    if (typeof l.name !== 'string' || ![nm.n, nm.m, nm.taps].every((v) => Number.isInteger(v) && (v as number) >= 1)) {
      throw new Error(`sparse metadata: layer ${JSON.stringify(l.name)} has a malformed nm ${JSON.stringify(l.nm)} (expected {n, m, taps} positive integers)`);
    }
    out[l.name] = { n: nm.n as number, m: nm.m as number, taps: nm.taps as number };
  }
  return out;
}

/** Per-example activation shape while walking a network: channels × plane, flat features, or tokens × features. */
type Shape = { kind: 'chw'; C: number; H: number; W: number } | { kind: 'flat'; F: number } | { kind: 'tokens'; T: number; F: number };

function describe(s: Shape): string {
  return s.kind === 'chw' ? `[${s.C}, ${s.H}, ${s.W}]` : s.kind === 'tokens' ? `${s.T} tokens × ${s.F}` : `[${s.F}]`;
}

/** Elements of one example's activation. */
function sizeOf(s: Shape): number {
  return s.kind === 'chw' ? s.C * s.H * s.W : s.kind === 'tokens' ? s.T * s.F : s.F;
}

/**
 * A conv's weight and bias with the BatchNorm2d after it folded in, in eval mode (running
 * statistics): per output channel s = γ/√(σ²+ε), W' = s·W, b' = β + s·(b − μ), computed in
 * double precision. Without a BatchNorm, the conv's own. The weight is dense [out, fanIn];
 * masked-out entries are never read.
 */
function foldedParams(conv: Conv2d, bn: BatchNorm2d | null): { weight: Float32Array; bias: Float32Array | null } {
  const s = conv.sparsifiable()[0];
  const w = s.weight.denseValues();
  const b = s.bias?.denseValues() ?? null;
  if (bn === null) return { weight: w, bias: b };
  const gamma = bn.gamma.denseValues(), beta = bn.beta.denseValues();
  const mean = bn.runningMean.data, variance = bn.runningVar.data;
  // ε is private to BatchNorm2d (set at construction, PyTorch's 1e-5 by default); element access
  // reads it typed, so a rename there fails to compile here.
  const eps = bn['eps'];
  const weight = new Float32Array(s.out * s.fanIn);
  const bias = new Float32Array(s.out);
  for (let r = 0; r < s.out; r++) {
    const scale = gamma[r] / Math.sqrt(variance[r] + eps);
    for (let i = r * s.fanIn; i < (r + 1) * s.fanIn; i++) weight[i] = w[i] * scale;
    bias[r] = beta[r] + ((b === null ? 0 : b[r]) - mean[r]) * scale;
  }
  return { weight, bias };
}

/**
 * A BasicBlock's layers. The block keeps them private (its public face is the training API);
 * element access reads them typed, so a rename there fails to compile here.
 */
function blockLayers(block: BasicBlock) {
  return { conv1: block['conv1'], bn1: block['bn1'], conv2: block['conv2'], bn2: block['bn2'], downConv: block['downConv'], downBn: block['downBn'] };
}

/**
 * Converts a (masked) model to a condensed network that computes exactly its eval-mode forward
 * (up to float summation order), dropping ablated neurons end to end; BatchNorm2d layers are
 * folded into the convolutions before them (see the module comment for ResNets). Reads the
 * model's current weights, masks, biases and BatchNorm statistics; does not modify them.
 */
export function condenseModel(model: Model, opts: CondenseOptions = {}): { net: CondensedNet; report: CondensedLayerReport[] } {
  const spec = model.spec;
  /**
   * The layer in the N:M format when it was trained N:M and its inputs are intact (colMap the
   * identity); else the general layer as condensed.
   */
  const format = (name: string, layer: CondensedLayer, colMap: Int32Array): { layer: AnyCondensedLayer; nm: NMStructure | null } => {
    const nm = opts.nm?.[name] ?? null;
    if (nm === null || !colMap.every((c, i) => c === i)) return { layer, nm };
    const out = toNMLayer(layer, nm);
    if (typeof out === 'string') throw new Error(`condenseModel: ${name} is recorded as N:M ${nm.n}:${nm.m} (${nm.taps} tap(s)) but its mask is not: ${out}`);
    return { layer: out, nm };
  };
  const [C0, H0, W0] = spec.inputShape;
  let shape: Shape = { kind: 'chw', C: C0, H: H0, W: W0 };
  // Original index → condensed index (−1 dropped): per channel for 'chw', per feature for 'flat'.
  let map: Int32Array = identityMap(C0);
  const ops: CondensedOp[] = [];
  const report: CondensedLayerReport[] = [];
  const flatten = (s: Shape): Shape => {
    if (s.kind === 'flat') return s;
    if (s.kind === 'tokens') throw new Error('condenseModel: a layer flattens tokens (only a class-token pool turns tokens into features)');
    const plane = s.H * s.W;
    const next = new Int32Array(s.C * plane);
    for (let c = 0; c < s.C; c++) for (let p = 0; p < plane; p++) next[c * plane + p] = map[c] < 0 ? -1 : map[c] * plane + p;
    map = next;
    return { kind: 'flat', F: s.C * plane };
  };
  const kept = (m: Int32Array) => m.reduce((n, v) => n + (v >= 0 ? 1 : 0), 0);
  /** Condenses `layer` (with `bn` folded in) reading channels `inMap` of `inShape`; pushes its op and report. */
  const conv = (layer: Conv2d, bn: BatchNorm2d | null, rule: RowRule, inMap: Int32Array, inShape: Shape): { map: Int32Array; shape: Shape } => {
    if (inShape.kind !== 'chw') throw new Error(`condenseModel: ${layer.name} gets input ${describe(inShape)}, not a feature map`);
    const g = layer.geometry;
    const s = layer.sparsifiable()[0];
    const taps = g.kh * g.kw;
    const cKept = kept(inMap);
    const colMap = new Int32Array(g.C * taps);
    for (let c = 0; c < g.C; c++) for (let t = 0; t < taps; t++) colMap[c * taps + t] = inMap[c] < 0 ? -1 : inMap[c] * taps + t;
    const { weight, bias } = foldedParams(layer, bn);
    const r = condenseRows(s.out, s.fanIn, weight, s.weight.denseMask(), bias, colMap, cKept * taps, rule);
    if (r.layer.nActive === 0) throw new Error(`condenseModel: every neuron of ${layer.name} is ablated; the network's output does not depend on its input`);
    const geometry: ConvGeometry = { C: cKept, H: g.H, W: g.W, kh: g.kh, kw: g.kw, stride: g.stride, pad: g.pad };
    const f = format(layer.name, r.layer, colMap);
    ops.push({ kind: 'conv2d', name: layer.name, layer: f.layer, geometry });
    report.push(reportOf(layer.name, 'conv2d', s.out, s.fanIn, s.weight.mask !== null || s.weight.compact !== null, r, f, bn === null ? null : bn.name));
    const { OH, OW } = convOutputSize(geometry);
    return { map: mapOf(s.out, r.layer), shape: { kind: 'chw', C: s.out, H: OH, W: OW } };
  };
  /** A ViT block's Linear layers: stored in their format, reported. */
  const pack: PackLinear = (linear, r, colMap) => {
    const s = linear.sparsifiable()[0];
    const f = format(linear.name, r.layer, colMap);
    report.push(reportOf(linear.name, 'linear', s.out, s.fanIn, s.weight.mask !== null || s.weight.compact !== null, r, f, null));
    return f.layer;
  };
  // In a residual network (and a ViT) the convs outside the blocks produce the residual stream,
  // which keeps every channel (module comment).
  const residual = model.net.layers.some((l) => l instanceof BasicBlock || l instanceof TransformerBlock);
  const intact = (m: Int32Array) => m.every((c, j) => c === j);

  const layers = model.net.layers;
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    if (layer instanceof Conv2d) {
      const next = layers[i + 1];
      const bn = next instanceof BatchNorm2d ? next : null;
      if (bn !== null) i++;
      ({ map, shape } = conv(layer, bn, residual ? 'all' : 'weighted', map, shape));
    } else if (layer instanceof BasicBlock) {
      if (shape.kind !== 'chw') throw new Error(`condenseModel: ${layer.name} gets input ${describe(shape)}, not a feature map`);
      if (!intact(map)) throw new Error(`condenseModel: ${layer.name}: the residual stream lost a channel (it keeps every channel)`);
      const b = blockLayers(layer);
      const input = { map, shape };
      ops.push({ kind: 'save' });
      if (b.downConv !== null) {
        // The projection runs first, on the block's input, and waits on the stack for the sum.
        conv(b.downConv, b.downBn, 'all', input.map, input.shape);
        ops.push({ kind: 'swap' });
      }
      const h = conv(b.conv1, b.bn1, 'relu', input.map, input.shape);
      ops.push({ kind: 'relu' });
      ({ map, shape } = conv(b.conv2, b.bn2, 'all', h.map, h.shape));
      ops.push({ kind: 'add' }, { kind: 'relu' });
    } else if (layer instanceof PatchEmbed) {
      // Its convolution, every channel kept (the tokens are the residual stream); the
      // ClassTokenPosEmbed after it makes the tokens.
      if (!(layers[i + 1] instanceof ClassTokenPosEmbed)) throw new Error(`condenseModel: ${layer.name} must be followed by a class token and position embedding`);
      ({ map, shape } = conv(layer.proj, null, 'all', map, shape));
    } else if (layer instanceof ClassTokenPosEmbed) {
      if (shape.kind !== 'chw' || !(layers[i - 1] instanceof PatchEmbed)) throw new Error(`condenseModel: ${layer.name || 'the class token'} must follow a patch embedding`);
      ops.push({ kind: 'embed', name: layer.name, clsToken: layer.clsToken.denseValues().slice(), posEmbed: layer.posEmbed.denseValues().slice() });
      shape = { kind: 'tokens', T: shape.H * shape.W + 1, F: shape.C };
    } else if (layer instanceof TransformerBlock) {
      if (shape.kind !== 'tokens') throw new Error(`condenseModel: ${layer.name} gets input ${describe(shape)}, not tokens`);
      if (!intact(map)) throw new Error(`condenseModel: ${layer.name}: the residual stream lost a feature (it keeps every feature)`);
      ops.push(...condenseBlock(layer, pack));
    } else if (layer instanceof ClassTokenPool) {
      if (shape.kind !== 'tokens') throw new Error(`condenseModel: class-token pooling of ${describe(shape)}, not tokens`);
      // The token's features are the residual stream's, all kept: the map stays the identity.
      ops.push({ kind: 'cls_pool' });
      shape = { kind: 'flat', F: shape.F };
    } else if (layer instanceof LayerNorm) {
      if (shape.kind === 'chw' || !intact(map)) throw new Error(`condenseModel: ${layer.name} normalises ${describe(shape)}${intact(map) ? '' : ' with dropped features'}; only intact tokens or features can be`);
      ops.push(layerNormOp(layer));
    } else if (layer instanceof Linear) {
      shape = flatten(shape);
      const s = layer.sparsifiable()[0];
      const r = condenseRows(s.out, s.fanIn, s.weight.denseValues(), s.weight.denseMask(), s.bias?.denseValues() ?? null, map, kept(map));
      if (r.layer.nActive === 0) throw new Error(`condenseModel: every neuron of ${layer.name} is ablated; the network's output does not depend on its input`);
      const f = format(layer.name, r.layer, map);
      ops.push({ kind: 'linear', name: layer.name, layer: f.layer });
      report.push(reportOf(layer.name, 'linear', s.out, s.fanIn, s.weight.mask !== null || s.weight.compact !== null, r, f, null));
      map = mapOf(s.out, r.layer);
      shape = { kind: 'flat', F: s.out };
    } else if (layer instanceof ReLU) {
      ops.push({ kind: 'relu' });
    } else if (layer instanceof MaxPool2d) {
      if (shape.kind !== 'chw') throw new Error('condenseModel: max-pooling of a flat input');
      const { kernel, stride } = layer.pooling;
      ops.push({ kind: 'maxpool', kernel, stride });
      shape = { kind: 'chw', C: shape.C, H: Math.floor((shape.H - kernel) / stride) + 1, W: Math.floor((shape.W - kernel) / stride) + 1 };
    } else if (layer instanceof GlobalAvgPool) {
      if (shape.kind !== 'chw') throw new Error('condenseModel: average pooling of a flat input');
      // One feature per channel: the channel map is the feature map.
      ops.push({ kind: 'avgpool' });
      shape = { kind: 'flat', F: shape.C };
    } else if (layer instanceof Flatten) {
      shape = flatten(shape);
      ops.push({ kind: 'flatten' });
    } else if (layer instanceof Dropout) {
      // The identity at inference.
    } else {
      const what = layer instanceof BatchNorm2d ? `BatchNorm2d ${layer.name} (only one right after a Conv2d can be folded)` : layer.constructor.name;
      throw new Error(`condenseModel: ${spec.arch}: layer ${what} is not supported`);
    }
  }
  const net: CondensedNet = { spec, ops };
  checkNet(net);
  return { net, report };
}

/**
 * Checks that a network's ops chain: each layer's input count matches what the previous op
 * produces, geometry and pooling are positive integers that fit, and the last op is a Linear
 * layer over the spec's classes, on features (an N:M layer's taps must be its kernel's kh·kw, 1
 * for Linear). Saved activations are feature maps or tokens; `swap` and `add` need one saved,
 * `add` one of the current shape, and none may be left at the end. Transformer ops: `embed`
 * takes a feature map and holds a class token of its channels and a position embedding of its
 * positions + 1 tokens; `layernorm` takes tokens or features and holds finite scale and shift of
 * their width and a finite ε > 0; `attention` takes tokens, its q, k and v read every feature,
 * q and k keep the same features (equal active maps), heads divide q's and v's outputs, and proj
 * reads v's kept features; `cls_pool` takes tokens. Throws naming the op. Layers themselves:
 * validateCondensed or validateCondensedNM.
 */
export function checkNet(net: CondensedNet): void {
  walkNet(net);
}

/** checkNet's walk; returns the per-example shape each op reads. */
function walkNet(net: CondensedNet): Shape[] {
  const spec = parseModelSpec(net.spec);
  const [C0, H0, W0] = spec.inputShape;
  let shape: Shape = { kind: 'chw', C: C0, H: H0, W: W0 };
  const saved: Shape[] = [];
  const inputs: Shape[] = [];
  const posInt = (v: unknown, what: string, min = 1) => {
    if (!Number.isInteger(v) || (v as number) < min) throw new Error(`condensed network: ${what} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  };
  if (!Array.isArray(net.ops) || net.ops.length === 0) throw new Error('condensed network: no ops');
  for (let i = 0; i < net.ops.length; i++) {
    const op = net.ops[i];
    const where = `op ${i} (${op.kind}${'name' in op && op.name !== '' ? ` ${op.name}` : ''})`;
    const err = (msg: string) => new Error(`condensed network: ${where} ${msg}`);
    /** A linear layer over `F` inputs (validated, N:M taps 1). */
    const linearLayer = (L: AnyCondensedLayer, what: string, F: number) => {
      if (L.inFeatures !== F) throw err(`${what} has ${L.inFeatures} inputs, the previous op gives ${describe(shape)}`);
      try {
        validateAnyCondensed(L);
      } catch (e) {
        throw err(`${what}: ${(e as Error).message}`);
      }
      if (isNMLayer(L) && L.nm.taps !== 1) throw err(`${what} is a linear layer, but its N:M groups have ${L.nm.taps} taps`);
    };
    /** Finite values of the expected length. */
    const vector = (a: unknown, n: number, what: string) => {
      if (!(a instanceof Float32Array) || a.length !== n) throw err(`${what} must hold ${n} values, got ${a instanceof Float32Array ? a.length : typeof a}`);
      const bad = (a as Float32Array).findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw err(`${what}[${bad}] = ${(a as Float32Array)[bad]} is not finite`);
    };
    inputs.push(shape);
    switch (op.kind) {
      case 'conv2d': {
        const g = op.geometry;
        for (const key of ['C', 'H', 'W', 'kh', 'kw', 'stride'] as const) posInt(g[key], `${where} ${key}`);
        posInt(g.pad, `${where} pad`, 0);
        if (shape.kind !== 'chw' || shape.C !== g.C || shape.H !== g.H || shape.W !== g.W) {
          throw new Error(`condensed network: ${where} expects input [${g.C}, ${g.H}, ${g.W}], the previous op gives ${describe(shape)}`);
        }
        if (op.layer.inFeatures !== g.C * g.kh * g.kw) throw new Error(`condensed network: ${where} has ${op.layer.inFeatures} input columns, expected C·kh·kw = ${g.C * g.kh * g.kw}`);
        validateAnyCondensed(op.layer);
        if (isNMLayer(op.layer) && op.layer.nm.taps !== g.kh * g.kw) throw new Error(`condensed network: ${where} is N:M over ${op.layer.nm.taps} tap(s) per channel, its kernel has kh·kw = ${g.kh * g.kw}`);
        const { OH, OW } = convOutputSize(g);
        if (OH < 1 || OW < 1) throw new Error(`condensed network: ${where}: the kernel does not fit the input`);
        shape = { kind: 'chw', C: op.layer.nActive, H: OH, W: OW };
        break;
      }
      case 'linear': {
        if (shape.kind === 'tokens') {
          // Applied to every token.
          linearLayer(op.layer, 'the layer', shape.F);
          shape = { kind: 'tokens', T: shape.T, F: op.layer.nActive };
          break;
        }
        const F = shape.kind === 'chw' ? shape.C * shape.H * shape.W : shape.F;
        if (op.layer.inFeatures !== F) throw new Error(`condensed network: ${where} has ${op.layer.inFeatures} inputs, the previous op gives ${describe(shape)}`);
        validateAnyCondensed(op.layer);
        if (isNMLayer(op.layer) && op.layer.nm.taps !== 1) throw new Error(`condensed network: ${where} is a linear layer, but its N:M groups have ${op.layer.nm.taps} taps`);
        shape = { kind: 'flat', F: op.layer.nActive };
        break;
      }
      case 'relu':
      case 'gelu':
        break;
      case 'maxpool': {
        posInt(op.kernel, `${where} kernel`);
        posInt(op.stride, `${where} stride`);
        if (shape.kind !== 'chw' || shape.H < op.kernel || shape.W < op.kernel) throw new Error(`condensed network: ${where} cannot pool ${describe(shape)}`);
        shape = { kind: 'chw', C: shape.C, H: Math.floor((shape.H - op.kernel) / op.stride) + 1, W: Math.floor((shape.W - op.kernel) / op.stride) + 1 };
        break;
      }
      case 'flatten':
        if (shape.kind === 'tokens') throw err(`cannot flatten ${describe(shape)} (cls_pool turns tokens into features)`);
        shape = shape.kind === 'chw' ? { kind: 'flat', F: shape.C * shape.H * shape.W } : shape;
        break;
      case 'save':
        if (shape.kind === 'flat') throw new Error(`condensed network: ${where} can only save a feature map or tokens, the previous op gives ${describe(shape)}`);
        saved.push(shape);
        break;
      case 'swap': {
        const top = saved.pop();
        if (top === undefined) throw new Error(`condensed network: ${where} has no saved activation to swap with`);
        if (shape.kind === 'flat') throw new Error(`condensed network: ${where} can only save a feature map or tokens, the previous op gives ${describe(shape)}`);
        saved.push(shape);
        shape = top;
        break;
      }
      case 'add': {
        const top = saved.pop();
        if (top === undefined) throw new Error(`condensed network: ${where} has no saved activation to add`);
        if (describe(top) !== describe(shape)) throw new Error(`condensed network: ${where} adds a saved ${describe(top)} to ${describe(shape)}`);
        break;
      }
      case 'avgpool':
        if (shape.kind !== 'chw') throw new Error(`condensed network: ${where} cannot pool ${describe(shape)}`);
        shape = { kind: 'flat', F: shape.C };
        break;
      case 'embed': {
        if (shape.kind !== 'chw') throw err(`makes tokens of a feature map, the previous op gives ${describe(shape)}`);
        const { C, H, W }: Extract<Shape, { kind: 'chw' }> = shape;
        vector(op.clsToken, C, 'clsToken');
        vector(op.posEmbed, (H * W + 1) * C, 'posEmbed');
        shape = { kind: 'tokens', T: H * W + 1, F: C };
        break;
      }
      case 'layernorm': {
        if (shape.kind === 'chw') throw err(`normalises tokens or features, the previous op gives ${describe(shape)}`);
        vector(op.gamma, shape.F, 'gamma');
        vector(op.beta, shape.F, 'beta');
        if (typeof op.eps !== 'number' || !Number.isFinite(op.eps) || op.eps <= 0) throw err(`eps must be a finite number > 0, got ${JSON.stringify(op.eps)}`);
        break;
      }
      case 'attention': {
        if (shape.kind !== 'tokens') throw err(`attends over tokens, the previous op gives ${describe(shape)}`);
        const F = shape.F;
        posInt(op.heads, `${where} heads`);
        linearLayer(op.q, 'q', F);
        linearLayer(op.k, 'k', F);
        linearLayer(op.v, 'v', F);
        if (op.q.outFeatures !== op.k.outFeatures || op.q.nActive !== op.k.nActive || op.q.activeMap.some((m, a) => m !== op.k.activeMap[a])) {
          throw err('q and k must keep the same features (equal outFeatures and active maps)');
        }
        for (const [what, L] of [['q', op.q], ['v', op.v]] as const) {
          if (L.outFeatures % op.heads !== 0) throw err(`${what} has ${L.outFeatures} features, not a multiple of ${op.heads} heads`);
        }
        if (op.proj.inFeatures !== op.v.nActive) throw err(`proj has ${op.proj.inFeatures} inputs, v keeps ${op.v.nActive} features`);
        linearLayer(op.proj, 'proj', op.v.nActive);
        shape = { kind: 'tokens', T: shape.T, F: op.proj.nActive };
        break;
      }
      case 'cls_pool':
        if (shape.kind !== 'tokens') throw err(`keeps the first token, the previous op gives ${describe(shape)}`);
        shape = { kind: 'flat', F: shape.F };
        break;
      default:
        throw new Error(`condensed network: ${where}: unknown op`);
    }
  }
  if (saved.length > 0) throw new Error(`condensed network: ${saved.length} saved activation(s) are never added`);
  const last = net.ops[net.ops.length - 1];
  if (last.kind !== 'linear' || last.layer.outFeatures !== spec.classes || shape.kind !== 'flat') {
    throw new Error(`condensed network: the last op must be a linear layer over the ${spec.classes} classes${shape.kind === 'tokens' ? ', on features (cls_pool first), not tokens' : ''}`);
  }
  return inputs;
}

/**
 * Below this many multiply-adds a layer runs on the calling thread: a split job costs tens of µs
 * in claims and cross-core traffic on the 2-vCPU VM (mlp at batch 16, ~2^18 per layer, ran 0.6×
 * with two threads), about what 2^20 gathered multiply-adds take.
 */
const PARALLEL_MIN_MACS = 1 << 20;
/** The same when a worker is in deep sleep: waking it costs up to ~2 ms (see worker.ts), ~2^23 gathered multiply-adds. */
const PARALLEL_MIN_MACS_ASLEEP = 1 << 23;
/**
 * A predict call starting within this many ms of the previous one's end is part of a stream:
 * it wakes sleeping workers for any layer above PARALLEL_MIN_MACS (the wake is paid once and the
 * workers then stay awake between calls). Workers fall into deep sleep after 1 s without work
 * (worker.ts), so without this a model whose layers are each below PARALLEL_MIN_MACS_ASLEEP
 * would never use them.
 */
const STREAM_GAP_MS = 1000;

/** Options for `CondensedModel`. */
export interface CondensedModelOptions {
  /** Largest batch run at once; larger inputs run in chunks of it. Buffers are sized for it. Default 128. */
  maxBatch?: number;
  /** `close()` also closes the engine (for an engine created just for this model). Default false. */
  closeEngine?: boolean;
  /**
   * How N:M layers run: 'nm' with the N:M kernels over their one-byte offsets, 'indices' decoded
   * at load to column indices for the constant-fan-in kernels. Default 'indices': at equal nnz
   * the constant-fan-in kernels measured 1.04–1.3× faster on the CPUs we have
   * (bench/results/inference-nm.md), so N:M saves file size, not time.
   */
  nmKernel?: 'nm' | 'indices';
  /**
   * Whether the ops after a ViT's last attention op compute the class token only. Everything
   * from there to `cls_pool` works token by token (residual adds, layer norm, the MLP), and only
   * the class token reaches the classifier, so the last attention op need only produce the class
   * token's output (its queries, scores and projection; keys and values still cover every token)
   * and the rest of the block runs on that one token: the same logits, with the last block's
   * query side, projection and MLP done for 1 of T tokens. Default true; false runs every token
   * to the end, as the trained model does.
   */
  classTokenOnly?: boolean;
}

/** Ops that act on each token by itself (what may follow the class-token-only attention op). */
const TOKENWISE: ReadonlySet<CondensedOp['kind']> = new Set(['save', 'add', 'layernorm', 'linear', 'gelu', 'relu']);

/** A step of the compiled plan: runs on n examples (n ≤ maxBatch) and says where it wrote. */
type Step = (n: number) => void;

/**
 * A condensed network uploaded to an engine's wasm memory, ready to run. Activations between
 * Linear layers are batch-contiguous (Xᵀ [features, n]: the batched kernel's gather then reads
 * 16 contiguous batch lanes per weight); convolutions run per image on im2col columns (whose
 * OH·OW positions are the lanes); batch 1 uses the gather-dot kernel. A ViT's tokens are
 * feature-major too ([F, n·T], example b's tokens at lanes b·T…b·T + T − 1), so its Linear layers
 * are single batched calls over every token (q, k and v one call when they share k; 17 lanes,
 * batch 1, a kernel that takes the 17th lane in the same pass) and layer norm, attention and
 * the class-token pick have kernels for that layout (src/kernels/as/condensed-vit.ts); its
 * patch embedding is one im2col of the batch and one call over every patch. All buffers are
 * allocated once here (token activations from a small pool, reused once nothing later reads
 * them), so `predict` allocates nothing in wasm memory. With a multi-threaded engine, layers with
 * enough work split over the engine's threads (bit-identical results): batched Linear layers by
 * 16-lane units (or rows, for small batches), convolutions by images, attention by examples.
 */
export class CondensedModel {
  readonly maxBatch: number;
  readonly inputSize: number;
  readonly classes: number;
  private readonly sparse: SparseKernels;
  private readonly closeEngine: boolean;
  private readonly input: Ptr;
  private readonly output: Ptr;
  private readonly steps: Step[] = [];
  /** Active row → class of the last layer's outputs. */
  private readonly classOf: Uint32Array;
  /** Where the logits of n examples are, batch-major [n, active rows], after the steps ran. */
  private readonly resultAt: (n: number) => Ptr;
  /** When the last predict call ended (performance.now()), and whether this one follows it closely. */
  private lastEnd = -Infinity;
  private streaming = false;

  constructor(readonly engine: Engine, readonly net: CondensedNet, opts: CondensedModelOptions = {}) {
    checkNet(net);
    this.maxBatch = opts.maxBatch ?? 128;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) throw new RangeError(`CondensedModel: maxBatch must be a positive integer, got ${this.maxBatch}`);
    this.closeEngine = opts.closeEngine ?? false;
    const nmKernel = opts.nmKernel ?? 'indices';
    if (nmKernel !== 'nm' && nmKernel !== 'indices') throw new RangeError(`CondensedModel: nmKernel must be 'nm' or 'indices', got '${String(nmKernel)}'`);
    const spec = net.spec;
    this.inputSize = spec.inputShape[0] * spec.inputShape[1] * spec.inputShape[2];
    this.classes = spec.classes;
    const heap = engine.heap;
    const sparse = engine.backend === 'reference' ? referenceSparseKernels(() => heap.memory.buffer) : instantiateSparseKernels(heap.memory, engine.backend);
    if (!sparse) throw new Error(`CondensedModel: the ${engine.backend} kernels do not validate on this runtime`);
    this.sparse = sparse;
    // The same kernels with rows split over the engine's threads, for layers with enough work.
    const threads = engine.rows && engine.backend !== 'reference' ? engine.rows.threads : 1;
    const parallel = threads > 1 && engine.backend !== 'reference' ? instantiateSparseKernels(heap.memory, engine.backend, engine.rows) : null;
    /** The parallel kernels for `units` (rows, or images) of work ≥ minUnits and enough multiply-adds. */
    const pick = (macs: number, units: number, minUnits = 8): SparseKernels =>
      parallel && units >= minUnits && macs >= (this.streaming || !engine.rows?.asleep() ? PARALLEL_MIN_MACS : PARALLEL_MIN_MACS_ASLEEP) ? parallel : sparse;
    const kern = engine.kernels;
    const B = this.maxBatch;

    // The per-example shape each op reads (checked above), to size buffers before building.
    const inShapes = walkNet(net);
    // LayerNorms whose scale and shift go into the layers that read them (the next op's: a
    // Linear, or attention's q, k and v), so that the norm kernel only normalises; those layers,
    // folded (foldLayerNorm; the net keeps the trained ones).
    const plainNorms = new Set<number>();
    const normFolded = new Map<AnyCondensedLayer, CondensedLayer>();
    net.ops.forEach((op, i) => {
      const next = net.ops[i + 1];
      if (op.kind !== 'layernorm' || next === undefined) return;
      const readers = next.kind === 'attention' ? [next.q, next.k, next.v] : next.kind === 'linear' ? [next.layer] : [];
      if (readers.length === 0 || readers.some((l) => isNMLayer(l))) return;
      for (const l of readers as CondensedLayer[]) normFolded.set(l, foldLayerNorm(l, op.gamma, op.beta));
      plainNorms.add(i);
    });
    // The attention op after which only the class token is computed (classTokenOnly), or −1.
    let classFrom = -1;
    const poolAt = net.ops.findIndex((o) => o.kind === 'cls_pool');
    if ((opts.classTokenOnly ?? true) && poolAt >= 0) {
      for (let i = poolAt - 1; i >= 0 && classFrom < 0; i--) {
        if (net.ops[i].kind === 'attention') classFrom = i;
        else if (!TOKENWISE.has(net.ops[i].kind)) break;
      }
    }
    /** Lanes per example of an op's input: tokens for token activations, else 1. */
    const lanesOf = (s: Shape) => (s.kind === 'tokens' ? s.T : 1);

    // Shared scratch sized for the largest layer: per-thread im2col columns and panels (conv), the
    // packed Xᵀ panels (linear; over tokens for a ViT's), transposes, attention's scores.
    let convBytes = 64, scratchBytes = 64, transFloats = 0, attnBytes = 64;
    net.ops.forEach((op, i) => {
      const lanes = B * lanesOf(inShapes[i]);
      if (op.kind === 'conv2d') {
        const { OH, OW } = convOutputSize(op.geometry);
        convBytes = Math.max(convBytes, convScratchBytes(op.layer.inFeatures, OH * OW, threads));
      } else if (op.kind === 'linear') {
        scratchBytes = Math.max(scratchBytes, spmmScratchBytes(op.layer.inFeatures, lanes));
        transFloats = Math.max(transFloats, op.layer.inFeatures * B, op.layer.nActive * B);
      } else if (op.kind === 'attention') {
        scratchBytes = Math.max(scratchBytes, spmmScratchBytes(op.q.inFeatures, lanes), spmmScratchBytes(op.proj.inFeatures, lanes));
        attnBytes = Math.max(attnBytes, attentionScratchBytes(lanesOf(inShapes[i]), threads));
      } else if (op.kind === 'layernorm') {
        transFloats = Math.max(transFloats, sizeOf(inShapes[i]) * B);
      }
    });
    this.input = heap.allocF32(B * this.inputSize);
    const convScratch = heap.alloc(convBytes);
    const scratch = heap.alloc(scratchBytes);
    const trans = heap.allocF32(Math.max(1, transFloats));
    const attnScratch = heap.alloc(attnBytes);

    /**
     * Token activations come from a pool: an op takes its output buffer there and gives back its
     * input once nothing later reads it (not saved for a residual add), so a ViT needs a few
     * buffers, not a few per block.
     */
    const pool: { ptr: Ptr; floats: number }[] = [];
    const pooled = new Map<Ptr, number>();
    const take = (floats: number): Ptr => {
      let best = -1;
      for (let j = 0; j < pool.length; j++) if (pool[j].floats >= floats && (best < 0 || pool[j].floats < pool[best].floats)) best = j;
      if (best >= 0) return pool.splice(best, 1)[0].ptr;
      const p = heap.allocF32(floats);
      pooled.set(p, floats);
      return p;
    };
    const give = (p: Ptr) => {
      const floats = pooled.get(p);
      if (floats !== undefined && !isSaved(p) && !pool.some((e) => e.ptr === p)) pool.push({ ptr: p, floats });
    };

    /**
     * A layer uploaded for the constant-fan-in kernels, or for the N:M ones (nmKernel 'nm').
     * `dense`: every row reads every input (k = fan-in, the columns 0…k−1), so its values are the
     * dense W [rows, cols].
     */
    type Uploaded = { rows: number; k: number; cols: number; dense: boolean } & ({ L: CondensedView; N: null } | { L: null; N: CondensedNMView });
    const upload = (trained: AnyCondensedLayer): Uploaded => {
      const layer = normFolded.get(trained) ?? trained;
      const shape = { rows: layer.nActive, k: layer.k, cols: layer.inFeatures, dense: !isNMLayer(layer) && layer.k === layer.inFeatures };
      if (isNMLayer(layer) && nmKernel === 'nm') return { ...shape, L: null, N: uploadCondensedNM(heap, layer) };
      return { ...shape, L: uploadCondensed(heap, isNMLayer(layer) ? nmToIndices(layer) : layer), N: null };
    };
    /** Layers of equal k and inputs stacked into one (rows in turn), uploaded. */
    const stacked = (trained: CondensedLayer[]): Uploaded => {
      const layers = trained.map((l) => (normFolded.get(l) as CondensedLayer | undefined) ?? l);
      const nActive = layers.reduce((a, l) => a + l.nActive, 0);
      const indices = layers[0].indices instanceof Uint16Array ? new Uint16Array(nActive * layers[0].k) : new Uint32Array(nActive * layers[0].k);
      const values = new Float32Array(nActive * layers[0].k), bias = new Float32Array(nActive);
      let r = 0;
      for (const l of layers) {
        values.set(l.values, r * l.k);
        indices.set(l.indices, r * l.k);
        bias.set(l.bias, r);
        r += l.nActive;
      }
      const activeMap = Uint32Array.from({ length: nActive }, (_, a) => a);
      return upload({ outFeatures: nActive, inFeatures: layers[0].inFeatures, nActive, k: layers[0].k, values, indices, bias, activeMap });
    };
    /**
     * Yᵀ [rows, m] = layer(Xᵀ [cols, m]) over m batch-contiguous lanes (examples, or every token
     * of the batch): the gather-dot kernel for one lane, else the batched kernel; a dense layer
     * (a ViT's patch embedding) over 16 lanes or more runs the engine's packed GEMM, which beat
     * the batched kernel's gathers 1.3–1.5× at 16 and 4096 lanes (64 × 49 weights).
     */
    const linear = (u: Uploaded, m: number, xT: Ptr, yT: Ptr) => {
      if (u.dense && u.L !== null && m >= 16) {
        kern.gemmNN(u.rows, m, u.cols, u.L.values, xT, yT, false);
        kern.addBiasChannels(1, u.rows, m, yT, u.L.bias);
        return;
      }
      const k = pick(m * u.rows * u.k, u.rows);
      if (u.L !== null && isNarrowLanes(m)) {
        k.spmmCfiNarrow(u.L, m, xT, yT);
        return;
      }
      if (m === 1) {
        if (u.N) k.spmvNm(u.N, xT, yT);
        else k.spmvCfi(u.k >= 16 ? '1x8' : '1x4', u.L, xT, yT);
      } else if (u.N) {
        k.spmmNm(u.N, m, xT, yT, scratch);
      } else {
        k.spmmCfi('1x16', u.L, m, xT, yT, scratch);
      }
    };

    let shape: Shape = { kind: 'chw', C: spec.inputShape[0], H: spec.inputShape[1], W: spec.inputShape[2] };
    let ptr = this.input;
    // Batch-major ([n, …] per example) until the first Linear (or the tokens), batch-contiguous
    // ([F, n], tokens [F, n·T]) after it.
    let transposed = false;
    // How the embed op finds the patch embeddings: batch-major, or feature-major from the
    // batched patch convolution.
    let patches: 'batch' | 'features' = 'batch';
    // Saved activations (feature maps, so batch-major; or tokens): an op that would write in place
    // into one writes to a buffer of its own instead.
    const saved: { ptr: Ptr; shape: Shape }[] = [];
    const isSaved = (p: Ptr) => saved.some((e) => e.ptr === p);
    for (let i = 0; i < net.ops.length; i++) {
      const op = net.ops[i];
      const x = ptr;
      switch (op.kind) {
        case 'conv2d': {
          const layer = op.layer;
          if (net.ops[i + 1]?.kind === 'embed') {
            // A ViT's patch embedding: one im2col of the batch, then one batched call with every
            // position of every image as a lane, which writes the patch tokens feature-major
            // ([C, n·OH·OW]) for the embed op after it.
            const g = op.geometry;
            const { OH, OW } = convOutputSize(g);
            const S = OH * OW;
            const u = upload(layer);
            const cols = heap.allocF32(u.cols * B * S);
            const y = take(B * S * u.rows);
            this.steps.push((n) => {
              kern.im2colBatch(n, g.C, g.H, g.W, g.kh, g.kw, g.stride, g.pad, x, cols);
              linear(u, n * S, cols, y);
            });
            ptr = y;
            patches = 'features';
            shape = { kind: 'chw', C: u.rows, H: OH, W: OW };
            break;
          }
          const L = isNMLayer(layer) ? (nmKernel === 'nm' ? uploadCondensedNM(heap, layer) : uploadCondensed(heap, nmToIndices(layer))) : uploadCondensed(heap, layer);
          const g = op.geometry;
          const { OH, OW } = convOutputSize(g);
          const S = OH * OW;
          const y = heap.allocF32(B * L.rows * S);
          const run = 'nm' in L ? (k: SparseKernels, n: number) => k.convNm(L, g, n, x, y, convScratch) : (k: SparseKernels, n: number) => k.convCfi(L, g, n, x, y, convScratch);
          this.steps.push((n) => {
            // Decided per call (whether the workers are asleep changes between calls); images
            // split over the threads, so it takes at least two.
            run(pick(n * L.rows * L.k * S, n, 2), n);
          });
          ptr = y;
          shape = { kind: 'chw', C: L.rows, H: OH, W: OW };
          break;
        }
        case 'linear': {
          const u = upload(op.layer);
          if (shape.kind === 'tokens') {
            const T: number = shape.T;
            const y = take(B * T * u.rows);
            this.steps.push((n) => linear(u, n * T, x, y));
            give(x);
            ptr = y;
            shape = { kind: 'tokens', T, F: u.rows };
            break;
          }
          const inF = u.cols;
          const y = heap.allocF32(B * u.rows);
          const wasT = transposed;
          this.steps.push((n) => {
            if (n === 1 || wasT) {
              linear(u, n, x, y);
              return;
            }
            sparse.transpose(n, inF, x, trans);
            linear(u, n, trans, y);
          });
          ptr = y;
          transposed = true;
          shape = { kind: 'flat', F: u.rows };
          break;
        }
        case 'relu': {
          const s: Shape = shape;
          const y = isSaved(x) ? heap.allocF32(B * sizeOf(s)) : x;
          this.steps.push((n) => kern.reluForward(n * sizeOf(s), x, y));
          ptr = y;
          break;
        }
        case 'maxpool': {
          if (shape.kind !== 'chw') throw new Error('unreachable: checkNet accepts only planar pooling');
          const s: Extract<Shape, { kind: 'chw' }> = shape;
          const OH = Math.floor((s.H - op.kernel) / op.stride) + 1, OW = Math.floor((s.W - op.kernel) / op.stride) + 1;
          const y = heap.allocF32(B * s.C * OH * OW);
          const argmax = heap.allocI32(B * s.C * OH * OW);
          this.steps.push((n) => kern.maxPoolForward(n * s.C, s.H, s.W, op.kernel, op.stride, x, y, argmax));
          ptr = y;
          shape = { kind: 'chw', C: s.C, H: OH, W: OW };
          break;
        }
        case 'flatten':
          shape = { kind: 'flat', F: sizeOf(shape) };
          break;
        case 'save':
          saved.push({ ptr, shape });
          break;
        case 'swap': {
          const top = saved.pop()!;
          saved.push({ ptr, shape });
          ({ ptr, shape } = top);
          break;
        }
        case 'add': {
          const top = saved.pop()!;
          const other = top.ptr;
          const count = sizeOf(shape);
          const y = isSaved(x) ? (shape.kind === 'tokens' ? take(B * count) : heap.allocF32(B * count)) : x;
          if (shape.kind === 'tokens' && top.shape.kind === 'tokens' && top.shape.T !== shape.T) {
            // The residual stream from before the class-token-only attention: add its class tokens.
            const F = shape.F, Ts = top.shape.T;
            const cls = take(B * F);
            this.steps.push((n) => {
              sparse.copyStrided(F * n, Ts, other, cls);
              kern.add(n * F, x, cls, y);
            });
            give(cls);
          } else {
            this.steps.push((n) => kern.add(n * count, x, other, y));
          }
          give(other);
          ptr = y;
          break;
        }
        case 'avgpool': {
          if (shape.kind !== 'chw') throw new Error('unreachable: checkNet accepts only planar pooling');
          const { C, H, W }: Extract<Shape, { kind: 'chw' }> = shape;
          const y = heap.allocF32(B * C);
          this.steps.push((n) => kern.globalAvgPoolForward(n * C, H * W, x, y));
          ptr = y;
          shape = { kind: 'flat', F: C };
          break;
        }
        case 'embed': {
          if (shape.kind !== 'chw') throw new Error('unreachable: checkNet accepts only a feature map');
          const { C, H, W }: Extract<Shape, { kind: 'chw' }> = shape;
          const P: number = H * W, T: number = P + 1;
          // The class token with position 0 added once (the model adds it to the copied token,
          // the same f32 sum), and the position embedding feature-major, as the tokens are.
          const first = new Float32Array(C), posT = new Float32Array(C * T);
          for (let c = 0; c < C; c++) {
            first[c] = op.clsToken[c] + op.posEmbed[c];
            for (let t = 0; t < T; t++) posT[c * T + t] = op.posEmbed[t * C + c];
          }
          const firstP = heap.allocF32(C), posP = heap.allocF32(C * T);
          heap.f32(firstP, C).set(first);
          heap.f32(posP, C * T).set(posT);
          const y = take(B * T * C);
          const layout = patches;
          this.steps.push((n) => sparse.tokensEmbed(n, C, P, x, layout, firstP, posP, y));
          give(x);
          ptr = y;
          shape = { kind: 'tokens', T, F: C };
          transposed = true;
          break;
        }
        case 'layernorm': {
          if (shape.kind === 'chw') throw new Error('unreachable: checkNet accepts only tokens or features');
          const F = shape.F, lanes = lanesOf(shape);
          // No scale and shift (null pointers) when the layers after it hold them.
          const plain = plainNorms.has(i);
          const g = plain ? 0 : heap.allocF32(F), b = plain ? 0 : heap.allocF32(F);
          if (!plain) {
            heap.f32(g, F).set(op.gamma);
            heap.f32(b, F).set(op.beta);
          }
          const y = shape.kind === 'tokens' ? take(B * lanes * F) : heap.allocF32(B * F);
          const wasT = transposed || shape.kind === 'tokens';
          const eps = op.eps;
          this.steps.push((n) => {
            // Features of one example are the same batch-major or batch-contiguous.
            const src = wasT || n === 1 ? x : (sparse.transpose(n, F, x, trans), trans);
            sparse.layerNormCols(F, n * lanes, src, g, b, y, eps);
          });
          give(x);
          ptr = y;
          transposed = true;
          break;
        }
        case 'gelu': {
          const s: Shape = shape;
          const y = isSaved(x) ? (s.kind === 'tokens' ? take(B * sizeOf(s)) : heap.allocF32(B * sizeOf(s))) : x;
          this.steps.push((n) => kern.geluForward(n * sizeOf(s), x, y));
          ptr = y;
          break;
        }
        case 'attention': {
          if (shape.kind !== 'tokens') throw new Error('unreachable: checkNet accepts only tokens');
          const T: number = shape.T, BT = B * T, F = shape.F;
          // Queries of every token, or of the class token only (classTokenOnly).
          const Tq = i === classFrom ? 1 : T;
          const rowsQ = op.q.nActive, rowsK = op.k.nActive, rowsV = op.v.nActive;
          const bases = (layer: AnyCondensedLayer) => {
            const p = heap.allocI32(op.heads + 1);
            heap.i32(p, op.heads + 1).set(headBases(layer, op.heads));
            return p;
          };
          const view: AttentionView = { heads: op.heads, alpha: 1 / Math.sqrt(op.q.outFeatures / op.heads), qkBase: bases(op.q), vBase: bases(op.v) };
          // The layers that read every token run as one when they share k (their rows stacked,
          // so the tokens are packed once): q, k and v, or k and v when q reads the class tokens
          // only. Their outputs are then one buffer [rows, n·T], each layer's rows in turn.
          const joint = Tq === T ? [op.q, op.k, op.v] : [op.k, op.v];
          const stack = joint.every((l) => !isNMLayer(l) && l.k === joint[0].k) ? stacked(joint as CondensedLayer[]) : null;
          const uq = Tq === T && stack !== null ? null : upload(op.q);
          const uk = stack === null ? upload(op.k) : null, uv = stack === null ? upload(op.v) : null, up = upload(op.proj);
          const QKV = stack === null ? 0 : take(BT * stack.rows);
          const Q = uq === null ? 0 : take(B * Tq * rowsQ), K = uk === null ? 0 : take(BT * rowsK), V = uv === null ? 0 : take(BT * rowsV);
          const O = take(B * Tq * rowsV), y = take(B * Tq * up.rows);
          const xq = Tq < T ? take(B * F) : x;
          const macs = 2 * Tq * T * (rowsQ + rowsV);
          this.steps.push((n) => {
            const m = n * T;
            if (Tq < T) sparse.copyStrided(F * n, T, x, xq);
            let q = Q, k = K, v = V;
            if (uq !== null) linear(uq, n * Tq, xq, Q);
            if (stack !== null) {
              linear(stack, m, x, QKV);
              // Row blocks of [rows, m]: q's (when stacked), then k's, then v's.
              k = QKV;
              if (uq === null) {
                q = QKV;
                k = QKV + m * rowsQ * 4;
              }
              v = k + m * rowsK * 4;
            } else {
              linear(uk!, m, x, K);
              linear(uv!, m, x, V);
            }
            pick(n * macs, n, 2).attentionCols(view, n, T, Tq, q, k, v, O, attnScratch);
            linear(up, n * Tq, O, y);
          });
          // Q, K, V, O (and the class tokens) live within this step only.
          for (const p of new Set([QKV, Q, K, V, O, xq, x])) if (p !== 0) give(p);
          ptr = y;
          shape = { kind: 'tokens', T: Tq, F: up.rows };
          break;
        }
        case 'cls_pool': {
          if (shape.kind !== 'tokens') throw new Error('unreachable: checkNet accepts only tokens');
          const { T, F }: Extract<Shape, { kind: 'tokens' }> = shape;
          // With one token left (classTokenOnly) it is already [F, n].
          const y = T === 1 ? x : heap.allocF32(B * F);
          if (T > 1) {
            this.steps.push((n) => sparse.copyStrided(F * n, T, x, y));
            give(x);
          }
          ptr = y;
          shape = { kind: 'flat', F };
          transposed = true;
          break;
        }
      }
    }
    const last = net.ops[net.ops.length - 1] as Extract<CondensedOp, { kind: 'linear' }>;
    this.classOf = last.layer.activeMap;
    const rows = last.layer.nActive;
    this.output = heap.allocF32(B * rows);
    const logits = ptr;
    const output = this.output;
    this.resultAt = (n) => {
      if (n === 1) return logits;
      sparse.transpose(rows, n, logits, output);
      return output;
    };
  }

  /**
   * Logits [batch, classes] row-major for `batch` examples x [batch, C·H·W] (default: as many
   * as x holds). Runs in chunks of maxBatch.
   */
  predict(x: Float32Array, batch = x.length / this.inputSize): Float32Array {
    if (!Number.isInteger(batch) || batch < 0 || batch * this.inputSize > x.length) {
      throw new RangeError(`predict: ${x.length} inputs do not hold ${batch} examples of ${this.inputSize} features`);
    }
    const out = new Float32Array(batch * this.classes);
    const heap = this.engine.heap;
    const rows = this.classOf.length;
    this.streaming = performance.now() - this.lastEnd < STREAM_GAP_MS;
    for (let start = 0; start < batch; start += this.maxBatch) {
      const n = Math.min(this.maxBatch, batch - start);
      heap.f32(this.input, n * this.inputSize).set(x.subarray(start * this.inputSize, (start + n) * this.inputSize));
      for (const step of this.steps) step(n);
      const y = heap.f32(this.resultAt(n), n * rows);
      if (rows === this.classes) {
        out.set(y, start * this.classes);
      } else {
        for (let b = 0; b < n; b++) for (let a = 0; a < rows; a++) out[(start + b) * this.classes + this.classOf[a]] = y[b * rows + a];
      }
      // Chunks after the first are a stream too.
      this.streaming = true;
    }
    this.lastEnd = performance.now();
    return out;
  }

  /** Releases the model's engine when it owns it (see CondensedModelOptions.closeEngine). */
  async close(): Promise<void> {
    if (this.closeEngine) await this.engine.close();
  }

  /** Bytes of the stored layers: values, indices (or N:M offsets), bias and active maps. */
  get weightBytes(): number {
    let n = 0;
    for (const op of this.net.ops) {
      if (op.kind === 'linear' || op.kind === 'conv2d') n += condensedBytes(op.layer);
    }
    return n;
  }
}
