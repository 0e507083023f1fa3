// srigl train --model vit → srigl export → srigl infer: a tiny SRigL vit run exported to the
// condensed format (version 4, every block Linear token-wise) whose condensed predictions on the
// test split reproduce `srigl eval` of the trained model.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { run, SUBSET, withTempDir } from './harness.js';
import { readCondensed } from '../../src/io/condensed-file.js';

describe('srigl export / infer --model vit', () => {
  test('a tiny SRigL vit run: export writes a version 4 condensed file, infer reproduces eval', async () => {
    await withTempDir('srigl-cli-vit-condensed-', async (out) => {
      // 128 examples, batch 32, ΔT 2: one topology update in the epoch.
      const t = await run('train', '--model', 'vit', '--data', SUBSET, '--limit-train', '128', '--limit-test', '64', '--batch-size', '32', '--threads', '1',
        '--epochs', '1', '--delta-t', '2', '--sparsity', '0.9', '--no-condense', '--out', out, '--quiet', '--json');
      assert.equal(t.code, 0, t.err);
      assert.equal(JSON.parse(t.out).condensed, null, '--no-condense skips condensing');
      const model = join(out, 'model.safetensors');
      const file = join(out, 'vit.condensed.safetensors');
      const x = await run('export', model, '--out', file, '--json');
      assert.equal(x.code, 0, x.err);
      const ex = JSON.parse(x.out);
      assert.equal(ex.arch, 'vit');
      assert.ok(ex.condensedBytes < ex.denseBytes / 2, `condensed ${ex.condensedBytes} B vs dense ${ex.denseBytes} B`);
      assert.equal(statSync(file).size, ex.condensedBytes);
      const names = (ex.layers as { name: string }[]).map((l) => l.name);
      assert.equal(names.length, 26, names.join(', '));
      assert.deepEqual([names[0], names[1], names.at(-1)], ['patch_embed.proj', 'blocks.0.attn.q', 'head']);
      // At 90% the block layers store about a tenth of their weights.
      for (const l of ex.layers as { name: string; k: number; fanIn: number; masked: boolean }[]) {
        if (/attn|mlp/.test(l.name)) assert.ok(l.masked && l.k <= Math.ceil(0.1 * l.fanIn) + 1, `${l.name}: k ${l.k} of ${l.fanIn}`);
      }
      const { net, metadata } = readCondensed(file);
      assert.equal(metadata.version, '4');
      assert.equal(net.ops.filter((o) => o.kind === 'attention').length, 4);

      const text = await run('export', model, '--out', join(out, 'again.condensed.safetensors'));
      assert.equal(text.code, 0, text.err);
      assert.match(text.out, /^vit .* → .*again\.condensed\.safetensors$/m);
      assert.match(text.out, /\| blocks\.3\.mlp\.fc2 \| 64\/64 \| \d+\/128 \|/);

      const e = await run('eval', model, '--data', SUBSET, '--limit-test', '64', '--threads', '1', '--json');
      assert.equal(e.code, 0, e.err);
      const i = await run('infer', file, '--data', SUBSET, '--limit-test', '64', '--batch-size', '16', '--latency-samples', '5', '--json');
      assert.equal(i.code, 0, i.err);
      const inf = JSON.parse(i.out);
      assert.equal(inf.arch, 'vit');
      assert.equal(inf.n, 64);
      // The same logits up to float summation order: at most one near-tie may flip.
      assert.ok(Math.abs(inf.accuracy - JSON.parse(e.out).accuracy) <= 1 / 64, `infer ${inf.accuracy} vs eval ${JSON.parse(e.out).accuracy}`);
      assert.ok(inf.batch1Us > 0 && inf.batchUs > 0);
      const shown = await run('infer', file, '--data', SUBSET, '--limit-test', '20', '--batch-size', '8', '--latency-samples', '3');
      assert.equal(shown.code, 0, shown.err);
      assert.match(shown.out, /^vit \(condensed\) on fashion-mnist test .* accuracy [\d.]+%\nlatency: batch 1 [\d.]+ µs/);
    });
  });
});
