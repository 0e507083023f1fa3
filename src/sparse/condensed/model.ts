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
 * Supported: every architecture srigl trains: `mlp`, `cnn` and `resnet` (Linear, Conv2d,
 * BatchNorm2d after a Conv2d, ReLU, MaxPool2d, Flatten, Dropout, BasicBlock, GlobalAvgPool).
 */
import type { Ptr } from '../../kernels/api.js';
import type { Engine } from '../../kernels/engine.js';
import {
  convOutputSize, convScratchBytes, instantiateSparseKernels, referenceSparseKernels, spmmScratchBytes,
  type CondensedView, type ConvGeometry, type SparseKernels,
} from '../../kernels/condensed.js';
import { Dropout, Flatten, GlobalAvgPool, MaxPool2d, ReLU } from '../../nn/activations.js';
import { BatchNorm2d } from '../../nn/batchnorm.js';
import { Conv2d } from '../../nn/conv2d.js';
import { Linear } from '../../nn/linear.js';
import { parseModelSpec, type Model, type ModelSpec } from '../../nn/models.js';
import { BasicBlock } from '../../nn/residual.js';
import type { NMStructure } from '../nm.js';
import {
  condensedBytes, indexArrayFor, isNMLayer, nmToIndices, toNMLayer, validateAnyCondensed, validateCondensed,
  type AnyCondensedLayer, type CondensedLayer,
} from './layer.js';
import { uploadCondensed, uploadCondensedNM } from './upload.js';

/**
 * One step of a condensed network. Conv geometry counts the condensed input channels. Residual
 * connections use a stack of saved feature maps: `save` pushes the current activation, `swap`
 * exchanges the current activation with the last saved one, `add` pops the last saved one and
 * adds it to the current one (same shape). `avgpool` is global average pooling, [C, H, W] → [C].
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
  | { kind: 'avgpool' };

/** The op kinds that only ResNets use (a file holding one is format version 3). */
export const RESIDUAL_OP_KINDS: readonly CondensedOp['kind'][] = ['save', 'swap', 'add', 'avgpool'];

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
  /** Active weights that read a dropped input (removed; they only ever multiplied 0). */
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

/** Per-example activation shape while walking a network: channels × plane, or flat features. */
type Shape = { kind: 'chw'; C: number; H: number; W: number } | { kind: 'flat'; F: number };

function describe(s: Shape): string {
  return s.kind === 'chw' ? `[${s.C}, ${s.H}, ${s.W}]` : `[${s.F}]`;
}

/**
 * Which rows of a layer the condensed layer keeps. 'weighted': rows with a weight left or a
 * nonzero bias (a row without either outputs 0). 'relu': rows with a weight left or a positive
 * bias, for a layer whose output only reaches other layers through a ReLU (a bias-only row with
 * b ≤ 0 is then 0 everywhere). 'all': every row, for layers whose outputs must keep their layout
 * (the residual stream).
 */
type RowRule = 'weighted' | 'relu' | 'all';

/**
 * Packs one layer's active weights with remapped input columns: `colMap[c]` is the condensed
 * column of original column c, or −1 when that input was dropped (it is always 0).
 */
function condenseRows(
  out: number, fanIn: number, weight: Float32Array, mask: Float32Array | Uint8Array | null, bias: Float32Array | null,
  colMap: Int32Array, inFeatures: number, rule: RowRule = 'weighted',
): { layer: CondensedLayer; droppedWeights: number; paddedWeights: number } {
  const counts = new Int32Array(out);
  let droppedWeights = 0;
  for (let r = 0; r < out; r++) {
    let c = 0;
    for (let i = 0; i < fanIn; i++) {
      if (mask !== null && mask[r * fanIn + i] === 0) continue;
      if (colMap[i] >= 0) c++;
      else droppedWeights++;
    }
    counts[r] = c;
  }
  const b = (r: number) => (bias === null ? 0 : bias[r]);
  const keep = (r: number) => rule === 'all' || counts[r] > 0 || (rule === 'relu' ? b(r) > 0 : b(r) !== 0);
  let nActive = 0;
  let k = 0;
  for (let r = 0; r < out; r++) {
    if (!keep(r)) continue;
    nActive++;
    k = Math.max(k, counts[r]);
  }
  // A kept row with no weight left (bias only) still needs k ≥ 1 to be a valid layer.
  if (nActive > 0 && k === 0) k = 1;
  const values = new Float32Array(nActive * k);
  const indices = indexArrayFor(inFeatures, nActive * k);
  const activeBias = new Float32Array(nActive);
  const activeMap = new Uint32Array(nActive);
  const used = new Uint8Array(inFeatures);
  let paddedWeights = 0;
  let a = 0;
  for (let r = 0; r < out; r++) {
    if (!keep(r)) continue;
    const base = a * k;
    if (counts[r] === k) {
      let p = base;
      for (let i = 0; i < fanIn; i++) {
        if ((mask !== null && mask[r * fanIn + i] === 0) || colMap[i] < 0) continue;
        values[p] = weight[r * fanIn + i];
        indices[p++] = colMap[i];
      }
    } else {
      // Merge the row's weights with zero weights at the smallest unused columns, ascending.
      used.fill(0);
      const w = new Float32Array(inFeatures);
      for (let i = 0; i < fanIn; i++) {
        if ((mask !== null && mask[r * fanIn + i] === 0) || colMap[i] < 0) continue;
        used[colMap[i]] = 1;
        w[colMap[i]] = weight[r * fanIn + i];
      }
      let pad = k - counts[r];
      paddedWeights += pad;
      for (let c = 0; c < inFeatures && pad > 0; c++) {
        if (!used[c]) {
          used[c] = 1;
          pad--;
        }
      }
      let p = base;
      for (let c = 0; c < inFeatures; c++) {
        if (!used[c]) continue;
        values[p] = w[c];
        indices[p++] = c;
      }
    }
    activeBias[a] = bias ? bias[r] : 0;
    activeMap[a] = r;
    a++;
  }
  const layer: CondensedLayer = { outFeatures: out, inFeatures, nActive, k, values, indices, bias: activeBias, activeMap };
  validateCondensed(layer);
  return { layer, droppedWeights, paddedWeights };
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
  let map: Int32Array = Int32Array.from({ length: C0 }, (_, i) => i);
  const ops: CondensedOp[] = [];
  const report: CondensedLayerReport[] = [];
  const flatten = (s: Shape): Shape => {
    if (s.kind === 'flat') return s;
    const plane = s.H * s.W;
    const next = new Int32Array(s.C * plane);
    for (let c = 0; c < s.C; c++) for (let p = 0; p < plane; p++) next[c * plane + p] = map[c] < 0 ? -1 : map[c] * plane + p;
    map = next;
    return { kind: 'flat', F: s.C * plane };
  };
  const kept = (m: Int32Array) => m.reduce((n, v) => n + (v >= 0 ? 1 : 0), 0);
  const mapOf = (out: number, layer: CondensedLayer): Int32Array => {
    const m = new Int32Array(out).fill(-1);
    layer.activeMap.forEach((orig, a) => (m[orig] = a));
    return m;
  };
  /** Condenses `layer` (with `bn` folded in) reading channels `inMap` of `inShape`; pushes its op and report. */
  const conv = (layer: Conv2d, bn: BatchNorm2d | null, rule: RowRule, inMap: Int32Array, inShape: Shape): { map: Int32Array; shape: Shape } => {
    if (inShape.kind !== 'chw') throw new Error(`condenseModel: ${layer.name} gets a flat input`);
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
    report.push(reportOf(layer.name, 'conv2d', s.out, s.fanIn, s.weight.mask !== null || s.weight.compact !== null, r, f, bn));
    const { OH, OW } = convOutputSize(geometry);
    return { map: mapOf(s.out, r.layer), shape: { kind: 'chw', C: s.out, H: OH, W: OW } };
  };
  // In a residual network the convs outside the blocks produce the residual stream, which keeps
  // every channel (module comment).
  const residual = model.net.layers.some((l) => l instanceof BasicBlock);

  const layers = model.net.layers;
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    if (layer instanceof Conv2d) {
      const next = layers[i + 1];
      const bn = next instanceof BatchNorm2d ? next : null;
      if (bn !== null) i++;
      ({ map, shape } = conv(layer, bn, residual ? 'all' : 'weighted', map, shape));
    } else if (layer instanceof BasicBlock) {
      if (shape.kind !== 'chw') throw new Error(`condenseModel: ${layer.name} gets a flat input`);
      if (!map.every((c, j) => c === j)) throw new Error(`condenseModel: ${layer.name}: the residual stream lost a channel (it keeps every channel)`);
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

function reportOf(
  name: string, kind: 'linear' | 'conv2d', out: number, fanIn: number, masked: boolean, r: ReturnType<typeof condenseRows>,
  f: { layer: AnyCondensedLayer; nm: NMStructure | null }, bn: BatchNorm2d | null,
): CondensedLayerReport {
  return {
    name, kind, out, nActive: r.layer.nActive, fanIn, inFeatures: r.layer.inFeatures, k: r.layer.k, masked,
    droppedWeights: r.droppedWeights, paddedWeights: r.paddedWeights, nm: f.nm, format: isNMLayer(f.layer) ? 'nm' : 'indices',
    batchNorm: bn === null ? null : bn.name,
  };
}

/**
 * Checks that a network's ops chain: each layer's input count matches what the previous op
 * produces, geometry and pooling are positive integers that fit, and the last op is a Linear
 * layer over the spec's classes (an N:M layer's taps must be its kernel's kh·kw, 1 for Linear).
 * Saved activations are feature maps; `swap` and `add` need one saved, `add` one of the current
 * shape, and none may be left at the end. Throws naming the op. Layers themselves:
 * validateCondensed or validateCondensedNM.
 */
export function checkNet(net: CondensedNet): void {
  const spec = parseModelSpec(net.spec);
  const [C0, H0, W0] = spec.inputShape;
  let shape: Shape = { kind: 'chw', C: C0, H: H0, W: W0 };
  const saved: Shape[] = [];
  const posInt = (v: unknown, what: string, min = 1) => {
    if (!Number.isInteger(v) || (v as number) < min) throw new Error(`condensed network: ${what} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  };
  if (net.ops.length === 0) throw new Error('condensed network: no ops');
  net.ops.forEach((op, i) => {
    const where = `op ${i} (${op.kind}${'name' in op ? ` ${op.name}` : ''})`;
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
        const F = shape.kind === 'chw' ? shape.C * shape.H * shape.W : shape.F;
        if (op.layer.inFeatures !== F) throw new Error(`condensed network: ${where} has ${op.layer.inFeatures} inputs, the previous op gives ${describe(shape)}`);
        validateAnyCondensed(op.layer);
        if (isNMLayer(op.layer) && op.layer.nm.taps !== 1) throw new Error(`condensed network: ${where} is a linear layer, but its N:M groups have ${op.layer.nm.taps} taps`);
        shape = { kind: 'flat', F: op.layer.nActive };
        break;
      }
      case 'relu':
        break;
      case 'maxpool': {
        posInt(op.kernel, `${where} kernel`);
        posInt(op.stride, `${where} stride`);
        if (shape.kind !== 'chw' || shape.H < op.kernel || shape.W < op.kernel) throw new Error(`condensed network: ${where} cannot pool ${describe(shape)}`);
        shape = { kind: 'chw', C: shape.C, H: Math.floor((shape.H - op.kernel) / op.stride) + 1, W: Math.floor((shape.W - op.kernel) / op.stride) + 1 };
        break;
      }
      case 'flatten':
        shape = shape.kind === 'chw' ? { kind: 'flat', F: shape.C * shape.H * shape.W } : shape;
        break;
      case 'save':
        if (shape.kind !== 'chw') throw new Error(`condensed network: ${where} can only save a feature map, the previous op gives ${describe(shape)}`);
        saved.push(shape);
        break;
      case 'swap': {
        const top = saved.pop();
        if (top === undefined) throw new Error(`condensed network: ${where} has no saved activation to swap with`);
        if (shape.kind !== 'chw') throw new Error(`condensed network: ${where} can only save a feature map, the previous op gives ${describe(shape)}`);
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
      default:
        throw new Error(`condensed network: ${where}: unknown op`);
    }
  });
  if (saved.length > 0) throw new Error(`condensed network: ${saved.length} saved activation(s) are never added`);
  const last = net.ops[net.ops.length - 1];
  if (last.kind !== 'linear' || last.layer.outFeatures !== spec.classes) {
    throw new Error(`condensed network: the last op must be a linear layer over the ${spec.classes} classes`);
  }
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
}

/** A step of the compiled plan: runs on n examples (n ≤ maxBatch) and says where it wrote. */
type Step = (n: number) => void;

/**
 * A condensed network uploaded to an engine's wasm memory, ready to run. Activations between
 * Linear layers are batch-contiguous (Xᵀ [features, n]: the batched kernel's gather then reads
 * 16 contiguous batch lanes per weight); convolutions run per image on im2col columns (whose
 * OH·OW positions are the lanes); batch 1 uses the gather-dot kernel. All buffers are allocated
 * once here, so `predict` allocates nothing in wasm memory. With a multi-threaded engine, layers
 * with enough work split over the engine's threads (bit-identical results): batched Linear layers
 * by 16-lane units (or rows, for small batches), convolutions by images.
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

    // Shared scratch sized for the largest layer: per-thread im2col columns and panels (conv), the
    // packed Xᵀ panels (linear), transposes.
    let convBytes = 64, scratchBytes = 64, transFloats = 0;
    for (const op of net.ops) {
      if (op.kind === 'conv2d') {
        const { OH, OW } = convOutputSize(op.geometry);
        convBytes = Math.max(convBytes, convScratchBytes(op.layer.inFeatures, OH * OW, threads));
      } else if (op.kind === 'linear') {
        scratchBytes = Math.max(scratchBytes, spmmScratchBytes(op.layer.inFeatures, B));
        transFloats = Math.max(transFloats, op.layer.inFeatures * B, op.layer.nActive * B);
      }
    }
    this.input = heap.allocF32(B * this.inputSize);
    const convScratch = heap.alloc(convBytes);
    const scratch = heap.alloc(scratchBytes);
    const trans = heap.allocF32(Math.max(1, transFloats));

    let shape: Shape = { kind: 'chw', C: spec.inputShape[0], H: spec.inputShape[1], W: spec.inputShape[2] };
    let ptr = this.input;
    // Batch-major ([n, …] per example) until the first Linear, batch-contiguous ([F, n]) after it.
    let transposed = false;
    const size = (s: Shape) => (s.kind === 'chw' ? s.C * s.H * s.W : s.F);
    // Saved activations (feature maps, so batch-major): an op that would write in place into one
    // writes to a buffer of its own instead.
    const saved: { ptr: Ptr; shape: Shape }[] = [];
    const isSaved = (p: Ptr) => saved.some((e) => e.ptr === p);
    for (const op of net.ops) {
      const x = ptr;
      switch (op.kind) {
        case 'conv2d': {
          const layer = op.layer;
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
          const layer = op.layer;
          const N = isNMLayer(layer) && nmKernel === 'nm' ? uploadCondensedNM(heap, layer) : null;
          const L = N ?? uploadCondensed(heap, isNMLayer(layer) ? nmToIndices(layer) : layer);
          const inF = L.cols;
          const y = heap.allocF32(B * L.rows);
          const wasT = transposed;
          const tile = L.k >= 16 ? '1x8' : '1x4';
          this.steps.push((n) => {
            const k = pick(n * L.rows * L.k, L.rows);
            if (n === 1) {
              if (N) k.spmvNm(N, x, y);
              else k.spmvCfi(tile, L as CondensedView, x, y);
              return;
            }
            let xT = x;
            if (!wasT) {
              sparse.transpose(n, inF, x, trans);
              xT = trans;
            }
            if (N) k.spmmNm(N, n, xT, y, scratch);
            else k.spmmCfi('1x16', L as CondensedView, n, xT, y, scratch);
          });
          ptr = y;
          transposed = true;
          shape = { kind: 'flat', F: L.rows };
          break;
        }
        case 'relu': {
          const s: Shape = shape;
          const y = isSaved(x) ? heap.allocF32(B * size(s)) : x;
          this.steps.push((n) => kern.reluForward(n * size(s), x, y));
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
          shape = { kind: 'flat', F: size(shape) };
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
          const other = saved.pop()!.ptr;
          const count = size(shape);
          const y = isSaved(x) ? heap.allocF32(B * count) : x;
          this.steps.push((n) => kern.add(n * count, x, other, y));
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
