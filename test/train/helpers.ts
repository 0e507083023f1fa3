import type { Batches } from '../../src/train/loop.js';
import type { Examples } from '../../src/train/evaluate.js';
import { Rng } from '../../src/tensor/rng.js';

/**
 * A learnable synthetic task: 28×28 inputs whose class c shifts a class-specific random
 * pattern, plus noise. Enough for a model to beat chance within a few steps.
 */
export function syntheticExamples(n: number, classes: number, seed: number): Examples {
  const rng = new Rng(seed);
  const features = 784;
  const patterns = Array.from({ length: classes }, () => Float32Array.from({ length: features }, () => rng.normal()));
  const x = new Float32Array(n * features);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(classes);
    labels[i] = c;
    for (let f = 0; f < features; f++) x[i * features + f] = patterns[c][f] + rng.normal();
  }
  return { n, features, x, labels };
}

/** Sequential batches over examples (the order is fixed; enough for loop tests). */
export function sequentialBatches(data: Examples, batchSize: number): Batches {
  let index = 0;
  return {
    batchSize,
    batchesPerEpoch: Math.ceil(data.n / batchSize),
    next(x: Float32Array, y: Int32Array): number {
      const rows = Math.min(batchSize, data.n - index);
      x.set(data.x.subarray(index * data.features, (index + rows) * data.features));
      for (let r = 0; r < rows; r++) y[r] = data.labels[index + r];
      index = (index + rows) % data.n;
      return rows;
    },
  };
}
