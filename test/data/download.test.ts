import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { downloadDataset } from '../../src/data/download.js';
import { locateDataset, loadDataset } from '../../src/data/locate.js';
import { FILES, syntheticDataset } from './synthetic.js';

const files = syntheticDataset({ train: 40, test: 10, tag: 5 });
const sha256: Record<string, string> = Object.fromEntries(
  Object.entries(files).map(([name, gz]) => [name, createHash('sha256').update(gunzipSync(gz)).digest('hex')]),
);

/**
 * Serves /<mode>/<file>.gz: `good` serves the real bytes; `corrupt` serves different (valid
 * gzip) bytes for the labels file; `drop` and `drop-chunked` send half of the images file and
 * then destroy the socket, with and without a Content-Length.
 */
let server: Server;
let base: string;
const requests: string[] = [];

before(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const [, mode, name] = (req.url ?? '').split('/');
    const file = name?.replace(/\.gz$/, '');
    const body = file === undefined ? undefined : files[file];
    if (body === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    if (mode === 'corrupt' && file === 'train-labels-idx1-ubyte') {
      const tampered = gunzipSync(body);
      tampered[tampered.length - 1] ^= 1;
      res.writeHead(200, { 'content-length': String(gzipSync(tampered).length) }).end(gzipSync(tampered));
      return;
    }
    if ((mode === 'drop' || mode === 'drop-chunked') && file === 'train-images-idx3-ubyte') {
      res.writeHead(200, mode === 'drop' ? { 'content-length': String(body.length) } : {});
      res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    res.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

function withCache(fn: (cacheDir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'srigl-dl-'));
    try {
      await fn(cacheDir);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  };
}

describe('downloadDataset', { timeout: 20000 }, () => {
  test('downloads, verifies and stores all four files', withCache(async (cacheDir) => {
    const dir = await downloadDataset('mnist', { cacheDir, baseUrl: `${base}/good/`, sha256 });
    assert.equal(dir, join(cacheDir, 'mnist'));
    assert.deepEqual(readdirSync(dir).sort(), FILES.map((f) => `${f}.gz`).sort());
    const before = requests.length;
    await downloadDataset('mnist', { cacheDir, baseUrl: `${base}/good/`, sha256 });
    assert.equal(requests.length, before, 'files already in the cache are not fetched again');
  }));

  test('a hash mismatch names the file and both hashes and leaves no file', withCache(async (cacheDir) => {
    await assert.rejects(downloadDataset('mnist', { cacheDir, baseUrl: `${base}/corrupt/`, sha256 }), (e: Error) => {
      assert.match(e.message, /corrupt\/train-labels-idx1-ubyte\.gz failed: SHA-256 mismatch for train-labels-idx1-ubyte/);
      assert.ok(e.message.includes(`expected ${sha256['train-labels-idx1-ubyte']}, got `));
      return true;
    });
    // The images file before it was verified and kept; nothing of the labels file remains.
    assert.deepEqual(readdirSync(join(cacheDir, 'mnist')), ['train-images-idx3-ubyte.gz']);
  }));

  for (const mode of ['drop', 'drop-chunked']) {
    test(`a connection dropped mid-body (${mode}) fails clearly and leaves no partial file`, withCache(async (cacheDir) => {
      await assert.rejects(downloadDataset('mnist', { cacheDir, baseUrl: `${base}/${mode}/`, sha256 }), (e: Error) => {
        assert.match(e.message, new RegExp(`${mode}/train-images-idx3-ubyte\\.gz failed: connection lost after \\d+ bytes`));
        return true;
      });
      assert.deepEqual(readdirSync(join(cacheDir, 'mnist')), []);
    }));
  }

  test('an HTTP error names the status', withCache(async (cacheDir) => {
    await assert.rejects(downloadDataset('mnist', { cacheDir, baseUrl: `${base}/good/nested/`, sha256 }), /nested\/train-images-idx3-ubyte\.gz failed: HTTP 404/);
    assert.deepEqual(readdirSync(join(cacheDir, 'mnist')), []);
  }));

  test('MNIST without known hashes is refused before any request', withCache(async (cacheDir) => {
    const fetchImpl = (() => assert.fail('must not fetch')) as typeof fetch;
    await assert.rejects(downloadDataset('mnist', { cacheDir, fetchImpl }), /cannot download mnist: no SHA-256 known for train-images-idx3-ubyte, .*pass their directory with --data DIR/);
    assert.equal(existsSync(join(cacheDir, 'mnist')), false);
  }));

  test('Fashion-MNIST has built-in hashes, checked against what is served', withCache(async (cacheDir) => {
    // Our synthetic files are not Fashion-MNIST, so the built-in table must reject them.
    await assert.rejects(downloadDataset('fashion-mnist', { cacheDir, baseUrl: `${base}/good/` }), /SHA-256 mismatch for train-images-idx3-ubyte: expected c59f468a/);
  }));

  test('locateDataset downloads only when allowed, then finds the cache', withCache(async (cacheDir) => {
    const opts = { env: {}, cacheDir, debianRoot: join(cacheDir, 'none'), embeddedRoot: join(cacheDir, 'none') };
    await assert.rejects(locateDataset('mnist', opts), /no copy of mnist found/);
    const downloadOptions = { baseUrl: `${base}/good/`, sha256 };
    assert.deepEqual(await locateDataset('mnist', { ...opts, download: true, downloadOptions }), { kind: 'download', path: join(cacheDir, 'mnist') });
    const loaded = await loadDataset('mnist', { ...opts, download: true, downloadOptions });
    assert.deepEqual(loaded.source, { kind: 'cache', path: join(cacheDir, 'mnist') });
    assert.equal(loaded.train.n, 40);
    assert.equal(loaded.test.n, 10);
  }));
});
