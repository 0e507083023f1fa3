import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configId, findIdenticalRun, parseSweepArgs, recordedArgv, type SweepConfig, type SweepResult } from '../../bench/accuracy.js';
import { gammaConfigs, reuseIdentical, summarise } from '../../bench/gamma-sal.js';

function fakeResult(c: SweepConfig, argv: string[], testAcc: number): SweepResult {
  return {
    ...c, testAcc, testLoss: 0.5, trainAcc: 0.9, wallSeconds: 10, history: [testAcc], nnz: 8, totalWeights: 100, updates: 70,
    layers: [{ name: 'fc1', out: 4, fanIn: 25, nnz: 8, density: 0.08, k: 2, ablatedNeurons: 0 }], argv, machine: 'test machine', date: '2026-01-01',
  };
}

test('γ_sal study: the accuracy sweep\'s run with the identical command line is reused, any other is not', () => {
  const dir = mkdtempSync(join(tmpdir(), 'srigl-gamma-'));
  try {
    const sweep = { ...parseSweepArgs(['--models', 'cnn', '--threads', '1']), resultsDir: dir };
    const sweepDir = join(dir, 'accuracy');
    const gammaDir = join(dir, 'gamma-sal');
    mkdirSync(sweepDir);
    mkdirSync(gammaDir);
    // The sweep's SRigL + ablation at 99%, seed 0: γ_sal 0.3 implicitly (no gammaSal in its config).
    const base = { model: 'cnn', sparsity: 0.99, epochs: sweep.epochs, lr: sweep.lr, warmupEpochs: 1, seed: 0 };
    const sweepRun = { ...base, method: 'srigl-ablation' as const };
    const sweepResult = fakeResult({ id: configId(sweepRun), ...sweepRun }, recordedArgv({ id: '', ...sweepRun }, sweep), 0.9019);
    writeFileSync(join(sweepDir, `${sweepResult.id}.json`), JSON.stringify(sweepResult));

    const grid = gammaConfigs({ model: 'cnn', sparsity: 0.99, gammas: [0.3, 0.9], seeds: [0], threads: 1, summaryOnly: false });
    const g03 = grid.find((c) => c.gammaSal === 0.3)!;
    const g09 = grid.find((c) => c.gammaSal === 0.9)!;
    const rigl = grid.find((c) => c.method === 'rigl')!;
    assert.equal(g03.id, 'cnn_srigl-ablation_s0.99_seed0_e20_lr0.1_w1_g0.3');

    // γ_sal 0.3 is the sweep's command line: reused, with the file it came from.
    assert.equal(findIdenticalRun(g03, sweep, sweepDir)?.id, sweepResult.id);
    const logs: string[] = [];
    assert.equal(reuseIdentical(g03, sweep, gammaDir, sweepDir, 'tag', (m) => logs.push(m)), true);
    const reused = JSON.parse(readFileSync(join(gammaDir, `${g03.id}.json`), 'utf8')) as SweepResult;
    assert.equal(reused.id, g03.id);
    assert.equal(reused.gammaSal, 0.3);
    assert.equal(reused.testAcc, 0.9019);
    assert.equal(reused.reusedFrom, `accuracy/${sweepResult.id}.json`);
    assert.match(logs[0], /reused, not trained again/);
    // Present now: nothing more to do (the caller's runClaimed skips it).
    assert.equal(reuseIdentical(g03, sweep, gammaDir, sweepDir, 'tag', () => {}), false);

    // Another γ_sal, a method the sweep has not run, or another thread count: trained, not reused.
    assert.equal(findIdenticalRun(g09, sweep, sweepDir), null);
    assert.equal(findIdenticalRun(rigl, sweep, sweepDir), null);
    assert.equal(findIdenticalRun(g03, { ...sweep, threads: 2 }, sweepDir), null);
    assert.equal(reuseIdentical(g09, sweep, gammaDir, sweepDir, 'tag', () => {}), false);

    // The summary has a section per model and sparsity and marks the reused run.
    const mlpRun = { model: 'mlp', sparsity: 0.99, epochs: 20, lr: 0.1, warmupEpochs: 0, seed: 1, method: 'srigl-ablation' as const, gammaSal: 0.9 };
    writeFileSync(join(gammaDir, 'mlp.json'), JSON.stringify(fakeResult({ id: configId(mlpRun), ...mlpRun }, [], 0.8586)));
    summarise(dir);
    const md = readFileSync(join(dir, 'gamma-sal.md'), 'utf8');
    assert.ok(md.includes('## cnn at 99% sparsity'), md);
    assert.ok(md.includes('## mlp at 99% sparsity'), md);
    assert.ok(md.includes('| SRigL + ablation, γ_sal 0.3 | 0 | 90.19* | 90.19 | 4/4, 2 |'), md);
    assert.ok(md.includes('| SRigL + ablation, γ_sal 0.9 | 1 | 85.86 | 85.86 |'), md);
    assert.ok(md.includes('reused rather than trained again'), md);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
