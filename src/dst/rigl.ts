/**
 * RigL (Evci et al. 2020), unstructured, one layer (SRIGL.md §3): drop the n_drop = floor(f·nnz)
 * smallest |W| over the whole layer, regrow the n_drop largest |G| among positions not kept.
 * A position dropped now may be regrown, but it restarts from 0. nnz is unchanged.
 * Cost: O(numel) expected (two quickselects), O(numel) memory.
 */
import { nnz } from '../sparse/mask.js';
import { absKeys, difference, pickLargest } from './select.js';
import { checkUpdateInputs, type TopologyUpdate } from './update.js';

export interface UnstructuredStats {
  /** Active weights before (and after) the update. */
  nActive: number;
  /** floor(f · nActive): weights dropped, and grown. */
  nDrop: number;
  /** Positions both dropped and regrown in this update. */
  nRegrown: number;
}

export interface UnstructuredUpdate extends TopologyUpdate {
  stats: UnstructuredStats;
}

/** The mask of the nKeep largest |W| among active weights (ties: lowest index kept); `scratch` holds ≥ numel floats. */
export function keepLargestMagnitude(weights: Float32Array, mask: Uint8Array, nKeep: number, scratch: Float32Array): Uint8Array {
  const kept = new Uint8Array(mask.length);
  pickLargest(absKeys(weights, 'weights'), { flags: mask }, nKeep, kept, scratch);
  return kept;
}

/** One RigL update. `grad` is the dense gradient (all positions). */
export function riglUpdate(weights: Float32Array, grad: Float32Array, mask: Uint8Array, dropFraction: number): UnstructuredUpdate {
  checkUpdateInputs('riglUpdate', weights, grad, mask, dropFraction);
  const nActive = nnz(mask);
  const nDrop = Math.floor(nActive * dropFraction);
  const scratch = new Float32Array(mask.length);
  const kept = keepLargestMagnitude(weights, mask, nActive - nDrop, scratch);
  const next = kept.slice();
  pickLargest(absKeys(grad, 'grad'), { flags: kept, value: 0 }, nDrop, next, scratch);
  return finishUnstructured(mask, kept, next, nActive, nDrop);
}

/** Builds the result lists and stats from the old mask, the kept set and the new mask. */
export function finishUnstructured(mask: Uint8Array, kept: Uint8Array, next: Uint8Array, nActive: number, nDrop: number): UnstructuredUpdate {
  const grown = difference(next, kept);
  const dropped = difference(mask, kept);
  let nRegrown = 0;
  for (let j = 0; j < dropped.length; j++) nRegrown += next[dropped[j]];
  return { mask: next, grown, dropped, stats: { nActive, nDrop, nRegrown } };
}
