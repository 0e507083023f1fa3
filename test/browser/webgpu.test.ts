// The WebGPU backend (src/kernels/webgpu/): every WGSL kernel against its TypeScript reference,
// whole condensed models against the wasm CondensedModel, and the backend choice with its
// failure handling, in headless Chromium on the SwiftShader adapter (a CPU implementation of
// WebGPU, so this checks correctness, never speed). The page (test/browser/webgpu/page.ts) is
// bundled with esbuild and served by the demo server (test/browser/harness.ts); the references
// and the wasm logits are computed here in Node (test/browser/webgpu/cases.ts). Node's side of
// the backend (no navigator.gpu: clear errors, 'auto' runs wasm) is tested without a browser.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import type { Browser } from 'playwright-core';
import type { DemoServer } from '../../src/cli/commands/demo.js';
import { createEngine, type Engine } from '../../src/kernels/engine.js';
import { createCondensedRunner } from '../../src/kernels/webgpu/backend.js';
import { requestGpu, WebGpuError } from '../../src/kernels/webgpu/device.js';
import { nmGroupBasesOf } from '../../src/kernels/webgpu/kernels.js';
import { PARAMS, WEBGPU_VARIANTS } from '../../src/kernels/webgpu/wgsl.js';
import { nmGroupBases } from '../../src/sparse/condensed/layer.js';
import { CondensedModel } from '../../src/sparse/condensed/model.js';
import { run, withTempDir } from '../cli/harness.js';
import { repoRoot } from '../paths.js';
import { browserSkip, launchBrowser, openPage, screenshot, type WatchedPage } from './harness.js';
import { convCases, elementwiseCases, linearCases, modelCases, type Expected } from './webgpu/cases.js';
import { base64ToF32, encodeTree, type CaseResult } from './webgpu/wire.js';

const SEED = 20261205;
/**
 * Chromium flags: --enable-unsafe-webgpu exposes WebGPU where Chromium does not trust the GPU
 * (headless, no GPU: without it requestAdapter() returns null); --use-webgpu-adapter=swiftshader
 * pins the software adapter even where a GPU exists, so every machine tests the same thing.
 * --enable-features=Vulkan was not needed on Chromium 156.
 */
const WEBGPU_ARGS = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];

const NODE_MESSAGE = 'WebGPU needs a runtime with navigator.gpu (a browser); Node has none';

describe('WebGPU backend in Node (no navigator.gpu)', () => {
  let engine: Engine;
  before(async () => {
    engine = await createEngine({ threads: 1 });
  });
  after(async () => {
    await engine.close();
  });

  test('requestGpu, forced webgpu and createEngine({ backend: webgpu }) fail naming the missing navigator.gpu; auto runs wasm and says why', async () => {
    await assert.rejects(requestGpu(), (e: unknown) => e instanceof WebGpuError && e.reason === 'unavailable' && e.message === NODE_MESSAGE);
    const { cases, wasmLogits } = modelCases(engine, SEED);
    const net = cases[0].net as ConstructorParameters<typeof CondensedModel>[1];
    await assert.rejects(createCondensedRunner(net, { backend: 'webgpu' }), (e: unknown) => e instanceof WebGpuError && e.message === NODE_MESSAGE);
    await assert.rejects(createCondensedRunner(net), /needs opts\.wasm/);
    const reasons: string[] = [];
    const runner = await createCondensedRunner(net, { wasm: () => new CondensedModel(engine, net, { maxBatch: 16, nmKernel: 'nm' }), onFallback: (r) => reasons.push(r) });
    assert.equal(runner.backend, 'wasm');
    assert.equal(runner.fallbackReason, NODE_MESSAGE);
    assert.deepEqual(reasons, [NODE_MESSAGE]);
    assert.deepEqual(await runner.run(cases[0].x, 3), wasmLogits.get(`${cases[0].name} batch 3`));
    await runner.close();
    await assert.rejects(createEngine({ backend: 'webgpu' as never }), { message: `backend 'webgpu': ${NODE_MESSAGE}` });
  });

  test('srigl train --backend webgpu exits 1 with that message', async () => {
    await withTempDir('srigl-webgpu-cli-', async (dir) => {
      const r = await run('train', '--backend', 'webgpu', '--epochs', '1', '--limit-train', '10', '--limit-test', '10', '--quiet', '--out', dir);
      assert.equal(r.code, 1, `stdout: ${r.out}\nstderr: ${r.err}`);
      assert.equal(r.err, `srigl: backend 'webgpu': ${NODE_MESSAGE}\n`);
    });
  });

  test('N:M group bases computed on the kernels floor equal src/sparse/condensed/layer.ts nmGroupBases', () => {
    for (const [fanIn, n, m, taps] of [[100, 2, 4, 1], [67, 1, 8, 1], [54, 2, 4, 9], [203, 5, 16, 1], [30, 3, 64, 1]]) {
      assert.deepEqual(Array.from(nmGroupBasesOf(fanIn, { n, m, taps })), Array.from(nmGroupBases(fanIn, { n, m, taps })), `${n}:${m} over ${fanIn}, ${taps} taps`);
    }
  });

  test('variant table: unique what-then-how names, every WGSL struct declares its parameter list in order', () => {
    const names = WEBGPU_VARIANTS.map((v) => v.name);
    assert.equal(new Set(names).size, names.length);
    for (const v of WEBGPU_VARIANTS) {
      assert.match(v.name, /^[a-z_]+(_f32)(_u16|_u32)?(_\d+x\d+)?__webgpu$/, v.name);
      const struct = /struct Params \{([^}]*)\}/.exec(v.source)?.[1] ?? '';
      const fields = [...struct.matchAll(/(\w+): u32/g)].map((f) => f[1]).filter((f) => !f.startsWith('_pad'));
      assert.deepEqual(fields, [...PARAMS[v.params]], v.name);
    }
  });
});

/** A GPU output against its reference: |got − want| ≤ 1e-4 · bound (exactly equal without a bound). */
function mismatches(name: string, got: Float32Array, e: Expected): string[] {
  if (got.length !== e.want.length) return [`${name}: ${got.length} outputs, expected ${e.want.length}`];
  const bad: string[] = [];
  for (let i = 0; i < got.length; i++) {
    const limit = e.bound ? 1e-4 * e.bound[i] : 0;
    if (!(Math.abs(got[i] - e.want[i]) <= limit)) bad.push(`${name}: output ${i} = ${got[i]}, reference ${e.want[i]} (allowed ±${limit.toExponential(2)})`);
  }
  return bad;
}

describe('WebGPU kernels in Chromium (SwiftShader adapter)', { skip: browserSkip() }, () => {
  const root = repoRoot();
  let dir = '';
  let server: DemoServer;
  let browser: Browser;
  let watched: WatchedPage;
  let adapterSkip: string | false = false;
  const groups = new Map<string, Expected[]>();
  let models: ReturnType<typeof modelCases>;
  let engine: Engine;

  /** Writes cases for the page under /data/<name>.{json,bin}. */
  const publish = (name: string, value: unknown) => {
    const { json, bin } = encodeTree(value);
    writeFileSync(join(dir, 'data', `${name}.json`), json);
    writeFileSync(join(dir, 'data', `${name}.bin`), bin);
  };
  const call = <T>(fn: string, ...args: unknown[]): Promise<T> =>
    watched.page.evaluate(([f, a]) => (globalThis as unknown as Record<string, Record<string, (...x: unknown[]) => Promise<unknown>>>).sriglWebgpu[f as string](...(a as unknown[])), [fn, args] as const) as Promise<T>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'srigl-webgpu-'));
    mkdirSync(join(dir, 'data'));
    mkdirSync(join(dir, 'wasm'));
    const src = join(root, 'src');
    await esbuild.build({
      entryPoints: [join(root, 'test', 'browser', 'webgpu', 'page.ts')],
      bundle: true, platform: 'browser', format: 'esm', target: 'es2022', outfile: join(dir, 'page.js'), logLevel: 'error',
      plugins: [{
        // The platform seam's browser side, as scripts/build-browser.mjs resolves it.
        name: 'srigl-browser-platform',
        setup(build) {
          build.onResolve({ filter: /platform\/host(\.js)?$/ }, () => ({ path: join(src, 'platform', 'browser.ts') }));
        },
      }],
    });
    writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>srigl webgpu tests</title><link rel="icon" href="data:,"><script type="module" src="page.js"></script>\n');
    const wasmDir = join(root, 'dist', 'wasm');
    for (const f of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) copyFileSync(join(wasmDir, f), join(dir, 'wasm', f));

    for (const [name, cases] of [['linear', linearCases(SEED)], ['conv', convCases(SEED + 1)], ['elementwise', elementwiseCases(SEED + 2)]] as const) {
      groups.set(name, cases);
      publish(name, cases.map((c) => c.case));
    }
    engine = await createEngine({ threads: 1 });
    models = modelCases(engine, SEED + 3);
    publish('models', models.cases);
    // The mlp alone, for the backend scenarios (each builds it several times).
    publish('mlp', models.cases.slice(0, 1));

    const { startDemoServer } = await import('../../src/cli/commands/demo.js');
    server = await startDemoServer({ port: 0, root: dir, dataDir: join(dir, 'data') });
    browser = await launchBrowser({ args: WEBGPU_ARGS });
    watched = await openPage(browser, server.url);
    await watched.page.waitForFunction(() => 'sriglWebgpu' in globalThis, undefined, { timeout: 30_000 });
    const probe = await call<{ adapter: string | null; software: boolean; error?: string }>('probe');
    if (probe.adapter === null) adapterSkip = `no WebGPU adapter in Chromium with ${WEBGPU_ARGS.join(' ')}: ${probe.error}; WebGPU tests skipped`;
    else console.log(`# WebGPU adapter: ${probe.adapter}`);
  });

  after(async () => {
    if (watched) {
      await screenshot(watched.page, 'webgpu-tests').catch(() => undefined);
      await watched.close();
    }
    await browser?.close();
    await server?.close();
    await engine?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('every kernel of the variant table compiles, and the page logged no error', async (t) => {
    if (adapterSkip) return t.skip(adapterSkip);
    const failed = await call<Record<string, string>>('compileAll');
    assert.deepEqual(failed, {});
    assert.deepEqual(watched.pageErrors, []);
    assert.deepEqual(watched.consoleErrors, []);
  });

  test('a WGSL kernel that does not compile fails with a WebGpuError quoting the compiler and the line', async (t) => {
    if (adapterSkip) return t.skip(adapterSkip);
    const msg = await call<string>('compileBroken');
    assert.match(msg, /^WebGpuError: WGSL kernel broken_kernel failed to compile: line \d+:\d+: .+ \(in "fn broken\(\) -> u32 \{ return 1\.5; \}"\)/);
  });

  for (const group of ['linear', 'conv', 'elementwise'] as const) {
    const what = {
      linear: 'condensed (u16, u32 columns; N:M offsets) and dense layers, every spmv/spmm/gemv/gemm variant pinned and auto-chosen, batch 1, 3, 8, 16, 69, ReLU fused on every other case',
      conv: 'condensed Conv2d (u16 and u32 columns; N:M over channels at 9 taps): stride, padding, kh ≠ kw, 1×1, ablated rows, batch 1, 3, 5',
      elementwise: 'bias + ReLU in both layouts, ReLU alone, add, max pooling (2×2/2, 3×3/2 on odd planes), global average pooling, transpose',
    }[group];
    test(`${group}: ${what} equal the TypeScript references within 1e-4 relative (seed ${SEED})`, async (t) => {
      if (adapterSkip) return t.skip(adapterSkip);
      const results = await call<Record<string, CaseResult>>('kernelCases', group);
      const bad: string[] = [];
      for (const e of groups.get(group)!) {
        const r = results[e.case.name];
        if (!r) bad.push(`${e.case.name}: no result`);
        else if ('error' in r) bad.push(`${e.case.name}: ${r.error}`);
        else bad.push(...mismatches(e.case.name, base64ToF32(r.out), e));
      }
      assert.deepEqual(bad.slice(0, 20), [], `${bad.length} mismatches (seed ${SEED})`);
    });
  }

  test('the kernel cases exercise every variant of the table', () => {
    const used = new Set<string>();
    for (const e of groups.get('linear') ?? []) if (e.case.kind === 'linear' && e.case.variant) used.add(e.case.variant);
    const fixed: Record<string, string> = { conv: 'conv', bias_relu: 'bias_relu', add: 'add', maxpool: 'maxpool', avgpool: 'avgpool', transpose: 'transpose' };
    for (const e of [...(groups.get('conv') ?? []), ...(groups.get('elementwise') ?? [])]) {
      const c = e.case;
      for (const v of WEBGPU_VARIANTS) {
        if (v.op !== fixed[c.kind]) continue;
        if (c.kind === 'conv') {
          const layer = c.layer as { offsets?: Uint8Array; indices?: Uint16Array | Uint32Array };
          const format = layer.offsets ? 'nm' : layer.indices instanceof Uint32Array ? 'u32' : 'u16';
          if (v.format === format) used.add(v.name);
        } else {
          used.add(v.name);
        }
      }
    }
    const untested = WEBGPU_VARIANTS.map((v) => v.name).filter((n) => !used.has(n));
    assert.deepEqual(untested, []);
  });

  test('condensed models (mlp, cnn, resnet, N:M mlp and cnn) on CondensedGpuModel give the wasm CondensedModel logits (batch 1, 3, 37 with maxBatch 32)', async (t) => {
    if (adapterSkip) return t.skip(adapterSkip);
    const results = await call<Record<string, CaseResult>>('modelCases', 'models');
    const bad: string[] = [];
    // The N:M models really hold N:M layers (so the GPU ran the N:M kernels), the others do not.
    for (const [name, formats] of models.formats) assert.equal(formats.some((f) => f.endsWith(':nm')), name.includes('N:M'), `${name}: ${formats}`);
    for (const c of models.cases) {
      for (const n of c.batches) {
        const key = `${c.name} batch ${n}`;
        const r = results[key] ?? results[c.name];
        if (!r) {
          bad.push(`${key}: no result`);
          continue;
        }
        if ('error' in r) {
          bad.push(`${key}: ${r.error}`);
          continue;
        }
        const got = base64ToF32(r.out), want = models.wasmLogits.get(key)!;
        assert.equal(got.length, n * 10, key);
        for (let b = 0; b < n; b++) {
          let scale = 1;
          for (let k = 0; k < 10; k++) scale = Math.max(scale, Math.abs(want[b * 10 + k]));
          for (let k = 0; k < 10; k++) {
            const d = Math.abs(got[b * 10 + k] - want[b * 10 + k]);
            if (!(d <= 1e-4 * scale)) bad.push(`${key}: example ${b} class ${k}: GPU ${got[b * 10 + k]}, wasm ${want[b * 10 + k]} (scale ${scale})`);
          }
        }
      }
    }
    assert.deepEqual(bad.slice(0, 20), [], `${bad.length} mismatches (seed ${SEED + 3})`);
  });

  test('the bench/webgpu benchmark runs in the page and prints the adapter, the not-GPU-numbers warning and its rows', async (t) => {
    if (adapterSkip) return t.skip(adapterSkip);
    const r = await call<{ table?: string; rows?: number; error?: string }>('bench');
    assert.equal(r.error, undefined);
    assert.equal(r.rows, 2);
    const lines = r.table!.split('\n');
    assert.match(lines[0], /^WebGPU adapter: google swiftshader \(software\)/);
    assert.ok(lines.includes('NOTE: this is a software adapter (WebGPU implemented on the CPU): these are NOT GPU numbers, only a check that the kernels run.'), r.table);
    assert.match(lines.at(-2)!, /^\s*90%\s+10\s+1\s+[\d.]+ (µs|ms)\s+[\d.]+ (µs|ms)\s+[\d.]+ (µs|ms)\s+[\d.e+-]+×\s+[\d.e+-]+×$/);
    assert.match(lines.at(-1)!, /^\s*90%\s+10\s+3\s/);
  });

  test('backend choice and failures: auto, forced webgpu and wasm; no navigator.gpu, no adapter, a kernel that does not compile, a lost device, an op WebGPU does not run', async (t) => {
    if (adapterSkip) return t.skip(adapterSkip);
    type Outcome = {
      backend?: string; fallbackReason?: string | null; fallbacks?: string[]; error?: string; errorReason?: string; logits?: string;
      after?: { backend: string; fallbackReason: string | null; logits?: string; error?: string; errorReason?: string };
    };
    const batch = 3;
    const r = await call<Record<string, Outcome>>('scenarios', 'mlp', batch);
    const want = models.wasmLogits.get(`${models.cases[0].name} batch ${batch}`)!;
    const close = (what: string, b64: string | undefined) => {
      assert.ok(b64, `${what}: no logits`);
      const got = base64ToF32(b64);
      assert.equal(got.length, want.length, what);
      const scale = Math.max(1, ...Array.from(want, Math.abs));
      for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-4 * scale, `${what}: logit ${i}: ${got[i]} vs wasm ${want[i]}`);
    };
    // On the software adapter: used when asked to, skipped for wasm by default.
    assert.equal(r.autoSoftwareUse.backend, 'webgpu');
    assert.deepEqual(r.autoSoftwareUse.fallbacks, []);
    close('auto (software adapter accepted)', r.autoSoftwareUse.logits);
    assert.equal(r.autoSoftwareSkip.backend, 'wasm');
    assert.match(r.autoSoftwareSkip.fallbackReason!, /^the only WebGPU adapter is a software one \(google swiftshader.*\(software\)\); the WebAssembly kernels are faster on this CPU$/);
    assert.deepEqual(r.autoSoftwareSkip.fallbacks, [r.autoSoftwareSkip.fallbackReason]);
    close('auto (software adapter skipped, wasm in the browser)', r.autoSoftwareSkip.logits);
    assert.equal(r.forcedWebgpu.backend, 'webgpu');
    close('forced webgpu', r.forcedWebgpu.logits);
    assert.equal(r.wasm.backend, 'wasm');
    assert.equal(r.wasm.fallbackReason, null);
    close('wasm', r.wasm.logits);
    // No navigator.gpu / no adapter: forced fails saying so, auto runs wasm with the same words.
    assert.match(r.forcedNoGpu.error!, /^WebGpuError: navigator\.gpu is missing: /);
    assert.equal(r.forcedNoGpu.errorReason, 'unavailable');
    assert.equal(r.autoNoGpu.backend, 'wasm');
    assert.equal(`WebGpuError: ${r.autoNoGpu.fallbackReason}`, r.forcedNoGpu.error);
    close('auto without navigator.gpu', r.autoNoGpu.logits);
    assert.match(r.forcedNoAdapter.error!, /^WebGpuError: no WebGPU adapter: navigator\.gpu\.requestAdapter\(\) returned null/);
    assert.equal(r.forcedNoAdapter.errorReason, 'no-adapter');
    assert.equal(r.autoNoAdapter.backend, 'wasm');
    assert.match(r.autoNoAdapter.fallbackReason!, /^no WebGPU adapter/);
    close('auto without an adapter', r.autoNoAdapter.logits);
    // A kernel that does not compile.
    assert.match(r.forcedCompileError.error!, /^WebGpuError: WGSL kernel sp[mv]{2}_cfi_f32_u16_\w+__webgpu failed to compile: line \d+:\d+: /);
    assert.equal(r.forcedCompileError.errorReason, 'compile');
    assert.equal(r.autoCompileError.backend, 'wasm');
    assert.match(r.autoCompileError.fallbackReason!, /^WGSL kernel .* failed to compile/);
    close('auto after a compile error', r.autoCompileError.logits);
    // A device lost between two batches: forced fails with the loss, auto reruns that batch on wasm.
    assert.equal(r.forcedLost.backend, 'webgpu');
    close('forced webgpu before the loss', r.forcedLost.logits);
    assert.match(r.forcedLost.after!.error!, /^WebGpuError: WebGPU device lost \(destroyed\)/);
    assert.equal(r.forcedLost.after!.errorReason, 'lost');
    assert.equal(r.autoLost.backend, 'webgpu');
    close('auto before the loss', r.autoLost.logits);
    assert.equal(r.autoLost.after!.backend, 'wasm');
    assert.match(r.autoLost.after!.fallbackReason!, /^WebGPU device lost \(destroyed\)/);
    assert.deepEqual(r.autoLost.fallbacks, [r.autoLost.after!.fallbackReason]);
    close('auto after the loss (wasm)', r.autoLost.after!.logits);
    // An op kind the WebGPU backend does not run (a ViT layer norm).
    assert.match(r.forcedUnknownOp.error!, /^WebGpuError: CondensedGpuModel: op 1 \(layernorm\) is not supported by the WebGPU backend/);
    assert.equal(r.autoUnknownOp.backend, 'wasm');
    assert.deepEqual(Array.from(base64ToF32(r.autoUnknownOp.logits!)), new Array(batch * 10).fill(7));
  });
});
