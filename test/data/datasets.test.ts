import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetSpec, loadSplitFromDir } from '../../src/data/datasets.js';
import { encodeIdx } from '../../src/data/idx.js';
import { normalizeSplit } from '../../src/data/normalize.js';
import { writeSyntheticDataset } from './synthetic.js';
import { SUBSET } from '../paths.js';

const embedded = SUBSET;
const debian = '/usr/share/datasets/fashion-mnist';

function classCounts(labels: Uint8Array): number[] {
  const counts = new Array(10).fill(0);
  for (const l of labels) counts[l]++;
  return counts;
}

describe('embedded Fashion-MNIST subset', () => {
  test('train: 10,000 real 28×28 images, 1,000 per class', () => {
    const s = loadSplitFromDir('fashion-mnist', 'train', embedded);
    assert.equal(s.n, 10000);
    assert.equal(s.rows, 28);
    assert.equal(s.cols, 28);
    assert.equal(s.images.length, 10000 * 784);
    assert.deepEqual(classCounts(s.labels), new Array(10).fill(1000));
    assert.equal(s.classes[9], 'Ankle boot');
    // Real images: mostly dark background with a bright object, not noise or zeros.
    let sum = 0;
    for (const p of s.images) sum += p;
    const mean = sum / s.images.length / 255;
    assert.ok(Math.abs(mean - datasetSpec('fashion-mnist').mean) < 0.02, `mean pixel ${mean}`);
  });

  test('test: 2,000 images, 200 per class', () => {
    const s = loadSplitFromDir('fashion-mnist', 'test', embedded);
    assert.equal(s.n, 2000);
    assert.deepEqual(classCounts(s.labels), new Array(10).fill(200));
  });

  test('the subset is the first examples of each class of the full files', (t) => {
    if (!existsSync(join(debian, 'train-images-idx3-ubyte.gz'))) return t.skip(`full Fashion-MNIST not installed at ${debian}`);
    const full = loadSplitFromDir('fashion-mnist', 'test', debian);
    const sub = loadSplitFromDir('fashion-mnist', 'test', embedded);
    // The first example of the full test file is always selected (its class is not yet full).
    assert.deepEqual(sub.images.subarray(0, 784), full.images.subarray(0, 784));
    assert.equal(sub.labels[0], full.labels[0]);
  });
});

describe('Debian Fashion-MNIST', () => {
  test('loads both full splits', (t) => {
    if (!existsSync(join(debian, 'train-images-idx3-ubyte.gz'))) return t.skip(`full Fashion-MNIST not installed at ${debian}`);
    const train = loadSplitFromDir('fashion-mnist', 'train', debian);
    const test = loadSplitFromDir('fashion-mnist', 'test', debian);
    assert.equal(train.n, 60000);
    assert.equal(test.n, 10000);
    assert.deepEqual(classCounts(train.labels), new Array(10).fill(6000));
    assert.deepEqual(classCounts(test.labels), new Array(10).fill(1000));
    // The published normalisation constants are this training set's statistics.
    const x = normalizeSplit(train).x;
    let s = 0;
    let s2 = 0;
    for (const v of x) {
      s += v;
      s2 += v * v;
    }
    const mean = s / x.length;
    const std = Math.sqrt(s2 / x.length - mean * mean);
    assert.ok(Math.abs(mean) < 0.01, `normalised mean ${mean}`);
    assert.ok(Math.abs(std - 1) < 0.01, `normalised std ${std}`);
  });
});

describe('loadSplitFromDir', () => {
  test('accepts uncompressed files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'srigl-ds-'));
    try {
      writeSyntheticDataset(dir, { gzip: false, train: 7 });
      const s = loadSplitFromDir('mnist', 'train', dir);
      assert.equal(s.n, 7);
      assert.deepEqual([...s.labels], [0, 1, 2, 3, 4, 5, 6]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('rejects missing files, count mismatches, bad labels and swapped files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'srigl-ds-'));
    try {
      assert.throws(() => loadSplitFromDir('mnist', 'train', dir), /mnist train: train-images-idx3-ubyte\[\.gz\] and train-labels-idx1-ubyte\[\.gz\] not found/);
      writeSyntheticDataset(dir, { train: 5 });
      writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), encodeIdx([4], Uint8Array.of(0, 1, 2, 3), true));
      assert.throws(() => loadSplitFromDir('mnist', 'train', dir), /holds 5 images but .*train-labels-idx1-ubyte\.gz holds 4 labels/);
      writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), encodeIdx([5], Uint8Array.of(0, 1, 10, 3, 4), true));
      assert.throws(() => loadSplitFromDir('mnist', 'train', dir), /train-labels-idx1-ubyte\.gz: label 10 at index 2 is not < 10/);
      writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), encodeIdx([1, 1, 5], Uint8Array.of(0, 1, 2, 3, 4), true));
      assert.throws(() => loadSplitFromDir('mnist', 'train', dir), /expected a 1-dimensional labels file, got dims \[1, 1, 5\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('rejects unknown datasets', () => {
    assert.throws(() => loadSplitFromDir('cifar' as 'mnist', 'train', '.'), /unknown dataset "cifar"; known datasets: fashion-mnist, mnist/);
  });
});

describe('normalizeSplit', () => {
  test('maps pixel p to (p/255 - mean)/std with the dataset constants', () => {
    const images = Uint8Array.of(0, 255, 128, 73);
    const split = { name: 'mnist' as const, split: 'train' as const, n: 1, rows: 2, cols: 2, images, labels: Uint8Array.of(3), classes: [] };
    const { x, features, labels } = normalizeSplit(split);
    assert.equal(features, 4);
    assert.equal(labels[0], 3);
    images.forEach((p, i) => assert.ok(Math.abs(x[i] - (p / 255 - 0.1307) / 0.3081) < 1e-6));
    const fm = normalizeSplit({ ...split, name: 'fashion-mnist' });
    assert.ok(Math.abs(fm.x[1] - (1 - 0.286) / 0.353) < 1e-6);
    const custom = normalizeSplit(split, { mean: 0, std: 1 });
    assert.equal(custom.x[1], 1);
    assert.throws(() => normalizeSplit(split, { std: 0 }), /std finite and > 0/);
  });
});
