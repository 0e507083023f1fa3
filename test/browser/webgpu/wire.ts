/**
 * Moving test data between Node and the page: a JSON tree whose typed arrays travel in one binary
 * blob ({ $ta: type, offset, length } in the JSON, the bytes 8-byte aligned in the blob), and
 * float outputs back as base64. Used by both sides, so it imports nothing.
 */

const TYPES = {
  Float32Array, Float64Array, Int32Array, Uint32Array, Uint16Array, Uint8Array,
} as const;
type TypeName = keyof typeof TYPES;
type Typed = InstanceType<(typeof TYPES)[TypeName]>;

function typeNameOf(v: unknown): TypeName | null {
  for (const name of Object.keys(TYPES) as TypeName[]) if (v instanceof TYPES[name]) return name;
  return null;
}

/** Splits `value` into JSON text and a blob holding every typed array in it. */
export function encodeTree(value: unknown): { json: string; bin: Uint8Array } {
  const chunks: { offset: number; bytes: Uint8Array }[] = [];
  let size = 0;
  const json = JSON.stringify(value, function (this: unknown, _key, v: unknown) {
    const name = typeNameOf(v);
    if (name === null) return v;
    const t = v as Typed;
    const offset = Math.ceil(size / 8) * 8;
    chunks.push({ offset, bytes: new Uint8Array(t.buffer, t.byteOffset, t.byteLength) });
    size = offset + t.byteLength;
    return { $ta: name, offset, length: t.length };
  });
  const bin = new Uint8Array(size);
  for (const c of chunks) bin.set(c.bytes, c.offset);
  return { json, bin };
}

/** The tree `encodeTree` split, with fresh typed arrays (copies out of `bin`). */
export function decodeTree<T = unknown>(json: string, bin: Uint8Array): T {
  return JSON.parse(json, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && '$ta' in v) {
      const { $ta, offset, length } = v as { $ta: TypeName; offset: number; length: number };
      const Ctor = TYPES[$ta];
      const bytes = bin.slice(offset, offset + length * Ctor.BYTES_PER_ELEMENT);
      return new Ctor(bytes.buffer);
    }
    return v;
  }) as T;
}

/** Float32Array → base64 (in chunks: String.fromCharCode takes a bounded argument list). */
export function f32ToBase64(a: Float32Array): string {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function base64ToF32(b64: string): Float32Array {
  const s = atob(b64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

/** A kernel case: what to run, its inputs, and (Node side only) the reference output and its magnitude bound. */
export type KernelCase =
  | { kind: 'linear'; name: string; format: 'u16' | 'u32' | 'nm' | 'dense'; layer: unknown; n: number; x: Float32Array; relu: boolean; variant?: string }
  | { kind: 'conv'; name: string; layer: unknown; geometry: { C: number; H: number; W: number; kh: number; kw: number; stride: number; pad: number }; n: number; x: Float32Array; relu: boolean }
  | { kind: 'bias_relu'; name: string; n: number; perExample: number; x: Float32Array; bias: Float32Array | null; channels: number; inner: 'n' | number; relu: boolean }
  | { kind: 'add'; name: string; n: number; perExample: number; x: Float32Array; other: Float32Array }
  | { kind: 'maxpool'; name: string; n: number; C: number; H: number; W: number; kernel: number; stride: number; x: Float32Array }
  | { kind: 'avgpool'; name: string; n: number; C: number; S: number; x: Float32Array }
  | { kind: 'transpose'; name: string; rows: number; cols: number; x: Float32Array };

/** A model case: a condensed network (CondensedNet as data), inputs, and the batches to run. */
export interface ModelCase {
  name: string;
  net: unknown;
  x: Float32Array;
  batches: number[];
}

/** What the page sends back per case: the output (base64 f32), or the error it threw. */
export type CaseResult = { out: string; variants?: string[] } | { error: string };
