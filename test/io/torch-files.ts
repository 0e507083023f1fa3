/**
 * Hand-built torch files for the import tests, written without torch: a pickle writer for the
 * opcodes torch.save emits, a state_dict pickle laid out exactly as torch 1.13 writes one, and a
 * zip writer (stored or deflate, no ZIP64) with its own bitwise CRC-32, independent of the
 * table-driven one under test.
 */
import { deflateRawSync } from 'node:zlib';

const utf8 = new TextEncoder();

/** Appends pickle opcodes; `bytes()` returns the pickle. */
export class PickleWriter {
  private readonly out: number[] = [];

  raw(...b: number[]): this {
    this.out.push(...b);
    return this;
  }
  private u32(n: number): this {
    return this.raw(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  proto(v = 2): this {
    return this.raw(0x80, v);
  }
  global(module: string, name: string): this {
    return this.raw(0x63, ...utf8.encode(`${module}\n${name}\n`));
  }
  str(s: string): this {
    const b = utf8.encode(s);
    return this.raw(0x58).u32(b.length).raw(...b);
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.raw(0x4b, n);
    if (n >= 0 && n < 65536) return this.raw(0x4d, n & 0xff, n >> 8);
    return this.raw(0x4a).u32(n);
  }
  ints(values: readonly number[]): this {
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }
  mark(): this {
    return this.raw(0x28);
  }
  tuple(): this {
    return this.raw(0x74);
  }
  emptyTuple(): this {
    return this.raw(0x29);
  }
  emptyDict(): this {
    return this.raw(0x7d);
  }
  reduce(): this {
    return this.raw(0x52);
  }
  setitems(): this {
    return this.raw(0x75);
  }
  build(): this {
    return this.raw(0x62);
  }
  persid(): this {
    return this.raw(0x51);
  }
  bool(v: boolean): this {
    return this.raw(v ? 0x88 : 0x89);
  }
  put(i: number): this {
    return this.raw(0x71, i);
  }
  get(i: number): this {
    return this.raw(0x68, i);
  }
  stop(): this {
    return this.raw(0x2e);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

/** One tensor of a hand-built state_dict: a view of storage `key`. */
export interface TensorSpec {
  name: string;
  /** torch storage class name, e.g. FloatStorage. */
  storageType: string;
  key: string;
  /** Elements of the whole storage. */
  numel: number;
  offset: number;
  shape: number[];
  stride: number[];
}

/** A state_dict pickle as torch.save writes one: an OrderedDict of _rebuild_tensor_v2 calls, then BUILD of `_metadata`. */
export function stateDictPickle(tensors: readonly TensorSpec[]): Uint8Array {
  const w = new PickleWriter().proto(2).global('collections', 'OrderedDict').put(0).emptyTuple().reduce().put(1).mark();
  for (const t of tensors) {
    w.str(t.name).global('torch._utils', '_rebuild_tensor_v2').mark();
    w.mark().str('storage').global('torch', t.storageType).str(t.key).str('cpu').int(t.numel).tuple().persid();
    w.int(t.offset).ints(t.shape).ints(t.stride).bool(false).get(0).emptyTuple().reduce().tuple().reduce();
  }
  w.setitems();
  w.emptyDict().mark().str('_metadata').get(0).emptyTuple().reduce().setitems().build();
  return w.stop().bytes();
}

/** CRC-32 bit by bit (the zip reader under test uses a table). */
export function bitwiseCrc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** A zip archive of `files` (in order): stored, or deflate with `deflate`. */
export function makeZip(files: readonly [string, Uint8Array][], deflate = false): Uint8Array {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const header = (size: number, fill: (v: DataView) => void): Uint8Array => {
    const b = new Uint8Array(size);
    fill(new DataView(b.buffer));
    return b;
  };
  for (const [name, data] of files) {
    const n = utf8.encode(name);
    const body = deflate ? new Uint8Array(deflateRawSync(data)) : data;
    const crc = bitwiseCrc32(data);
    const method = deflate ? 8 : 0;
    const local = header(30, (v) => {
      v.setUint32(0, 0x04034b50, true);
      v.setUint16(4, 20, true);
      v.setUint16(8, method, true);
      v.setUint32(14, crc, true);
      v.setUint32(18, body.length, true);
      v.setUint32(22, data.length, true);
      v.setUint16(26, n.length, true);
    });
    central.push(header(46, (v) => {
      v.setUint32(0, 0x02014b50, true);
      v.setUint16(4, 20, true);
      v.setUint16(6, 20, true);
      v.setUint16(10, method, true);
      v.setUint32(16, crc, true);
      v.setUint32(20, body.length, true);
      v.setUint32(24, data.length, true);
      v.setUint16(28, n.length, true);
      v.setUint32(42, offset, true);
    }), n);
    chunks.push(local, n, body);
    offset += 30 + n.length + body.length;
  }
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const end = header(22, (v) => {
    v.setUint32(0, 0x06054b50, true);
    v.setUint16(8, files.length, true);
    v.setUint16(10, files.length, true);
    v.setUint32(12, cdSize, true);
    v.setUint32(16, offset, true);
  });
  const all = [...chunks, ...central, end];
  const out = new Uint8Array(all.reduce((a, c) => a + c.length, 0));
  let p = 0;
  for (const c of all) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

/** Little-endian bytes of f32 values. */
export function f32Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** A torch zip file: `archive/data.pkl`, the storages under `archive/data/<key>`, `archive/version`. */
export function torchZip(pickle: Uint8Array, storages: Record<string, Uint8Array>, deflate = false): Uint8Array {
  return makeZip([['archive/data.pkl', pickle], ...Object.entries(storages).map(([k, v]): [string, Uint8Array] => [`archive/data/${k}`, v]), ['archive/version', utf8.encode('3\n')]], deflate);
}
