/**
 * The condensed representation of a constant-fan-in layer (SRIGL.md §5): only the nActive
 * rows that have weights, each with exactly k values at sorted input columns, plus the map back
 * to the original neurons. Rows with no active weight (ablated neurons) are dropped.
 */

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
export function expandRows(layer: CondensedLayer, yActive: Float32Array, n = 1): Float32Array {
  if (yActive.length !== layer.nActive * n) throw new RangeError(`expandRows: got ${yActive.length} values, expected nActive·n = ${layer.nActive}·${n}`);
  const y = new Float32Array(layer.outFeatures * n);
  for (let a = 0; a < layer.nActive; a++) y.set(yActive.subarray(a * n, (a + 1) * n), layer.activeMap[a] * n);
  return y;
}
