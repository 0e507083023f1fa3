/** Options for `lrSchedule`; steps count optimizer steps from 0. */
export interface ScheduleOptions {
  /** Default 'cosine'. */
  kind?: 'constant' | 'cosine' | 'step';
  /** Peak learning rate. */
  lr: number;
  /** Steps in the whole run (cosine reaches 0 here). */
  totalSteps: number;
  /** Linear warm-up from lr/warmupSteps to lr over the first steps. Default 0. */
  warmupSteps?: number;
  /** Step schedule: multiply by gamma at each milestone. Default 0.1. */
  gamma?: number;
  /** Step schedule: steps at which the rate drops. Default [50%, 75%] of totalSteps. */
  milestones?: number[];
}

/** Learning rate as a function of the step, e.g. `lrSchedule({ kind: 'cosine', lr: 0.1, totalSteps: 1000 })(step)`. */
export type LrSchedule = (step: number) => number;

export function lrSchedule(opts: ScheduleOptions): LrSchedule {
  const { lr, totalSteps } = opts;
  const kind = opts.kind ?? 'cosine';
  const warmup = opts.warmupSteps ?? 0;
  const gamma = opts.gamma ?? 0.1;
  const milestones = opts.milestones ?? [Math.floor(totalSteps / 2), Math.floor((totalSteps * 3) / 4)];
  if (!(lr >= 0) || !Number.isFinite(lr)) throw new RangeError(`schedule: lr must be a finite number ≥ 0, got ${lr}`);
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new RangeError(`schedule: totalSteps must be a positive integer, got ${totalSteps}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new RangeError(`schedule: warmupSteps must be a non-negative integer, got ${warmup}`);
  const main = (step: number): number => {
    switch (kind) {
      case 'constant':
        return lr;
      case 'cosine': {
        // Cosine over the steps after warm-up, reaching 0 at totalSteps.
        const span = Math.max(1, totalSteps - warmup);
        const t = Math.min(1, Math.max(0, step - warmup) / span);
        return 0.5 * lr * (1 + Math.cos(Math.PI * t));
      }
      case 'step': {
        let r = lr;
        for (const m of milestones) if (step >= m) r *= gamma;
        return r;
      }
    }
  };
  return (step) => (step < warmup ? (main(step) * (step + 1)) / warmup : main(step));
}
