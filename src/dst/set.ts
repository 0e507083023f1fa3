/**
 * SET (Mocanu et al. 2018), one layer: drop the n_drop = floor(f·nnz) smallest |W| like RigL,
 * regrow n_drop positions uniformly at random among those not kept (a just-dropped position
 * may be drawn; it restarts from 0). nnz is unchanged. O(numel) time and memory.
 */
import { Rng } from '../tensor/rng.js';
import { nnz } from '../sparse/mask.js';
import { finishUnstructured, keepLargestMagnitude, type UnstructuredUpdate } from './rigl.js';
import { checkUpdateInputs } from './update.js';

/** One SET update; `rng` supplies the regrowth draws. */
export function setUpdate(weights: Float32Array, mask: Uint8Array, dropFraction: number, rng: Rng): UnstructuredUpdate {
  checkUpdateInputs('setUpdate', weights, null, mask, dropFraction);
  const nActive = nnz(mask);
  const nDrop = Math.floor(nActive * dropFraction);
  const kept = keepLargestMagnitude(weights, mask, nActive - nDrop, new Float32Array(mask.length));
  const candidates = new Uint32Array(mask.length - (nActive - nDrop));
  let m = 0;
  for (let i = 0; i < kept.length; i++) if (kept[i] === 0) candidates[m++] = i;
  const next = kept.slice();
  for (let i = 0; i < nDrop; i++) {
    const j = i + rng.int(m - i);
    const t = candidates[i];
    candidates[i] = candidates[j];
    candidates[j] = t;
    next[candidates[i]] = 1;
  }
  return finishUnstructured(mask, kept, next, nActive, nDrop);
}
