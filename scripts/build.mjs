// The whole build: WebAssembly kernels (scripts/build-wasm.mjs → dist/wasm), the browser bundles
// and demo (scripts/build-browser.mjs → dist/browser, under a second), then TypeScript (tsc → dist/). `npm run build` and `npm test` run it, and so does the `srigl` launcher
// (bin/srigl.js) the first time it runs in a checkout, or when the sources are newer than the
// build. It ends by stamping dist/.build-stamp, which the launcher compares with the sources.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const run = (script, args = []) => execFileSync(process.execPath, [script, ...args], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });

run(join(root, 'scripts', 'build-wasm.mjs'));
run(join(root, 'scripts', 'build-browser.mjs'));
run(require.resolve('typescript/bin/tsc'), ['-p', join(root, 'tsconfig.json')]);
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(join(root, 'dist', '.build-stamp'), `${new Date().toISOString()}\n`);
