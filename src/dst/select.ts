/**
 * Top-n selection by key with deterministic tie-breaking, the primitive every topology update
 * is built from. "The n largest" is computed as: find the n-th largest key τ by quickselect
 * (expected O(m)), take every key > τ, then the lowest-index keys equal to τ until n are
 * taken. No sort, and the result depends only on the keys, never on the pivot choices.
 */

/**
 * The n-th largest (1-based) of values[0..m); may reorder values[0..m). Quickselect with a
 * median-of-three pivot and a three-way partition, so long runs of equal keys (zeros, ties)
 * cost linear time. Expected O(m); worst case O(m²) on adversarial orders only. From
 * RADIX_MIN values on, a radix select (nthLargestRadix: O(m) always, no reordering).
 */
export function nthLargest(values: Float32Array, m: number, n: number): number {
  if (!(n >= 1 && n <= m && m <= values.length)) throw new RangeError(`nthLargest: need 1 ≤ n ≤ m ≤ length, got n=${n} m=${m} length=${values.length}`);
  if (m >= RADIX_MIN) return nthLargestRadix(values, m, n);
  const target = n - 1;
  let lo = 0;
  let hi = m - 1;
  while (lo < hi) {
    const a = values[lo];
    const b = values[(lo + hi) >>> 1];
    const c = values[hi];
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    // Descending order: [lo, lt) > pivot, [lt, gt] == pivot, (gt, hi] < pivot.
    let lt = lo;
    let gt = hi;
    let i = lo;
    while (i <= gt) {
      const v = values[i];
      if (v > pivot) {
        values[i] = values[lt];
        values[lt] = v;
        lt++;
        i++;
      } else if (v < pivot) {
        values[i] = values[gt];
        values[gt] = v;
        gt--;
      } else {
        i++;
      }
    }
    if (target < lt) hi = lt - 1;
    else if (target > gt) lo = gt + 1;
    else return pivot;
  }
  return values[lo];
}

/** From this many values on, nthLargest selects by radix (two histogram passes) instead of quickselect. */
const RADIX_MIN = 1 << 15;
const HIGH = new Uint32Array(1 << 16);
const LOW = new Uint32Array(1 << 16);
const ONE_U32 = new Uint32Array(1);
const ONE_F32 = new Float32Array(ONE_U32.buffer);

/** A float's bits as a u32 whose unsigned order is the float order (−0 just below +0). */
function orderedBits(b: number): number {
  return (b & 0x80000000 ? ~b : b | 0x80000000) >>> 0;
}

/**
 * The n-th largest of values[0..m) by radix select over the ordered bits: one pass histograms
 * the high 16 bits and finds the bucket holding the n-th largest, a second pass histograms the
 * low 16 bits within that bucket. Two streaming passes, no reordering; the value equals the one
 * quickselect returns (only −0 and +0 are told apart, and they compare equal as floats).
 */
function nthLargestRadix(values: Float32Array, m: number, n: number): number {
  const bits = new Uint32Array(values.buffer, values.byteOffset, m);
  HIGH.fill(0);
  for (let i = 0; i < m; i++) HIGH[orderedBits(bits[i]) >>> 16]++;
  let rest = n;
  let hi = 0xffff;
  for (; hi > 0 && HIGH[hi] < rest; hi--) rest -= HIGH[hi];
  LOW.fill(0);
  for (let i = 0; i < m; i++) {
    const k = orderedBits(bits[i]);
    if (k >>> 16 === hi) LOW[k & 0xffff]++;
  }
  let lo = 0xffff;
  for (; lo > 0 && LOW[lo] < rest; lo--) rest -= LOW[lo];
  const k = ((hi << 16) | lo) >>> 0;
  ONE_U32[0] = k & 0x80000000 ? k & 0x7fffffff : ~k >>> 0;
  return ONE_F32[0];
}

/** Which positions may be picked: those i in [start, end) with `flags[i] === value`; all of them when flags is null. */
export interface Eligibility {
  flags: Uint8Array | null;
  value?: 0 | 1;
}

/**
 * Sets picked[i] = 1 for the n eligible positions in [start, end) with the largest key (all
 * eligible positions when there are at most n), ties going to the lowest index. Keys must not
 * be NaN. `scratch` must hold at least end − start floats. Returns the number of positions
 * picked. Expected O(end − start).
 */
export function pickLargest(
  key: Float32Array,
  eligible: Eligibility,
  n: number,
  picked: Uint8Array,
  scratch: Float32Array,
  start = 0,
  end = key.length,
): number {
  const flags = eligible.flags;
  const want = eligible.value ?? 1;
  if (n <= 0) return 0;
  // The loops come in two versions, with and without flags, so neither tests for null per element.
  let m = 0;
  if (flags === null) {
    m = end - start;
    scratch.set(key.subarray(start, end));
  } else {
    for (let i = start; i < end; i++) if (flags[i] === want) scratch[m++] = key[i];
  }
  if (n >= m) {
    if (flags === null) picked.fill(1, start, end);
    else for (let i = start; i < end; i++) if (flags[i] === want) picked[i] = 1;
    return m;
  }
  const tau = nthLargest(scratch, m, n);
  let count = 0;
  if (flags === null) {
    for (let i = start; i < end; i++) if (key[i] > tau) { picked[i] = 1; count++; }
    for (let i = start; i < end && count < n; i++) if (key[i] === tau) { picked[i] = 1; count++; }
  } else {
    for (let i = start; i < end; i++) if (flags[i] === want && key[i] > tau) { picked[i] = 1; count++; }
    for (let i = start; i < end && count < n; i++) if (flags[i] === want && key[i] === tau) { picked[i] = 1; count++; }
  }
  return count;
}

/** |x| as Float32 keys; throws naming the first non-finite entry. */
export function absKeys(x: Float32Array, what: string): Float32Array {
  const keys = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (!Number.isFinite(v)) throw new RangeError(`${what}[${i}] is ${v}; topology updates need finite values`);
    keys[i] = Math.abs(v);
  }
  return keys;
}

/** Indices i (ascending) where a[i] === 1 and b[i] === 0. */
export function difference(a: Uint8Array, b: Uint8Array): Uint32Array {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === 1 && b[i] === 0) n++;
  const idx = new Uint32Array(n);
  n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === 1 && b[i] === 0) idx[n++] = i;
  return idx;
}
