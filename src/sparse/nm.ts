/**
 * N:M structured sparsity over a layer's rows: every active row keeps exactly N of every group
 * of M consecutive inputs. A row's fan-in is laid out [channels, taps] — a Linear layer has one
 * tap per input, a Conv2d the kh·kw taps of each input channel — and the groups run along the
 * input-channel axis: group (c0, tap) holds channels c0·M … c0·M + M − 1 at that tap, i.e. the
 * M weights a filter applies to M consecutive input channels at one kernel position (PyTorch's
 * weight[o, c0·M : c0·M + M, i, j]). When the channel count is not a multiple of M, the last
 * group of each tap holds r = C mod M channels and keeps min(N, r) of them. A row's fan-in is
 * therefore k = taps · (N·⌊C/M⌋ + min(N, C mod M)), the same for every active row: N:M is a
 * special case of constant fan-in.
 */
import { Rng } from '../tensor/rng.js';
import { rowCounts } from './mask.js';

/** N of every M, with 1 ≤ N < M ≤ 64. */
export interface NMSpec {
  n: number;
  m: number;
}

/** N:M on a layer whose fan-in is `taps` kernel positions per input channel (1 for Linear). */
export interface NMStructure extends NMSpec {
  taps: number;
}

/** The largest M accepted (an N:M condensed row stores its offsets within a group in a byte). */
export const NM_MAX_M = 64;

/** Throws unless 1 ≤ n < m ≤ NM_MAX_M are integers. */
export function checkNM(spec: NMSpec, what = 'N:M'): void {
  const { n, m } = spec;
  if (!Number.isInteger(n) || !Number.isInteger(m) || n < 1 || m < 2 || n >= m || m > NM_MAX_M) {
    throw new RangeError(`${what}: need integers 1 ≤ N < M ≤ ${NM_MAX_M}, got ${n}:${m}`);
  }
}

/** Parses "N:M" (e.g. "2:4"); throws a RangeError naming the text. */
export function parseNM(text: string): NMSpec {
  const match = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(text);
  if (match === null) throw new RangeError(`expected N:M such as 2:4, got '${text}'`);
  const spec = { n: Number(match[1]), m: Number(match[2]) };
  checkNM(spec, `'${text}'`);
  return spec;
}

/** How one row's columns fall into groups, the same for every row of a layer. */
export interface NMGroups {
  /** Groups per row. */
  count: number;
  /** Columns of group g: cols[start[g] .. start[g + 1]), ascending. */
  start: Int32Array;
  cols: Int32Array;
  /** Weights group g keeps: min(N, its size). */
  quota: Int32Array;
  /** Group of each column [fanIn]. */
  groupOf: Int32Array;
  /** Σ quota: the row fan-in k. */
  k: number;
}

/** The groups of a row of `fanIn` columns under `s` (fanIn must be a multiple of s.taps). */
export function nmGroups(fanIn: number, s: NMStructure): NMGroups {
  checkNM(s);
  if (!Number.isInteger(s.taps) || s.taps < 1 || fanIn % s.taps !== 0) throw new RangeError(`N:M: fan-in ${fanIn} is not a whole number of channels of ${s.taps} taps`);
  const channels = fanIn / s.taps;
  const perTap = Math.ceil(channels / s.m);
  const count = perTap * s.taps;
  const start = new Int32Array(count + 1);
  const cols = new Int32Array(fanIn);
  const quota = new Int32Array(count);
  const groupOf = new Int32Array(fanIn);
  let w = 0;
  let k = 0;
  for (let gc = 0; gc < perTap; gc++) {
    const c0 = gc * s.m;
    const size = Math.min(s.m, channels - c0);
    for (let tap = 0; tap < s.taps; tap++) {
      const g = gc * s.taps + tap;
      start[g] = w;
      for (let c = c0; c < c0 + size; c++) {
        const col = c * s.taps + tap;
        cols[w++] = col;
        groupOf[col] = g;
      }
      quota[g] = Math.min(s.n, size);
      k += quota[g];
    }
  }
  // Groups were laid out gc-major, so start[] ascends with g.
  start[count] = w;
  return { count, start, cols, quota, groupOf, k };
}

/** Initial N:M mask: in every row, each group keeps its quota of columns chosen uniformly at random. */
export function nmMask(out: number, fanIn: number, s: NMStructure, rng: Rng): Uint8Array {
  const g = nmGroups(fanIn, s);
  const mask = new Uint8Array(out * fanIn);
  const perm = new Int32Array(s.m);
  for (let r = 0; r < out; r++) {
    const base = r * fanIn;
    for (let j = 0; j < g.count; j++) {
      const a = g.start[j];
      const size = g.start[j + 1] - a;
      for (let i = 0; i < size; i++) perm[i] = g.cols[a + i];
      for (let i = 0; i < g.quota[j]; i++) {
        const pick = i + rng.int(size - i);
        const t = perm[i];
        perm[i] = perm[pick];
        perm[pick] = t;
        mask[base + perm[i]] = 1;
      }
    }
  }
  return mask;
}

/**
 * Throws unless every row not ablated keeps exactly its quota in every group and every ablated
 * row (ablated[r] = 1) holds no weight.
 */
export function assertNM(mask: Uint8Array, out: number, fanIn: number, s: NMStructure, ablated?: Uint8Array): void {
  if (mask.length !== out * fanIn) throw new RangeError(`assertNM: mask length ${mask.length} does not match out·fanIn = ${out * fanIn}`);
  const g = nmGroups(fanIn, s);
  const counts = rowCounts(mask, out, fanIn);
  for (let r = 0; r < out; r++) {
    const base = r * fanIn;
    if (ablated !== undefined && ablated[r]) {
      if (counts[r] !== 0) throw new RangeError(`N:M violated: row ${r} is ablated but holds ${counts[r]} weights`);
      continue;
    }
    for (let j = 0; j < g.count; j++) {
      let c = 0;
      for (let i = g.start[j]; i < g.start[j + 1]; i++) {
        const v = mask[base + g.cols[i]];
        if (v > 1) throw new RangeError(`N:M violated: mask[${base + g.cols[i]}] = ${v}, expected 0 or 1`);
        c += v;
      }
      if (c !== g.quota[j]) throw new RangeError(`N:M violated: row ${r} group ${j} holds ${c} weights, expected ${g.quota[j]} (${s.n}:${s.m})`);
    }
  }
}

/** "2:4" */
export function formatNM(s: NMSpec): string {
  return `${s.n}:${s.m}`;
}
