#!/usr/bin/env node
// Bundles the bench/webgpu page (main.ts → bench.js, with the platform seam's browser side as
// scripts/build-browser.mjs resolves it), serves it with the kernel modules of dist/wasm on
// 127.0.0.1, and either waits for you to open it (a browser with WebGPU: Chrome, Edge) or, with
// --headless, runs it in Debian's Chromium through playwright-core and prints the table.
//
//   node bench/webgpu/serve.mjs                      serve on http://127.0.0.1:8174/ until Ctrl-C
//   node bench/webgpu/serve.mjs --headless           run headless, print the adapter and the table
//   options: --port N  --rounds N  --batches 1,8,64,256  --sparsities 0.9,0.99
//            --swiftshader (headless: pin Chromium's software adapter)  --timeout SECONDS (headless, default 1800)
//
// Needs dist/wasm (npm run build:wasm). Headless Chromium without a GPU only offers the
// SwiftShader adapter (WebGPU on the CPU): the page then says its numbers are not GPU numbers.
import * as esbuild from 'esbuild';
import { copyFileSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

function usage(msg) {
  console.error(`bench/webgpu/serve.mjs: ${msg}\nusage: node bench/webgpu/serve.mjs [--headless] [--swiftshader] [--port N] [--rounds N] [--batches 1,8,64,256] [--sparsities 0.9,0.99] [--timeout SECONDS]`);
  process.exit(2);
}

const opts = { headless: false, swiftshader: false, port: 8174, timeout: 1800, query: new URLSearchParams() };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
  if (a === '--headless') opts.headless = true;
  else if (a === '--swiftshader') opts.swiftshader = true;
  else if (a === '--port') opts.port = Number(value());
  else if (a === '--timeout') opts.timeout = Number(value());
  else if (a === '--rounds' || a === '--batches' || a === '--sparsities') {
    const v = value();
    if (!/^[0-9.,]+$/.test(v)) usage(`${a} expects numbers, got "${v}"`);
    opts.query.set(a.slice(2), v);
  } else usage(`unknown option ${a}`);
}
if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) usage('--port expects 0..65535');
if (!(opts.timeout > 0)) usage('--timeout expects a positive number of seconds');

const wasmDir = join(root, 'dist', 'wasm');
if (!existsSync(wasmDir) || readdirSync(wasmDir).every((f) => !f.endsWith('.wasm'))) usage(`no kernel modules in ${wasmDir}; run npm run build:wasm first`);

const out = mkdtempSync(join(tmpdir(), 'srigl-bench-webgpu-'));
process.on('exit', () => rmSync(out, { recursive: true, force: true }));
mkdirSync(join(out, 'wasm'));
for (const f of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) copyFileSync(join(wasmDir, f), join(out, 'wasm', f));
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
await esbuild.build({
  entryPoints: [join(here, 'main.ts')],
  bundle: true, platform: 'browser', format: 'esm', target: 'es2022', outfile: join(out, 'bench.js'), logLevel: 'error',
  plugins: [{
    name: 'srigl-browser-platform',
    setup(build) {
      build.onResolve({ filter: /platform\/host(\.js)?$/ }, () => ({ path: join(root, 'src', 'platform', 'browser.ts') }));
    },
  }],
});
writeFileSync(join(out, '.built'), new Date().toISOString());

const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm' };
const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const rel = path === '/' ? 'index.html' : path.slice(1);
  const file = /^(index\.html|bench\.js|wasm\/srigl-[a-z0-9]+\.wasm)$/.test(rel) ? join(out, rel) : null;
  if (file === null || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    return;
  }
  // Cross-origin isolation as the demo server sends it (the wasm memory is shared).
  res.writeHead(200, {
    'Content-Type': MIME[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-cache',
    'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp',
  });
  createReadStream(file).pipe(res);
});
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(opts.headless ? 0 : opts.port, '127.0.0.1', resolve);
});
const url = `http://127.0.0.1:${server.address().port}/${opts.query.size > 0 ? `?${opts.query}` : ''}`;

if (!opts.headless) {
  console.log(`bench/webgpu: serving ${url} (open it in a browser with WebGPU; Ctrl-C stops)`);
} else {
  const { chromium } = await import('playwright-core');
  const executablePath = process.env.SRIGL_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) usage(`no Chromium at ${executablePath} (apt-get install chromium, or set SRIGL_CHROMIUM)`);
  // WebGPU in headless Chromium needs --enable-unsafe-webgpu (without it there is no adapter where Chromium does not trust the GPU).
  const args = ['--no-sandbox', '--enable-unsafe-webgpu', ...(opts.swiftshader ? ['--use-webgpu-adapter=swiftshader'] : [])];
  const browser = await chromium.launch({ executablePath, headless: true, args });
  let code = 0;
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'log') console.log(m.text());
      else if (m.type() === 'error') console.error(`page: ${m.text()}`);
    });
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    console.log(`bench/webgpu: ${url} in ${executablePath} (${args.join(' ')})`);
    await page.goto(url);
    await page.waitForFunction(() => globalThis.sriglWebgpuBench?.done === true, undefined, { timeout: opts.timeout * 1000, polling: 500 });
    const state = await page.evaluate(() => globalThis.sriglWebgpuBench);
    if (state.error) {
      console.error(`bench/webgpu: ${state.error}`);
      code = 1;
    }
  } finally {
    await browser.close();
    server.close();
  }
  process.exit(code);
}
