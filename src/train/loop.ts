import type { Model } from '../nn/models.js';
import { yieldToEventLoop } from '../platform/host.js';
import { evaluate, type Examples } from './evaluate.js';
import type { LoopPosition } from './checkpoint.js';
import { checkFinite, NonFiniteError } from './guard.js';
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
  /** Before the forward pass of step `step` (0-based) of `totalSteps`: sparse training asks for dense gradients here. */
  beforeStep?(step: number, totalSteps: number): void;
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
  /** Step hooks, or a function building them from the optimizer (sparse training zeroes its state). */
  hooks?: TrainHooks | ((optimizer: Optimizer) => TrainHooks);
  /** Called every step, e.g. for a progress bar (throttle there). */
  onStep?(info: StepInfo): void;
  onEpoch?(metrics: EpochMetrics): void;
  /**
   * Resuming: called once, before the first step, with the fresh optimizer; restores the model,
   * optimizer, data order and any other state (train/checkpoint.ts) and returns where the loop
   * stood. The run then continues exactly as the interrupted one would have.
   */
  resume?(optimizer: Optimizer): LoopPosition;
  /** Steps between checkpoints (`onCheckpoint` also runs after the last step); 0 = none. Default 0. */
  checkpointEvery?: number;
  /**
   * Writes a checkpoint (e.g. `captureTrainState` + `writeCheckpoint`). Runs only after every
   * param was found finite, so a diverged run never overwrites its last good checkpoint.
   */
  onCheckpoint?(position: LoopPosition, optimizer: Optimizer): void;
  /** Stop after this many steps in all, with a checkpoint, as an interruption would. Default: run to the end. */
  stopAfterStep?: number;
  /**
   * For a resumed run: the wall seconds its earlier sessions spent up to the end of the last
   * completed epoch (the last logged `wallSeconds`), so `wallSeconds` keeps counting the whole
   * run. The resumed position's seconds into its epoch are added to it. Default 0.
   */
  wallSecondsBefore?: number;
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
  // Restored before the hooks are built, so hooks see the resumed optimizer state.
  const start: LoopPosition = opts.resume?.(optimizer) ?? { step: 0, epoch: 0, stepInEpoch: 0, lossSum: 0, correct: 0, samples: 0, seconds: 0 };
  const hooks = typeof opts.hooks === 'function' ? opts.hooks(optimizer) : (opts.hooks ?? {});
  const history: EpochMetrics[] = [];
  const info: StepInfo = {
    step: 0, totalSteps, epoch: 0, stepInEpoch: 0, stepsPerEpoch, lr: 0, rows: 0, loss: 0, correct: 0,
    epochLoss: 0, epochAcc: 0, epochSamples: 0, epochSeconds: 0,
  };
  const every = opts.checkpointEvery ?? 0;
  const stopAfter = opts.stopAfterStep ?? totalSteps;
  if (start.step !== start.epoch * stepsPerEpoch + start.stepInEpoch || start.step > totalSteps) {
    throw new RangeError(`train: cannot resume at step ${start.step} (epoch ${start.epoch}, step ${start.stepInEpoch} of ${stepsPerEpoch}) in a run of ${totalSteps} steps`);
  }
  const t0 = performance.now() - ((opts.wallSecondsBefore ?? 0) + start.seconds) * 1000;
  let step = start.step;
  for (let epoch = start.epoch; epoch < epochs && step < stopAfter; epoch++) {
    const resumed = epoch === start.epoch;
    const te = performance.now() - (resumed ? start.seconds * 1000 : 0);
    let lossSum = resumed ? start.lossSum : 0;
    let correct = resumed ? start.correct : 0;
    let samples = resumed ? start.samples : 0;
    for (let s = resumed ? start.stepInEpoch : 0; s < stepsPerEpoch; s++, step++) {
      const rows = trainData.next(model.inputs, model.labels);
      hooks.beforeStep?.(step, totalSteps);
      model.forward(rows, true);
      const res = model.loss(rows, smoothing);
      if (!Number.isFinite(res.loss)) {
        throw checkFinite(params, step, true) ?? new NonFiniteError(`training diverged: loss is ${res.loss} at step ${step} (epoch ${epoch + 1}) with every param finite; try a lower learning rate or clipping`, 'loss', null, step);
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
      const bad = checkFinite(params, step, true, engine.kernels);
      if (bad !== null) throw bad;
      opts.onStep?.(info);
      if (s + 1 < stepsPerEpoch && ((every > 0 && (step + 1) % every === 0) || step + 1 === stopAfter)) {
        const position = { step: step + 1, epoch, stepInEpoch: s + 1, lossSum, correct, samples, seconds: (performance.now() - te) / 1000 };
        opts.onCheckpoint?.(position, optimizer);
        if (step + 1 === stopAfter) return { history, optimizer };
      }
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
    if ((every > 0 && (step % every === 0 || step === totalSteps)) || step === stopAfter) {
      opts.onCheckpoint?.({ step, epoch: epoch + 1, stepInEpoch: 0, lossSum: 0, correct: 0, samples: 0, seconds: 0 }, optimizer);
    }
    // Let timers and signal handlers run between epochs.
    await yieldToEventLoop();
  }
  return { history, optimizer };
}
