/**
 * Everything a resumed run needs to continue bit-identically, as plain tensors plus one JSON
 * object: the model's params and buffers, the masks, the optimizer's per-element state and step
 * count, where the loop stands (step, epoch, the epoch's running sums), the data order's
 * position, named RNG states, and opaque extra state (sparse training's topology and RNG).
 * The file layout lives in io/checkpoint.ts; this module knows nothing of files.
 */
import type { Model } from '../nn/models.js';
import type { Param } from '../tensor/param.js';
import type { Rng } from '../tensor/rng.js';
import type { Optimizer } from './optimizer.js';

/** One tensor of a checkpoint (structurally a safetensors tensor). */
export interface CheckpointTensor {
  name: string;
  dtype: 'F32' | 'U8';
  shape: number[];
  data: Float32Array | Uint8Array;
}

/** Where the loop stands between two steps. */
export interface LoopPosition {
  /** Optimizer steps completed. */
  step: number;
  /** 0-based epoch of the next step, and its index within that epoch. */
  epoch: number;
  stepInEpoch: number;
  /** Running sums of the current epoch (loss × rows, correct predictions, rows, seconds). */
  lossSum: number;
  correct: number;
  samples: number;
  seconds: number;
}

/** A data order that can report and restore its position (the data module's `BatchIterator`). */
export interface SeekableBatches {
  readonly position: { epoch: number; index: number };
  seek(pos: { epoch: number; index: number }): void;
}

/** The JSON half of a checkpoint. */
export interface TrainStateJSON {
  loop: LoopPosition;
  optimizer: { options: unknown; steps: number };
  data: { epoch: number; index: number } | null;
  /** RNG states by name; a missing Box–Muller spare is null. */
  rngs: Record<string, (number | null)[]>;
  extra: Record<string, unknown>;
}

export interface CapturedTrainState {
  tensors: CheckpointTensor[];
  state: TrainStateJSON;
}

/** What is captured and what a restore writes into. */
export interface TrainStateParts {
  model: Model;
  optimizer: Optimizer;
  data?: SeekableBatches | null;
  rngs?: Readonly<Record<string, Rng>>;
}

const MODEL = 'model/';
const MASK = 'mask/';
const OPTIM = 'optim/';
const EXTRA = 'extra/';

/**
 * Captures the training state. Tensors are views of live memory (copies for compact params): write them out
 * before the next step. `extraTensors` are stored under `extra/<name>`.
 */
export function captureTrainState(
  parts: TrainStateParts,
  loop: LoopPosition,
  extra: Record<string, unknown> = {},
  extraTensors: readonly CheckpointTensor[] = [],
): CapturedTrainState {
  const { model, optimizer } = parts;
  const tensors: CheckpointTensor[] = model.stateTensors().map((t) => ({ name: MODEL + t.name, dtype: 'F32', shape: [...t.shape], data: t.data }));
  for (const p of model.parameters()) {
    const mask = p.denseMask();
    if (mask) tensors.push({ name: MASK + p.name, dtype: 'U8', shape: [...p.shape], data: Uint8Array.from(mask) });
    // A compact param's state is saved dense, so a checkpoint resumes under either compute mode.
    optimizer.state(p).forEach((t, i) => tensors.push({ name: `${OPTIM}${p.name}/${i}`, dtype: 'F32', shape: [...p.shape], data: p.compact ? p.scatter(t.data) : t.data }));
  }
  for (const t of extraTensors) tensors.push({ ...t, name: EXTRA + t.name });
  const rngs: Record<string, (number | null)[]> = {};
  for (const [name, rng] of Object.entries(parts.rngs ?? {})) rngs[name] = rng.getState().map((v) => (Number.isNaN(v) ? null : v));
  return {
    tensors,
    state: {
      loop: { ...loop },
      optimizer: { options: optimizer.options, steps: optimizer.steps },
      data: parts.data ? { ...parts.data.position } : null,
      rngs,
      extra,
    },
  };
}

/**
 * Writes a captured state back into a model built from the same spec, a fresh optimizer of the
 * same options, the data order and the RNGs. Everything is checked (names, shapes, options)
 * before anything is written, so a mismatched checkpoint leaves the run untouched. Returns the
 * loop position and the extra state and tensors for the caller's own restore.
 */
export function restoreTrainState(
  captured: CapturedTrainState,
  parts: TrainStateParts,
): { loop: LoopPosition; extra: Record<string, unknown>; extraTensors: Map<string, CheckpointTensor> } {
  const { model, optimizer } = parts;
  const { state } = captured;
  const byName = new Map(captured.tensors.map((t) => [t.name, t]));
  const fail = (msg: string): never => {
    throw new Error(`checkpoint does not fit this run: ${msg}`);
  };
  checkLoop(state.loop, fail);
  if (JSON.stringify(state.optimizer?.options) !== JSON.stringify(optimizer.options)) {
    fail(`optimizer options ${JSON.stringify(state.optimizer?.options)} differ from this run's ${JSON.stringify(optimizer.options)}`);
  }
  if (!Number.isSafeInteger(state.optimizer.steps) || state.optimizer.steps < 0) fail(`optimizer steps ${state.optimizer.steps} is not a count`);
  const writes: (() => void)[] = [];
  const expectF32 = (name: string, shape: readonly number[]): Float32Array => {
    const t = byName.get(name);
    if (t === undefined) return fail(`tensor "${name}" is missing`);
    if (t.dtype !== 'F32' || !(t.data instanceof Float32Array)) return fail(`tensor "${name}" has dtype ${t.dtype}, expected F32`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) fail(`tensor "${name}" has shape [${t.shape}], expected [${shape}]`);
    byName.delete(name);
    return t.data;
  };
  for (const t of model.stateTensors()) {
    const src = expectF32(MODEL + t.name, t.shape);
    writes.push(() => t.assign(src));
  }
  const masks: [Param, Uint8Array][] = [];
  for (const p of model.parameters()) {
    optimizer.state(p).forEach((t, i) => {
      const src = expectF32(`${OPTIM}${p.name}/${i}`, p.shape);
      writes.push(() => (p.compact ? p.gather(src, t.data) : t.data.set(src)));
    });
    const m = byName.get(MASK + p.name);
    const own = p.denseMask();
    if (m === undefined) {
      if (own) fail(`the model masks "${p.name}" but the checkpoint has no mask for it`);
      continue;
    }
    byName.delete(m.name);
    if (m.dtype !== 'U8' || m.data.length !== p.size || m.data.some((v) => v > 1)) fail(`mask "${p.name}" is not a 0/1 U8 tensor of ${p.size} elements`);
    // A compact param's mask is its sparse topology's, restored before: the two must agree.
    if (p.compact && own && (own as Uint8Array).some((v, i) => v !== m.data[i])) fail(`mask "${p.name}" differs from the restored sparse topology`);
    if (!p.compact) masks.push([p, m.data as Uint8Array]);
  }
  const extraTensors = new Map<string, CheckpointTensor>();
  for (const [name, t] of byName) {
    if (!name.startsWith(EXTRA)) fail(`unexpected tensor "${name}"`);
    extraTensors.set(name.slice(EXTRA.length), { ...t, name: name.slice(EXTRA.length) });
  }
  const rngs = Object.entries(parts.rngs ?? {});
  for (const [name] of rngs) if (!Array.isArray(state.rngs?.[name])) fail(`no state for RNG "${name}"`);
  if (parts.data && state.data === null) fail('no data-order position');

  for (const write of writes) write();
  for (const [p, m] of masks) p.setMask(m);
  optimizer.steps = state.optimizer.steps;
  for (const [name, rng] of rngs) rng.setState(state.rngs[name].map((v) => (v === null ? NaN : v)));
  if (parts.data && state.data) parts.data.seek(state.data);
  return { loop: { ...state.loop }, extra: state.extra ?? {}, extraTensors };
}

function checkLoop(l: LoopPosition | undefined, fail: (msg: string) => never): void {
  if (typeof l !== 'object' || l === null) fail('no loop position');
  const p = l as LoopPosition;
  for (const key of ['step', 'epoch', 'stepInEpoch', 'correct', 'samples'] as const) {
    if (!Number.isSafeInteger(p[key]) || p[key] < 0) fail(`loop ${key} ${String(p[key])} is not a count`);
  }
  for (const key of ['lossSum', 'seconds'] as const) if (!Number.isFinite(p[key])) fail(`loop ${key} ${String(p[key])} is not finite`);
}
