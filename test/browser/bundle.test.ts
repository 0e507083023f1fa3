/**
 * The browser build (scripts/build-browser.mjs → dist/browser): nothing Node-only inside the
 * bundles, the build refuses a Node built-in however it is imported, and the kernel modules
 * beside the bundle are the ones Node runs. Needs no browser.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { repoRoot } from '../paths.js';
import { withTempDir } from '../cli/harness.js';

const OUT = join(repoRoot(), 'dist', 'browser');
const BUNDLES = ['srigl.js', 'worker.js', 'demo.js', 'demo-worker.js'];
const built = BUNDLES.every((f) => existsSync(join(OUT, f)));

/** What scripts/build-browser.mjs exports for bundling the same way. */
interface BuildScript {
  platformPlugin: esbuild.Plugin;
  bundleOptions: esbuild.BuildOptions;
}
const script = (): Promise<BuildScript> => import(pathToFileURL(join(repoRoot(), 'scripts', 'build-browser.mjs')).href) as Promise<BuildScript>;

describe('browser bundles', { skip: !built && `${OUT} is not built (npm run build)` }, () => {
  test('hold nothing Node-only: no node: import, require, process, Buffer or setImmediate', () => {
    for (const f of BUNDLES) {
      const code = readFileSync(join(OUT, f), 'utf8');
      for (const pattern of [/["'`]node:[a-z_/]+["'`]/, /\brequire\(/, /\bprocess\.(env|pid|versions|argv|exit|cwd|emitWarning|stdout|stderr)\b/, /\bBuffer\.(from|alloc|concat)\b/, /\bsetImmediate\b/, /\bworker_threads\b/]) {
        assert.doesNotMatch(code, pattern, `${f} contains ${pattern}`);
      }
    }
  });

  test('ship the kernel modules Node runs, and report their size', (t) => {
    const wasm = readdirSync(join(repoRoot(), 'dist', 'wasm')).filter((f) => f.endsWith('.wasm')).sort();
    assert.deepEqual(readdirSync(join(OUT, 'wasm')).sort(), wasm);
    for (const f of wasm) assert.ok(readFileSync(join(OUT, 'wasm', f)).equals(readFileSync(join(repoRoot(), 'dist', 'wasm', f))), f);
    const code = readFileSync(join(OUT, 'srigl.js'));
    t.diagnostic(`dist/browser/srigl.js: ${code.length} bytes, ${gzipSync(code).length} gzipped`);
    // The library, minified: far below what would mean a dependency or Node polyfills crept in.
    assert.ok(code.length < 400_000, `srigl.js is ${code.length} bytes`);
    // The demo page loads the library as the separate bundle, not a second copy.
    assert.match(readFileSync(join(OUT, 'demo-worker.js'), 'utf8'), /from\s*"\.\/srigl\.js"/);
  });
});

/** index.ts exports the browser entry leaves out, and why. */
const NOT_IN_BROWSER: Readonly<Record<string, string>> = Object.fromEntries([
  ...['saveModel', 'writeSafetensors', 'saveCondensed', 'loadDataset', 'loadSplit', 'locateDataset'].map((n) => [n, 'reads or writes files by path']),
  ...['readStateDict', 'mapStateDict', 'importStateDict', 'buildImportedModel', 'TorchImportError'].map((n) => [n, 'PyTorch import: not in the browser bundle yet']),
  ...['modelToOnnx', 'summarizeOnnx', 'ortSession', 'ONNX_IR_VERSION', 'ONNX_OPSET', 'SRIGL_VERSION'].map((n) => [n, 'ONNX export: protobufjs would double the bundle']),
]);

describe('the browser entry (src/browser.ts)', () => {
  test("exports index.ts's API less what takes file paths, plus the byte- and HTTP-based calls", async () => {
    const node = await import('../../src/index.js');
    const browser = await import('../../src/browser.js');
    const missing = Object.keys(node).filter((n) => !(n in browser) && !(n in NOT_IN_BROWSER));
    assert.deepEqual(missing, [], 'add them to src/browser.ts, or to NOT_IN_BROWSER with the reason');
    for (const n of Object.keys(NOT_IN_BROWSER)) assert.ok(!(n in browser), `${n} is exported after all: drop it from NOT_IN_BROWSER`);
    for (const n of ['fetchDataset', 'encodeSafetensors', 'readCondensed', 'loadCondensed', 'loadModel', 'probeFeatures', 'hardwareThreads']) assert.ok(n in browser, n);
  });
});

describe('the browser build', () => {
  test('fails when a Node built-in would reach a bundle, static or dynamic, naming the importer', async () => {
    const { platformPlugin, bundleOptions } = await script();
    await withTempDir('srigl-bundle-', async (dir) => {
      for (const [name, source] of [
        ['static.ts', "import { readFileSync } from 'node:fs';\nexport const f = () => readFileSync('x');\n"],
        ['bare.ts', "import * as os from 'os';\nexport const n = os.cpus().length;\n"],
        ['dynamic.ts', "export const v8 = () => import('node:v8');\n"],
      ]) {
        const entry = join(dir, name);
        writeFileSync(entry, source);
        await assert.rejects(
          esbuild.build({ ...bundleOptions, entryPoints: [entry], write: false, plugins: [platformPlugin] }),
          (e: { errors?: { text: string }[] }) => {
            assert.match(e.errors?.[0]?.text ?? '', new RegExp(`Node built-in "(node:fs|os|node:v8)" imported by .*${name} would reach the browser bundle; route it through src/platform/`));
            return true;
          },
          name,
        );
      }
    });
  });

  test('resolves the platform seam to the browser side: the library bundles with no Node built-in', async () => {
    const { platformPlugin, bundleOptions } = await script();
    const result = await esbuild.build({
      ...bundleOptions, entryPoints: [join(repoRoot(), 'src', 'browser.ts')], write: false, metafile: true, plugins: [platformPlugin],
    });
    const inputs = Object.keys(result.metafile!.inputs);
    assert.ok(inputs.some((f) => f.endsWith('src/platform/browser.ts')), 'browser.ts is bundled');
    assert.ok(!inputs.some((f) => f.endsWith('src/platform/node.ts')), 'node.ts is not');
    assert.deepEqual(inputs.filter((f) => /src\/cli\/|src\/data\/(locate|download)\.ts$/.test(f)), [], 'no CLI or file-locating code');
  });
});
