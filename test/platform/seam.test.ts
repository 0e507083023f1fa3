import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import * as browser from '../../src/platform/browser.js';
import * as host from '../../src/platform/host.js';
import * as node from '../../src/platform/node.js';
import { Rng } from '../../src/tensor/rng.js';

// The browser bundle swaps node.ts for browser.ts: the swap type-checks only if browser.ts offers
// every export of node.ts with a compatible type. This assignment is that check (tsc fails on it).
const asNode: typeof node = browser;

describe('platform seam', () => {
  test('node.ts and browser.ts export the same names, and host.ts is node.ts', () => {
    assert.deepEqual(Object.keys(browser).sort(), Object.keys(node).sort());
    assert.deepEqual(Object.keys(host).sort(), Object.keys(node).sort());
    assert.equal(host.openSync, node.openSync);
    assert.equal(asNode.platformName, 'browser');
    assert.equal(node.platformName, 'node');
  });

  test('the browser side refuses file paths with a message naming the call and the byte-based way', () => {
    for (const call of [() => browser.openSync('/x', 'r'), () => browser.readFileSync('/x'), () => browser.existsSync('/x'), () => browser.join('a', 'b')]) {
      assert.throws(call, /srigl: \w+ is not available in the browser \(no file system: pass the file's bytes/);
    }
    assert.throws(() => browser.gunzipSync(new Uint8Array(2)), /gunzipSync is not available in the browser \(decompression is asynchronous here/);
  });

  test('base64: both sides encode like Buffer and decode back, empty and odd lengths included', () => {
    const rng = new Rng(7);
    for (const n of [0, 1, 2, 3, 4, 5, 1000, 70_000]) {
      const bytes = Uint8Array.from({ length: n }, () => rng.int(256));
      const expected = Buffer.from(bytes).toString('base64');
      assert.equal(node.toBase64(bytes), expected, `node, ${n} bytes`);
      assert.equal(browser.toBase64(bytes), expected, `browser, ${n} bytes`);
      assert.deepEqual(node.fromBase64(expected), bytes);
      assert.deepEqual(browser.fromBase64(expected), bytes);
    }
    // A view into a larger buffer encodes only its own bytes.
    const big = Uint8Array.from([9, 1, 2, 3, 9]);
    assert.equal(node.toBase64(big.subarray(1, 4)), 'AQID');
    assert.equal(browser.toBase64(big.subarray(1, 4)), 'AQID');
  });

  test('gunzip: zlib (node) and DecompressionStream (browser, also in Node 20) give the original bytes', async () => {
    const rng = new Rng(3);
    const original = Uint8Array.from({ length: 100_000 }, (_, i) => (i % 7 === 0 ? rng.int(256) : i & 0xff));
    const gz = new Uint8Array(gzipSync(original));
    assert.deepEqual(await node.gunzip(gz), original);
    assert.deepEqual(await browser.gunzip(gz), original);
    await assert.rejects(node.gunzip(gz.subarray(0, 100)));
    await assert.rejects(browser.gunzip(gz.subarray(0, 100)));
  });

  test('node loads the kernel modules from dist/wasm, and names the file it could not find', async () => {
    const bytes = await node.loadWasm('srigl-scalar.wasm');
    assert.ok(WebAssembly.validate(bytes));
    assert.deepEqual(node.loadWasmSync('srigl-scalar.wasm'), bytes);
    await assert.rejects(node.loadWasm('srigl-nonesuch.wasm'), /srigl: missing kernel module .*dist[/\\]wasm[/\\]srigl-nonesuch\.wasm; run `npm run build:wasm`/);
    assert.throws(() => node.loadWasmSync('srigl-nonesuch.wasm'), /missing kernel module .*srigl-nonesuch\.wasm/);
  });

  test('the browser side serves loadWasmSync only what loadWasm fetched, and says so otherwise', () => {
    assert.throws(() => browser.loadWasmSync('srigl-scalar.wasm'), /kernel module srigl-scalar\.wasm was not loaded yet; create the engine \(createEngine\)/);
  });

  test('Node may block in Atomics.wait; a browser page (no WorkerGlobalScope) may not', () => {
    assert.equal(node.canBlock(), true);
    assert.equal(browser.canBlock(), 'WorkerGlobalScope' in globalThis);
    assert.equal(browser.canBlock(), false);
  });
});
