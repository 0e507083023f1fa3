/**
 * One SRigL update of one layer (SRIGL.md §4): RigL-style drop and grow that keeps a constant
 * fan-in k per active neuron, with neuron ablation re-decided at every update.
 *
 * Pure: the inputs are not written. The caller applies the result with `zeroChanged` (weights
 * and every optimizer-state array at `dropped ∪ grown`) and zeroes the bias (and bias
 * optimizer state) of every row with `ablated[r] = 1`, so the condensed model that drops the
 * neuron computes the same function as the masked one.
 *
 * Cost: O(numel) expected time and memory — selections are quickselects (see select.ts), never
 * sorts of the weights — plus O(out log out) for the safety clamp's sort of row saliencies.
 */
import { nnz, rowCounts } from '../sparse/mask.js';
import { absKeys, difference, pickLargest } from './select.js';
import { checkUpdateInputs, type TopologyUpdate } from './update.js';

export interface SriglInput {
  /** Layer weights [out, fanIn] row-major. Masked-out entries are ignored. */
  weights: Float32Array;
  /** Dense gradient [out, fanIn] (every position, active or not). */
  grad: Float32Array;
  /** Current mask. Every active row normally holds k ones, but any binary mask is accepted. */
  mask: Uint8Array;
  out: number;
  fanIn: number;
  /** Layer nonzero budget B, in [out, out·fanIn]. */
  budget: number;
  /** Drop fraction f in [0, 1] (from the cosine schedule). */
  dropFraction: number;
  /** Whether neuron ablation is enabled for the run. */
  ablation: boolean;
  /** Whether this layer may ablate; false for the classifier layer. */
  mayAblate: boolean;
  /** γ_sal: a row is ablated when fewer than max(1, floor(γ_sal·k0)) of its weights are salient. Default 0.3. */
  gammaSal?: number;
}

export interface SriglStats {
  /** Active weights before the update. */
  nActive: number;
  /** floor(f · nActive). */
  nDrop: number;
  /** nActive − nDrop: the layer-wide number of |W| kept (before ablation and row caps). */
  nKeep: number;
  /** New fan-in k' = floor(B / (out − |A|)). */
  k: number;
  /** floor(B / out): the fan-in with no ablation. */
  k0: number;
  /** Saliency threshold used (after the safety clamp); 0 when ablation is off for this layer. */
  threshold: number;
  /** ceil(B / fanIn): the fewest rows that may stay active. */
  nMin: number;
  /** |A| after the update. */
  ablatedCount: number;
  /** Rows active before, ablated now. */
  newlyAblated: number;
  /** Rows ablated before (no active weight), active now. */
  revived: number;
  /** Active weights after: k'·(out − |A|). */
  nnz: number;
  nGrown: number;
  nDropped: number;
}

export interface SriglUpdate extends TopologyUpdate {
  /** Per row: 1 when the neuron is ablated (its row and bias must be all zero). */
  ablated: Uint8Array;
  /** New fan-in k'. */
  k: number;
  stats: SriglStats;
}

function checkInput(input: SriglInput): void {
  const { weights, grad, mask, out, fanIn, budget, gammaSal = 0.3 } = input;
  if (!Number.isInteger(out) || out < 1 || !Number.isInteger(fanIn) || fanIn < 1) {
    throw new RangeError(`sriglUpdate: out and fanIn must be positive integers, got out=${out} fanIn=${fanIn}`);
  }
  if (mask.length !== out * fanIn) throw new RangeError(`sriglUpdate: mask length ${mask.length} does not match out·fanIn = ${out * fanIn}`);
  checkUpdateInputs('sriglUpdate', weights, grad, mask, input.dropFraction);
  if (!Number.isInteger(budget) || budget < out || budget > out * fanIn) {
    throw new RangeError(`sriglUpdate: budget must be an integer in [out=${out}, out·fanIn=${out * fanIn}] so that 1 ≤ k ≤ fanIn, got ${budget}`);
  }
  if (!(Number.isFinite(gammaSal) && gammaSal >= 0)) throw new RangeError(`sriglUpdate: gammaSal must be a finite number ≥ 0, got ${gammaSal}`);
}

/** One SRigL update; see SRIGL.md §4 for each numbered step. */
export function sriglUpdate(input: SriglInput): SriglUpdate {
  checkInput(input);
  const { weights, grad, mask, out, fanIn, budget, dropFraction, ablation, mayAblate, gammaSal = 0.3 } = input;
  const numel = out * fanIn;
  const absW = absKeys(weights, 'weights');
  const absG = absKeys(grad, 'grad');
  const scratch = new Float32Array(numel);

  // 1. Drop count.
  const nActive = nnz(mask);
  const nDrop = Math.floor(nActive * dropFraction);
  const nKeep = nActive - nDrop;
  const rowsBefore = rowCounts(mask, out, fanIn);
  const k0 = Math.floor(budget / out);
  const nMin = Math.ceil(budget / fanIn);

  // 2. Saliency and ablation.
  const ablated = new Uint8Array(out);
  let threshold = 0;
  if (ablation && mayAblate) {
    const salient = new Uint8Array(numel);
    pickLargest(absW, { flags: mask }, nKeep, salient, scratch);
    pickLargest(absG, { flags: null }, nDrop, salient, scratch);
    const c = rowCounts(salient, out, fanIn);
    threshold = Math.max(1, Math.floor(gammaSal * k0));
    let reaching = 0;
    for (let r = 0; r < out; r++) if (c[r] >= threshold) reaching++;
    if (reaching < nMin) {
      // Lower t so the nMin most salient rows survive and k' = floor(B/(out−|A|)) ≤ fanIn.
      const sorted = c.slice().sort();
      threshold = sorted[out - nMin];
    }
    for (let r = 0; r < out; r++) if (c[r] < threshold) ablated[r] = 1;
  }
  let ablatedCount = 0;
  for (let r = 0; r < out; r++) ablatedCount += ablated[r];

  // 3. New fan-in.
  const k = Math.floor(budget / (out - ablatedCount));

  // 4. Prune: ablated rows lose everything; keep the nKeep largest |W| layer-wide; cap rows at k.
  const eligible = mask.slice();
  for (let r = 0; r < out; r++) if (ablated[r]) eligible.fill(0, r * fanIn, (r + 1) * fanIn);
  const kept = new Uint8Array(numel);
  pickLargest(absW, { flags: eligible }, nKeep, kept, scratch);
  let keptPerRow = rowCounts(kept, out, fanIn);
  for (let r = 0; r < out; r++) {
    if (keptPerRow[r] <= k) continue;
    const base = r * fanIn;
    // Reuse `eligible` (no longer needed) to hold this row's kept set while it is re-picked.
    eligible.set(kept.subarray(base, base + fanIn), base);
    kept.fill(0, base, base + fanIn);
    pickLargest(absW, { flags: eligible }, k, kept, scratch, base, base + fanIn);
  }
  keptPerRow = rowCounts(kept, out, fanIn);

  // 5. Grow every active row to exactly k by largest |G| among its positions not kept.
  const next = kept.slice();
  for (let r = 0; r < out; r++) {
    if (ablated[r]) continue;
    const base = r * fanIn;
    pickLargest(absG, { flags: kept, value: 0 }, k - keptPerRow[r], next, scratch, base, base + fanIn);
  }

  // 6. The caller zeroes W and optimizer state at dropped ∪ grown (see update.ts).
  const grown = difference(next, kept);
  const dropped = difference(mask, kept);
  let newlyAblated = 0;
  let revived = 0;
  for (let r = 0; r < out; r++) {
    if (ablated[r] && rowsBefore[r] > 0) newlyAblated++;
    if (!ablated[r] && rowsBefore[r] === 0) revived++;
  }
  return {
    mask: next,
    grown,
    dropped,
    ablated,
    k,
    stats: {
      nActive,
      nDrop,
      nKeep,
      k,
      k0,
      threshold,
      nMin,
      ablatedCount,
      newlyAblated,
      revived,
      nnz: k * (out - ablatedCount),
      nGrown: grown.length,
      nDropped: dropped.length,
    },
  };
}
