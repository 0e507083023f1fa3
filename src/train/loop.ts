import type { Model } from '../nn/models.js';
import { evaluate, type Examples } from './evaluate.js';
import { clipGradNorm, createOptimizer, maskGradients, type Optimizer, type OptimizerOptions } from './optimizer.js';
import { lrSchedule } from './schedule.js';

/**
 * Endless training batches: `next` copies the next batch into the given views and returns its
 * row count (≤ batchSize; an epoch's last batch may be short). The data module's
 * `BatchIterator` satisfies it.
 */
export interface Batches {
  readonly batchSize: number;
  readonly batchesPerEpoch: number;
  next(x: Float32Array, y: Int32Array): number;
}

/** Where training stands; one object, updated in place every step (hooks must not keep it). */
export interface StepInfo {
  /** Optimizer steps completed before this one (0-based index of this step). */
  step: number;
  totalSteps: number;
  /** 0-based epoch and step within it. */
  epoch: number;
  stepInEpoch: number;
  stepsPerEpoch: number;
  lr: number;
  rows: number;
  loss: number;
  correct: number;
  /** Running mean loss and accuracy of the current epoch so far. */
  epochLoss: number;
  epochAcc: number;
  /** Examples processed this epoch and seconds since it began. */
  epochSamples: number;
  epochSeconds: number;
}

/** What one epoch did. */
export interface EpochMetrics {
  /** 1-based. */
  epoch: number;
  epochs: number;
  steps: number;
  lr: number;
  trainLoss: number;
  trainAcc: number;
  testLoss: number | null;
  testAcc: number | null;
  samplesPerSec: number;
  epochSeconds: number;
  wallSeconds: number;
}

/** Callbacks inside the step; sparse topology updates hook `afterBackward` (dense gradients available). */
export interface TrainHooks {
  /** After backward, before gradients are masked, clipped and applied. */
  afterBackward?(info: StepInfo): void;
  /** After the optimizer step (masked weights already zero). */
  afterStep?(info: StepInfo): void;
}

/** Options for `train`. */
export interface TrainOptions {
  model: Model;
  trainData: Batches;
  /** Evaluated after every epoch when given. */
  testData?: Examples;
  epochs: number;
  optimizer: OptimizerOptions;
  /** Peak learning rate. */
  lr: number;
  /** Default 'cosine'. */
  schedule?: 'constant' | 'cosine' | 'step';
  /** Linear warm-up length in epochs (may be fractional). Default 0. */
  warmupEpochs?: number;
  /** Step schedule: epochs at which lr is multiplied by `gamma`. Default [50%, 75%] of epochs. */
  milestones?: number[];
  /** Default 0.1. */
  gamma?: number;
  /** Label smoothing ε. Default 0. */
  labelSmoothing?: number;
  /** Clip gradients to this global L2 norm; 0 = off. Default 0. */
  clipNorm?: number;
  hooks?: TrainHooks;
  /** Called every step, e.g. for a progress bar (throttle there). */
  onStep?(info: StepInfo): void;
  onEpoch?(metrics: EpochMetrics): void;
}

export interface TrainResult {
  history: EpochMetrics[];
  optimizer: Optimizer;
}

/**
 * Trains `model` in place. Deterministic: the same model seed, data order and backend/thread
 * count give bit-identical weights. Per step it allocates nothing but the kernels' loss result.
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { model, trainData, epochs } = opts;
  const engine = model.engine;
  if (!Number.isInteger(epochs) || epochs < 1) throw new RangeError(`train: epochs must be a positive integer, got ${epochs}`);
  if (trainData.batchSize > model.maxBatch) throw new RangeError(`train: batch size ${trainData.batchSize} exceeds the model's maxBatch ${model.maxBatch}`);
  const stepsPerEpoch = trainData.batchesPerEpoch;
  const totalSteps = epochs * stepsPerEpoch;
  const schedule = lrSchedule({
    kind: opts.schedule ?? 'cosine',
    lr: opts.lr,
    totalSteps,
    warmupSteps: Math.round((opts.warmupEpochs ?? 0) * stepsPerEpoch),
    gamma: opts.gamma,
    milestones: (opts.milestones ?? [Math.floor(epochs / 2), Math.floor((epochs * 3) / 4)]).map((e) => e * stepsPerEpoch),
  });
  const params = model.parameters();
  const optimizer = createOptimizer(engine, params, opts.optimizer);
  const smoothing = opts.labelSmoothing ?? 0;
  const clipNorm = opts.clipNorm ?? 0;
  const hooks = opts.hooks ?? {};
  const history: EpochMetrics[] = [];
  const info: StepInfo = {
    step: 0, totalSteps, epoch: 0, stepInEpoch: 0, stepsPerEpoch, lr: 0, rows: 0, loss: 0, correct: 0,
    epochLoss: 0, epochAcc: 0, epochSamples: 0, epochSeconds: 0,
  };
  const t0 = performance.now();
  let step = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const te = performance.now();
    let lossSum = 0;
    let correct = 0;
    let samples = 0;
    for (let s = 0; s < stepsPerEpoch; s++, step++) {
      const rows = trainData.next(model.inputs, model.labels);
      model.forward(rows, true);
      const res = model.loss(rows, smoothing);
      if (!Number.isFinite(res.loss)) {
        throw new Error(`training diverged: loss is ${res.loss} at step ${step} (epoch ${epoch + 1}); try a lower learning rate or clipping`);
      }
      model.backward(rows);
      const lr = schedule(step);
      lossSum += res.loss * rows;
      correct += res.correct;
      samples += rows;
      info.step = step;
      info.epoch = epoch;
      info.stepInEpoch = s;
      info.lr = lr;
      info.rows = rows;
      info.loss = res.loss;
      info.correct = res.correct;
      info.epochLoss = lossSum / samples;
      info.epochAcc = correct / samples;
      info.epochSamples = samples;
      info.epochSeconds = (performance.now() - te) / 1000;
      hooks.afterBackward?.(info);
      maskGradients(engine, params);
      if (clipNorm > 0) clipGradNorm(engine, params, clipNorm);
      optimizer.step(lr);
      hooks.afterStep?.(info);
      opts.onStep?.(info);
    }
    const epochSeconds = (performance.now() - te) / 1000;
    const test = opts.testData ? evaluate(model, opts.testData) : null;
    const metrics: EpochMetrics = {
      epoch: epoch + 1,
      epochs,
      steps: step,
      lr: schedule(Math.max(0, step - 1)),
      trainLoss: lossSum / samples,
      trainAcc: correct / samples,
      testLoss: test ? test.loss : null,
      testAcc: test ? test.accuracy : null,
      samplesPerSec: samples / epochSeconds,
      epochSeconds,
      wallSeconds: (performance.now() - t0) / 1000,
    };
    history.push(metrics);
    opts.onEpoch?.(metrics);
    // Let timers and signal handlers run between epochs.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { history, optimizer };
}
