import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { run, SUBSET, withTempDir } from './harness.js';
import { createEngine } from '../../src/kernels/engine.js';
import { buildModel } from '../../src/nn/models.js';
import { saveModel } from '../../src/io/model.js';
import { readCondensed } from '../../src/io/condensed-file.js';
import { constantFanInMask } from '../../src/sparse/mask.js';
import { Rng } from '../../src/tensor/rng.js';

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
    await withTempDir('srigl-export-', async (dir) => {
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
    });
  });

  test('a masked cnn with ablated channels and a dense first conv: export shrinks it, infer reproduces eval', async () => {
    await withTempDir('srigl-export-', async (dir) => {
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
    });
  });

  test('a tiny SRigL 2:4 mlp run: export stores its N:M layers as offsets (fc1 N:M, a layer after ablation falls back to indices), infer reproduces eval, inspect shows N:M in both files', async () => {
    await withTempDir('srigl-export-nm-', async (dir) => {
      const t = await run('train', '--data', SUBSET, '--limit-train', '512', '--limit-test', '100', '--epochs', '2', '--batch-size', '32',
        '--method', 'srigl', '--nm', '2:4', '--distribution', 'uniform', '--gamma-sal', '0.95', '--delta-t', '4', '--out', dir, '--quiet', '--seed', '2', '--threads', '1');
      assert.equal(t.code, 0, t.err);
      const model = join(dir, 'model.safetensors');
      await exportInferMatchesEval(model, dir, false);
      const ex = JSON.parse((await run('export', model, '--out', join(dir, 'again.condensed.safetensors'), '--json')).out);
      const layers = ex.layers as { name: string; format: string; nm: { n: number; m: number } | null; inFeatures: number; fanIn: number }[];
      // fc1 reads the image (always whole): N:M offsets. A layer keeps N:M offsets exactly when no input was dropped.
      assert.deepEqual([layers[0].name, layers[0].format, layers[0].nm], ['fc1', 'nm', { n: 2, m: 4, taps: 1 }]);
      for (const l of layers) assert.equal(l.format, l.inFeatures === l.fanIn ? 'nm' : 'indices', `${l.name}: ${l.inFeatures}/${l.fanIn} inputs kept`);
      const im = await run('inspect', model);
      assert.equal(im.code, 0, im.err);
      assert.match(im.out, /fc1\s+linear\s+300×784\s+\d+\s+[\d.]+\s+k=392\s+2:4\s/);
      const ic = await run('inspect', join(dir, 'again.condensed.safetensors'), '--json');
      assert.equal(ic.code, 0, ic.err);
      const rc = JSON.parse(ic.out) as { layers: { name: string; nm: { n: number; m: number } | null; storage: string }[] };
      assert.deepEqual([rc.layers[0].nm, rc.layers[0].storage], [{ n: 2, m: 4, taps: 1 }, 'nm']);
      // Every layer was trained 2:4; the source facts say so for a layer stored with indices too.
      for (const l of rc.layers) assert.deepEqual([l.nm?.n, l.nm?.m], [2, 4], l.name);
      const text = (await run('inspect', join(dir, 'again.condensed.safetensors'))).out;
      assert.match(text, /fc1\s+linear\s+300×784\s+\d+\s+[\d.]+\s+k=392\s+2:4 \(offsets\)/);
    });
  });

  test('a tiny SRigL resnet run: export folds its BatchNorms (version 3 file), infer reproduces eval', async () => {
    await withTempDir('srigl-export-resnet-', async (dir) => {
      const t = await run('train', '--model', 'resnet', '--data', SUBSET, '--limit-train', '64', '--limit-test', '50', '--epochs', '1', '--batch-size', '32',
        '--method', 'srigl', '--sparsity', '0.9', '--delta-t', '1', '--no-condense', '--out', dir, '--quiet', '--seed', '3', '--threads', '1');
      assert.equal(t.code, 0, t.err);
      const model = join(dir, 'model.safetensors');
      await exportInferMatchesEval(model, dir, false);
      const ex = JSON.parse((await run('export', model, '--out', join(dir, 'again.condensed.safetensors'), '--json')).out);
      assert.equal(ex.arch, 'resnet');
      const layers = ex.layers as { name: string; kind: string; batchNorm: string | null }[];
      assert.equal(layers.length, 22);
      assert.deepEqual(layers.filter((l) => l.kind === 'conv2d' && l.batchNorm === null), []);
      assert.equal(layers.find((l) => l.name === 'layer2.0.downsample.0')?.batchNorm, 'layer2.0.downsample.1');
      assert.equal(readCondensed(join(dir, 'again.condensed.safetensors')).metadata.version, '3');
    });
  });

  test('usage errors are reported', async () => {
    assert.match((await run('export')).err, /expected one MODEL file, got none/);
    assert.equal((await run('infer')).code, 2);
    assert.equal((await run('export', '--help')).code, 0);
    assert.equal((await run('infer', '--help')).code, 0);
  });
});
