/**
 * The RigL topology-update schedule (SRIGL.md §3): when to update, and what fraction of the
 * active weights to drop. Steps count optimizer steps from 0.
 */

export interface UpdateScheduleOptions {
  /** Optimizer steps between topology updates (ΔT). Default 100. */
  deltaT?: number;
  /** Absolute step after which the topology is frozen (T_end). */
  tEnd: number;
}

export interface DropScheduleOptions {
  /** Initial drop fraction α. Default 0.3. */
  alpha?: number;
  /** Absolute step at which the drop fraction reaches 0 (T_end). */
  tEnd: number;
}

function checkStep(step: number, tEnd: number): void {
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`step must be a non-negative integer, got ${step}`);
  if (!Number.isInteger(tEnd) || tEnd < 0) throw new RangeError(`tEnd must be a non-negative integer, got ${tEnd}`);
}

/** T_end as a fraction of all training steps: floor(totalSteps · endFraction); endFraction defaults to 0.75. */
export function tEndFromFraction(totalSteps: number, endFraction = 0.75): number {
  if (!Number.isInteger(totalSteps) || totalSteps < 0) throw new RangeError(`totalSteps must be a non-negative integer, got ${totalSteps}`);
  if (!(endFraction >= 0 && endFraction <= 1)) throw new RangeError(`endFraction must be in [0, 1], got ${endFraction}`);
  return Math.floor(totalSteps * endFraction);
}

/** True at steps 0 < step < T_end that are multiples of ΔT. */
export function isUpdateStep(step: number, options: UpdateScheduleOptions): boolean {
  const { deltaT = 100, tEnd } = options;
  checkStep(step, tEnd);
  if (!Number.isInteger(deltaT) || deltaT < 1) throw new RangeError(`deltaT must be a positive integer, got ${deltaT}`);
  return step > 0 && step < tEnd && step % deltaT === 0;
}

/** Cosine-annealed drop fraction α/2 · (1 + cos(π · step / T_end)); 0 from T_end on. */
export function dropFraction(step: number, options: DropScheduleOptions): number {
  const { alpha = 0.3, tEnd } = options;
  checkStep(step, tEnd);
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`alpha must be in [0, 1], got ${alpha}`);
  if (step >= tEnd) return 0;
  return (alpha / 2) * (1 + Math.cos((Math.PI * step) / tEnd));
}
