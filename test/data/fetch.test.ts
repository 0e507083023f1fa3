import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadSplitFromDir } from '../../src/data/datasets.js';
import { fetchDataset, type FetchLike } from '../../src/data/fetch.js';
import { encodeIdx } from '../../src/data/idx.js';
import { SUBSET } from '../paths.js';

const BASE = 'http://srigl.test/data/';

/** A fetch over a map of file name → bytes under BASE (404 for anything else), recording the URLs asked for. */
function fakeFetch(files: Record<string, Uint8Array>, asked: string[] = []): FetchLike {
  return async (url: string) => {
    asked.push(url);
    const name = url.startsWith(BASE) ? url.slice(BASE.length) : null;
    const bytes = name === null ? undefined : files[name];
    if (bytes === undefined) return { ok: false, status: 404, arrayBuffer: async () => new ArrayBuffer(0) };
    return { ok: true, status: 200, arrayBuffer: async () => bytes.slice().buffer };
  };
}

/** The embedded subset's files as the demo server serves them. */
function subsetFiles(): Record<string, Uint8Array> {
  const names = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
  return Object.fromEntries(names.map((n) => [`${n}.gz`, new Uint8Array(readFileSync(join(SUBSET, `${n}.gz`)))]));
}

describe('fetchDataset', () => {
  test('over HTTP it gives exactly what loadSplitFromDir reads from the directory (the embedded subset)', async () => {
    const asked: string[] = [];
    const got = await fetchDataset('fashion-mnist', BASE, { fetch: fakeFetch(subsetFiles(), asked) });
    for (const split of ['train', 'test'] as const) {
      const want = loadSplitFromDir('fashion-mnist', split, SUBSET);
      const have = got[split]!;
      assert.equal(have.n, want.n);
      assert.deepEqual([have.rows, have.cols], [want.rows, want.cols]);
      assert.ok(Buffer.from(have.images).equals(Buffer.from(want.images)), `${split} images differ`);
      assert.ok(Buffer.from(have.labels).equals(Buffer.from(want.labels)), `${split} labels differ`);
      assert.deepEqual(have.classes, want.classes);
    }
    assert.equal(asked.length, 4, 'one request per gzipped file');
  });

  test('falls back to the uncompressed name, fetches only the splits asked for, and takes a base without a slash', async () => {
    const images = encodeIdx([3, 2, 2], Uint8Array.from({ length: 12 }, (_, i) => i * 20));
    const labels = encodeIdx([3], Uint8Array.of(0, 9, 4));
    const asked: string[] = [];
    const got = await fetchDataset('fashion-mnist', BASE.slice(0, -1), {
      splits: ['test'],
      fetch: fakeFetch({ 't10k-images-idx3-ubyte': images, 't10k-labels-idx1-ubyte.gz': new Uint8Array(gzipSync(labels)) }, asked),
    });
    assert.equal(got.train, undefined);
    assert.deepEqual(Array.from(got.test!.labels), [0, 9, 4]);
    assert.deepEqual(Array.from(got.test!.images.subarray(0, 4)), [0, 20, 40, 60]);
    assert.deepEqual(asked.sort(), [`${BASE}t10k-images-idx3-ubyte`, `${BASE}t10k-images-idx3-ubyte.gz`, `${BASE}t10k-labels-idx1-ubyte.gz`]);
  });

  test('a missing file is named with every URL tried and its HTTP status', async () => {
    await assert.rejects(
      fetchDataset('fashion-mnist', BASE, { splits: ['test'], fetch: fakeFetch({}) }),
      new RegExp(`fashion-mnist: t10k-(images-idx3|labels-idx1)-ubyte not found: ${BASE}t10k-\\S+\\.gz \\(HTTP 404\\), ${BASE}t10k-\\S+ \\(HTTP 404\\)`),
    );
  });

  test('corrupt gzip, a bad IDX file and mismatched counts are errors naming the URL', async () => {
    const labels = encodeIdx([2], Uint8Array.of(1, 2));
    const images = encodeIdx([2, 2, 2], new Uint8Array(8));
    const gz = new Uint8Array(gzipSync(images));
    const run = (files: Record<string, Uint8Array>) => fetchDataset('fashion-mnist', BASE, { splits: ['test'], fetch: fakeFetch(files) });
    await assert.rejects(run({ 't10k-images-idx3-ubyte.gz': gz.subarray(0, gz.length - 9), 't10k-labels-idx1-ubyte': labels }), new RegExp(`${BASE}t10k-images-idx3-ubyte\\.gz: corrupt gzip data`));
    await assert.rejects(run({ 't10k-images-idx3-ubyte': images.subarray(0, 20), 't10k-labels-idx1-ubyte': labels }), new RegExp(`${BASE}t10k-images-idx3-ubyte: IDX data truncated`));
    await assert.rejects(run({ 't10k-images-idx3-ubyte': images, 't10k-labels-idx1-ubyte': encodeIdx([3], Uint8Array.of(1, 2, 3)) }), /holds 2 images but .* holds 3 labels/);
    await assert.rejects(run({ 't10k-images-idx3-ubyte': images, 't10k-labels-idx1-ubyte': encodeIdx([2], Uint8Array.of(1, 10)) }), /label 10 at index 1 is not < 10/);
  });
});
