/**
 * Condensing a vit's transformer blocks (the rules are in model.ts's module comment, "ViTs"):
 * attention's q/k/v/proj and the MLP's fc1/fc2 as token-wise condensed layers, ablated
 * features dropped where that is exact and their constant outputs folded into the bias of the
 * layer that reads them.
 */
import { normalCdf } from '../../kernels/reference.js';
import type { MultiHeadSelfAttention } from '../../nn/attention.js';
import type { LayerNorm } from '../../nn/layernorm.js';
import type { Linear } from '../../nn/linear.js';
import type { TransformerBlock } from '../../nn/transformer.js';
import type { AnyCondensedLayer, CondensedLayer } from './layer.js';
import type { CondensedOp } from './model.js';
import { condenseRows, identityMap, mapOf, rowCounts, type CondensedRows } from './rows.js';

/**
 * Stores a packed Linear (in the N:M format where it was trained N:M and `colMap` is the
 * identity) and records its report line; returns the layer the op holds.
 */
export type PackLinear = (linear: Linear, rows: CondensedRows, colMap: Int32Array) => AnyCondensedLayer;

type AttentionOp = Extract<CondensedOp, { kind: 'attention' }>;
type LayerNormOp = Extract<CondensedOp, { kind: 'layernorm' }>;

/** A Linear's dense weight, mask (null: dense), bias (null: none) and shape. */
function paramsOf(l: Linear) {
  const s = l.sparsifiable()[0];
  return { out: s.out, fanIn: s.fanIn, weight: s.weight.denseValues(), mask: s.weight.denseMask(), bias: s.bias?.denseValues() ?? null };
}

/** 1 for rows with a weight; row 0 when none has one (keeping a row is always exact, and a layer needs one). */
function weightedOrFirst(counts: Int32Array): Uint8Array {
  const keep = Uint8Array.from(counts, (c) => (c > 0 ? 1 : 0));
  if (!keep.includes(1)) keep[0] = 1;
  return keep;
}

/** GELU in double precision (erf form, as nn.GELU): the constant an ablated fc1 neuron outputs. */
export function gelu64(x: number): number {
  return x * normalCdf(x);
}

/** A LayerNorm as an op: its scale, shift and ε. */
export function layerNormOp(ln: LayerNorm): LayerNormOp {
  // ε is private to LayerNorm (set at construction); element access reads it typed.
  return { kind: 'layernorm', name: ln.name, gamma: ln.gamma.denseValues().slice(), beta: ln.beta.denseValues().slice(), eps: ln['eps'] };
}

/**
 * Multi-head self-attention as one op. A q/k feature j is kept when k row j has a weight and q
 * row j has a weight or a nonzero bias (else its term of every score is 0, or constant along the
 * softmax row); q and k keep the same features, so a head's q and k rows pair up. A v feature is
 * kept when its row has a weight; a dropped one reads b_j at every token, so proj folds
 * W[:, j]·b_j into its bias. proj writes the residual stream and keeps every row.
 */
export function condenseAttention(attn: MultiHeadSelfAttention, pack: PackLinear): AttentionOp {
  // The head count is private to the layer; element access reads it typed.
  const heads = attn['heads'];
  const q = paramsOf(attn.q), k = paramsOf(attn.k), v = paramsOf(attn.v), proj = paramsOf(attn.proj);
  const D = q.fanIn;
  const id = identityMap(D);
  const qCount = rowCounts(q.out, q.fanIn, q.mask), kCount = rowCounts(k.out, k.fanIn, k.mask);
  const qk = new Uint8Array(q.out);
  for (let j = 0; j < q.out; j++) qk[j] = kCount[j] > 0 && (qCount[j] > 0 || (q.bias?.[j] ?? 0) !== 0) ? 1 : 0;
  if (!qk.includes(1)) qk[0] = 1;
  const Q = pack(attn.q, condenseRows(q.out, q.fanIn, q.weight, q.mask, q.bias, id, D, qk), id);
  const K = pack(attn.k, condenseRows(k.out, k.fanIn, k.weight, k.mask, k.bias, id, D, qk), id);
  const vRows = condenseRows(v.out, v.fanIn, v.weight, v.mask, v.bias, id, D, weightedOrFirst(rowCounts(v.out, v.fanIn, v.mask)));
  const V = pack(attn.v, vRows, id);
  const vConst = Float64Array.from({ length: v.out }, (_, j) => v.bias?.[j] ?? 0);
  const colMap = mapOf(v.out, vRows.layer);
  const P = pack(attn.proj, condenseRows(proj.out, proj.fanIn, proj.weight, proj.mask, proj.bias, colMap, vRows.layer.nActive, 'all', vConst), colMap);
  return { kind: 'attention', name: attn.name, heads, q: Q, k: K, v: V, proj: P };
}

/**
 * A block's MLP as ops: fc1 keeps the neurons that have a weight; a dropped one outputs
 * GELU(b_j) at every token, folded into fc2's bias as W[:, j]·GELU(b_j). fc2 writes the residual
 * stream and keeps every row.
 */
export function condenseMlp(block: TransformerBlock, pack: PackLinear): CondensedOp[] {
  const f1 = paramsOf(block.fc1), f2 = paramsOf(block.fc2);
  const id = identityMap(f1.fanIn);
  const r1 = condenseRows(f1.out, f1.fanIn, f1.weight, f1.mask, f1.bias, id, f1.fanIn, weightedOrFirst(rowCounts(f1.out, f1.fanIn, f1.mask)));
  const fc1 = pack(block.fc1, r1, id);
  const colMap = mapOf(f1.out, r1.layer);
  const constant = Float64Array.from({ length: f1.out }, (_, j) => gelu64(f1.bias?.[j] ?? 0));
  const fc2 = pack(block.fc2, condenseRows(f2.out, f2.fanIn, f2.weight, f2.mask, f2.bias, colMap, r1.layer.nActive, 'all', constant), colMap);
  return [{ kind: 'linear', name: block.fc1.name, layer: fc1 }, { kind: 'gelu' }, { kind: 'linear', name: block.fc2.name, layer: fc2 }];
}

/** A pre-norm block: x + attn(norm1(x)), then x + mlp(norm2(x)), with the residual ops. */
export function condenseBlock(block: TransformerBlock, pack: PackLinear): CondensedOp[] {
  return [
    { kind: 'save' }, layerNormOp(block.norm1), condenseAttention(block.attn, pack), { kind: 'add' },
    { kind: 'save' }, layerNormOp(block.norm2), ...condenseMlp(block, pack), { kind: 'add' },
  ];
}

/**
 * Where each head's rows start in a condensed q/k/v layer of `heads` heads, [heads + 1]: the
 * trained layer's features split into heads of outFeatures/heads, and kept row a belongs to the
 * head of its original feature activeMap[a] (activeMap is increasing, so a head's rows are
 * contiguous).
 */
export function headBases(layer: AnyCondensedLayer, heads: number): Int32Array {
  const dh = layer.outFeatures / heads;
  const base = new Int32Array(heads + 1);
  for (let h = 0, a = 0; h < heads; h++) {
    while (a < layer.nActive && layer.activeMap[a] < (h + 1) * dh) a++;
    base[h + 1] = a;
  }
  return base;
}

/**
 * A layer that reads a LayerNorm's output, with the norm's scale γ and shift β folded in:
 * W·(γ ⊙ x̂ + β) + b = (W·diag(γ))·x̂ + (b + W·β), so the norm before it need only normalise
 * (x̂). Each weight is scaled by γ of its input column and the bias gains Σ W·β (in double
 * precision); padding weights (0) stay 0. The layer's inputs must be the norm's features in
 * order (nothing dropped between them).
 */
export function foldLayerNorm(layer: CondensedLayer, gamma: Float32Array, beta: Float32Array): CondensedLayer {
  const { nActive, k, inFeatures } = layer;
  if (gamma.length !== inFeatures || beta.length !== inFeatures) throw new RangeError(`foldLayerNorm: a norm of ${gamma.length} features before a layer of ${inFeatures} inputs`);
  const values = new Float32Array(nActive * k), bias = new Float32Array(nActive);
  for (let r = 0; r < nActive; r++) {
    let b = layer.bias[r];
    for (let p = r * k; p < (r + 1) * k; p++) {
      const c = layer.indices[p];
      values[p] = layer.values[p] * gamma[c];
      b += layer.values[p] * beta[c];
    }
    bias[r] = b;
  }
  return { ...layer, values, bias };
}
