import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Rng } from '../../src/tensor/rng.js';
import {

  activeRows,
  applyMask,
  assertConstantFanIn,
  constantFanInMask,
  nnz,
  packMaskBits,
  randomMask,
  rowCounts,
  sparseKaimingInit,
  sparseKaimingStd,
  unpackMaskBits,
} from '../../src/sparse/mask.js';

/** Uniform in [0, 1] in steps of 1e-4 (fc.double favours values near 0, which would make most fractions 0). */
const unit = fc.integer({ min: 0, max: 10000 }).map((v) => v / 10000);

describe('constantFanInMask', () => {
  test('every row holds exactly k ones, for random geometries', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 64 }), unit, fc.integer(), (out, fanIn, frac, seed) => {
        const k = Math.max(1, Math.round(frac * fanIn));
        const m = constantFanInMask(out, fanIn, k, new Rng(seed));
        assertConstantFanIn(m, out, fanIn, k);
        assert.deepEqual(m, constantFanInMask(out, fanIn, k, new Rng(seed)));
      }),
      { numRuns: 200 },
    );
  });

  test('positions are uniform: each column is chosen about k/fanIn of the time', () => {
    const out = 3000;
    const fanIn = 10;
    const k = 3;
    const m = constantFanInMask(out, fanIn, k, new Rng(7));
    for (let c = 0; c < fanIn; c++) {
      let n = 0;
      for (let r = 0; r < out; r++) n += m[r * fanIn + c];
      // mean 900, std sqrt(3000·0.3·0.7) ≈ 25; 6 std of slack.
      assert.ok(Math.abs(n - 900) < 150, `column ${c} chosen ${n} times`);
    }
  });

  test('k out of range is an error', () => {
    assert.throws(() => constantFanInMask(2, 4, 0, new Rng(1)), /k must be an integer in \[1, fanIn=4\]/);
    assert.throws(() => constantFanInMask(2, 4, 5, new Rng(1)), /k must be/);
  });
});

describe('randomMask', () => {
  test('exactly budget ones, sparse and dense-ish budgets', () => {
    for (const budget of [0, 1, 37, 500, 999, 1000]) {
      const m = randomMask(1000, budget, new Rng(budget));
      assert.equal(nnz(m), budget);
    }
  });
  test('positions are uniform', () => {
    const hits = new Uint32Array(20);
    const rng = new Rng(3);
    for (let t = 0; t < 2000; t++) {
      const m = randomMask(20, 15, rng);
      for (let i = 0; i < 20; i++) hits[i] += m[i];
    }
    // mean 1500, std sqrt(2000·0.75·0.25) ≈ 19.
    for (const h of hits) assert.ok(Math.abs(h - 1500) < 120, `hits ${h}`);
  });
  test('bad budget', () => {
    assert.throws(() => randomMask(10, 11, new Rng(1)), /budget must be an integer in \[0, 10\]/);
  });
});

describe('counting and applying', () => {
  const mask = Uint8Array.from([1, 0, 1, 0, 0, 0, 1, 1, 1]);
  test('nnz, rowCounts, activeRows', () => {
    assert.equal(nnz(mask), 5);
    assert.deepEqual([...rowCounts(mask, 3, 3)], [2, 0, 3]);
    assert.deepEqual([...activeRows(mask, 3, 3)], [1, 0, 1]);
    assert.throws(() => rowCounts(mask, 2, 3), /length 9 does not match out·fanIn = 2·3 = 6/);
  });
  test('applyMask zeroes exactly the masked-out weights', () => {
    const w = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    applyMask(w, mask);
    assert.deepEqual([...w], [1, 0, 3, 0, 0, 0, 7, 8, 9]);
  });
  test('assertConstantFanIn names the failing row', () => {
    const m = Uint8Array.from([1, 1, 0, 0, 0, 0, 1, 0, 1]);
    assertConstantFanIn(m, 3, 3, 2, Uint8Array.from([0, 1, 0]));
    assert.throws(() => assertConstantFanIn(m, 3, 3, 2), /row 1 holds 0 weights, expected 2/);
    assert.throws(() => assertConstantFanIn(m, 3, 3, 2, Uint8Array.from([1, 1, 0])), /row 0 holds 2 weights, expected 0 \(ablated\)/);
    assert.throws(() => assertConstantFanIn(Uint8Array.from([2, 0, 0]), 1, 3, 1), /mask\[0\] = 2/);
  });
});

describe('sparse Kaiming init', () => {
  test('std is sqrt(2/k) per row, zero outside the mask', () => {
    assert.equal(sparseKaimingStd(8), 0.5);
    const out = 400;
    const fanIn = 50;
    const k = 8;
    const mask = constantFanInMask(out, fanIn, k, new Rng(11));
    const w = new Float32Array(out * fanIn).fill(9);
    sparseKaimingInit(w, mask, out, fanIn, new Rng(12));
    let sq = 0;
    for (let i = 0; i < w.length; i++) {
      if (mask[i] === 0) assert.equal(w[i], 0);
      else sq += w[i] * w[i];
    }
    const std = Math.sqrt(sq / (out * k));
    // 3200 samples: relative error of the std estimate ≈ 1/sqrt(2·3200) ≈ 1.3%.
    assert.ok(Math.abs(std - 0.5) < 0.03, `std ${std}`);
  });
});

describe('bit packing', () => {
  test('round-trips any mask', () => {
    fc.assert(
      fc.property(fc.uint8Array({ min: 0, max: 1, maxLength: 100 }), (m) => {
        assert.deepEqual(unpackMaskBits(packMaskBits(m), m.length), m);
      }),
      { numRuns: 100 },
    );
  });
  test('rejects wrong sizes and set padding bits', () => {
    assert.throws(() => unpackMaskBits(new Uint8Array(2), 5), /2 bytes cannot hold exactly 5/);
    assert.throws(() => unpackMaskBits(Uint8Array.from([0b100000]), 5), /padding bits/);
  });
});
