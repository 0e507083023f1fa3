import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchIterator } from '../../src/data/batches.js';
import { latestCheckpoint, listCheckpoints, writeCheckpoint } from '../../src/io/checkpoint.js';
import { createEngine, type BackendName } from '../../src/kernels/engine.js';
import { Model } from '../../src/nn/models.js';
import { captureTrainState } from '../../src/train/checkpoint.js';
import { NonFiniteError } from '../../src/train/guard.js';
import { train } from '../../src/train/loop.js';
import { syntheticExamples } from './helpers.js';

const BACKEND = (process.env.SRIGL_TEST_BACKEND ?? 'reference') as BackendName;

test('NaN/Inf guard: a poisoned layer stops training with an error naming it; the last good checkpoint stays intact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'srigl-guard-'));
  const engine = await createEngine({ backend: BACKEND });
  try {
    const model = new Model(engine, { arch: 'mlp', inputShape: [1, 28, 28], classes: 4 }, { maxBatch: 16, seed: 2 });
    const data = syntheticExamples(64, 4, 3);
    const batches = new BatchIterator(data, { batchSize: 16, seed: 1 });
    const fc2 = model.parameters().find((p) => p.name === 'fc2.bias');
    assert.ok(fc2);
    await assert.rejects(
      train({
        model, trainData: batches, epochs: 3, optimizer: { kind: 'sgd' }, lr: 0.01, checkpointEvery: 2,
        onCheckpoint: (pos, o) => writeCheckpoint(dir, captureTrainState({ model, optimizer: o, data: batches }, pos), { spec: model.spec, keep: 10 }),
        // A gradient overflow in fc2 at step 5 (0-based), after the checkpoints at 2 and 4.
        hooks: { afterBackward: (info) => info.step === 5 && fc2.grad.data.fill(Infinity, 3, 4) },
      }),
      (e: unknown) => {
        assert.ok(e instanceof NonFiniteError, String(e));
        assert.equal(e.layer, 'fc2');
        assert.equal(e.step, 5);
        assert.match(e.message, /step 5: layer "fc2" holds a non-finite value \(fc2\.bias\[3\] = (NaN|-?Infinity)\)/);
        return true;
      },
    );
    assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [2, 4], 'no checkpoint of the bad state');
    const before = readFileSync(join(dir, 'ckpt-4.safetensors'));
    const ckpt = latestCheckpoint(dir, (m) => assert.fail(m));
    assert.equal(ckpt?.step, 4);
    for (const t of ckpt.captured.tensors) if (t.data instanceof Float32Array) assert.ok(t.data.every(Number.isFinite), `${t.name} finite`);
    assert.ok(before.equals(readFileSync(join(dir, 'ckpt-4.safetensors'))));
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a diverging loss names the first layer whose weights went non-finite', async () => {
  const engine = await createEngine({ backend: BACKEND });
  try {
    const model = new Model(engine, { arch: 'mlp', inputShape: [1, 28, 28], classes: 4 }, { maxBatch: 16, seed: 2 });
    const data = syntheticExamples(64, 4, 3);
    await assert.rejects(
      train({ model, trainData: new BatchIterator(data, { batchSize: 16 }), epochs: 50, optimizer: { kind: 'sgd', weightDecay: 0 }, lr: 1e30 }),
      (e: unknown) => e instanceof NonFiniteError && /^fc[123]$|^loss$/.test(e.layer) && /training diverged.* at step \d+/.test(e.message),
    );
  } finally {
    await engine.close();
  }
});
