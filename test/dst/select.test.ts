import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { absKeys, nthLargest, pickLargest } from '../../src/dst/select.js';
import { topByKey } from './reference.js';

/** Uniform in [0, 1] in steps of 1e-4 (fc.double favours values near 0, which would make most fractions 0). */
const unit = fc.integer({ min: 0, max: 10000 }).map((v) => v / 10000);

// Few distinct values so ties are common.
const keysArb = fc.array(fc.constantFrom(0, 0, 0.5, 1, 1, 2, 3.25, 7), { minLength: 1, maxLength: 80 });

describe('nthLargest', () => {
  test('matches a descending sort', () => {
    fc.assert(
      fc.property(keysArb, fc.nat(), (keys, pick) => {
        const n = 1 + (pick % keys.length);
        const expected = Math.fround([...keys].sort((a, b) => b - a)[n - 1]);
        assert.equal(nthLargest(Float32Array.from(keys), keys.length, n), expected);
      }),
      { numRuns: 200 },
    );
  });
  test('large arrays (the radix path): matches a descending sort, with ties, negatives, ±0 and denormals', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1 << 15, max: (1 << 15) + 5000 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), unit, (m, seed, at) => {
        let x = seed | 1;
        const rand = (): number => ((x = (Math.imul(x, 1103515245) + 12345) | 0) >>> 0) / 2 ** 32;
        const pool = [0, -0, 1e-40, -1e-40, 0.5, -0.5, 3, -7, 1e30, -1e30];
        const values = Float32Array.from({ length: m }, () => (rand() < 0.5 ? pool[Math.floor(rand() * pool.length)] : (rand() - 0.5) * 10));
        const n = 1 + Math.floor(at * (m - 1));
        const expected = [...values].sort((a, b) => b - a)[n - 1];
        const got = nthLargest(values.slice(), m, n);
        assert.ok(got === expected, `m=${m} n=${n}: got ${got}, expected ${expected}`);
      }),
      { numRuns: 20 },
    );
  });

  test('n out of range', () => {
    assert.throws(() => nthLargest(new Float32Array(3), 3, 0), /1 ≤ n ≤ m/);
  });
});

describe('pickLargest', () => {
  test('picks the n largest eligible keys, ties to the lowest index, within [start, end)', () => {
    const modeArb = fc.constantFrom<0 | 1 | null>(0, 1, null);
    const flagsArb = fc.uint8Array({ min: 0, max: 1, minLength: 80, maxLength: 80 });
    fc.assert(
      fc.property(keysArb, flagsArb, modeArb, fc.integer({ min: -2, max: 90 }), fc.nat(), fc.nat(), (keys, flags, mode, n, a, b) => {
        const m = keys.length;
        const start = a % m;
        const end = start + (b % (m - start + 1));
        const key = Float32Array.from(keys);
        const picked = new Uint8Array(m);
        const eligibility = mode === null ? { flags: null } : { flags, value: mode };
        const count = pickLargest(key, eligibility, n, picked, new Float32Array(m), start, end);
        const candidates = Array.from({ length: end - start }, (_, j) => start + j).filter((i) => mode === null || flags[i] === mode);
        const expected = topByKey(candidates, (i) => key[i], n);
        assert.equal(count, expected.size);
        for (let i = 0; i < m; i++) assert.equal(picked[i], expected.has(i) ? 1 : 0, `position ${i}`);
      }),
      { numRuns: 300 },
    );
  });
});

test('absKeys rejects non-finite values, naming the index', () => {
  assert.deepEqual([...absKeys(Float32Array.from([-1, 2, -0]), 'w')], [1, 2, 0]);
  assert.throws(() => absKeys(Float32Array.from([1, NaN]), 'grad'), /grad\[1\] is NaN/);
});
