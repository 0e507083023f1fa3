/**
 * Static sparse training: the random initial mask is never updated. Provided with the same
 * shape as the other updates so a caller can treat every method alike.
 */
import { nnz } from '../sparse/mask.js';
import type { UnstructuredUpdate } from './rigl.js';
import { checkUpdateInputs } from './update.js';

/** Returns a copy of the mask, nothing grown or dropped. */
export function staticUpdate(weights: Float32Array, mask: Uint8Array): UnstructuredUpdate {
  checkUpdateInputs('staticUpdate', weights, null, mask, 0);
  return { mask: mask.slice(), grown: new Uint32Array(0), dropped: new Uint32Array(0), stats: { nActive: nnz(mask), nDrop: 0, nRegrown: 0 } };
}
