import type { Engine } from '../kernels/engine.js';
import { Model, type ModelSpec } from '../nn/models.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from './safetensors.js';
import { MASK_SUFFIX, MODEL_FORMAT, MODEL_FORMAT_VERSION, validateModelFile } from './validate.js';

export { MODEL_FORMAT, MODEL_FORMAT_VERSION };

/** Facts stored alongside the weights (all JSON-serialisable). */
export interface ModelInfo {
  /** Dataset the model was trained on, e.g. `fashion-mnist`. */
  dataset?: string;
  /** Training options (optimizer, lr, epochs …) as given. */
  training?: unknown;
  /** Final metrics (test accuracy …). */
  metrics?: unknown;
  /**
   * Sparse training facts (JSON): method, sparsity, distribution, ablation settings and per
   * layer nnz, density, fan-in k and ablated neurons (`SparseRunInfo` of train/sparse.ts).
   * The masks themselves are the U8 `<param>.mask` tensors.
   */
  sparse?: unknown;
}

/**
 * Writes a model as safetensors (atomically): params and BN running statistics under their
 * PyTorch-style names, masks of sparse params as U8 `<param>.mask`, and metadata `format`,
 * `version`, `arch` (the JSON `ModelSpec`), `dataset`, `training`, `metrics` and `sparse` (JSON).
 */
export function saveModel(path: string, model: Model, info: ModelInfo = {}): void {
  const tensors: SafeTensor[] = model.stateTensors().map((t) => ({
    name: t.name,
    dtype: 'F32',
    shape: [...t.shape],
    data: t.data,
  }));
  for (const p of model.parameters()) {
    const mask = p.denseMask();
    if (mask) tensors.push({ name: p.name + MASK_SUFFIX, dtype: 'U8', shape: [...p.shape], data: Uint8Array.from(mask) });
  }
  const metadata: Record<string, string> = { format: MODEL_FORMAT, version: MODEL_FORMAT_VERSION, arch: JSON.stringify(model.spec) };
  if (info.dataset !== undefined) metadata.dataset = info.dataset;
  if (info.training !== undefined) metadata.training = JSON.stringify(info.training);
  if (info.metrics !== undefined) metadata.metrics = JSON.stringify(info.metrics);
  if (info.sparse !== undefined) metadata.sparse = JSON.stringify(info.sparse);
  writeSafetensors(path, tensors, metadata);
}

/** Options for `loadModel`. */
export interface LoadModelOptions {
  /** Batch buffers of the rebuilt model. Default 128. */
  maxBatch?: number;
}

export interface LoadedModel {
  model: Model;
  spec: ModelSpec;
  info: ModelInfo;
  /** The raw metadata map. */
  metadata: Record<string, string>;
}

/**
 * Reads a model file written by `saveModel` and rebuilds the model on `engine`. Everything is
 * checked before a weight is copied: the format tag and version, the architecture spec, that
 * the file holds exactly the model's tensors (F32, expected shapes) and valid masks. On error
 * the engine memory taken by the half-built model is given back.
 */
export function loadModel(engine: Engine, input: string | Uint8Array, opts: LoadModelOptions = {}): LoadedModel {
  const source = typeof input === 'string' ? input : '<memory>';
  const file = readSafetensors(input, { source });
  const meta = file.metadata;
  // Schema, tensor set and condensed layers are checked before the model's memory exists.
  const { spec, tensors } = validateModelFile(file, source);
  const mark = engine.heap.mark();
  try {
    return fill(source, tensors, meta, new Model(engine, spec, { maxBatch: opts.maxBatch }));
  } catch (e) {
    engine.heap.release(mark);
    throw e;
  }
}

/**
 * Copies the validated tensors into `model`. `validateModelFile` has already checked every
 * tensor against the spec (F32 weights, U8 masks of 0/1, zero weights where masked) and
 * parsed the JSON metadata; what is checked here is that the file's tensors fit the model
 * that was built (its names and shapes; masks only on params, not on BN running statistics).
 */
function fill(source: string, tensors: Map<string, SafeTensor>, meta: Record<string, string>, model: Model): LoadedModel {
  const spec = model.spec;
  const expected = new Map(model.stateTensors().map((t) => [t.name, t]));
  const params = new Map(model.parameters().map((p) => [p.name, p]));
  for (const name of tensors.keys()) {
    const isMask = name.endsWith(MASK_SUFFIX) && params.has(name.slice(0, -MASK_SUFFIX.length));
    if (!expected.has(name) && !isMask) throw new Error(`${source}: unexpected tensor "${name}" for a ${spec.arch} model`);
  }
  for (const [name, tensor] of expected) {
    const t = tensors.get(name);
    if (!t) throw new Error(`${source}: missing tensor "${name}"`);
    checkTensor(source, t, 'F32', tensor.shape);
  }
  for (const [name, tensor] of expected) tensor.assign((tensors.get(name) as SafeTensor).data as Float32Array);
  // A mask has its weight's shape (validated), and setMask zeroes the masked weights.
  for (const [name, p] of params) {
    const m = tensors.get(name + MASK_SUFFIX);
    if (m) p.setMask(m.data as Uint8Array);
  }
  // The JSON entries were parsed once already by validateModelFile, so they parse.
  const info: ModelInfo = {
    dataset: meta.dataset,
    training: meta.training === undefined ? undefined : JSON.parse(meta.training),
    metrics: meta.metrics === undefined ? undefined : JSON.parse(meta.metrics),
  };
  if (meta.sparse !== undefined) info.sparse = JSON.parse(meta.sparse);
  return { model, spec, info, metadata: meta };
}

function checkTensor(source: string, t: SafeTensor, dtype: string, shape: readonly number[]): void {
  if (t.dtype !== dtype) throw new Error(`${source}: tensor "${t.name}" has dtype ${t.dtype}, expected ${dtype}`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${source}: tensor "${t.name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
}
