import { gunzipSync, gzipSync } from '../platform/host.js';

/**
 * The IDX format (LeCun's MNIST files): a 4-byte magic `00 00 <dtype> <ndims>`, then `ndims`
 * big-endian u32 dimensions, then the elements in row-major order. Only unsigned bytes are
 * accepted: every dataset here stores pixels and labels as u8, and accepting other dtypes would
 * be code nobody exercises.
 */
export interface IdxArray {
  /** Dimensions from the header, outermost first: [n] for labels, [n, rows, cols] for images. */
  dims: number[];
  /** The elements, row-major; a view into the (decompressed) input when possible. */
  data: Uint8Array;
}

/** dtype byte 0x08 = unsigned byte. */
const IDX_U8 = 0x08;
const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** True when `bytes` starts with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC_0 && bytes[1] === GZIP_MAGIC_1;
}

/**
 * Parses an IDX file of unsigned bytes with 1 dimension (labels) or 3 (images), gunzipping it
 * first when it starts with the gzip magic. `source` names the file in every error. The element
 * count must match the byte length exactly, so truncated downloads and concatenated files are
 * rejected rather than silently read.
 */
export function parseIdx(bytes: Uint8Array, source: string): IdxArray {
  let raw = bytes;
  if (isGzip(bytes)) {
    try {
      raw = gunzipSync(bytes);
    } catch (e) {
      throw new Error(`${source}: corrupt gzip data (${(e as Error).message})`);
    }
  }
  if (raw.length < 4) throw new Error(`${source}: IDX file is ${raw.length} bytes, too short for the 4-byte magic number`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const magic = view.getUint32(0, false);
  if (raw[0] !== 0 || raw[1] !== 0) {
    throw new Error(`${source}: bad IDX magic number 0x${hex8(magic)} (first two bytes must be zero)`);
  }
  if (raw[2] !== IDX_U8) {
    throw new Error(`${source}: unsupported IDX element type 0x${raw[2].toString(16).padStart(2, '0')} (magic 0x${hex8(magic)}); only unsigned bytes (0x08) are supported`);
  }
  const ndims = raw[3];
  if (ndims !== 1 && ndims !== 3) {
    throw new Error(`${source}: unsupported IDX rank ${ndims} (magic 0x${hex8(magic)}); expected 1 (labels, 0x00000801) or 3 (images, 0x00000803)`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (raw.length < headerBytes) {
    throw new Error(`${source}: IDX header truncated: ${raw.length} bytes, the ${ndims}-dimensional header needs ${headerBytes}`);
  }
  const dims: number[] = [];
  let count = 1;
  for (let d = 0; d < ndims; d++) {
    const size = view.getUint32(4 + 4 * d, false);
    dims.push(size);
    count *= size;
  }
  // Every dimension is < 2^32 and there are at most three, so `count` may exceed 2^53; such a
  // file can never have the matching length anyway, and the comparison below still rejects it.
  const expected = headerBytes + count;
  if (raw.length !== expected) {
    const what = raw.length < expected ? 'truncated' : 'has trailing bytes';
    throw new Error(`${source}: IDX data ${what}: dims [${dims.join(', ')}] need ${expected} bytes, file has ${raw.length}`);
  }
  // A plain Uint8Array view, not a Node Buffer, so consumers see one type whatever the source.
  return { dims, data: new Uint8Array(raw.buffer, raw.byteOffset + headerBytes, raw.length - headerBytes) };
}

/**
 * Encodes unsigned bytes as an IDX file (gzipped when `gzip` is true). The inverse of
 * `parseIdx`, used to write dataset subsets and test fixtures.
 */
export function encodeIdx(dims: readonly number[], data: Uint8Array, gzip = false): Uint8Array {
  if (dims.length !== 1 && dims.length !== 3) throw new Error(`encodeIdx: rank must be 1 or 3, got ${dims.length}`);
  let count = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) throw new Error(`encodeIdx: bad dimension ${d}`);
    count *= d;
  }
  if (count !== data.length) throw new Error(`encodeIdx: dims [${dims.join(', ')}] hold ${count} elements, data has ${data.length}`);
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, (IDX_U8 << 8) | dims.length, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, header);
  return gzip ? new Uint8Array(gzipSync(out, { level: 9 })) : out;
}

function hex8(x: number): string {
  return x.toString(16).padStart(8, '0');
}
