/**
 * The demo page's WebGPU section in headless Chromium. With `--enable-unsafe-webgpu
 * --use-webgpu-adapter=swiftshader` the worker finds the SwiftShader adapter: the section names it
 * and says it is a software one, the benchmark button prints the bench/webgpu table at the toy
 * size with the not-GPU-numbers warning, and after training the condensed model runs on WebGPU
 * with the logits of the wasm kernels. Without the flag the section says that no adapter was found
 * and the rest of the page is unchanged. The page is built into a temporary folder
 * (scripts/build-browser.mjs's buildBrowser), so the test needs dist/wasm only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { startDemoServer, type DemoServer } from '../../src/cli/commands/demo.js';
import { runWebGpuBench, SOFTWARE_ADAPTER_NOTE } from '../../src/kernels/webgpu/bench.js';
import { WebGpuError } from '../../src/kernels/webgpu/device.js';
import { WEBGPU_BENCH_SIZES } from '../../src/demo/protocol.js';
import { repoRoot } from '../paths.js';
import { browserSkip, launchBrowser, openPage, screenshot, type WatchedPage } from './harness.js';

/** The Chromium flags of test/browser/webgpu.test.ts: WebGPU without a trusted GPU, pinned to SwiftShader on every machine. */
const WEBGPU_ARGS = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];

/** The page's state (src/demo/page.ts) as far as these tests read it. */
interface PageState {
  phase: string;
  error: string | null;
  webgpu: { type: 'webgpu'; found: true; adapter: { vendor: string; architecture: string; software: boolean; label: string } } | { type: 'webgpu'; found: false; message: string } | null;
  bench: { phase: string; rows: { sparsity: number; k: number; batch: number; gpuCondensedUs: number; gpuDenseUs: number; wasmCondensedUs: number }[]; table: string | null; error: string | null };
  condensed: {
    accuracy: { n: number };
    webgpu: { adapter: { label: string; software: boolean }; logits: number; maxAbsDiff: number; maxAbs: number; differing: number; latency: { batch: number; wasmUs: number; gpuUs: number }[] } | { error: string } | null;
  } | null;
}

const state = (w: WatchedPage): Promise<PageState> => w.page.evaluate(() => window.sriglDemo as unknown as PageState);

/** Nothing logged as an error, nothing thrown, no request failed or left the demo server. */
function assertQuiet(w: WatchedPage, server: DemoServer): void {
  assert.deepEqual(w.consoleErrors, [], 'console errors');
  assert.deepEqual(w.pageErrors, [], 'uncaught errors');
  assert.deepEqual(w.failedRequests, [], 'failed requests');
  assert.deepEqual(w.requests.filter((u) => !u.startsWith(server.url)), [], 'requests beyond the demo server');
}

describe('the WebGPU benchmark in Node (no browser)', () => {
  test('bad options fail naming the option before any GPU is asked for; good ones (each demo size) fail for want of navigator.gpu', async () => {
    for (const [opts, msg] of [
      [{ sparsities: [0.9, 1] }, /sparsities must be numbers in \(0, 1\), got \[0\.9,1\]/],
      [{ batches: [] }, /batches must be positive integers, got \[\]/],
      [{ batches: [1, 2.5] }, /batches must be positive integers/],
      [{ inFeatures: 70000 }, /inFeatures must be an integer in 1\.\.65536, got 70000/],
      [{ outFeatures: 0 }, /outFeatures must be a positive integer, got 0/],
      [{ rounds: 0 }, /rounds must be a positive integer, got 0/],
      [{ sampleMs: -1 }, /sampleMs must be positive, got -1/],
    ] as const) {
      await assert.rejects(runWebGpuBench(opts as never), (e: unknown) => e instanceof RangeError && msg.test(e.message), JSON.stringify(opts));
    }
    for (const size of ['full', 'toy'] as const) {
      await assert.rejects(runWebGpuBench(WEBGPU_BENCH_SIZES[size]), (e: unknown) => e instanceof WebGpuError && e.reason === 'unavailable', size);
    }
  });
});

describe('demo page: the WebGPU section', { skip: browserSkip() }, () => {
  let dir = '';
  let server: DemoServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'srigl-demo-webgpu-'));
    const { buildBrowser } = (await import(pathToFileURL(join(repoRoot(), 'scripts', 'build-browser.mjs')).href)) as { buildBrowser(out: string): Promise<unknown> };
    await buildBrowser(dir);
    server = await startDemoServer({ port: 0, root: dir });
  });
  after(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('on SwiftShader: names the software adapter, the toy benchmark prints its table with the warning, the trained model runs on WebGPU with the wasm logits', async () => {
    const browser: Browser = await launchBrowser({ args: WEBGPU_ARGS });
    const w = await openPage(browser, server.url);
    try {
      await w.page.waitForFunction(() => window.sriglDemo.webgpu !== null, undefined, { timeout: 30_000 });
      const probed = (await state(w)).webgpu!;
      assert.ok(probed.found, `no adapter: ${'message' in probed ? probed.message : ''}`);
      assert.equal(probed.adapter.architecture, 'swiftshader');
      assert.equal(probed.adapter.software, true);
      const status = (await w.page.textContent('#webgpu-status'))!;
      assert.match(status, /^WebGPU adapter: google swiftshader \(software\) \(vendor "google", architecture "swiftshader", /);
      assert.match(status, /software adapter \(WebGPU implemented on the CPU\): its timings are NOT GPU numbers/);
      assert.equal(await w.page.isEnabled('#webgpu-bench'), true);

      // The benchmark at the toy size: one 96→40 layer at 90% (k = 10), batch 1 and 3.
      await w.page.selectOption('#webgpu-size', 'toy');
      await w.page.click('#webgpu-bench');
      await w.page.waitForFunction(() => window.sriglDemo.bench.phase !== 'running', undefined, { timeout: 60_000 });
      const bench = (await state(w)).bench;
      assert.equal(bench.error, null);
      assert.equal(bench.phase, 'done');
      assert.deepEqual(bench.rows.map((r) => [r.sparsity, r.k, r.batch]), [[0.9, 10, 1], [0.9, 10, 3]]);
      for (const r of bench.rows) assert.ok(r.gpuCondensedUs > 0 && r.gpuDenseUs > 0 && r.wasmCondensedUs > 0, JSON.stringify(r));
      const lines = bench.table!.split('\n');
      assert.match(lines[0], /^WebGPU adapter: google swiftshader \(software\)/);
      assert.ok(lines.includes(SOFTWARE_ADAPTER_NOTE), bench.table!);
      assert.match(lines.at(-2)!, /^\s*90%\s+10\s+1\s+[\d.]+ (µs|ms)\s+[\d.]+ (µs|ms)\s+[\d.]+ (µs|ms)\s+[\d.e+-]+×\s+[\d.e+-]+×$/);
      assert.match(lines.at(-1)!, /^\s*90%\s+10\s+3\s/);
      assert.equal(await w.page.textContent('#webgpu-bench-out'), bench.table);
      assert.equal(await w.page.isEnabled('#webgpu-bench'), true);

      // One epoch, then the condensed model on WebGPU beside the wasm one.
      await w.page.fill('#epochs', '1');
      await w.page.click('#train');
      await w.page.waitForFunction(() => window.sriglDemo.phase !== 'training', undefined, { timeout: 240_000 });
      const s = await state(w);
      assert.equal(s.error, null);
      const g = s.condensed!.webgpu!;
      assert.ok(g !== null && !('error' in g), `WebGPU run of the trained model: ${JSON.stringify(g)}`);
      assert.equal(g.adapter.software, true);
      assert.equal(g.logits, s.condensed!.accuracy.n * 10);
      assert.ok(g.maxAbs > 0);
      assert.ok(g.maxAbsDiff <= 1e-4 * Math.max(1, g.maxAbs), `largest |WebGPU − wasm| logit difference ${g.maxAbsDiff} (largest logit ${g.maxAbs})`);
      assert.equal(g.differing, 0);
      assert.deepEqual(g.latency.map((l) => l.batch), [1, 256]);
      for (const l of g.latency) assert.ok(l.wasmUs > 0 && l.gpuUs > 0, JSON.stringify(l));
      assert.equal(await w.page.isVisible('#condensed-webgpu'), true);
      assert.equal(await w.page.locator('#condensed-webgpu table tr').count(), 3);
      assert.match((await w.page.textContent('#condensed-webgpu'))!, /max \|diff\| = \d\.\d\de[-+]\d+/);
      // The wasm comparison is the one the page shows without WebGPU.
      assert.equal(await w.page.locator('#condensed-body table tr').count(), 5);
      assertQuiet(w, server);
      await screenshot(w.page, 'demo-webgpu');
      console.log(`# WebGPU ${g.adapter.label}: trained mlp logits max |diff| ${g.maxAbsDiff.toExponential(2)} vs wasm; ` +
        g.latency.map((l) => `batch ${l.batch}: wasm ${l.wasmUs.toFixed(1)} µs, webgpu ${l.gpuUs.toFixed(1)} µs`).join('; '));
    } finally {
      await w.close();
      await browser.close();
    }
  });

  test('without the WebGPU flag: the section says no adapter was found, the button stays disabled, training shows the wasm comparison alone', async () => {
    const browser = await launchBrowser();
    const w = await openPage(browser, server.url);
    try {
      await w.page.waitForFunction(() => window.sriglDemo.webgpu !== null && window.sriglDemo.probe !== null, undefined, { timeout: 30_000 });
      const s = await state(w);
      assert.equal(s.webgpu!.found, false);
      // Headless Chromium has navigator.gpu but, without --enable-unsafe-webgpu, no adapter to give.
      assert.match((await w.page.textContent('#webgpu-status'))!,
        /^WebGPU is not available here: no WebGPU adapter: navigator\.gpu\.requestAdapter\(\) returned null \(.+\)\. The rest of the page runs on WebAssembly as it does everywhere; the benchmark needs WebGPU\.$/);
      assert.equal(await w.page.isEnabled('#webgpu-bench'), false);
      assert.equal(await w.page.isHidden('#webgpu-bench-out'), true);
      // Training and the wasm comparison as ever, with no WebGPU part.
      await w.page.fill('#epochs', '1');
      await w.page.click('#train');
      await w.page.waitForFunction(() => window.sriglDemo.phase !== 'training', undefined, { timeout: 240_000 });
      const done = await state(w);
      assert.equal(done.error, null);
      assert.equal(done.condensed!.webgpu, null);
      assert.equal(await w.page.locator('#condensed-body table tr').count(), 5);
      assert.equal(await w.page.isHidden('#condensed-webgpu'), true);
      assertQuiet(w, server);
    } finally {
      await w.close();
      await browser.close();
    }
  });
});
