import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, type BackendName } from '../../src/kernels/engine.js';
import { Model, type ModelSpec } from '../../src/nn/models.js';
import { assertConstantFanIn, nnz } from '../../src/sparse/mask.js';
import type { SparseMethod } from '../../src/dst/topology.js';
import { train, type StepInfo } from '../../src/train/loop.js';
import { createOptimizer, type Optimizer, type OptimizerOptions } from '../../src/train/optimizer.js';
import { SparseTraining, formatSparseLine, formatSparseTable, type SparseTrainingOptions, type SparseUpdateEvent } from '../../src/train/sparse.js';
import { Rng } from '../../src/tensor/rng.js';
import { sequentialBatches, syntheticExamples } from './helpers.js';

const BACKEND = (process.env.SRIGL_TEST_BACKEND ?? 'reference') as BackendName;
const MLP: ModelSpec = { arch: 'mlp', inputShape: [1, 28, 28], classes: 4 };

/**
 * Masked weights and their optimizer state exactly 0; SRigL: constant fan-in, ablated rows and
 * biases (and bias state) 0. A compact layer (sparse compute) is read through its dense view;
 * it must list exactly the topology's active weights.
 */
function checkInvariants(sparse: SparseTraining, model: Model, optimizer: Optimizer, where: string): void {
  const srigl = sparse.options.method === 'srigl';
  for (const l of model.sparsifiable()) {
    const mask = sparse.topology.mask(l.name);
    if (mask === null) {
      assert.equal(l.weight.mask, null, `${where}: dense layer ${l.name} has a mask`);
      continue;
    }
    const pm = l.weight.denseMask();
    assert.ok(pm !== null, `${where}: ${l.name} has no Param mask`);
    const compact = l.weight.compact;
    if (compact !== null) assert.equal(compact.count, nnz(mask), `${where}: ${l.name} lists ${compact.count} weights, the mask holds ${nnz(mask)}`);
    const w = l.weight.denseValues();
    const states = optimizer.state(l.weight).map((t) => (compact === null ? t.data : l.weight.scatter(t.data)));
    for (let i = 0; i < mask.length; i++) {
      assert.equal(pm[i], mask[i], `${where}: ${l.name} Param mask differs from the topology at ${i}`);
      if (mask[i] === 0) {
        assert.equal(w[i], 0, `${where}: ${l.name} masked weight ${i} is ${w[i]}`);
        for (const s of states) assert.equal(s[i], 0, `${where}: ${l.name} optimizer state at masked ${i} is ${s[i]}`);
      }
    }
    if (srigl) {
      const ablated = sparse.topology.ablatedRows(l.name);
      const stats = sparse.stats().find((s) => s.name === l.name);
      assertConstantFanIn(mask, l.out, l.fanIn, stats?.k as number, ablated);
      if (l.bias !== null) {
        const biasStates = optimizer.state(l.bias).map((t) => t.data);
        for (let r = 0; r < l.out; r++) {
          if (!ablated[r]) continue;
          assert.equal(l.bias.value.data[r], 0, `${where}: ${l.name} ablated neuron ${r} has bias ${l.bias.value.data[r]}`);
          for (const s of biasStates) assert.equal(s[r], 0, `${where}: ${l.name} ablated neuron ${r} has bias state ${s[r]}`);
        }
      }
    }
  }
}

interface RunResult {
  sparse: SparseTraining;
  model: Model;
  events: SparseUpdateEvent[];
  acc: number;
  close(): Promise<void>;
}

/** Trains the mlp on a synthetic task with frequent updates, checking the invariants after every step. */
async function run(options: SparseTrainingOptions, opt: OptimizerOptions = { kind: 'sgd' }, epochs = 4): Promise<RunResult> {
  const engine = await createEngine({ backend: BACKEND });
  const model = new Model(engine, MLP, { maxBatch: 16, seed: options.seed ?? 0 });
  const sparse = SparseTraining.create(model, options);
  const data = syntheticExamples(64, 4, 11);
  const events: SparseUpdateEvent[] = [];
  let before: Uint8Array[] = [];
  let updated = false;
  let optimizer: Optimizer | null = null;
  const result = await train({
    model, trainData: sequentialBatches(data, 16), testData: data, epochs, optimizer: opt, lr: opt.kind === 'sgd' ? 0.05 : 0.003,
    hooks: (o) => {
      optimizer = o;
      const inner = sparse.hooks(o, (e) => {
        events.push(e);
        updated = true;
      });
      return {
        beforeStep: inner.beforeStep,
        afterBackward: (info: StepInfo) => {
          before = model.sparsifiable().map((l) => sparse.topology.mask(l.name)?.slice() ?? new Uint8Array(0));
          updated = false;
          inner.afterBackward?.(info);
        },
        afterStep: (info: StepInfo) => {
          checkInvariants(sparse, model, o, `step ${info.step}`);
          if (!updated) return;
          // Regrown weights are still exactly 0 after the update step, and so is their state.
          model.sparsifiable().forEach((l, j) => {
            const mask = sparse.topology.mask(l.name);
            if (mask === null) return;
            const states = o.state(l.weight).map((t) => (l.weight.compact === null ? t.data : l.weight.scatter(t.data)));
            const w = l.weight.denseValues();
            for (let i = 0; i < mask.length; i++) {
              if (mask[i] === 1 && before[j][i] === 0) {
                assert.equal(w[i], 0, `step ${info.step}: ${l.name} regrown weight ${i} moved`);
                for (const s of states) assert.equal(s[i], 0);
              }
            }
          });
        },
      };
    },
  });
  assert.ok(optimizer !== null);
  return { sparse, model, events, acc: result.history.at(-1)?.testAcc ?? 0, close: () => engine.close() };
}

const FAST = { deltaT: 2, tEnd: 0.75 } as const;

describe(`sparse training (${BACKEND})`, () => {
  test('SRigL with ablation at 99%: several updates, invariants after every step, neurons ablated, classifier intact', async () => {
    // γ_sal 0.9: with k0 = 6 the default 0.3 asks for a single salient weight per row, too few to ablate in 16 steps.
    const r = await run({ method: 'srigl', sparsity: 0.99, gammaSal: 0.9, ...FAST, seed: 1 });
    try {
      // 4 steps/epoch × 4 epochs = 16 steps, T_end = 12: updates at 2, 4, …, 10.
      assert.deepEqual(r.events.map((e) => e.step), [2, 4, 6, 8, 10]);
      const info = r.sparse.info();
      assert.equal(info.updates, 5);
      const fc1 = info.layers.find((l) => l.name === 'fc1');
      assert.ok(fc1 !== undefined && fc1.ablatedNeurons > 0, `no neuron ablated in fc1 at 99%: ${JSON.stringify(fc1)}`);
      assert.equal(fc1.ablatedRows.length, fc1.ablatedNeurons);
      assert.ok((fc1.k as number) * (fc1.out - fc1.ablatedNeurons) <= fc1.budget);
      const head = info.layers.find((l) => l.name === 'fc3');
      assert.equal(head?.ablatedNeurons, 0);
      assert.ok(r.acc > 0.5, `accuracy ${r.acc}`);
      assert.match(formatSparseTable(info), /fc1 +linear +300×784/);
    } finally {
      await r.close();
    }
  });

  test('ablation changes: ablated minus revived over the updates is the ablated count; taken once; carried by checkpoint state', async () => {
    const opts: SparseTrainingOptions = { method: 'srigl', sparsity: 0.99, gammaSal: 0.9, ...FAST, seed: 1 };
    const r = await run(opts);
    try {
      const changes = r.sparse.takeAblationChanges();
      for (const l of r.sparse.info().layers) {
        const c = changes.get(l.name) ?? { newlyAblated: 0, revived: 0 };
        assert.equal(c.newlyAblated - c.revived, l.ablatedNeurons, l.name);
        const reports = r.events.flatMap((e) => e.layers).filter((x) => x.name === l.name);
        assert.equal(c.newlyAblated, reports.reduce((a, x) => a + x.newlyAblated, 0), l.name);
        assert.equal(c.revived, reports.reduce((a, x) => a + x.revived, 0), l.name);
      }
      assert.ok((changes.get('fc1')?.newlyAblated ?? 0) > 0, JSON.stringify([...changes]));
      assert.equal(formatSparseLine(r.sparse.stats(), new Map([['fc1', { newlyAblated: 4, revived: 1 }]])).split(' | ')[0].endsWith(' (+4 -1)'), true);
      // Taken: counting starts again, and the checkpoint state has nothing pending.
      assert.equal(r.sparse.takeAblationChanges().size, 0);
      assert.deepEqual(r.sparse.toJSON().ablationChanges, {});
      // Changes pending at a mid-epoch checkpoint come back on restore; bad ones are named; older states have none.
      const state = { ...r.sparse.toJSON(), ablationChanges: { fc1: { newlyAblated: 3, revived: 1 } } };
      assert.deepEqual(SparseTraining.restore(r.model, opts, state).takeAblationChanges().get('fc1'), { newlyAblated: 3, revived: 1 });
      assert.throws(() => SparseTraining.restore(r.model, opts, { ...state, ablationChanges: { fc9: { newlyAblated: 1, revived: 0 } } }), /ablationChanges of layer 'fc9'/);
      assert.throws(() => SparseTraining.restore(r.model, opts, { ...state, ablationChanges: { fc1: { newlyAblated: -1, revived: 0 } } }), /ablationChanges of layer 'fc1'/);
      const { ablationChanges: _, ...older } = state;
      assert.equal(SparseTraining.restore(r.model, opts, older).takeAblationChanges().size, 0);
    } finally {
      await r.close();
    }
  });

  test('SRigL without ablation keeps every neuron at fan-in k0; AdamW moments obey the same invariants', async () => {
    const r = await run({ method: 'srigl', sparsity: 0.99, ablation: false, ...FAST, seed: 2 }, { kind: 'adamw' });
    try {
      assert.ok(r.events.length > 0);
      for (const l of r.sparse.info().layers) {
        assert.equal(l.ablatedNeurons, 0, l.name);
        const b = r.sparse.budgets.layers.find((x) => x.name === l.name);
        assert.equal(l.k, b?.dense ? null : b?.k0, l.name);
      }
    } finally {
      await r.close();
    }
  });

  test('every method trains; static never changes its masks, SET/RigL keep the exact budget, dense has no masks', async () => {
    for (const method of ['dense', 'static', 'set', 'rigl'] as SparseMethod[]) {
      const engine = await createEngine({ backend: BACKEND });
      const initial = SparseTraining.create(new Model(engine, MLP, { maxBatch: 16, seed: 3 }), { method, sparsity: 0.9, seed: 3 }).topology.toJSON();
      await engine.close();
      const r = await run({ method, sparsity: 0.9, ...FAST, seed: 3 }, { kind: 'sgd' }, 2);
      try {
        const info = r.sparse.info();
        if (method === 'dense') {
          assert.ok(r.model.parameters().every((p) => p.mask === null));
          assert.equal(info.nnz, info.totalWeights);
          assert.equal(r.events.length, 0);
          continue;
        }
        assert.ok(Math.abs(info.nnz / info.totalWeights - 0.1) < 0.001, `${method}: density ${info.nnz / info.totalWeights}`);
        for (const l of info.layers) assert.equal(l.nnz, l.budget, `${method} ${l.name}`);
        const masksNow = r.sparse.topology.toJSON().layers.map((l) => l.mask);
        const masksThen = initial.layers.map((l) => l.mask);
        if (method === 'static') {
          assert.equal(r.events.length, 0);
          assert.deepEqual(masksNow, masksThen);
        } else {
          assert.ok(r.events.length > 0, method);
          assert.notDeepEqual(masksNow, masksThen, `${method} never changed a mask`);
        }
      } finally {
        await r.close();
      }
    }
  });

  test('same seed → same masks and weights; another seed → other masks', async () => {
    const a = await run({ method: 'srigl', sparsity: 0.95, ...FAST, seed: 5 }, { kind: 'sgd' }, 2);
    const b = await run({ method: 'srigl', sparsity: 0.95, ...FAST, seed: 5 }, { kind: 'sgd' }, 2);
    const c = await run({ method: 'srigl', sparsity: 0.95, ...FAST, seed: 6 }, { kind: 'sgd' }, 2);
    try {
      assert.deepEqual(a.sparse.toJSON(), b.sparse.toJSON());
      assert.deepEqual(a.model.parameters().map((p) => p.denseValues().slice()), b.model.parameters().map((p) => p.denseValues().slice()));
      assert.notDeepEqual(a.sparse.toJSON().topology, c.sparse.toJSON().topology);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  test('first layer dense by default for a conv first layer, sparse for the mlp; overrides fix a layer', async () => {
    const engine = await createEngine({ backend: BACKEND });
    try {
      const cnn = SparseTraining.create(new Model(engine, { ...MLP, arch: 'cnn' }, { maxBatch: 4 }), { method: 'rigl', sparsity: 0.9 });
      assert.equal(cnn.topology.mask('conv1'), null);
      assert.equal(cnn.options.denseFirst, true);
      const mlp = SparseTraining.create(new Model(engine, MLP, { maxBatch: 4 }), { method: 'rigl', sparsity: 0.9, overrides: { fc3: 0.5 } });
      assert.notEqual(mlp.topology.mask('fc1'), null);
      assert.equal(nnz(mlp.topology.mask('fc3') as Uint8Array), 200);
      const stats = mlp.info();
      assert.ok(Math.abs(stats.nnz / stats.totalWeights - 0.1) < 0.001);
      assert.throws(() => SparseTraining.create(new Model(engine, MLP, { maxBatch: 4 }), { method: 'rigl', overrides: { fc9: 0.5 } }), /unknown layer 'fc9'/);
      assert.throws(() => SparseTraining.create(new Model(engine, MLP, { maxBatch: 4 }), { method: 'rigl', sparsity: 0.9, denseFirst: true }), /infeasible/);
    } finally {
      await engine.close();
    }
  });

  test('gradient accumulation: the update grows from the mean dense gradient of the last N steps', async () => {
    const engine = await createEngine({ backend: BACKEND });
    try {
      const rng = new Rng(9);
      const grads = Array.from({ length: 5 }, () => new Model(engine, MLP, { maxBatch: 1 }).sparsifiable().map((l) => Float32Array.from({ length: l.weight.size }, () => rng.normal())));
      /** Feeds grads[0..4] at steps 0..4 (ΔT 4, an update at step 4); `last` replaces step 4's gradient. */
      const masksAfter = (gradAccumulation: number, last?: Float32Array[]): (string | null)[] => {
        const model = new Model(engine, MLP, { maxBatch: 1, seed: 1 });
        // Masked layers: the test writes each step's dense gradient itself (sparse-compute.test.ts covers compact layers).
        const sparse = SparseTraining.create(model, { method: 'rigl', sparsity: 0.9, deltaT: 4, tEnd: 1, gradAccumulation, seed: 1, compute: 'dense' });
        const opt = createOptimizer(engine, model.parameters(), { kind: 'sgd' });
        for (let step = 0; step <= 4; step++) {
          model.sparsifiable().forEach((l, j) => l.weight.grad.data.set(step === 4 && last ? last[j] : grads[step][j]));
          sparse.afterBackward({ step, totalSteps: 100 }, opt);
        }
        return sparse.topology.toJSON().layers.map((l) => l.mask);
      };
      const mean = grads[3].map((g, j) => g.map((v, i) => (v + grads[4][j][i]) / 2));
      const accumulated = masksAfter(2);
      assert.deepEqual(accumulated, masksAfter(1, mean));
      assert.notDeepEqual(accumulated, masksAfter(1));
    } finally {
      await engine.close();
    }
  });
});
