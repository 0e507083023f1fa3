// γ_sal sensitivity of SRigL's neuron ablation: SRigL with ablation at several γ_sal, next to
// RigL and SRigL without ablation, at one sparsity, several seeds, with the accuracy sweep's
// recipe (bench/accuracy.ts: its runner, result format and lock-file claims).
//
// Resumable: one JSON per run under bench/results/gamma-sal/, skipped when present;
// bench/results/gamma-sal.md and .json are regenerated after every run.
//
//   npx tsx bench/gamma-sal.ts                       # mlp, 99%, γ_sal 0.3,0.5,0.7,0.9,0.95, seeds 0,1
//   npx tsx bench/gamma-sal.ts --model cnn --sparsity 0.99 --gammas 0.3,0.9 --seeds 0 --threads 2
//   npx tsx bench/gamma-sal.ts --summary-only
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { configId, findIdenticalRun, loadResults, parseList, parseSweepArgs, runClaimed, writeAtomic, type SweepConfig, type SweepMethod, type SweepOptions, type SweepResult } from './accuracy.js';

interface GammaOptions {
  model: 'mlp' | 'cnn';
  sparsity: number;
  gammas: number[];
  seeds: number[];
  threads: number;
  summaryOnly: boolean;
}

function parse(argv: readonly string[]): GammaOptions {
  const o: GammaOptions = { model: 'mlp', sparsity: 0.99, gammas: [0.3, 0.5, 0.7, 0.9, 0.95], seeds: [0, 1], threads: 1, summaryOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--model': {
        const m = val();
        if (m !== 'mlp' && m !== 'cnn') throw new Error(`--model: mlp or cnn, got ${m}`);
        o.model = m;
        break;
      }
      case '--sparsity': o.sparsity = parseList(val(), 'sparsity', Number, (v) => v > 0 && v < 1)[0]; break;
      case '--gammas': o.gammas = parseList(val(), 'gammas', Number, (v) => v > 0 && v <= 1); break;
      case '--seeds': o.seeds = parseList(val(), 'seeds', Number, (v) => Number.isInteger(v) && v >= 0); break;
      case '--threads': o.threads = parseList(val(), 'threads', Number, (v) => Number.isInteger(v) && v >= 1)[0]; break;
      case '--summary-only': o.summaryOnly = true; break;
      case '--help':
        process.stdout.write('Usage: npx tsx bench/gamma-sal.ts [--model mlp|cnn] [--sparsity 0.99] [--gammas 0.3,0.5,0.7,0.9,0.95] [--seeds 0,1] [--threads 1] [--summary-only]\n');
        process.exit(0);
      default:
        throw new Error(`unknown option ${a} (see --help)`);
    }
  }
  return o;
}

/** The runs: RigL and SRigL without ablation as references, then SRigL with ablation at each γ_sal. */
export function gammaConfigs(o: GammaOptions): SweepConfig[] {
  const sweep = parseSweepArgs(['--models', o.model]);
  const base = { model: o.model, sparsity: o.sparsity, epochs: sweep.epochs, lr: sweep.lr, warmupEpochs: o.model === 'cnn' ? 1 : 0 };
  const list: SweepConfig[] = [];
  for (const seed of o.seeds) {
    for (const method of ['rigl', 'srigl-no-ablation'] as SweepMethod[]) {
      const c = { ...base, method, seed };
      list.push({ id: configId(c), ...c });
    }
    for (const gammaSal of o.gammas) {
      const c = { ...base, method: 'srigl-ablation' as SweepMethod, seed, gammaSal };
      list.push({ id: configId(c), ...c });
    }
  }
  return list;
}

const pct = (x: number): string => (100 * x).toFixed(2);

/** One section of gamma-sal.md: the runs of one model at one sparsity. */
function section(model: string, sparsity: number, all: SweepResult[]): string[] {
  const groups: [string, SweepResult[]][] = [
    ['RigL', all.filter((r) => r.method === 'rigl')],
    ['SRigL, no ablation', all.filter((r) => r.method === 'srigl-no-ablation')],
    ...[...new Set(all.filter((r) => r.method === 'srigl-ablation').map((r) => r.gammaSal ?? 0.3))]
      .sort((a, b) => a - b)
      .map((g): [string, SweepResult[]] => [`SRigL + ablation, γ_sal ${g}`, all.filter((r) => r.method === 'srigl-ablation' && (r.gammaSal ?? 0.3) === g)]),
  ];
  const gammas = [...new Set(all.filter((r) => r.gammaSal !== undefined).map((r) => r.gammaSal!))].sort((a, b) => a - b);
  const seeds = [...new Set(all.map((r) => r.seed))].sort((a, b) => a - b);
  const layerNames = all[0]?.layers.map((l) => l.name) ?? [];
  const lines = [
    `## ${model} at ${+(sparsity * 100).toFixed(2)}% sparsity`,
    '',
    `Produced by \`npx tsx bench/gamma-sal.ts --model ${model} --sparsity ${sparsity} --gammas ${gammas.join(',')} --seeds ${seeds.join(',')}\`.`,
    '',
    `| run | seeds | test % per seed | mean | ${layerNames.map((n) => `${n} active/out, k`).join(' | ')} |`,
    `|---|---|---|---|${layerNames.map(() => '---|').join('')}`,
  ];
  for (const [label, rs] of groups) {
    if (rs.length === 0) continue;
    rs.sort((a, b) => a.seed - b.seed);
    const m = rs.reduce((s, r) => s + r.testAcc, 0) / rs.length;
    const layerCells = layerNames.map((name) => {
      const ls = rs.map((r) => r.layers.find((l) => l.name === name)!);
      const active = ls.reduce((s, l) => s + (l.out - l.ablatedNeurons), 0) / ls.length;
      const ks = ls.map((l) => l.k).filter((k): k is number => k !== null);
      const k = ks.length > 0 ? (ks.reduce((s, v) => s + v, 0) / ks.length).toFixed(0) : '-';
      return `${active.toFixed(0)}/${ls[0].out}, ${k}`;
    });
    lines.push(`| ${label} | ${rs.map((r) => r.seed).join(',')} | ${rs.map((r) => `${pct(r.testAcc)}${r.reusedFrom !== undefined ? '*' : ''}`).join(' / ')} | ${pct(m)} | ${layerCells.join(' | ')} |`);
  }
  if (all.some((r) => r.reusedFrom !== undefined)) {
    lines.push('', "\\* the accuracy sweep's run with the identical `srigl train` command line (training is deterministic), reused rather than trained again: the result's `reusedFrom` names its file.");
  }
  lines.push('');
  return lines;
}

/** gamma-sal.md and .json from every result in bench/results/gamma-sal/: a section per model and sparsity. */
export function summarise(resultsDir: string): void {
  const all = [...loadResults(join(resultsDir, 'gamma-sal')).values()];
  const keys = [...new Set(all.map((r) => `${r.model} ${r.sparsity}`))].sort();
  const lines = [
    '# γ_sal sensitivity of SRigL\'s neuron ablation',
    '',
    'Resumable: one JSON per run in `bench/results/gamma-sal/`. The accuracy sweep\'s recipe (accuracy.md: 20 epochs, SGD',
    'Nesterov, cosine lr 0.1, ERK, ΔT 100, α 0.3, T_end 0.75; the cnn with 1 warm-up epoch). Test accuracy on the full test',
    'set after the last epoch. Per layer: active neurons after the last update / neurons, and the fan-in k they keep (mean',
    'over seeds).',
    '',
  ];
  for (const key of keys) {
    const [model, s] = key.split(' ');
    lines.push(...section(model, Number(s), all.filter((r) => r.model === model && r.sparsity === Number(s))));
  }
  writeAtomic(join(resultsDir, 'gamma-sal.md'), lines.join('\n'));
  writeAtomic(join(resultsDir, 'gamma-sal.json'), JSON.stringify({ results: all }, null, 2) + '\n');
}

/**
 * Takes configuration `c`'s result from the accuracy sweep when the sweep trained the identical
 * command line (the references, and γ_sal 0.3, at the sweep's seeds): written into `dir` with
 * `reusedFrom` naming the sweep's file. True when `c` now has a result without training.
 */
export function reuseIdentical(c: SweepConfig, sweep: SweepOptions, dir: string, sweepDir: string, tag: string, log: (s: string) => void = (s) => process.stderr.write(s + '\n')): boolean {
  const path = join(dir, `${c.id}.json`);
  if (existsSync(path)) return false;
  const same = findIdenticalRun(c, sweep, sweepDir);
  if (same === null) return false;
  const result: SweepResult = { ...same, id: c.id, ...(c.gammaSal !== undefined ? { gammaSal: c.gammaSal } : {}), reusedFrom: `accuracy/${same.id}.json` };
  writeAtomic(path, JSON.stringify(result, null, 2) + '\n');
  log(`${tag}: the accuracy sweep's ${same.id} has the same command line; reused, not trained again`);
  return true;
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const sweep = parseSweepArgs(['--models', o.model, '--threads', String(o.threads)]);
  const dir = join(sweep.resultsDir, 'gamma-sal');
  mkdirSync(dir, { recursive: true });
  if (!o.summaryOnly) {
    const grid = gammaConfigs(o);
    const sweepDir = join(sweep.resultsDir, 'accuracy');
    for (const [i, c] of grid.entries()) {
      const tag = `[${i + 1}/${grid.length}] ${c.id}`;
      if (reuseIdentical(c, sweep, dir, sweepDir, tag)) continue;
      if ((await runClaimed(c, sweep, dir, tag, (m) => process.stderr.write(m + '\n'))) !== 'ran') continue;
      summarise(sweep.resultsDir);
    }
  }
  summarise(sweep.resultsDir);
  process.stderr.write(`wrote ${join(sweep.resultsDir, 'gamma-sal.md')}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    process.stderr.write(`bench/gamma-sal: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
