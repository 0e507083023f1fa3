import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, saveModel } from '../../src/io/model.js';
import { encodeSafetensors, readSafetensors } from '../../src/io/safetensors.js';
import { validateModelFile } from '../../src/io/validate.js';
import { createEngine } from '../../src/kernels/engine.js';
import { Model } from '../../src/nn/models.js';
import { Rng } from '../../src/tensor/rng.js';

test('saveModel → loadModel round-trips weights, running stats, masks and metadata; outputs match', async () => {
  const engine = await createEngine({ backend: 'reference' });
  const dir = mkdtempSync(join(tmpdir(), 'srigl-model-'));
  try {
    const model = new Model(engine, { arch: 'resnet', inputShape: [1, 12, 12], classes: 3 }, { maxBatch: 2, seed: 5 });
    const rng = new Rng(6);
    for (const b of model.buffers()) b.tensor.data.forEach((_, i, a) => (a[i] = 0.5 + rng.uniform()));
    const fc = model.sparsifiable().at(-1);
    assert.ok(fc);
    fc.weight.setMask(Uint8Array.from({ length: fc.weight.size }, (_, i) => i % 2));
    model.inputs.set(Float32Array.from({ length: 2 * 144 }, () => rng.normal()));
    const before = Array.from(engine.heap.f32(model.forward(2, false), 6));
    const path = join(dir, 'm.safetensors');
    saveModel(path, model, { dataset: 'fashion-mnist', training: { lr: 0.1 }, metrics: { testAcc: 0.5 } });

    const file = readSafetensors(path);
    assert.equal(file.metadata.format, 'srigl-model');
    assert.deepEqual(JSON.parse(file.metadata.arch), model.spec);
    assert.ok(file.tensors.has('layer2.0.bn1.running_var'));
    assert.equal(file.tensors.get('fc.weight.mask')?.dtype, 'U8');

    const loaded = loadModel(engine, path, { maxBatch: 2 });
    assert.deepEqual(loaded.info, { dataset: 'fashion-mnist', training: { lr: 0.1 }, metrics: { testAcc: 0.5 } });
    for (const [i, t] of loaded.model.stateTensors().entries()) assert.deepEqual(t.data, model.stateTensors()[i].data, t.name);
    assert.deepEqual(loaded.model.sparsifiable().at(-1)?.weight.mask?.data, fc.weight.mask?.data);
    loaded.model.inputs.set(model.inputs.subarray(0, 288));
    assert.deepEqual(Array.from(engine.heap.f32(loaded.model.forward(2, false), 6)), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await engine.close();
  }
});

test('loadModel rejects foreign files, missing or extra tensors and wrong shapes, naming them', async () => {
  const engine = await createEngine({ backend: 'reference' });
  const model = new Model(engine, { arch: 'mlp', inputShape: [1, 4, 4], classes: 2 }, { maxBatch: 1 });
  const tensors = model.stateTensors().map((t) => ({ name: t.name, dtype: 'F32' as const, shape: [...t.shape], data: t.data }));
  const meta = { format: 'srigl-model', version: '1', arch: JSON.stringify(model.spec) };
  const used = engine.heap.used;
  assert.throws(() => loadModel(engine, encodeSafetensors(tensors, { format: 'other' })), /not a srigl model/);
  assert.throws(() => loadModel(engine, encodeSafetensors(tensors.slice(1), meta)), /missing tensor "fc1.weight"/);
  assert.throws(() => loadModel(engine, encodeSafetensors([...tensors, { name: 'extra', dtype: 'F32', shape: [1], data: new Float32Array(1) }], meta)), /unexpected tensor "extra"/);
  const bad = tensors.map((t) => (t.name === 'fc2.bias' ? { ...t, shape: [50, 2], data: new Float32Array(100) } : t));
  assert.throws(() => loadModel(engine, encodeSafetensors(bad, meta)), /"fc2.bias" has shape \[50, 2\], expected \[100\]/);
  assert.throws(() => loadModel(engine, encodeSafetensors(tensors, { ...meta, arch: '{"arch":"vgg"}' })), /unknown arch "vgg"/);
  assert.equal(engine.heap.used, used, 'a failed load gives its memory back');
  await engine.close();
});

test('a mask on a batch-norm running statistic is rejected by the validator that inspect uses', async () => {
  const engine = await createEngine({ backend: 'reference' });
  try {
    const model = new Model(engine, { arch: 'resnet', inputShape: [1, 8, 8], classes: 2 }, { maxBatch: 1 });
    const tensors = model.stateTensors().map((t) => ({ name: t.name, dtype: 'F32' as const, shape: [...t.shape], data: t.data }));
    const stat = tensors.find((t) => t.name.endsWith('running_mean'));
    assert.ok(stat !== undefined);
    const meta = { format: 'srigl-model', version: '1', arch: JSON.stringify(model.spec) };
    const file = readSafetensors(encodeSafetensors([...tensors, { name: `${stat.name}.mask`, dtype: 'U8', shape: stat.shape, data: new Uint8Array(stat.data.length).fill(1) }], meta));
    assert.throws(() => validateModelFile(file, 'x.safetensors'), new RegExp(`unexpected tensor "${stat.name}.mask"`));
  } finally {
    await engine.close();
  }
});
