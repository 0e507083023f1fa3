import type { Kernels } from '../kernels/api.js';
import type { Engine } from '../kernels/engine.js';
import type { Param } from '../tensor/param.js';
import { Tensor } from '../tensor/tensor.js';

/** Options for `Sgd`. */
export interface SgdOptions {
  kind: 'sgd';
  /** Default 0.9. */
  momentum?: number;
  /** Default true. */
  nesterov?: boolean;
  /** L2 penalty added to the gradient of params with `decay` (weights only). Default 5e-4. */
  weightDecay?: number;
}

/** Options for `AdamW`. */
export interface AdamWOptions {
  kind: 'adamw';
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled decay of params with `decay` (weights only). Default 0.01. */
  weightDecay?: number;
}

export type OptimizerOptions = SgdOptions | AdamWOptions;

/**
 * Updates every param from its gradient at a given learning rate. After each update a masked
 * param is multiplied by its mask, so masked weights are exactly 0 whatever the update did; a
 * compact param (sparse compute) holds only its active weights, and its state is compact too.
 * Per-element state (momentum, Adam moments) is stored like the param's `value` and exposed so
 * topology updates can zero (or, compact, remap) it where weights change. Create the optimizer
 * after the params took their final storage (after `SparseTraining.create`/`restore`).
 */
export interface Optimizer {
  readonly options: Required<SgdOptions> | Required<AdamWOptions>;
  step(lr: number): void;
  /** The per-element state tensors of `param`, stored like its `value` (dense or compact), e.g. [momentum] or [m, v]. */
  state(param: Param): Tensor[];
  /** Steps taken (Adam's bias correction depends on it; checkpoints save it). */
  steps: number;
}

export function createOptimizer(engine: Engine, params: readonly Param[], opts: OptimizerOptions): Optimizer {
  return opts.kind === 'sgd' ? new Sgd(engine, params, opts) : new AdamW(engine, params, opts);
}

function applyMask(k: Kernels, p: Param): void {
  if (p.mask) k.mul(p.size, p.value.ptr, p.mask.ptr, p.value.ptr);
}

/** State allocated like the param's storage; a param whose storage changed since cannot be stepped. */
function stateLike(engine: Engine, p: Param): Tensor {
  return Tensor.zeros(engine.heap, p.value.shape);
}

function checkState(p: Param, state: Tensor): void {
  if (state.size !== p.value.size) {
    throw new Error(`optimizer: ${p.name} changed storage (${state.size} → ${p.value.size} elements) after the optimizer was created; create it after SparseTraining.create/restore`);
  }
}

/** SGD with momentum, PyTorch semantics (dampening 0), optional Nesterov. */
export class Sgd implements Optimizer {
  readonly options: Required<SgdOptions>;
  steps = 0;
  private readonly k: Kernels;
  private readonly params: readonly Param[];
  private readonly momentum: Tensor[];

  constructor(engine: Engine, params: readonly Param[], opts: SgdOptions) {
    this.options = { kind: 'sgd', momentum: opts.momentum ?? 0.9, nesterov: opts.nesterov ?? true, weightDecay: opts.weightDecay ?? 5e-4 };
    this.k = engine.kernels;
    this.params = params;
    this.momentum = params.map((p) => stateLike(engine, p));
  }

  step(lr: number): void {
    const { momentum, nesterov, weightDecay } = this.options;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i];
      checkState(p, this.momentum[i]);
      this.k.sgdStep(p.count, p.value.ptr, p.grad.ptr, this.momentum[i].ptr, lr, momentum, p.decay ? weightDecay : 0, nesterov);
      applyMask(this.k, p);
    }
    this.steps++;
  }

  state(param: Param): Tensor[] {
    return [this.momentum[indexOf(this.params, param)]];
  }
}

/** AdamW (decoupled weight decay) with bias correction. */
export class AdamW implements Optimizer {
  readonly options: Required<AdamWOptions>;
  steps = 0;
  private readonly k: Kernels;
  private readonly params: readonly Param[];
  private readonly m: Tensor[];
  private readonly v: Tensor[];

  constructor(engine: Engine, params: readonly Param[], opts: AdamWOptions) {
    this.options = { kind: 'adamw', beta1: opts.beta1 ?? 0.9, beta2: opts.beta2 ?? 0.999, eps: opts.eps ?? 1e-8, weightDecay: opts.weightDecay ?? 0.01 };
    this.k = engine.kernels;
    this.params = params;
    this.m = params.map((p) => stateLike(engine, p));
    this.v = params.map((p) => stateLike(engine, p));
  }

  step(lr: number): void {
    const { beta1, beta2, eps, weightDecay } = this.options;
    const t = this.steps + 1;
    const bc1 = 1 - beta1 ** t;
    const bc2 = 1 - beta2 ** t;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i];
      checkState(p, this.m[i]);
      this.k.adamwStep(p.count, p.value.ptr, p.grad.ptr, this.m[i].ptr, this.v[i].ptr, lr, beta1, beta2, eps, p.decay ? weightDecay : 0, bc1, bc2);
      applyMask(this.k, p);
    }
    this.steps = t;
  }

  state(param: Param): Tensor[] {
    const i = indexOf(this.params, param);
    return [this.m[i], this.v[i]];
  }
}

function indexOf(params: readonly Param[], param: Param): number {
  const i = params.indexOf(param);
  if (i < 0) throw new Error(`optimizer: ${param.name} is not one of its params`);
  return i;
}

/**
 * Zeroes the gradient of masked params at masked positions, so optimizer state never builds
 * up where there is no weight. Runs after the dense gradient has been read (topology updates
 * need it) and before clipping, so the clip norm counts only live weights.
 */
export function maskGradients(engine: Engine, params: readonly Param[]): void {
  // A compact param has no masked positions to clear.
  for (const p of params) if (p.mask) engine.kernels.mul(p.size, p.grad.ptr, p.mask.ptr, p.grad.ptr);
}

/** Scales all gradients so their global L2 norm is at most maxNorm; returns the norm before. */
export function clipGradNorm(engine: Engine, params: readonly Param[], maxNorm: number): number {
  const k = engine.kernels;
  let sq = 0;
  for (const p of params) sq += k.sumSquares(p.count, p.grad.ptr);
  const norm = Math.sqrt(sq);
  if (norm > maxNorm) {
    const s = maxNorm / (norm + 1e-6);
    for (const p of params) k.scale(p.count, p.grad.ptr, s);
  }
  return norm;
}
