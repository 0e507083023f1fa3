// The browser build (esbuild): dist/browser/srigl.js (the library, src/browser.ts), worker.js
// (the kernel worker the library starts, src/kernels/worker.ts), the demo page (index.html,
// demo.js, demo-worker.js, demo.css from src/demo/) and wasm/ (the kernel modules of dist/wasm,
// which must be built first). The platform seam resolves to src/platform/browser.ts, and any
// Node built-in that would still reach a bundle fails the build, naming the file importing it.
// scripts/build.mjs runs it (well under a second); run directly, it prints each bundle's size
// (raw and gzip). Tests import `platformPlugin` to bundle their own pages the same way.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const host = join(src, 'platform', 'host.js');
const library = join(src, 'browser.js');
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Where an import resolves, as a .js path (TypeScript sources import each other as .js). */
const target = (args) => resolve(args.resolveDir, args.path).replace(/\.ts$/, '.js');

/**
 * The browser side of the platform seam (src/platform/host.ts → browser.ts), and a hard stop for
 * Node built-ins, static or dynamic imports alike (esbuild alone lets `import('node:v8')` through).
 */
export const platformPlugin = {
  name: 'srigl-browser-platform',
  setup(build) {
    build.onResolve({ filter: /host(\.js)?$/ }, (args) => (target(args) === host ? { path: join(src, 'platform', 'browser.ts') } : undefined));
    build.onResolve({ filter: /^[a-z0-9_:/]+$/ }, (args) => {
      if (!args.path.startsWith('node:') && !builtins.has(args.path)) return undefined;
      return { errors: [{ text: `Node built-in "${args.path}" imported by ${relative(root, args.importer)} would reach the browser bundle; route it through src/platform/ (host.ts)` }] };
    });
  },
};

/** The demo imports the library (src/browser.ts) as the separate bundle beside it, ./srigl.js. */
const demoImportsBundle = {
  name: 'srigl-demo-imports-bundle',
  setup(build) {
    build.onResolve({ filter: /browser(\.js)?$/ }, (args) => (target(args) === library ? { path: './srigl.js', external: true } : undefined));
  },
};

/** esbuild options every browser bundle of this package shares. */
export const bundleOptions = {
  bundle: true,
  platform: 'browser',
  format: 'esm',
  // Top-level await (the kernel worker) and import.meta.url: every browser with wasm SIMD has them.
  target: 'es2022',
  minify: true,
  // Error messages name classes (e.g. SafetensorsError): keep them through minification.
  keepNames: true,
  legalComments: 'none',
  logLevel: 'silent',
};

/**
 * Builds dist/browser (see above) and returns its bundles' sizes: [{ file, bytes, gzipBytes }].
 * Rejects with esbuild's errors (file, line, text) when a bundle cannot be built.
 */
export async function buildBrowser(out = join(root, 'dist', 'browser')) {
  const wasm = join(root, 'dist', 'wasm');
  const modules = readdirSync(wasm).filter((f) => f.endsWith('.wasm'));
  if (modules.length === 0) throw new Error(`no kernel modules in ${wasm}; run scripts/build-wasm.mjs first`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'wasm'), { recursive: true });
  const common = { ...bundleOptions, sourcemap: 'linked', outdir: out, metafile: true };
  const builds = await Promise.all([
    esbuild.build({ ...common, entryPoints: { srigl: join(src, 'browser.ts'), worker: join(src, 'kernels', 'worker.ts') }, plugins: [platformPlugin] }),
    esbuild.build({
      ...common,
      entryPoints: [
        { in: join(src, 'demo', 'page.ts'), out: 'demo' },
        { in: join(src, 'demo', 'train-worker.ts'), out: 'demo-worker' },
        { in: join(src, 'demo', 'demo.css'), out: 'demo' },
      ],
      plugins: [demoImportsBundle, platformPlugin],
    }),
  ]);
  copyFileSync(join(src, 'demo', 'index.html'), join(out, 'index.html'));
  for (const f of modules) copyFileSync(join(wasm, f), join(out, 'wasm', f));
  return builds
    .flatMap((b) => Object.keys(b.metafile.outputs))
    .filter((f) => /\.(js|css)$/.test(f))
    .map((f) => {
      const bytes = readFileSync(resolve(f));
      return { file: relative(root, resolve(f)), bytes: bytes.length, gzipBytes: gzipSync(bytes).length };
    });
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const sizes = await buildBrowser();
    console.log(`built dist/browser: ${sizes.map((s) => `${s.file.replace('dist/browser/', '')} ${kib(s.bytes)} (gzip ${kib(s.gzipBytes)})`).join(', ')}`);
  } catch (e) {
    for (const m of e.errors ?? []) console.error(`${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text}`);
    console.error(`build-browser: ${e.errors ? `${e.errors.length} error(s)` : e.message}`);
    process.exit(1);
  }
}
