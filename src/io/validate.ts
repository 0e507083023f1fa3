/**
 * Schema validation of model files, run on the parsed header and the raw tensor views before
 * a model is built: the metadata (format, version, a known and bounded architecture, sparse
 * facts), the exact set of tensors the architecture needs with their dtypes and shapes, binary
 * and masks with zero weights where masked. The architecture's tensor shapes are derived here
 * from the spec without building the model, so an absurd spec is refused before the model's
 * memory is allocated. (Condensed files are their own format: io/condensed-file.ts.)
 */
import { ARCHS, MLP_HIDDEN, parseModelSpec, vitOptions, type ModelSpec } from '../nn/models.js';
import { readSafetensors, type SafeTensor, type SafetensorsFile } from './safetensors.js';

export const MODEL_FORMAT = 'srigl-model';
export const MODEL_FORMAT_VERSION = '1';

/** Suffix of a masked param's mask tensor (U8, 0/1). */
export const MASK_SUFFIX = '.mask';

/** Sparse methods a file may name (kept in step with dst/topology.ts). */
const METHODS = ['dense', 'static', 'set', 'rigl', 'srigl'];

/** A model file that parsed as safetensors but is not a valid model; the message names the file and, when it applies, the tensor. */
export class ModelFileError extends Error {
  readonly file: string;
  readonly tensor?: string;

  constructor(file: string, problem: string, tensor?: string) {
    super(`${file}: ${problem}`);
    this.name = 'ModelFileError';
    this.file = file;
    if (tensor !== undefined) this.tensor = tensor;
  }
}

/** Limits on what a spec may ask for, so a tiny file cannot make the loader allocate gigabytes. */
export interface ModelLimits {
  /** Largest C·H·W of one input example. Default 2^18 (e.g. 3×256×256 fits). */
  maxInputElements?: number;
  /** Largest class count. Default 100 000. */
  maxClasses?: number;
  /** Largest total element count of the model's tensors. Default 2^26 (256 MiB of F32). */
  maxModelElements?: number;
}

/** One tensor the architecture expects. */
export interface ExpectedTensor {
  name: string;
  shape: number[];
  /** For Linear/Conv2d weights: rows and fan-in as the sparse code sees them. */
  matrix?: { out: number; fanIn: number };
  /** A running statistic (not a parameter): it can never carry a mask. */
  buffer?: boolean;
}

/**
 * The tensors a model of `spec` holds (params then BN running statistics, as `Model.stateTensors`
 * orders them), derived from the spec alone. Throws when the spec is too small for the
 * architecture (a CNN needs inputs of at least 4×4).
 */
export function expectedTensors(spec: ModelSpec): ExpectedTensor[] {
  const [c, h, w] = spec.inputShape;
  const params: ExpectedTensor[] = [];
  const buffers: ExpectedTensor[] = [];
  const linear = (name: string, out: number, fanIn: number): void => {
    params.push({ name: `${name}.weight`, shape: [out, fanIn], matrix: { out, fanIn } }, { name: `${name}.bias`, shape: [out] });
  };
  const conv = (name: string, out: number, cin: number, k: number, bias: boolean): void => {
    params.push({ name: `${name}.weight`, shape: [out, cin, k, k], matrix: { out, fanIn: cin * k * k } });
    if (bias) params.push({ name: `${name}.bias`, shape: [out] });
  };
  const bn = (name: string, ch: number): void => {
    params.push({ name: `${name}.weight`, shape: [ch] }, { name: `${name}.bias`, shape: [ch] });
    buffers.push({ name: `${name}.running_mean`, shape: [ch], buffer: true }, { name: `${name}.running_var`, shape: [ch], buffer: true });
  };
  switch (spec.arch) {
    case 'mlp': {
      const widths = spec.hidden ?? MLP_HIDDEN;
      let fanIn = c * h * w;
      widths.forEach((width, i) => {
        linear(`fc${i + 1}`, width, fanIn);
        fanIn = width;
      });
      linear(`fc${widths.length + 1}`, spec.classes, fanIn);
      break;
    }
    case 'cnn': {
      const pooled = (d: number): number => Math.floor(Math.floor(d / 2) / 2);
      if (pooled(h) < 1 || pooled(w) < 1) throw new Error(`model spec: a cnn needs inputs of at least 4×4, got ${h}×${w}`);
      conv('conv1', 32, c, 3, true);
      conv('conv2', 64, 32, 3, true);
      linear('fc1', 256, 64 * pooled(h) * pooled(w));
      linear('fc2', spec.classes, 256);
      break;
    }
    case 'resnet': {
      conv('conv1', 16, c, 3, false);
      bn('bn1', 16);
      let cin = 16;
      [16, 32, 64].forEach((out, stage) => {
        for (let b = 0; b < 3; b++) {
          const name = `layer${stage + 1}.${b}`;
          const stride = stage > 0 && b === 0 ? 2 : 1;
          conv(`${name}.conv1`, out, cin, 3, false);
          bn(`${name}.bn1`, out);
          conv(`${name}.conv2`, out, out, 3, false);
          bn(`${name}.bn2`, out);
          if (stride !== 1 || cin !== out) {
            conv(`${name}.downsample.0`, out, cin, 1, false);
            bn(`${name}.downsample.1`, out);
          }
          cin = out;
        }
      });
      linear('fc', spec.classes, 64);
      break;
    }
    case 'vit': {
      const { patch, dim, depth, mlpRatio } = vitOptions(spec);
      const tokens = (h / patch) * (w / patch) + 1;
      const hidden = Math.round(mlpRatio * dim);
      const norm = (name: string): void => {
        params.push({ name: `${name}.weight`, shape: [dim] }, { name: `${name}.bias`, shape: [dim] });
      };
      conv('patch_embed.proj', dim, c, patch, true);
      params.push({ name: 'cls_token', shape: [dim] }, { name: 'pos_embed', shape: [tokens, dim] });
      for (let i = 0; i < depth; i++) {
        const b = `blocks.${i}`;
        norm(`${b}.norm1`);
        for (const l of ['q', 'k', 'v', 'proj']) linear(`${b}.attn.${l}`, dim, dim);
        norm(`${b}.norm2`);
        linear(`${b}.mlp.fc1`, hidden, dim);
        linear(`${b}.mlp.fc2`, dim, hidden);
      }
      norm('norm');
      linear('head', spec.classes, dim);
      break;
    }
  }
  return [...params, ...buffers];
}

/** What `validateModelFile` found. */
export interface ValidatedModelFile {
  spec: ModelSpec;
  /** 'masked' when any mask is present, else 'dense'. */
  layout: 'dense' | 'masked';
  /** The model's tensors (views into the file): every expected tensor, plus `<param>.mask` U8 for masked params. */
  tensors: Map<string, SafeTensor>;
  expected: ExpectedTensor[];
}

/**
 * Validates a parsed model file (see the module comment for what is checked) and returns its
 * tensors by name. Errors are `ModelFileError`s naming the tensor or metadata key.
 */
export function validateModelFile(file: SafetensorsFile, source: string, limits: ModelLimits = {}): ValidatedModelFile {
  const fail = (problem: string, tensor?: string): never => {
    throw new ModelFileError(source, tensor === undefined ? problem : `tensor "${tensor}" ${problem}`, tensor);
  };
  const spec = validateMetadata(file.metadata, source, limits);
  let expected: ExpectedTensor[];
  try {
    expected = expectedTensors(spec);
  } catch (e) {
    return fail(`metadata "arch": ${(e as Error).message}`);
  }
  const maxElements = limits.maxModelElements ?? 2 ** 26;
  const total = expected.reduce((a, t) => a + t.shape.reduce((x, d) => x * d, 1), 0);
  if (total > maxElements) fail(`metadata "arch": the ${spec.arch} model would hold ${total} elements, more than the limit of ${maxElements}`);

  const byName = new Map(expected.map((t) => [t.name, t]));
  const tensors = file.tensors;
  for (const name of tensors.keys()) {
    if (byName.has(name)) continue;
    const masked = name.endsWith(MASK_SUFFIX) ? byName.get(name.slice(0, -MASK_SUFFIX.length)) : undefined;
    if (masked !== undefined && masked.buffer !== true) continue;
    throw new ModelFileError(source, `unexpected tensor "${name}" for a ${spec.arch} model`, name);
  }

  const out = new Map<string, SafeTensor>();
  let masked = false;
  for (const t of expected) {
    const got = tensors.get(t.name);
    if (got === undefined) throw new ModelFileError(source, `missing tensor "${t.name}" (a ${spec.arch} model needs it)`, t.name);
    checkTensor(source, got, ['F32'], t.shape);
    out.set(t.name, got);
    const mask = tensors.get(t.name + MASK_SUFFIX);
    if (mask !== undefined) {
      masked = true;
      checkTensor(source, mask, ['U8'], t.shape);
      const m = mask.data as Uint8Array;
      const v = got.data as Float32Array;
      for (let i = 0; i < m.length; i++) {
        if (m[i] > 1) fail(`holds ${m[i]} at element ${i}; a mask is 0 or 1`, mask.name);
        if (m[i] === 0 && v[i] !== 0) fail(`has a nonzero weight ${v[i]} at masked position ${i}`, t.name);
      }
      out.set(mask.name, mask);
    }
  }
  return { spec, layout: masked ? 'masked' : 'dense', tensors: out, expected };
}

/** A ModelFileError about one tensor: `tensor "<name>" <problem>`. */
function tensorError(source: string, name: string, problem: string): ModelFileError {
  return new ModelFileError(source, `tensor "${name}" ${problem}`, name);
}

function checkTensor(source: string, t: SafeTensor, dtypes: readonly string[], shape: readonly number[]): void {
  if (!dtypes.includes(t.dtype)) throw tensorError(source, t.name, `has dtype ${t.dtype}, expected ${dtypes.join(' or ')}`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw tensorError(source, t.name, `has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
}

/** Checks format, version, the architecture spec (known and within limits) and the optional JSON entries. */
function validateMetadata(meta: Record<string, string>, source: string, limits: ModelLimits): ModelSpec {
  const fail = (problem: string): never => {
    throw new ModelFileError(source, problem);
  };
  if (meta.format !== MODEL_FORMAT) fail(`not a srigl model (metadata format is ${JSON.stringify(meta.format)}, expected "${MODEL_FORMAT}")`);
  if (meta.version !== MODEL_FORMAT_VERSION) fail(`unsupported model format version ${JSON.stringify(meta.version)} (this build reads ${MODEL_FORMAT_VERSION})`);
  const json = (key: string): unknown => {
    try {
      return JSON.parse(meta[key]);
    } catch (e) {
      return fail(`metadata "${key}" is not valid JSON (${(e as Error).message})`);
    }
  };
  if (meta.arch === undefined) fail('metadata "arch" is missing');
  const raw = json('arch') as { arch?: unknown } | null;
  if (raw !== null && typeof raw === 'object' && !(ARCHS as readonly unknown[]).includes(raw.arch)) {
    fail(`metadata "arch": unknown arch ${JSON.stringify(raw.arch)} (known: ${ARCHS.join(', ')})`);
  }
  let spec: ModelSpec;
  try {
    spec = parseModelSpec(raw);
  } catch (e) {
    return fail(`metadata "arch": ${(e as Error).message}`);
  }
  const maxInput = limits.maxInputElements ?? 2 ** 18;
  const maxClasses = limits.maxClasses ?? 100_000;
  const inputElements = spec.inputShape.reduce((a, d) => a * d, 1);
  if (inputElements > maxInput) fail(`metadata "arch": input shape [${spec.inputShape.join(', ')}] has ${inputElements} elements, more than the limit of ${maxInput}`);
  if (spec.classes > maxClasses) fail(`metadata "arch": ${spec.classes} classes, more than the limit of ${maxClasses}`);
  for (const key of ['training', 'metrics']) if (meta[key] !== undefined) json(key);
  if (meta.sparse !== undefined) checkSparseInfo(json('sparse'), fail);
  return spec;
}

/** The `sparse` entry (train/sparse.ts `SparseRunInfo`): the facts inspect and export rely on. */
function checkSparseInfo(v: unknown, fail: (problem: string) => never): void {
  const bad = (what: string): never => fail(`metadata "sparse": ${what}`);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('expected an object');
  const s = v as Record<string, unknown>;
  if (!METHODS.includes(s.method as string)) bad(`unknown method ${JSON.stringify(s.method)} (known: ${METHODS.join(', ')})`);
  if (s.sparsity !== undefined && !(typeof s.sparsity === 'number' && s.sparsity >= 0 && s.sparsity < 1)) bad(`sparsity must be a number in [0, 1), got ${JSON.stringify(s.sparsity)}`);
  if (s.layers === undefined) return;
  if (!Array.isArray(s.layers)) bad('layers must be an array');
  for (const l of s.layers as unknown[]) {
    const layer = l as Record<string, unknown> | null;
    if (typeof layer !== 'object' || layer === null || typeof layer.name !== 'string') bad('every layer needs a name');
    const { name, out, fanIn, k, ablatedRows, nm } = layer as Record<string, unknown>;
    const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);
    if (!isInt(out) || !isInt(fanIn) || out < 1 || fanIn < 1) bad(`layer "${String(name)}": out and fanIn must be positive integers`);
    if (k !== undefined && k !== null && !(isInt(k) && k >= 0 && k <= (fanIn as number))) bad(`layer "${String(name)}": k must be null or an integer in [0, fanIn], got ${JSON.stringify(k)}`);
    if (ablatedRows !== undefined) {
      if (!Array.isArray(ablatedRows)) bad(`layer "${String(name)}": ablatedRows must be an array`);
      let prev = -1;
      for (const r of ablatedRows as unknown[]) {
        if (!isInt(r) || r <= prev || r >= (out as number)) bad(`layer "${String(name)}": ablatedRows must be ascending unique integers in [0, ${String(out)}), got ${JSON.stringify(r)}`);
        prev = r as number;
      }
    }
    // export condenses a layer recorded as N:M in the N:M format (and checks its mask against it).
    if (nm !== undefined && nm !== null) {
      const o = nm as Record<string, unknown>;
      if (typeof nm !== 'object' || !isInt(o.n) || !isInt(o.m) || !isInt(o.taps) || o.n < 1 || o.m <= o.n || o.taps < 1 || (fanIn as number) % o.taps !== 0) {
        bad(`layer "${String(name)}": nm must be null or {n, m, taps} with integers 1 ≤ n < m and taps dividing fanIn, got ${JSON.stringify(nm)}`);
      }
    }
  }
}

/** Reads (a path or bytes) and validates a model file without building the model: what `loadModel` and `srigl inspect` check. */
export function readModelFile(input: string | Uint8Array, limits: ModelLimits = {}): ValidatedModelFile & { metadata: Record<string, string> } {
  const source = typeof input === 'string' ? input : '<memory>';
  const file = readSafetensors(input, { source });
  return { ...validateModelFile(file, source, limits), metadata: file.metadata };
}
