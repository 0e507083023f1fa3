/**
 * Packing one trained layer's kept rows into a condensed layer (condenseModel's building block):
 * which rows stay, its inputs remapped to the condensed columns of the layer before, rows padded
 * back to constant fan-in, and the contribution of inputs that were dropped because they are
 * constant folded into the bias. The rules that decide what is dropped are in model.ts and
 * transformer.ts; this module only applies them.
 */
import type { NMStructure } from '../nm.js';
import { indexArrayFor, isNMLayer, validateCondensed, type AnyCondensedLayer, type CondensedLayer } from './layer.js';
import type { CondensedLayerReport } from './model.js';

/**
 * Which rows of a layer the condensed layer keeps. 'weighted': rows with a weight left or a
 * nonzero bias (a row without either outputs 0). 'relu': rows with a weight left or a positive
 * bias, for a layer whose output only reaches other layers through a ReLU (a bias-only row with
 * b ≤ 0 is then 0 everywhere). 'all': every row, for layers whose outputs must keep their layout
 * (the residual stream). 'active': rows with a weight left only, for a layer whose bias-only rows
 * are constants that the next layer folds into its bias. A Uint8Array gives the choice per row
 * (1 = keep), for rules that depend on more than one layer (attention's q and k).
 */
export type RowRule = 'weighted' | 'relu' | 'all' | 'active' | Uint8Array;

/** A packed layer and what packing it did (see CondensedLayerReport). */
export interface CondensedRows {
  layer: CondensedLayer;
  droppedWeights: number;
  paddedWeights: number;
}

/** Active weights per row that read a kept input (colMap[i] ≥ 0). */
export function rowCounts(out: number, fanIn: number, mask: Float32Array | Uint8Array | null, colMap: Int32Array | null = null): Int32Array {
  const counts = new Int32Array(out);
  for (let r = 0; r < out; r++) {
    let c = 0;
    for (let i = 0; i < fanIn; i++) if ((mask === null || mask[r * fanIn + i] !== 0) && (colMap === null || colMap[i] >= 0)) c++;
    counts[r] = c;
  }
  return counts;
}

/** The identity column map of n inputs (nothing dropped). */
export function identityMap(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

/** Original row → kept row of a condensed layer (−1: dropped). */
export function mapOf(out: number, layer: CondensedLayer): Int32Array {
  const m = new Int32Array(out).fill(-1);
  layer.activeMap.forEach((orig, a) => (m[orig] = a));
  return m;
}

/**
 * Packs one layer's active weights with remapped input columns: `colMap[c]` is the condensed
 * column of original column c, or −1 when that input was dropped. A dropped input is 0, or the
 * constant `constIn[c]` when given: the weights that read it are removed and, for a constant,
 * W[r, c]·constIn[c] is added to row r's bias (summed in double precision), which is exact for a
 * layer that sees the same constant at every position it is applied to (a Linear over tokens).
 */
export function condenseRows(
  out: number, fanIn: number, weight: Float32Array, mask: Float32Array | Uint8Array | null, bias: Float32Array | null,
  colMap: Int32Array, inFeatures: number, rule: RowRule = 'weighted', constIn: Float64Array | null = null,
): CondensedRows {
  if (rule instanceof Uint8Array && rule.length !== out) throw new RangeError(`condenseRows: ${rule.length} keep flags for ${out} rows`);
  const counts = rowCounts(out, fanIn, mask, colMap);
  const active = (r: number, i: number) => mask === null || mask[r * fanIn + i] !== 0;
  let droppedWeights = 0;
  const folded = new Float64Array(out);
  for (let r = 0; r < out; r++) {
    let b = bias === null ? 0 : bias[r];
    for (let i = 0; i < fanIn; i++) {
      if (colMap[i] >= 0 || !active(r, i)) continue;
      droppedWeights++;
      if (constIn !== null) b += weight[r * fanIn + i] * constIn[i];
    }
    folded[r] = b;
  }
  const b = (r: number) => Math.fround(folded[r]);
  const keep = (r: number): boolean => {
    if (rule instanceof Uint8Array) return rule[r] !== 0;
    switch (rule) {
      case 'all': return true;
      case 'active': return counts[r] > 0;
      case 'relu': return counts[r] > 0 || b(r) > 0;
      case 'weighted': return counts[r] > 0 || b(r) !== 0;
    }
  };
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
        if (!active(r, i) || colMap[i] < 0) continue;
        values[p] = weight[r * fanIn + i];
        indices[p++] = colMap[i];
      }
    } else {
      // Merge the row's weights with zero weights at the smallest unused columns, ascending.
      used.fill(0);
      const w = new Float32Array(inFeatures);
      for (let i = 0; i < fanIn; i++) {
        if (!active(r, i) || colMap[i] < 0) continue;
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
    activeBias[a] = b(r);
    activeMap[a] = r;
    a++;
  }
  const layer: CondensedLayer = { outFeatures: out, inFeatures, nActive, k, values, indices, bias: activeBias, activeMap };
  validateCondensed(layer);
  return { layer, droppedWeights, paddedWeights };
}

/** The report line of one packed layer. */
export function reportOf(
  name: string, kind: 'linear' | 'conv2d', out: number, fanIn: number, masked: boolean, r: CondensedRows,
  f: { layer: AnyCondensedLayer; nm: NMStructure | null }, batchNorm: string | null,
): CondensedLayerReport {
  return {
    name, kind, out, nActive: r.layer.nActive, fanIn, inFeatures: r.layer.inFeatures, k: r.layer.k, masked,
    droppedWeights: r.droppedWeights, paddedWeights: r.paddedWeights, nm: f.nm, format: isNMLayer(f.layer) ? 'nm' : 'indices',
    batchNorm,
  };
}
