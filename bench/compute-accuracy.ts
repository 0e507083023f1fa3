// Full Fashion-MNIST accuracy of sparse compute against the masked dense path: the accuracy
// sweep's mlp SRigL + ablation 90% runs (bench/results/accuracy/, trained before sparse compute
// existed, i.e. masks on dense GEMMs) trained again with the identical command line plus
// `--compute sparse`. One JSON per seed under bench/results/compute-accuracy/ (a seed whose file
// exists is skipped, so an interrupted run resumes), then the table.
//
//   npx tsx bench/compute-accuracy.ts [--seeds 0,1]
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const results = join(here, 'results');
const outDir = join(results, 'compute-accuracy');
const cli = join(here, '..', 'src', 'cli', 'main.ts');
const args = process.argv.slice(2);
const seedsAt = args.indexOf('--seeds');
const seeds = (seedsAt >= 0 ? args[seedsAt + 1] : '0,1').split(',').map(Number);

interface Row { seed: number; masked: number; maskedSeconds: number; sparse: number; sparseSeconds: number; argv: string[] }

mkdirSync(outDir, { recursive: true });
const rows: Row[] = [];
for (const seed of seeds) {
  const maskedFile = join(results, 'accuracy', `mlp_srigl-ablation_s0.90_seed${seed}_e20_lr0.1.json`);
  if (!existsSync(maskedFile)) throw new Error(`${maskedFile}: the masked run of seed ${seed} is not in the accuracy sweep`);
  const masked = JSON.parse(readFileSync(maskedFile, 'utf8')) as { testAcc: number; wallSeconds: number; argv: string[] };
  const argv = [...masked.argv, '--compute', 'sparse', '--no-condense'];
  const file = join(outDir, `mlp_srigl-ablation_s0.90_seed${seed}_e20_lr0.1_sparse.json`);
  if (!existsSync(file)) {
    const run = mkdtempSync(join(tmpdir(), 'srigl-compute-'));
    try {
      console.error(`seed ${seed}: srigl ${argv.join(' ')}`);
      const out = execFileSync(process.execPath, ['--import', 'tsx', cli, ...argv, '--out', run], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      const s = JSON.parse(out.trim().split('\n').at(-1) as string);
      writeFileSync(file, JSON.stringify({ seed, argv, testAcc: s.final.testAcc, wallSeconds: s.final.wallSeconds, sparse: s.sparse.layers, machine: `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`, date: new Date().toISOString() }, null, 2) + '\n');
    } finally {
      rmSync(run, { recursive: true, force: true });
    }
  }
  const sparse = JSON.parse(readFileSync(file, 'utf8')) as { testAcc: number; wallSeconds: number };
  rows.push({ seed, masked: masked.testAcc, maskedSeconds: masked.wallSeconds, sparse: sparse.testAcc, sparseSeconds: sparse.wallSeconds, argv });
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (v: number): string => (100 * v).toFixed(2);
const md = [
  '# Sparse compute vs the masked dense path: full Fashion-MNIST accuracy',
  '',
  `Command: \`npx tsx bench/compute-accuracy.ts${args.length ? ' ' + args.join(' ') : ''}\``,
  '',
  'mlp, SRigL + ablation at 90% (ERK, γ_sal 0.3), 20 epochs, the accuracy sweep\'s recipe. "masked" is the sweep\'s run',
  '(bench/results/accuracy/, masks on dense GEMMs, trained before sparse compute existed); "sparse" is the same command',
  'line with `--compute sparse`. Wall seconds include per-epoch evaluation; the two were measured in different sessions.',
  '',
  '| seed | masked test acc | sparse test acc | difference (pp) | masked wall s | sparse wall s |',
  '|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.seed} | ${pct(r.masked)} | ${pct(r.sparse)} | ${(100 * (r.sparse - r.masked)).toFixed(2)} | ${r.maskedSeconds.toFixed(1)} | ${r.sparseSeconds.toFixed(1)} |`),
  `| mean | ${pct(mean(rows.map((r) => r.masked)))} | ${pct(mean(rows.map((r) => r.sparse)))} | ${(100 * (mean(rows.map((r) => r.sparse)) - mean(rows.map((r) => r.masked)))).toFixed(2)} | | |`,
  '',
  `Sparse command (seed ${rows[0]?.seed}): \`srigl ${rows[0]?.argv.join(' ')}\``,
  '',
].join('\n');
console.log(md);
writeFileSync(join(results, 'compute-accuracy.md'), md);
