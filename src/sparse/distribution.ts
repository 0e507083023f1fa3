/**
 * Per-layer sparsity budgets from one global sparsity (SRIGL.md §1).
 *
 * A layer is `out` rows of length `fanIn`: Linear [out, in] has fan-in `in`; Conv2d
 * [out, in, kh, kw] has fan-in in·kh·kw. Layers are split into *fixed* ones (forced dense, or
 * given a per-layer override) and *free* ones; the free layers share whatever nonzero budget
 * the fixed layers leave, so the global nonzero count over all layers hits the target.
 */

/** A weight to budget. */
export interface LayerSpec {
  name: string;
  /** [out, in] for Linear, [out, in, kh, kw] for Conv2d. */
  shape: readonly number[];
  /** Keep this layer fully dense (e.g. the first layer). Default false. */
  dense?: boolean;
}

export type DistributionKind = 'uniform' | 'erk';

export interface DistributionOptions {
  /** Global sparsity in [0, 1): the fraction of zero weights over all listed layers. */
  sparsity: number;
  /** How the free layers share the budget. Default 'erk'. */
  distribution?: DistributionKind;
  /** Per-layer sparsity in [0, 1) by layer name; these layers are fixed, not rescaled. */
  overrides?: Readonly<Record<string, number>>;
  /** Exponent applied to the ERK raw density p_l. Default 1. */
  erkPower?: number;
}

/** The budget of one layer. */
export interface LayerBudget {
  name: string;
  shape: readonly number[];
  out: number;
  fanIn: number;
  numel: number;
  /** Nonzero budget B = floor(numel · density), at least `out`. */
  budget: number;
  /** Actual density budget / numel. */
  density: number;
  /** Density the distribution asked for, before rounding and the k ≥ 1 clamp. */
  requestedDensity: number;
  /** Fan-in with no ablation, floor(budget / out); always ≥ 1. */
  k0: number;
  /** True when the layer is fully dense (forced, ERK saturation, or density 1). */
  dense: boolean;
  /**
   * True when floor(numel · density) < out, i.e. the requested density would leave a row
   * with no weights; the budget was raised to `out` (k = 1), which puts the global nonzero
   * count above the target by the difference.
   */
  clamped: boolean;
}

export interface DistributionResult {
  layers: LayerBudget[];
  /** Σ numel over all layers. */
  totalParams: number;
  /** floor(totalParams · (1 − sparsity)). */
  targetNnz: number;
  /** Σ budget over all layers. */
  totalNnz: number;
  /** Names of layers whose budget was raised to k = 1 (see LayerBudget.clamped). */
  clampedLayers: string[];
  /** The ERK scale ε (density of a free layer = ε · p_l); NaN for uniform. */
  erkEpsilon: number;
}

/** Out, fan-in and numel of a Linear or Conv2d weight shape; throws on anything else. */
export function layerGeometry(spec: LayerSpec): { out: number; fanIn: number; numel: number } {
  const { name, shape } = spec;
  if (shape.length !== 2 && shape.length !== 4) {
    throw new RangeError(`layer '${name}': shape must be [out, in] or [out, in, kh, kw], got [${shape.join(', ')}]`);
  }
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 1) throw new RangeError(`layer '${name}': shape dimensions must be positive integers, got [${shape.join(', ')}]`);
  }
  const out = shape[0];
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  return { out, fanIn, numel: out * fanIn };
}

/** ERK raw density p_l (before the power): (Σ dims) / (Π dims). */
export function erkRawDensity(shape: readonly number[]): number {
  const sum = shape.reduce((a, b) => a + b, 0);
  const prod = shape.reduce((a, b) => a * b, 1);
  return sum / prod;
}

/**
 * floor that forgives the last-bit error of a float product (e.g. 0.7·100 = 69.99999999999999),
 * so budgets match what a person computes by hand.
 */
function floorExact(x: number): number {
  return Math.floor(x + Math.abs(x) * 1e-12 + 1e-12);
}

function checkSparsity(s: number, what: string): void {
  if (!(typeof s === 'number' && s >= 0 && s < 1)) throw new RangeError(`${what} must be in [0, 1), got ${s}`);
}

/**
 * Computes every layer's nonzero budget.
 *
 * Fixed layers (dense, or overridden) take their own budgets; the remainder R = target − fixed
 * is shared by the free layers: uniformly (same density R / Σ numel_free) or by ERK (density
 * ε·p_l, layers with ε·p_l ≥ 1 made dense and ε re-solved until none exceeds 1). Each budget
 * is floor(numel · density), so the global count is at most the target and below it by less
 * than the number of free layers — unless a layer needed the k ≥ 1 clamp (reported).
 *
 * Throws when the target cannot be met: the fixed layers alone exceed it, or the free layers
 * fully dense still fall short of it.
 */
export function computeBudgets(layers: readonly LayerSpec[], options: DistributionOptions): DistributionResult {
  const { sparsity, distribution = 'erk', overrides = {}, erkPower = 1 } = options;
  checkSparsity(sparsity, 'sparsity');
  if (distribution !== 'uniform' && distribution !== 'erk') throw new RangeError(`distribution must be 'uniform' or 'erk', got '${String(distribution)}'`);
  if (!(Number.isFinite(erkPower) && erkPower > 0)) throw new RangeError(`erkPower must be a positive number, got ${erkPower}`);
  if (layers.length === 0) throw new RangeError('computeBudgets: no layers given');

  const names = new Set<string>();
  for (const l of layers) {
    if (names.has(l.name)) throw new RangeError(`layer '${l.name}' is listed twice`);
    names.add(l.name);
  }
  for (const [name, s] of Object.entries(overrides)) {
    if (!names.has(name)) throw new RangeError(`override for unknown layer '${name}'`);
    checkSparsity(s, `override sparsity of layer '${name}'`);
    if (layers.find((l) => l.name === name)?.dense) throw new RangeError(`layer '${name}' is forced dense and also has a sparsity override`);
  }

  const geo = layers.map(layerGeometry);
  const totalParams = geo.reduce((a, g) => a + g.numel, 0);
  const targetNnz = floorExact(totalParams * (1 - sparsity));

  // Requested density per layer; NaN marks a free layer still to be solved.
  const density = layers.map((l) => (l.dense ? 1 : l.name in overrides ? 1 - overrides[l.name] : NaN));
  const fixedNnz = layers.reduce((a, _l, i) => (Number.isNaN(density[i]) ? a : a + floorExact(geo[i].numel * density[i])), 0);
  if (fixedNnz > targetNnz) {
    const fixedNames = layers.filter((_l, i) => !Number.isNaN(density[i])).map((l) => l.name);
    throw new RangeError(
      `sparsity ${sparsity} is infeasible: the dense/overridden layers [${fixedNames.join(', ')}] alone hold ${fixedNnz} nonzeros, ` +
        `more than the global budget of ${targetNnz} (of ${totalParams} weights)`,
    );
  }
  const free = layers.map((_l, i) => i).filter((i) => Number.isNaN(density[i]));
  const remaining = targetNnz - fixedNnz;
  const freeNumel = free.reduce((a, i) => a + geo[i].numel, 0);
  if (remaining > freeNumel) {
    throw new RangeError(
      `sparsity ${sparsity} is infeasible: the global budget needs ${remaining} nonzeros in the free layers but they hold only ${freeNumel} weights ` +
        `(the overrides are sparser than the global target allows)`,
    );
  }

  let erkEpsilon = NaN;
  if (distribution === 'uniform') {
    for (const i of free) density[i] = freeNumel === 0 ? 1 : remaining / freeNumel;
  } else {
    const p = layers.map((l) => erkRawDensity(l.shape) ** erkPower);
    const saturated = new Set<number>();
    for (;;) {
      const sparseFree = free.filter((i) => !saturated.has(i));
      if (sparseFree.length === 0) break;
      const denseNnz = [...saturated].reduce((a, i) => a + geo[i].numel, 0);
      const weighted = sparseFree.reduce((a, i) => a + p[i] * geo[i].numel, 0);
      erkEpsilon = (remaining - denseNnz) / weighted;
      // ε only grows when layers saturate (they take 1 instead of ε·p > 1), so every layer
      // over 1 now is still over 1 after re-solving: saturating all of them at once is exact.
      const over = sparseFree.filter((i) => erkEpsilon * p[i] >= 1);
      if (over.length === 0) break;
      for (const i of over) saturated.add(i);
    }
    for (const i of free) density[i] = saturated.has(i) ? 1 : erkEpsilon * p[i];
  }

  const result: LayerBudget[] = layers.map((l, i) => {
    const { out, fanIn, numel } = geo[i];
    const requestedDensity = Math.min(1, density[i]);
    const raw = Math.min(numel, floorExact(numel * requestedDensity));
    const clamped = raw < out;
    const budget = clamped ? out : raw;
    return {
      name: l.name,
      shape: [...l.shape],
      out,
      fanIn,
      numel,
      budget,
      density: budget / numel,
      requestedDensity,
      k0: Math.floor(budget / out),
      dense: budget === numel,
      clamped,
    };
  });
  return {
    layers: result,
    totalParams,
    targetNnz,
    totalNnz: result.reduce((a, l) => a + l.budget, 0),
    clampedLayers: result.filter((l) => l.clamped).map((l) => l.name),
    erkEpsilon,
  };
}
