import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, SUBSET, withTempDir } from './harness.js';
import { loadModel } from '../../src/io/model.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { createEngine } from '../../src/kernels/engine.js';
import { assertConstantFanIn } from '../../src/sparse/mask.js';
import type { SparseRunInfo } from '../../src/train/sparse.js';

/** 256 examples, batch 32: 8 steps an epoch; 3 epochs = 24 steps, T_end 18, ΔT 4 → updates at 4, 8, 12, 16. */
const TINY = ['--data', SUBSET, '--limit-train', '256', '--limit-test', '200', '--epochs', '3', '--batch-size', '32', '--threads', '1', '--delta-t', '4'];

function masksOf(path: string): Map<string, Uint8Array> {
  const file = readSafetensors(path);
  return new Map([...file.tensors].filter(([n]) => n.endsWith('.mask')).map(([n, t]) => [n, t.data as Uint8Array]));
}

describe('srigl train --method', () => {
  test('a tiny SRigL run with ablation: invariants hold on the saved model; masks and metadata round-trip; eval agrees', async () => {
    await withTempDir('srigl-cli-sparse-', async (out) => {
      // γ_sal 0.9 so that 4 updates of a 99%-sparse mlp ablate some neurons.
      const r = await run('train', ...TINY, '--method', 'srigl', '--sparsity', '0.99', '--gamma-sal', '0.9', '--seed', '2', '--out', out, '--json');
      assert.equal(r.code, 0, r.err);
      const summary = JSON.parse(r.out);
      const sparse = summary.sparse as SparseRunInfo;
      assert.equal(sparse.method, 'srigl');
      assert.equal(sparse.updates, 4);
      assert.equal(sparse.ablation, true);
      assert.ok(!r.err.includes('warning'), r.err);
      // The epoch log and the final table show density, fan-in and ablated neurons per layer.
      // A layer whose updates ablated or revived neurons that epoch shows them: abl=3 (+4 -1).
      assert.equal(r.err.match(/^ {2}fc1 d=0\.\d{3} k=\d+ abl=\d+( \(\+\d+ -\d+\))? \| fc2 d=0\.\d{3} k=\d+ abl=\d+( \(\+\d+ -\d+\))? \| fc3 d=/gm)?.length, 4, r.err);
      assert.match(r.err, /layer +kind +shape +nnz +density +fan-in k +active +ablated\n/);
      assert.ok(sparse.layers.some((l) => l.ablatedNeurons > 0), `nothing ablated: ${JSON.stringify(sparse.layers)}`);
      const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(lines[2].sparse.map((l: { k: number }) => l.k), sparse.layers.map((l) => l.k));
      // Per epoch, neurons ablated and revived by that epoch's updates: their running sum is the ablated count.
      for (const [j, l] of sparse.layers.entries()) {
        let sum = 0;
        for (const line of lines) {
          const e = line.sparse[j] as { name: string; ablatedNeurons: number; newlyAblated: number; revived: number };
          assert.equal(e.name, l.name);
          sum += e.newlyAblated - e.revived;
          assert.equal(sum, e.ablatedNeurons, `${l.name}, epoch ${line.epoch}`);
        }
      }
      // The epoch log shows exactly the changes metrics.jsonl records.
      const logged = [...r.err.matchAll(/(\w+) d=[^|\n]* abl=\d+ \(\+(\d+) -(\d+)\)/g)].map((x) => `${x[1]} +${x[2]} -${x[3]}`);
      const recorded = lines.flatMap((line) =>
        (line.sparse as { name: string; newlyAblated: number; revived: number }[]).filter((e) => e.newlyAblated + e.revived > 0).map((e) => `${e.name} +${e.newlyAblated} -${e.revived}`),
      );
      assert.ok(recorded.length > 0, 'no epoch ablated or revived a neuron');
      assert.deepEqual(logged, recorded);

      const path = join(out, 'model.safetensors');
      const engine = await createEngine({ backend: 'reference' });
      try {
        const loaded = loadModel(engine, path);
        assert.deepEqual(loaded.info.sparse, sparse);
        for (const l of loaded.model.sparsifiable()) {
          const meta = sparse.layers.find((x) => x.name === l.name);
          assert.ok(meta !== undefined && meta.k !== null, l.name);
          const mask = Uint8Array.from(l.weight.mask?.data ?? []);
          const ablated = new Uint8Array(l.out);
          for (const row of meta.ablatedRows) ablated[row] = 1;
          assertConstantFanIn(mask, l.out, l.fanIn, meta.k, ablated);
          const w = l.weight.value.data;
          for (let i = 0; i < w.length; i++) if (mask[i] === 0) assert.equal(w[i], 0, `${l.name} masked weight ${i}`);
          for (const row of meta.ablatedRows) {
            assert.equal(l.bias?.value.data[row], 0, `${l.name} ablated neuron ${row} bias`);
            assert.equal(l.bias?.mask?.data[row], 0, `${l.name} ablated neuron ${row} bias mask`);
          }
          if (l.isClassifier) assert.equal(meta.ablatedNeurons, 0);
        }
      } finally {
        await engine.close();
      }
      const e = await run('eval', path, '--data', SUBSET, '--limit-test', '200', '--json');
      assert.equal(e.code, 0, e.err);
      assert.equal(JSON.parse(e.out).accuracy, summary.final.testAcc);
    });
  });

  test('each method runs and saves its masks; the same seed gives the same masks, another seed others', async () => {
    await withTempDir('srigl-cli-sparse-', async (dir) => {
      const masks = new Map<string, Map<string, Uint8Array>>();
      const runs: [string, string[]][] = [
        ['dense', ['--method', 'dense']],
        ['static', ['--method', 'static', '--distribution', 'uniform']],
        ['set', ['--method', 'set']],
        ['rigl', ['--method', 'rigl', '--grad-accumulation', '2']],
        ['srigl-noabl', ['--method', 'srigl', '--no-ablation']],
        ['srigl-a', ['--method', 'srigl', '--seed', '4']],
        ['srigl-b', ['--method', 'srigl', '--seed', '4']],
        ['srigl-c', ['--method', 'srigl', '--seed', '5']],
      ];
      for (const [name, extra] of runs) {
        const out = join(dir, name);
        const isDense = name === 'dense';
        const r = await run('train', ...TINY.filter((a, i) => !(isDense && (a === '--delta-t' || TINY[i - 1] === '--delta-t'))), ...extra, '--out', out, '--json', '--quiet');
        assert.equal(r.code, 0, `${name}: ${r.err}`);
        const summary = JSON.parse(r.out);
        const m = masksOf(join(out, 'model.safetensors'));
        masks.set(name, m);
        if (isDense) {
          assert.equal(m.size, 0);
          assert.equal(summary.sparse.method, 'dense');
        } else {
          assert.ok(m.has('fc1.weight.mask') && m.has('fc2.weight.mask'), `${name}: ${[...m.keys()]}`);
          const density = summary.sparse.nnz / summary.sparse.totalWeights;
          assert.ok(density <= 0.1 + 1e-9 && density > 0.09, `${name}: density ${density}`);
          assert.equal(summary.sparse.updates, name === 'static' ? 0 : 4, name);
        }
      }
      assert.deepEqual(masks.get('srigl-a'), masks.get('srigl-b'));
      assert.notDeepEqual(masks.get('srigl-a'), masks.get('srigl-c'));
    });
  });

  test('a dynamic method that would make no topology update says so (even with --quiet); static does not', async () => {
    await withTempDir('srigl-cli-sparse-', async (out) => {
      // 24 steps, T_end 18 ≤ ΔT 100: no update.
      const none = ['--data', SUBSET, '--limit-train', '256', '--limit-test', '50', '--epochs', '3', '--batch-size', '32', '--threads', '1', '--quiet'];
      const r = await run('train', ...none, '--method', 'rigl', '--out', join(out, 'a'), '--json');
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, /warning: rigl will make no topology update: T_end is step 18 of 24 and --delta-t is 100/);
      assert.equal(JSON.parse(r.out).sparse.updates, 0);
      const s = await run('train', ...none, '--method', 'static', '--out', join(out, 'b'));
      assert.equal(s.code, 0, s.err);
      assert.ok(!s.err.includes('warning'), s.err);
    });
  });

  test('--help documents the sparse options; bad sparse input is a usage error naming the option', async () => {
    const help = await run('train', '--help');
    for (const opt of ['--method', '--sparsity', '--distribution', '--dense-first', '--sparsity-override', '--ablation', '--gamma-sal', '--delta-t', '--alpha', '--t-end', '--grad-accumulation']) {
      const line = help.out.split('\n').find((l) => l.trimStart().startsWith(opt + ' ') || l.trimStart().startsWith(opt + ','));
      assert.ok(line, `train --help lacks ${opt}`);
      assert.match(line, /Default/, `${opt} help names no default`);
    }
    const cases: [string[], RegExp][] = [
      [['--method', 'magic'], /--method expects one of dense, static, set, rigl, srigl, got "magic"/],
      [['--method', 'rigl', '--sparsity', '1'], /--sparsity expects a number in \[0, 1\), got "1"/],
      [['--method', 'rigl', '--ablation'], /--ablation and --gamma-sal apply to --method srigl only/],
      [['--method', 'dense', '--sparsity', '0.5'], /--sparsity needs a sparse --method/],
      [['--method', 'dense', '--condense'], /--condense needs a sparse --method/],
      [['--method', 'srigl', '--sparsity-override', 'fc1'], /--sparsity-override expects comma-separated name=value pairs/],
      [['--method', 'srigl', '--sparsity-override', 'fc1=1'], /--sparsity-override expects values < 1/],
      [['--method', 'srigl', '--sparsity-override', 'fc9=0.5', '--data', SUBSET, '--limit-train', '64', '--threads', '1'], /override for unknown layer 'fc9'/],
      [['--method', 'srigl', '--dense-first', '--data', SUBSET, '--limit-train', '64', '--threads', '1'], /infeasible/],
      [['--method', 'srigl', '--delta-t', '10', '--grad-accumulation', '11'], /--grad-accumulation 11 exceeds --delta-t 10/],
      [['--method', 'srigl', '--alpha', '1.5'], /--alpha expects a number in \[0, 1\]/],
    ];
    for (const [argv, re] of cases) {
      await withTempDir('srigl-cli-sparse-', async (out) => {
        const r = await run('train', ...argv, '--out', out, '--quiet');
        assert.equal(r.code, 2, `${argv.join(' ')} → ${r.code}: ${r.err}`);
        assert.match(r.err, re, argv.join(' '));
      });
    }
  });
});
