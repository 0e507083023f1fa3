import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BatchIterator, type BatchSource } from '../../src/data/batches.js';

/** Example i has features [i, i + 0.5] and label i % 10, so a batch reveals which examples it holds. */
function source(n: number): BatchSource {
  const x = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    x[2 * i] = i;
    x[2 * i + 1] = i + 0.5;
  }
  return { n, features: 2, x, labels: Uint8Array.from({ length: n }, (_, i) => i % 10) };
}

/** Draws `batches` batches and returns the example ids of each. */
function draw(it: BatchIterator, batches: number): number[][] {
  const x = new Float32Array(it.batchSize * 2);
  const y = new Int32Array(it.batchSize);
  const out: number[][] = [];
  for (let b = 0; b < batches; b++) {
    const rows = it.next(x, y);
    const ids: number[] = [];
    for (let r = 0; r < rows; r++) {
      assert.equal(x[2 * r + 1], x[2 * r] + 0.5, 'features of one example stay together');
      assert.equal(y[r], x[2 * r] % 10, 'label travels with its example');
      ids.push(x[2 * r]);
    }
    out.push(ids);
  }
  return out;
}

describe('BatchIterator', () => {
  test('every example exactly once per epoch, partial last batch, then the next epoch', () => {
    const it = new BatchIterator(source(23), { batchSize: 5, seed: 7 });
    assert.equal(it.batchesPerEpoch, 5);
    const epoch0 = draw(it, 5);
    assert.deepEqual(epoch0.map((b) => b.length), [5, 5, 5, 5, 3]);
    assert.deepEqual(epoch0.flat().sort((a, b) => a - b), Array.from({ length: 23 }, (_, i) => i));
    assert.deepEqual(it.position, { epoch: 1, index: 0 });
    const epoch1 = draw(it, 5);
    assert.deepEqual(epoch1.flat().sort((a, b) => a - b), Array.from({ length: 23 }, (_, i) => i));
    assert.notDeepEqual(epoch1.flat(), epoch0.flat(), 'each epoch is reshuffled');
    assert.notDeepEqual(epoch0.flat(), Array.from({ length: 23 }, (_, i) => i), 'shuffled at all');
  });

  test('same seed, same order; different seed, different order', () => {
    const a = draw(new BatchIterator(source(50), { batchSize: 8, seed: 3 }), 14).flat();
    const b = draw(new BatchIterator(source(50), { batchSize: 8, seed: 3 }), 14).flat();
    const c = draw(new BatchIterator(source(50), { batchSize: 8, seed: 4 }), 14).flat();
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  test('resuming from a saved position reproduces the sequence exactly', () => {
    for (const [batchSize, dropLast, split] of [[5, false, 7], [5, true, 4], [7, false, 3], [4, true, 9]] as const) {
      const whole = draw(new BatchIterator(source(23), { batchSize, seed: 11, dropLast }), 20);
      const first = new BatchIterator(source(23), { batchSize, seed: 11, dropLast });
      const head = draw(first, split);
      const saved = JSON.parse(JSON.stringify(first.position));
      const resumed = new BatchIterator(source(23), { batchSize, seed: 11, dropLast });
      resumed.seek(saved);
      const tail = draw(resumed, 20 - split);
      assert.deepEqual([...head, ...tail], whole, `batchSize ${batchSize} dropLast ${dropLast} split at ${split}`);
    }
  });

  test('dropLast skips the short tail and every batch is full', () => {
    const it = new BatchIterator(source(23), { batchSize: 5, seed: 1, dropLast: true });
    assert.equal(it.batchesPerEpoch, 4);
    const batches = draw(it, 8);
    assert.ok(batches.every((b) => b.length === 5));
    assert.deepEqual(it.position, { epoch: 2, index: 0 });
    assert.equal(new Set(batches.slice(0, 4).flat()).size, 20, 'no example twice within an epoch');
  });

  test('without shuffling, examples come in order; batch larger than the data is one batch', () => {
    assert.deepEqual(draw(new BatchIterator(source(7), { batchSize: 3, shuffle: false }), 4), [[0, 1, 2], [3, 4, 5], [6], [0, 1, 2]]);
    assert.deepEqual(draw(new BatchIterator(source(4), { batchSize: 10, shuffle: false }), 2), [[0, 1, 2, 3], [0, 1, 2, 3]]);
  });

  test('writes into the caller buffers without touching rows past the batch', () => {
    const it = new BatchIterator(source(5), { batchSize: 4, shuffle: false });
    const x = new Float32Array(8 + 2).fill(-1);
    const y = new Int32Array(4 + 1).fill(-1);
    it.next(x, y);
    assert.equal(it.next(x, y), 1);
    assert.deepEqual([...x.subarray(0, 2)], [4, 4.5]);
    assert.deepEqual([...x.subarray(2, 8)], [1, 1.5, 2, 2.5, 3, 3.5], 'stale rows from the previous batch are left alone');
    assert.deepEqual([...x.subarray(8)], [-1, -1]);
    assert.equal(y[4], -1);
  });

  test('rejects bad options, buffers and positions', () => {
    assert.throws(() => new BatchIterator(source(5), { batchSize: 0 }), /batchSize must be a positive integer/);
    assert.throws(() => new BatchIterator(source(5), { batchSize: 6, dropLast: true }), /would yield no batches/);
    assert.throws(() => new BatchIterator({ ...source(5), features: 3 }, { batchSize: 2 }), /source\.x has 10 values/);
    const it = new BatchIterator(source(5), { batchSize: 2 });
    assert.throws(() => it.next(new Float32Array(3), new Int32Array(2)), /x holds 3 floats, a batch needs 4/);
    assert.throws(() => it.next(new Float32Array(4), new Int32Array(1)), /y holds 1 labels/);
    assert.throws(() => it.seek({ epoch: -1, index: 0 }), /epoch must be a non-negative integer/);
    assert.throws(() => it.seek({ epoch: 0, index: 5 }), /index must be an integer in \[0, 5\)/);
  });
});
