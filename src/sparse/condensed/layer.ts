/**
 * The condensed representation of a constant-fan-in layer (SRIGL.md §5): only the nActive
 * rows that have weights, each with exactly k values at sorted input columns, plus the map back
 * to the original neurons. Rows with no active weight (ablated neurons) are dropped.
 *
 * N:M format (CondensedNMLayer): when every kept row is N:M over the layer's inputs (sparse/nm.ts),
 * a weight's position is implied by its group, so each row stores per group only the offsets of
 * its min(N, group size) weights within the group, one byte each (M ≤ 64), instead of u16
 * columns: values [nActive, k] F32 and offsets [nActive, k] U8, both in group order (group 0's
 * weights with ascending offsets, then group 1's, …; groups numbered as nmGroups numbers them:
 * for a Linear layer g covers columns g·M … g·M + M − 1, for a Conv2d with T = kh·kw taps group
 * g = c0·T + tap covers columns (c0·M + i)·T + tap, i < M), plus bias and active map as above.
 * Weight j of a row reads input column base(group of j) + offset·T — the same base for every row,
 * so the kernels keep one table of k bases per layer. 5 bytes per weight instead of 6.
 */
import { nmGroups, checkNM, formatNM, type NMStructure } from '../nm.js';

export interface CondensedLayer {
  /** Neurons of the original layer, ablated ones included. */
  readonly outFeatures: number;
  readonly inFeatures: number;
  /** Rows kept (neurons with at least one active weight). */
  readonly nActive: number;
  /** Constant fan-in: active weights per kept row. */
  readonly k: number;
  /** [nActive·k] row-major. */
  readonly values: Float32Array;
  /** [nActive·k] input columns, ascending within each row; u16 when inFeatures ≤ 65536. */
  readonly indices: Uint16Array | Uint32Array;
  /** [nActive] */
  readonly bias: Float32Array;
  /** [nActive] original neuron of each kept row, strictly increasing. */
  readonly activeMap: Uint32Array;
}

/** Index arrays are u16 whenever every column index fits. */
export function indexArrayFor(inFeatures: number, n: number): Uint16Array | Uint32Array {
  return inFeatures <= 65536 ? new Uint16Array(n) : new Uint32Array(n);
}

export interface PackCondensedInput {
  outFeatures: number;
  inFeatures: number;
  /** Dense weight [outFeatures, inFeatures] row-major; masked-out entries are ignored. */
  weight: Float32Array;
  /** Mask [outFeatures, inFeatures], 1 = active. */
  mask: Uint8Array;
  /** [outFeatures]; zeros when omitted. An ablated neuron's bias must be 0. */
  bias?: Float32Array;
}

/**
 * Packs a masked dense layer into the condensed format. Every row with active weights must
 * have the same count k (constant fan-in); rows with none are ablated and dropped, so their
 * bias must be 0 for the condensed layer to compute what the dense one does (y = 0 there).
 * The result is validated before it is returned.
 */
export function packCondensed(input: PackCondensedInput): CondensedLayer {
  const { outFeatures: out, inFeatures: fanIn, weight, mask } = input;
  if (!Number.isInteger(out) || out < 1 || !Number.isInteger(fanIn) || fanIn < 1) {
    throw new RangeError(`packCondensed: outFeatures and inFeatures must be positive integers, got ${out} and ${fanIn}`);
  }
  if (weight.length !== out * fanIn) throw new RangeError(`packCondensed: weight has ${weight.length} elements, expected ${out}·${fanIn}`);
  if (mask.length !== out * fanIn) throw new RangeError(`packCondensed: mask has ${mask.length} elements, expected ${out}·${fanIn}`);
  const bias = input.bias ?? new Float32Array(out);
  if (bias.length !== out) throw new RangeError(`packCondensed: bias has ${bias.length} elements, expected ${out}`);

  const counts = new Uint32Array(out);
  let k = 0;
  let kRow = -1;
  for (let r = 0; r < out; r++) {
    let c = 0;
    for (let i = r * fanIn, e = i + fanIn; i < e; i++) {
      const m = mask[i];
      if (m !== 0 && m !== 1) throw new RangeError(`packCondensed: mask[row ${r}, col ${i - r * fanIn}] = ${m}, expected 0 or 1`);
      c += m;
    }
    counts[r] = c;
    if (c === 0) {
      if (bias[r] !== 0) throw new RangeError(`packCondensed: row ${r} is ablated (no active weights) but bias[${r}] = ${bias[r]}; zero it first`);
      continue;
    }
    if (kRow < 0) {
      k = c;
      kRow = r;
    } else if (c !== k) {
      throw new RangeError(`packCondensed: not constant fan-in: row ${r} has ${c} active weights, row ${kRow} has ${k}`);
    }
  }

  let nActive = 0;
  for (let r = 0; r < out; r++) if (counts[r] > 0) nActive++;
  const values = new Float32Array(nActive * k);
  const indices = indexArrayFor(fanIn, nActive * k);
  const activeBias = new Float32Array(nActive);
  const activeMap = new Uint32Array(nActive);
  let a = 0;
  for (let r = 0; r < out; r++) {
    if (counts[r] === 0) continue;
    let p = a * k;
    for (let c = 0; c < fanIn; c++) {
      if (mask[r * fanIn + c]) {
        values[p] = weight[r * fanIn + c];
        indices[p] = c;
        p++;
      }
    }
    activeBias[a] = bias[r];
    activeMap[a] = r;
    a++;
  }
  const layer: CondensedLayer = { outFeatures: out, inFeatures: fanIn, nActive, k, values, indices, bias: activeBias, activeMap };
  validateCondensed(layer);
  return layer;
}

/**
 * Checks a condensed layer once, so kernels can trust it: agreeing shapes, the index type,
 * indices in [0, inFeatures) and strictly ascending per row, finite values and bias, and an
 * activeMap strictly increasing within [0, outFeatures). Errors name the field, row and column.
 */
export function validateCondensed(layer: CondensedLayer): void {
  const { outFeatures: out, inFeatures: fanIn, nActive, k, values, indices, bias, activeMap } = layer;
  const fail = (msg: string): never => {
    throw new RangeError(`validateCondensed: ${msg}`);
  };
  for (const [name, v] of [['outFeatures', out], ['inFeatures', fanIn], ['nActive', nActive], ['k', k]] as const) {
    if (!Number.isInteger(v) || v < 0) fail(`${name} must be a non-negative integer, got ${v}`);
  }
  if (out < 1 || fanIn < 1) fail(`outFeatures and inFeatures must be ≥ 1, got ${out} and ${fanIn}`);
  if (nActive > out) fail(`nActive ${nActive} exceeds outFeatures ${out}`);
  if (k > fanIn) fail(`k ${k} exceeds inFeatures ${fanIn}`);
  if (nActive > 0 && k < 1) fail(`k must be ≥ 1 when rows are active`);
  if (values.length !== nActive * k) fail(`values has ${values.length} elements, expected nActive·k = ${nActive}·${k}`);
  if (indices.length !== nActive * k) fail(`indices has ${indices.length} elements, expected nActive·k = ${nActive}·${k}`);
  if (bias.length !== nActive) fail(`bias has ${bias.length} elements, expected nActive = ${nActive}`);
  if (activeMap.length !== nActive) fail(`activeMap has ${activeMap.length} elements, expected nActive = ${nActive}`);
  if (fanIn > 65536 && !(indices instanceof Uint32Array)) fail(`indices must be Uint32Array when inFeatures ${fanIn} > 65536`);
  for (let r = 0; r < nActive; r++) {
    let prev = -1;
    for (let j = 0; j < k; j++) {
      const c = indices[r * k + j];
      if (c >= fanIn) fail(`indices[row ${r}, col ${j}] = ${c} is out of range [0, ${fanIn})`);
      if (c === prev) fail(`indices[row ${r}, col ${j}] = ${c} duplicates the previous index`);
      if (c < prev) fail(`indices[row ${r}, col ${j}] = ${c} is not ascending (previous ${prev})`);
      prev = c;
      const v = values[r * k + j];
      if (!Number.isFinite(v)) fail(`values[row ${r}, col ${j}] = ${v} is not finite`);
    }
    if (!Number.isFinite(bias[r])) fail(`bias[row ${r}] = ${bias[r]} is not finite`);
    const m = activeMap[r];
    if (m >= out) fail(`activeMap[row ${r}] = ${m} is out of range [0, ${out})`);
    if (r > 0 && m <= activeMap[r - 1]) fail(`activeMap[row ${r}] = ${m} is not strictly increasing (previous ${activeMap[r - 1]})`);
  }
}

/** Scatters a condensed layer's per-row outputs yActive [nActive, n] back to [outFeatures, n]; ablated rows get 0. */
export function expandRows(layer: AnyCondensedLayer, yActive: Float32Array, n = 1): Float32Array {
  if (yActive.length !== layer.nActive * n) throw new RangeError(`expandRows: got ${yActive.length} values, expected nActive·n = ${layer.nActive}·${n}`);
  const y = new Float32Array(layer.outFeatures * n);
  for (let a = 0; a < layer.nActive; a++) y.set(yActive.subarray(a * n, (a + 1) * n), layer.activeMap[a] * n);
  return y;
}

/** A condensed layer in the N:M format (see the top of this file): offsets within groups instead of columns. */
export interface CondensedNMLayer {
  readonly outFeatures: number;
  readonly inFeatures: number;
  readonly nActive: number;
  /** Weights per kept row: Σ over groups of min(N, group size) (nmGroups(inFeatures, nm).k). */
  readonly k: number;
  /** The rows' structure over the inFeatures inputs: N of every M, taps = 1 (Linear) or kh·kw (Conv2d). */
  readonly nm: NMStructure;
  /** [nActive·k] row-major, group order. */
  readonly values: Float32Array;
  /** [nActive·k] offset of each weight within its group (0 ≤ offset < group size), ascending within a group. */
  readonly offsets: Uint8Array;
  /** [nActive] */
  readonly bias: Float32Array;
  /** [nActive] original neuron of each kept row, strictly increasing. */
  readonly activeMap: Uint32Array;
}

/** Either condensed format. */
export type AnyCondensedLayer = CondensedLayer | CondensedNMLayer;

/** Whether a condensed layer is in the N:M format. */
export function isNMLayer(layer: AnyCondensedLayer): layer is CondensedNMLayer {
  return 'offsets' in layer;
}

/** Bytes of a condensed layer's arrays (values, indices or offsets, bias, active map). */
export function condensedBytes(layer: AnyCondensedLayer): number {
  const where = isNMLayer(layer) ? layer.offsets.byteLength : layer.indices.byteLength;
  return layer.values.byteLength + where + layer.bias.byteLength + layer.activeMap.byteLength;
}

/**
 * The column where the group of each weight position starts, [k] (the same for every row):
 * weight j of a row reads column base[j] + offset·taps. Built when a layer is uploaded.
 */
export function nmGroupBases(inFeatures: number, nm: NMStructure): Int32Array {
  const g = nmGroups(inFeatures, nm);
  const base = new Int32Array(g.k);
  let p = 0;
  for (let j = 0; j < g.count; j++) for (let q = 0; q < g.quota[j]; q++) base[p++] = g.cols[g.start[j]];
  return base;
}

/**
 * The same weights in the general format: each offset decoded to its input column
 * (group base + offset · taps), columns ascending within each row. What an N:M layer runs as
 * when the constant-fan-in kernel is the faster one (CondensedModelOptions.nmKernel).
 */
export function nmToIndices(layer: CondensedNMLayer): CondensedLayer {
  const { nActive, k, inFeatures, nm } = layer;
  const base = nmGroupBases(inFeatures, nm);
  const values = new Float32Array(nActive * k);
  const indices = indexArrayFor(inFeatures, nActive * k);
  const order = new Int32Array(k);
  const cols = new Int32Array(k);
  for (let r = 0; r < nActive; r++) {
    const o = r * k;
    for (let j = 0; j < k; j++) {
      cols[j] = base[j] + layer.offsets[o + j] * nm.taps;
      order[j] = j;
    }
    order.sort((a, b) => cols[a] - cols[b]);
    for (let j = 0; j < k; j++) {
      indices[o + j] = cols[order[j]];
      values[o + j] = layer.values[o + order[j]];
    }
  }
  return { outFeatures: layer.outFeatures, inFeatures, nActive, k, values, indices, bias: layer.bias, activeMap: layer.activeMap };
}

/**
 * Converts a general condensed layer whose kept rows are all N:M over its inputs to the N:M
 * format (the same weights, reordered into group order), validated. Returns the reason instead
 * when a row is not N:M under `nm` (or the structure does not fit the inputs).
 */
export function toNMLayer(layer: CondensedLayer, nm: NMStructure): CondensedNMLayer | string {
  const { inFeatures, nActive, k } = layer;
  try {
    checkNM(nm);
  } catch (e) {
    return (e as Error).message;
  }
  if (!Number.isInteger(nm.taps) || nm.taps < 1 || inFeatures % nm.taps !== 0) return `${inFeatures} inputs are not a whole number of channels of ${nm.taps} taps`;
  const g = nmGroups(inFeatures, nm);
  if (k !== g.k) return `rows hold ${k} weights, ${formatNM(nm)} over ${inFeatures} inputs keeps ${g.k}`;
  // Position of each column within its group, and where each group's weights go in a row.
  const within = new Int32Array(inFeatures);
  for (let j = 0; j < g.count; j++) for (let i = g.start[j]; i < g.start[j + 1]; i++) within[g.cols[i]] = i - g.start[j];
  const first = new Int32Array(g.count + 1);
  for (let j = 0; j < g.count; j++) first[j + 1] = first[j] + g.quota[j];
  const values = new Float32Array(nActive * k);
  const offsets = new Uint8Array(nActive * k);
  const fill = new Int32Array(g.count);
  for (let r = 0; r < nActive; r++) {
    fill.fill(0);
    for (let j = 0; j < k; j++) {
      // Columns ascend within a row, and so do the members of a group, so offsets come out ascending.
      const c = layer.indices[r * k + j];
      const grp = g.groupOf[c];
      if (fill[grp] === g.quota[grp]) return `row ${layer.activeMap[r]} holds more than ${g.quota[grp]} weights in group ${grp}`;
      const p = r * k + first[grp] + fill[grp]++;
      values[p] = layer.values[r * k + j];
      offsets[p] = within[c];
    }
  }
  const out: CondensedNMLayer = {
    outFeatures: layer.outFeatures, inFeatures, nActive, k, nm: { n: nm.n, m: nm.m, taps: nm.taps },
    values, offsets, bias: layer.bias.slice(), activeMap: layer.activeMap.slice(),
  };
  validateCondensedNM(out);
  return out;
}

/**
 * Checks an N:M condensed layer once, so kernels can trust it: the structure (1 ≤ N < M ≤ 64,
 * taps dividing inFeatures), k = Σ min(N, group size), agreeing shapes, every offset within its
 * group and strictly ascending within the group (so each group holds exactly its quota of
 * distinct inputs), finite values and bias, and an activeMap strictly increasing within
 * [0, outFeatures). Errors name the field, row and weight.
 */
export function validateCondensedNM(layer: CondensedNMLayer): void {
  const { outFeatures: out, inFeatures: fanIn, nActive, k, nm, values, offsets, bias, activeMap } = layer;
  const fail = (msg: string): never => {
    throw new RangeError(`validateCondensedNM: ${msg}`);
  };
  for (const [name, v] of [['outFeatures', out], ['inFeatures', fanIn], ['nActive', nActive], ['k', k]] as const) {
    if (!Number.isInteger(v) || v < 0) fail(`${name} must be a non-negative integer, got ${v}`);
  }
  if (out < 1 || fanIn < 1) fail(`outFeatures and inFeatures must be ≥ 1, got ${out} and ${fanIn}`);
  if (nActive > out) fail(`nActive ${nActive} exceeds outFeatures ${out}`);
  if (typeof nm !== 'object' || nm === null) fail('nm must be an object {n, m, taps}');
  try {
    checkNM(nm);
  } catch (e) {
    fail((e as Error).message);
  }
  if (!Number.isInteger(nm.taps) || nm.taps < 1 || fanIn % nm.taps !== 0) fail(`nm.taps ${nm.taps} must be a positive integer dividing inFeatures ${fanIn}`);
  const g = nmGroups(fanIn, nm);
  if (k !== g.k) fail(`k ${k} does not match ${formatNM(nm)} over ${fanIn} inputs of ${nm.taps} tap(s), which keeps ${g.k} (min(N, group size) per group)`);
  if (values.length !== nActive * k) fail(`values has ${values.length} elements, expected nActive·k = ${nActive}·${k}`);
  if (!(offsets instanceof Uint8Array)) fail('offsets must be a Uint8Array');
  if (offsets.length !== nActive * k) fail(`offsets has ${offsets.length} elements, expected nActive·k = ${nActive}·${k}`);
  if (bias.length !== nActive) fail(`bias has ${bias.length} elements, expected nActive = ${nActive}`);
  if (activeMap.length !== nActive) fail(`activeMap has ${activeMap.length} elements, expected nActive = ${nActive}`);
  // Group and size of each weight position (the same in every row).
  const groupAt = new Int32Array(k);
  const sizeAt = new Int32Array(k);
  for (let j = 0, p = 0; j < g.count; j++) {
    for (let q = 0; q < g.quota[j]; q++, p++) {
      groupAt[p] = j;
      sizeAt[p] = g.start[j + 1] - g.start[j];
    }
  }
  for (let r = 0; r < nActive; r++) {
    for (let j = 0; j < k; j++) {
      const o = offsets[r * k + j];
      if (o >= sizeAt[j]) fail(`offsets[row ${r}, weight ${j}] = ${o} is out of range [0, ${sizeAt[j]}) of group ${groupAt[j]}`);
      if (j > 0 && groupAt[j - 1] === groupAt[j] && o <= offsets[r * k + j - 1]) {
        fail(`offsets[row ${r}, weight ${j}] = ${o} is not strictly ascending within group ${groupAt[j]} (previous ${offsets[r * k + j - 1]})`);
      }
      const v = values[r * k + j];
      if (!Number.isFinite(v)) fail(`values[row ${r}, weight ${j}] = ${v} is not finite`);
    }
    if (!Number.isFinite(bias[r])) fail(`bias[row ${r}] = ${bias[r]} is not finite`);
    const m = activeMap[r];
    if (m >= out) fail(`activeMap[row ${r}] = ${m} is out of range [0, ${out})`);
    if (r > 0 && m <= activeMap[r - 1]) fail(`activeMap[row ${r}] = ${m} is not strictly increasing (previous ${activeMap[r - 1]})`);
  }
}

/** Validates a condensed layer of either format (validateCondensed or validateCondensedNM). */
export function validateAnyCondensed(layer: AnyCondensedLayer): void {
  if (isNMLayer(layer)) validateCondensedNM(layer);
  else validateCondensed(layer);
}
