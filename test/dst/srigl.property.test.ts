import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Rng } from '../../src/tensor/rng.js';
import { assertConstantFanIn, constantFanInMask, nnz, rowCounts } from '../../src/sparse/mask.js';
import { sriglUpdate } from '../../src/dst/srigl.js';
import { zeroChanged } from '../../src/dst/update.js';
import { fillValues, refSrigl } from './reference.js';

/** Uniform in [0, 1] in steps of 1e-4 (fc.double favours values near 0, which would make most fractions 0). */
const unit = fc.integer({ min: 0, max: 10000 }).map((v) => v / 10000);

const caseArb = fc.record({
  out: fc.integer({ min: 1, max: 40 }),
  fanIn: fc.integer({ min: 1, max: 64 }),
  budgetFrac: unit,
  gammaSal: unit,
  ablation: fc.boolean(),
  mayAblate: fc.boolean(),
  ties: fc.boolean(),
  seed: fc.integer(),
  fractions: fc.array(unit, { minLength: 1, maxLength: 4 }),
});

test('SRigL invariants over sequences of updates, matching the sort-based reference', () => {
  fc.assert(
    fc.property(caseArb, (c) => {
      const { out, fanIn, gammaSal, ablation, mayAblate, ties } = c;
      const numel = out * fanIn;
      const budget = out + Math.floor(c.budgetFrac * (numel - out));
      const rng = new Rng(c.seed);
      let mask = constantFanInMask(out, fanIn, Math.floor(budget / out), rng);
      const weights = fillValues(new Float32Array(numel), rng, ties);
      for (let i = 0; i < numel; i++) if (!mask[i]) weights[i] = 0;
      const momentum = weights.map((v) => (v === 0 ? 0 : 0.1));
      const bias = new Float32Array(out).fill(1);
      const grad = new Float32Array(numel);
      const nMin = Math.ceil(budget / fanIn);

      for (const dropFraction of c.fractions) {
        fillValues(grad, rng, ties);
        const input = { weights, grad, mask, out, fanIn, budget, dropFraction, ablation, mayAblate, gammaSal };
        const r = sriglUpdate(input);

        // Determinism and the independent oracle.
        assert.deepEqual(sriglUpdate(input), r);
        const ref = refSrigl({ w: weights, g: grad, mask, out, fanIn, budget, f: dropFraction, ablate: ablation && mayAblate, gammaSal });
        assert.deepEqual(r.mask, ref.mask);
        assert.deepEqual(r.ablated, ref.ablated);
        assert.equal(r.k, ref.k);

        // Structure.
        const nAbl = r.ablated.reduce((a, b) => a + b, 0);
        assert.ok(r.k >= 1 && r.k <= fanIn, `k = ${r.k}`);
        assertConstantFanIn(r.mask, out, fanIn, r.k, r.ablated);
        assert.equal(nnz(r.mask), r.k * (out - nAbl));
        assert.ok(nnz(r.mask) <= budget);
        assert.ok(out - nAbl >= nMin, `${out - nAbl} active rows < n_min ${nMin}`);
        if (!(ablation && mayAblate)) assert.equal(nAbl, 0);

        // The lists describe the change exactly.
        const dropped = new Set(r.dropped);
        const grown = new Set(r.grown);
        for (let i = 0; i < numel; i++) assert.equal(r.mask[i], (mask[i] === 1 && !dropped.has(i)) || grown.has(i) ? 1 : 0);
        for (const i of r.dropped) assert.equal(mask[i], 1);

        // Apply as the trainer does; then masked-out and regrown weights are exactly 0.
        const before = weights.slice();
        zeroChanged(r, [weights, momentum]);
        for (let j = 0; j < out; j++) if (r.ablated[j]) bias[j] = 0;
        for (let i = 0; i < numel; i++) {
          if (r.mask[i] === 0) assert.equal(weights[i], 0, `masked-out weight ${i}`);
          if (r.mask[i] === 0) assert.equal(momentum[i], 0, `masked-out momentum ${i}`);
          else if (!grown.has(i)) assert.equal(weights[i], before[i], `kept weight ${i} changed`);
        }
        for (const i of r.grown) assert.ok(weights[i] === 0 && momentum[i] === 0, `regrown ${i} not zero`);
        const rows = rowCounts(r.mask, out, fanIn);
        for (let j = 0; j < out; j++) if (r.ablated[j]) assert.ok(rows[j] === 0 && bias[j] === 0);

        // A few masked optimizer steps before the next update.
        mask = r.mask;
        for (let i = 0; i < numel; i++) if (mask[i]) weights[i] += ties ? (rng.int(3) - 1) * 0.5 : rng.normal() * 0.1;
      }
    }),
    { numRuns: 300 },
  );
});

test('a fully ablated layer but one neuron, and k = fan-in', () => {
  // out = 4, fanIn = 6, B = 6: k0 = 1, n_min = 1; γ = 1 → t = 1. f = 0.75: n_drop = 3, n_keep = 1.
  // Only row 2 has a nonzero weight and nonzero gradients, so it alone holds salient weights:
  // rows 0, 1, 3 are ablated and row 2 takes the whole budget, k = 6 = fanIn.
  const out = 4;
  const fanIn = 6;
  const mask = constantFanInMask(out, fanIn, 1, new Rng(1));
  const weights = new Float32Array(out * fanIn);
  for (let i = 0; i < weights.length; i++) if (mask[i] && Math.floor(i / fanIn) === 2) weights[i] = 5;
  const grad = new Float32Array(out * fanIn).fill(3, 2 * fanIn, 3 * fanIn);
  const r = sriglUpdate({ weights, grad, mask, out, fanIn, budget: 6, dropFraction: 0.75, ablation: true, mayAblate: true, gammaSal: 1 });
  assert.deepEqual([...r.ablated], [1, 1, 0, 1]);
  assert.equal(r.k, 6);
  assertConstantFanIn(r.mask, out, fanIn, 6, r.ablated);
});
