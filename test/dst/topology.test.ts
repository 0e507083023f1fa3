import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/tensor/rng.js';
import { computeBudgets } from '../../src/sparse/distribution.js';
import { assertConstantFanIn, nnz } from '../../src/sparse/mask.js';
import { SparseTopology, type LayerTensors, type SparseMethod } from '../../src/dst/topology.js';
import { fillValues } from './reference.js';

/** A small MLP: dense first layer, two sparse layers, a classifier. */
function mlpBudgets() {
  return computeBudgets(
    [
      { name: 'fc1', shape: [16, 8], dense: true },
      { name: 'fc2', shape: [32, 16] },
      { name: 'fc3', shape: [24, 32] },
      { name: 'head', shape: [10, 24] },
    ],
    { sparsity: 0.8, distribution: 'erk' },
  ).layers;
}

function tensorsFor(topo: SparseTopology, rng: Rng): LayerTensors[] {
  return mlpBudgets().map((b) => {
    const weight = new Float32Array(b.numel);
    const bias = new Float32Array(b.out);
    topo.initWeights({ name: b.name, weight, bias }, rng);
    bias.fill(0.5);
    const mask = topo.mask(b.name);
    const momentum = weight.map((_v, i) => (mask === null || mask[i] ? 1 : 0));
    return {
      name: b.name,
      out: b.out,
      fanIn: b.fanIn,
      weight,
      grad: fillValues(new Float32Array(b.numel), rng, false),
      bias,
      optState: [momentum, momentum.slice()],
      biasOptState: [new Float32Array(b.out).fill(1)],
      isClassifier: b.name === 'head',
    };
  });
}

describe('SparseTopology', () => {
  test('initial masks: constant fan-in k0 for SRigL, exactly B for the unstructured methods, none for dense layers', () => {
    const budgets = mlpBudgets();
    for (const method of ['static', 'set', 'rigl', 'srigl'] as SparseMethod[]) {
      const topo = SparseTopology.create(budgets, { method }, new Rng(1));
      assert.equal(topo.mask('fc1'), null);
      for (const b of budgets.filter((l) => !l.dense)) {
        const mask = topo.mask(b.name) as Uint8Array;
        if (method === 'srigl') assertConstantFanIn(mask, b.out, b.fanIn, b.k0);
        else assert.equal(nnz(mask), b.budget);
      }
    }
    const dense = SparseTopology.create(budgets, { method: 'dense' }, new Rng(1));
    assert.ok(dense.layerNames.every((n) => dense.mask(n) === null));
    assert.ok(dense.stats().every((s) => s.density === 1));
  });

  test('SRigL updates keep invariants and zero weights, optimizer state and ablated biases exactly where needed', () => {
    const rng = new Rng(5);
    const topo = SparseTopology.create(mlpBudgets(), { method: 'srigl', gammaSal: 0.9 }, rng);
    const layers = tensorsFor(topo, rng);
    let sawAblation = false;
    for (let step = 0; step < 6; step++) {
      const before = layers.map((l) => ({
        w: l.weight.slice(),
        mask: topo.mask(l.name)?.slice() ?? null,
        bias: (l.bias as Float32Array).slice(),
        biasOpt: (l.biasOptState as Float32Array[])[0].slice(),
      }));
      for (const l of layers) fillValues(l.grad, rng, step % 2 === 0);
      const reports = topo.update(layers, 0.5, rng);
      assert.deepEqual(reports.map((r) => r.name), ['fc2', 'fc3', 'head']);
      for (const [li, l] of layers.entries()) {
        const mask = topo.mask(l.name);
        if (mask === null) {
          assert.deepEqual(l.weight, before[li].w, 'dense layer untouched');
          continue;
        }
        const ablated = topo.ablatedRows(l.name);
        const k = topo.stats()[li].k as number;
        assertConstantFanIn(mask, l.out, l.fanIn, k, ablated);
        if (l.isClassifier) assert.ok(ablated.every((a) => a === 0), 'classifier never ablates');
        if (ablated.some((a) => a === 1)) sawAblation = true;
        const oldMask = before[li].mask as Uint8Array;
        for (let i = 0; i < mask.length; i++) {
          const changed = mask[i] === 1 && (oldMask[i] === 0 || l.weight[i] !== before[li].w[i]);
          if (mask[i] === 0 || changed) {
            assert.equal(l.weight[i], 0, `${l.name}[${i}] weight`);
            for (const s of l.optState) assert.equal(s[i], 0, `${l.name}[${i}] optimizer state`);
          } else {
            assert.equal(l.weight[i], before[li].w[i]);
          }
        }
        for (let r = 0; r < l.out; r++) {
          assert.equal((l.bias as Float32Array)[r], ablated[r] ? 0 : before[li].bias[r], `${l.name} bias ${r}`);
          assert.equal((l.biasOptState as Float32Array[])[0][r], ablated[r] ? 0 : before[li].biasOpt[r]);
        }
      }
      // Simulated training between updates: an optimizer step that touches every weight (as
      // weight decay might), then enforce() restores the topology.
      for (const l of layers) {
        const mask = topo.mask(l.name);
        for (let i = 0; i < l.weight.length; i++) {
          l.weight[i] += rng.normal() * 0.1;
          if (mask === null || mask[i]) for (const s of l.optState) s[i] = 1;
        }
        (l.bias as Float32Array).fill(0.5);
        (l.biasOptState as Float32Array[])[0].fill(1);
        topo.enforce(l);
        for (let r = 0; r < l.out; r++) assert.equal((l.bias as Float32Array)[r], topo.ablatedRows(l.name)[r] ? 0 : 0.5);
        if (mask !== null) for (let i = 0; i < l.weight.length; i++) if (!mask[i]) assert.equal(l.weight[i], 0);
      }
    }
    assert.ok(sawAblation, 'γ = 0.9 with half the weights dropped should ablate some neurons in 6 updates');
  });

  test('RigL and SET keep each layer at its budget; static changes nothing', () => {
    for (const method of ['rigl', 'set', 'static'] as SparseMethod[]) {
      const rng = new Rng(9);
      const topo = SparseTopology.create(mlpBudgets(), { method }, rng);
      const layers = tensorsFor(topo, rng);
      const initial = topo.layerNames.map((n) => topo.mask(n)?.slice() ?? null);
      topo.update(layers, 0.3, rng);
      for (const [i, s] of topo.stats().entries()) {
        assert.equal(s.nnz, s.budget, `${method} ${s.name}`);
        if (method === 'static') assert.deepEqual(topo.mask(s.name), initial[i]);
      }
    }
  });

  test('toJSON / fromJSON round-trips through JSON text and keeps updating identically', () => {
    const rng = new Rng(3);
    const topo = SparseTopology.create(mlpBudgets(), { method: 'srigl', gammaSal: 0.9 }, rng);
    const layers = tensorsFor(topo, rng);
    topo.update(layers, 0.5, rng);
    const restored = SparseTopology.fromJSON(JSON.parse(JSON.stringify(topo)));
    assert.deepEqual(restored.stats(), topo.stats());
    for (const n of topo.layerNames) {
      assert.deepEqual(restored.mask(n), topo.mask(n));
      assert.deepEqual(restored.ablatedRows(n), topo.ablatedRows(n));
    }
    const copy = layers.map((l) => ({ ...l, weight: l.weight.slice(), optState: l.optState.map((s) => s.slice()) }));
    for (const l of layers) fillValues(l.grad, rng, false);
    assert.deepEqual(restored.update(copy, 0.4, new Rng(1)), topo.update(layers, 0.4, new Rng(1)));
    for (const n of topo.layerNames) assert.deepEqual(restored.mask(n), topo.mask(n));
  });

  test('fromJSON rejects corrupted state, naming the layer', () => {
    const topo = SparseTopology.create(mlpBudgets(), { method: 'srigl' }, new Rng(2));
    const json = JSON.parse(JSON.stringify(topo));
    const fc2 = json.layers.find((l: { name: string }) => l.name === 'fc2');
    const bytes = Buffer.from(fc2.mask, 'base64');
    bytes[0] ^= 0xff;
    fc2.mask = bytes.toString('base64');
    assert.throws(() => SparseTopology.fromJSON(json), /layer 'fc2'.*constant fan-in violated/);
    assert.throws(() => SparseTopology.fromJSON({ ...json, method: 'magic' }), /unknown method 'magic'/);
    assert.throws(() => SparseTopology.fromJSON({ format: 'other' }), /format: 'srigl-topology'/);
  });

  test('update errors: missing sparse layer, wrong geometry, unknown layer, NaN gradient', () => {
    const rng = new Rng(4);
    const topo = SparseTopology.create(mlpBudgets(), { method: 'rigl' }, rng);
    const layers = tensorsFor(topo, rng);
    assert.throws(() => topo.update(layers.slice(0, 2), 0.3, rng), /sparse layer 'fc3' was not passed/);
    assert.throws(() => topo.update([{ ...layers[1], out: 3 }, ...layers.slice(2)], 0.3, rng), /'fc2' is 3×16, topology has 32×16/);
    assert.throws(() => topo.update([{ ...layers[1], name: 'nope' }], 0.3, rng), /no layer 'nope'/);
    // A NaN gradient in the last layer leaves every layer untouched.
    const masks = topo.layerNames.map((n) => topo.mask(n)?.slice());
    const weights = layers.map((l) => l.weight.slice());
    layers[3].grad[5] = NaN;
    assert.throws(() => topo.update(layers, 0.3, rng), /grad\[5\] is NaN/);
    assert.deepEqual(topo.layerNames.map((n) => topo.mask(n)?.slice()), masks);
    assert.deepEqual(layers.map((l) => l.weight), weights);
  });

  test('stats report density, k, active and ablated neurons', () => {
    const budgets = mlpBudgets();
    const topo = SparseTopology.create(budgets, { method: 'srigl' }, new Rng(6));
    for (const [i, s] of topo.stats().entries()) {
      const b = budgets[i];
      assert.equal(s.name, b.name);
      assert.equal(s.activeNeurons, b.out);
      assert.equal(s.ablatedNeurons, 0);
      if (b.dense) assert.equal(s.density, 1);
      else {
        assert.equal(s.k, b.k0);
        assert.equal(s.nnz, b.k0 * b.out);
      }
    }
  });
});

describe('sparse-aware init rules', () => {
  test('kaiming-uniform: active weights in (−1/√k_r, 1/√k_r) with the variance 1/(3k_r), masked 0, biases kept; the compact init draws the same numbers', () => {
    for (const method of ['srigl', 'rigl'] as SparseMethod[]) {
      const budgets = computeBudgets([{ name: 'a', shape: [400, 300] }], { sparsity: 0.9, distribution: 'uniform' }).layers;
      const topo = SparseTopology.create(budgets, { method }, new Rng(7));
      const weight = new Float32Array(400 * 300).fill(9);
      const bias = new Float32Array(400).fill(0.25);
      topo.initWeights({ name: 'a', weight, bias }, new Rng(3), 'kaiming-uniform');
      assert.ok(bias.every((v) => v === 0.25), 'biases keep the layer\'s own init');
      const mask = topo.mask('a') as Uint8Array;
      let sumSq = 0, expect = 0, count = 0;
      for (let r = 0; r < 400; r++) {
        let k = 0;
        for (let i = 0; i < 300; i++) k += mask[r * 300 + i];
        for (let i = 0; i < 300; i++) {
          const v = weight[r * 300 + i];
          if (mask[r * 300 + i] === 0) assert.equal(v, 0);
          else {
            assert.ok(Math.abs(v) < 1 / Math.sqrt(k), `row ${r}: |${v}| < 1/√${k}`);
            sumSq += v * v;
            expect += 1 / (3 * k);
            count++;
          }
        }
      }
      assert.ok(Math.abs(sumSq / expect - 1) < 0.05, `${method}: mean square ${sumSq / count} vs U(±1/√k)'s ${expect / count}`);
      // The compact layout of the same mask, drawn from the same seed, holds the same values.
      const pos = Int32Array.from([...mask.keys()].filter((i) => mask[i] === 1));
      const values = new Float32Array(pos.length);
      topo.initCompact('a', pos, values, new Rng(3), 'kaiming-uniform');
      assert.deepEqual(values, Float32Array.from(pos, (p) => weight[p]));
    }
  });

  test('kaiming-normal stays the default: the same draws as before, biases 0', () => {
    const budgets = computeBudgets([{ name: 'a', shape: [50, 40] }], { sparsity: 0.5, distribution: 'uniform' }).layers;
    const topo = SparseTopology.create(budgets, { method: 'srigl' }, new Rng(7));
    const w1 = new Float32Array(2000), w2 = new Float32Array(2000);
    const b = new Float32Array(50).fill(1);
    topo.initWeights({ name: 'a', weight: w1, bias: b }, new Rng(3));
    topo.initWeights({ name: 'a', weight: w2 }, new Rng(3), 'kaiming-normal');
    assert.deepEqual(w1, w2);
    assert.ok(b.every((v) => v === 0));
    const mask = topo.mask('a') as Uint8Array;
    const k = 20;
    let sumSq = 0;
    for (let i = 0; i < 2000; i++) if (mask[i]) sumSq += w1[i] * w1[i];
    assert.ok(Math.abs(sumSq / 1000 / (2 / k) - 1) < 0.15, `variance ${sumSq / 1000} vs 2/k = ${2 / k}`);
  });
});
