// Full Fashion-MNIST accuracy of N:M SRigL beside constant-fan-in SRigL and RigL at the same
// densities, and of a fan-in fixed on fc1: the mlp, 20 epochs, the accuracy sweep's recipe
// (bench/results/accuracy.md). The N:M comparison uses the uniform distribution for every
// method, so that N:M and the constant fan-in give every layer exactly the same density (1:M
// and sparsity 1 − 1/M: the same k per row where M divides the fan-in); the fixed fan-in runs
// keep the sweep's ERK at 90% for the other layers. One JSON per run under
// bench/results/nm-accuracy/ (a run whose file exists is skipped, so an interrupted sweep
// resumes), then bench/results/nm-accuracy.md.
//
//   npx tsx bench/nm-accuracy.ts [--seeds 0,1] [--epochs 20] [--threads 2]
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const results = join(here, 'results');
const outDir = join(results, 'nm-accuracy');
const cli = join(here, '..', 'src', 'cli', 'main.ts');
const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const seeds = opt('--seeds', '0,1').split(',').map(Number);
const epochs = Number(opt('--epochs', '20'));
const threads = Number(opt('--threads', '2'));

interface Config {
  id: string;
  group: 'nm' | 'fan-in';
  label: string;
  /** Density label: "1:4 (75%)" or "fc1 k=8". */
  at: string;
  seed: number;
  argv: string[];
}

const RECIPE = ['--model', 'mlp', '--epochs', String(epochs), '--lr', '0.1', '--batch-size', '128', '--optimizer', 'sgd', '--momentum', '0.9', '--nesterov', '--weight-decay', '5e-4', '--schedule', 'cosine'];

function configs(): Config[] {
  const list: Config[] = [];
  for (const seed of seeds) {
    for (const m of [4, 8, 16]) {
      const sparsity = 1 - 1 / m;
      const at = `1:${m} (${(100 * sparsity).toFixed(2).replace(/\.?0+$/, '')}%)`;
      const common = [...RECIPE, '--seed', String(seed), '--distribution', 'uniform'];
      list.push({ id: `nm1-${m}_srigl_seed${seed}`, group: 'nm', label: 'SRigL N:M', at, seed, argv: [...common, '--method', 'srigl', '--nm', `1:${m}`] });
      list.push({ id: `cfi-${m}_srigl_seed${seed}`, group: 'nm', label: 'SRigL constant fan-in', at, seed, argv: [...common, '--method', 'srigl', '--sparsity', String(sparsity)] });
      list.push({ id: `unstructured-${m}_rigl_seed${seed}`, group: 'nm', label: 'RigL', at, seed, argv: [...common, '--method', 'rigl', '--sparsity', String(sparsity)] });
    }
    for (const k of [8, 16, 32]) {
      list.push({ id: `fanin-fc1-${k}_srigl_seed${seed}`, group: 'fan-in', label: 'SRigL, fc1 fan-in fixed', at: `fc1 k=${k}`, seed, argv: [...RECIPE, '--seed', String(seed), '--method', 'srigl', '--sparsity', '0.9', '--fan-in', `fc1=${k}`] });
    }
    list.push({ id: `erk90_srigl_seed${seed}`, group: 'fan-in', label: 'SRigL (ERK 90%, fc1 k free)', at: 'fc1 k=62 free', seed, argv: [...RECIPE, '--seed', String(seed), '--method', 'srigl', '--sparsity', '0.9'] });
  }
  return list;
}

interface Result {
  id: string;
  argv: string[];
  testAcc: number;
  density: number;
  layers: { name: string; k: number | null; nm: { n: number; m: number } | null; fixedK: boolean; ablatedNeurons: number; density: number }[];
  wallSeconds: number;
  machine: string;
  date: string;
}

mkdirSync(outDir, { recursive: true });
const machine = `${(cpus()[0]?.model ?? 'unknown CPU').trim()}, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
const all = configs();
for (const [i, c] of all.entries()) {
  const file = join(outDir, `${c.id}.json`);
  if (existsSync(file)) continue;
  const argv = ['train', ...c.argv, '--threads', String(threads), '--json', '--quiet', '--no-condense'];
  const run = mkdtempSync(join(tmpdir(), 'srigl-nm-'));
  try {
    console.error(`[${i + 1}/${all.length}] srigl ${argv.join(' ')}`);
    const out = execFileSync(process.execPath, ['--import', 'tsx', cli, ...argv, '--out', run], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const s = JSON.parse(out.trim().split('\n').at(-1) as string);
    const result: Result = {
      id: c.id, argv, testAcc: s.final.testAcc, density: s.sparse.nnz / s.sparse.totalWeights, wallSeconds: s.final.wallSeconds, machine, date: new Date().toISOString(),
      layers: s.sparse.layers.map((l: Result['layers'][number]) => ({ name: l.name, k: l.k, nm: l.nm, fixedK: l.fixedK, ablatedNeurons: l.ablatedNeurons, density: l.density })),
    };
    writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  } finally {
    rmSync(run, { recursive: true, force: true });
  }
}

const done = new Map(readdirSync(outDir).filter((f) => f.endsWith('.json')).map((f) => [f.slice(0, -5), JSON.parse(readFileSync(join(outDir, f), 'utf8')) as Result]));
const pct = (v: number): string => (100 * v).toFixed(2);
const cell = (rows: (Result | undefined)[]): string => {
  const got = rows.filter((r): r is Result => r !== undefined);
  if (got.length === 0) return '—';
  const mean = got.reduce((a, r) => a + r.testAcc, 0) / got.length;
  return `${pct(mean)} (${got.map((r) => pct(r.testAcc)).join(' / ')})`;
};
const byKey = (prefix: string): (Result | undefined)[] => seeds.map((seed) => done.get(`${prefix}_seed${seed}`));
const mean = (rows: (Result | undefined)[]): number => {
  const got = rows.filter((r): r is Result => r !== undefined);
  return got.length === 0 ? NaN : got.reduce((a, r) => a + r.testAcc, 0) / got.length;
};
const lines = [
  '# N:M SRigL and a fixed fan-in: full Fashion-MNIST accuracy',
  '',
  `Command: \`npx tsx bench/nm-accuracy.ts${args.length ? ' ' + args.join(' ') : ''}\` (resumable: one JSON per run under bench/results/nm-accuracy/).`,
  '',
  `Machine: ${machine}. mlp 784-300-100-10, ${epochs} epochs, the accuracy sweep's recipe (SGD 0.1, Nesterov, weight decay 5e-4,`,
  'cosine, batch 128, ΔT 100, α 0.3, T_end 0.75, γ_sal 0.3, ablation on for SRigL). Test accuracy in %, the mean of seeds',
  `${seeds.join(' and ')} with each seed in brackets.`,
  '',
  '## N:M against constant fan-in and RigL at the same density',
  '',
  'Every method with the uniform distribution (every layer at the same density, all three layers sparse), so 1:M and',
  'sparsity 1 − 1/M give each layer the same number of weights; N:M adds only the constraint that they sit one in every M',
  'consecutive inputs.',
  '',
  '| structure (density) | SRigL N:M | SRigL constant fan-in | RigL | N:M − constant fan-in (pp) |',
  '|---|---:|---:|---:|---:|',
  ...[4, 8, 16].map((m) => {
    const nm = byKey(`nm1-${m}_srigl`), cfi = byKey(`cfi-${m}_srigl`), rigl = byKey(`unstructured-${m}_rigl`);
    const gap = 100 * (mean(nm) - mean(cfi));
    return `| 1:${m} (${(100 / m).toFixed(2)}% dense) | ${cell(nm)} | ${cell(cfi)} | ${cell(rigl)} | ${Number.isNaN(gap) ? '—' : gap.toFixed(2)} |`;
  }),
  '',
  '## A fan-in fixed on fc1',
  '',
  'SRigL at 90% with ERK (the sweep\'s setting), fc1 held at exactly k weights per neuron for the whole run (`--fan-in',
  'fc1=k`: no budget from the distribution, none redistributed when its neurons are ablated); fc2 and fc3 keep their ERK',
  'budgets, so the global density moves with k. The last row is the same run without the fixed fan-in (ERK gives fc1 k = 62).',
  '',
  '| fc1 | test accuracy | global density | fc1 ablated neurons (seed 0) |',
  '|---|---:|---:|---:|',
  ...[8, 16, 32].map((k) => {
    const rows = byKey(`fanin-fc1-${k}_srigl`);
    const r0 = rows[0];
    return `| k = ${k} fixed | ${cell(rows)} | ${r0 ? r0.density.toFixed(4) : '—'} | ${r0 ? r0.layers[0].ablatedNeurons : '—'} |`;
  }),
  ((): string => {
    const rows = byKey('erk90_srigl');
    const r0 = rows[0];
    return `| k free (ERK) | ${cell(rows)} | ${r0 ? r0.density.toFixed(4) : '—'} | ${r0 ? r0.layers[0].ablatedNeurons : '—'} |`;
  })(),
  '',
];
const md = lines.join('\n');
console.log(md);
writeFileSync(join(results, 'nm-accuracy.md'), md);
