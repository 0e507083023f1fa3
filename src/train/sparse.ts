/**
 * Sparse training glue: builds a `SparseTopology` for a model's Linear/Conv2d weights, installs
 * the masks on their Params, draws the sparse initial weights, and updates the topology inside
 * the training loop (SRIGL.md §1–§4). The update itself lives in dst/; this file only moves
 * arrays between the model, the optimizer and the topology.
 *
 * A layer trains in one of two forms: masked (a dense weight times a mask, dense GEMMs) or
 * compact (sparse compute: only the active weights, their gradients and optimizer state exist,
 * in the layout of the layer's SparseLists). At an update step RigL/SRigL grow from the dense
 * gradient — optionally averaged over the last `gradAccumulation` steps — which a compact layer
 * provides a few rows at a time (`denseGradRows`), so no dense array is built for it. The
 * optimizer step that follows an update is the ordinary one, with two rules that keep the
 * method's invariants:
 * - the gradient is zeroed wherever the topology changed (dropped ∪ grown), so a regrown
 *   weight and its optimizer state are still exactly 0 after that step;
 * - an ablatable layer's bias gets a mask too (0 at ablated neurons), so the loop zeroes an
 *   ablated neuron's bias gradient and the optimizer keeps its bias and bias state at 0.
 */
import type { Model } from '../nn/models.js';
import type { SparsifiableLayer } from '../nn/layer.js';
import { rowCounts, type SparseInitRule } from '../sparse/mask.js';
import { computeBudgets, type DistributionKind, type DistributionResult, type LayerBudget } from '../sparse/distribution.js';
import { checkNM, formatNM, nmGroups, type NMSpec, type NMStructure } from '../sparse/nm.js';
import { denseView, SparseTopology, type LayerTopologyStats, type LayerUpdateInput, type LayerUpdateReport, type SparseMethod, type TopologyJSON } from '../dst/topology.js';
import type { SparseLayerView } from '../dst/sparse-update.js';
import { remapCompact, zeroChanged } from '../dst/update.js';
import { gradRowsPerChunk } from '../nn/sparse-lists.js';
import { dropFraction, isUpdateStep, tEndFromFraction } from '../dst/schedule.js';
import { Rng } from '../tensor/rng.js';
import type { StepInfo, TrainHooks } from './loop.js';
import type { Optimizer } from './optimizer.js';

export const SPARSE_METHODS: readonly SparseMethod[] = ['dense', 'static', 'set', 'rigl', 'srigl'];

/** Options of sparse training; every default is the paper's small-scale recipe. */
export interface SparseTrainingOptions {
  method: SparseMethod;
  /** Global sparsity over all sparsifiable weights, in [0, 1). Ignored for 'dense'. Default 0.9. */
  sparsity?: number;
  /** Default 'erk'. */
  distribution?: DistributionKind;
  /**
   * Keep the first layer dense. Default: true when the first layer is a Conv2d (as the paper's
   * ResNets), false otherwise (the MLP's first layer holds 88% of its weights, so keeping it
   * dense would make 90% sparsity infeasible).
   */
  denseFirst?: boolean;
  /** Per-layer sparsity by layer name (e.g. { fc2: 0.5 }); these layers are not rescaled. */
  overrides?: Readonly<Record<string, number>>;
  /** SRigL neuron ablation. Default true. */
  ablation?: boolean;
  /** SRigL γ_sal. Default 0.3. */
  gammaSal?: number;
  /** Optimizer steps between topology updates ΔT. Default 100. */
  deltaT?: number;
  /** Initial drop fraction α. Default 0.3. */
  alpha?: number;
  /** T_end as a fraction of all steps. Default 0.75. */
  tEnd?: number;
  /** Average the dense gradient over this many steps ending at each update step (1 ≤ N ≤ ΔT). Default 1. */
  gradAccumulation?: number;
  /** Seed of the masks, the sparse initial weights and SET's random regrowth. Default 0. */
  seed?: number;
  /**
   * How sparse layers compute: 'sparse' runs forward, backward and the optimizer over the active
   * weights only (Linear and Conv2d), which are then the only weights stored; 'dense' runs GEMMs
   * over the masked dense weights; 'auto' (the default) is 'sparse' for layers of density ≤ AUTO_SPARSE_DENSITY,
   * where the benchmark shows it wins (bench/results/training.md). Both give the same results up
   * to float summation order; topology-update steps compute the dense gradient either way.
   */
  compute?: ComputeMode;
  /**
   * How the sparsifiable weights are initialised, for every method alike (the mask's active
   * fan-in in place of the fan-in): 'kaiming-normal' N(0, 2/k) with biases 0 (the reference
   * implementation's), or 'kaiming-uniform' U(±1/√k) with the layer's own bias init (PyTorch's
   * default, which the vit trains better with). Default 'kaiming-normal'.
   */
  init?: SparseInitRule;
  /**
   * N:M structure (methods srigl and rigl): every active row keeps exactly N of every M
   * consecutive inputs (Conv2d: M consecutive input channels at each kernel position; see
   * sparse/nm.ts). The global sparsity is then 1 − N/M (`sparsity` may be left out or must
   * agree): 'uniform' gives every sparse layer N:M, 'erk' gives each layer N_l:M with N_l the
   * ERK density × M rounded (at least 1; N_l = M makes the layer dense). Ablation (srigl) removes
   * whole rows and their budget goes unused. Default: none (constant fan-in, free positions).
   */
  nm?: NMSpec;
  /**
   * A fan-in the user fixes (method srigl): every active neuron of a sparse layer keeps exactly
   * K weights for the whole run, with no ERK/uniform budget and no redistribution when neurons
   * are ablated. A number applies to every layer that would be sparse (a layer whose fan-in is
   * ≤ K stays dense; the global sparsity follows, `sparsity` is ignored); a record by layer name
   * applies to those layers only, the others following `sparsity` and `distribution`.
   * Default: none.
   */
  fanIn?: number | Readonly<Record<string, number>>;
}

export type ComputeMode = 'auto' | 'dense' | 'sparse';

/** Where N:M groups run, as model files record it. */
export const NM_AXIS = 'input channels: a group is M consecutive inputs of a Linear row, or M consecutive input channels of a Conv2d filter at one kernel position (weight[o, c0:c0+M, i, j]); a partial last group of r < M keeps min(N, r)';
export const COMPUTE_MODES: readonly ComputeMode[] = ['auto', 'dense', 'sparse'];
/** Densest layer 'auto' computes sparse (bench/results/training.md). */
export const AUTO_SPARSE_DENSITY = 0.5;

/** One layer's facts for logs, summaries and model metadata. */
export interface SparseLayerStats extends LayerTopologyStats {
  kind: 'linear' | 'conv2d';
  /** Indices of the neurons with no weight (ablated). */
  ablatedRows: number[];
  /** Whether the layer computes over its active weights only (else dense GEMMs). */
  sparseCompute: boolean;
}

/** What the training log and model metadata record about a sparse run. */
export interface SparseRunInfo {
  method: SparseMethod;
  sparsity: number;
  distribution: DistributionKind;
  denseFirst: boolean;
  overrides: Record<string, number>;
  ablation: boolean;
  gammaSal: number;
  deltaT: number;
  alpha: number;
  tEnd: number;
  gradAccumulation: number;
  compute: ComputeMode;
  /** N:M asked for (layers' own N_l:M in `layers[].nm`), with the axis its groups run along; absent without N:M. */
  nm?: NMSpec;
  nmAxis?: string;
  /** The fixed fan-in asked for; absent without one. */
  fanIn?: number | Record<string, number>;
  /** Topology updates applied so far. */
  updates: number;
  /** Nonzero weights over all sparsifiable layers, and their total size. */
  nnz: number;
  totalWeights: number;
  layers: SparseLayerStats[];
}

/** A topology update as it happened, for the log. */
export interface SparseUpdateEvent {
  step: number;
  dropFraction: number;
  layers: LayerUpdateReport[];
}

type Resolved = Required<Omit<SparseTrainingOptions, 'overrides' | 'nm' | 'fanIn'>> & {
  overrides: Record<string, number>;
  nm: NMSpec | null;
  fanIn: number | Record<string, number> | null;
};

function resolve(layers: readonly SparsifiableLayer[], o: SparseTrainingOptions): Resolved {
  const r: Resolved = {
    method: o.method,
    sparsity: o.method === 'dense' ? 0 : (o.sparsity ?? 0.9),
    distribution: o.distribution ?? 'erk',
    denseFirst: o.denseFirst ?? layers[0]?.kind === 'conv2d',
    overrides: { ...(o.overrides ?? {}) },
    ablation: o.ablation ?? true,
    gammaSal: o.gammaSal ?? 0.3,
    init: o.init ?? 'kaiming-normal',
    deltaT: o.deltaT ?? 100,
    alpha: o.alpha ?? 0.3,
    tEnd: o.tEnd ?? 0.75,
    gradAccumulation: o.gradAccumulation ?? 1,
    seed: o.seed ?? 0,
    compute: o.compute ?? 'auto',
    nm: o.nm === undefined ? null : { n: o.nm.n, m: o.nm.m },
    fanIn: o.fanIn === undefined ? null : typeof o.fanIn === 'number' ? o.fanIn : { ...o.fanIn },
  };
  if (!COMPUTE_MODES.includes(r.compute)) throw new RangeError(`compute must be one of ${COMPUTE_MODES.join(', ')}, got '${String(r.compute)}'`);
  if (!SPARSE_METHODS.includes(r.method)) throw new RangeError(`unknown sparse method '${String(r.method)}', expected one of ${SPARSE_METHODS.join(', ')}`);
  if (!Number.isInteger(r.deltaT) || r.deltaT < 1) throw new RangeError(`deltaT must be a positive integer, got ${r.deltaT}`);
  if (!(r.alpha >= 0 && r.alpha <= 1)) throw new RangeError(`alpha must be in [0, 1], got ${r.alpha}`);
  if (!(r.tEnd >= 0 && r.tEnd <= 1)) throw new RangeError(`tEnd must be a fraction in [0, 1], got ${r.tEnd}`);
  if (!Number.isInteger(r.gradAccumulation) || r.gradAccumulation < 1 || r.gradAccumulation > r.deltaT) {
    throw new RangeError(`gradAccumulation must be an integer in [1, deltaT=${r.deltaT}], got ${r.gradAccumulation}`);
  }
  if (!(Number.isFinite(r.gammaSal) && r.gammaSal >= 0)) throw new RangeError(`gammaSal must be a finite number ≥ 0, got ${r.gammaSal}`);
  if (r.method === 'dense' && Object.keys(r.overrides).length > 0) throw new RangeError("per-layer sparsity overrides need a sparse method, not 'dense'");
  if (r.nm !== null) {
    checkNM(r.nm, 'nm');
    if (r.method !== 'srigl' && r.method !== 'rigl') throw new RangeError(`nm: N:M needs method srigl or rigl, not '${r.method}'`);
    if (r.fanIn !== null) throw new RangeError('nm and fanIn both fix the fan-in; give one');
    if (Object.keys(r.overrides).length > 0) throw new RangeError('nm: per-layer sparsity overrides do not combine with N:M');
    const implied = 1 - r.nm.n / r.nm.m;
    if (o.sparsity !== undefined && Math.abs(o.sparsity - implied) > 1e-9) throw new RangeError(`nm: ${formatNM(r.nm)} means sparsity ${implied}, but sparsity ${o.sparsity} was given; give one`);
    r.sparsity = implied;
  }
  if (r.fanIn !== null) {
    if (r.method !== 'srigl') throw new RangeError(`fanIn: a fixed fan-in needs method srigl, not '${r.method}'`);
    const entries = typeof r.fanIn === 'number' ? [['', r.fanIn] as const] : Object.entries(r.fanIn);
    if (entries.length === 0) throw new RangeError('fanIn: no layer given');
    for (const [name, k] of entries) {
      if (!Number.isInteger(k) || k < 1) throw new RangeError(`fanIn${name ? ` of ${name}` : ''}: must be a positive integer, got ${k}`);
      if (name !== '' && !layers.some((l) => l.name === name)) throw new RangeError(`fanIn: unknown layer '${name}' (layers: ${layers.map((l) => l.name).join(', ')})`);
      if (name !== '' && name in r.overrides) throw new RangeError(`fanIn: layer '${name}' also has a sparsity override; give one`);
    }
  }
  return r;
}

/**
 * The sparse side of one training run. Create it after building the model (it re-initialises
 * the sparsifiable weights), pass `hooks(optimizer)` to `train`, and read `info()` for logs.
 */
export class SparseTraining {
  readonly topology: SparseTopology;
  readonly budgets: StructuredBudgets;
  private readonly opts: Resolved;
  private readonly layers: SparsifiableLayer[];
  /** Sparse (masked) layers only: the ones updated. */
  private readonly sparse: SparsifiableLayer[];
  private readonly rng: Rng;
  /** Running sums of dense gradients over the accumulation window (gradAccumulation > 1 only; dense even for compact layers). */
  private readonly gradSums: Map<string, Float32Array>;
  private accumulated = 0;
  private updates = 0;
  /** Per layer, neurons ablated and revived by the updates since the last `takeAblationChanges`. */
  private changes = new Map<string, AblationChanges>();

  private constructor(model: Model, options: SparseTrainingOptions, topology?: SparseTopology, rngState?: readonly number[]) {
    this.layers = model.sparsifiable();
    this.opts = resolve(this.layers, options);
    const o = this.opts;
    this.budgets = structuredBudgets(this.layers, o);
    // A fan-in fixed for every layer decides the sparsity.
    if (typeof o.fanIn === 'number') o.sparsity = 1 - this.budgets.totalNnz / this.budgets.totalParams;
    this.rng = new Rng(o.seed ^ 0x5eed5);
    if (rngState !== undefined) this.rng.setState(rngState);
    const init = topology === undefined;
    this.topology =
      topology ?? SparseTopology.create(this.budgets.layers.map((b) => ({ ...b, ...this.budgets.structure.get(b.name) })), { method: o.method, ablation: o.ablation, gammaSal: o.gammaSal }, this.rng);
    for (const l of this.layers) {
      const mask = this.topology.mask(l.name);
      if (mask !== null && this.computesSparse(l)) {
        // Compact from the start: the dense weight is never allocated.
        this.installMask(l, !init);
        const c = l.weight.compact;
        if (init && c !== null) {
          this.topology.initCompact(l.name, c.pos.subarray(0, c.count), l.weight.value.data, this.rng, o.init);
          if (o.init === 'kaiming-normal') l.bias?.value.data.fill(0);
        }
        continue;
      }
      // Every method gets the same (sparse-aware) init, so methods differ only in sparsity.
      if (init) this.topology.initWeights({ name: l.name, weight: l.weight.value.data, bias: l.bias?.value.data }, this.rng, o.init);
      if (mask !== null) this.installMask(l, true);
    }
    this.sparse = this.layers.filter((l) => this.topology.mask(l.name) !== null);
    this.gradSums = new Map(o.gradAccumulation > 1 && this.updating ? this.sparse.map((l) => [l.name, new Float32Array(l.weight.size)]) : []);
  }

  /** Builds the topology for `model` (masks, budgets) and re-initialises its sparsifiable weights and biases. */
  static create(model: Model, options: SparseTrainingOptions): SparseTraining {
    return new SparseTraining(model, options);
  }

  /** Restores the topology saved by `toJSON` onto a model whose weights are already loaded (a resumed run). */
  static restore(model: Model, options: SparseTrainingOptions, state: SparseTrainingState): SparseTraining {
    const s = new SparseTraining(model, options, SparseTopology.fromJSON(state.topology), state.rng);
    s.updates = state.updates;
    for (const [name, c] of Object.entries(state.ablationChanges ?? {})) {
      const ok = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0;
      if (!s.layers.some((l) => l.name === name) || !ok(c?.newlyAblated) || !ok(c?.revived)) {
        throw new RangeError(`sparse state: ablationChanges of layer '${name}' must be {newlyAblated, revived} counts of a sparse layer, got ${JSON.stringify(c)}`);
      }
      s.changes.set(name, { newlyAblated: c.newlyAblated, revived: c.revived });
    }
    return s;
  }

  get options(): Readonly<Resolved> {
    return this.opts;
  }

  private get updating(): boolean {
    return this.opts.method === 'set' || this.opts.method === 'rigl' || this.opts.method === 'srigl';
  }

  private mayAblate(l: SparsifiableLayer): boolean {
    return this.opts.method === 'srigl' && this.opts.ablation && !l.isClassifier;
  }

  /** Whether layer `l` computes sparse under the compute option (it must support it and have a mask). */
  private computesSparse(l: SparsifiableLayer): boolean {
    const { compute } = this.opts;
    if (l.sparseCompute === undefined || compute === 'dense' || this.topology.mask(l.name) === null) return false;
    if (compute === 'sparse') return true;
    const b = this.budgets.layers.find((x) => x.name === l.name);
    return b !== undefined && b.budget <= AUTO_SPARSE_DENSITY * l.out * l.fanIn;
  }

  /**
   * Copies the topology's mask into the layer: the lists of a compact (sparse-compute) layer,
   * whose values keep their layout for the caller to remap (or, `keepValues` on the first call,
   * are gathered from the dense values), or the mask of a masked one; and for ablating layers
   * the bias mask.
   */
  private installMask(l: SparsifiableLayer, keepValues: boolean): void {
    const mask = this.topology.mask(l.name);
    if (mask === null) return;
    if (this.computesSparse(l)) {
      const b = this.budgets.layers.find((x) => x.name === l.name);
      l.sparseCompute?.setSparseCompute(mask, b?.budget ?? mask.length, keepValues);
    } else {
      l.weight.setMask(mask);
    }
    if (l.bias !== null && this.mayAblate(l)) {
      const ablated = this.topology.ablatedRows(l.name);
      l.bias.setMask(Uint8Array.from(ablated, (a) => 1 - a));
    }
  }

  /**
   * The loop hooks: `afterBackward` accumulates dense gradients and applies the topology update
   * at update steps; `afterStep` checks nothing and costs nothing (the optimizer already
   * multiplies masked params by their masks). `onUpdate` sees every applied update.
   */
  hooks(optimizer: Optimizer, onUpdate?: (event: SparseUpdateEvent) => void): TrainHooks {
    if (!this.updating) return {};
    const sparseLayers = this.sparse.filter((l) => l.sparseCompute?.sparse === true);
    return {
      beforeStep: sparseLayers.length === 0 ? undefined : (step: number, totalSteps: number) => {
        const dense = this.needsDenseGrad(step, totalSteps);
        for (const l of sparseLayers) l.weight.denseGrad = dense;
      },
      afterBackward: (info: StepInfo) => {
        const event = this.afterBackward(info, optimizer);
        if (event !== null) onUpdate?.(event);
      },
    };
  }

  /** T_end in steps for a run of `totalSteps`. */
  tEndSteps(totalSteps: number): number {
    return tEndFromFraction(totalSteps, this.opts.tEnd);
  }

  /**
   * Whether step `step` needs the dense weight gradient: an update step, or a step of the
   * gradient-accumulation window before one (the same rule afterBackward applies).
   */
  needsDenseGrad(step: number, totalSteps: number): boolean {
    if (!this.updating) return false;
    const { deltaT, gradAccumulation } = this.opts;
    const tEnd = this.tEndSteps(totalSteps);
    if (isUpdateStep(step, { deltaT, tEnd })) return true;
    if (gradAccumulation <= 1) return false;
    const next = Math.max(deltaT, Math.ceil(step / deltaT) * deltaT);
    return next - step < gradAccumulation && next < tEnd;
  }

  /** Called after backward; returns the update applied, if any. */
  afterBackward(info: Pick<StepInfo, 'step' | 'totalSteps'>, optimizer: Optimizer): SparseUpdateEvent | null {
    if (!this.updating) return null;
    const { deltaT, alpha, gradAccumulation } = this.opts;
    const tEnd = this.tEndSteps(info.totalSteps);
    const step = info.step;
    if (gradAccumulation > 1) {
      // The next update step at or after this one; accumulate when it is within the window.
      const next = Math.max(deltaT, Math.ceil(step / deltaT) * deltaT);
      if (next - step < gradAccumulation && next < tEnd) {
        if (this.accumulated === 0) for (const a of this.gradSums.values()) a.fill(0);
        for (const l of this.sparse) this.addDenseGrad(l, this.gradSums.get(l.name) as Float32Array);
        this.accumulated++;
      }
    }
    if (!isUpdateStep(step, { deltaT, tEnd })) {
      if (gradAccumulation > 1) for (const l of this.sparse) l.sparseCompute?.releaseDenseGrad();
      return null;
    }
    const f = dropFraction(step, { alpha, tEnd });
    const count = this.accumulated;
    if (count > 1) {
      const inv = 1 / count;
      for (const sum of this.gradSums.values()) for (let i = 0; i < sum.length; i++) sum[i] *= inv;
    }
    const inputs: LayerUpdateInput[] = this.sparse.map((l) => ({ name: l.name, isClassifier: l.isClassifier, view: this.viewOf(l, count > 1 ? (this.gradSums.get(l.name) as Float32Array) : null) }));
    // Compact layers' layouts before the update, to move their values and state after it.
    const oldPos = new Map(this.sparse.flatMap((l) => (l.weight.compact === null ? [] : [[l.name, l.weight.compact.pos.slice(0, l.weight.compact.count)] as const])));
    let results;
    try {
      results = this.topology.updateViews(inputs, f, this.rng);
    } finally {
      for (const l of this.sparse) l.sparseCompute?.releaseDenseGrad();
    }
    const byName = new Map(results.map((r) => [r.name, r]));
    for (const l of this.sparse) {
      const r = byName.get(l.name);
      if (r === undefined) continue;
      // The step after the update must not move a weight that just changed: zero its gradient too.
      const state = [...optimizer.state(l.weight).map((t) => t.data), l.weight.grad.data];
      const before = oldPos.get(l.name);
      if (before !== undefined) {
        this.installMask(l, false);
        remapCompact(before, r.pos, r.dropped, [l.weight.value.data, ...state]);
      } else {
        zeroChanged({ mask: this.topology.mask(l.name) as Uint8Array, grown: r.grown, dropped: r.dropped }, [l.weight.value.data, ...state]);
        this.installMask(l, false);
      }
      if (r.ablated !== null && l.bias !== null) {
        const ablated = r.ablated;
        for (const a of [l.bias.value.data, ...optimizer.state(l.bias).map((t) => t.data), l.bias.grad.data]) for (let j = 0; j < ablated.length; j++) if (ablated[j]) a[j] = 0;
      }
      const rep = r.report;
      if (rep.newlyAblated === 0 && rep.revived === 0) continue;
      const c = this.changes.get(rep.name) ?? { newlyAblated: 0, revived: 0 };
      this.changes.set(rep.name, { newlyAblated: c.newlyAblated + rep.newlyAblated, revived: c.revived + rep.revived });
    }
    this.accumulated = 0;
    this.updates++;
    return { step, dropFraction: f, layers: results.map((r) => r.report) };
  }

  /** The layer as the update reads it: active positions and values, and the gradient (summed over the window, or this step's) by rows. */
  private viewOf(l: SparsifiableLayer, gradSum: Float32Array | null): SparseLayerView {
    const c = l.weight.compact;
    const fromDense = (g: Float32Array) => (r0: number, r1: number, dst: Float32Array) => dst.set(g.subarray(r0 * l.fanIn, r1 * l.fanIn));
    if (c === null) return denseView(l.out, l.fanIn, this.topology.mask(l.name) as Uint8Array, l.weight.value.data, gradSum ?? l.weight.grad.data);
    const src = l.sparseCompute;
    return {
      out: l.out,
      fanIn: l.fanIn,
      pos: c.pos.subarray(0, c.count),
      values: l.weight.value.data.subarray(0, c.count),
      gradRows: gradSum !== null ? fromDense(gradSum) : (r0, r1, dst) => src?.denseGradRows(r0, r1, dst),
      rowsPerChunk: gradRowsPerChunk(l.out, l.fanIn),
    };
  }

  /** sum += this step's dense weight gradient of `l` (read by row chunks from a compact layer). */
  private addDenseGrad(l: SparsifiableLayer, sum: Float32Array): void {
    if (l.weight.compact === null) {
      const g = l.weight.grad.data;
      for (let i = 0; i < sum.length; i++) sum[i] += g[i];
      return;
    }
    const rows = gradRowsPerChunk(l.out, l.fanIn);
    const chunk = new Float32Array(rows * l.fanIn);
    for (let r0 = 0; r0 < l.out; r0 += rows) {
      const r1 = Math.min(l.out, r0 + rows);
      l.sparseCompute?.denseGradRows(r0, r1, chunk);
      const base = r0 * l.fanIn;
      for (let i = 0; i < (r1 - r0) * l.fanIn; i++) sum[base + i] += chunk[i];
    }
  }

  /** Per-layer stats (density, fan-in, ablated neurons) in forward order. */
  stats(): SparseLayerStats[] {
    const kinds = new Map(this.layers.map((l) => [l.name, l.kind]));
    return this.topology.stats().map((s) => {
      const mask = this.topology.mask(s.name);
      // Neurons with no weight: SRigL's ablated rows, or (rarely) a row an unstructured method emptied.
      const counts = mask === null ? null : rowCounts(mask, s.out, s.fanIn);
      const ablatedRows: number[] = [];
      if (counts !== null) for (let r = 0; r < s.out; r++) if (counts[r] === 0) ablatedRows.push(r);
      const layer = this.layers.find((l) => l.name === s.name);
      return { ...s, kind: kinds.get(s.name) as 'linear' | 'conv2d', ablatedRows, sparseCompute: layer?.sparseCompute?.sparse === true };
    });
  }

  /** Everything about the run for logs and model metadata. */
  info(): SparseRunInfo {
    const { method, sparsity, distribution, denseFirst, overrides, ablation, gammaSal, deltaT, alpha, tEnd, gradAccumulation, compute, nm, fanIn } = this.opts;
    const layers = this.stats();
    return {
      method, sparsity, distribution, denseFirst, overrides, ablation: method === 'srigl' && ablation, gammaSal, deltaT, alpha, tEnd, gradAccumulation, compute,
      ...(nm === null ? {} : { nm, nmAxis: NM_AXIS }),
      ...(fanIn === null ? {} : { fanIn }),
      updates: this.updates,
      nnz: layers.reduce((a, l) => a + l.nnz, 0),
      totalWeights: layers.reduce((a, l) => a + l.out * l.fanIn, 0),
      layers,
    };
  }

  /**
   * Neurons each layer's updates ablated and revived since the last call (SRigL re-decides
   * ablation at every update, so a neuron can go and come back), then starts counting again.
   * Layers with no change are absent. The trainer takes it once per epoch.
   */
  takeAblationChanges(): Map<string, AblationChanges> {
    const taken = this.changes;
    this.changes = new Map();
    return taken;
  }

  /** Checkpoint state: the topology, the RNG (SET's regrowth draws from it), and the ablation changes not yet taken. */
  toJSON(): SparseTrainingState {
    return { topology: this.topology.toJSON(), rng: this.rng.getState(), updates: this.updates, ablationChanges: Object.fromEntries(this.changes) };
  }
}

/** Neurons ablated (active before an update, ablated after) and revived (the reverse), summed over updates. */
export interface AblationChanges {
  newlyAblated: number;
  revived: number;
}

export interface SparseTrainingState {
  topology: TopologyJSON;
  rng: number[];
  updates: number;
  /** Absent in checkpoints written before it existed: no changes pending. */
  ablationChanges?: Record<string, AblationChanges>;
}

/** Budgets, with each sparse layer's N:M structure or fixed fan-in where the options ask for one. */
export interface StructuredBudgets extends DistributionResult {
  structure: Map<string, { nm?: NMStructure; fixedK?: boolean }>;
}

/**
 * The budgets of a run: the distribution's (ERK or uniform over `sparsity`), then N:M or a fixed
 * fan-in applied per layer — budget = out × the structure's row fan-in — or, for a fan-in fixed
 * for every layer, K per row with no distribution at all.
 */
function structuredBudgets(layers: readonly SparsifiableLayer[], o: Resolved): StructuredBudgets {
  const named = (l: SparsifiableLayer): boolean => l.name in o.overrides || (o.fanIn !== null && typeof o.fanIn !== 'number' && l.name in o.fanIn);
  const denseFirst = (l: SparsifiableLayer): boolean => o.method !== 'dense' && o.denseFirst && l.isFirst && !named(l);
  const structure = new Map<string, { nm?: NMStructure; fixedK?: boolean }>();
  const taps = (l: SparsifiableLayer): number => l.kernel[0] * l.kernel[1];
  const finish = (result: DistributionResult, patch: (l: SparsifiableLayer, b: LayerBudget) => number | null): StructuredBudgets => {
    const out = result.layers.map((b) => {
      const l = layers.find((x) => x.name === b.name) as SparsifiableLayer;
      const budget = b.dense ? null : patch(l, b);
      if (budget === null) return b;
      const dense = budget === b.numel;
      if (dense) structure.delete(b.name);
      return { ...b, budget, density: budget / b.numel, k0: Math.floor(budget / b.out), dense, clamped: false };
    });
    const totalNnz = out.reduce((a, b) => a + b.budget, 0);
    return { ...result, layers: out, totalNnz, targetNnz: totalNnz, clampedLayers: [], structure };
  };
  const specs = (dense: (l: SparsifiableLayer) => boolean) => layers.map((l) => ({ name: l.name, shape: budgetShape(l), dense: dense(l) }));

  if (typeof o.fanIn === 'number') {
    const K = o.fanIn;
    const sparse = layers.filter((l) => !denseFirst(l) && l.fanIn > K);
    if (sparse.length === 0) {
      throw new RangeError(`fanIn: ${K} is at least the fan-in of every layer that could be sparse (${layers.filter((l) => !denseFirst(l)).map((l) => `${l.name} ${l.fanIn}`).join(', ')}), so none would be`);
    }
    for (const l of sparse) structure.set(l.name, { fixedK: true });
    // Every layer is either dense or fixed: the distribution only supplies the bookkeeping.
    const base = computeBudgets(specs(() => true), { sparsity: 0, distribution: 'uniform', overrides: {} });
    return finish({ ...base, layers: base.layers.map((b) => ({ ...b, dense: !structure.has(b.name) })) }, (l, b) => (structure.has(b.name) ? K * l.out : null));
  }
  const base = computeBudgets(specs(denseFirst), { sparsity: o.sparsity, distribution: o.distribution, overrides: o.overrides });
  if (o.fanIn !== null) {
    // The named layers take their fixed fan-in (dense when it is not below theirs); the others
    // keep the budget the distribution gave them, so the global density moves with the fixed ones.
    const fixed = o.fanIn;
    for (const l of layers) if (l.name in fixed && fixed[l.name] < l.fanIn) structure.set(l.name, { fixedK: true });
    const withNamed = { ...base, layers: base.layers.map((b) => (b.name in fixed ? { ...b, dense: false } : b)) };
    return finish(withNamed, (l, b) => (l.name in fixed ? (structure.has(l.name) ? fixed[l.name] * l.out : b.numel) : null));
  }
  const nm = o.nm;
  if (nm === null) return { ...base, structure };
  return finish(base, (l, b) => {
    // Uniform: N:M everywhere. ERK: N_l from the layer's ERK density, at least 1.
    const n = o.distribution === 'uniform' ? nm.n : Math.max(1, Math.min(nm.m, Math.round((b.budget / b.numel) * nm.m)));
    if (n >= nm.m) return b.numel;
    const st: NMStructure = { n, m: nm.m, taps: taps(l) };
    structure.set(l.name, { nm: st });
    return nmGroups(l.fanIn, st).k * l.out;
  });
}

/** The shape ERK sees: [out, in] for Linear, [out, in, kh, kw] for Conv2d. */
function budgetShape(l: SparsifiableLayer): number[] {
  const [kh, kw] = l.kernel;
  return l.kind === 'conv2d' ? [l.out, l.fanIn / (kh * kw), kh, kw] : [l.out, l.fanIn];
}

/**
 * One line per epoch: `fc1 d=0.080 k=62 abl=3 | …` (k only for SRigL, dense layers as `dense`);
 * with `changes`, a layer whose updates ablated or revived neurons shows them: `abl=3 (+4 -1)`.
 */
export function formatSparseLine(layers: readonly SparseLayerStats[], changes: ReadonlyMap<string, AblationChanges> = new Map()): string {
  return layers
    .map((l) => {
      if (l.density === 1) return `${l.name} dense`;
      const k = (l.k === null ? '' : ` k=${l.k}`) + (l.nm === null ? '' : ` ${formatNM(l.nm)}`);
      const c = changes.get(l.name);
      const moved = c === undefined ? '' : ` (+${c.newlyAblated} -${c.revived})`;
      return `${l.name} d=${l.density.toFixed(3)}${k} abl=${l.ablatedNeurons}${moved}`;
    })
    .join(' | ');
}

/** The final per-layer table (plain text, aligned). */
export function formatSparseTable(info: SparseRunInfo): string {
  // A structure column only when some layer has one (N:M, or a fixed fan-in).
  const structured = info.layers.some((l) => l.nm !== null || l.fixedK);
  const structure = (l: SparseLayerStats): string[] => (structured ? [l.nm !== null ? formatNM(l.nm) : l.fixedK ? 'fixed k' : ''] : []);
  const head = ['layer', 'kind', 'shape', 'nnz', 'density', 'fan-in k', ...(structured ? ['structure'] : []), 'active', 'ablated'];
  const rows = info.layers.map((l) => [
    l.name,
    l.kind,
    `${l.out}×${l.fanIn}`,
    String(l.nnz),
    l.density.toFixed(4),
    l.k === null ? (l.density === 1 ? String(l.fanIn) : '-') : String(l.k),
    ...structure(l),
    String(l.activeNeurons),
    String(l.ablatedNeurons),
  ]);
  rows.push(['total', '', '', String(info.nnz), (info.nnz / info.totalWeights).toFixed(4), '', ...(structured ? [''] : []), '', String(info.layers.reduce((a, l) => a + l.ablatedNeurons, 0))]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]): string => r.map((v, c) => (c === 0 || c === 1 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}
