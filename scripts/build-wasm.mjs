// Compiles the AssemblyScript kernels in src/kernels/as/ into one WebAssembly module per ISA
// level. Every module imports one shared memory so that worker threads run the same kernels
// over the same tensors. Kernels choose their code path at compile time from the builtin
// constants ASC_FEATURE_SIMD and ASC_FEATURE_RELAXED_SIMD.
import { execFileSync } from 'node:child_process';
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

for (const [isa, flags] of Object.entries(variants)) {
  const out = join(outDir, `srigl-${isa}.wasm`);
  const tmp = `${out}.${process.pid}.tmp`;
  execFileSync(process.execPath, [
    asc, entry,
    '-o', tmp,
    '-O3', '--noAssert',
    '--runtime', 'stub',
    '--importMemory', '--sharedMemory', '--initialMemory', '32', '--maximumMemory', '32768',
    '--enable', 'threads',
    ...flags,
  ], { stdio: 'inherit' });
  renameSync(tmp, out);
  console.log(`built ${out}`);
}
