import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchIterator } from '../../src/data/batches.js';
import { latestCheckpoint, listCheckpoints, writeCheckpoint } from '../../src/io/checkpoint.js';
import { createEngine, type BackendName } from '../../src/kernels/engine.js';
import { Model, type ModelSpec } from '../../src/nn/models.js';
import { captureTrainState, restoreTrainState } from '../../src/train/checkpoint.js';
import { train } from '../../src/train/loop.js';
import type { OptimizerOptions } from '../../src/train/optimizer.js';
import { SparseTraining, type SparseTrainingOptions, type SparseTrainingState } from '../../src/train/sparse.js';
import { syntheticExamples } from './helpers.js';

const BACKEND = (process.env.SRIGL_TEST_BACKEND ?? 'reference') as BackendName;
const SPEC: ModelSpec = { arch: 'mlp', inputShape: [1, 28, 28], classes: 4 };
const DATA = syntheticExamples(96, 4, 7);
/** 96 examples in batches of 16: 6 steps per epoch, 24 in all; N = 10 stops mid-epoch. */
const EPOCHS = 4;
const TOTAL = 24;
const N = 10;

interface Snapshot {
  tensors: Map<string, Uint8Array>;
  topology: string;
  updates: number[];
  lastTrainLoss: number;
  optimizerSteps: number;
}

/**
 * One training session in `dir`: fresh engine, model and data iterator; resumes from the
 * latest checkpoint there when `resume`, stops after `stopAfterStep` when given. Returns every
 * weight, mask and optimizer-state tensor as bytes, and the topology.
 */
async function session(dir: string, optimizer: OptimizerOptions, sparseOpts: SparseTrainingOptions, opts: { resume?: boolean; stopAfterStep?: number; checkpointEvery?: number }): Promise<Snapshot> {
  const engine = await createEngine({ backend: BACKEND });
  try {
    const model = new Model(engine, SPEC, { maxBatch: 16, seed: 1 });
    const batches = new BatchIterator(DATA, { batchSize: 16, seed: 3 });
    const ckpt = opts.resume ? latestCheckpoint(dir) : null;
    if (opts.resume) assert.ok(ckpt, 'a checkpoint to resume from');
    const sparse = ckpt ? SparseTraining.restore(model, sparseOpts, ckpt.captured.state.extra.sparse as SparseTrainingState) : SparseTraining.create(model, sparseOpts);
    const updates: number[] = [];
    const result = await train({
      model, trainData: batches, testData: DATA, epochs: EPOCHS, optimizer, lr: optimizer.kind === 'sgd' ? 0.05 : 0.003, warmupEpochs: 0.5,
      hooks: (o) => sparse.hooks(o, (e) => updates.push(e.step)),
      resume: ckpt ? (o) => restoreTrainState(ckpt.captured, { model, optimizer: o, data: batches }).loop : undefined,
      checkpointEvery: opts.checkpointEvery ?? 0,
      onCheckpoint: (pos, o) => {
        writeCheckpoint(dir, captureTrainState({ model, optimizer: o, data: batches }, pos, { sparse: sparse.toJSON() }), { spec: model.spec, keep: 2 });
      },
      stopAfterStep: opts.stopAfterStep,
    });
    const tensors = new Map<string, Uint8Array>();
    const bytes = (a: Float32Array): Uint8Array => new Uint8Array(a.slice().buffer);
    for (const p of model.parameters()) {
      tensors.set(p.name, bytes(p.value.data));
      if (p.mask) tensors.set(`${p.name}.mask`, bytes(p.mask.data));
      result.optimizer.state(p).forEach((t, i) => tensors.set(`${p.name}.state${i}`, bytes(t.data)));
    }
    return { tensors, topology: JSON.stringify(sparse.topology.toJSON()), updates, lastTrainLoss: result.history.at(-1)?.trainLoss ?? NaN, optimizerSteps: result.optimizer.steps };
  } finally {
    await engine.close();
  }
}

const CASES: { name: string; optimizer: OptimizerOptions; sparse: SparseTrainingOptions }[] = [
  { name: 'SRigL with ablation, SGD + Nesterov', optimizer: { kind: 'sgd' }, sparse: { method: 'srigl', sparsity: 0.9, deltaT: 4, alpha: 0.3, seed: 5 } },
  { name: 'SET (random regrowth from the RNG), AdamW', optimizer: { kind: 'adamw' }, sparse: { method: 'set', sparsity: 0.8, deltaT: 4, seed: 6 } },
  { name: 'SRigL N:M 1:4 with eager ablation', optimizer: { kind: 'sgd' }, sparse: { method: 'srigl', nm: { n: 1, m: 4 }, gammaSal: 0.9, deltaT: 4, seed: 7 } },
  { name: 'SRigL with fc1 at a fixed fan-in of 8', optimizer: { kind: 'sgd' }, sparse: { method: 'srigl', sparsity: 0.9, fanIn: { fc1: 8 }, gammaSal: 0.9, deltaT: 4, seed: 8 } },
];

describe(`resume (${BACKEND})`, () => {
  for (const c of CASES) {
    test(`${c.name}: ${TOTAL} steps straight vs ${N}, stop, resume is bitwise identical across topology updates`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'srigl-resume-'));
      try {
        const straight = await session(join(dir), c.optimizer, c.sparse, {});
        const interrupted = mkdtempSync(join(dir, 'run-'));
        const first = await session(interrupted, c.optimizer, c.sparse, { stopAfterStep: N, checkpointEvery: 3 });
        assert.equal(first.optimizerSteps, N);
        assert.deepEqual(listCheckpoints(interrupted).map((e) => e.step), [9, N], 'checkpoints every 3 steps, the last 2 kept, one at the stop');
        const resumed = await session(interrupted, c.optimizer, c.sparse, { resume: true, checkpointEvery: 3 });
        assert.ok(first.updates.length > 0 && resumed.updates.length > 0, `topology updates on both sides of the stop: ${first.updates} | ${resumed.updates}`);
        assert.deepEqual([...first.updates, ...resumed.updates], straight.updates, 'the same update steps');
        assert.equal(resumed.optimizerSteps, TOTAL);
        assert.equal(resumed.topology, straight.topology, 'masks, k and ablated rows');
        assert.deepEqual([...resumed.tensors.keys()], [...straight.tensors.keys()]);
        for (const [name, bytes] of straight.tensors) assert.ok(Buffer.from(bytes).equals(Buffer.from(resumed.tensors.get(name) as Uint8Array)), `${name} differs bitwise`);
        assert.equal(resumed.lastTrainLoss, straight.lastTrainLoss, 'epoch running sums restored');
        assert.equal(listCheckpoints(interrupted).at(-1)?.step, TOTAL, 'a final checkpoint');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test('a checkpoint from another configuration is refused before anything is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'srigl-resume-'));
    const engine = await createEngine({ backend: BACKEND });
    try {
      await session(dir, { kind: 'sgd' }, { method: 'dense' }, { stopAfterStep: 3 });
      const ckpt = latestCheckpoint(dir);
      assert.ok(ckpt);
      const model = new Model(engine, SPEC, { maxBatch: 16, seed: 9 });
      const before = model.parameters()[0].value.data.slice();
      const batches = new BatchIterator(DATA, { batchSize: 16, seed: 3 });
      await assert.rejects(
        train({ model, trainData: batches, epochs: 1, optimizer: { kind: 'adamw' }, lr: 0.1, resume: (o) => restoreTrainState(ckpt.captured, { model, optimizer: o, data: batches }).loop }),
        /optimizer options .* differ/,
      );
      assert.deepEqual(model.parameters()[0].value.data, before, 'weights untouched');
    } finally {
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
