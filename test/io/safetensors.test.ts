import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeSafetensors,
  readSafetensors,
  SafetensorsError,
  writeSafetensors,
  type SafeTensor,
} from '../../src/io/safetensors.js';

/** One tensor of every dtype, with extreme values, an empty tensor and a scalar. */
function sampleTensors(): SafeTensor[] {
  return [
    { name: 'u8', dtype: 'U8', shape: [3], data: Uint8Array.of(0, 255, 7) },
    { name: 'f32', dtype: 'F32', shape: [2, 3], data: Float32Array.of(1.5, -0, 3.4e38, -1e-45, 0.1, -7) },
    { name: 'u16', dtype: 'U16', shape: [1, 2], data: Uint16Array.of(65535, 1) },
    { name: 'i32', dtype: 'I32', shape: [2], data: Int32Array.of(-2147483648, 2147483647) },
    { name: 'f64', dtype: 'F64', shape: [], data: Float64Array.of(Math.PI) },
    { name: 'u32', dtype: 'U32', shape: [2], data: Uint32Array.of(4294967295, 0) },
    { name: 'i64', dtype: 'I64', shape: [3], data: BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, 42n) },
    { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
  ];
}

function assertSameTensors(actual: Map<string, SafeTensor>, expected: SafeTensor[]): void {
  assert.deepEqual([...actual.keys()], expected.map((t) => t.name));
  for (const t of expected) {
    const got = actual.get(t.name)!;
    assert.equal(got.dtype, t.dtype, t.name);
    assert.deepEqual(got.shape, t.shape, t.name);
    assert.equal(got.data.constructor, t.data.constructor, t.name);
    assert.deepEqual([...got.data], [...t.data], t.name);
    assert.equal(got.data.byteOffset % t.data.BYTES_PER_ELEMENT, 0, `${t.name} aligned`);
  }
}

/** Safetensors bytes from a header (object or raw text) and a data region, unpadded. */
function craft(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** A copy of `bytes` with one byte replaced. */
function withByte(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const out = bytes.slice();
  out[at] = value;
  return out;
}

const f32 = (values: number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);

describe('safetensors round trip', () => {
  test('every dtype, metadata, empty and scalar tensors, through bytes', () => {
    const tensors = sampleTensors();
    const bytes = encodeSafetensors(tensors, { arch: 'mlp', 'sparsity.fc1': '0.9' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal((8 + headerLength) % 8, 0, 'data region 8-byte aligned');
    const file = readSafetensors(bytes);
    assertSameTensors(file.tensors, tensors);
    assert.deepEqual(file.metadata, { arch: 'mlp', 'sparsity.fc1': '0.9' });
  });

  test('unaligned offsets are copied into aligned arrays; aligned ones are views', () => {
    // u8 first puts f32 at byte offset 3 of the data region.
    const bytes = encodeSafetensors(sampleTensors());
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes, 1);
    for (const input of [bytes, padded.subarray(1)]) {
      const file = readSafetensors(input);
      assertSameTensors(file.tensors, sampleTensors());
      assert.equal(file.tensors.get('u8')!.data.buffer, input.buffer, 'U8 is always a view');
    }
  });

  test('writes atomically to a path and reads it back; no temporary file remains', () => {
    const dir = mkdtempSync(join(tmpdir(), 'srigl-st-'));
    try {
      const path = join(dir, 'model.safetensors');
      writeFileSync(path, 'old contents');
      writeSafetensors(path, sampleTensors(), { k: 'v' });
      assert.deepEqual(readdirSync(dir), ['model.safetensors']);
      const file = readSafetensors(path);
      assertSameTensors(file.tensors, sampleTensors());
      assert.deepEqual(file.metadata, { k: 'v' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a tensor or metadata key named __proto__ stays plain data', () => {
    const file = readSafetensors(encodeSafetensors([{ name: '__proto__', dtype: 'U8', shape: [1], data: Uint8Array.of(9) }], { ['__proto__']: 'x' }));
    assert.equal(file.tensors.get('__proto__')!.data[0], 9);
    assert.equal(Object.getOwnPropertyDescriptor(file.metadata, '__proto__')?.value, 'x');
    assert.equal(Object.getPrototypeOf(file.metadata), Object.prototype);
  });

  test('encode rejects inconsistent tensors', () => {
    const t = (over: Partial<SafeTensor>): SafeTensor[] => [{ name: 'w', dtype: 'F32', shape: [2], data: new Float32Array(2), ...over }];
    assert.throws(() => encodeSafetensors(t({ shape: [3] })), /tensor "w": shape \[3\] holds 3 elements, data has 2/);
    assert.throws(() => encodeSafetensors(t({ dtype: 'I32' })), /dtype I32 needs a Int32Array, got Float32Array/);
    assert.throws(() => encodeSafetensors(t({ shape: [-2] })), /not a non-negative integer/);
    assert.throws(() => encodeSafetensors([...t({}), ...t({})]), /tensor "w": duplicate tensor name/);
    assert.throws(() => encodeSafetensors(t({ name: '__metadata__' })), /reserved/);
    assert.throws(() => encodeSafetensors(t({}), { n: 3 as unknown as string }), /metadata "n" must be a string/);
  });
});

describe('safetensors rejects malformed files', () => {
  const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const two = (a: number[], b: number[], bytes: number): Uint8Array =>
    craft({ a: { dtype: 'U8', shape: [a[1] - a[0]], data_offsets: a }, b: { dtype: 'U8', shape: [b[1] - b[0]], data_offsets: b } }, new Uint8Array(bytes));
  const cases: [string, Uint8Array, RegExp, string?][] = [
    ['an empty file', new Uint8Array(0), /file is 0 bytes, too short for the 8-byte header length/],
    ['a truncated length prefix', Uint8Array.of(8, 0, 0), /file is 3 bytes, too short/],
    ['a header length past the end', craft(ok, f32([1, 2]), 200n), /header length 200 runs past the end of the 70-byte file/],
    ['a header claiming terabytes', craft(ok, f32([1, 2]), 2n ** 40n), /header length 1099511627776 exceeds the 104857600-byte limit/],
    ['a header length of u64 max', craft(ok, f32([1, 2]), 2n ** 64n - 1n), /header length 18446744073709551615 exceeds/],
    ['a header that is not UTF-8', withByte(craft('{"a":"x"}'), 8 + 6, 0xff), /header is not valid UTF-8/],
    ['a header that is not JSON', craft('{"w": {"dtype": "F32",', new Uint8Array(0)), /header is not valid JSON/],
    ['a header that is a JSON array', craft('[1, 2]'), /header must be a JSON object/],
    ['overlapping offsets', two([0, 6], [4, 8], 8), /tensor "b": data_offsets \[4, 8\] overlap the previous tensor, which ends at 6/, 'b'],
    ['a gap between tensors', two([0, 4], [6, 8], 8), /tensor "b": gap of 2 unused bytes before this tensor \(offset 4 to 6\)/, 'b'],
    ['a gap before the first tensor', craft({ w: { dtype: 'U8', shape: [2], data_offsets: [2, 4] } }, new Uint8Array(4)), /tensor "w": gap of 2 unused bytes/, 'w'],
    ['trailing bytes', craft(ok, new Uint8Array(12)), /4 trailing bytes after the last tensor/],
    ['data but no tensors', craft({}, new Uint8Array(3)), /3 trailing bytes after the last tensor/],
    ['an unsupported dtype', craft({ w: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor "w": unsupported dtype "BF16"/, 'w'],
    ['a shape/size mismatch', craft({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32([1, 2])), /tensor "w": F32 shape \[3\] needs 12 bytes, data_offsets \[0, 8\] give 8/, 'w'],
    ['a negative dimension', craft({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, f32([1, 2])), /tensor "w": shape \[-2\] must be an array of non-negative integers/, 'w'],
    ['a fractional dimension', craft({ w: { dtype: 'F32', shape: [2.5], data_offsets: [0, 8] } }, f32([1, 2])), /shape \[2.5\] must be/, 'w'],
    ['a shape that is not an array', craft({ w: { dtype: 'F32', shape: 2, data_offsets: [0, 8] } }, f32([1, 2])), /shape 2 must be/, 'w'],
    ['a shape claiming terabytes', craft({ w: { dtype: 'F32', shape: [1e6, 1e6, 1e6], data_offsets: [0, 8] } }, f32([1, 2])), /needs 4000000000000000000 bytes/, 'w'],
    ['offsets past the data region', craft({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32([1, 2])), /tensor "w": data_offsets \[0, 16\] run past the 8-byte data region/, 'w'],
    ['reversed offsets', craft({ w: { dtype: 'U8', shape: [0], data_offsets: [4, 0] } }, new Uint8Array(4)), /data_offsets \[4, 0\] are reversed/, 'w'],
    ['offsets that are not a pair', craft({ w: { dtype: 'U8', shape: [4], data_offsets: [0, 4, 8] } }, new Uint8Array(4)), /data_offsets \[0,4,8\] must be a pair/, 'w'],
    ['unsafe-integer offsets', craft({ w: { dtype: 'U8', shape: [4], data_offsets: [0, 2 ** 60] } }, new Uint8Array(4)), /must be a pair of non-negative integers/, 'w'],
    ['an entry that is not an object', craft({ w: [1, 2] }), /tensor "w": entry must be an object/, 'w'],
    ['an unknown entry field', craft({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8], order: 'F' } }, f32([1, 2])), /tensor "w": unexpected field "order"/, 'w'],
    ['NaN in an F32 tensor', craft(ok, f32([1, NaN])), /tensor "w": non-finite value NaN at element 1/, 'w'],
    ['Infinity in an F64 tensor', craft({ d: { dtype: 'F64', shape: [1, 2], data_offsets: [0, 16] } }, new Uint8Array(Float64Array.of(-Infinity, 0).buffer)), /tensor "d": non-finite value -Infinity at element 0/, 'd'],
    ['metadata with a non-string value', craft({ __metadata__: { epochs: 3 }, ...ok }, f32([1, 2])), /__metadata__ entry "epochs" must be a string, got 3/],
    ['metadata that is an array', craft({ __metadata__: ['a'], ...ok }, f32([1, 2])), /__metadata__ must be an object of strings/],
  ];
  for (const [what, bytes, pattern, tensor] of cases) {
    test(`rejects ${what}`, () => {
      assert.throws(() => readSafetensors(bytes, { source: 'bad.safetensors' }), (e: unknown) => {
        assert.ok(e instanceof SafetensorsError, `${String(e)} is a SafetensorsError`);
        assert.equal(e.file, 'bad.safetensors');
        assert.match(e.message, /^bad\.safetensors: /);
        assert.match(e.message, pattern);
        assert.equal(e.tensor, tensor);
        return true;
      });
    });
  }

  test('the header cap is an option', () => {
    const bytes = craft(ok, f32([1, 2]));
    assert.equal(readSafetensors(bytes).tensors.size, 1);
    assert.throws(() => readSafetensors(bytes, { maxHeaderBytes: 16 }), /header length \d+ exceeds the 16-byte limit/);
  });

  test('non-finite values are allowed when asked', () => {
    const file = readSafetensors(craft(ok, f32([Infinity, NaN])), { rejectNonFinite: false });
    assert.deepEqual([...file.tensors.get('w')!.data], [Infinity, NaN]);
  });

  test('from a path, a terabyte header claim fails after reading 8 bytes, naming the path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'srigl-st-'));
    try {
      const path = join(dir, 'huge.safetensors');
      writeFileSync(path, craft(ok, f32([1, 2]), 2n ** 42n));
      assert.throws(() => readSafetensors(path, { maxHeaderBytes: Number.MAX_SAFE_INTEGER }), (e: unknown) => {
        assert.ok(e instanceof SafetensorsError);
        assert.equal(e.file, path);
        assert.match(e.message, /header length 4398046511104 runs past the end of the 70-byte file/);
        return true;
      });
      assert.throws(() => readSafetensors(join(dir, 'missing.safetensors')), /missing\.safetensors: cannot open/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('safetensors interoperability with Python', () => {
  const python = '/usr/bin/python3';
  const hasModule = (m: string): boolean => spawnSync(python, ['-c', `import ${m}`], { stdio: 'ignore' }).status === 0;

  test('a standard-library Python parser reads what we write', (t) => {
    if (!hasModule('json')) return t.skip(`${python} not available`);
    const dir = mkdtempSync(join(tmpdir(), 'srigl-st-'));
    try {
      const path = join(dir, 'x.safetensors');
      writeSafetensors(path, sampleTensors(), { note: 'héllo' });
      // An independent reading of the format: struct for the prefix, json for the header,
      // little-endian struct codes for the values.
      const script = `
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', b[:8])
h = json.loads(b[8:8 + n].decode('utf-8'))
codes = {'F32': 'f', 'F64': 'd', 'I32': 'i', 'I64': 'q', 'U8': 'B', 'U16': 'H', 'U32': 'I'}
out = {'__metadata__': h.pop('__metadata__')}
for name, e in h.items():
    s, t = e['data_offsets']
    raw = b[8 + n + s: 8 + n + t]
    c = codes[e['dtype']]
    out[name] = [repr(v) for v in struct.unpack('<%d%s' % (len(raw) // struct.calcsize(c), c), raw)]
print(json.dumps(out))
`;
      const parsed = JSON.parse(execFileSync(python, ['-c', script, path], { encoding: 'utf8' }));
      assert.deepEqual(parsed.__metadata__, { note: 'héllo' });
      assert.deepEqual(parsed.i64, ['-9223372036854775808', '9223372036854775807', '42']);
      assert.deepEqual(parsed.u32, ['4294967295', '0']);
      assert.deepEqual(parsed.f64, [String(Math.PI)]);
      assert.equal(Number(parsed.f32[2]), Math.fround(3.4e38));
      assert.equal(parsed.f32[1], '-0.0');
      assert.deepEqual(parsed.empty, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the safetensors Python package reads what we write, and we read what it writes', (t) => {
    if (!hasModule('safetensors.numpy')) return t.skip(`Python package safetensors (with numpy) not importable by ${python}; skipping the cross-check with the reference implementation`);
    const dir = mkdtempSync(join(tmpdir(), 'srigl-st-'));
    try {
      const ours = join(dir, 'ours.safetensors');
      const theirs = join(dir, 'theirs.safetensors');
      writeSafetensors(ours, sampleTensors(), { k: 'v' });
      const script = `
import json, sys
import numpy as np
from safetensors.numpy import load_file, save_file
from safetensors import safe_open
got = load_file(sys.argv[1])
with safe_open(sys.argv[1], 'np') as f:
    meta = f.metadata()
print(json.dumps({'meta': meta, 'tensors': {k: {'dtype': str(v.dtype), 'shape': list(v.shape), 'values': [str(x) for x in v.ravel().tolist()]} for k, v in got.items()}}))
save_file({'w': np.arange(6, dtype=np.float32).reshape(2, 3) / 4, 'idx': np.array([[1, 5], [0, 9]], dtype=np.int32), 'b': np.array([1, 2, 3], dtype=np.uint8)}, sys.argv[2], metadata={'from': 'python'})
`;
      const out = JSON.parse(execFileSync(python, ['-c', script, ours, theirs], { encoding: 'utf8' }));
      assert.deepEqual(out.meta, { k: 'v' });
      assert.equal(out.tensors.i64.dtype, 'int64');
      assert.deepEqual(out.tensors.i64.values, ['-9223372036854775808', '9223372036854775807', '42']);
      assert.deepEqual(out.tensors.f32.shape, [2, 3]);
      assert.deepEqual(out.tensors.empty.shape, [0, 4]);
      const file = readSafetensors(readFileSync(theirs), { source: theirs });
      assert.deepEqual(file.metadata, { from: 'python' });
      assert.deepEqual([...file.tensors.get('w')!.data], [0, 0.25, 0.5, 0.75, 1, 1.25]);
      assert.deepEqual(file.tensors.get('w')!.shape, [2, 3]);
      assert.deepEqual([...file.tensors.get('idx')!.data], [1, 5, 0, 9]);
      assert.deepEqual([...file.tensors.get('b')!.data], [1, 2, 3]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
