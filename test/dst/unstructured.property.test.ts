import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Rng } from '../../src/tensor/rng.js';
import { nnz, randomMask } from '../../src/sparse/mask.js';
import { riglUpdate } from '../../src/dst/rigl.js';
import { setUpdate } from '../../src/dst/set.js';
import { staticUpdate } from '../../src/dst/static.js';
import { zeroChanged } from '../../src/dst/update.js';
import { fillValues, refRigl } from './reference.js';

/** Uniform in [0, 1] in steps of 1e-4 (fc.double favours values near 0, which would make most fractions 0). */
const unit = fc.integer({ min: 0, max: 10000 }).map((v) => v / 10000);

const caseArb = fc.record({
  numel: fc.integer({ min: 1, max: 40 * 64 }),
  budgetFrac: unit,
  ties: fc.boolean(),
  seed: fc.integer(),
  fractions: fc.array(unit, { minLength: 1, maxLength: 4 }),
});

for (const method of ['rigl', 'set'] as const) {
  test(`${method}: nnz constant, lists exact, regrown and masked-out weights 0, deterministic`, () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const rng = new Rng(c.seed);
        const budget = Math.floor(c.budgetFrac * c.numel);
        let mask = randomMask(c.numel, budget, rng);
        const w = fillValues(new Float32Array(c.numel), rng, c.ties);
        for (let i = 0; i < c.numel; i++) if (!mask[i]) w[i] = 0;
        const g = new Float32Array(c.numel);
        for (const f of c.fractions) {
          fillValues(g, rng, c.ties);
          const state = rng.getState();
          const r = method === 'rigl' ? riglUpdate(w, g, mask, f) : setUpdate(w, mask, f, rng);
          const again = new Rng(0);
          again.setState(state);
          assert.deepEqual(method === 'rigl' ? riglUpdate(w, g, mask, f) : setUpdate(w, mask, f, again), r);
          if (method === 'rigl') assert.deepEqual(r.mask, refRigl(w, g, mask, f));

          assert.equal(nnz(r.mask), budget);
          assert.equal(r.stats.nDrop, Math.floor(budget * f));
          assert.equal(r.grown.length, r.stats.nDrop);
          assert.equal(r.dropped.length, r.stats.nDrop);
          for (const i of r.dropped) assert.equal(mask[i], 1);
          // The drop removes the smallest |W|: every dropped magnitude ≤ every kept magnitude.
          const dropped = new Set(r.dropped);
          let keptMin = Infinity;
          for (let i = 0; i < c.numel; i++) if (mask[i] && !dropped.has(i)) keptMin = Math.min(keptMin, Math.abs(w[i]));
          for (const i of r.dropped) assert.ok(Math.abs(w[i]) <= keptMin);

          zeroChanged(r, [w]);
          for (let i = 0; i < c.numel; i++) if (!r.mask[i]) assert.equal(w[i], 0);
          for (const i of r.grown) assert.equal(w[i], 0);
          mask = r.mask;
          for (let i = 0; i < c.numel; i++) if (mask[i]) w[i] += rng.normal() * 0.1;
        }
      }),
      { numRuns: 200 },
    );
  });
}

test('static never changes the mask', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 500 }), fc.integer(), (numel, seed) => {
      const rng = new Rng(seed);
      const mask = randomMask(numel, rng.int(numel + 1), rng);
      const r = staticUpdate(fillValues(new Float32Array(numel), rng, false), mask);
      assert.deepEqual(r.mask, mask);
      assert.notEqual(r.mask, mask);
      assert.equal(r.grown.length + r.dropped.length, 0);
    }),
    { numRuns: 50 },
  );
});

test('RigL by hand: drop the 2 smallest |W|, regrow the 2 largest |G| among the rest', () => {
  // mask 1 1 1 1 0 0 0 0, |W| .5 .1 .4 .2, f = 0.5 → drop positions 1 (.1) and 3 (.2).
  // |G| over not-kept {1, 3, 4, 5, 6, 7}: .9 at 3, .3 at 5 and 6 → 3 (regrown, restarts at 0) and 5.
  const mask = Uint8Array.from([1, 1, 1, 1, 0, 0, 0, 0]);
  const w = Float32Array.from([0.5, -0.1, 0.4, 0.2, 0, 0, 0, 0]);
  const g = Float32Array.from([9, 0, 0, -0.9, 0.1, 0.3, -0.3, 0]);
  const r = riglUpdate(w, g, mask, 0.5);
  assert.deepEqual([...r.mask], [1, 0, 1, 1, 0, 1, 0, 0]);
  assert.deepEqual([...r.dropped], [1, 3]);
  assert.deepEqual([...r.grown], [3, 5]);
  assert.equal(r.stats.nRegrown, 1);
});
