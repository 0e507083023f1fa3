/**
 * The demo page in headless Chromium: it trains SRigL in a worker on threads (cross-origin
 * isolated) or on one thread (not), reaches the accuracy Node reaches, condenses with the same
 * predictions, and runs a condensed file from `srigl train` with the logits Node computes for it.
 * The page may ask only the demo server for anything; screenshots go to test-results/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { run, SUBSET, withTempDir } from '../cli/harness.js';
import type { DemoServer } from '../../src/cli/commands/demo.js';
import { startDemoServer } from '../../src/cli/commands/demo.js';
import { loadSplitFromDir } from '../../src/data/datasets.js';
import { normalizeSplit } from '../../src/data/normalize.js';
import { readCondensed } from '../../src/io/condensed-file.js';
import { createEngine } from '../../src/kernels/engine.js';
import { CondensedModel } from '../../src/sparse/condensed/model.js';
import { medianLatency } from '../../src/demo/timing.js';
import { browserSkip, launchBrowser, openPage, RESULTS, screenshot, type WatchedPage } from './harness.js';

const skip = browserSkip();
/** 4 epochs of 79 steps: "some hundred steps". */
const EPOCHS = 4;

/** The page's own state (src/demo/page.ts), as far as the tests read it. */
interface PageState {
  phase: string;
  probe: { threads: number; isolated: boolean; features: { simd: boolean; relaxedSimd: boolean; threads: boolean } } | null;
  ready: { kernels: string; threads: number } | null;
  steps: number;
  epochs: { epoch: number; step: number; testAcc: number; trainLoss: number }[];
  topology: { step: number; update: number; layers: { name: string; density: number; k: number | null; activeNeurons: number; ablatedNeurons: number }[] }[];
  condensed: { steps: number; accuracy: { dense: number; condensed: number; n: number; differing: number }; latency: { batch: number; denseUs: number; condensedUs: number }[]; predictions: { top3: { cls: number; p: number }[] }[] } | null;
  file: { name: string; accuracy: number; n: number; kernels: string; latency: { batch: number; us: number }[] } | null;
  fileBusy: boolean;
  error: string | null;
}

const state = (w: WatchedPage): Promise<PageState> => w.page.evaluate(() => window.sriglDemo as unknown as PageState);

/** Every request went to the demo server; nothing failed, nothing was logged as an error. */
function assertQuietAndLocal(w: WatchedPage, server: DemoServer): void {
  assert.deepEqual(w.consoleErrors, [], 'console errors');
  assert.deepEqual(w.pageErrors, [], 'uncaught errors');
  assert.deepEqual(w.failedRequests, [], 'failed requests');
  assert.deepEqual(w.requests.filter((u) => !u.startsWith(server.url)), [], 'requests beyond the demo server');
}

describe('demo page in Chromium', { skip }, () => {
  let browser: Browser;
  let isolated: DemoServer;
  before(async () => {
    browser = await launchBrowser();
    isolated = await startDemoServer({ port: 0 });
  });
  after(async () => {
    await browser?.close();
    await isolated?.close();
  });

  test(`trains the SRigL mlp ${EPOCHS} epochs on worker threads above 70% test accuracy, condenses it with the same predictions`, async () => {
    const w = await openPage(browser, isolated.url);
    try {
      await w.page.waitForFunction(() => window.sriglDemo.probe !== null, undefined, { timeout: 30_000 });
      const cores = await w.page.evaluate(() => navigator.hardwareConcurrency);
      assert.equal(await w.page.evaluate(() => crossOriginIsolated), true);
      await w.page.fill('#epochs', String(EPOCHS));
      await w.page.click('#train');
      await w.page.waitForFunction(() => window.sriglDemo.phase !== 'training', undefined, { timeout: 120_000 });
      const s = await state(w);
      assert.equal(s.error, null);
      assert.equal(s.phase, 'done');

      // Threads: the probe found wasm threads, and training ran on every core.
      assert.equal(s.probe!.features.threads, true);
      assert.equal(s.probe!.threads, cores);
      assert.equal(s.ready!.threads, cores);
      assert.match(s.ready!.kernels, new RegExp(`^wasm (scalar|simd128|relaxed) x${cores}$`));
      assert.match((await w.page.textContent('#env'))!, cores > 1 ? new RegExp(`${cores} threads: Web Workers over one SharedArrayBuffer`) : /1 thread/);

      // Training: some hundred steps, the loss falls, test accuracy above 70%.
      assert.equal(s.steps, EPOCHS * 79);
      assert.equal(s.epochs.length, EPOCHS);
      const last = s.epochs.at(-1)!;
      assert.ok(last.testAcc > 0.7, `test accuracy ${last.testAcc}`);
      assert.ok(s.epochs[0].trainLoss > last.trainLoss, 'the training loss falls');
      // Topology: the initial one and an update every ΔT = 100 steps before T_end (0.75 of the run).
      assert.deepEqual(s.topology.map((t) => t.step), [0, 100, 200]);
      for (const t of s.topology) {
        assert.deepEqual(t.layers.map((l) => l.name), ['fc1', 'fc2', 'fc3']);
        for (const l of t.layers.slice(0, 2)) assert.ok(l.density > 0 && l.density < 0.5 && l.k !== null && l.k > 0, `${l.name} at step ${t.step}`);
        assert.equal(t.layers[2].density, 1);
      }

      // Condensed in the page: the dense model's predictions, timed.
      const c = s.condensed!;
      assert.equal(c.accuracy.differing, 0);
      assert.equal(c.accuracy.condensed, c.accuracy.dense);
      assert.ok(Math.abs(c.accuracy.condensed - last.testAcc) < 1e-9, 'the condensed model scores what the last epoch measured');
      assert.deepEqual(c.latency.map((l) => l.batch), [1, 256]);
      for (const l of c.latency) assert.ok(l.denseUs > 0 && l.condensedUs > 0);
      assert.equal(c.predictions.length, 12);
      for (const p of c.predictions) assert.ok(p.top3.length === 3 && p.top3[0].p >= p.top3[1].p && p.top3[1].p >= p.top3[2].p);

      // What the page shows: four charts, the comparison table, twelve images with three classes each.
      assert.equal(await w.page.locator('#charts .uplot').count(), 4);
      assert.equal(await w.page.locator('#condensed-body table tr').count(), 5);
      assert.equal(await w.page.locator('#predictions-body figure').count(), 12);
      assert.equal(await w.page.locator('#predictions-body figure li').count(), 36);
      assertQuietAndLocal(w, isolated);
      await screenshot(w.page, 'demo-trained');
    } finally {
      await w.close();
    }
  });

  test('without cross-origin isolation the page says so and the kernels run on one thread', async () => {
    const plain = await startDemoServer({ port: 0, isolate: false });
    const w = await openPage(browser, plain.url);
    try {
      assert.equal(await w.page.evaluate(() => crossOriginIsolated), false);
      await w.page.waitForFunction(() => window.sriglDemo.probe !== null, undefined, { timeout: 30_000 });
      const s = await state(w);
      assert.equal(s.probe!.features.threads, false);
      assert.equal(s.probe!.threads, 1);
      assert.match((await w.page.textContent('#env'))!, /1 thread \(the page is not cross-origin isolated, so no SharedArrayBuffer\)/);
      // One epoch on one thread still trains (and shows the same comparison).
      await w.page.fill('#epochs', '1');
      await w.page.click('#train');
      await w.page.waitForFunction(() => window.sriglDemo.phase !== 'training', undefined, { timeout: 120_000 });
      const done = await state(w);
      assert.equal(done.error, null);
      assert.equal(done.ready!.threads, 1);
      assert.match(done.ready!.kernels, / x1$/);
      assert.ok(done.condensed!.accuracy.condensed > 0.7, `one epoch: ${done.condensed!.accuracy.condensed}`);
      assertQuietAndLocal(w, plain);
      await screenshot(w.page, 'demo-one-thread');
    } finally {
      await w.close();
      await plain.close();
    }
  });

  test('a condensed file from srigl train runs in the page with the logits Node computes for it', async () => {
    await withTempDir('srigl-browser-', async (dir) => {
      const trained = await run('train', '--epochs', '1', '--data', SUBSET, '--out', dir, '--quiet', '--json');
      assert.equal(trained.code, 0, trained.err);
      const path = join(dir, 'model.condensed.safetensors');

      // Node: the same file, the same test images, batches of 256 as the page, one thread.
      const test = normalizeSplit(loadSplitFromDir('fashion-mnist', 'test', SUBSET));
      const engine = await createEngine({ threads: 1 });
      let nodeLogits: Float32Array, nodeLatency: { batch: number; us: number }[];
      try {
        const model = new CondensedModel(engine, readCondensed(path).net, { maxBatch: 256 });
        nodeLogits = new Float32Array(test.n * model.classes);
        for (let s = 0; s < test.n; s += 256) {
          const n = Math.min(256, test.n - s);
          nodeLogits.set(model.predict(test.x.subarray(s * test.features, (s + n) * test.features), n), s * model.classes);
        }
        nodeLatency = [1, 256].map((batch) => {
          const x = test.x.subarray(0, batch * test.features);
          return { batch, us: medianLatency({ condensed: () => model.predict(x, batch) }).condensed };
        });
      } finally {
        await engine.close();
      }
      const nodeKernels = `wasm ${engine.backend} x1`;

      const w = await openPage(browser, isolated.url);
      try {
        await w.page.setInputFiles('#file-input', path);
        await w.page.waitForFunction(() => window.sriglDemo.file !== null || window.sriglDemo.error !== null, undefined, { timeout: 60_000 });
        const s = await state(w);
        assert.equal(s.error, null);
        const f = s.file!;
        assert.equal(f.name, 'model.condensed.safetensors');
        assert.equal(f.n, test.n);
        const pageLogits = Float32Array.from(await w.page.evaluate(() => Array.from(window.sriglDemo.file!.logits)));
        assert.equal(pageLogits.length, nodeLogits.length);
        let identical = 0, maxDiff = 0;
        for (let i = 0; i < pageLogits.length; i++) {
          if (Object.is(pageLogits[i], nodeLogits[i])) identical++;
          maxDiff = Math.max(maxDiff, Math.abs(pageLogits[i] - nodeLogits[i]));
        }
        assert.ok(maxDiff <= 1e-5, `largest |page − Node| logit difference ${maxDiff}`);
        let correct = 0;
        for (let i = 0; i < test.n; i++) {
          let best = 0;
          for (let c = 1; c < 10; c++) if (nodeLogits[i * 10 + c] > nodeLogits[i * 10 + best]) best = c;
          if (best === test.labels[i]) correct++;
        }
        assert.equal(f.accuracy, correct / test.n);
        assert.equal(await w.page.locator('#file-result figure').count(), 12);
        assertQuietAndLocal(w, isolated);
        await screenshot(w.page, 'demo-condensed-file');

        const comparison = {
          file: 'model.condensed.safetensors (srigl train --epochs 1 on the embedded subset)',
          logits: { count: pageLogits.length, bitIdentical: identical, maxAbsDiff: maxDiff },
          browser: { kernels: f.kernels, latencyUs: Object.fromEntries(f.latency.map((l) => [l.batch, l.us])) },
          node: { kernels: nodeKernels, latencyUs: Object.fromEntries(nodeLatency.map((l) => [l.batch, l.us])) },
        };
        mkdirSync(RESULTS, { recursive: true });
        writeFileSync(join(RESULTS, 'condensed-latency.json'), JSON.stringify(comparison, null, 2) + '\n');
        console.log(`# condensed mlp, same file: ${identical}/${pageLogits.length} logits bit-identical (max diff ${maxDiff}); ` +
          `latency batch 1: browser ${f.latency[0].us.toFixed(1)} µs vs Node ${nodeLatency[0].us.toFixed(1)} µs; ` +
          `batch 256: browser ${f.latency[1].us.toFixed(1)} µs vs Node ${nodeLatency[1].us.toFixed(1)} µs (${f.kernels} / ${nodeKernels})`);
      } finally {
        await w.close();
      }
    });
  });

  test("the library runs on a page's main thread too: its thread pool spins instead of blocking, with the one-thread logits", async () => {
    const w = await openPage(browser, isolated.url);
    try {
      // A string, not a function: tsx would wrap the function's inner closures in a helper the page lacks.
      const r = (await w.page.evaluate(`(async () => {
        const lib = await import(new URL('srigl.js', location.href).href);
        const spec = { arch: 'mlp', inputShape: [1, 28, 28], classes: 10 };
        const logits = async (threads) => {
          const engine = await lib.createEngine({ threads });
          try {
            const model = lib.buildModel(engine, spec, { maxBatch: 256, seed: 5 });
            for (let i = 0; i < model.inputs.length; i++) model.inputs[i] = Math.sin(i * 0.37);
            // Several calls: the first ones start the workers polling, later ones split.
            for (let k = 0; k < 20; k++) model.forward(256, false);
            return { threads: engine.threads, split: engine.rows ? engine.rows.stats.jobs : 0, logits: Array.from(model.logits(256)) };
          } finally {
            await engine.close();
          }
        };
        return { many: await logits(navigator.hardwareConcurrency), one: await logits(1), cores: navigator.hardwareConcurrency };
      })()`)) as { many: { threads: number; split: number; logits: number[] }; one: { threads: number; logits: number[] }; cores: number };
      assert.equal(r.many.threads, r.cores);
      if (r.cores > 1) assert.ok(r.many.split > 0, 'no GEMM was split over the workers');
      assert.equal(r.one.threads, 1);
      assert.equal(r.many.logits.length, 2560);
      assert.deepEqual(r.many.logits, r.one.logits);
      assertQuietAndLocal(w, isolated);
    } finally {
      await w.close();
    }
  });

  test('a file that is not a condensed model is refused with the validator\'s message', async () => {
    await withTempDir('srigl-browser-', async (dir) => {
      const path = join(dir, 'broken.condensed.safetensors');
      writeFileSync(path, new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20]));
      const w = await openPage(browser, isolated.url);
      try {
        await w.page.setInputFiles('#file-input', path);
        await w.page.waitForFunction(() => window.sriglDemo.error !== null, undefined, { timeout: 30_000 });
        assert.match((await state(w)).error!, /not a condensed srigl model/);
        assert.match((await w.page.textContent('#error'))!, /not a condensed srigl model/);
        assert.equal((await state(w)).fileBusy, false);
      } finally {
        await w.close();
      }
    });
  });
});
