/**
 * Slow, obvious reference implementations of the topology updates (full sorts, sets), written
 * straight from SRIGL.md §3–4, used as oracles for the quickselect-based versions in src/dst/,
 * and the random-value generator the property tests share.
 */
import { Rng } from '../../src/tensor/rng.js';

/** Random values; in 'ties' mode from a tiny set including zeros, so ties are everywhere. */
export function fillValues(a: Float32Array, rng: Rng, ties: boolean): Float32Array {
  const pool = [-1, -0.5, 0, 0, 0.5, 1];
  for (let i = 0; i < a.length; i++) a[i] = ties ? pool[rng.int(pool.length)] : rng.normal();
  return a;
}

/** The n candidates with the largest key (ties: lowest index), by a full sort. */
export function topByKey(candidates: number[], key: (i: number) => number, n: number): Set<number> {
  const sorted = [...candidates].sort((a, b) => key(b) - key(a) || a - b);
  return new Set(sorted.slice(0, Math.max(0, n)));
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

export function refRigl(w: Float32Array, g: Float32Array, mask: Uint8Array, f: number): Uint8Array {
  const active = range(mask.length).filter((i) => mask[i] === 1);
  const nDrop = Math.floor(active.length * f);
  const kept = topByKey(active, (i) => Math.abs(w[i]), active.length - nDrop);
  const grow = topByKey(range(mask.length).filter((i) => !kept.has(i)), (i) => Math.abs(g[i]), nDrop);
  return Uint8Array.from(range(mask.length), (i) => (kept.has(i) || grow.has(i) ? 1 : 0));
}

export interface RefSriglInput {
  w: Float32Array;
  g: Float32Array;
  mask: Uint8Array;
  out: number;
  fanIn: number;
  budget: number;
  f: number;
  ablate: boolean;
  gammaSal: number;
}

export function refSrigl(x: RefSriglInput): { mask: Uint8Array; ablated: Uint8Array; k: number } {
  const { w, g, mask, out, fanIn, budget, f } = x;
  const rowOf = (i: number) => Math.floor(i / fanIn);
  const all = range(out * fanIn);
  const active = all.filter((i) => mask[i] === 1);
  const nDrop = Math.floor(active.length * f);
  const nKeep = active.length - nDrop;
  const ablated = new Uint8Array(out);
  if (x.ablate) {
    const salient = new Set([...topByKey(active, (i) => Math.abs(w[i]), nKeep), ...topByKey(all, (i) => Math.abs(g[i]), nDrop)]);
    const c = new Array<number>(out).fill(0);
    for (const i of salient) c[rowOf(i)]++;
    let t = Math.max(1, Math.floor(x.gammaSal * Math.floor(budget / out)));
    const nMin = Math.ceil(budget / fanIn);
    if (c.filter((cj) => cj >= t).length < nMin) t = [...c].sort((a, b) => b - a)[nMin - 1];
    for (let r = 0; r < out; r++) if (c[r] < t) ablated[r] = 1;
  }
  const nAbl = ablated.reduce((a, b) => a + b, 0);
  const k = Math.floor(budget / (out - nAbl));
  const keptRows = range(out).map(() => [] as number[]);
  for (const i of topByKey(active.filter((i) => !ablated[rowOf(i)]), (i) => Math.abs(w[i]), nKeep)) keptRows[rowOf(i)].push(i);
  const kept = new Set<number>();
  for (const row of keptRows) for (const i of topByKey(row, (i) => Math.abs(w[i]), k)) kept.add(i);
  const next = new Uint8Array(out * fanIn);
  for (const i of kept) next[i] = 1;
  for (let r = 0; r < out; r++) {
    if (ablated[r]) continue;
    const row = range(fanIn).map((j) => r * fanIn + j);
    const have = row.filter((i) => kept.has(i)).length;
    for (const i of topByKey(row.filter((i) => !kept.has(i)), (i) => Math.abs(g[i]), k - have)) next[i] = 1;
  }
  return { mask: next, ablated, k };
}
