// srigl train --model vit: SRigL by default with the ViT recipe (AdamW, lr 1e-3, weight decay
// 0.05, 1 warm-up epoch, cosine, uniform), masks of constant fan-in on every block Linear, the
// patch embedding dense, condensed after training like the other archs; the saved file loads
// back (eval agrees with training's last evaluation); flags override the recipe; resume from a
// checkpoint finishes identically. Condensed vit export/infer: test/cli/vit-condensed.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run, SUBSET, withTempDir } from './harness.js';
import { loadModel } from '../../src/io/model.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { createEngine } from '../../src/kernels/engine.js';
import { assertConstantFanIn } from '../../src/sparse/mask.js';
import type { SparseRunInfo } from '../../src/train/sparse.js';

/** 128 examples, batch 32: 4 steps an epoch. */
const TINY = ['--model', 'vit', '--data', SUBSET, '--limit-train', '128', '--limit-test', '64', '--batch-size', '32', '--threads', '1'];

describe('srigl train --model vit', () => {
  test('SRigL with the ViT recipe trains, condenses, and saves a file that loads back', async () => {
    await withTempDir('srigl-cli-vit-', async (out) => {
      // ΔT 2 so that the 4 steps (T_end 3) make one topology update.
      const r = await run('train', ...TINY, '--epochs', '1', '--delta-t', '2', '--out', out, '--json');
      assert.equal(r.code, 0, r.err);
      const summary = JSON.parse(r.out);
      assert.ok(Number.isFinite(summary.final.trainLoss) && Number.isFinite(summary.final.testLoss), JSON.stringify(summary.final));
      assert.deepEqual(summary.training.optimizer, { kind: 'adamw', weightDecay: 0.05 });
      assert.equal(summary.training.lr, 0.001);
      assert.equal(summary.training.warmupEpochs, 1);
      assert.equal(summary.training.schedule, 'cosine');
      assert.ok(summary.condensed !== null, 'a sparse vit run condenses');
      // The same logits up to float summation order: at most one near-tie may flip.
      assert.ok(summary.condensed.accuracy.differingPredictions <= 1, JSON.stringify(summary.condensed.accuracy));
      const sparse = summary.sparse as SparseRunInfo;
      assert.equal(sparse.method, 'srigl');
      assert.equal(sparse.distribution, 'uniform');
      assert.equal(sparse.updates, 1);
      assert.equal(sparse.layers[0].name, 'patch_embed.proj');
      assert.equal(sparse.layers[0].density, 1, 'the patch embedding stays dense');
      assert.equal(sparse.layers.at(-1)?.name, 'head');
      assert.equal(sparse.layers.length, 26);

      const path = join(out, 'model.safetensors');
      const engine = await createEngine({ backend: 'reference' });
      try {
        const loaded = loadModel(engine, path);
        assert.equal(loaded.spec.arch, 'vit');
        const checked = new Set<string>();
        for (const l of loaded.model.sparsifiable()) {
          if (!/\.(attn\.(q|k|v|proj)|mlp\.fc[12])$/.test(l.name)) continue;
          const meta = sparse.layers.find((x) => x.name === l.name);
          assert.ok(meta !== undefined && meta.k !== null && meta.k < l.fanIn, l.name);
          const mask = Uint8Array.from(l.weight.mask?.data ?? []);
          const ablated = new Uint8Array(l.out);
          for (const row of meta.ablatedRows) ablated[row] = 1;
          assertConstantFanIn(mask, l.out, l.fanIn, meta.k, ablated);
          checked.add(l.name.replace(/^blocks\.\d+\./, ''));
        }
        assert.deepEqual([...checked].sort(), ['attn.k', 'attn.proj', 'attn.q', 'attn.v', 'mlp.fc1', 'mlp.fc2']);
      } finally {
        await engine.close();
      }
      // eval on the same test examples agrees with the run's last evaluation.
      const e = await run('eval', path, '--data', SUBSET, '--limit-test', '64', '--threads', '1', '--json');
      assert.equal(e.code, 0, e.err);
      const ev = JSON.parse(e.out);
      assert.equal(ev.arch, 'vit');
      assert.equal(ev.accuracy, summary.final.testAcc);
      assert.ok(Math.abs(ev.loss - summary.final.testLoss) < 1e-5, `eval ${ev.loss} vs train ${summary.final.testLoss}`);
      assert.equal(readSafetensors(join(out, 'model.condensed.safetensors')).metadata.version, '4', 'the condensed vit is a format version 4 file');
    });
  });

  test('explicit flags override the recipe', async () => {
    await withTempDir('srigl-cli-vit-flags-', async (out) => {
      const r = await run('train', ...TINY, '--limit-train', '32', '--epochs', '1', '--optimizer', 'sgd', '--lr', '0.05', '--warmup-epochs', '0', '--distribution', 'erk', '--method', 'rigl', '--out', out, '--json', '--quiet');
      assert.equal(r.code, 0, r.err);
      const s = JSON.parse(r.out);
      assert.deepEqual(s.training.optimizer, { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
      assert.equal(s.training.lr, 0.05);
      assert.equal(s.training.warmupEpochs, 0);
      assert.equal(s.sparse.distribution, 'erk');
    });
    await withTempDir('srigl-cli-vit-wd-', async (out) => {
      const r = await run('train', ...TINY, '--limit-train', '32', '--epochs', '1', '--weight-decay', '0.1', '--method', 'dense', '--out', out, '--json', '--quiet');
      assert.equal(r.code, 0, r.err);
      const s = JSON.parse(r.out);
      assert.deepEqual(s.training.optimizer, { kind: 'adamw', weightDecay: 0.1 });
      assert.equal(s.training.lr, 0.001);
      assert.equal(s.training.warmupEpochs, 1);
    });
    const h = await run('train', '--help');
    assert.match(h.out, /vit/);
    assert.match(h.out, /0\.95/);
  });

  test('resume from a checkpoint finishes with the same weights as the uninterrupted run', async () => {
    await withTempDir('srigl-cli-vit-resume-', async (out) => {
      const a = await run('train', ...TINY, '--epochs', '2', '--delta-t', '2', '--checkpoint-every', '4', '--out', out, '--quiet');
      assert.equal(a.code, 0, a.err);
      const whole = readSafetensors(join(out, 'model.safetensors'));
      const saved = join(out, 'uninterrupted.safetensors');
      cpSync(join(out, 'model.safetensors'), saved);
      // Back to the end of epoch 1: drop the last checkpoint and the model.
      rmSync(join(out, 'ckpt-8.safetensors'));
      rmSync(join(out, 'model.safetensors'));
      const b = await run('train', '--resume', out, '--threads', '1', '--quiet');
      assert.equal(b.code, 0, b.err);
      const resumed = readSafetensors(join(out, 'model.safetensors'));
      assert.deepEqual([...resumed.tensors.keys()].sort(), [...whole.tensors.keys()].sort());
      for (const [name, t] of whole.tensors) assert.deepEqual(resumed.tensors.get(name)?.data, t.data, name);
    });
  });
});
