import type { Model } from '../nn/models.js';

/** A labelled set held in JS memory (e.g. a normalised dataset split). */
export interface Examples {
  n: number;
  /** Values per example; must equal the model's input size. */
  features: number;
  /** n × features, row-major. */
  x: Float32Array;
  labels: ArrayLike<number>;
}

/** Mean loss and accuracy over a set. */
export interface EvalResult {
  loss: number;
  accuracy: number;
  n: number;
}

/** Options for `evaluate`. */
export interface EvaluateOptions {
  /** Rows per forward pass; at most the model's maxBatch. Default: the model's maxBatch. */
  batchSize?: number;
}

/** Runs the model in eval mode (BN running statistics) over every example once, in order. */
export function evaluate(model: Model, data: Examples, opts: EvaluateOptions = {}): EvalResult {
  const batch = opts.batchSize ?? model.maxBatch;
  if (!Number.isInteger(batch) || batch < 1 || batch > model.maxBatch) throw new RangeError(`evaluate: batchSize must be 1..${model.maxBatch}, got ${batch}`);
  if (data.features !== model.inputSize) throw new Error(`evaluate: examples have ${data.features} features, the model takes ${model.inputSize}`);
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < data.n; start += batch) {
    const rows = Math.min(batch, data.n - start);
    model.inputs.set(data.x.subarray(start * data.features, (start + rows) * data.features));
    for (let r = 0; r < rows; r++) model.labels[r] = data.labels[start + r];
    model.forward(rows, false);
    const res = model.loss(rows, 0);
    lossSum += res.loss * rows;
    correct += res.correct;
  }
  return { loss: data.n > 0 ? lossSum / data.n : NaN, accuracy: data.n > 0 ? correct / data.n : NaN, n: data.n };
}
