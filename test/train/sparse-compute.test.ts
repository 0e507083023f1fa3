// Sparse compute (forward, backward and optimizer over the active weights only) against the
// mask-on-dense path: the same seed and data must give the same masks after every topology
// update and the same weights up to float summation order, for every method.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, type BackendName } from '../../src/kernels/engine.js';
import { Model, type ModelSpec } from '../../src/nn/models.js';
import { train } from '../../src/train/loop.js';
import type { OptimizerOptions } from '../../src/train/optimizer.js';
import { SparseTraining, type ComputeMode, type SparseTrainingOptions } from '../../src/train/sparse.js';
import { sequentialBatches, syntheticExamples } from './helpers.js';

const BACKEND = (process.env.SRIGL_TEST_BACKEND ?? 'auto') as BackendName;

interface Trace {
  /** Every sparse layer's mask after every update, and the update steps. */
  masks: Uint8Array[][];
  steps: number[];
  weights: Float32Array[];
  losses: number[];
  sparseLayers: string[];
  /** Sparse-compute layers whose weight ever got dense storage (none should). */
  denseAllocated: string[];
}

async function runWith(compute: ComputeMode, spec: ModelSpec, options: SparseTrainingOptions, opt: OptimizerOptions, shape: { n: number; batch: number; epochs: number }): Promise<Trace> {
  const engine = await createEngine({ backend: BACKEND, threads: 1 });
  try {
    const model = new Model(engine, spec, { maxBatch: shape.batch, seed: options.seed ?? 0 });
    const sparse = SparseTraining.create(model, { ...options, compute });
    const data = syntheticExamples(shape.n, spec.classes, 5);
    const trace: Trace = { masks: [], steps: [], weights: [], losses: [], denseAllocated: [], sparseLayers: sparse.stats().filter((l) => l.sparseCompute).map((l) => l.name) };
    const names = model.sparsifiable().map((l) => l.name);
    const result = await train({
      model, trainData: sequentialBatches(data, shape.batch), epochs: shape.epochs, optimizer: opt, lr: opt.kind === 'sgd' ? 0.05 : 0.002,
      hooks: (o) => sparse.hooks(o, (e) => {
        trace.steps.push(e.step);
        trace.masks.push(names.map((n) => sparse.topology.mask(n)?.slice() ?? new Uint8Array(0)));
      }),
    });
    trace.losses = result.history.map((h) => h.trainLoss);
    trace.weights = model.parameters().map((p) => p.denseValues().slice());
    trace.denseAllocated = model.sparsifiable().filter((l) => l.weight.compact !== null && l.weight.materialized).map((l) => l.name);
    return trace;
  } finally {
    await engine.close();
  }
}

/** max |a − b| over max |a| across all params. */
function relMaxDiff(a: Float32Array[], b: Float32Array[]): number {
  let d = 0, m = 0;
  a.forEach((x, p) => {
    for (let i = 0; i < x.length; i++) {
      d = Math.max(d, Math.abs(x[i] - b[p][i]));
      m = Math.max(m, Math.abs(x[i]));
    }
  });
  return d / m;
}

const MLP: ModelSpec = { arch: 'mlp', inputShape: [1, 28, 28], classes: 4 };
const CNN: ModelSpec = { arch: 'cnn', inputShape: [1, 28, 28], classes: 4 };

describe(`sparse compute equals the masked dense path (${BACKEND})`, () => {
  const cases: [string, ModelSpec, SparseTrainingOptions, OptimizerOptions, { n: number; batch: number; epochs: number }][] = [
    // 8 steps per epoch × 40 epochs = 320 steps, ΔT 20: 11 updates.
    ['mlp srigl + ablation, sgd', MLP, { method: 'srigl', sparsity: 0.95, gammaSal: 0.9, deltaT: 20, seed: 3 }, { kind: 'sgd' }, { n: 256, batch: 32, epochs: 40 }],
    ['mlp srigl, adamw, grad accumulation 3', MLP, { method: 'srigl', sparsity: 0.9, ablation: false, deltaT: 20, gradAccumulation: 3, seed: 4 }, { kind: 'adamw' }, { n: 256, batch: 32, epochs: 40 }],
    ['mlp rigl', MLP, { method: 'rigl', sparsity: 0.9, deltaT: 20, seed: 5 }, { kind: 'sgd' }, { n: 256, batch: 32, epochs: 40 }],
    ['mlp set', MLP, { method: 'set', sparsity: 0.9, deltaT: 20, seed: 6 }, { kind: 'sgd' }, { n: 256, batch: 32, epochs: 40 }],
    ['mlp static', MLP, { method: 'static', sparsity: 0.99, seed: 7 }, { kind: 'sgd' }, { n: 256, batch: 32, epochs: 40 }],
    // 4 steps per epoch × 12 epochs = 48 steps, ΔT 6: 5 updates (the cnn's Linear fc1 computes sparse).
    ['cnn srigl + ablation', CNN, { method: 'srigl', sparsity: 0.95, gammaSal: 0.9, deltaT: 6, seed: 8 }, { kind: 'sgd' }, { n: 64, batch: 16, epochs: 12 }],
  ];
  for (const [label, spec, options, opt, shape] of cases) {
    test(label, async () => {
      const dense = await runWith('dense', spec, options, opt, shape);
      const sparse = await runWith('sparse', spec, options, opt, shape);
      assert.deepEqual(dense.sparseLayers, [], 'compute dense: no layer computes sparse');
      assert.ok(sparse.sparseLayers.length > 0, 'compute sparse: some layer computes sparse');
      assert.deepEqual(sparse.denseAllocated, [], 'no sparse-compute layer ever held a dense weight and gradient');
      assert.deepEqual(sparse.steps, dense.steps);
      if (options.method !== 'static') assert.ok(dense.steps.length >= 4, `${dense.steps.length} updates`);
      for (let u = 0; u < dense.masks.length; u++) {
        dense.masks[u].forEach((m, l) => assert.deepEqual(sparse.masks[u][l], m, `update ${u} (step ${dense.steps[u]}): layer ${l} masks differ`));
      }
      const diff = relMaxDiff(dense.weights, sparse.weights);
      assert.ok(diff < 1e-3, `weights differ by ${diff.toExponential(2)} of their largest magnitude`);
      dense.losses.forEach((l, e) => assert.ok(Math.abs(l - sparse.losses[e]) < 1e-3 * Math.max(1, l), `epoch ${e + 1}: loss ${l} vs ${sparse.losses[e]}`));
    });
  }
});

describe('sparse compute and the dense gradient at topology updates', () => {
  // A Linear layer computes the dense gradient on demand from what its backward left; a
  // convolution's columns are gone by then, so it needs to be asked first (beforeStep).
  const cases: [string, ModelSpec, boolean, RegExp | null][] = [
    ['mlp without beforeStep: Linear layers compute it on demand', MLP, false, null],
    ['cnn without beforeStep: throws naming conv2', CNN, false, /conv2: a topology update needs the dense gradient.*beforeStep/],
    ['cnn with beforeStep', CNN, true, null],
  ];
  for (const [label, spec, withBeforeStep, error] of cases) {
    test(label, async () => {
      const engine = await createEngine({ backend: BACKEND, threads: 1 });
      try {
        const data = syntheticExamples(8, 4, 2);
        const model = new Model(engine, spec, { maxBatch: 8, seed: 1 });
        const sparse = SparseTraining.create(model, { method: 'rigl', sparsity: 0.9, deltaT: 2, compute: 'sparse', seed: 1 });
        const { createOptimizer } = await import('../../src/train/optimizer.js');
        const opt = createOptimizer(engine, model.parameters(), { kind: 'sgd' });
        const hooks = sparse.hooks(opt);
        const step = (s: number): void => {
          model.inputs.set(data.x);
          model.labels.set(data.labels);
          if (withBeforeStep) hooks.beforeStep?.(s, 100);
          model.forward(8, true);
          model.loss(8);
          model.backward(8);
          hooks.afterBackward?.({ step: s, totalSteps: 100 } as never);
        };
        step(0);
        step(1);
        if (error === null) {
          step(2);
          assert.equal(sparse.info().updates, 1);
        } else {
          const before = sparse.topology.toJSON();
          assert.throws(() => step(2), error);
          assert.deepEqual(sparse.topology.toJSON(), before, 'a failed update leaves the topology untouched');
        }
      } finally {
        await engine.close();
      }
    });
  }
});
