/**
 * The sparse topology of a whole model: one mask (and, for SRigL, ablated rows and fan-in k)
 * per layer, the initial masks, topology updates applied to plain arrays, checkpoint state and
 * stats for logging. Layers are plain objects so this stays independent of nn/.
 *
 * A layer whose budget equals its size (forced dense, ERK-saturated, or method 'dense') has no
 * mask and is never updated: an update on a full mask could only drop and regrow weights to 0.
 */
import { fromBase64, toBase64 } from '../platform/host.js';
import { Rng } from '../tensor/rng.js';
import { assertConstantFanIn, constantFanInMask, nnz, packMaskBits, randomMask, rowCounts, sparseInit, sparseInitDraw, unpackMaskBits, type SparseInitRule } from '../sparse/mask.js';
import { riglUpdateSparse, setUpdateSparse, sriglUpdateSparse, type SparseLayerView, type SparseUpdateResult } from './sparse-update.js';
import type { UnstructuredStats } from './rigl.js';
import type { SriglStats } from './srigl.js';
import { zeroChanged } from './update.js';
import { assertNM, nmGroups, nmMask, type NMStructure } from '../sparse/nm.js';

export type SparseMethod = 'dense' | 'static' | 'set' | 'rigl' | 'srigl';
const METHODS: readonly SparseMethod[] = ['dense', 'static', 'set', 'rigl', 'srigl'];

/** A layer to sparsify; `LayerBudget` from sparse/distribution.ts satisfies it. */
export interface TopologyLayerConfig {
  name: string;
  out: number;
  fanIn: number;
  /** Nonzero budget B in [out, out·fanIn]; B = out·fanIn means dense. */
  budget: number;
  /** Force the layer dense whatever its budget. Default false. */
  dense?: boolean;
  /**
   * SRigL with a fan-in the user fixed: every active row keeps exactly budget / out weights, and
   * an ablated neuron's share of the budget goes unused. Default false.
   */
  fixedK?: boolean;
  /** N:M structure (SRigL or RigL): budget must be out × its row fan-in (sparse/nm.ts). */
  nm?: NMStructure;
}

export interface TopologyOptions {
  method: SparseMethod;
  /** SRigL neuron ablation. Default true; ignored by other methods. */
  ablation?: boolean;
  /** SRigL saliency threshold fraction γ_sal. Default 0.3. */
  gammaSal?: number;
}

/** The arrays of one layer at an update step. */
export interface LayerTensors {
  name: string;
  out: number;
  fanIn: number;
  /** [out, fanIn] row-major. */
  weight: Float32Array;
  /** Dense gradient [out, fanIn] (every position). */
  grad: Float32Array;
  /** [out]; ablated neurons get bias 0. */
  bias?: Float32Array;
  /** Optimizer state shaped like the weight (momentum, Adam moments); zeroed where the topology changes. */
  optState: readonly Float32Array[];
  /** Optimizer state shaped like the bias; zeroed at ablated neurons. */
  biasOptState?: readonly Float32Array[];
  /** The classifier never ablates neurons. */
  isClassifier: boolean;
}

/** One layer at an update step, read through a memory-flat view (its active weights and gradient rows). */
export interface LayerUpdateInput {
  name: string;
  view: SparseLayerView;
  /** The classifier never ablates neurons. */
  isClassifier: boolean;
}

/** What an update did to one layer: the new active positions and what changed, for the caller's storage. */
export interface LayerUpdateResult extends SparseUpdateResult {
  name: string;
  report: LayerUpdateReport;
  /** SRigL's per-row ablation flags after the update (the caller zeroes those biases); null for other methods. */
  ablated: Uint8Array | null;
}

export interface LayerUpdateReport {
  name: string;
  nActive: number;
  nDrop: number;
  nGrown: number;
  nDropped: number;
  /** SRigL fan-in after the update; null for unstructured methods. */
  k: number | null;
  ablatedCount: number;
  revived: number;
  newlyAblated: number;
}

export interface LayerTopologyStats {
  name: string;
  out: number;
  fanIn: number;
  budget: number;
  nnz: number;
  density: number;
  /** Constant fan-in (SRigL), null otherwise. */
  k: number | null;
  /** Neurons with at least one weight. */
  activeNeurons: number;
  /** Neurons with no weight (ablated, for SRigL). */
  ablatedNeurons: number;
  /** N:M structure, or null. */
  nm: NMStructure | null;
  /** Whether the fan-in k is fixed (user-fixed fan-in, or N:M): ablation frees budget instead of raising k. */
  fixedK: boolean;
}

/** Checkpoint form. Masks are bit-packed (LSB first) and base64-encoded. */
export interface TopologyJSON {
  format: 'srigl-topology';
  version: 1;
  method: SparseMethod;
  ablation: boolean;
  gammaSal: number;
  layers: { name: string; out: number; fanIn: number; budget: number; k: number | null; mask: string | null; ablatedRows: number[]; fixedK?: boolean; nm?: NMStructure | null }[];
}

interface LayerState {
  name: string;
  out: number;
  fanIn: number;
  budget: number;
  /** null for a dense layer. */
  mask: Uint8Array | null;
  /** Per row, 1 when ablated (SRigL only; all 0 otherwise). */
  ablated: Uint8Array;
  /** SRigL constant fan-in (and N:M's row fan-in); null otherwise. */
  k: number | null;
  fixedK: boolean;
  nm: NMStructure | null;
}

function checkLayerConfig(l: TopologyLayerConfig): void {
  if (typeof l.name !== 'string' || l.name === '') throw new RangeError('topology layer: name must be a non-empty string');
  if (!Number.isInteger(l.out) || l.out < 1 || !Number.isInteger(l.fanIn) || l.fanIn < 1) {
    throw new RangeError(`topology layer '${l.name}': out and fanIn must be positive integers, got out=${l.out} fanIn=${l.fanIn}`);
  }
  if (!Number.isInteger(l.budget) || l.budget < l.out || l.budget > l.out * l.fanIn) {
    throw new RangeError(`topology layer '${l.name}': budget must be an integer in [out=${l.out}, out·fanIn=${l.out * l.fanIn}], got ${l.budget}`);
  }
}

export class SparseTopology {
  private constructor(
    readonly method: SparseMethod,
    readonly ablation: boolean,
    readonly gammaSal: number,
    private readonly layers: Map<string, LayerState>,
  ) {}

  /** Initial masks: constant fan-in k0 = floor(B/out) per row for SRigL, exactly B random positions for static/SET/RigL. */
  static create(configs: readonly TopologyLayerConfig[], options: TopologyOptions, rng: Rng): SparseTopology {
    const { method, ablation = true, gammaSal = 0.3 } = options;
    if (!METHODS.includes(method)) throw new RangeError(`unknown sparse method '${String(method)}', expected one of ${METHODS.join(', ')}`);
    if (!(Number.isFinite(gammaSal) && gammaSal >= 0)) throw new RangeError(`gammaSal must be a finite number ≥ 0, got ${gammaSal}`);
    const layers = new Map<string, LayerState>();
    for (const c of configs) {
      checkLayerConfig(c);
      if (layers.has(c.name)) throw new RangeError(`topology layer '${c.name}' is listed twice`);
      const { name, out, fanIn, budget } = c;
      const dense = method === 'dense' || c.dense === true || budget === out * fanIn;
      const ablated = new Uint8Array(out);
      const nm = c.nm ?? null;
      const fixedK = c.fixedK === true || nm !== null;
      if (!dense && nm !== null) {
        if (method !== 'srigl' && method !== 'rigl') throw new RangeError(`topology layer '${name}': N:M needs method srigl or rigl, not '${method}'`);
        const k = nmGroups(fanIn, nm).k;
        if (budget !== k * out) throw new RangeError(`topology layer '${name}': an N:M ${nm.n}:${nm.m} layer holds out·k = ${k * out} weights, but its budget is ${budget}`);
      }
      if (!dense && c.fixedK === true) {
        if (method !== 'srigl') throw new RangeError(`topology layer '${name}': a fixed fan-in needs method srigl, not '${method}'`);
        if (budget % out !== 0) throw new RangeError(`topology layer '${name}': a fixed fan-in needs a budget that is a multiple of out=${out}, got ${budget}`);
      }
      if (dense) {
        layers.set(name, { name, out, fanIn, budget: out * fanIn, mask: null, ablated, k: null, fixedK: false, nm: null });
      } else if (nm !== null) {
        layers.set(name, { name, out, fanIn, budget, mask: nmMask(out, fanIn, nm, rng), ablated, k: budget / out, fixedK, nm });
      } else if (method === 'srigl') {
        const k = Math.floor(budget / out);
        layers.set(name, { name, out, fanIn, budget, mask: constantFanInMask(out, fanIn, k, rng), ablated, k, fixedK, nm: null });
      } else {
        layers.set(name, { name, out, fanIn, budget, mask: randomMask(out * fanIn, budget, rng), ablated, k: null, fixedK: false, nm: null });
      }
    }
    return new SparseTopology(method, ablation, gammaSal, layers);
  }

  /** Layer names in the order given at creation. */
  get layerNames(): string[] {
    return [...this.layers.keys()];
  }

  private state(name: string): LayerState {
    const s = this.layers.get(name);
    if (s === undefined) throw new RangeError(`topology has no layer '${name}'`);
    return s;
  }

  /** The layer's mask (do not modify), or null when the layer is dense. */
  mask(name: string): Uint8Array | null {
    return this.state(name).mask;
  }

  /** Per-row ablation flags (do not modify). */
  ablatedRows(name: string): Uint8Array {
    return this.state(name).ablated;
  }

  /**
   * Sparse-aware init (`rule`, default Kaiming-normal: each weight N(0, 2/k_r) with k_r the row's
   * active count, fanIn for a dense layer), masked-out weights 0. Kaiming-normal sets the bias (if
   * given) to 0; Kaiming-uniform keeps the bias the layer drew (PyTorch's default).
   */
  initWeights(layer: { name: string; weight: Float32Array; bias?: Float32Array }, rng: Rng, rule: SparseInitRule = 'kaiming-normal'): void {
    const s = this.state(layer.name);
    sparseInit(rule, layer.weight, s.mask ?? new Uint8Array(s.out * s.fanIn).fill(1), s.out, s.fanIn, rng);
    if (rule === 'kaiming-normal') layer.bias?.fill(0);
  }

  /** Re-imposes the topology: masked-out weights and ablated biases to exactly 0 (after an optimizer step). */
  enforce(layer: { name: string; weight: Float32Array; bias?: Float32Array }): void {
    const s = this.state(layer.name);
    if (s.mask === null) return;
    const { mask } = s;
    if (layer.weight.length !== mask.length) throw new RangeError(`layer '${s.name}': weight length ${layer.weight.length}, expected ${mask.length}`);
    for (let i = 0; i < mask.length; i++) if (mask[i] === 0) layer.weight[i] = 0;
    if (layer.bias !== undefined) zeroAblated(s, layer.bias, 'bias');
  }

  /**
   * Sparse-aware init of a compact weight under `rule`: the same draws, in the same order, as
   * `initWeights` on the dense weight (row by row, active positions ascending), written to
   * values[t] for position pos[t]. `pos` must list the layer's mask.
   */
  initCompact(name: string, pos: Int32Array, values: Float32Array, rng: Rng, rule: SparseInitRule = 'kaiming-normal'): void {
    const s = this.state(name);
    if (pos.length > values.length) throw new RangeError(`initCompact: layer '${name}' has ${pos.length} positions but ${values.length} values`);
    let t = 0;
    for (let r = 0; r < s.out; r++) {
      const end = (r + 1) * s.fanIn;
      let t1 = t;
      while (t1 < pos.length && pos[t1] < end) t1++;
      for (const k = t1 - t; t < t1; t++) values[t] = sparseInitDraw(rule, k, rng);
    }
  }

  /**
   * One topology update of every sparse layer (every layer with a mask must be passed; dense
   * layers may be). Zeroes the weight and all `optState` arrays where the topology changed,
   * and bias and `biasOptState` at ablated neurons. Static never changes anything.
   */
  update(tensors: readonly LayerTensors[], dropFraction: number, rng: Rng): LayerUpdateReport[] {
    const byName = new Map<string, LayerTensors>();
    for (const t of tensors) {
      const s = this.state(t.name);
      if (byName.has(t.name)) throw new RangeError(`update: layer '${t.name}' passed twice`);
      if (t.out !== s.out || t.fanIn !== s.fanIn) throw new RangeError(`update: layer '${t.name}' is ${t.out}×${t.fanIn}, topology has ${s.out}×${s.fanIn}`);
      if (s.mask === null) continue;
      for (const a of t.optState) {
        if (a.length !== s.mask.length) throw new RangeError(`update: layer '${s.name}' has an optimizer state of length ${a.length}, expected ${s.mask.length}`);
      }
      if (t.bias !== undefined && t.bias.length !== s.out) throw new RangeError(`update: layer '${s.name}' has a bias of length ${t.bias.length}, expected out=${s.out}`);
      for (const b of t.biasOptState ?? []) {
        if (b.length !== s.out) throw new RangeError(`update: layer '${s.name}' has a bias optimizer state of length ${b.length}, expected out=${s.out}`);
      }
      byName.set(t.name, t);
    }
    const inputs: LayerUpdateInput[] = [...byName.values()].map((t) => {
      const mask = this.state(t.name).mask as Uint8Array;
      if (t.weight.length !== mask.length) throw new RangeError(`update: layer '${t.name}' has a weight of length ${t.weight.length}, expected ${mask.length}`);
      return { name: t.name, isClassifier: t.isClassifier, view: denseView(t.out, t.fanIn, mask, t.weight, t.grad) };
    });
    const results = this.updateViews(inputs, dropFraction, rng);
    for (const r of results) {
      const t = byName.get(r.name) as LayerTensors;
      zeroChanged({ mask: this.state(r.name).mask as Uint8Array, grown: r.grown, dropped: r.dropped }, [t.weight, ...t.optState]);
      if (r.ablated !== null) {
        const s = this.state(r.name);
        if (t.bias !== undefined) zeroAblated(s, t.bias, 'bias');
        for (const b of t.biasOptState ?? []) zeroAblated(s, b, 'bias optimizer state');
      }
    }
    return results.map((r) => r.report);
  }

  /**
   * One topology update of every sparse layer from memory-flat views (every layer with a mask
   * must be passed; dense layers may not). Every layer's update is computed before any is
   * applied, so a bad input (say a NaN gradient in the last layer) throws with the topology
   * untouched. The masks are rewritten in place; the caller moves its weights and optimizer
   * state with the returned lists. Static returns no results.
   */
  updateViews(inputs: readonly LayerUpdateInput[], dropFraction: number, rng: Rng): LayerUpdateResult[] {
    const byName = new Map<string, LayerUpdateInput>();
    for (const u of inputs) {
      const s = this.state(u.name);
      if (byName.has(u.name)) throw new RangeError(`update: layer '${u.name}' passed twice`);
      if (u.view.out !== s.out || u.view.fanIn !== s.fanIn) throw new RangeError(`update: layer '${u.name}' is ${u.view.out}×${u.view.fanIn}, topology has ${s.out}×${s.fanIn}`);
      if (s.mask === null) throw new RangeError(`update: layer '${u.name}' is dense; only sparse layers are updated`);
      byName.set(u.name, u);
    }
    const pending: { s: LayerState; result: LayerUpdateResult }[] = [];
    for (const s of this.layers.values()) {
      if (s.mask === null) continue;
      const u = byName.get(s.name);
      if (u === undefined) throw new RangeError(`update: sparse layer '${s.name}' was not passed`);
      if (this.method === 'static') continue;
      pending.push({ s, result: this.updateLayer(s, u, dropFraction, rng) });
    }
    for (const { s, result } of pending) {
      const mask = s.mask as Uint8Array;
      mask.fill(0);
      for (let t = 0; t < result.pos.length; t++) mask[result.pos[t]] = 1;
      if (result.ablated !== null) {
        s.ablated = result.ablated;
        s.k = result.report.k;
      }
    }
    return pending.map((p) => p.result);
  }

  private updateLayer(s: LayerState, u: LayerUpdateInput, dropFraction: number, rng: Rng): LayerUpdateResult {
    switch (this.method) {
      case 'set':
        return unstructuredResult(s.name, setUpdateSparse(u.view, dropFraction, rng));
      case 'rigl':
      case 'srigl': {
        if (this.method === 'rigl' && s.nm === null) return unstructuredResult(s.name, riglUpdateSparse(u.view, dropFraction));
        // SRigL, or RigL under N:M: the same layer-wide drop by |W|, regrowth within each group, no ablation.
        const structured = this.method === 'srigl';
        const r = sriglUpdateSparse(u.view, {
          budget: s.budget,
          dropFraction,
          ablation: structured && this.ablation,
          mayAblate: structured && !u.isClassifier,
          gammaSal: this.gammaSal,
          fixedK: s.fixedK ? s.budget / s.out : undefined,
          nm: s.nm ?? undefined,
        });
        return { name: s.name, pos: r.pos, grown: r.grown, dropped: r.dropped, ablated: r.ablated, report: sriglReport(s.name, r.stats, r.grown.length, r.dropped.length) };
      }
      default:
        throw new Error(`method '${this.method}' has no masked layers to update`);
    }
  }

  /** Per-layer facts for logging. */
  stats(): LayerTopologyStats[] {
    return [...this.layers.values()].map((s) => {
      const numel = s.out * s.fanIn;
      const count = s.mask === null ? numel : nnz(s.mask);
      const activeNeurons = s.mask === null ? s.out : rowCounts(s.mask, s.out, s.fanIn).reduce((a, c) => a + (c > 0 ? 1 : 0), 0);
      return {
        name: s.name,
        out: s.out,
        fanIn: s.fanIn,
        budget: s.budget,
        nnz: count,
        density: count / numel,
        k: s.k,
        activeNeurons,
        ablatedNeurons: s.out - activeNeurons,
        nm: s.nm,
        fixedK: s.fixedK,
      };
    });
  }

  toJSON(): TopologyJSON {
    return {
      format: 'srigl-topology',
      version: 1,
      method: this.method,
      ablation: this.ablation,
      gammaSal: this.gammaSal,
      layers: [...this.layers.values()].map((s) => ({
        name: s.name,
        out: s.out,
        fanIn: s.fanIn,
        budget: s.budget,
        k: s.k,
        mask: s.mask === null ? null : toBase64(packMaskBits(s.mask)),
        ablatedRows: [...s.ablated.keys()].filter((r) => s.ablated[r] === 1),
        fixedK: s.fixedK,
        nm: s.nm,
      })),
    };
  }

  /** Restores a topology saved by toJSON, validating every mask against its method's invariants. */
  static fromJSON(json: unknown): SparseTopology {
    const j = json as Partial<TopologyJSON> | null;
    if (j === null || typeof j !== 'object' || j.format !== 'srigl-topology' || j.version !== 1) {
      throw new RangeError("topology JSON: expected { format: 'srigl-topology', version: 1, ... }");
    }
    if (!METHODS.includes(j.method as SparseMethod)) throw new RangeError(`topology JSON: unknown method '${String(j.method)}'`);
    if (typeof j.ablation !== 'boolean' || !(typeof j.gammaSal === 'number' && Number.isFinite(j.gammaSal) && j.gammaSal >= 0)) {
      throw new RangeError('topology JSON: ablation must be a boolean and gammaSal a finite number ≥ 0');
    }
    if (!Array.isArray(j.layers)) throw new RangeError('topology JSON: layers must be an array');
    const method = j.method as SparseMethod;
    const layers = new Map<string, LayerState>();
    for (const l of j.layers) {
      checkLayerConfig({ name: l.name, out: l.out, fanIn: l.fanIn, budget: l.budget });
      if (layers.has(l.name)) throw new RangeError(`topology JSON: layer '${l.name}' is listed twice`);
      const ablated = new Uint8Array(l.out);
      if (!Array.isArray(l.ablatedRows)) throw new RangeError(`topology JSON: layer '${l.name}': ablatedRows must be an array`);
      for (const r of l.ablatedRows) {
        if (!Number.isInteger(r) || r < 0 || r >= l.out) throw new RangeError(`topology JSON: layer '${l.name}': ablated row ${r} out of range [0, ${l.out})`);
        ablated[r] = 1;
      }
      const nm = l.nm ?? null;
      const fixedK = l.fixedK ?? false;
      if (typeof fixedK !== 'boolean') throw new RangeError(`topology JSON: layer '${l.name}': fixedK must be a boolean`);
      if (nm !== null) {
        try {
          nmGroups(l.fanIn, nm);
        } catch (e) {
          throw new RangeError(`topology JSON: layer '${l.name}': ${(e as Error).message}`);
        }
        if (!fixedK) throw new RangeError(`topology JSON: layer '${l.name}': an N:M layer has a fixed fan-in`);
      }
      if (l.mask === null) {
        if (l.budget !== l.out * l.fanIn || l.k !== null || l.ablatedRows.length > 0 || nm !== null || fixedK) {
          throw new RangeError(`topology JSON: layer '${l.name}' has no mask, so it must be dense (budget = out·fanIn, k null, no ablated rows, no N:M or fixed fan-in)`);
        }
        layers.set(l.name, { name: l.name, out: l.out, fanIn: l.fanIn, budget: l.budget, mask: null, ablated, k: null, fixedK: false, nm: null });
        continue;
      }
      if (method === 'dense') throw new RangeError(`topology JSON: layer '${l.name}' has a mask but the method is 'dense'`);
      if (typeof l.mask !== 'string') throw new RangeError(`topology JSON: layer '${l.name}': mask must be a base64 string or null`);
      const mask = unpackMaskBits(fromBase64(l.mask), l.out * l.fanIn);
      if (nm !== null) {
        if (method !== 'srigl' && method !== 'rigl') throw new RangeError(`topology JSON: layer '${l.name}': N:M needs method srigl or rigl, not '${method}'`);
        const k = nmGroups(l.fanIn, nm).k;
        if (l.k !== k || l.budget !== k * l.out) throw new RangeError(`topology JSON: layer '${l.name}': N:M ${nm.n}:${nm.m} needs k = ${k} and budget ${k * l.out}`);
        if (method === 'rigl' && l.ablatedRows.length > 0) throw new RangeError(`topology JSON: layer '${l.name}': method 'rigl' has no ablated rows`);
        try {
          assertNM(mask, l.out, l.fanIn, nm, ablated);
        } catch (e) {
          throw new RangeError(`topology JSON: layer '${l.name}': ${(e as Error).message}`);
        }
        layers.set(l.name, { name: l.name, out: l.out, fanIn: l.fanIn, budget: l.budget, mask, ablated, k, fixedK: true, nm });
      } else if (method === 'srigl') {
        const k = l.k;
        if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > l.fanIn) throw new RangeError(`topology JSON: layer '${l.name}': k must be an integer in [1, fanIn], got ${String(k)}`);
        if (k * (l.out - l.ablatedRows.length) > l.budget) throw new RangeError(`topology JSON: layer '${l.name}': k·(out − ablated) exceeds the budget ${l.budget}`);
        try {
          assertConstantFanIn(mask, l.out, l.fanIn, k, ablated);
        } catch (e) {
          throw new RangeError(`topology JSON: layer '${l.name}': ${(e as Error).message}`);
        }
        if (fixedK && k * l.out !== l.budget) throw new RangeError(`topology JSON: layer '${l.name}': a fixed fan-in k=${k} needs budget k·out = ${k * l.out}`);
        layers.set(l.name, { name: l.name, out: l.out, fanIn: l.fanIn, budget: l.budget, mask, ablated, k, fixedK, nm: null });
      } else {
        if (l.k !== null || l.ablatedRows.length > 0 || fixedK) throw new RangeError(`topology JSON: layer '${l.name}': method '${method}' has no k, fixed fan-in or ablated rows`);
        const count = nnz(mask);
        if (count !== l.budget) throw new RangeError(`topology JSON: layer '${l.name}': mask holds ${count} weights, budget is ${l.budget}`);
        layers.set(l.name, { name: l.name, out: l.out, fanIn: l.fanIn, budget: l.budget, mask, ablated, k: null, fixedK: false, nm: null });
      }
    }
    return new SparseTopology(method, j.ablation, j.gammaSal, layers);
  }
}

function zeroAblated(s: LayerState, a: Float32Array, what: string): void {
  if (a.length !== s.out) throw new RangeError(`layer '${s.name}': ${what} has length ${a.length}, expected out=${s.out}`);
  for (let r = 0; r < s.out; r++) if (s.ablated[r]) a[r] = 0;
}

function unstructuredResult(name: string, r: SparseUpdateResult & { stats: UnstructuredStats }): LayerUpdateResult {
  return {
    name,
    pos: r.pos,
    grown: r.grown,
    dropped: r.dropped,
    ablated: null,
    report: { name, nActive: r.stats.nActive, nDrop: r.stats.nDrop, nGrown: r.grown.length, nDropped: r.dropped.length, k: null, ablatedCount: 0, revived: 0, newlyAblated: 0 },
  };
}

function sriglReport(name: string, st: SriglStats, nGrown: number, nDropped: number): LayerUpdateReport {
  return { name, nActive: st.nActive, nDrop: st.nDrop, nGrown, nDropped, k: st.k, ablatedCount: st.ablatedCount, revived: st.revived, newlyAblated: st.newlyAblated };
}

/** A memory-flat view of dense arrays: the mask's positions, their weights, and gradient rows copied from `grad`. */
export function denseView(out: number, fanIn: number, mask: Uint8Array, weight: Float32Array, grad: Float32Array | null): SparseLayerView {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) n++;
  const pos = new Int32Array(n);
  const values = new Float32Array(n);
  n = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    pos[n] = i;
    values[n++] = weight[i];
  }
  if (grad !== null && grad.length !== mask.length) throw new RangeError(`update: a grad of length ${grad.length}, expected ${mask.length}`);
  return {
    out,
    fanIn,
    pos,
    values,
    gradRows: grad === null ? undefined : (r0, r1, dst) => dst.set(grad.subarray(r0 * fanIn, r1 * fanIn)),
  };
}
