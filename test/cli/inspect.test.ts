import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, withTempDir } from './harness.js';
import type { InspectReport } from '../../src/cli/commands/inspect.js';
import { saveModel } from '../../src/io/model.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { createEngine } from '../../src/kernels/engine.js';
import { Model } from '../../src/nn/models.js';

describe('srigl inspect', () => {
  test('a masked model: per-layer nnz, sparsity, constant fan-in k, ablated neurons, size; table and --json', async () => {
    await withTempDir('srigl-inspect-', async (dir) => {
      const engine = await createEngine({ backend: 'reference' });
      try {
        const model = new Model(engine, { arch: 'mlp', inputShape: [1, 4, 4], classes: 3 }, { maxBatch: 1 });
        const fc3 = model.sparsifiable().find((l) => l.name === 'fc3');
        const fc2 = model.sparsifiable().find((l) => l.name === 'fc2');
        assert.ok(fc3 && fc2);
        // fc3: rows 0 and 2 keep 7 inputs each, row 1 is ablated. fc2: fan-in varies by row.
        fc3.weight.setMask(Uint8Array.from({ length: 300 }, (_, i) => (Math.floor(i / 100) !== 1 && i % 100 < 7 ? 1 : 0)));
        fc2.weight.setMask(Uint8Array.from({ length: 30000 }, (_, i) => (i % 300 <= Math.floor(i / 300) ? 1 : 0)));
        const path = join(dir, 'm.safetensors');
        saveModel(path, model, { sparse: { method: 'srigl', sparsity: 0.5 } });

        const j = await run('inspect', path, '--json');
        assert.equal(j.code, 0, j.err);
        const r = JSON.parse(j.out) as InspectReport;
        assert.equal(r.layout, 'masked');
        assert.deepEqual(r.layers.map((l) => l.name), ['fc1', 'fc2', 'fc3']);
        const [l1, l2, l3] = r.layers;
        assert.deepEqual([l1.nnz, l1.k, l1.ablated, l1.shape], [300 * 16, 16, [], [300, 16]]);
        assert.deepEqual([l2.nnz, l2.k, l2.fanInRange], [(100 * 101) / 2, null, [1, 100]]);
        assert.deepEqual([l3.nnz, l3.k, l3.ablated, l3.density], [14, 7, [1], 14 / 300]);
        assert.equal(r.nnz, 4800 + 5050 + 14);
        assert.equal(r.weights, 4800 + 30000 + 300);
        assert.equal(r.denseBytes, 4 * model.stateTensors().reduce((a, t) => a + t.size, 0));
        assert.deepEqual(r.sparse, { method: 'srigl', sparsity: 0.5 });

        const t = await run('inspect', path);
        assert.equal(t.code, 0);
        assert.match(t.out, /fc3\s+linear\s+3×100\s+14\s+0\.9533\s+k=7\s+1 \(1\)/);
        assert.match(t.out, /fc2\s+linear\s+100×300\s+5050\s+0\.8317\s+1–100/);
        assert.match(t.out, /method srigl/);
        assert.match(t.out, /MiB on disk vs .* MiB dense/);
      } finally {
        await engine.close();
      }
    });
  });

  test('a condensed file: k and the dropped (ablated) neurons', async () => {
    await withTempDir('srigl-inspect-', async (dir) => {
      const path = join(dir, 'c.safetensors');
      const ops = [{ kind: 'linear', name: 'fc', outFeatures: 3, inFeatures: 4, nActive: 2, k: 2 }];
      writeFileSync(path, encodeSafetensors(
        [
          { name: 'fc.values', dtype: 'F32', shape: [2, 2], data: Float32Array.of(0.5, -1, 2, 0.25) },
          { name: 'fc.indices', dtype: 'U16', shape: [2, 2], data: Uint16Array.of(0, 3, 1, 2) },
          { name: 'fc.bias', dtype: 'F32', shape: [2], data: Float32Array.of(0.1, -0.1) },
          { name: 'fc.active_map', dtype: 'U32', shape: [2], data: Uint32Array.of(0, 2) },
        ],
        { format: 'srigl-condensed', version: '1', arch: JSON.stringify({ arch: 'mlp', inputShape: [1, 2, 2], classes: 3 }), ops: JSON.stringify(ops), k: '{"fc":2}' },
      ));
      const r = JSON.parse((await run('inspect', path, '--json')).out) as InspectReport;
      assert.equal(r.layout, 'condensed');
      assert.deepEqual(r.layers.map((l) => [l.name, l.nnz, l.k, l.ablated]), [['fc', 4, 2, [1]]]);
    });
  });

  test('N:M: a trained model file shows each layer\'s recorded N:M, a condensed file how each N:M layer is stored', async () => {
    await withTempDir('srigl-inspect-', async (dir) => {
      const engine = await createEngine({ backend: 'reference' });
      try {
        const model = new Model(engine, { arch: 'mlp', inputShape: [1, 4, 4], classes: 3 }, { maxBatch: 1 });
        const fc1 = model.sparsifiable().find((l) => l.name === 'fc1')!;
        // fc1 2:4 over 16 inputs: inputs 0 and 2 of every group of 4.
        fc1.weight.setMask(Uint8Array.from({ length: 300 * 16 }, (_, i) => (i % 2 === 0 ? 1 : 0)));
        const path = join(dir, 'nm.safetensors');
        const layers = [{ name: 'fc1', out: 300, fanIn: 16, k: 8, nm: { n: 2, m: 4, taps: 1 } }, { name: 'fc2', out: 100, fanIn: 300, k: null, nm: null }];
        saveModel(path, model, { sparse: { method: 'srigl', sparsity: 0.5, nm: { n: 2, m: 4 }, layers } });
        const r = JSON.parse((await run('inspect', path, '--json')).out) as InspectReport;
        assert.deepEqual(r.layers.map((l) => [l.name, l.nm]), [['fc1', { n: 2, m: 4, taps: 1 }], ['fc2', null], ['fc3', null]]);
        assert.match((await run('inspect', path)).out, /layer +kind +shape +nnz +sparsity +fan-in +N:M +ablated\nfc1 +linear +300×16 +2400 +0\.5000 +k=8 +2:4 +0\n/);
      } finally {
        await engine.close();
      }
      const c = join(dir, 'c.safetensors');
      const ops = [{ kind: 'linear', name: 'fc', outFeatures: 3, inFeatures: 6, nActive: 2, k: 4, nm: { n: 2, m: 4, taps: 1 } }];
      writeFileSync(c, encodeSafetensors(
        [
          { name: 'fc.values', dtype: 'F32', shape: [2, 4], data: Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8) },
          { name: 'fc.offsets', dtype: 'U8', shape: [2, 4], data: Uint8Array.of(0, 3, 0, 1, 1, 2, 0, 1) },
          { name: 'fc.bias', dtype: 'F32', shape: [2], data: Float32Array.of(0.1, -0.1) },
          { name: 'fc.active_map', dtype: 'U32', shape: [2], data: Uint32Array.of(0, 2) },
        ],
        { format: 'srigl-condensed', version: '2', arch: JSON.stringify({ arch: 'mlp', inputShape: [1, 2, 3], classes: 3 }), ops: JSON.stringify(ops), k: '{"fc":4}' },
      ));
      const rc = JSON.parse((await run('inspect', c, '--json')).out) as InspectReport;
      assert.deepEqual(rc.layers.map((l) => [l.name, l.nnz, l.k, l.ablated, l.nm, l.storage]), [['fc', 8, 4, [1], { n: 2, m: 4, taps: 1 }, 'nm']]);
      assert.match((await run('inspect', c)).out, /fc +linear +3×6 +8 +0\.5556 +k=4 +2:4 \(offsets\) +1 \(1\)/);
    });
  });

  test('a malformed file: exit 1 with the loader error; no file: usage error', async () => {
    await withTempDir('srigl-inspect-', async (dir) => {
      const path = join(dir, 'bad.safetensors');
      writeFileSync(path, Uint8Array.of(1, 2, 3));
      const r = await run('inspect', path);
      assert.equal(r.code, 1);
      assert.match(r.err, /bad\.safetensors: file is 3 bytes, too short/);
      assert.equal((await run('inspect')).code, 2);
      assert.equal((await run('inspect', '--help')).code, 0);
    });
  });
});
