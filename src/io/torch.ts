/**
 * Models from PyTorch: a state_dict saved with `torch.save` (`.pt` / `.pth`) or as safetensors,
 * mapped onto srigl's architectures, with masks from the file or from exact zeros.
 *
 * Reading. A torch file is read without running anything: the zip archive torch ≥ 1.6 writes
 * (io/zip.ts) or the older single-stream format (`_use_new_zipfile_serialization=False`), and its
 * pickle through a restricted VM (io/pickle.ts) whose whitelist is what
 * `torch.load(weights_only=True)` accepts: OrderedDict, the tensor and parameter rebuild
 * functions, torch's storage types and dtypes. Any other global (`os.system`, a model class …)
 * is refused by name. Storages are read lazily, only for the tensors the model needs, through
 * their views (offset and strides, so non-contiguous tensors come out right) and converted to
 * f32 from any real dtype (float32/64/16, bfloat16, integers, bool).
 *
 * Mapping. Names are srigl's own (those of its model files, which follow PyTorch's module
 * attribute names): mlp `fc1 … fcN` (nn.Linear), cnn `conv1 conv2 fc1 fc2`, resnet torchvision's
 * `conv1 bn1 layer{1,2,3}.{0,1,2}.{conv1,bn1,conv2,bn2,downsample.0,downsample.1} fc`, vit timm's
 * (`patch_embed.proj`, `cls_token`, `pos_embed`, `blocks.i.{norm1,attn.qkv,attn.proj,norm2,
 * mlp.fc1,mlp.fc2}`, `norm`, `head`; a fused `attn.qkv` is split into srigl's q, k, v). A prefix
 * every key shares (`module.` from DataParallel, `_orig_mod.` from torch.compile, `model.`) is
 * removed, and an mlp or cnn saved as a bare nn.Sequential (`1.weight`, `3.weight` …) has its
 * weighted layers mapped in order. BatchNorm's `num_batches_tracked` is ignored; any other key
 * the architecture does not have is an error, as is a missing or misshapen tensor.
 *
 * Masks. A weight's mask is the entry `<layer>.weight_mask` (torch.nn.utils.prune, which stores
 * the weight as `<layer>.weight_orig`), `<layer>.weight.mask` (srigl's files) or `<layer>.mask`,
 * of any dtype, holding 0 and 1 only; the weight is multiplied by it. Without one, a Linear or
 * Conv2d weight with exact zeros gets the mask of its nonzeros (unless `zeroMasks` is off). A
 * mask on a bias or norm parameter is multiplied in and not kept.
 */
import type { Engine } from '../kernels/engine.js';
import { readFileSync } from '../platform/host.js';
import { MLP_HIDDEN, Model, parseModelSpec, VIT_DEFAULTS, type Arch, type ModelSpec } from '../nn/models.js';
import { aPy, describePy, PickleCallable, PickleError, PyDict, PyTuple, unpickle, type PickleHooks, type PickleLimits, type PyValue } from './pickle.js';
import { fanInSummary } from '../sparse/mask.js';
import { readSafetensors } from './safetensors.js';
import { expectedTensors, type ExpectedTensor } from './validate.js';
import { isZip, openZip, type InflateRaw, type ZipEntry } from './zip.js';

/** A file that cannot be imported; names the file and, when it applies, the tensor. */
export class TorchImportError extends Error {
  readonly file: string;
  readonly tensor?: string;

  constructor(file: string, problem: string, tensor?: string) {
    super(tensor === undefined ? `${file}: ${problem}` : `${file}: tensor "${tensor}" ${problem}`);
    this.name = 'TorchImportError';
    this.file = file;
    if (tensor !== undefined) this.tensor = tensor;
  }
}

/** Element types of torch storages. */
export type TorchDtype = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool' | 'complex64' | 'complex128';

const ELEMENT_BYTES: Readonly<Record<TorchDtype, number>> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1, complex64: 8, complex128: 16,
};

/** torch's storage classes (`torch.FloatStorage` …), as pickles name them, by element type. */
const STORAGE_TYPES: Readonly<Record<string, TorchDtype>> = {
  FloatStorage: 'float32', DoubleStorage: 'float64', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8',
  BoolStorage: 'bool', ComplexFloatStorage: 'complex64', ComplexDoubleStorage: 'complex128', UntypedStorage: 'uint8',
};

/** torch's dtype objects (`torch.float32` …) as pickles name them. */
const DTYPE_NAMES: Readonly<Record<string, TorchDtype>> = {
  float32: 'float32', float: 'float32', float64: 'float64', double: 'float64', float16: 'float16', half: 'float16',
  bfloat16: 'bfloat16', int64: 'int64', long: 'int64', int32: 'int32', int: 'int32', int16: 'int16', short: 'int16',
  int8: 'int8', uint8: 'uint8', bool: 'bool', complex64: 'complex64', complex128: 'complex128',
};

/**
 * Names `torch.load(weights_only=True)` accepts for tensors srigl cannot use: recognised so the
 * error says what the file holds rather than calling it hostile.
 */
const UNSUPPORTED_TENSORS: Readonly<Record<string, string>> = {
  'torch._utils._rebuild_sparse_tensor': 'sparse (COO) tensors',
  'torch._utils._rebuild_sparse_csr_tensor': 'sparse CSR tensors',
  'torch._utils._rebuild_meta_tensor_no_storage': 'meta tensors (no data)',
  'torch._utils._rebuild_qtensor': 'quantized tensors',
  'torch._utils._rebuild_wrapper_subclass': 'tensor subclasses',
  'torch._tensor._rebuild_from_type_v2': 'tensor subclasses',
  'torch.serialization._get_layout': 'sparse tensor layouts',
  'torch.Tensor': 'legacy tensor objects',
};

/** A torch storage: a typed buffer, read when a tensor that views it is read. */
export class TorchStorage {
  readonly kind = 'storage';
  constructor(
    readonly key: string,
    readonly dtype: TorchDtype,
    /** Elements. */
    readonly numel: number,
    private readonly load: () => Uint8Array,
  ) {}

  private cached: Uint8Array | null = null;

  /** The storage's bytes (numel × element size). */
  bytes(): Uint8Array {
    this.cached ??= this.load();
    return this.cached;
  }
}

/** A tensor as a pickle describes it: a strided view of a storage. */
export class TorchTensor {
  readonly kind = 'tensor';
  constructor(
    readonly storage: TorchStorage,
    /** Elements from the storage's start. */
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}

  get dtype(): TorchDtype {
    return this.storage.dtype;
  }
}

/** One tensor of a state_dict, read (as f32) on demand. */
export interface StateDictTensor {
  dtype: string;
  shape: readonly number[];
  /** The values, row-major, converted to f32. Throws a TorchImportError naming the tensor when they cannot be read. */
  read(): Float32Array;
}

/** The file formats `readStateDict` reads. */
export type StateDictFormat = 'torch-zip' | 'torch-legacy' | 'safetensors';

/** A state_dict read from a file: its tensors by name, in file order. */
export interface StateDict {
  format: StateDictFormat;
  tensors: Map<string, StateDictTensor>;
  /** Where in the saved object the state_dict was: '' for the object itself, else its key (e.g. `state_dict` of a checkpoint dict). */
  key: string;
}

/** Options for `readStateDict`. */
export interface ReadStateDictOptions {
  /** Name used in errors when reading from bytes. Default `<memory>`. */
  source?: string;
  /**
   * Inflater for deflate-compressed zip entries. Default none: such entries are refused with a
   * message. torch.save stores its entries uncompressed, so only archives re-packed by other
   * tools need one (Node: `(d, max) => inflateRawSync(d, { maxOutputLength: max + 1 })`, as the CLI passes).
   */
  inflateRaw?: InflateRaw;
  /** Limits of the pickle VM (memo, stack, nesting). */
  pickle?: PickleLimits;
  /** Largest data.pkl of a zip file accepted, in bytes. Default 256 MiB (a state_dict's pickle is ~100 bytes per tensor). */
  maxPickleBytes?: number;
}

/** The first pickle of a legacy torch file: PROTO 2, LONG1 of 10 bytes (torch's magic number). */
const LEGACY_PREFIX = [0x80, 0x02, 0x8a, 0x0a];
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/** Keys under which a checkpoint dict commonly holds the model's state_dict. */
const NESTED_KEYS = ['state_dict', 'model_state_dict', 'model'];

/**
 * Reads a state_dict from a torch file (zip or legacy) or a safetensors file, from a path or
 * bytes; the format is recognised by content. Throws a TorchImportError (or the zip/safetensors
 * reader's error) naming the file and what is wrong; a pickle outside the whitelist is refused
 * with `refused pickle global "module.name"` or `refused pickle opcode NAME`.
 */
export function readStateDict(input: string | Uint8Array, opts: ReadStateDictOptions = {}): StateDict {
  const file = typeof input === 'string' ? input : (opts.source ?? '<memory>');
  let bytes: Uint8Array;
  if (typeof input === 'string') {
    try {
      bytes = readFileSync(input);
    } catch (e) {
      throw new TorchImportError(file, `cannot read (${(e as Error).message})`);
    }
  } else {
    bytes = input;
  }
  if (isZip(bytes)) return readTorchZip(bytes, file, opts);
  if (LEGACY_PREFIX.every((b, i) => bytes[i] === b)) return readTorchLegacy(bytes, file, opts);
  // safetensors: an 8-byte header length, then the JSON header.
  if (bytes.length >= 9 && bytes[8] === 0x7b) {
    const st = readSafetensors(bytes, { source: file });
    const tensors = new Map<string, StateDictTensor>();
    for (const [name, t] of st.tensors) {
      const data = t.data;
      tensors.set(name, {
        dtype: t.dtype,
        shape: t.shape,
        read: () => (data instanceof Float32Array ? data.slice() : Float32Array.from(data as ArrayLike<number | bigint>, Number)),
      });
    }
    return { format: 'safetensors', tensors, key: '' };
  }
  throw new TorchImportError(file, 'not a PyTorch file (neither the zip archive torch.save writes since torch 1.6 nor its older format) nor a safetensors file');
}

/** Whitelisted pickle globals, shared by both torch formats; `persistentLoad` turns storage ids into storages. */
function torchHooks(persistentLoad: (pid: PyTuple) => TorchStorage): PickleHooks {
  const fail = (problem: string): never => {
    throw new PickleError(`pickle: ${problem}`);
  };
  const int = (v: PyValue, what: string): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${what} must be a non-negative integer, got ${aPy(v)}`);
    return v as number;
  };
  const ints = (v: PyValue, what: string): number[] => {
    if (!(v instanceof PyTuple)) return fail(`${what} must be a tuple, got ${aPy(v)}`);
    if (v.items.length > 16) fail(`${what} has ${v.items.length} dimensions (at most 16)`);
    return v.items.map((x, i) => int(x, `${what}[${i}]`));
  };
  const tensor = (storage: PyValue, offset: PyValue, size: PyValue, stride: PyValue): TorchTensor => {
    if (!(storage instanceof TorchStorage)) return fail(`a tensor's storage is ${aPy(storage)}`);
    const shape = ints(size, 'tensor size');
    const strides = ints(stride, 'tensor stride');
    if (strides.length !== shape.length) fail(`tensor size has ${shape.length} dimensions, its stride ${strides.length}`);
    return new TorchTensor(storage, int(offset, 'storage offset'), shape, strides);
  };
  const callable = (name: string, fn: (args: PyValue[]) => PyValue, arity: [number, number]): PickleCallable =>
    new PickleCallable(name, (args) => {
      if (args.length < arity[0] || args.length > arity[1]) fail(`${name} called with ${args.length} arguments`);
      return fn(args);
    });
  const asTensor = (v: PyValue, what: string): TorchTensor => {
    if (!(v instanceof TorchTensor)) return fail(`${what} got ${aPy(v)}, not a tensor`);
    return v;
  };
  const globals: Record<string, PyValue> = {
    'collections.OrderedDict': callable('collections.OrderedDict', (args) => {
      const d = new PyDict(true);
      const items = args[0];
      if (items === undefined) return d;
      if (!Array.isArray(items)) return fail(`collections.OrderedDict of ${aPy(items)}`);
      for (const pair of items) {
        if (!(pair instanceof PyTuple) || pair.items.length !== 2 || typeof pair.items[0] !== 'string') fail('collections.OrderedDict items must be (str, value) pairs');
        d.map.set((pair as PyTuple).items[0] as string, (pair as PyTuple).items[1]);
      }
      return d;
    }, [0, 1]),
    'torch._utils._rebuild_tensor_v2': callable('torch._utils._rebuild_tensor_v2', (a) => tensor(a[0], a[1], a[2], a[3]), [6, 7]),
    'torch._utils._rebuild_tensor': callable('torch._utils._rebuild_tensor', (a) => tensor(a[0], a[1], a[2], a[3]), [4, 4]),
    'torch._utils._rebuild_parameter': callable('torch._utils._rebuild_parameter', (a) => asTensor(a[0], '_rebuild_parameter'), [3, 3]),
    'torch._utils._rebuild_parameter_with_state': callable('torch._utils._rebuild_parameter_with_state', (a) => asTensor(a[0], '_rebuild_parameter_with_state'), [4, 4]),
    'torch.nn.parameter.Parameter': callable('torch.nn.parameter.Parameter', (a) => asTensor(a[0], 'Parameter'), [1, 2]),
    'torch.Size': callable('torch.Size', (a) => new PyTuple(ints(a[0] ?? new PyTuple([]), 'torch.Size')), [0, 1]),
  };
  return {
    resolveGlobal(module, name) {
      const full = `${module}.${name}`;
      if (Object.prototype.hasOwnProperty.call(globals, full)) return globals[full];
      if (module === 'torch' && Object.prototype.hasOwnProperty.call(STORAGE_TYPES, name)) return { kind: 'storage type', dtype: STORAGE_TYPES[name] } as PyValue;
      if (module === 'torch' && Object.prototype.hasOwnProperty.call(DTYPE_NAMES, name)) return { kind: 'dtype', dtype: DTYPE_NAMES[name] } as PyValue;
      if (Object.prototype.hasOwnProperty.call(UNSUPPORTED_TENSORS, full)) {
        return new PickleCallable(full, () => fail(`${full}: the file holds ${UNSUPPORTED_TENSORS[full]}, which srigl cannot import (save dense tensors)`));
      }
      return undefined;
    },
    persistentLoad(pid) {
      if (!(pid instanceof PyTuple) || pid.items.length < 5) return fail(`persistent id is ${aPy(pid)}, expected ('storage', type, key, location, size)`);
      const tag = pid.items[0];
      const text = tag instanceof Uint8Array ? new TextDecoder().decode(tag) : tag;
      if (text !== 'storage') throw new PickleError(`refused persistent id ${JSON.stringify(typeof text === 'string' ? text : describePy(text))} (only tensor storages are accepted)`, true);
      return persistentLoad(pid);
    },
  };
}

/** The storage type, key and element count of a storage persistent id. */
function storageId(pid: PyTuple): { dtype: TorchDtype; key: string; numel: number } {
  const [, type, key, , numel] = pid.items;
  const t = type as { kind?: string; dtype?: TorchDtype } | null;
  if (t === null || typeof t !== 'object' || t.kind !== 'storage type' || t.dtype === undefined) throw new PickleError(`pickle: storage type is ${aPy(type)}`);
  if (typeof key !== 'string') throw new PickleError(`pickle: storage key is ${aPy(key)}, not a str`);
  if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) throw new PickleError(`pickle: storage "${key}" size must be a non-negative integer`);
  return { dtype: t.dtype, key, numel };
}

/** Runs a whitelisted pickle, naming the file and the part of it in errors. */
function runPickle(bytes: Uint8Array, hooks: PickleHooks, file: string, part: string, opts: ReadStateDictOptions, start = 0): { value: PyValue; end: number } {
  try {
    return unpickle(bytes, hooks, opts.pickle, start);
  } catch (e) {
    if (e instanceof PickleError) throw new TorchImportError(file, `${part}: ${e.message}`);
    throw e;
  }
}

function readTorchZip(bytes: Uint8Array, file: string, opts: ReadStateDictOptions): StateDict {
  const zip = openZip(bytes, { source: file, inflateRaw: opts.inflateRaw });
  // torch names every record `<archive>/…`, the archive being the saved file's stem.
  const pickles = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) {
    throw new TorchImportError(file, pickles.length === 0 ? 'zip archive has no <name>/data.pkl: not a file written by torch.save' : `zip archive has ${pickles.length} data.pkl records: ${pickles.join(', ')}`);
  }
  const root = pickles[0].slice(0, -'data.pkl'.length);
  const order = zip.entries.get(`${root}byteorder`);
  if (order !== undefined) {
    const text = new TextDecoder().decode(zip.read(`${root}byteorder`)).trim();
    if (text !== 'little') throw new TorchImportError(file, `tensors are stored ${text}-endian; only little-endian files are supported`);
  }
  const storages = new Map<string, TorchStorage>();
  const hooks = torchHooks((pid) => {
    const { dtype, key, numel } = storageId(pid);
    const seen = storages.get(key);
    if (seen !== undefined) {
      if (seen.dtype !== dtype || seen.numel !== numel) throw new PickleError(`pickle: storage "${key}" is named twice with different types or sizes`);
      return seen;
    }
    const name = `${root}data/${key}`;
    const entry = zip.entries.get(name);
    if (entry === undefined) throw new PickleError(`pickle: storage "${key}" has no record ${name} in the archive`);
    const size = numel * ELEMENT_BYTES[dtype];
    if (entry.size !== size) throw new PickleError(`pickle: storage "${key}" holds ${numel} ${dtype} elements (${size} bytes), but ${name} has ${entry.size} bytes`);
    const s = new TorchStorage(key, dtype, numel, () => zip.read(name));
    storages.set(key, s);
    return s;
  });
  const max = opts.maxPickleBytes ?? 256 * 2 ** 20;
  const size = (zip.entries.get(pickles[0]) as ZipEntry).size;
  if (size > max) throw new TorchImportError(file, `${pickles[0]} is ${size} bytes, more than the limit of ${max}`);
  const { value } = runPickle(zip.read(pickles[0]), hooks, file, pickles[0], opts);
  return { format: 'torch-zip', ...pickStateDict(value, file) };
}

/**
 * torch's format before 1.6: five pickles (magic number, protocol, system info, the object,
 * the list of storage keys), then each storage as a little-endian i64 element count and its
 * bytes, in the order of that list.
 */
function readTorchLegacy(bytes: Uint8Array, file: string, opts: ReadStateDictOptions): StateDict {
  const plain: PickleHooks = { resolveGlobal: () => undefined };
  const magic = runPickle(bytes, plain, file, 'magic number', opts);
  if (magic.value !== LEGACY_MAGIC) throw new TorchImportError(file, 'not a PyTorch file (bad magic number)');
  const protocol = runPickle(bytes, plain, file, 'protocol version', opts, magic.end);
  if (protocol.value !== LEGACY_PROTOCOL) throw new TorchImportError(file, `legacy torch format version ${String(protocol.value)} is not supported (only ${LEGACY_PROTOCOL}); re-save it with torch ≥ 1.6`);
  const sys = runPickle(bytes, plain, file, 'system info', opts, protocol.end);
  if (!(sys.value instanceof PyDict) || sys.value.map.get('little_endian') !== true) throw new TorchImportError(file, 'was saved on a big-endian machine (or has no system info); only little-endian files are supported');

  // Views of a root storage (old torch) read their root's bytes at an element offset.
  const roots = new Map<string, { dtype: TorchDtype; numel: number; data: Uint8Array | null }>();
  const storages = new Map<string, TorchStorage>();
  const dataOf = (key: string): Uint8Array => {
    const r = roots.get(key);
    if (r?.data === null || r === undefined) throw new TorchImportError(file, `storage "${key}" has no data in the file`);
    return r.data;
  };
  const hooks = torchHooks((pid) => {
    const { dtype, key, numel } = storageId(pid);
    const root = roots.get(key);
    if (root !== undefined && (root.dtype !== dtype || root.numel !== numel)) throw new PickleError(`pickle: storage "${key}" is named twice with different types or sizes`);
    if (root === undefined) roots.set(key, { dtype, numel, data: null });
    const view = pid.items[5];
    if (view === undefined || view === null) {
      let s = storages.get(key);
      if (s === undefined) storages.set(key, (s = new TorchStorage(key, dtype, numel, () => dataOf(key))));
      return s;
    }
    if (!(view instanceof PyTuple) || view.items.length !== 3) throw new PickleError(`pickle: storage "${key}" has a malformed view`);
    const [viewKey, offset, size] = view.items;
    if (typeof viewKey !== 'string' || typeof offset !== 'number' || typeof size !== 'number' || !Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0 || offset + size > numel) {
      throw new PickleError(`pickle: storage "${key}" has a view outside its ${numel} elements`);
    }
    const e = ELEMENT_BYTES[dtype];
    return new TorchStorage(viewKey, dtype, size, () => dataOf(key).subarray(offset * e, (offset + size) * e));
  });
  const main = runPickle(bytes, hooks, file, 'object', opts, sys.end);
  const keys = runPickle(bytes, plain, file, 'storage keys', opts, main.end);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) throw new TorchImportError(file, 'the storage key list is not a list of strings');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    const r = roots.get(key);
    if (r === undefined) throw new TorchImportError(file, `storage "${key}" is listed but no tensor uses it`);
    if (pos + 8 > bytes.length) throw new TorchImportError(file, `truncated: storage "${key}" has no size (the file ends at byte ${bytes.length})`);
    const n = view.getBigInt64(pos, true);
    if (n !== BigInt(r.numel)) throw new TorchImportError(file, `storage "${key}" records ${n} elements, the pickle says ${r.numel}`);
    const size = r.numel * ELEMENT_BYTES[r.dtype];
    if (pos + 8 + size > bytes.length) throw new TorchImportError(file, `truncated: storage "${key}" needs ${size} bytes at byte ${pos + 8}, the file ends at ${bytes.length}`);
    r.data = bytes.subarray(pos + 8, pos + 8 + size);
    pos += 8 + size;
  }
  return { format: 'torch-legacy', ...pickStateDict(main.value, file) };
}

/** The state_dict in an unpickled object: the dict itself when it holds tensors, else one of NESTED_KEYS. */
function pickStateDict(value: PyValue, file: string): Pick<StateDict, 'tensors' | 'key'> {
  if (!(value instanceof PyDict)) throw new TorchImportError(file, `holds ${aPy(value)}, not a state_dict (a dict of tensors); save model.state_dict()`);
  const allTensors = (d: PyDict): boolean => [...d.map.values()].every((v) => v instanceof TorchTensor);
  let dict = value;
  let key = '';
  if (!allTensors(value)) {
    const nested = NESTED_KEYS.find((k) => value.map.get(k) instanceof PyDict && allTensors(value.map.get(k) as PyDict));
    if (nested === undefined) {
      const bad = [...value.map.entries()].find(([, v]) => !(v instanceof TorchTensor)) as [unknown, PyValue];
      throw new TorchImportError(file, `is not a state_dict: entry ${JSON.stringify(String(bad[0]))} is ${aPy(bad[1])}, not a tensor (a checkpoint dict's state_dict is found under ${NESTED_KEYS.join(', ')})`);
    }
    dict = value.map.get(nested) as PyDict;
    key = nested;
  }
  const tensors = new Map<string, StateDictTensor>();
  for (const [name, t] of dict.map) {
    if (typeof name !== 'string') throw new TorchImportError(file, `state_dict key ${String(name)} is not a string`);
    const tensor = t as TorchTensor;
    tensors.set(name, { dtype: tensor.dtype, shape: tensor.shape, read: () => readTensor(tensor, file, name) });
  }
  return { tensors, key };
}

let halfTable: Float32Array | null = null;

/** float16 bits → value, through a 65536-entry table built once. */
function halfToFloat(h: number): number {
  if (halfTable === null) {
    halfTable = new Float32Array(65536);
    for (let b = 0; b < 65536; b++) {
      const e = (b >> 10) & 0x1f;
      const f = b & 0x3ff;
      const v = e === 0 ? f * 2 ** -24 : e === 31 ? (f === 0 ? Infinity : NaN) : (1 + f / 1024) * 2 ** (e - 15);
      halfTable[b] = b & 0x8000 ? -v : v;
    }
  }
  return halfTable[h];
}

/** Element i of a little-endian buffer of `dtype`, as a number. */
function elementReader(dtype: TorchDtype, bytes: Uint8Array): (i: number) => number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bf = new Float32Array(1);
  const bfBits = new Uint32Array(bf.buffer);
  switch (dtype) {
    case 'float32': return (i) => v.getFloat32(4 * i, true);
    case 'float64': return (i) => v.getFloat64(8 * i, true);
    case 'float16': return (i) => halfToFloat(v.getUint16(2 * i, true));
    case 'bfloat16': return (i) => {
      bfBits[0] = v.getUint16(2 * i, true) << 16;
      return bf[0];
    };
    case 'int64': return (i) => Number(v.getBigInt64(8 * i, true));
    case 'int32': return (i) => v.getInt32(4 * i, true);
    case 'int16': return (i) => v.getInt16(2 * i, true);
    case 'int8': return (i) => v.getInt8(i);
    case 'uint8': case 'bool': return (i) => bytes[i];
    case 'complex64': case 'complex128':
      throw new Error(`${dtype} tensors cannot be converted to real weights`);
  }
}

/**
 * A tensor's values in row-major order as f32, through its view: every index the view reaches
 * is checked against the storage before anything is read.
 */
export function readTensor(t: TorchTensor, file: string, name: string): Float32Array {
  const fail = (problem: string): never => {
    throw new TorchImportError(file, problem, name);
  };
  const { shape, stride, offset, storage } = t;
  let numel = 1n;
  let last = BigInt(offset);
  for (let d = 0; d < shape.length; d++) {
    numel *= BigInt(shape[d]);
    if (shape[d] > 0) last += BigInt(shape[d] - 1) * BigInt(stride[d]);
  }
  if (numel > 2n ** 31n) fail(`has ${numel} elements, too many to read`);
  const n = Number(numel);
  const out = new Float32Array(n);
  if (n === 0) return out;
  if (last >= BigInt(storage.numel)) fail(`views [${shape.join(', ')}] with strides [${stride.join(', ')}] at offset ${offset}, past the end of its storage of ${storage.numel} elements`);
  const bytes = storage.bytes();
  let get: (i: number) => number;
  try {
    get = elementReader(storage.dtype, bytes);
  } catch (e) {
    return fail(`cannot be read: ${(e as Error).message}`);
  }
  // An odometer over the shape: `at` is the storage index of the current element.
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  let at = offset;
  for (let i = 0; i < n; i++) {
    out[i] = get(at);
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d] < shape[d]) {
        at += stride[d];
        break;
      }
      index[d] = 0;
      at -= (shape[d] - 1) * stride[d];
    }
  }
  return out;
}

/** Options for `mapStateDict`. */
export interface ImportOptions {
  /** The srigl architecture the state_dict is for. */
  arch: Arch;
  /**
   * Per-example input shape [C, H, W]. Default [C, 28, 28] (srigl's datasets are 28×28) with C
   * the first conv's input channels (1 for the mlp); an mlp whose fc1 does not take 784 inputs
   * gets [1, 1, fan-in]; a vit gets the square image its patch count implies.
   */
  inputShape?: [number, number, number];
  /** vit only: attention heads, which no tensor shape reveals. Default 4 (srigl's vit default). */
  heads?: number;
  /** Derive a Linear/Conv2d weight's mask from its exact zeros when the file has no mask for it. Default true. */
  zeroMasks?: boolean;
  /** Largest total element count of the model's tensors. Default 2^26 (as model files). */
  maxModelElements?: number;
  /** Name used in errors. Default `<memory>`. */
  source?: string;
}

/** How one imported Linear/Conv2d layer came out. */
export interface ImportedLayer {
  name: string;
  kind: 'linear' | 'conv2d';
  shape: number[];
  out: number;
  fanIn: number;
  nnz: number;
  density: number;
  /** The fan-in of every neuron with weights when it is the same for all (constant fan-in holds), else null. */
  k: number | null;
  /** Smallest and largest fan-in over neurons with weights ([0, 0] when none has any). */
  fanInRange: [number, number];
  /** Neurons without weights (ablated). */
  ablated: number[];
  /** Where the mask came from: a mask entry of the file, the weight's exact zeros, or none (dense). */
  mask: 'entry' | 'zeros' | 'none';
  /** The file's mask entry, when `mask` is 'entry'. */
  maskKey?: string;
  /** Nonzero weights the mask entry zeroed in a plain weight (not counted for prune's `weight_orig`, which keeps them by design). */
  maskedNonzero: number;
  /** The key the weight was read from. */
  key: string;
}

/** A state_dict mapped onto a srigl model (see `mapStateDict`). */
export interface ImportedModel {
  spec: ModelSpec;
  /** Every tensor the model holds, by srigl name, dense row-major, masked weights zeroed. */
  tensors: Map<string, Float32Array>;
  /** Masks of the Linear/Conv2d weights that have one, by weight name (0/1). */
  masks: Map<string, Uint8Array>;
  layers: ImportedLayer[];
  /** Prefix removed from every key ('' for none). */
  prefix: string;
  /** 'sequential' when the keys were a bare nn.Sequential's numbers, mapped in order. */
  naming: 'named' | 'sequential';
  /** Keys read but not imported (BatchNorm's num_batches_tracked). */
  ignored: string[];
}

/** Prefixes removed when every key has them: DataParallel, torch.compile, a wrapper's `model`. */
const WRAPPER_PREFIXES = ['module.', '_orig_mod.', 'model.'];

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

const shapeText = (s: readonly number[]): string => `[${s.join(', ')}]`;

/**
 * Maps a state_dict onto srigl's `arch`: infers the structure the shapes reveal (mlp hidden
 * widths, classes, input channels, vit width, depth, patch and MLP ratio), checks every tensor
 * against it, reads the values and masks, and reports each Linear/Conv2d layer's sparsity and
 * whether constant fan-in holds. Errors are TorchImportErrors naming the tensor.
 */
export function mapStateDict(sd: StateDict, opts: ImportOptions): ImportedModel {
  const file = opts.source ?? '<memory>';
  const fail = (problem: string, tensor?: string): never => {
    throw new TorchImportError(file, problem, tensor);
  };
  const arch = opts.arch;
  const ignored: string[] = [];
  let entries = [...sd.tensors.entries()].filter(([k]) => {
    if (/(^|\.)num_batches_tracked$/.test(k)) {
      ignored.push(k);
      return false;
    }
    return true;
  });
  if (entries.length === 0) fail('the state_dict holds no tensors');
  let prefix = '';
  for (let changed = true; changed; ) {
    changed = false;
    for (const p of WRAPPER_PREFIXES) {
      if (entries.every(([k]) => k.startsWith(p))) {
        prefix += p;
        entries = entries.map(([k, t]) => [k.slice(p.length), t]);
        changed = true;
      }
    }
  }
  // Keys as srigl names them → the file's own key, for messages.
  const original = new Map<string, string>(entries.map(([k]) => [k, prefix + k]));
  let naming: ImportedModel['naming'] = 'named';
  if ((arch === 'mlp' || arch === 'cnn') && entries.every(([k]) => /^\d+\./.test(k))) {
    naming = 'sequential';
    const indices = [...new Set(entries.filter(([k]) => /^\d+\.weight(_orig)?$/.test(k)).map(([k]) => Number(k.split('.')[0])))].sort((a, b) => a - b);
    const names = arch === 'mlp' ? indices.map((_, i) => `fc${i + 1}`) : ['conv1', 'conv2', 'fc1', 'fc2'];
    if (indices.length !== names.length) fail(`a numbered (nn.Sequential) cnn state_dict needs 4 weighted layers (conv1, conv2, fc1, fc2), found ${indices.length}`);
    const rename = new Map(indices.map((idx, i) => [String(idx), names[i]]));
    original.clear();
    entries = entries.map(([k, t]) => {
      const dot = k.indexOf('.');
      const layer = rename.get(k.slice(0, dot));
      if (layer === undefined) fail(`module ${k.slice(0, dot)} of the nn.Sequential has no weight, so it maps to no ${arch} layer`, prefix + k);
      const name = layer + k.slice(dot);
      original.set(name, prefix + k);
      return [name, t];
    });
  }
  const dict = new Map(entries);
  const keyOf = (name: string): string => original.get(name) ?? name;
  const used = new Set<string>();

  /** A parameter's value entry: the name itself or prune's `_orig`. */
  const valueKey = (param: string): string | undefined => {
    const plain = dict.has(param);
    const orig = dict.has(`${param}_orig`);
    if (plain && orig) fail(`both "${keyOf(param)}" and "${keyOf(param + '_orig')}" are present; which one holds the weight is ambiguous`);
    return plain ? param : orig ? `${param}_orig` : undefined;
  };
  /** A parameter's mask entry, if any. */
  const maskKey = (param: string): string | undefined => {
    const candidates = [`${param}_mask`, `${param}.mask`];
    if (param.endsWith('.weight')) candidates.push(`${param.slice(0, -'.weight'.length)}.mask`);
    const found = candidates.filter((c) => dict.has(c));
    if (found.length > 1) fail(`"${param}" has ${found.length} masks (${found.map(keyOf).join(', ')}); keep one`);
    return found[0];
  };
  const shapeOf = (param: string, rank: number, hint: string): readonly number[] => {
    const k = valueKey(param);
    if (k === undefined) {
      const some = [...dict.keys()].slice(0, 8).map(keyOf).join(', ');
      return fail(`no "${param}": not a ${arch} state_dict in srigl's names (${hint}); its keys: ${some}${dict.size > 8 ? ', …' : ''}`);
    }
    const s = (dict.get(k) as StateDictTensor).shape;
    if (s.length !== rank) fail(`has shape ${shapeText(s)}, expected ${rank} dimensions`, keyOf(k));
    return s;
  };

  const spec = inferSpec(arch, shapeOf, dict, opts, fail);
  let expected: ExpectedTensor[];
  try {
    expected = expectedTensors(spec);
  } catch (e) {
    return fail(`${(e as Error).message} (pass --input-shape)`);
  }
  const maxElements = opts.maxModelElements ?? 2 ** 26;
  const total = expected.reduce((a, t) => a + t.shape.reduce((x, d) => x * d, 1), 0);
  if (total > maxElements) fail(`the ${arch} model would hold ${total} elements, more than the limit of ${maxElements}`);

  const tensors = new Map<string, Float32Array>();
  const masks = new Map<string, Uint8Array>();
  const layers: ImportedLayer[] = [];
  const zeroMasks = opts.zeroMasks ?? true;
  const dim = spec.arch === 'vit' ? (spec.dim as number) : 0;
  for (const t of expected) {
    // timm fuses q, k and v into one [3D, D] `attn.qkv`: srigl's q, k, v are its row blocks.
    const qkv = /^(blocks\.\d+\.attn)\.([qkv])\.(weight|bias)$/.exec(t.name);
    let source = t.name;
    let rows: [number, number] | null = null;
    if (qkv !== null && valueKey(t.name) === undefined && valueKey(`${qkv[1]}.qkv.${qkv[3]}`) !== undefined) {
      source = `${qkv[1]}.qkv.${qkv[3]}`;
      const block = 'qkv'.indexOf(qkv[2]);
      rows = [block * dim, (block + 1) * dim];
    }
    const vk = valueKey(source);
    if (vk === undefined) return fail(`missing tensor "${t.name}" (the ${arch} needs it with shape ${shapeText(t.shape)})`);
    const src = dict.get(vk) as StateDictTensor;
    // timm keeps cls_token and pos_embed with leading batch dimensions of 1.
    const squeeze = (s: readonly number[]): readonly number[] => {
      let r = s;
      while (r.length > t.shape.length && r[0] === 1) r = r.slice(1);
      return r;
    };
    const want = rows === null ? t.shape : [3 * t.shape[0], ...t.shape.slice(1)];
    if (!sameShape(squeeze(src.shape), want)) fail(`has shape ${shapeText(src.shape)}, expected ${shapeText(want)} for srigl's "${source}"`, keyOf(vk));
    used.add(vk);
    const take = (a: Float32Array): Float32Array => (rows === null ? a : a.slice(rows[0] * (a.length / (3 * dim)), rows[1] * (a.length / (3 * dim))));
    const values = take(src.read());
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) fail(`holds ${values[i]} at element ${i}${rows === null ? '' : ` of its ${qkv![2]} rows`}`, keyOf(vk));

    const mk = t.buffer ? undefined : maskKey(source);
    let mask: Uint8Array | null = null;
    let maskedNonzero = 0;
    if (mk !== undefined) {
      const m = dict.get(mk) as StateDictTensor;
      if (!sameShape(m.shape, src.shape)) fail(`has shape ${shapeText(m.shape)}; a mask has its weight's shape ${shapeText(src.shape)}`, keyOf(mk));
      used.add(mk);
      const mv = take(m.read());
      mask = new Uint8Array(mv.length);
      for (let i = 0; i < mv.length; i++) {
        if (mv[i] !== 0 && mv[i] !== 1) fail(`holds ${mv[i]} at element ${i}; a mask holds 0 and 1 only`, keyOf(mk));
        mask[i] = mv[i];
        if (mask[i] === 0 && values[i] !== 0) {
          // prune's weight_orig keeps the pruned values by design; only a plain weight's count as news.
          if (vk === source) maskedNonzero++;
          values[i] = 0;
        }
      }
    }
    tensors.set(t.name, values);
    if (t.matrix === undefined) continue;
    let from: ImportedLayer['mask'] = mask === null ? 'none' : 'entry';
    if (mask === null && zeroMasks && values.some((v) => v === 0)) {
      mask = Uint8Array.from(values, (v) => (v === 0 ? 0 : 1));
      from = 'zeros';
    }
    if (mask !== null) masks.set(t.name, mask);
    layers.push({
      ...layerFacts(t, mask),
      mask: from,
      ...(from === 'entry' ? { maskKey: keyOf(mk as string) } : {}),
      maskedNonzero,
      key: keyOf(vk),
    });
  }
  const unexpected = [...dict.keys()].filter((k) => !used.has(k));
  if (unexpected.length > 0) {
    const list = unexpected.slice(0, 10).map((k) => `"${keyOf(k)}"`).join(', ');
    fail(`unexpected tensor${unexpected.length > 1 ? 's' : ''} for srigl's ${arch}: ${list}${unexpected.length > 10 ? `, … (${unexpected.length} in all)` : ''}`);
  }
  return { spec, tensors, masks, layers, prefix, naming, ignored };
}

/** The spec a state_dict's shapes imply for `arch`, with the options' overrides. */
function inferSpec(
  arch: Arch,
  shapeOf: (param: string, rank: number, hint: string) => readonly number[],
  dict: Map<string, StateDictTensor>,
  opts: ImportOptions,
  fail: (problem: string, tensor?: string) => never,
): ModelSpec {
  const given = opts.inputShape;
  const square = (c: number): [number, number, number] => given ?? [c, 28, 28];
  let raw: Record<string, unknown>;
  switch (arch) {
    case 'mlp': {
      const hint = 'fc1, fc2, … as nn.Linear';
      const outs: number[] = [];
      let fanIn = 0;
      for (let i = 1; dict.has(`fc${i}.weight`) || dict.has(`fc${i}.weight_orig`); i++) {
        const s = shapeOf(`fc${i}.weight`, 2, hint);
        if (i === 1) fanIn = s[1];
        outs.push(s[0]);
      }
      if (outs.length === 0) shapeOf('fc1.weight', 2, hint);
      if (outs.length < 2) fail('an mlp needs at least two layers (fc1, fc2)');
      const hidden = outs.slice(0, -1);
      raw = { arch, inputShape: given ?? (fanIn === 784 ? [1, 28, 28] : [1, 1, fanIn]), classes: outs[outs.length - 1] };
      if (!sameShape(hidden, MLP_HIDDEN)) raw.hidden = hidden;
      break;
    }
    case 'cnn': {
      const hint = 'conv1, conv2 as nn.Conv2d, fc1, fc2 as nn.Linear';
      raw = { arch, inputShape: square(shapeOf('conv1.weight', 4, hint)[1]), classes: shapeOf('fc2.weight', 2, hint)[0] };
      break;
    }
    case 'resnet': {
      const hint = "torchvision's: conv1, bn1, layer1.0.conv1 …, fc";
      raw = { arch, inputShape: square(shapeOf('conv1.weight', 4, hint)[1]), classes: shapeOf('fc.weight', 2, hint)[0] };
      break;
    }
    case 'vit': {
      const hint = "timm's: patch_embed.proj, cls_token, pos_embed, blocks.i …, norm, head";
      const [dim, c, patch, patchW] = shapeOf('patch_embed.proj.weight', 4, hint);
      if (patch !== patchW) fail(`has shape ${shapeText([dim, c, patch, patchW])}: srigl's vit uses square patches`, 'patch_embed.proj.weight');
      let depth = 0;
      while ([...dict.keys()].some((k) => k.startsWith(`blocks.${depth}.`))) depth++;
      const hidden = depth > 0 ? shapeOf('blocks.0.mlp.fc1.weight', 2, hint)[0] : dim;
      const pos = dict.get('pos_embed');
      if (pos === undefined) return fail(`no "pos_embed": not a vit state_dict in srigl's names (${hint})`);
      const tokens = pos.shape.reduce((a, d) => a * d, 1) / dim;
      const side = Math.round(Math.sqrt(tokens - 1));
      if (given === undefined && side * side !== tokens - 1) fail(`pos_embed has ${tokens} tokens, not 1 + a square number of patches; pass --input-shape`);
      raw = {
        arch, inputShape: given ?? [c, side * patch, side * patch], classes: shapeOf('head.weight', 2, hint)[0],
        patch, dim, depth, heads: opts.heads ?? VIT_DEFAULTS.heads, mlpRatio: hidden / dim,
      };
      break;
    }
  }
  if (arch !== 'vit' && opts.heads !== undefined) fail(`heads applies to the vit only, not ${arch}`);
  try {
    return parseModelSpec(raw);
  } catch (e) {
    return fail(`the tensors imply ${JSON.stringify(raw)}, which is not a valid spec: ${(e as Error).message}`);
  }
}

/** Per-row fan-in of a weight (dense when `mask` is null) → the layer's sparsity facts. */
function layerFacts(t: ExpectedTensor, mask: Uint8Array | null): Omit<ImportedLayer, 'mask' | 'maskKey' | 'maskedNonzero' | 'key'> {
  const { out, fanIn } = t.matrix as { out: number; fanIn: number };
  const f = fanInSummary(out, (r) => {
    if (mask === null) return fanIn;
    let c = 0;
    for (let i = r * fanIn; i < (r + 1) * fanIn; i++) c += mask[i];
    return c;
  });
  return {
    name: t.name.replace(/\.weight$/, ''),
    kind: t.shape.length === 4 ? 'conv2d' : 'linear',
    shape: [...t.shape],
    out,
    fanIn,
    ...f,
    density: f.nnz / (out * fanIn),
  };
}

/** Options for `buildImportedModel`. */
export interface BuildImportedOptions {
  /** Batch buffers of the model. Default 128. */
  maxBatch?: number;
}

/**
 * Builds srigl's model for an imported state_dict on `engine`, with its values and masks (as
 * `loadModel` fills a model from a file). On error the engine memory it took is given back.
 */
export function buildImportedModel(engine: Engine, imported: ImportedModel, opts: BuildImportedOptions = {}): Model {
  const mark = engine.heap.mark();
  try {
    const model = new Model(engine, imported.spec, { maxBatch: opts.maxBatch });
    for (const t of model.stateTensors()) {
      const v = imported.tensors.get(t.name);
      if (v === undefined || v.length !== t.size) throw new Error(`imported model: no values of size ${t.size} for "${t.name}"`);
      t.assign(v);
    }
    for (const p of model.parameters()) {
      const m = imported.masks.get(p.name);
      if (m !== undefined) p.setMask(m);
    }
    return model;
  } catch (e) {
    engine.heap.release(mark);
    throw e;
  }
}

/** Reads `input` (see `readStateDict`) and maps it onto `opts.arch` (see `mapStateDict`). */
export function importStateDict(input: string | Uint8Array, opts: ImportOptions & ReadStateDictOptions): { stateDict: StateDict; imported: ImportedModel } {
  const source = typeof input === 'string' ? input : (opts.source ?? '<memory>');
  const stateDict = readStateDict(input, { ...opts, source });
  return { stateDict, imported: mapStateDict(stateDict, { ...opts, source }) };
}
