/**
 * Binary masks over a layer's weight (row-major, `out` rows of length `fanIn`, one byte per
 * weight holding 0 or 1): random initial masks, counting, and validation.
 */
import { Rng } from '../tensor/rng.js';

function checkGeometry(what: string, length: number, out: number, fanIn: number): void {
  if (!Number.isInteger(out) || out < 1 || !Number.isInteger(fanIn) || fanIn < 1) {
    throw new RangeError(`${what}: out and fanIn must be positive integers, got out=${out} fanIn=${fanIn}`);
  }
  if (length !== out * fanIn) throw new RangeError(`${what}: length ${length} does not match out·fanIn = ${out}·${fanIn} = ${out * fanIn}`);
}

/**
 * Constant fan-in mask: every row holds exactly k ones at positions chosen uniformly at random
 * (a partial Fisher–Yates draw per row, O(out·k + fanIn)).
 */
export function constantFanInMask(out: number, fanIn: number, k: number, rng: Rng): Uint8Array {
  checkGeometry('constantFanInMask', out * fanIn, out, fanIn);
  if (!Number.isInteger(k) || k < 1 || k > fanIn) throw new RangeError(`constantFanInMask: k must be an integer in [1, fanIn=${fanIn}], got ${k}`);
  const mask = new Uint8Array(out * fanIn);
  const perm = new Uint32Array(fanIn);
  for (let i = 0; i < fanIn; i++) perm[i] = i;
  // Each row's partial shuffle starts from the previous row's permutation; the first k
  // entries of a partial Fisher–Yates are a uniform k-subset whatever the starting order.
  for (let r = 0; r < out; r++) {
    for (let i = 0; i < k; i++) {
      const j = i + rng.int(fanIn - i);
      const t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
      mask[r * fanIn + perm[i]] = 1;
    }
  }
  return mask;
}

/** Unstructured random mask with exactly `budget` ones among `numel` positions, uniformly at random. */
export function randomMask(numel: number, budget: number, rng: Rng): Uint8Array {
  if (!Number.isInteger(numel) || numel < 1) throw new RangeError(`randomMask: numel must be a positive integer, got ${numel}`);
  if (!Number.isInteger(budget) || budget < 0 || budget > numel) throw new RangeError(`randomMask: budget must be an integer in [0, ${numel}], got ${budget}`);
  // Draw the smaller of the two sets so a dense-ish mask costs no more than a sparse one.
  const drawOnes = budget <= numel - budget;
  const draws = drawOnes ? budget : numel - budget;
  const value = drawOnes ? 1 : 0;
  const mask = new Uint8Array(numel).fill(1 - value);
  // A partial Fisher–Yates over the identity permutation of 0..numel−1; entry i after step i is
  // the i-th drawn position. Sparse draws store only the entries the shuffle has moved (a Map,
  // O(draws) memory). A Map entry costs about 30 bytes against 4 per position for the whole
  // permutation, and V8 caps a Map at 2^24 entries, so from numel/16 draws on the permutation is
  // stored outright. Both walk the same permutation, so the mask depends only on the rng.
  if (draws * 16 <= numel) {
    const moved = new Map<number, number>();
    for (let i = 0; i < draws; i++) {
      const j = i + rng.int(numel - i);
      const drawn = moved.get(j) ?? j;
      // Slot i is never read again; slot j takes what slot i held.
      if (j !== i) moved.set(j, moved.get(i) ?? i);
      moved.delete(i);
      mask[drawn] = value;
    }
    return mask;
  }
  const perm = new Uint32Array(numel);
  for (let i = 0; i < numel; i++) perm[i] = i;
  for (let i = 0; i < draws; i++) {
    const j = i + rng.int(numel - i);
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
    mask[perm[i]] = value;
  }
  return mask;
}

/** Number of ones. */
export function nnz(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  return n;
}

/** Ones per row. */
export function rowCounts(mask: Uint8Array, out: number, fanIn: number): Uint32Array {
  checkGeometry('rowCounts', mask.length, out, fanIn);
  const counts = new Uint32Array(out);
  for (let r = 0; r < out; r++) {
    let c = 0;
    const base = r * fanIn;
    for (let i = 0; i < fanIn; i++) c += mask[base + i];
    counts[r] = c;
  }
  return counts;
}

/** Per row: 1 when the row holds at least one weight, else 0. */
/** What the per-row active counts of a layer say about its structure (inspect and import report it). */
export interface FanInSummary {
  nnz: number;
  /** The fan-in of every neuron that has weights when it is the same for all (constant fan-in), else null. */
  k: number | null;
  /** Smallest and largest fan-in over neurons with weights ([0, 0] when none has any). */
  fanInRange: [number, number];
  /** Rows without any weight (ablated neurons). */
  ablated: number[];
}

/** Summarises a layer of `out` rows from `rowCount(r)`, the active weights of row r. */
export function fanInSummary(out: number, rowCount: (r: number) => number): FanInSummary {
  let nnz = 0;
  let lo = Infinity;
  let hi = 0;
  const ablated: number[] = [];
  for (let r = 0; r < out; r++) {
    const c = rowCount(r);
    nnz += c;
    if (c === 0) ablated.push(r);
    else {
      lo = Math.min(lo, c);
      hi = Math.max(hi, c);
    }
  }
  if (lo === Infinity) lo = 0;
  return { nnz, k: lo === hi && hi > 0 ? hi : null, fanInRange: [lo, hi], ablated };
}

export function activeRows(mask: Uint8Array, out: number, fanIn: number): Uint8Array {
  return Uint8Array.from(rowCounts(mask, out, fanIn), (c) => (c > 0 ? 1 : 0));
}

/** Zeroes `w` wherever the mask is 0 (in place) and returns `w`. */
export function applyMask(w: Float32Array, mask: Uint8Array): Float32Array {
  if (w.length !== mask.length) throw new RangeError(`applyMask: weight length ${w.length} differs from mask length ${mask.length}`);
  for (let i = 0; i < w.length; i++) if (mask[i] === 0) w[i] = 0;
  return w;
}

/** Throws unless every entry is 0 or 1. */
export function assertBinary(mask: Uint8Array, what = 'mask'): void {
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] > 1) throw new RangeError(`${what}[${i}] = ${mask[i]}, expected 0 or 1`);
  }
}

/**
 * Throws unless the mask is binary, every row not ablated holds exactly k ones and every
 * ablated row (ablated[r] = 1) holds none.
 */
export function assertConstantFanIn(mask: Uint8Array, out: number, fanIn: number, k: number, ablated?: Uint8Array): void {
  checkGeometry('assertConstantFanIn', mask.length, out, fanIn);
  assertBinary(mask);
  if (ablated !== undefined && ablated.length !== out) throw new RangeError(`assertConstantFanIn: ablated has length ${ablated.length}, expected out=${out}`);
  const counts = rowCounts(mask, out, fanIn);
  for (let r = 0; r < out; r++) {
    const expected = ablated !== undefined && ablated[r] ? 0 : k;
    if (counts[r] !== expected) {
      throw new RangeError(`constant fan-in violated: row ${r} holds ${counts[r]} weights, expected ${expected}${expected === 0 ? ' (ablated)' : ` (k=${k})`}`);
    }
  }
}

/** Std of sparse-aware Kaiming-normal init for a neuron with k incoming weights: sqrt(2/k). */
export function sparseKaimingStd(k: number): number {
  if (!(k >= 1)) throw new RangeError(`sparseKaimingStd: k must be ≥ 1, got ${k}`);
  return Math.sqrt(2 / k);
}

/**
 * Sparse-aware Kaiming-normal init in place: each weight of row r under the mask is drawn
 * from N(0, 2/k_r) with k_r the row's number of active weights (= k for a constant fan-in
 * mask); weights outside the mask are set to 0. Returns `w`.
 */
export function sparseKaimingInit(w: Float32Array, mask: Uint8Array, out: number, fanIn: number, rng: Rng): Float32Array {
  checkGeometry('sparseKaimingInit', w.length, out, fanIn);
  if (mask.length !== w.length) throw new RangeError(`sparseKaimingInit: mask length ${mask.length} differs from weight length ${w.length}`);
  const counts = rowCounts(mask, out, fanIn);
  for (let r = 0; r < out; r++) {
    const std = counts[r] > 0 ? sparseKaimingStd(counts[r]) : 0;
    const base = r * fanIn;
    for (let i = 0; i < fanIn; i++) w[base + i] = mask[base + i] ? rng.normal() * std : 0;
  }
  return w;
}

/**
 * How sparse-aware init draws a weight of a row with k active weights:
 * - `kaiming-normal`: N(0, 2/k), Kaiming's rule for ReLU networks (the reference implementation's
 *   init for every method, biases 0);
 * - `kaiming-uniform`: U(−1/√k, 1/√k), PyTorch's default Linear/Conv init (kaiming_uniform with
 *   a = √5) with the fan-in replaced by the active fan-in, biases kept as the layer drew them.
 *   Transformers train better with it than with the ReLU rule (bench/results/vit-accuracy.md).
 */
export type SparseInitRule = 'kaiming-normal' | 'kaiming-uniform';

/** Draws one weight of a row with k active weights under `rule` (k ≥ 1). */
export function sparseInitDraw(rule: SparseInitRule, k: number, rng: Rng): number {
  return rule === 'kaiming-normal' ? rng.normal() * sparseKaimingStd(k) : (2 * rng.uniform() - 1) / Math.sqrt(k);
}

/** Sparse-aware init in place under `rule`: weights under the mask drawn row by row, the rest 0. Returns `w`. */
export function sparseInit(rule: SparseInitRule, w: Float32Array, mask: Uint8Array, out: number, fanIn: number, rng: Rng): Float32Array {
  if (rule === 'kaiming-normal') return sparseKaimingInit(w, mask, out, fanIn, rng);
  checkGeometry('sparseInit', w.length, out, fanIn);
  if (mask.length !== w.length) throw new RangeError(`sparseInit: mask length ${mask.length} differs from weight length ${w.length}`);
  const counts = rowCounts(mask, out, fanIn);
  for (let r = 0; r < out; r++) {
    const base = r * fanIn;
    for (let i = 0; i < fanIn; i++) w[base + i] = mask[base + i] ? sparseInitDraw(rule, counts[r], rng) : 0;
  }
  return w;
}

/** Packs a 0/1 mask into bits (LSB first), for compact checkpoints. */
export function packMaskBits(mask: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(Math.ceil(mask.length / 8));
  for (let i = 0; i < mask.length; i++) if (mask[i]) bytes[i >> 3] |= 1 << (i & 7);
  return bytes;
}

/** Inverse of packMaskBits; throws when the byte count does not fit `length` or padding bits are set. */
export function unpackMaskBits(bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length !== Math.ceil(length / 8)) throw new RangeError(`unpackMaskBits: ${bytes.length} bytes cannot hold exactly ${length} mask bits`);
  const mask = new Uint8Array(length);
  for (let i = 0; i < length; i++) mask[i] = (bytes[i >> 3] >> (i & 7)) & 1;
  if (length % 8 !== 0 && bytes[bytes.length - 1] >> (length % 8) !== 0) throw new RangeError('unpackMaskBits: padding bits past the mask length are set');
  return mask;
}
