// Param storage: lazy dense allocation with a deferred init, compact storage (only the active
// elements exist), the dense views built from it, and remapping compact arrays after an update.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WasmHeap } from '../../src/kernels/memory.js';
import { Param } from '../../src/tensor/param.js';
import { Rng } from '../../src/tensor/rng.js';
import { remapCompact } from '../../src/dst/update.js';

const index = (pos: number[]) => ({ count: pos.length, pos: Int32Array.from(pos) });

describe('Param storage', () => {
  test('dense storage is allocated on first use, and a deferred init runs then', () => {
    const heap = new WasmHeap();
    const p = new Param(heap, 'fc.weight', [2, 3], true);
    const used = heap.used;
    p.deferInit((d) => d.set([1, 2, 3, 4, 5, 6]));
    assert.equal(p.materialized, false);
    assert.equal(heap.used, used, 'nothing allocated before first use');
    assert.deepEqual([...p.value.data], [1, 2, 3, 4, 5, 6]);
    assert.ok(p.materialized && heap.used >= used + 2 * 6 * 4);
    assert.equal(p.count, 6);
  });

  test('Rng.clone + skip: a deferred draw gives the values an immediate one would, and the stream continues alike', () => {
    const a = new Rng(5), b = new Rng(5);
    const now = Array.from({ length: 7 }, () => a.uniform());
    const later = b.clone();
    b.skip(7);
    assert.deepEqual(Array.from({ length: 7 }, () => later.uniform()), now);
    assert.equal(b.uniform(), a.uniform());
  });

  test('a param made compact before use never allocates dense storage; its dense views come from the entries', () => {
    const heap = new WasmHeap();
    const p = new Param(heap, 'fc.weight', [3, 4], true);
    p.deferInit(() => assert.fail('the dense init must not run'));
    const ix = index([1, 4, 7, 11]);
    p.toCompact(5, ix, false);
    assert.equal(p.materialized, false);
    assert.equal(p.value.size, 5);
    assert.equal(p.count, 4);
    p.value.data.set([10, 20, 30, 40]);
    assert.deepEqual([...p.denseValues()], [0, 10, 0, 0, 20, 0, 0, 30, 0, 0, 0, 40]);
    assert.deepEqual([...(p.denseMask() as Uint8Array)], [0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1]);
    assert.throws(() => p.setMask(new Uint8Array(12)), /stored compact/);
    // assign gathers the active positions; gather zeroes the tail.
    p.assign(Float32Array.from({ length: 12 }, (_, i) => i + 0.5));
    assert.deepEqual([...p.value.data], [1.5, 4.5, 7.5, 11.5, 0]);
    assert.deepEqual([...p.scatter(Float32Array.from([1, 2, 3, 4]))], [0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 0, 4]);
    assert.equal(p.materialized, false);
  });

  test('toCompact with keepValues gathers dense values, from storage or from values assigned before any storage', () => {
    const heap = new WasmHeap();
    const dense = Float32Array.from({ length: 6 }, (_, i) => i + 1);
    const a = new Param(heap, 'a', [2, 3], true);
    a.value.data.set(dense);
    a.toCompact(3, index([0, 5]), true);
    assert.deepEqual([...a.value.data], [1, 6, 0]);
    const b = new Param(heap, 'b', [2, 3], true);
    b.assign(dense);
    b.toCompact(2, index([2, 3]), true);
    assert.deepEqual([...b.value.data], [3, 4]);
    assert.equal(b.materialized, false);
    // And back: dense storage holds the entries at their positions.
    b.toDense();
    assert.deepEqual([...b.value.data], [0, 0, 3, 4, 0, 0]);
    assert.equal(b.compact, null);
  });

  test('bad compact layouts are refused', () => {
    const p = new Param(new WasmHeap(), 'w', [2, 2], true);
    assert.throws(() => p.toCompact(1, index([0, 1]), false), /2 active elements exceed the compact capacity 1/);
    assert.throws(() => p.toCompact(0, index([]), false), /capacity must be a positive integer/);
    assert.throws(() => p.assign(new Float32Array(3)), /3 values for a param of 4/);
  });
});

describe('remapCompact', () => {
  test('kept entries carry their value, grown ones (and dropped-then-regrown) start at 0, the tail is cleared', () => {
    // Old positions 2, 5, 9, 12 with values 1..4; dropped 5 and 12; grown 7 and 12 (12 regrown).
    const values = Float32Array.from([1, 2, 3, 4, 9]);
    const momentum = Float32Array.from([-1, -2, -3, -4, 9]);
    remapCompact(Int32Array.from([2, 5, 9, 12]), Int32Array.from([2, 7, 9, 12]), Uint32Array.from([5, 12]), [values, momentum]);
    assert.deepEqual([...values], [1, 0, 3, 0, 9]);
    assert.deepEqual([...momentum], [-1, 0, -3, 0, 9]);
    // Fewer entries after (an ablated row): the freed tail is zeroed.
    const v = Float32Array.from([1, 2, 3, 4]);
    remapCompact(Int32Array.from([0, 1, 2, 3]), Int32Array.from([0, 3]), Uint32Array.from([1, 2]), [v]);
    assert.deepEqual([...v], [1, 4, 0, 0]);
  });

  test('equals zeroChanged on the dense arrays for random layouts', () => {
    const rng = new Rng(3);
    for (let trial = 0; trial < 200; trial++) {
      const numel = 1 + rng.int(40);
      const pick = (): number[] => [...Array(numel).keys()].filter(() => rng.uniform() < 0.4);
      const oldPos = pick(), newPos = pick();
      const dropped = oldPos.filter((p) => !newPos.includes(p) || rng.uniform() < 0.3);
      const dense = Float32Array.from({ length: numel }, (_, i) => (oldPos.includes(i) ? i + 1 : 0));
      const compact = new Float32Array(Math.max(oldPos.length, newPos.length, 1));
      oldPos.forEach((p, t) => (compact[t] = dense[p]));
      remapCompact(Int32Array.from(oldPos), Int32Array.from(newPos), Uint32Array.from(dropped), [compact]);
      // Dense oracle: zero at dropped ∪ grown (grown = new ∖ kept, kept = old ∖ dropped).
      const kept = new Set(oldPos.filter((p) => !dropped.includes(p)));
      newPos.forEach((p, t) => assert.equal(compact[t], kept.has(p) ? dense[p] : 0, `trial ${trial}: entry ${t} (position ${p})`));
      for (let t = newPos.length; t < compact.length; t++) assert.equal(compact[t], 0);
    }
  });
});
