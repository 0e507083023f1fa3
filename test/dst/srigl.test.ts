import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sriglUpdate, type SriglInput } from '../../src/dst/srigl.js';
import { zeroChanged } from '../../src/dst/update.js';

/** Mask from row strings like '110100'. */
const maskOf = (...rows: string[]) => Uint8Array.from(rows.join('').split(''), Number);
const rowsOf = (mask: Uint8Array, fanIn: number) =>
  Array.from({ length: mask.length / fanIn }, (_, r) => [...mask.subarray(r * fanIn, (r + 1) * fanIn)].join(''));
const f32 = (...rows: number[][]) => Float32Array.from(rows.flat());

describe('one SRigL update of a 4×6 layer, B = 12 (k0 = 3, n_min = 2), worked by hand', () => {
  // Active |W| (12): .9 r0c0 .8 r1c3 .7 r1c5 .6 r2c0 .5 r0c2 .4 r2c4 .3 r3c1 .2 r3c3 .1 r0c1
  // .05 r1c4 .03 r3c5 .02 r2c2. f = 0.25 → n_drop = 3, n_keep = 9: drop r1c4, r3c5, r2c2.
  // Kept per row: 3, 2, 2, 2 (≤ k' = 3). Grow one weight in rows 1–3 by |G| among not-kept:
  //   row 1 candidates c0 .1, c1 .3, c2 .3, c4 .2 → tie .3 → lowest index c1;
  //   row 2 candidates c1 0, c2 .5, c3 .1, c5 0 → c2, the position just dropped (restarts at 0);
  //   row 3 all-zero gradient → lowest index among c0, c2, c4, c5 → c0.
  // With ablation on: salient = the 9 kept ∪ top-3 |G| (r1c3 9, r1c5 9, r0c0 1 — first of the
  // ties at 1) → c = [3, 2, 2, 2]; t = max(1, floor(0.3·3)) = 1, so nothing is ablated and
  // the result is the same.
  const base: SriglInput = {
    mask: maskOf('111000', '000111', '101010', '010101'),
    weights: f32([0.9, 0.1, 0.5, 0, 0, 0], [0, 0, 0, 0.8, -0.05, 0.7], [0.6, 0, 0.02, 0, 0.4, 0], [0, 0.3, 0, -0.2, 0, 0.03]),
    grad: f32([1, 1, 1, 1, 1, 1], [0.1, -0.3, 0.3, 9, 0.2, -9], [0, 0, 0.5, -0.1, 0, 0], [0, 0, 0, 0, 0, 0]),
    out: 4,
    fanIn: 6,
    budget: 12,
    dropFraction: 0.25,
    ablation: false,
    mayAblate: true,
  };

  for (const ablation of [false, true]) {
    test(`drop and grow, ablation ${ablation ? 'on' : 'off'}`, () => {
      const r = sriglUpdate({ ...base, ablation });
      assert.deepEqual(rowsOf(r.mask, 6), ['111000', '010101', '101010', '110100']);
      assert.deepEqual([...r.dropped], [10, 14, 23]);
      assert.deepEqual([...r.grown], [7, 14, 18]);
      assert.deepEqual([...r.ablated], [0, 0, 0, 0]);
      assert.equal(r.k, 3);
      assert.equal(r.stats.nDrop, 3);
      assert.equal(r.stats.threshold, ablation ? 1 : 0);
      assert.equal(r.stats.nnz, 12);
      // The caller's zeroing: dropped and regrown positions become 0, the rest keep their values.
      const w = base.weights.slice();
      zeroChanged(r, [w]);
      assert.deepEqual([...w], [...f32([0.9, 0.1, 0.5, 0, 0, 0], [0, 0, 0, 0.8, 0, 0.7], [0.6, 0, 0, 0, 0.4, 0], [0, 0.3, 0, -0.2, 0, 0])]);
      assert.deepEqual(base.mask, maskOf('111000', '000111', '101010', '010101'), 'inputs are not modified');
    });
  }

  // Same mask, f = 0.5 (n_drop = 6, n_keep = 6), γ = 0.7 → t = max(1, floor(0.7·3)) = 2.
  // Top-6 |W|: all of rows 0 and 1. Top-6 |G|: r2c1 .9, r2c3 .8, r2c5 .7, r0c3 .6, r1c0 .5, then
  // the ties at .001 in row 3 → lowest index r3c0. Salient counts c = [4, 4, 3, 1].
  // Row 3 (c = 1 < 2) is ablated; 3 rows reach t ≥ n_min = 2, no clamp. k' = floor(12/3) = 4.
  // Prune: keep the top 6 |W| outside row 3 → rows 0, 1 whole; row 2 loses all three.
  // Grow to 4: row 0 + c3 (.6); row 1 + c0 (.5); row 2: c1, c3, c5, then ties at 0 → c0.
  const ablationCase: SriglInput = {
    mask: maskOf('111000', '000111', '101010', '010101'),
    weights: f32([0.9, 0.8, 0.7, 0, 0, 0], [0, 0, 0, 0.6, 0.5, 0.45], [0.4, 0, 0.35, 0, 0.3, 0], [0, 0.01, 0, 0.02, 0, 0.03]),
    grad: f32([0, 0, 0, 0.6, 0, 0], [0.5, 0, 0, 0, 0, 0], [0, 0.9, 0, -0.8, 0, 0.7], [0.001, 0.001, 0.001, 0.001, 0.001, 0.001]),
    out: 4,
    fanIn: 6,
    budget: 12,
    dropFraction: 0.5,
    ablation: true,
    mayAblate: true,
    gammaSal: 0.7,
  };

  test('ablation: a row with too few salient weights is removed and k grows', () => {
    const r = sriglUpdate(ablationCase);
    assert.deepEqual(rowsOf(r.mask, 6), ['111100', '100111', '110101', '000000']);
    assert.deepEqual([...r.ablated], [0, 0, 0, 1]);
    assert.equal(r.k, 4);
    assert.deepEqual([...r.dropped], [12, 14, 16, 19, 21, 23]);
    assert.deepEqual([...r.grown], [3, 6, 12, 13, 15, 17]);
    assert.equal(r.stats.threshold, 2);
    assert.equal(r.stats.ablatedCount, 1);
    assert.equal(r.stats.newlyAblated, 1);
    assert.equal(r.stats.revived, 0);
    assert.equal(r.stats.nnz, 12);
  });

  test('the classifier (mayAblate = false) keeps every row at k0', () => {
    const r = sriglUpdate({ ...ablationCase, mayAblate: false });
    assert.deepEqual([...r.ablated], [0, 0, 0, 0]);
    assert.equal(r.k, 3);
    // n_keep = 6 → rows 0 and 1 keep all 3; rows 2, 3 regrow 3 by |G|:
    // row 2 c1 .9, c3 .8, c5 .7; row 3 all .001 → c0, c1, c2.
    assert.deepEqual(rowsOf(r.mask, 6), ['111000', '000111', '010101', '111000']);
  });

  // Continuing from the ablation result (k = 4, row 3 empty) with new weights and gradients.
  // f = 0.5: n_active = 12, n_drop = 6, n_keep = 6. Top-6 |W|: row 0's four, r1c0 .5, r1c3 .45.
  // Top-6 |G|: all of row 3. c = [4, 2, 0, 6]; t = 2 → A = {2}: row 2 ablated, row 3 revived.
  // k' = 4. Prune: rows 0 (4 kept), 1 (c0, c3). Grow: row 1 needs 2, gradient all 0 → c1, c2;
  // row 3 needs 4 → c0 .9, c1 .8, c2 .7, c3 .6.
  test('revival: an ablated row that becomes salient regrows from zero', () => {
    const r = sriglUpdate({
      ...ablationCase,
      mask: maskOf('111100', '100111', '110101', '000000'),
      weights: f32([0.9, 0.8, 0.7, 0.6, 0, 0], [0.5, 0, 0, 0.45, 0.4, 0.35], [0.3, 0.25, 0, 0.2, 0, 0.15], [0, 0, 0, 0, 0, 0]),
      grad: f32([0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]),
    });
    assert.deepEqual(rowsOf(r.mask, 6), ['111100', '111100', '000000', '111100']);
    assert.deepEqual([...r.ablated], [0, 0, 1, 0]);
    assert.equal(r.k, 4);
    assert.equal(r.stats.revived, 1);
    assert.equal(r.stats.newlyAblated, 1);
    assert.deepEqual([...r.dropped], [10, 11, 12, 13, 15, 17]);
    assert.deepEqual([...r.grown], [7, 8, 18, 19, 20, 21]);
  });
});

test('safety clamp: t is lowered so n_min rows survive', () => {
  // 4×3, B = 9: k0 = 2, n_min = ceil(9/3) = 3; γ = 1 → t = 2. f = 0.5: n_drop = n_keep = 4.
  // Top-4 |W|: r0c0 .9, r0c1 .8, r1c0 .7, r2c0 .6. Top-4 |G| (all 0) → indices 0, 1, 2, 3 =
  // r0c0, r0c1, r0c2, r1c0. c = [3, 1, 1, 0]: only one row reaches 2 < n_min, so t drops to the
  // 3rd-largest count, 1 → A = {3}; k' = floor(9/3) = 3 = fanIn, so rows 0–2 become full.
  const r = sriglUpdate({
    mask: maskOf('110', '110', '110', '110'),
    weights: f32([0.9, 0.8, 0], [0.7, 0.01, 0], [0.6, 0.02, 0], [0.03, 0.04, 0]),
    grad: new Float32Array(12),
    out: 4,
    fanIn: 3,
    budget: 9,
    dropFraction: 0.5,
    ablation: true,
    mayAblate: true,
    gammaSal: 1,
  });
  assert.equal(r.stats.nMin, 3);
  assert.equal(r.stats.threshold, 1);
  assert.deepEqual(rowsOf(r.mask, 3), ['111', '111', '111', '000']);
  assert.equal(r.k, 3);
  assert.deepEqual([...r.dropped], [4, 7, 9, 10]);
  assert.deepEqual([...r.grown], [2, 4, 5, 7, 8]);
});

test('row cap: when k shrinks, an over-full row keeps only its k largest |W| (ours)', () => {
  // 2×4, B = 4. Row 1 was ablated so row 0 holds 4. Ablation off now → k' = 2, f = 0:
  // n_keep = 4 keeps all of row 0, then the cap keeps its two largest, c1 .4 and c2 .3.
  // Row 1 revives with the two largest |G|: c1 .5 and c3 .5.
  const r = sriglUpdate({
    mask: maskOf('1111', '0000'),
    weights: f32([0.1, -0.4, 0.3, 0.2], [0, 0, 0, 0]),
    grad: f32([0, 0, 0, 0], [0, 0.5, 0, -0.5]),
    out: 2,
    fanIn: 4,
    budget: 4,
    dropFraction: 0,
    ablation: false,
    mayAblate: true,
  });
  assert.deepEqual(rowsOf(r.mask, 4), ['0110', '0101']);
  assert.deepEqual([...r.dropped], [0, 3]);
  assert.deepEqual([...r.grown], [5, 7]);
  assert.equal(r.stats.revived, 1);
});

test('clear errors for bad inputs', () => {
  const ok: SriglInput = {
    mask: maskOf('10', '01'),
    weights: new Float32Array(4),
    grad: new Float32Array(4),
    out: 2,
    fanIn: 2,
    budget: 2,
    dropFraction: 0.3,
    ablation: true,
    mayAblate: true,
  };
  sriglUpdate(ok);
  assert.throws(() => sriglUpdate({ ...ok, budget: 1 }), /budget must be an integer in \[out=2, out·fanIn=4\]/);
  assert.throws(() => sriglUpdate({ ...ok, fanIn: 3 }), /mask length 4 does not match out·fanIn = 6/);
  assert.throws(() => sriglUpdate({ ...ok, grad: new Float32Array(3) }), /grad length 3/);
  assert.throws(() => sriglUpdate({ ...ok, dropFraction: 1.5 }), /dropFraction must be in \[0, 1\]/);
  assert.throws(() => sriglUpdate({ ...ok, grad: Float32Array.from([0, Infinity, 0, 0]) }), /grad\[1\] is Infinity/);
  assert.throws(() => sriglUpdate({ ...ok, mask: Uint8Array.from([1, 0, 3, 1]) }), /mask\[2\] = 3/);
});
