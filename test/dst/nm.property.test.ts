// N:M structured SRigL / RigL and a user-fixed fan-in: the invariants after any sequence of
// updates (fast-check), an independent dense oracle for the N:M update without ablation, and
// the group layout itself.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Rng } from '../../src/tensor/rng.js';
import { assertConstantFanIn, constantFanInMask, nnz, rowCounts } from '../../src/sparse/mask.js';
import { assertNM, nmGroups, nmMask, parseNM, type NMStructure } from '../../src/sparse/nm.js';
import { sriglUpdateSparse } from '../../src/dst/sparse-update.js';
import { denseView } from '../../src/dst/topology.js';

/** Keys with many ties (a coarse grid) or continuous, never NaN. */
function fill(a: Float32Array, rng: Rng, ties: boolean): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] = ties ? Math.round(rng.normal() * 2) / 2 : rng.normal();
  return a;
}

/** Positions in a mask, ascending. */
function positions(mask: Uint8Array): Int32Array {
  const out: number[] = [];
  mask.forEach((v, i) => v && out.push(i));
  return Int32Array.from(out);
}

/**
 * The N:M update without ablation, written plainly over dense arrays: keep the nKeep largest
 * |W| among active weights (ties: lowest position), then in every group of every row take the
 * largest |G| among columns not kept (ties: lowest column) until the group holds its quota.
 */
function nmOracle(w: Float32Array, g: Float32Array, mask: Uint8Array, out: number, fanIn: number, s: NMStructure, f: number): Uint8Array {
  const active = [...positions(mask)];
  const nKeep = active.length - Math.floor(active.length * f);
  const kept = new Uint8Array(mask.length);
  active.sort((a, b) => Math.abs(w[b]) - Math.abs(w[a]) || a - b).slice(0, nKeep).forEach((p) => (kept[p] = 1));
  const next = kept.slice();
  const groups = nmGroups(fanIn, s);
  for (let r = 0; r < out; r++) {
    for (let q = 0; q < groups.count; q++) {
      const cols = [...groups.cols.subarray(groups.start[q], groups.start[q + 1])].map((c) => r * fanIn + c);
      const have = cols.filter((p) => kept[p]).length;
      cols.filter((p) => !kept[p]).sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]) || a - b).slice(0, groups.quota[q] - have).forEach((p) => (next[p] = 1));
    }
  }
  return next;
}

const nmCase = fc.record({
  out: fc.integer({ min: 1, max: 24 }),
  channels: fc.integer({ min: 1, max: 40 }),
  taps: fc.constantFrom(1, 1, 4, 9),
  m: fc.integer({ min: 2, max: 16 }),
  nFrac: fc.integer({ min: 0, max: 1000 }),
  ablation: fc.boolean(),
  gammaSal: fc.integer({ min: 0, max: 100 }).map((v) => v / 100),
  ties: fc.boolean(),
  rowsPerChunk: fc.integer({ min: 1, max: 30 }),
  seed: fc.integer(),
  // Integer-based fractions: fc.double concentrates near 0.
  fractions: fc.array(fc.integer({ min: 0, max: 1000 }).map((v) => v / 1000), { minLength: 1, maxLength: 5 }),
});

describe('N:M structure', () => {
  test('groups run along input channels at each tap; the partial last group keeps min(N, r)', () => {
    // Conv2d with 6 channels, 2 taps, 2:4: groups (channels 0-3, tap 0), (0-3, tap 1), (4-5, tap 0), (4-5, tap 1).
    const g = nmGroups(12, { n: 3, m: 4, taps: 2 });
    assert.equal(g.count, 4);
    assert.deepEqual([...g.cols.subarray(g.start[0], g.start[1])], [0, 2, 4, 6]);
    assert.deepEqual([...g.cols.subarray(g.start[1], g.start[2])], [1, 3, 5, 7]);
    assert.deepEqual([...g.cols.subarray(g.start[2], g.start[3])], [8, 10]);
    assert.deepEqual([...g.quota], [3, 3, 2, 2]);
    assert.equal(g.k, 10);
    assert.equal(nmGroups(784, { n: 1, m: 16, taps: 1 }).k, 49);
    assert.equal(nmGroups(300, { n: 2, m: 8, taps: 1 }).k, 2 * 37 + 2);
  });

  test('parseNM and its errors', () => {
    assert.deepEqual(parseNM('2:4'), { n: 2, m: 4 });
    assert.deepEqual(parseNM(' 1 : 64 '), { n: 1, m: 64 });
    for (const bad of ['5:4', '0:4', '2:0', '4:4', '1:65', 'x', '2-4', '2:4:8']) assert.throws(() => parseNM(bad), RangeError, bad);
  });

  test('initial masks hold exactly the quota of every group', () => {
    fc.assert(fc.property(nmCase, (c) => {
      const n = 1 + Math.floor((c.nFrac / 1001) * (c.m - 1));
      const s = { n, m: c.m, taps: c.taps };
      const fanIn = c.channels * c.taps;
      const mask = nmMask(c.out, fanIn, s, new Rng(c.seed));
      assertNM(mask, c.out, fanIn, s);
      assert.equal(nnz(mask), c.out * nmGroups(fanIn, s).k);
    }), { numRuns: 200 });
  });
});

describe('N:M and fixed fan-in updates', () => {
  test('N:M after any sequence of updates: every active row holds its quota per group, ablated rows none, k and (without ablation) nnz never change; equals the dense oracle without ablation', () => {
    fc.assert(fc.property(nmCase, (c) => {
      const n = 1 + Math.floor((c.nFrac / 1001) * (c.m - 1));
      const s: NMStructure = { n, m: c.m, taps: c.taps };
      const fanIn = c.channels * c.taps;
      const { out } = c;
      const k = nmGroups(fanIn, s).k;
      const rng = new Rng(c.seed);
      let mask = nmMask(out, fanIn, s, rng);
      const w = fill(new Float32Array(out * fanIn), rng, c.ties);
      const g = new Float32Array(out * fanIn);
      for (const f of c.fractions) {
        fill(g, rng, c.ties);
        for (let i = 0; i < w.length; i++) if (!mask[i]) w[i] = 0;
        const view = { ...denseView(out, fanIn, mask, w, g), rowsPerChunk: c.rowsPerChunk };
        const r = sriglUpdateSparse(view, { budget: k * out, dropFraction: f, ablation: c.ablation, mayAblate: true, gammaSal: c.gammaSal, fixedK: k, nm: s });
        const next = new Uint8Array(mask.length);
        r.pos.forEach((p) => (next[p] = 1));
        assertNM(next, out, fanIn, s, r.ablated);
        const nAbl = r.ablated.reduce((a, b) => a + b, 0);
        assert.equal(r.k, k);
        assert.equal(r.pos.length, k * (out - nAbl));
        if (!c.ablation) {
          assert.equal(nAbl, 0);
          assert.deepEqual(next, nmOracle(w, g, mask, out, fanIn, s, f));
        }
        // grown and dropped describe the change exactly.
        const grown = new Set(r.grown), dropped = new Set(r.dropped);
        for (let i = 0; i < mask.length; i++) {
          if (next[i] && !mask[i]) assert.ok(grown.has(i), `new position ${i} not listed as grown`);
          if (mask[i] && !next[i]) assert.ok(dropped.has(i), `removed position ${i} not listed as dropped`);
        }
        // Regrown weights restart at 0; the next update sees the new mask.
        for (const p of r.grown) w[p] = 0;
        for (const p of r.dropped) w[p] = 0;
        for (const p of r.grown) w[p] = rng.normal();
        mask = next;
      }
    }), { numRuns: 300 });
  });

  test('a fixed fan-in keeps exactly K per active row through ablation; the freed budget goes unused', () => {
    fc.assert(fc.property(
      fc.record({ out: fc.integer({ min: 2, max: 30 }), fanIn: fc.integer({ min: 2, max: 60 }), kFrac: fc.integer({ min: 0, max: 1000 }), gammaSal: fc.integer({ min: 0, max: 100 }), seed: fc.integer(), steps: fc.integer({ min: 1, max: 5 }) }),
      (c) => {
        const K = 1 + Math.floor((c.kFrac / 1001) * (c.fanIn - 1));
        const rng = new Rng(c.seed);
        let mask = constantFanInMask(c.out, c.fanIn, K, rng);
        const w = fill(new Float32Array(mask.length), rng, false);
        const g = new Float32Array(mask.length);
        let ablatedSeen = 0;
        for (let s = 0; s < c.steps; s++) {
          fill(g, rng, false);
          for (let i = 0; i < w.length; i++) if (!mask[i]) w[i] = 0;
          const r = sriglUpdateSparse(denseView(c.out, c.fanIn, mask, w, g), { budget: K * c.out, dropFraction: 0.3, ablation: true, mayAblate: true, gammaSal: c.gammaSal / 100, fixedK: K });
          mask = new Uint8Array(mask.length);
          r.pos.forEach((p) => (mask[p] = 1));
          assert.equal(r.k, K);
          assertConstantFanIn(mask, c.out, c.fanIn, K, r.ablated);
          const nAbl = r.ablated.reduce((a, b) => a + b, 0);
          ablatedSeen = Math.max(ablatedSeen, nAbl);
          assert.equal(nnz(mask), K * (c.out - nAbl), 'no redistribution: nnz = K · active rows');
          for (const p of r.grown) w[p] = rng.normal();
        }
        // Rows are at most K, so no row count exceeds it even in the free-budget case.
        assert.ok(Math.max(...rowCounts(mask, c.out, c.fanIn)) <= K);
      },
    ), { numRuns: 200 });
  });

  test('fixedK that disagrees with the N:M row fan-in is refused', () => {
    const s = { n: 1, m: 4, taps: 1 };
    const mask = nmMask(2, 8, s, new Rng(1));
    const view = denseView(2, 8, mask, new Float32Array(16).fill(1), new Float32Array(16));
    assert.throws(() => sriglUpdateSparse(view, { budget: 4, dropFraction: 0.5, ablation: false, mayAblate: false, fixedK: 3, nm: s }), /fixedK must be 2/);
  });
});
