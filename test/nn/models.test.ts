import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, type BackendName } from '../../src/kernels/engine.js';
import { Model, parseModelSpec, type Arch } from '../../src/nn/models.js';
import { Rng } from '../../src/tensor/rng.js';

const BACKEND = (process.env.SRIGL_TEST_BACKEND ?? 'reference') as BackendName;

describe(`models (${BACKEND})`, () => {
  // Counts as PyTorch reports them for the same architectures.
  const counts: Record<Arch, number> = { mlp: 266_610, cnn: 824_458, resnet: 272_186, vit: 139_018 };
  for (const arch of ['mlp', 'cnn', 'resnet', 'vit'] as const) {
    test(`${arch}: parameter count, sparsifiable layers, forward/backward at batch 1 and a smaller batch`, async () => {
      const engine = await createEngine({ backend: BACKEND });
      const model = new Model(engine, { arch, inputShape: [1, 28, 28], classes: 10 }, { maxBatch: 3, seed: 1 });
      assert.equal(model.numParams, counts[arch]);
      const sparse = model.sparsifiable();
      assert.ok(sparse[0].isFirst && !sparse[0].isClassifier);
      assert.ok(sparse.at(-1)?.isClassifier);
      assert.equal(sparse.at(-1)?.out, 10);
      for (const l of sparse) assert.equal(l.weight.size, l.out * l.fanIn, l.name);
      assert.ok(model.parameters().filter((p) => !p.decay).every((p) => (/\.(bias|weight)$/.test(p.name) && p.shape.length === 1) || /^(cls_token|pos_embed)$/.test(p.name)));
      const names = model.stateTensors().map((t) => t.name);
      assert.equal(new Set(names).size, names.length, 'names are unique');
      const rng = new Rng(2);
      model.inputs.set(Float32Array.from({ length: 3 * 784 }, () => rng.normal()));
      model.labels.set([1, 2, 3]);
      for (const n of [3, 1]) {
        model.forward(n, true);
        const { loss } = model.loss(n);
        assert.ok(Number.isFinite(loss) && loss > 0, `loss ${loss}`);
        model.backward(n);
        assert.ok(model.parameters().every((p) => p.grad.data.every(Number.isFinite)));
      }
      assert.throws(() => model.forward(4, false), /batch of 4 rows/);
      await engine.close();
    });
  }

  test('resnet names follow torchvision (downsample projection, running statistics)', async () => {
    const engine = await createEngine({ backend: BACKEND });
    const model = new Model(engine, { arch: 'resnet', inputShape: [1, 28, 28], classes: 10 }, { maxBatch: 1 });
    const names = model.stateTensors().map((t) => t.name);
    for (const n of ['conv1.weight', 'bn1.running_var', 'layer1.0.conv1.weight', 'layer2.0.downsample.0.weight', 'layer3.2.bn2.running_mean', 'fc.bias']) {
      assert.ok(names.includes(n), n);
    }
    assert.ok(!names.includes('layer1.0.downsample.0.weight'), 'stage 1 uses identity shortcuts');
    await engine.close();
  });

  test('the same seed gives the same initial weights, uniform within ±1/√fan_in', async () => {
    const engine = await createEngine({ backend: BACKEND });
    const spec = { arch: 'mlp', inputShape: [1, 28, 28], classes: 10 } as const;
    const a = new Model(engine, { ...spec, inputShape: [1, 28, 28] }, { maxBatch: 1, seed: 9 });
    const b = new Model(engine, { ...spec, inputShape: [1, 28, 28] }, { maxBatch: 1, seed: 9 });
    const w = a.parameters()[0].value.data;
    assert.deepEqual(w, b.parameters()[0].value.data);
    const bound = 1 / Math.sqrt(784);
    assert.ok(w.every((v) => Math.abs(v) <= bound));
    assert.ok(w.reduce((m, v) => Math.max(m, v), 0) > 0.95 * bound);
    await engine.close();
  });

  test('parseModelSpec rejects bad specs with a clear message', () => {
    assert.throws(() => parseModelSpec({ arch: 'vgg', inputShape: [1, 28, 28], classes: 10 }), /unknown arch "vgg"/);
    assert.throws(() => parseModelSpec({ arch: 'mlp', inputShape: [28, 28], classes: 10 }), /inputShape/);
    assert.throws(() => parseModelSpec({ arch: 'mlp', inputShape: [1, 28, 28], classes: 1 }), /classes/);
  });
});

describe('mlp hidden widths', () => {
  test('the spec sets the layers; bad widths and hidden on another arch are refused; a file round-trips them', async () => {
    const spec = parseModelSpec({ arch: 'mlp', inputShape: [1, 6, 6], classes: 3, hidden: [7, 5, 4] });
    assert.deepEqual(spec.hidden, [7, 5, 4]);
    assert.equal(parseModelSpec({ arch: 'mlp', inputShape: [1, 6, 6], classes: 3 }).hidden, undefined);
    for (const [hidden, arch] of [[[], 'mlp'], [[0], 'mlp'], [[2.5], 'mlp'], [Array(9).fill(2), 'mlp'], ['64', 'mlp'], [[8], 'cnn']] as const) {
      assert.throws(() => parseModelSpec({ arch, inputShape: [1, 6, 6], classes: 3, hidden }), /hidden/, JSON.stringify(hidden));
    }
    const engine = await createEngine({ backend: BACKEND });
    try {
      const model = new Model(engine, spec, { maxBatch: 2, seed: 1 });
      assert.deepEqual(model.sparsifiable().map((l) => `${l.name} ${l.out}×${l.fanIn}`), ['fc1 7×36', 'fc2 5×7', 'fc3 4×5', 'fc4 3×4']);
      assert.equal(model.numParams, 7 * 37 + 5 * 8 + 4 * 6 + 3 * 5);
      const { saveModel, loadModel } = await import('../../src/io/model.js');
      const { mkdtempSync, rmSync } = await import('node:fs');
      const { join } = await import('node:path');
      const { tmpdir } = await import('node:os');
      const dir = mkdtempSync(join(tmpdir(), 'srigl-hidden-'));
      try {
        saveModel(join(dir, 'm.safetensors'), model);
        const back = loadModel(engine, join(dir, 'm.safetensors'), { maxBatch: 2 });
        assert.deepEqual(back.spec.hidden, [7, 5, 4]);
        back.model.parameters().forEach((p, i) => assert.deepEqual(p.value.data, model.parameters()[i].value.data, p.name));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    } finally {
      await engine.close();
    }
  });
});
