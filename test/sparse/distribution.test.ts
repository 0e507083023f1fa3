import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { computeBudgets, erkRawDensity, layerGeometry, type LayerSpec } from '../../src/sparse/distribution.js';

/** Uniform in [0, 1] in steps of 1e-4 (fc.double favours values near 0, which would make most fractions 0). */
const unit = fc.integer({ min: 0, max: 10000 }).map((v) => v / 10000);

const byName = (r: ReturnType<typeof computeBudgets>) => Object.fromEntries(r.layers.map((l) => [l.name, l]));

describe('layerGeometry', () => {
  test('Linear and Conv2d fan-in', () => {
    assert.deepEqual(layerGeometry({ name: 'fc', shape: [10, 784] }), { out: 10, fanIn: 784, numel: 7840 });
    assert.deepEqual(layerGeometry({ name: 'conv', shape: [16, 3, 3, 3] }), { out: 16, fanIn: 27, numel: 432 });
  });
  test('rejects other shapes, naming the layer', () => {
    assert.throws(() => layerGeometry({ name: 'bn', shape: [10] }), /layer 'bn'.*\[10\]/);
    assert.throws(() => layerGeometry({ name: 'x', shape: [4, 0] }), /layer 'x'.*positive integers/);
  });
});

describe('uniform', () => {
  test('same density everywhere when nothing is dense', () => {
    // 250 weights at 80% sparsity → 50 nonzeros: A 200·0.2 = 40, B 50·0.2 = 10.
    const r = computeBudgets([{ name: 'A', shape: [10, 20] }, { name: 'B', shape: [5, 10] }], { sparsity: 0.8, distribution: 'uniform' });
    const l = byName(r);
    assert.equal(r.targetNnz, 50);
    assert.equal(l.A.budget, 40);
    assert.equal(l.A.k0, 4);
    assert.equal(l.B.budget, 10);
    assert.equal(l.B.k0, 2);
    assert.equal(r.totalNnz, 50);
  });

  test('rescales the sparse layers when the first layer is dense', () => {
    // 320 weights at 75% → 80 nonzeros; dense A takes 20, the 300 free weights share 60 → density 0.2.
    const r = computeBudgets(
      [{ name: 'A', shape: [4, 5], dense: true }, { name: 'B', shape: [10, 20] }, { name: 'C', shape: [10, 10] }],
      { sparsity: 0.75, distribution: 'uniform' },
    );
    const l = byName(r);
    assert.equal(l.A.budget, 20);
    assert.equal(l.A.dense, true);
    assert.equal(l.B.budget, 40);
    assert.equal(l.C.budget, 20);
    assert.equal(r.totalNnz, r.targetNnz);
  });

  test('overrides are fixed and the rest share the remainder', () => {
    // 400 weights at 80% → 80; A overridden to 50% holds 50; B (300) gets the other 30.
    const r = computeBudgets([{ name: 'A', shape: [10, 10] }, { name: 'B', shape: [10, 30] }], {
      sparsity: 0.8,
      distribution: 'uniform',
      overrides: { A: 0.5 },
    });
    assert.equal(byName(r).A.budget, 50);
    assert.equal(byName(r).B.budget, 30);
    assert.equal(byName(r).B.k0, 3);
  });

  test('k < 1 is clamped to one weight per row and reported', () => {
    // 200 weights at 90% → 20 < out = 100: raised to 100 (k = 1).
    const r = computeBudgets([{ name: 'thin', shape: [100, 2] }], { sparsity: 0.9, distribution: 'uniform' });
    assert.equal(r.layers[0].budget, 100);
    assert.equal(r.layers[0].k0, 1);
    assert.equal(r.layers[0].clamped, true);
    assert.deepEqual(r.clampedLayers, ['thin']);
  });
});

describe('ERK', () => {
  test('two conv/linear layers by hand', () => {
    // conv [8,3,3,3]: numel 216, p = 17/216; fc [10,72]: numel 720, p = 82/720.
    // target floor(936·0.1) = 93; ε = 93 / (17 + 82) = 0.93939…
    // conv budget floor(17ε) = floor(15.97) = 15, fc floor(82ε) = floor(77.03) = 77.
    const r = computeBudgets([{ name: 'conv', shape: [8, 3, 3, 3] }, { name: 'fc', shape: [10, 72] }], { sparsity: 0.9 });
    const l = byName(r);
    assert.equal(r.targetNnz, 93);
    assert.ok(Math.abs(r.erkEpsilon - 93 / 99) < 1e-12);
    assert.equal(l.conv.budget, 15);
    assert.equal(l.conv.fanIn, 27);
    assert.equal(l.conv.k0, 1);
    assert.equal(l.fc.budget, 77);
    assert.equal(l.fc.k0, 7);
    assert.equal(r.totalNnz, 92);
  });

  test('a layer ERK wants above 100% becomes dense and ε is re-solved', () => {
    // big [100,100]: p = 0.02, small [2,10]: p = 0.6. target floor(10020·0.5) = 5010.
    // First ε = 5010 / (200 + 12) = 23.6 → small at 14.2 > 1 → dense (20).
    // Then ε = (5010 − 20) / 200 = 24.95 → big density 0.499 → 4990. Total exactly 5010.
    const r = computeBudgets([{ name: 'big', shape: [100, 100] }, { name: 'small', shape: [2, 10] }], { sparsity: 0.5 });
    const l = byName(r);
    assert.equal(l.small.budget, 20);
    assert.equal(l.small.dense, true);
    assert.equal(l.big.budget, 4990);
    assert.ok(Math.abs(r.erkEpsilon - 24.95) < 1e-9);
    assert.equal(r.totalNnz, 5010);
    assert.equal(r.targetNnz, 5010);
  });

  test('erkPower reshapes the distribution', () => {
    const shapes: LayerSpec[] = [{ name: 'a', shape: [50, 50] }, { name: 'b', shape: [20, 200] }];
    const p1 = computeBudgets(shapes, { sparsity: 0.9 });
    const p2 = computeBudgets(shapes, { sparsity: 0.9, erkPower: 2 });
    // p_a = 100/2500 = 0.04, p_b = 220/4000 = 0.055; squaring the raw densities squares their ratio.
    assert.ok(erkRawDensity([20, 200]) > erkRawDensity([50, 50]));
    const ratio = (r: typeof p1) => byName(r).b.requestedDensity / byName(r).a.requestedDensity;
    assert.ok(Math.abs(ratio(p1) - 0.055 / 0.04) < 1e-9);
    assert.ok(Math.abs(ratio(p2) - (0.055 / 0.04) ** 2) < 1e-9);
  });
});

describe('infeasible targets and bad input', () => {
  test('forced-dense layers alone exceed the budget', () => {
    assert.throws(
      () => computeBudgets([{ name: 'first', shape: [10, 100], dense: true }, { name: 'fc', shape: [10, 10] }], { sparsity: 0.5 }),
      /infeasible.*\[first\].*1000.*550/,
    );
  });
  test('overrides too sparse for a low global sparsity', () => {
    assert.throws(
      () => computeBudgets([{ name: 'A', shape: [10, 10] }, { name: 'B', shape: [10, 30] }], { sparsity: 0.1, overrides: { A: 0.99 } }),
      /infeasible.*free layers/,
    );
  });
  test('clear errors for unknown overrides, bad sparsity, duplicate names', () => {
    const L: LayerSpec[] = [{ name: 'A', shape: [2, 2] }];
    assert.throws(() => computeBudgets(L, { sparsity: 0.5, overrides: { Z: 0.1 } }), /unknown layer 'Z'/);
    assert.throws(() => computeBudgets(L, { sparsity: 1 }), /sparsity must be in \[0, 1\)/);
    assert.throws(() => computeBudgets([...L, ...L], { sparsity: 0.5 }), /'A' is listed twice/);
    assert.throws(() => computeBudgets(L, { sparsity: 0.5, distribution: 'lognormal' as 'erk' }), /distribution must be/);
  });
});

describe('properties', () => {
  const layerArb = fc.record({
    out: fc.integer({ min: 1, max: 64 }),
    cin: fc.integer({ min: 1, max: 64 }),
    kernel: fc.constantFrom(0, 1, 3),
    dense: fc.boolean(),
  });
  test('budgets stay within [out, numel] and hit the global target within one per free layer', () => {
    fc.assert(
      fc.property(fc.array(layerArb, { minLength: 1, maxLength: 6 }), unit.map((v) => 0.99 * v), fc.constantFrom('uniform' as const, 'erk' as const), (specs, sparsity, distribution) => {
        const layers: LayerSpec[] = specs.map((s, i) => ({
          name: `l${i}`,
          shape: s.kernel === 0 ? [s.out, s.cin] : [s.out, s.cin, s.kernel, s.kernel],
          dense: i === 0 && s.dense,
        }));
        let r;
        try {
          r = computeBudgets(layers, { sparsity, distribution });
        } catch (e) {
          // Only a dense first layer can make a target infeasible here.
          assert.ok(layers[0].dense, String(e));
          assert.match((e as Error).message, /infeasible/);
          return;
        }
        for (const l of r.layers) {
          assert.ok(l.budget >= l.out && l.budget <= l.numel, `${l.name}: budget ${l.budget}`);
          assert.ok(l.requestedDensity <= 1);
          assert.equal(l.k0, Math.floor(l.budget / l.out));
        }
        if (r.clampedLayers.length === 0) {
          const diff = r.targetNnz - r.totalNnz;
          assert.ok(diff >= 0 && diff < layers.length, `target ${r.targetNnz}, total ${r.totalNnz}`);
        } else {
          assert.ok(r.totalNnz > r.targetNnz - layers.length);
        }
      }),
      { numRuns: 300 },
    );
  });
});
