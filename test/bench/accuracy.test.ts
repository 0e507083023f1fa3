import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { accuracyChart, claim, configId, holdLock, LOCK_STALE_MS, parseSweepArgs, runCommand, runConfig, sweepConfigs, writeSummary, type SweepResult } from '../../bench/accuracy.js';
import { repoRoot, SUBSET } from '../paths.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'srigl-sweep-'));
}

test('claim: the first claim wins, a live holder is reported, a lock is released by removal', () => {
  const dir = tmp();
  try {
    const lock = join(dir, 'x.lock');
    assert.equal(claim(lock), null);
    const held = JSON.parse(readFileSync(lock, 'utf8')) as { pid: number; host: string };
    assert.equal(held.pid, process.pid);
    assert.equal(held.host, hostname());
    // This process is alive, so a second claim (as another worker would make) is refused.
    const again = claim(lock);
    assert.match(again ?? '', new RegExp(`pid ${process.pid} on `));
    rmSync(lock);
    assert.equal(claim(lock), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('claim: a lock left by a dead process on this host is taken over; one from another host is not', () => {
  const dir = tmp();
  try {
    const lock = join(dir, 'y.lock');
    // pid_max on Linux is at most 2^22, so this pid cannot exist.
    writeFileSync(lock, JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), since: 'earlier' }));
    assert.equal(claim(lock), null);
    assert.equal((JSON.parse(readFileSync(lock, 'utf8')) as { pid: number }).pid, process.pid);
    writeFileSync(lock, JSON.stringify({ pid: 1, host: 'some-other-machine', since: 'earlier' }));
    assert.match(claim(lock) ?? '', /some-other-machine/);
    // A garbled lock (a writer killed mid-write) is stale, not a reason to skip forever.
    writeFileSync(lock, '{"pid": 12');
    assert.equal(claim(lock), null);
    assert.ok(existsSync(lock));
    // Unrefreshed for longer than LOCK_STALE_MS: stale even from another host, or with a live pid
    // here (a pid reused after a reboot); the same lock is live while it is fresh.
    const old = (Date.now() - LOCK_STALE_MS - 60_000) / 1000;
    writeFileSync(lock, JSON.stringify({ pid: 1, host: 'some-other-machine', since: 'earlier' }));
    utimesSync(lock, old, old);
    assert.equal(claim(lock), null);
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), since: 'earlier' }));
    assert.match(claim(lock) ?? '', /since earlier/);
    utimesSync(lock, old, old);
    assert.equal(claim(lock), null);
    // holdLock keeps the claim until release, which removes it.
    const held = holdLock(lock);
    assert.ok(existsSync(lock));
    held.release();
    assert.ok(!existsSync(lock));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sweep options: --jobs is parsed and validated; the grid has 32 configurations per model', () => {
  const o = parseSweepArgs(['--models', 'cnn', '--jobs', '2', '--threads', '1']);
  assert.equal(o.jobs, 2);
  assert.equal(o.threads, 1);
  assert.equal(parseSweepArgs([]).jobs, 1);
  assert.throws(() => parseSweepArgs(['--jobs', '0']), /--jobs: bad value 0/);
  const grid = sweepConfigs(o);
  // dense + 5 methods × 4 sparsities for seed 0, then dense + 5 methods at 0.9 and at 0.99 for seed 1.
  assert.equal(grid.length, 1 + 20 + 1 + 10);
  assert.deepEqual(grid.filter((c) => c.seed === 1 && c.sparsity !== null).map((c) => c.sparsity), [...Array(5).fill(0.9), ...Array(5).fill(0.99)]);
  assert.equal(new Set(grid.map((c) => c.id)).size, grid.length);
  assert.ok(grid.every((c) => c.id.startsWith('cnn_') && c.id.endsWith('_w1')));
});

test('an interrupted sweep run resumes from its last checkpoint and gives the uninterrupted result', async () => {
  const dir = tmp();
  try {
    const o = parseSweepArgs(['--models', 'mlp', '--data', SUBSET, '--limit-train', '256', '--epochs', '2', '--threads', '1']);
    const base = { model: 'mlp', method: 'srigl-ablation' as const, sparsity: 0.9, seed: 3, epochs: 2, lr: 0.1 };
    const c = { id: configId(base), ...base };
    // No run directory, or one without a checkpoint (killed before its first epoch ended): a fresh run.
    const empty = join(dir, 'empty.run');
    mkdirSync(empty);
    writeFileSync(join(empty, 'metrics.jsonl'), '');
    const fresh = runCommand(c, o, empty);
    assert.equal(fresh.resumedFromStep, null);
    assert.ok(!fresh.argv.includes('--resume') && fresh.argv.includes('--out'));
    assert.ok(!existsSync(empty), 'a run directory without a checkpoint is cleared');

    const straight = await runConfig(c, o, join(dir, 'a.run'));
    assert.equal(straight.resumedFromStep, undefined);
    assert.ok(!existsSync(join(dir, 'a.run')), 'the run directory is removed once the result is read');
    assert.equal(straight.history.length, 2);

    // An attempt that got through epoch 1 only: run it whole, then take away what epoch 2 left.
    const b = join(dir, 'b.run');
    const cli = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');
    execFileSync(process.execPath, [cli, ...runCommand(c, o, b).argv], { stdio: 'ignore' });
    const ckpts = readdirSync(b).filter((f) => /^ckpt-\d+\.safetensors$/.test(f)).sort((x, y) => Number(x.match(/\d+/)![0]) - Number(y.match(/\d+/)![0]));
    assert.deepEqual(ckpts, ['ckpt-2.safetensors', 'ckpt-4.safetensors']);
    for (const f of ['ckpt-4.safetensors', 'model.safetensors', 'summary.json']) rmSync(join(b, f));
    const resumed = runCommand(c, o, b);
    assert.equal(resumed.resumedFromStep, 2);
    assert.deepEqual(resumed.argv.slice(0, 3), ['train', '--resume', b]);

    const kept = join(dir, 'b.out');
    const r = await runConfig(c, o, b, kept);
    assert.deepEqual(readdirSync(kept).sort(), ['curves.svg', 'metrics.jsonl', 'model.condensed.safetensors', 'model.safetensors', 'report.html', 'summary.json', 'topology.jsonl'], 'the finished run is kept without its checkpoints');
    assert.equal(r.resumedFromStep, 2);
    assert.equal(r.testAcc, straight.testAcc);
    assert.equal(r.testLoss, straight.testLoss);
    assert.deepEqual(r.history, straight.history);
    assert.deepEqual(r.layers, straight.layers);
    assert.deepEqual(r.argv, straight.argv, 'the result records the fresh command line either way');
    assert.ok(!existsSync(b));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('accuracyChart: one line per method with results, the dense level dashed, none without sparse results', () => {
  const o = parseSweepArgs(['--models', 'mlp']);
  const r = (method: string, sparsity: number | null, testAcc: number, seed = 0) => ({ method, sparsity, testAcc, seed }) as unknown as SweepResult;
  assert.equal(accuracyChart('mlp', [r('dense', null, 0.9)], o), null);
  const svg = accuracyChart('mlp', [r('dense', null, 0.9), r('rigl', 0.9, 0.88), r('rigl', 0.9, 0.86, 1), r('rigl', 0.99, 0.8), r('static', 0.99, 0.7)], o) ?? '';
  assert.deepEqual([...svg.matchAll(/data-series="([^"]+)"/g)].map((m) => m[1]), ['dense', 'static', 'rigl']);
  const lines = [...svg.matchAll(/<polyline points="([^"]*)"/g)].map((m) => m[1].split(' ').length);
  assert.deepEqual(lines, [2, 1, 2]);
  for (const label of ['80%', '90%', '95%', '99%']) assert.ok(svg.includes(`>${label}</text>`), label);
});

test('writeSummary: columns in ascending sparsity whatever the queue order; missing runs listed; the chart is linked', () => {
  const dir = tmp();
  try {
    const o = { ...parseSweepArgs(['--models', 'mlp', '--sparsities', '0.99,0.8', '--seeds', '0']), resultsDir: dir };
    const result = (method: SweepResult['method'], sparsity: number | null, testAcc: number): SweepResult => {
      const c = { model: 'mlp', method, sparsity, seed: 0, epochs: o.epochs, lr: o.lr, warmupEpochs: 0 };
      return {
        id: configId(c), ...c, testAcc, testLoss: 0.5, trainAcc: 0.9, wallSeconds: 10, history: [testAcc], nnz: 1, totalWeights: 10, updates: 0,
        layers: [{ name: 'fc1', out: 1, fanIn: 10, nnz: 1, density: 0.1, k: null, ablatedNeurons: 0 }], argv: [], machine: 'test machine', date: '2026-01-01',
      };
    };
    mkdirSync(join(dir, 'accuracy'));
    for (const r of [result('dense', null, 0.9), result('rigl', 0.8, 0.88), result('static', 0.99, 0.7)]) writeFileSync(join(dir, 'accuracy', `${r.id}.json`), JSON.stringify(r));
    const s = writeSummary(o);
    assert.ok(s.md.includes('| method | 80% | 99% |'), s.md);
    assert.ok(s.md.includes('| rigl | 88.00 | — |'));
    assert.ok(s.md.includes('| static | — | 70.00 |'));
    assert.equal(s.present, 3);
    assert.equal(s.missing, 2 * 5 - 2);
    assert.ok(s.md.includes('![mlp: test accuracy against sparsity, per method](accuracy-mlp.svg)'));
    assert.ok(readFileSync(join(dir, 'accuracy-mlp.svg'), 'utf8').includes('data-series="rigl"'));
    assert.deepEqual((JSON.parse(readFileSync(join(dir, 'accuracy.json'), 'utf8')) as { options: { sparsities: number[] } }).options.sparsities, [0.8, 0.99]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
