import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, type BackendName } from '../../src/kernels/engine.js';
import { Model, type ModelSpec } from '../../src/nn/models.js';
import { evaluate } from '../../src/train/evaluate.js';
import { train, type StepInfo } from '../../src/train/loop.js';
import { sequentialBatches, syntheticExamples } from './helpers.js';

const BACKEND = (process.env.SRIGL_TEST_BACKEND ?? 'reference') as BackendName;
const MLP: ModelSpec = { arch: 'mlp', inputShape: [1, 28, 28], classes: 4 };

async function run(seed: number, arch: ModelSpec['arch'] = 'mlp'): Promise<{ bytes: Uint8Array[]; acc: number; history: number[] }> {
  const engine = await createEngine({ backend: BACKEND });
  const model = new Model(engine, { ...MLP, arch }, { maxBatch: 32, seed });
  const data = syntheticExamples(200, 4, 7);
  const result = await train({
    model, trainData: sequentialBatches(data, 32), testData: data, epochs: 2,
    optimizer: { kind: 'sgd' }, lr: 0.05, warmupEpochs: 0.5, labelSmoothing: 0.1, clipNorm: 5,
  });
  const bytes = model.parameters().map((p) => new Uint8Array(p.value.data.slice().buffer));
  await engine.close();
  return { bytes, acc: result.history.at(-1)?.testAcc ?? 0, history: result.history.map((h) => h.trainLoss) };
}

describe(`training loop (${BACKEND})`, () => {
  test('same seed → bit-identical weights; a different seed → different weights', async () => {
    const a = await run(1);
    const b = await run(1);
    const c = await run(2);
    assert.deepEqual(a.bytes, b.bytes);
    assert.notDeepEqual(a.bytes, c.bytes);
  });

  test('mlp learns a separable task (with a short last batch of 8 rows)', async () => {
    const r = await run(3);
    assert.ok(r.acc > 0.9, `accuracy ${r.acc} after 2 epochs`);
    assert.ok(r.history[1] < r.history[0], `train loss did not fall: ${r.history}`);
  });

  test('hooks run in order every step with the step index; masks hold through training', async () => {
    const engine = await createEngine({ backend: BACKEND });
    const model = new Model(engine, MLP, { maxBatch: 16, seed: 4 });
    const fc1 = model.sparsifiable()[0];
    assert.equal(fc1.isFirst, true);
    const mask = Uint8Array.from({ length: fc1.weight.size }, (_, i) => (i % 3 === 0 ? 1 : 0));
    fc1.weight.setMask(mask);
    const data = syntheticExamples(40, 4, 8);
    const events: string[] = [];
    let denseGradSeen = false;
    await train({
      model, trainData: sequentialBatches(data, 16), epochs: 2, optimizer: { kind: 'adamw' }, lr: 0.01,
      hooks: {
        afterBackward: (s: StepInfo) => {
          events.push(`b${s.step}`);
          // The dense gradient is visible to topology updates before masking.
          if (fc1.weight.grad.data.some((g, i) => mask[i] === 0 && g !== 0)) denseGradSeen = true;
        },
        afterStep: (s: StepInfo) => events.push(`s${s.step}`),
      },
    });
    assert.deepEqual(events, ['b0', 's0', 'b1', 's1', 'b2', 's2', 'b3', 's3', 'b4', 's4', 'b5', 's5']);
    assert.ok(denseGradSeen);
    const w = fc1.weight.value.data;
    for (let i = 0; i < w.length; i++) if (mask[i] === 0) assert.ok(Object.is(w[i], 0), `masked weight ${i} = ${w[i]}`);
    await engine.close();
  });

  test('a diverging run stops with a message naming the step', async () => {
    const engine = await createEngine({ backend: BACKEND });
    const model = new Model(engine, MLP, { maxBatch: 16, seed: 5 });
    const data = syntheticExamples(32, 4, 9);
    await assert.rejects(
      train({ model, trainData: sequentialBatches(data, 16), epochs: 3, optimizer: { kind: 'sgd', momentum: 0 }, lr: 1e6, schedule: 'constant' }),
      /diverged: loss is (NaN|Infinity) at step \d+/,
    );
    await engine.close();
  });

  test('evaluate handles a final partial batch and matches a one-row-at-a-time pass', async () => {
    const engine = await createEngine({ backend: BACKEND });
    const model = new Model(engine, { ...MLP, arch: 'cnn' }, { maxBatch: 8, seed: 6 });
    const data = syntheticExamples(13, 4, 10);
    const a = evaluate(model, data);
    const b = evaluate(model, data, { batchSize: 1 });
    assert.equal(a.n, 13);
    assert.equal(a.accuracy, b.accuracy);
    assert.ok(Math.abs(a.loss - b.loss) < 1e-5, `${a.loss} vs ${b.loss}`);
    assert.throws(() => evaluate(model, data, { batchSize: 9 }), /batchSize/);
    await engine.close();
  });
});
