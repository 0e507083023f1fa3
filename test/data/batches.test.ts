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

describe('BatchIterator augmentation', () => {
  // Example i is a 2×5×6 image whose pixel (c, y, x) holds 1000·i + 100·c + 10·y + x + 1, so every
  // output pixel says which source pixel it came from (and 0 cannot be confused with one).
  const [C, H, W] = [2, 5, 6];
  const F = C * H * W;
  function images(n: number): BatchSource {
    const x = new Float32Array(n * F);
    for (let i = 0; i < n; i++) for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let v = 0; v < W; v++) x[i * F + (c * H + y) * W + v] = 1000 * i + 100 * c + 10 * y + v + 1;
    return { n, features: F, x, labels: Uint8Array.from({ length: n }, (_, i) => i % 10) };
  }
  const fill = -7;
  const augment = { shape: [C, H, W] as const, cropPadding: 2, flip: true, fill };

  /** The (dy, dx, flip) that explains an output image, or throws when none does. */
  function explain(out: Float32Array, i: number, pad: number): { dy: number; dx: number; flip: boolean } {
    for (const flip of [false, true]) {
      for (let dy = -pad; dy <= pad; dy++) {
        for (let dx = -pad; dx <= pad; dx++) {
          let ok = true;
          for (let c = 0; c < C && ok; c++) for (let y = 0; y < H && ok; y++) for (let v = 0; v < W && ok; v++) {
            const sy = y + dy, sx = (flip ? W - 1 - v : v) + dx;
            const want = sy >= 0 && sy < H && sx >= 0 && sx < W ? 1000 * i + 100 * c + 10 * sy + sx + 1 : fill;
            ok = out[(c * H + y) * W + v] === want;
          }
          if (ok) return { dy, dx, flip };
        }
      }
    }
    throw new Error(`example ${i}: the output is no crop/flip of the source`);
  }

  test('each example is a padded crop of itself, mirrored or not, and the draws vary', () => {
    const n = 200;
    const it = new BatchIterator(images(n), { batchSize: n, seed: 3, augment });
    const x = new Float32Array(n * F);
    const y = new Int32Array(n);
    const seen = new Set<string>();
    let flips = 0;
    for (let epoch = 0; epoch < 2; epoch++) {
      it.next(x, y);
      for (let r = 0; r < n; r++) {
        const out = x.subarray(r * F, (r + 1) * F);
        // The centre pixel of channel 1 always comes from the example itself, whatever the crop.
        const i = Math.floor((out[(1 * H + 2) * W + 3] - 1) / 1000);
        assert.equal(y[r], i % 10, 'the label travels with its example');
        const e = explain(out, i, 2);
        seen.add(`${e.dy},${e.dx}`);
        if (e.flip) flips++;
      }
    }
    assert.equal(seen.size, 25, 'all 5×5 offsets occur');
    assert.ok(flips > 140 && flips < 260, `about half of 400 draws flip, got ${flips}`);
  });

  test('an epoch augments the same way after seek (resume), and differently in the next epoch', () => {
    const n = 30;
    const a = new BatchIterator(images(n), { batchSize: 7, seed: 11, augment });
    const xa = new Float32Array(7 * F), ya = new Int32Array(7);
    for (let b = 0; b < 6; b++) a.next(xa, ya);
    const pos = a.position;
    a.next(xa, ya);
    const b = new BatchIterator(images(n), { batchSize: 7, seed: 11, augment });
    b.seek(pos);
    const xb = new Float32Array(7 * F), yb = new Int32Array(7);
    b.next(xb, yb);
    assert.deepEqual(xb, xa);
    assert.deepEqual(yb, ya);
    // Epoch 0 and epoch 1 of one example: the same source, another draw for most examples.
    const full = new BatchIterator(images(n), { batchSize: n, seed: 11, shuffle: false, augment });
    const e0 = new Float32Array(n * F), e1 = new Float32Array(n * F), yy = new Int32Array(n);
    full.next(e0, yy);
    full.next(e1, yy);
    let differ = 0;
    for (let r = 0; r < n; r++) if (!e0.subarray(r * F, (r + 1) * F).every((v, j) => v === e1[r * F + j])) differ++;
    assert.ok(differ >= n / 2, `most examples are drawn anew each epoch (${differ} of ${n})`);
  });

  test('crop padding 0 with flip only mirrors; bad geometry is refused naming the option', () => {
    const it = new BatchIterator(images(50), { batchSize: 50, seed: 1, shuffle: false, augment: { shape: [C, H, W], flip: true } });
    const x = new Float32Array(50 * F), y = new Int32Array(50);
    it.next(x, y);
    let flips = 0;
    for (let r = 0; r < 50; r++) {
      const e = explain(x.subarray(r * F, (r + 1) * F), r, 0);
      assert.ok(e.dy === 0 && e.dx === 0, 'no shift without padding');
      if (e.flip) flips++;
    }
    assert.ok(flips > 10 && flips < 40, `about half flip, got ${flips} of 50`);
    assert.throws(() => new BatchIterator(images(2), { batchSize: 1, augment: { shape: [1, 5, 6], cropPadding: 1 } }), /augment\.shape \[1, 5, 6\] does not describe the source's 60 features/);
    assert.throws(() => new BatchIterator(images(2), { batchSize: 1, augment: { shape: [C, H, W], cropPadding: 5 } }), /augment\.cropPadding must be an integer in \[0, 5\), got 5/);
  });
});
