// Compiles the AssemblyScript kernels in src/kernels/as/ into one WebAssembly module per ISA
// level. Every module imports one shared memory so that worker threads run the same kernels
// over the same tensors. Kernels choose their code path at compile time from the builtin
// constants ASC_FEATURE_SIMD and ASC_FEATURE_RELAXED_SIMD.
import { spawn } from 'node:child_process';
import { mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
const entry = join(root, 'src', 'kernels', 'as', 'index.ts');
const outDir = join(root, 'dist', 'wasm');
mkdirSync(outDir, { recursive: true });

/** ISA levels: the scalar module always validates; simd128 and relaxed are picked by probing. */
const variants = {
  scalar: [],
  simd128: ['--enable', 'simd'],
  relaxed: ['--enable', 'simd', '--enable', 'relaxed-simd'],
};

// The three compiles are independent: run them side by side (the first \`srigl\` run in a
// checkout waits for this build).
const builds = Object.entries(variants).map(([isa, flags]) => {
  const out = join(outDir, `srigl-${isa}.wasm`);
  const tmp = `${out}.${process.pid}.tmp`;
  const args = [
    asc, entry,
    '-o', tmp,
    '-O3', '--noAssert',
    '--runtime', 'stub',
    '--importMemory', '--sharedMemory', '--initialMemory', '32', '--maximumMemory', '32768',
    '--enable', 'threads',
    ...flags,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`asc (${isa}) failed: ${signal ?? `exit code ${code}`}`));
      renameSync(tmp, out);
      console.log(`built ${out}`);
      resolve();
    });
  });
});
const failed = (await Promise.allSettled(builds)).find((r) => r.status === 'rejected');
if (failed) {
  console.error(failed.reason.message);
  process.exit(1);
}
