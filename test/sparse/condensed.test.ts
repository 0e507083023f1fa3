import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packCondensed, validateCondensed, packCsr, expandRows, type CondensedLayer } from '../../src/sparse/condensed/index.js';
import { constantFanInMask, randomMask } from '../../src/sparse/mask.js';
import { Rng } from '../../src/tensor/rng.js';

function denseCase(out: number, fanIn: number, k: number, seed: number) {
  const rng = new Rng(seed);
  const weight = new Float32Array(out * fanIn);
  for (let i = 0; i < weight.length; i++) weight[i] = rng.normal();
  return { outFeatures: out, inFeatures: fanIn, weight, mask: constantFanInMask(out, fanIn, k, rng), bias: Float32Array.from({ length: out }, () => rng.normal()) };
}

/** A deep copy whose arrays a test may corrupt. */
function clone(l: CondensedLayer): CondensedLayer {
  return { ...l, values: l.values.slice(), indices: l.indices.slice(), bias: l.bias.slice(), activeMap: l.activeMap.slice() };
}

test('packCondensed keeps exactly the masked weights, sorted per row, with the active map', () => {
  const c = denseCase(6, 20, 4, 1);
  c.mask.fill(0, 2 * 20, 3 * 20); // ablate neuron 2
  c.bias[2] = 0;
  const l = packCondensed(c);
  assert.equal(l.nActive, 5);
  assert.equal(l.k, 4);
  assert.ok(l.indices instanceof Uint16Array);
  assert.deepEqual([...l.activeMap], [0, 1, 3, 4, 5]);
  for (let a = 0; a < l.nActive; a++) {
    const r = l.activeMap[a];
    const cols: number[] = [...l.indices.subarray(a * 4, a * 4 + 4)];
    const want = [...Array(20).keys()].filter((i) => c.mask[r * 20 + i]);
    assert.deepEqual(cols, want);
    for (let j = 0; j < 4; j++) assert.equal(l.values[a * 4 + j], c.weight[r * 20 + cols[j]]);
    assert.equal(l.bias[a], c.bias[r]);
  }
  const y = expandRows(l, Float32Array.from({ length: 5 }, (_, i) => i + 1));
  assert.deepEqual([...y], [1, 2, 0, 3, 4, 5]);
});

test('packCondensed uses u32 indices above 65536 inputs and accepts a fully ablated layer', () => {
  const big = packCondensed(denseCase(2, 65537, 3, 2));
  assert.ok(big.indices instanceof Uint32Array);
  const exact = packCondensed(denseCase(2, 65536, 3, 2));
  assert.ok(exact.indices instanceof Uint16Array);
  const empty = packCondensed({ outFeatures: 3, inFeatures: 4, weight: new Float32Array(12), mask: new Uint8Array(12) });
  assert.equal(empty.nActive, 0);
  assert.equal(empty.values.length, 0);
});

test('packCondensed rejects non-constant fan-in, bad masks, ablated bias and shape mismatches', () => {
  const c = denseCase(4, 10, 3, 3);
  const mask = c.mask.slice();
  const r1 = [...Array(10).keys()].find((i) => !mask[10 + i])!;
  mask[10 + r1] = 1;
  assert.throws(() => packCondensed({ ...c, mask }), /not constant fan-in: row 1 has 4 active weights, row 0 has 3/);
  const two = c.mask.slice();
  two[5] = 2;
  assert.throws(() => packCondensed({ ...c, mask: two }), /mask\[row 0, col 5\] = 2/);
  const abl = c.mask.slice().fill(0, 30, 40);
  assert.throws(() => packCondensed({ ...c, mask: abl }), /row 3 is ablated .* bias\[3\]/);
  assert.throws(() => packCondensed({ ...c, weight: new Float32Array(39) }), /weight has 39 elements/);
  const nan = c.weight.slice();
  const col = [...Array(10).keys()].find((i) => c.mask[20 + i])!;
  nan[20 + col] = NaN;
  assert.throws(() => packCondensed({ ...c, weight: nan }), /values\[row 2, col 0\] = NaN is not finite/);
});

test('validateCondensed names the field, row and column of each defect', () => {
  const good = packCondensed(denseCase(5, 12, 4, 4));
  validateCondensed(good);
  const bad = (edit: (l: CondensedLayer) => void, re: RegExp) => {
    const l = clone(good);
    edit(l);
    assert.throws(() => validateCondensed(l), re);
  };
  bad((l) => { l.indices[1 * 4 + 3] = 12; }, /indices\[row 1, col 3\] = 12 is out of range \[0, 12\)/);
  bad((l) => { l.indices[2 * 4 + 1] = l.indices[2 * 4]; }, /indices\[row 2, col 1\] = \d+ duplicates/);
  bad((l) => { const t = l.indices[3 * 4 + 1]; l.indices[3 * 4 + 1] = l.indices[3 * 4 + 2]; l.indices[3 * 4 + 2] = t; }, /indices\[row 3, col 2\] = \d+ is not ascending/);
  bad((l) => { l.values[4 * 4 + 2] = NaN; }, /values\[row 4, col 2\] = NaN is not finite/);
  bad((l) => { l.values[0] = Infinity; }, /values\[row 0, col 0\] = Infinity/);
  bad((l) => { l.bias[1] = NaN; }, /bias\[row 1\] = NaN/);
  bad((l) => { l.activeMap[2] = l.activeMap[1]; }, /activeMap\[row 2\] = 1 is not strictly increasing/);
  bad((l) => { l.activeMap[4] = 5; }, /activeMap\[row 4\] = 5 is out of range \[0, 5\)/);
  bad((l) => { (l as { values: Float32Array }).values = l.values.subarray(1); }, /values has 19 elements, expected nActive·k = 5·4/);
  bad((l) => { (l as { k: number }).k = 13; }, /k 13 exceeds inFeatures 12/);
  bad((l) => { (l as { inFeatures: number }).inFeatures = 70000; }, /indices must be Uint32Array/);
});

test('packCsr stores the same nonzeros as the mask, empty rows included', () => {
  const rng = new Rng(8);
  const rows = 12, cols = 30;
  const weight = Float32Array.from({ length: rows * cols }, () => rng.normal());
  const mask = randomMask(rows * cols, 40, rng);
  mask.fill(0, 5 * cols, 6 * cols);
  const csr = packCsr({ rows, cols, weight, mask });
  let nnz = 0;
  for (let i = 0; i < mask.length; i++) nnz += mask[i];
  assert.equal(csr.rowPtr[rows], nnz);
  assert.equal(csr.rowPtr[6], csr.rowPtr[5]);
  for (let r = 0; r < rows; r++) {
    for (let p = csr.rowPtr[r]; p < csr.rowPtr[r + 1]; p++) {
      assert.equal(mask[r * cols + csr.colIdx[p]], 1);
      assert.equal(csr.values[p], weight[r * cols + csr.colIdx[p]]);
      if (p > csr.rowPtr[r]) assert.ok(csr.colIdx[p] > csr.colIdx[p - 1]);
    }
  }
  const nan = weight.slice();
  const first = mask.indexOf(1);
  nan[first] = NaN;
  assert.throws(() => packCsr({ rows, cols, weight: nan, mask }), /weight\[row \d+, col \d+\] = NaN is not finite/);
});
