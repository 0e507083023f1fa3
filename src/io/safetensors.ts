import { closeSync, fstatSync, openSync, readSync } from '../platform/host.js';
import { writeFileAtomic } from './atomic.js';

/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * u64 header length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]},
 * "__metadata__": {string: string}}`, then the raw little-endian tensor bytes, offsets relative
 * to the end of the header. Python reads what we write with `safetensors.numpy.load_file`.
 */
export type SafetensorsDtype = 'F32' | 'F64' | 'I32' | 'I64' | 'U8' | 'U16' | 'U32';

export type SafetensorsArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Uint32Array;

/** One named tensor. `data` holds product(shape) elements of the dtype's array type. */
export interface SafeTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  data: SafetensorsArray;
}

/** A tensor file's contents: tensors in file (offset) order, and the metadata map. */
export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

type ArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): SafetensorsArray;
  new (length: number): SafetensorsArray;
  readonly BYTES_PER_ELEMENT: number;
};

const DTYPES: Readonly<Record<SafetensorsDtype, ArrayCtor>> = {
  F32: Float32Array,
  F64: Float64Array,
  I32: Int32Array,
  I64: BigInt64Array,
  U8: Uint8Array,
  U16: Uint16Array,
  U32: Uint32Array,
};

const METADATA_KEY = '__metadata__';
/** Default cap on the JSON header: far above any real model's, far below a hostile claim. */
export const DEFAULT_MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** A malformed or unreadable tensor file; names the file and, when it applies, the tensor. */
export class SafetensorsError extends Error {
  readonly file: string;
  readonly tensor?: string;

  constructor(file: string, problem: string, tensor?: string) {
    super(tensor === undefined ? `${file}: ${problem}` : `${file}: tensor "${tensor}": ${problem}`);
    this.name = 'SafetensorsError';
    this.file = file;
    if (tensor !== undefined) this.tensor = tensor;
  }
}

/** Typed arrays are viewed as raw bytes in both directions, so the host must be little-endian like the format. */
function requireLittleEndian(file: string): void {
  if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) throw new SafetensorsError(file, 'big-endian hosts are not supported');
}

function isDtype(d: unknown): d is SafetensorsDtype {
  return typeof d === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, d);
}

/** Serialises tensors (in the given order) and metadata into safetensors bytes. */
export function encodeSafetensors(tensors: readonly SafeTensor[], metadata: Readonly<Record<string, string>> = {}, file = '<memory>'): Uint8Array {
  requireLittleEndian(file);
  // Entries go through a Map and Object.fromEntries so a tensor named "__proto__" stays data.
  const header = new Map<string, unknown>();
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new SafetensorsError(file, `metadata "${key}" must be a string, got ${typeof value}`);
  }
  if (Object.keys(metadata).length > 0) header.set(METADATA_KEY, metadata);
  let offset = 0;
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === METADATA_KEY) throw new SafetensorsError(file, `"${METADATA_KEY}" is reserved and cannot name a tensor`);
    if (seen.has(t.name)) throw new SafetensorsError(file, 'duplicate tensor name', t.name);
    seen.add(t.name);
    if (!isDtype(t.dtype)) throw new SafetensorsError(file, `unknown dtype ${JSON.stringify(t.dtype)}`, t.name);
    if (!(t.data instanceof DTYPES[t.dtype])) throw new SafetensorsError(file, `dtype ${t.dtype} needs a ${DTYPES[t.dtype].name}, got ${t.data.constructor.name}`, t.name);
    let count = 1;
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new SafetensorsError(file, `shape [${t.shape.join(', ')}] has a dimension that is not a non-negative integer`, t.name);
      count *= d;
    }
    if (count !== t.data.length) throw new SafetensorsError(file, `shape [${t.shape.join(', ')}] holds ${count} elements, data has ${t.data.length}`, t.name);
    header.set(t.name, { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] });
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(Object.fromEntries(header)));
  // Pad with spaces so the data region starts 8-byte aligned, as the reference writer does.
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/** Writes a safetensors file atomically (temporary file, fsync, rename). */
export function writeSafetensors(path: string, tensors: readonly SafeTensor[], metadata: Readonly<Record<string, string>> = {}): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata, path));
}

/** Options for `readSafetensors`. */
export interface ReadSafetensorsOptions {
  /** Largest JSON header accepted, in bytes. Default 100 MiB. */
  maxHeaderBytes?: number;
  /** Reject NaN and ±Infinity in F32/F64 tensors. Default true. */
  rejectNonFinite?: boolean;
  /** Name used in errors when reading from bytes. Default `<memory>`. */
  source?: string;
}

/** A header entry after validation, before any tensor memory exists. */
interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Reads and validates a safetensors file (a path, or its bytes). Everything in the header is
 * checked before any tensor memory is allocated: header length against the cap and the file,
 * JSON, dtypes, shapes, offsets in bounds, byte length = dtype size × elements (in BigInt, so a
 * claimed terabyte shape cannot overflow), and tensors tiling the data region exactly. From a
 * path only the header is read until it passes. Tensors are views into the data when their
 * offset is aligned for the dtype, copies otherwise.
 */
export function readSafetensors(input: Uint8Array | string, opts: ReadSafetensorsOptions = {}): SafetensorsFile {
  const maxHeader = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const rejectNonFinite = opts.rejectNonFinite ?? true;
  if (!Number.isSafeInteger(maxHeader) || maxHeader < 0) throw new RangeError(`readSafetensors: maxHeaderBytes must be a non-negative integer, got ${maxHeader}`);
  if (typeof input === 'string') return readFromPath(input, maxHeader, rejectNonFinite);
  const file = opts.source ?? '<memory>';
  const headerLength = checkHeaderLength(file, input.subarray(0, Math.min(8, input.length)), input.length, maxHeader);
  const dataStart = 8 + headerLength;
  const parsed = parseHeader(file, input.subarray(8, dataStart), input.length - dataStart);
  return materialise(file, parsed, input.subarray(dataStart), rejectNonFinite);
}

function readFromPath(path: string, maxHeader: number, rejectNonFinite: boolean): SafetensorsFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new SafetensorsError(path, `cannot open (${(e as Error).message})`);
  }
  try {
    const size = fstatSync(fd).size;
    const prefix = readExactly(fd, path, 0, Math.min(8, size));
    const headerLength = checkHeaderLength(path, prefix, size, maxHeader);
    const parsed = parseHeader(path, readExactly(fd, path, 8, headerLength), size - 8 - headerLength);
    return materialise(path, parsed, readExactly(fd, path, 8 + headerLength, size - 8 - headerLength), rejectNonFinite);
  } finally {
    closeSync(fd);
  }
}

function readExactly(fd: number, path: string, position: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, out, got, length - got, position + got);
    if (n === 0) throw new SafetensorsError(path, `file shrank while reading: ${position + got} bytes available, needed ${position + length}`);
    got += n;
  }
  return out;
}

/** Validates the u64 header length against the cap and the file size; returns it as a number. */
function checkHeaderLength(file: string, prefix: Uint8Array, fileSize: number, maxHeader: number): number {
  if (prefix.length < 8) throw new SafetensorsError(file, `file is ${fileSize} bytes, too short for the 8-byte header length`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(maxHeader)) throw new SafetensorsError(file, `header length ${n} exceeds the ${maxHeader}-byte limit`);
  if (8n + n > BigInt(fileSize)) throw new SafetensorsError(file, `header length ${n} runs past the end of the ${fileSize}-byte file`);
  return Number(n);
}

function parseHeader(file: string, headerBytes: Uint8Array, dataLength: number): { entries: Entry[]; metadata: Record<string, string> } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(file, 'header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(header)) throw new SafetensorsError(file, 'header must be a JSON object');

  // Collected as pairs and built with Object.fromEntries so a key like "__proto__" stays data.
  const metadata: [string, string][] = [];
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (!isPlainObject(value)) throw new SafetensorsError(file, `${METADATA_KEY} must be an object of strings`);
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw new SafetensorsError(file, `${METADATA_KEY} entry "${k}" must be a string, got ${JSON.stringify(v)}`);
        metadata.push([k, v]);
      }
      continue;
    }
    entries.push(parseEntry(file, name, value, dataLength));
  }

  // The tensors, in offset order, must tile the data region exactly: overlaps would alias
  // tensors, and gaps or trailing bytes are data no tensor accounts for.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin < cursor) throw new SafetensorsError(file, `data_offsets [${e.begin}, ${e.end}] overlap the previous tensor, which ends at ${cursor}`, e.name);
    if (e.begin > cursor) throw new SafetensorsError(file, `gap of ${e.begin - cursor} unused bytes before this tensor (offset ${cursor} to ${e.begin})`, e.name);
    cursor = e.end;
  }
  if (cursor !== dataLength) throw new SafetensorsError(file, `${dataLength - cursor} trailing bytes after the last tensor (data region is ${dataLength} bytes, tensors cover ${cursor})`);
  return { entries: sorted, metadata: Object.fromEntries(metadata) };
}

function parseEntry(file: string, name: string, value: unknown, dataLength: number): Entry {
  const fail = (problem: string): never => {
    throw new SafetensorsError(file, problem, name);
  };
  if (!isPlainObject(value)) return fail('entry must be an object with dtype, shape and data_offsets');
  for (const key of Object.keys(value)) {
    if (key !== 'dtype' && key !== 'shape' && key !== 'data_offsets') fail(`unexpected field "${key}"`);
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (!isDtype(dtype)) return fail(`unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPES).join(', ')})`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    return fail(`shape ${JSON.stringify(shape)} must be an array of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    return fail(`data_offsets ${JSON.stringify(offsets)} must be a pair of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) fail(`data_offsets [${begin}, ${end}] are reversed`);
  if (end > dataLength) fail(`data_offsets [${begin}, ${end}] run past the ${dataLength}-byte data region`);
  // BigInt so that a shape claiming terabytes is compared exactly rather than overflowing.
  const bytes = shape.reduce((acc: bigint, d: number) => acc * BigInt(d), BigInt(DTYPES[dtype].BYTES_PER_ELEMENT));
  if (bytes !== BigInt(end - begin)) fail(`${dtype} shape [${shape.join(', ')}] needs ${bytes} bytes, data_offsets [${begin}, ${end}] give ${end - begin}`);
  return { name, dtype, shape: shape as number[], begin, end };
}

function materialise(file: string, parsed: { entries: Entry[]; metadata: Record<string, string> }, data: Uint8Array, rejectNonFinite: boolean): SafetensorsFile {
  requireLittleEndian(file);
  const tensors = new Map<string, SafeTensor>();
  for (const e of parsed.entries) {
    const ctor = DTYPES[e.dtype];
    const length = (e.end - e.begin) / ctor.BYTES_PER_ELEMENT;
    const at = data.byteOffset + e.begin;
    let array: SafetensorsArray;
    if (at % ctor.BYTES_PER_ELEMENT === 0) {
      array = new ctor(data.buffer, at, length);
    } else {
      array = new ctor(length);
      new Uint8Array(array.buffer).set(data.subarray(e.begin, e.end));
    }
    if (rejectNonFinite && (array instanceof Float32Array || array instanceof Float64Array)) {
      for (let i = 0; i < array.length; i++) {
        if (!Number.isFinite(array[i])) throw new SafetensorsError(file, `non-finite value ${array[i]} at element ${i}`, e.name);
      }
    }
    tensors.set(e.name, { name: e.name, dtype: e.dtype, shape: e.shape, data: array });
  }
  return { tensors, metadata: parsed.metadata };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
