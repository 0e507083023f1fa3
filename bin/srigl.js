#!/usr/bin/env node
// The `srigl` command. Plain JavaScript, committed, so it exists before anything is built: in a
// source checkout it builds the kernels and the TypeScript on first use (and again whenever a
// source is newer than the last build), then runs the CLI from dist/. The project has no install
// script: `npm ci` only installs, and npx — which installs a project's own bin into its cache
// as a directory dependency — has no unreviewed script to run or refuse.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'src', 'cli', 'main.js');
const stamp = join(root, 'dist', '.build-stamp');
const buildScript = join(root, 'scripts', 'build.mjs');

/** Newest modification time (ms) of the files under `path` (a file or a folder), node_modules left out. */
function newest(path) {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  let t = 0;
  for (const name of readdirSync(path)) if (name !== 'node_modules') t = Math.max(t, newest(join(path, name)));
  return t;
}

/** What the build reads: the TypeScript and AssemblyScript sources, the build scripts and configs (bench/'s own .ts files, not its results). */
function newestSource() {
  const bench = join(root, 'bench');
  const benchFiles = existsSync(bench) ? readdirSync(bench).filter((f) => f.endsWith('.ts')).map((f) => join(bench, f)) : [];
  return Math.max(...['src', 'test', 'examples', 'scripts', 'tsconfig.json', 'package.json'].map((p) => join(root, p)).concat(benchFiles).map(newest));
}

const argv = process.argv.slice(2);
// Help needs no kernels: in a checkout that is not built (yet), it runs from the TypeScript
// sources through tsx (a devDependency) at once, rather than after the ~20 s first build.
const helpOnly = argv.includes('--help') || argv.includes('-h') || argv[0] === 'help';
const tsxApi = join(root, 'node_modules', 'tsx', 'dist', 'esm', 'api', 'index.mjs');

// A published package ships dist/ and no build script: nothing to build.
const stale = existsSync(buildScript) && (!existsSync(entry) || !existsSync(stamp) || statSync(stamp).mtimeMs < newestSource());
let cli = entry;
if (stale && helpOnly && existsSync(tsxApi)) {
  const { register } = await import(pathToFileURL(tsxApi).href);
  register();
  cli = join(root, 'src', 'cli', 'main.ts');
} else if (stale) {
  process.stderr.write('srigl: building the WebAssembly kernels and the TypeScript (first run in this checkout, or sources changed)…\n');
  try {
    execFileSync(process.execPath, [buildScript], { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch {
    process.stderr.write('srigl: the build failed (see above); `npm ci` installs what it needs, `npm run build` retries it\n');
    process.exit(1);
  }
}
if (!existsSync(cli)) {
  process.stderr.write(`srigl: ${cli} is missing: this copy of srigl was never built (npm run build)\n`);
  process.exit(1);
}
const { runCli } = await import(pathToFileURL(cli).href);
runCli(argv);
