// Train a 90%-sparse SRigL MLP through the library API, then run it condensed.
// Run: npx tsx examples/sparse-mlp.ts   (the README shows this file)
import {
  createEngine, buildModel, train, evaluate, SparseTraining, formatSparseTable, saveModel,
  loadDataset, normalizeSplit, BatchIterator, condenseModel, CondensedModel,
} from '../src/index.js';

const engine = await createEngine(); // fastest kernels this runtime supports, all cores
const data = await loadDataset('fashion-mnist'); // full copy if installed, else the embedded subset
const trainSet = normalizeSplit(data.train);
const testSet = normalizeSplit(data.test);

const model = buildModel(engine, { arch: 'mlp', inputShape: [1, 28, 28], classes: 10 }, { maxBatch: 128, seed: 0 });
const sparse = SparseTraining.create(model, { method: 'srigl', sparsity: 0.9, ablation: true, seed: 0 });
await train({
  model,
  trainData: new BatchIterator(trainSet, { batchSize: 128, seed: 0 }),
  epochs: 2,
  optimizer: { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
  lr: 0.1,
  hooks: (optimizer) => sparse.hooks(optimizer),
});
console.log(`test accuracy ${(evaluate(model, testSet).accuracy * 100).toFixed(2)}%`);
console.log(formatSparseTable(sparse.info()));
saveModel('/tmp/srigl-example.safetensors', model, { dataset: 'fashion-mnist' });

// The same network as constant fan-in condensed layers: ablated neurons dropped end to end.
const condensed = new CondensedModel(engine, condenseModel(model).net);
const x = testSet.x.subarray(0, 784);
console.log('condensed logits for test image 0:', Array.from(condensed.predict(x, 1), (v) => v.toFixed(3)).join(' '));
await engine.close();
