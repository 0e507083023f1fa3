/**
 * What every topology update returns, and how a caller applies it.
 *
 * Updates are pure: they never write to their inputs. They return the new mask and two index
 * lists; the caller zeroes the weight and every optimizer-state array at `dropped ∪ grown`
 * (`zeroChanged`). That set is exactly the positions whose value must become 0: weights that
 * left the mask, and weights that joined it (which start from 0, even a weight dropped and
 * regrown in the same update). Everything else keeps its value and its optimizer state.
 */
import { assertBinary } from '../sparse/mask.js';

export interface TopologyUpdate {
  /** The new mask (a fresh array). */
  mask: Uint8Array;
  /** Positions active after the update that were not kept from before (ascending); they start at 0. */
  grown: Uint32Array;
  /** Positions active before the update that were not kept (ascending); some may be in `grown` too. */
  dropped: Uint32Array;
}

/** Sets every array to 0 at the positions in `update.dropped` and `update.grown`. */
export function zeroChanged(update: TopologyUpdate, arrays: readonly Float32Array[]): void {
  for (const a of arrays) {
    if (a.length !== update.mask.length) throw new RangeError(`zeroChanged: array length ${a.length} differs from mask length ${update.mask.length}`);
    for (let j = 0; j < update.dropped.length; j++) a[update.dropped[j]] = 0;
    for (let j = 0; j < update.grown.length; j++) a[update.grown[j]] = 0;
  }
}

/** Validates the common inputs of an update: same lengths, a binary mask, a drop fraction in [0, 1]. */
export function checkUpdateInputs(what: string, weights: Float32Array, grad: Float32Array | null, mask: Uint8Array, dropFraction: number): void {
  if (weights.length !== mask.length) throw new RangeError(`${what}: weights length ${weights.length} differs from mask length ${mask.length}`);
  if (grad !== null && grad.length !== mask.length) throw new RangeError(`${what}: grad length ${grad.length} differs from mask length ${mask.length}`);
  if (!(dropFraction >= 0 && dropFraction <= 1)) throw new RangeError(`${what}: dropFraction must be in [0, 1], got ${dropFraction}`);
  assertBinary(mask, `${what}: mask`);
}

/**
 * Moves compact arrays (entry t at position oldPos[t]) to the layout after an update (entry t
 * at newPos[t]): an entry kept through the update (in both, not dropped) carries its value; a
 * grown one — a position dropped and regrown too — starts at 0, as `zeroChanged` does densely.
 * Entries past newPos.length are zeroed up to the old length. Both position lists ascend.
 */
export function remapCompact(oldPos: Int32Array, newPos: Int32Array, dropped: Uint32Array, arrays: readonly Float32Array[]): void {
  const src = new Int32Array(newPos.length);
  let i = 0;
  let d = 0;
  for (let t = 0; t < newPos.length; t++) {
    const p = newPos[t];
    while (i < oldPos.length && oldPos[i] < p) i++;
    while (d < dropped.length && dropped[d] < p) d++;
    const kept = i < oldPos.length && oldPos[i] === p && !(d < dropped.length && dropped[d] === p);
    src[t] = kept ? i : -1;
  }
  const end = Math.max(oldPos.length, newPos.length);
  for (const a of arrays) {
    if (a.length < end) throw new RangeError(`remapCompact: an array of ${a.length} entries for ${end} positions`);
    const old = a.slice(0, oldPos.length);
    for (let t = 0; t < newPos.length; t++) a[t] = src[t] < 0 ? 0 : old[src[t]];
    a.fill(0, newPos.length, end);
  }
}
