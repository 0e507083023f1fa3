/**
 * Memory-flat topology updates: the same RigL, SET and SRigL updates as rigl.ts, set.ts and
 * srigl.ts — bit for bit the same masks, lists, stats and RNG draws — computed from a layer's
 * active positions and values plus a gradient read a few rows at a time, so no temporary is
 * sized by the layer's numel (out·fanIn). Memory is O(nnz + rowsPerChunk·fanIn + out).
 *
 * The dense versions stay the oracle: every selection here is "the n largest keys, ties to the
 * lowest position" exactly as pickLargest defines it. Selections over active weights run on
 * nnz-sized arrays in position order (the same keys in the same order pickLargest sees, so the
 * same result). Layer-wide selections over the gradient are streamed (TopN below); SRigL's
 * per-row regrowth is row-local and streamed row by row; SET's uniform draws walk a virtual
 * candidate array instead of materialising it.
 */
import type { Rng } from '../tensor/rng.js';
import type { UnstructuredStats } from './rigl.js';
import { nthLargest, pickLargest } from './select.js';
import { nmGroups, type NMGroups, type NMStructure } from '../sparse/nm.js';
import type { SriglStats } from './srigl.js';

/** One sparse layer as the memory-flat updates read it. */
export interface SparseLayerView {
  out: number;
  fanIn: number;
  /** Active element positions (r·fanIn + c), strictly ascending; length nnz. */
  pos: Int32Array;
  /** The weights at `pos` (same length). */
  values: Float32Array;
  /**
   * Writes rows [r0, r1) of the dense weight gradient, row-major, into dst[0 .. (r1−r0)·fanIn).
   * May be called several times for the same rows (e.g. one pass to select, one to grow); it must
   * return the same numbers each time. Not needed by SET.
   */
  gradRows?: (r0: number, r1: number, dst: Float32Array) => void;
  /** Rows per gradRows call (≥ 1). Default: enough rows for about 1 M elements (at least 1 row). */
  rowsPerChunk?: number;
}

export interface SparseUpdateResult {
  /** New active positions, strictly ascending. */
  pos: Int32Array;
  /** As TopologyUpdate.grown / dropped in src/dst/update.ts: ascending positions. */
  grown: Uint32Array;
  dropped: Uint32Array;
}

/** Options of sriglUpdateSparse; as the matching fields of SriglInput in srigl.ts. */
export interface SriglSparseOptions {
  /** Layer nonzero budget B, in [out, out·fanIn]. */
  budget: number;
  /** Drop fraction f in [0, 1]. */
  dropFraction: number;
  /** Whether neuron ablation is enabled for the run. */
  ablation: boolean;
  /** Whether this layer may ablate; false for the classifier layer. */
  mayAblate: boolean;
  /** γ_sal; default 0.3. */
  gammaSal?: number;
  /**
   * The caller's per-row ablation flags from the previous update, checked against `pos` (an
   * ablated row must hold no weight) to catch a caller whose flags and positions disagree.
   * newlyAblated / revived are computed from `pos` either way, as sriglUpdate does.
   */
  ablatedBefore?: Uint8Array;
  /**
   * Every active row keeps exactly this many weights and an ablated row's share of the budget
   * goes unused (a fan-in the user fixes; N:M fixes it too). Default: k' = floor(B / (out − |A|)).
   */
  fixedK?: number;
  /**
   * N:M structure (sparse/nm.ts): the row cap of step 4 and the regrowth of step 5 work per
   * group — a group keeps at most its quota by |W|, then grows back to exactly its quota by |G|
   * among its columns not kept. Needs fixedK equal to the structure's row fan-in.
   */
  nm?: NMStructure;
}

/** Elements per gradRows call when the view does not say. */
const DEFAULT_CHUNK_ELEMENTS = 1 << 20;
/** Extra room a layer-wide TopN buffer has over n, so small selections compact rarely. */
const LAYER_SLACK = 4096;
/** The same for one row's regrowth: small, so a row's first compaction comes early and raises τ. */
const ROW_SLACK = 64;

/**
 * Streaming "n largest keys, ties to the lowest position" over keys pushed in ascending position
 * order. The buffer is compacted to its top n (by nthLargest, keeping every key > τ and the
 * earliest keys == τ) whenever it fills. After a compaction the buffer holds n entries that each
 * beat any later key ≤ τ (larger key, or equal key at a lower position), so only keys > τ can
 * still enter; callers test `key > tau` before pushing, which also keeps the hot loop to one
 * compare. Before the first compaction τ = −1 lets every key (all ≥ 0) in; for n = 0, τ = +∞
 * admits none. Entries stay in position order, so the result comes out ascending.
 */
class TopN {
  /** Positions of the buffered keys; after finish(), the picks. */
  readonly at: Int32Array;
  /** Only keys above τ may still be pushed. */
  tau = -1;
  private readonly keys: Float32Array;
  private readonly scratch: Float32Array;
  private count = 0;
  private n = 0;
  private limit = 0;

  /** Up to maxN picks per selection; the buffer holds n + max(n, slack) keys before compacting. */
  constructor(
    maxN: number,
    private readonly slack: number,
  ) {
    const capacity = maxN + Math.max(maxN, slack);
    this.keys = new Float32Array(capacity);
    this.at = new Int32Array(capacity);
    this.scratch = new Float32Array(capacity);
  }

  /** Starts a new selection of n (≤ the constructor's maxN). */
  reset(n: number): void {
    this.n = n;
    this.count = 0;
    this.tau = n > 0 ? -1 : Infinity;
    this.limit = n + Math.max(n, this.slack);
  }

  push(key: number, at: number): void {
    this.keys[this.count] = key;
    this.at[this.count] = at;
    if (++this.count === this.limit) this.compact();
  }

  /** Ends the selection; at[0 .. returned count) are the picked positions, ascending. */
  finish(): number {
    if (this.count > this.n) this.compact();
    return this.count;
  }

  private compact(): void {
    const { keys, at, n } = this;
    const m = this.count;
    this.scratch.set(keys.subarray(0, m));
    const tau = nthLargest(this.scratch, m, n);
    let above = 0;
    for (let i = 0; i < m; i++) if (keys[i] > tau) above++;
    let ties = n - above;
    let w = 0;
    for (let i = 0; i < m; i++) {
      const key = keys[i];
      if (key > tau || (key === tau && ties-- > 0)) {
        keys[w] = key;
        at[w] = at[i];
        w++;
      }
    }
    this.count = w;
    this.tau = tau;
  }
}

function nonFinite(what: string, position: number, v: number): RangeError {
  return new RangeError(`${what}[${position}] is ${v}; topology updates need finite values`);
}

/** Validates the view's geometry and positions; returns the gradient rows per chunk. */
function checkView(what: string, view: SparseLayerView, needsGrad: boolean): number {
  const { out, fanIn, pos, values } = view;
  if (!Number.isInteger(out) || out < 1 || !Number.isInteger(fanIn) || fanIn < 1) {
    throw new RangeError(`${what}: out and fanIn must be positive integers, got out=${out} fanIn=${fanIn}`);
  }
  const numel = out * fanIn;
  // Positions travel as Int32.
  if (numel > 0x7fffffff) throw new RangeError(`${what}: out·fanIn = ${numel} exceeds 2^31 − 1 positions`);
  if (values.length !== pos.length) throw new RangeError(`${what}: values length ${values.length} differs from pos length ${pos.length}`);
  let prev = -1;
  for (let j = 0; j < pos.length; j++) {
    const p = pos[j];
    if (p <= prev || p >= numel) {
      throw new RangeError(`${what}: pos must be strictly ascending in [0, out·fanIn=${numel}), but pos[${j}] = ${p} follows ${prev}`);
    }
    prev = p;
  }
  if (needsGrad && typeof view.gradRows !== 'function') throw new RangeError(`${what}: the view has no gradRows`);
  const rows = view.rowsPerChunk ?? Math.max(1, Math.floor(DEFAULT_CHUNK_ELEMENTS / fanIn));
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`${what}: rowsPerChunk must be an integer ≥ 1, got ${rows}`);
  return Math.min(rows, out);
}

function checkDropFraction(what: string, dropFraction: number): void {
  if (!(dropFraction >= 0 && dropFraction <= 1)) throw new RangeError(`${what}: dropFraction must be in [0, 1], got ${dropFraction}`);
}

/** |values| as Float32 keys, in position order; throws naming the first non-finite weight by its dense position. */
function weightKeys(view: SparseLayerView): Float32Array {
  const { pos, values } = view;
  const keys = new Float32Array(values.length);
  for (let j = 0; j < values.length; j++) {
    const v = values[j];
    if (!Number.isFinite(v)) throw nonFinite('weights', pos[j], v);
    keys[j] = Math.abs(v);
  }
  return keys;
}

/** Reads gradient rows [r0, r1) into the front of `buf` and returns that part. */
function readGradRows(view: SparseLayerView, r0: number, r1: number, buf: Float32Array): Float32Array {
  const g = buf.subarray(0, (r1 - r0) * view.fanIn);
  (view.gradRows as NonNullable<SparseLayerView['gradRows']>)(r0, r1, g);
  return g;
}

/**
 * Offers |G| at positions [from, to) to `top`, reading G[p] from g[p − base] and checking each
 * entry is finite. The hot loop of every gradient scan: one compare per entry.
 */
function scanSegment(g: Float32Array, base: number, from: number, to: number, top: TopN): void {
  let tau = top.tau;
  for (let p = from; p < to; p++) {
    const v = g[p - base];
    // v − v is 0 for every finite v and NaN for ±∞ and NaN.
    if (v - v !== 0) throw nonFinite('grad', p, v);
    const key = Math.abs(v);
    if (key > tau) {
      top.push(key, p);
      tau = top.tau;
    }
  }
}

/**
 * The n largest |G| over positions not in `skip` (ascending), ties to the lowest position, read
 * chunk by chunk. Every gradient entry is checked for finiteness, even when n = 0, as absKeys
 * checks the whole dense gradient. Returns the picked positions, ascending.
 */
function largestGradient(view: SparseLayerView, rows: number, n: number, skip: Int32Array): Uint32Array {
  const { out, fanIn } = view;
  const top = new TopN(n, LAYER_SLACK);
  top.reset(n);
  const buf = new Float32Array(rows * fanIn);
  let s = 0;
  for (let r0 = 0; r0 < out; r0 += rows) {
    const g = readGradRows(view, r0, Math.min(out, r0 + rows), buf);
    const base = r0 * fanIn;
    const end = base + g.length;
    let p = base;
    // Scan the runs between skipped positions; a skipped entry is only checked for finiteness.
    while (p < end) {
      const stop = s < skip.length && skip[s] < end ? skip[s] : end;
      scanSegment(g, base, p, stop, top);
      if (stop < end) {
        const v = g[stop - base];
        if (v - v !== 0) throw nonFinite('grad', stop, v);
        s++;
      }
      p = stop + 1;
    }
  }
  return Uint32Array.from(top.at.subarray(0, top.finish()));
}

/** The kept / dropped split of the active positions by a per-active-index flag. */
function splitByFlag(pos: Int32Array, flag: Uint8Array, nKept: number): { kept: Int32Array; dropped: Uint32Array } {
  const kept = new Int32Array(nKept);
  const dropped = new Uint32Array(pos.length - nKept);
  let a = 0;
  let b = 0;
  for (let j = 0; j < pos.length; j++) {
    if (flag[j]) kept[a++] = pos[j];
    else dropped[b++] = pos[j];
  }
  return { kept, dropped };
}

/** The union of two disjoint ascending lists, ascending. */
function mergeDisjoint(a: Int32Array, b: Uint32Array): Int32Array {
  const merged = new Int32Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let w = 0;
  while (i < a.length && j < b.length) merged[w++] = a[i] < b[j] ? a[i++] : b[j++];
  while (i < a.length) merged[w++] = a[i++];
  while (j < b.length) merged[w++] = b[j++];
  return merged;
}

/** Entries common to two ascending lists. */
function countCommon(a: Uint32Array, b: Uint32Array): number {
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length && j < b.length) {
    if (a[i] < b[j]) i++;
    else if (a[i] > b[j]) j++;
    else {
      n++;
      i++;
      j++;
    }
  }
  return n;
}

/** The drop step RigL and SET share: keep the nKeep largest |W| (ties: lowest position). */
function dropSmallest(view: SparseLayerView, nKeep: number): { kept: Int32Array; dropped: Uint32Array } {
  const nnz = view.pos.length;
  const flag = new Uint8Array(nnz);
  pickLargest(weightKeys(view), { flags: null }, nKeep, flag, new Float32Array(nnz));
  return splitByFlag(view.pos, flag, nKeep);
}

/** riglUpdate (rigl.ts) on a sparse view: the same update in O(nnz + rowsPerChunk·fanIn) memory. */
export function riglUpdateSparse(view: SparseLayerView, dropFraction: number): SparseUpdateResult & { stats: UnstructuredStats } {
  const rows = checkView('riglUpdateSparse', view, true);
  checkDropFraction('riglUpdateSparse', dropFraction);
  const nActive = view.pos.length;
  const nDrop = Math.floor(nActive * dropFraction);
  const { kept, dropped } = dropSmallest(view, nActive - nDrop);
  const grown = largestGradient(view, rows, nDrop, kept);
  return { pos: mergeDisjoint(kept, grown), grown, dropped, stats: { nActive, nDrop, nRegrown: countCommon(dropped, grown) } };
}

/**
 * setUpdate (set.ts) on a sparse view, drawing the same numbers from `rng`. setUpdate shuffles
 * the ascending list of non-kept positions with a partial Fisher–Yates; here that list is
 * virtual: its i-th entry is found by binary search over the kept positions, and only the
 * entries the shuffle has moved are stored (O(nDrop)).
 */
export function setUpdateSparse(view: SparseLayerView, dropFraction: number, rng: Rng): SparseUpdateResult & { stats: UnstructuredStats } {
  checkView('setUpdateSparse', view, false);
  checkDropFraction('setUpdateSparse', dropFraction);
  const nActive = view.pos.length;
  const nDrop = Math.floor(nActive * dropFraction);
  const nKeep = nActive - nDrop;
  const { kept, dropped } = dropSmallest(view, nKeep);
  const m = view.out * view.fanIn - nKeep;
  // The i-th non-kept position is i + j, with j the number of kept positions below it: the first
  // j whose K[j] − j (the count of non-kept positions below K[j], never decreasing) exceeds i.
  const candidate = (i: number): number => {
    let lo = 0;
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (kept[mid] - mid > i) hi = mid;
      else lo = mid + 1;
    }
    return i + lo;
  };
  const moved = new Map<number, number>();
  const grown = new Uint32Array(nDrop);
  for (let i = 0; i < nDrop; i++) {
    const j = i + rng.int(m - i);
    const vi = moved.get(i) ?? candidate(i);
    const vj = j === i ? vi : (moved.get(j) ?? candidate(j));
    // Slot i is never read again; slot j now holds what slot i held.
    moved.delete(i);
    if (j !== i) moved.set(j, vi);
    grown[i] = vj;
  }
  grown.sort();
  return { pos: mergeDisjoint(kept, grown), grown, dropped, stats: { nActive, nDrop, nRegrown: countCommon(dropped, grown) } };
}

/**
 * sriglUpdate (srigl.ts) on a sparse view: the same mask, ablation, k and stats. The gradient is
 * read in two passes when ablation applies and nDrop > 0 (layer-wide saliency, then per-row
 * regrowth), one pass otherwise. Extra memory O(nnz + rowsPerChunk·fanIn + out), plus O(out log out) time for
 * the safety clamp's sort as in sriglUpdate.
 */
export function sriglUpdateSparse(view: SparseLayerView, opts: SriglSparseOptions): SparseUpdateResult & { ablated: Uint8Array; k: number; stats: SriglStats } {
  const what = 'sriglUpdateSparse';
  const rows = checkView(what, view, true);
  const { out, fanIn, pos } = view;
  const { budget, dropFraction, ablation, mayAblate, gammaSal = 0.3, ablatedBefore, fixedK, nm } = opts;
  checkDropFraction(what, dropFraction);
  if (!Number.isInteger(budget) || budget < out || budget > out * fanIn) {
    throw new RangeError(`${what}: budget must be an integer in [out=${out}, out·fanIn=${out * fanIn}] so that 1 ≤ k ≤ fanIn, got ${budget}`);
  }
  if (!(Number.isFinite(gammaSal) && gammaSal >= 0)) throw new RangeError(`${what}: gammaSal must be a finite number ≥ 0, got ${gammaSal}`);
  if (fixedK !== undefined && !(Number.isInteger(fixedK) && fixedK >= 1 && fixedK <= fanIn)) throw new RangeError(`${what}: fixedK must be an integer in [1, fanIn=${fanIn}], got ${fixedK}`);
  const groups = nm === undefined ? null : nmGroups(fanIn, nm);
  if (groups !== null && fixedK !== groups.k) throw new RangeError(`${what}: N:M ${nm?.n}:${nm?.m} gives rows of ${groups.k} weights, so fixedK must be ${groups.k}, got ${fixedK}`);

  // Active entries of row r are pos[rowStart[r] .. rowStart[r + 1]).
  const nActive = pos.length;
  const rowsBefore = new Uint32Array(out);
  for (let j = 0; j < nActive; j++) rowsBefore[(pos[j] / fanIn) | 0]++;
  const rowStart = new Int32Array(out + 1);
  for (let r = 0; r < out; r++) rowStart[r + 1] = rowStart[r] + rowsBefore[r];
  if (ablatedBefore !== undefined) {
    if (ablatedBefore.length !== out) throw new RangeError(`${what}: ablatedBefore has length ${ablatedBefore.length}, expected out=${out}`);
    for (let r = 0; r < out; r++) {
      if (ablatedBefore[r] > 1) throw new RangeError(`${what}: ablatedBefore[${r}] = ${ablatedBefore[r]}, expected 0 or 1`);
      if (ablatedBefore[r] === 1 && rowsBefore[r] > 0) throw new RangeError(`${what}: row ${r} is marked ablated but holds ${rowsBefore[r]} weights`);
    }
  }
  const keysW = weightKeys(view);
  const scratch = new Float32Array(nActive);

  // 1. Drop count.
  const nDrop = Math.floor(nActive * dropFraction);
  const nKeep = nActive - nDrop;
  const k0 = Math.floor(budget / out);
  const nMin = Math.ceil(budget / fanIn);

  // 2. Saliency (top nKeep |W| among active ∪ top nDrop |G| over all positions) and ablation.
  const ablated = new Uint8Array(out);
  let threshold = 0;
  if (ablation && mayAblate) {
    const salientW = new Uint8Array(nActive);
    pickLargest(keysW, { flags: null }, nKeep, salientW, scratch);
    // With nothing to pick the pass is skipped: the regrowth pass checks every entry anyway.
    const salientG = nDrop > 0 ? largestGradient(view, rows, nDrop, new Int32Array(0)) : new Uint32Array(0);
    const c = new Uint32Array(out);
    for (let j = 0; j < nActive; j++) c[(pos[j] / fanIn) | 0] += salientW[j];
    // A position salient by both |W| and |G| counts once.
    let j = 0;
    for (let i = 0; i < salientG.length; i++) {
      const p = salientG[i];
      while (j < nActive && pos[j] < p) j++;
      if (!(j < nActive && pos[j] === p && salientW[j] === 1)) c[(p / fanIn) | 0]++;
    }
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

  // 3. New fan-in (unless fixed: then an ablated row's budget goes unused).
  const k = fixedK ?? Math.floor(budget / (out - ablatedCount));

  // 4. Prune: ablated rows lose everything; keep the nKeep largest |W| layer-wide; cap rows at k.
  const eligible = new Uint8Array(nActive);
  for (let r = 0; r < out; r++) if (!ablated[r]) eligible.fill(1, rowStart[r], rowStart[r + 1]);
  const kept = new Uint8Array(nActive);
  pickLargest(keysW, { flags: eligible }, nKeep, kept, scratch);
  const keptPerRow = new Uint32Array(out);
  for (let r = 0; r < out; r++) {
    const a = rowStart[r];
    const b = rowStart[r + 1];
    if (groups !== null) {
      keptPerRow[r] = capGroups(groups, pos, r * fanIn, a, b, keysW, kept);
      continue;
    }
    let n = 0;
    for (let j = a; j < b; j++) n += kept[j];
    if (n > k) {
      // Reuse `eligible` (no longer needed) to hold this row's kept set while it is re-picked.
      eligible.set(kept.subarray(a, b), a);
      kept.fill(0, a, b);
      n = pickLargest(keysW, { flags: eligible }, k, kept, scratch, a, b);
    }
    keptPerRow[r] = n;
  }
  let nKept = 0;
  for (let r = 0; r < out; r++) nKept += keptPerRow[r];

  // 5. Grow every active row to exactly k by largest |G| among its positions not kept, row by
  // row; the new positions are written in order as each row is finished.
  const nnzAfter = k * (out - ablatedCount);
  const nextPos = new Int32Array(nnzAfter);
  const grown = new Uint32Array(nnzAfter - nKept);
  let w = 0;
  let gw = 0;
  const top = new TopN(k, ROW_SLACK);
  const buf = new Float32Array(rows * fanIn);
  const grower = groups === null ? null : new GroupGrower(groups);
  for (let r0 = 0; r0 < out; r0 += rows) {
    const r1 = Math.min(out, r0 + rows);
    const g = readGradRows(view, r0, r1, buf);
    const chunkBase = r0 * fanIn;
    for (let r = r0; r < r1; r++) {
      const base = r * fanIn;
      const a = rowStart[r];
      const b = rowStart[r + 1];
      if (grower !== null) {
        const n = grower.grow(g, r * fanIn - chunkBase, base, pos, a, b, kept, ablated[r] === 1, nextPos, w, grown, gw);
        w += n.written;
        gw += n.grown;
        continue;
      }
      top.reset(ablated[r] ? 0 : k - keptPerRow[r]);
      // Scan the runs between the row's kept positions; a kept entry is only checked for finiteness.
      let p = base;
      for (let j = a; j <= b; j++) {
        if (j < b && kept[j] === 0) continue;
        const stop = j < b ? pos[j] : base + fanIn;
        scanSegment(g, chunkBase, p, stop, top);
        if (j < b) {
          const v = g[stop - chunkBase];
          if (v - v !== 0) throw nonFinite('grad', stop, v);
        }
        p = stop + 1;
      }
      const nGrow = top.finish();
      // Merge the row's kept and grown positions, both ascending.
      let t = 0;
      let j = a;
      for (;;) {
        while (j < b && kept[j] === 0) j++;
        const keptAt = j < b ? pos[j] : base + fanIn;
        const grownAt = t < nGrow ? top.at[t] : base + fanIn;
        if (keptAt === base + fanIn && grownAt === base + fanIn) break;
        if (keptAt < grownAt) {
          nextPos[w++] = keptAt;
          j++;
        } else {
          nextPos[w++] = grownAt;
          grown[gw++] = grownAt;
          t++;
        }
      }
    }
  }

  // 6. The caller zeroes W and optimizer state at dropped ∪ grown (see update.ts).
  const dropped = new Uint32Array(nActive - nKept);
  let d = 0;
  for (let j = 0; j < nActive; j++) if (kept[j] === 0) dropped[d++] = pos[j];
  let newlyAblated = 0;
  let revived = 0;
  for (let r = 0; r < out; r++) {
    if (ablated[r] && rowsBefore[r] > 0) newlyAblated++;
    if (!ablated[r] && rowsBefore[r] === 0) revived++;
  }
  return {
    pos: nextPos,
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
      nnz: nnzAfter,
      nGrown: grown.length,
      nDropped: dropped.length,
    },
  };
}

/**
 * Step 4 for N:M, one row: among its kept entries (kept[j] for j in [a, b)), a group holding
 * more than its quota keeps only its quota largest |W| (ties: lowest position). Returns the
 * row's kept count.
 */
function capGroups(groups: NMGroups, pos: Int32Array, base: number, a: number, b: number, keysW: Float32Array, kept: Uint8Array): number {
  const count = new Int32Array(groups.count);
  for (let j = a; j < b; j++) if (kept[j]) count[groups.groupOf[pos[j] - base]]++;
  let n = 0;
  for (let j = a; j < b; j++) {
    if (!kept[j]) continue;
    const g = groups.groupOf[pos[j] - base];
    if (count[g] <= groups.quota[g]) {
      n++;
      continue;
    }
    // Rank this entry within its (overfull) group: it stays when fewer than quota entries beat it.
    let better = 0;
    for (let i = a; i < b; i++) {
      if (i === j || !kept[i] || groups.groupOf[pos[i] - base] !== g) continue;
      if (keysW[i] > keysW[j] || (keysW[i] === keysW[j] && i < j)) better++;
    }
    if (better < groups.quota[g]) n++;
    else kept[j] = 2;
  }
  // 2 marks the entries capped away, so the ranking above saw the group as it was.
  for (let j = a; j < b; j++) if (kept[j] === 2) kept[j] = 0;
  return n;
}

/** Step 5 for N:M: fills every group of an active row to its quota by largest |G| among its columns not kept. */
class GroupGrower {
  private readonly isKept: Uint8Array;
  private readonly cand: Int32Array;
  private readonly grownCols: Int32Array;

  constructor(private readonly groups: NMGroups) {
    this.isKept = new Uint8Array(groups.groupOf.length);
    this.cand = new Int32Array(groups.groupOf.length);
    this.grownCols = new Int32Array(groups.k);
  }

  /**
   * Row at dense offset `base`, gradient row at g[off .. off + fanIn); writes the row's new
   * positions (kept and grown, ascending) to nextPos from w, and its grown ones to grown from gw.
   */
  grow(
    g: Float32Array, off: number, base: number, pos: Int32Array, a: number, b: number, kept: Uint8Array, ablated: boolean,
    nextPos: Int32Array, w: number, grown: Uint32Array, gw: number,
  ): { written: number; grown: number } {
    const { groups, isKept, cand, grownCols } = this;
    const fanIn = isKept.length;
    for (let c = 0; c < fanIn; c++) {
      const v = g[off + c];
      if (v - v !== 0) throw nonFinite('grad', base + c, v);
    }
    if (ablated) return { written: 0, grown: 0 };
    isKept.fill(0);
    for (let j = a; j < b; j++) if (kept[j]) isKept[pos[j] - base] = 1;
    let nGrown = 0;
    for (let q = 0; q < groups.count; q++) {
      let have = 0;
      let m = 0;
      for (let i = groups.start[q]; i < groups.start[q + 1]; i++) {
        const c = groups.cols[i];
        if (isKept[c]) have++;
        else cand[m++] = c;
      }
      // The largest |G| first, ties to the lowest column (candidates are ascending).
      for (let t = 0; t < groups.quota[q] - have; t++) {
        let best = t;
        for (let i = t + 1; i < m; i++) {
          const x = Math.abs(g[off + cand[i]]), y = Math.abs(g[off + cand[best]]);
          if (x > y || (x === y && cand[i] < cand[best])) best = i;
        }
        const c = cand[best];
        cand[best] = cand[t];
        cand[t] = c;
        grownCols[nGrown++] = c;
      }
    }
    const cols = grownCols.subarray(0, nGrown).sort();
    // Merge the kept and grown columns, both ascending.
    let t = 0;
    let j = a;
    let written = 0;
    for (;;) {
      while (j < b && !kept[j]) j++;
      const keptAt = j < b ? pos[j] : base + fanIn;
      const grownAt = t < nGrown ? base + cols[t] : base + fanIn;
      if (keptAt === base + fanIn && grownAt === base + fanIn) break;
      if (keptAt < grownAt) {
        nextPos[w + written++] = keptAt;
        j++;
      } else {
        nextPos[w + written++] = grownAt;
        grown[gw + t] = grownAt;
        t++;
      }
    }
    return { written, grown: nGrown };
  }
}
