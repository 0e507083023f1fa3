import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { encodeIdx, parseIdx } from '../../src/data/idx.js';

const pixels = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => (i * 37) & 255);

function header(magic: number, dims: number[]): Uint8Array {
  const b = new Uint8Array(4 + 4 * dims.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, magic, false);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

describe('parseIdx', () => {
  test('reads images and labels, plain and gzipped', () => {
    for (const gzip of [false, true]) {
      const img = parseIdx(encodeIdx([2, 3, 4], pixels, gzip), 'img');
      assert.deepEqual(img.dims, [2, 3, 4]);
      assert.deepEqual(img.data, pixels);
      const lab = parseIdx(encodeIdx([5], Uint8Array.of(0, 9, 3, 3, 1), gzip), 'lab');
      assert.deepEqual(lab.dims, [5]);
      assert.deepEqual([...lab.data], [0, 9, 3, 3, 1]);
    }
  });

  test('reads the header big-endian, built by hand', () => {
    const bytes = concat(header(0x00000803, [2, 3, 4]), pixels);
    const { dims, data } = parseIdx(bytes, 'hand');
    assert.deepEqual(dims, [2, 3, 4]);
    assert.equal(data[5], pixels[5]);
  });

  test('accepts an empty dataset', () => {
    assert.deepEqual(parseIdx(header(0x00000801, [0]), 'empty').data.length, 0);
  });

  const rejections: [string, Uint8Array, RegExp][] = [
    ['too short for the magic', Uint8Array.of(0, 0, 8), /too short/],
    ['non-zero leading magic bytes', concat(header(0x01000801, [1]), Uint8Array.of(0)), /bad IDX magic number 0x01000801/],
    ['float dtype', concat(header(0x00000d01, [1]), new Uint8Array(4)), /element type 0x0d/],
    ['signed byte dtype', concat(header(0x00000901, [1]), new Uint8Array(1)), /element type 0x09/],
    ['rank 2', concat(header(0x00000802, [2, 2]), new Uint8Array(4)), /rank 2/],
    ['rank 0', header(0x00000800, []), /rank 0/],
    ['header truncated', header(0x00000803, [2, 3, 4]).subarray(0, 10), /header truncated/],
    ['data truncated', concat(header(0x00000803, [2, 3, 4]), pixels.subarray(1)), /truncated: dims \[2, 3, 4\] need 40 bytes, file has 39/],
    ['trailing bytes', concat(header(0x00000803, [2, 3, 4]), pixels, Uint8Array.of(7)), /trailing bytes/],
    ['dims beyond any real file', concat(header(0x00000803, [0xffffffff, 0xffffffff, 0xffffffff])), /truncated/],
    ['trailing bytes inside the gzip', gzipSync(concat(header(0x00000801, [2]), Uint8Array.of(1, 2, 3))), /trailing bytes/],
  ];
  for (const [what, bytes, pattern] of rejections) {
    test(`rejects ${what}, naming the file`, () => {
      assert.throws(() => parseIdx(bytes, 'some/file.idx'), (e: Error) => {
        assert.match(e.message, /^some\/file\.idx: /);
        assert.match(e.message, pattern);
        return true;
      });
    });
  }

  test('rejects corrupt gzip data, naming the file', () => {
    const gz = new Uint8Array(encodeIdx([2, 3, 4], pixels, true));
    const truncated = gz.subarray(0, gz.length - 6);
    assert.throws(() => parseIdx(truncated, 'x.gz'), /^Error: x\.gz: corrupt gzip data/);
    const flipped = gz.slice();
    flipped[12] ^= 0xff;
    assert.throws(() => parseIdx(flipped, 'y.gz'), /^Error: y\.gz: corrupt gzip data/);
  });
});
