import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';
import { createEngine } from '../../src/kernels/engine.js';
import { buildModel } from '../../src/nn/models.js';
import { saveModel } from '../../src/io/model.js';
import { constantFanInMask } from '../../src/sparse/mask.js';
import { Rng } from '../../src/tensor/rng.js';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

const SUBSET = join(repoRoot(), 'data', 'fashion-mnist-subset');

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } };
  const code = await main(argv, io);
  return { code, out, err };
}

/** export → infer must reproduce `srigl eval` of the masked model on the same examples. */
async function exportInferMatchesEval(model: string, dir: string, expectDropped: boolean): Promise<void> {
  const file = join(dir, 'model.condensed.safetensors');
  const x = await run('export', model, '--out', file, '--json');
  assert.equal(x.code, 0, x.err);
  const ex = JSON.parse(x.out);
  assert.equal(ex.out, file);
  assert.ok(ex.condensedBytes < ex.denseBytes, `condensed ${ex.condensedBytes} B vs dense ${ex.denseBytes} B`);
  assert.equal(statSync(file).size, ex.condensedBytes);
  if (expectDropped) assert.ok(ex.layers.some((l: { nActive: number; out: number }) => l.nActive < l.out), 'no neuron was dropped');
  const e = await run('eval', model, '--data', SUBSET, '--limit-test', '200', '--json');
  assert.equal(e.code, 0, e.err);
  const i = await run('infer', file, '--data', SUBSET, '--limit-test', '200', '--batch-size', '64', '--latency-samples', '5', '--json');
  assert.equal(i.code, 0, i.err);
  const inf = JSON.parse(i.out);
  assert.equal(inf.n, 200);
  // The same logits up to float summation order: at most one near-tie may flip.
  assert.ok(Math.abs(inf.accuracy - JSON.parse(e.out).accuracy) <= 1 / 200, `infer ${inf.accuracy} vs eval ${JSON.parse(e.out).accuracy}`);
  assert.ok(inf.batch1Us > 0 && inf.batchUs > 0);
  const text = await run('infer', file, '--data', SUBSET, '--limit-test', '70', '--batch-size', '32', '--latency-samples', '3');
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /accuracy [\d.]+%[\s\S]*batch 1 [\d.]+ µs/);
}

describe('srigl export / infer', () => {
  test('a tiny SRigL mlp run (or a masked model if train has no --method): export then infer reproduces eval', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'srigl-export-'));
    try {
      const t = await run('train', '--data', SUBSET, '--limit-train', '512', '--limit-test', '100', '--epochs', '2', '--batch-size', '32',
        '--method', 'srigl', '--sparsity', '0.9', '--delta-t', '4', '--out', dir, '--quiet', '--seed', '1');
      let model = join(dir, 'model.safetensors');
      if (t.code !== 0) {
        assert.match(t.err, /unknown option --method/, t.err);
        model = join(dir, 'masked.safetensors');
        const engine = await createEngine({ threads: 1 });
        const m = buildModel(engine, { arch: 'mlp', inputShape: [1, 28, 28], classes: 10 }, { maxBatch: 1, seed: 1 });
        const rng = new Rng(1);
        for (const l of m.sparsifiable()) {
          const mask = constantFanInMask(l.out, l.fanIn, Math.round(0.1 * l.fanIn), rng);
          if (!l.isClassifier) for (let r = 0; r < l.out; r += 5) { mask.fill(0, r * l.fanIn, (r + 1) * l.fanIn); l.bias!.value.data[r] = 0; }
          l.weight.setMask(mask);
        }
        saveModel(model, m, { dataset: 'fashion-mnist' });
        await engine.close();
      }
      await exportInferMatchesEval(model, dir, false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a masked cnn with ablated channels and a dense first conv: export shrinks it, infer reproduces eval', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'srigl-export-'));
    try {
      const engine = await createEngine({ threads: 1 });
      const m = buildModel(engine, { arch: 'cnn', inputShape: [1, 28, 28], classes: 10 }, { maxBatch: 1, seed: 2 });
      const rng = new Rng(2);
      for (const l of m.sparsifiable()) {
        if (l.isFirst) continue;
        const mask = constantFanInMask(l.out, l.fanIn, Math.round(0.1 * l.fanIn), rng);
        if (!l.isClassifier) for (let r = 1; r < l.out; r += 4) { mask.fill(0, r * l.fanIn, (r + 1) * l.fanIn); l.bias!.value.data[r] = 0; }
        l.weight.setMask(mask);
      }
      const model = join(dir, 'cnn.safetensors');
      saveModel(model, m, { dataset: 'fashion-mnist' });
      await engine.close();
      await exportInferMatchesEval(model, dir, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('usage errors and a resnet are reported', async () => {
    assert.match((await run('export')).err, /expected one MODEL file, got none/);
    assert.equal((await run('infer')).code, 2);
    assert.equal((await run('export', '--help')).code, 0);
    assert.equal((await run('infer', '--help')).code, 0);
    const dir = mkdtempSync(join(tmpdir(), 'srigl-export-'));
    try {
      const engine = await createEngine({ threads: 1 });
      const m = buildModel(engine, { arch: 'resnet', inputShape: [1, 28, 28], classes: 10 }, { maxBatch: 1 });
      saveModel(join(dir, 'r.safetensors'), m, { dataset: 'fashion-mnist' });
      await engine.close();
      const r = await run('export', join(dir, 'r.safetensors'));
      assert.equal(r.code, 1);
      assert.match(r.err, /resnet models are not supported .*BatchNorm/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
