import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run, SUBSET, withTempDir } from './harness.js';
import { loadCondensed } from '../../src/io/condensed-file.js';
import { loadSplit } from '../../src/data/locate.js';
import { normalizeSplit } from '../../src/data/normalize.js';

/** Test accuracy of a condensed file on the first `n` test images of the embedded subset, computed here. */
async function condensedAccuracy(file: string, n: number): Promise<number> {
  const { data } = await loadSplit('fashion-mnist', 'test', { dir: SUBSET });
  const test = normalizeSplit(data);
  const model = await loadCondensed(file);
  try {
    const logits = model.predict(test.x.subarray(0, n * test.features), n);
    let correct = 0;
    for (let b = 0; b < n; b++) {
      let best = 0;
      for (let c = 1; c < model.classes; c++) if (logits[b * model.classes + c] > logits[b * model.classes + best]) best = c;
      if (best === test.labels[b]) correct++;
    }
    return correct / n;
  } finally {
    await model.close();
  }
}

describe('the default srigl train', () => {
  test('is SRigL at 90% (ERK, ablation on), condensed beside the model, with the comparison in text and JSON', async () => {
    await withTempDir('srigl-default-', async (out) => {
      // The default command, only made small: no --method, no sparse option.
      const argv = ['train', '--data', SUBSET, '--limit-train', '640', '--limit-test', '300', '--epochs', '2', '--out', out];
      const r = await run(...argv, '--json');
      assert.equal(r.code, 0, r.err);
      const s = JSON.parse(r.out);
      assert.equal(s.sparse.method, 'srigl');
      assert.equal(s.sparse.sparsity, 0.9);
      assert.equal(s.sparse.distribution, 'erk');
      assert.equal(s.sparse.ablation, true);
      assert.ok(Math.abs(s.sparse.nnz / s.sparse.totalWeights - 0.1) < 0.005, `density ${s.sparse.nnz / s.sparse.totalWeights}`);

      const file = join(out, 'model.condensed.safetensors');
      assert.ok(existsSync(file), 'model.condensed.safetensors was not written');
      const c = s.condensed;
      assert.equal(c.path, file);
      assert.equal(c.condensedFileBytes, statSync(file).size);
      assert.equal(c.denseFileBytes, statSync(join(out, 'model.safetensors')).size);
      assert.ok(c.condensedFileBytes * 4 < c.denseFileBytes, `condensed ${c.condensedFileBytes} B vs ${c.denseFileBytes} B`);
      assert.equal(c.denseWeights, s.sparse.totalWeights);
      // Kept neurons × k: the nnz, plus any padding to k.
      assert.equal(c.storedWeights, c.layers.reduce((a: number, l: { nActive: number; k: number }) => a + l.nActive * l.k, 0));
      assert.ok(c.storedWeights >= s.sparse.nnz && c.storedWeights < 0.15 * c.denseWeights, `${c.storedWeights} stored weights`);

      // The saved model's accuracy (dense kernels over the masked weights), the condensed model's,
      // and the condensed file's computed here: one number. The training loop evaluated the same
      // weights with sparse compute (another summation order): at most one near-tie may differ.
      assert.equal(c.accuracy.n, 300);
      assert.equal(c.accuracy.condensed, c.accuracy.trained);
      assert.equal(c.accuracy.differingPredictions, 0);
      assert.equal(await condensedAccuracy(file, 300), c.accuracy.trained);
      assert.ok(Math.abs(c.accuracy.trained - s.final.testAcc) <= 1 / 300, `saved model ${c.accuracy.trained} vs the loop's ${s.final.testAcc}`);

      assert.deepEqual(c.latency.map((l: { batch: number }) => l.batch), [1, 256]);
      for (const l of c.latency) {
        assert.ok(l.denseUs > 0 && l.condensedUs > 0, JSON.stringify(l));
        assert.ok(Math.abs(l.speedup - l.denseUs / l.condensedUs) < 1e-9);
      }
      assert.deepEqual(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).condensed, c);

      // The text output carries the same comparison.
      for (const re of [/condensed model: .*model\.condensed\.safetensors/, /weights\s+266,200\s+[\d,]+\s+[\d.]+× fewer/, /file\s+[\d,]+ B\s+[\d,]+ B\s+[\d.]+× smaller/,
        /test accuracy\s+[\d.]+%\s+[\d.]+%\s+same predictions on all 300 test images/, /latency, batch 1 .*× faster/, /latency, batch 256 .*× faster/, /Node v\d+/]) {
        assert.match(r.err, re);
      }
    });
  });

  test('--method dense trains the dense network and condenses nothing; --no-condense skips the step', async () => {
    await withTempDir('srigl-default-', async (out) => {
      const small = ['--data', SUBSET, '--limit-train', '256', '--limit-test', '100', '--epochs', '1', '--quiet', '--json'];
      const d = await run('train', ...small, '--method', 'dense', '--out', join(out, 'd'));
      assert.equal(d.code, 0, d.err);
      assert.equal(JSON.parse(d.out).sparse.method, 'dense');
      assert.equal(JSON.parse(d.out).condensed, null);
      assert.ok(!existsSync(join(out, 'd', 'model.condensed.safetensors')));
      const n = await run('train', ...small, '--no-condense', '--out', join(out, 'n'));
      assert.equal(n.code, 0, n.err);
      assert.equal(JSON.parse(n.out).sparse.method, 'srigl');
      assert.equal(JSON.parse(n.out).condensed, null);
      assert.ok(!existsSync(join(out, 'n', 'model.condensed.safetensors')));
    });
  });
});
