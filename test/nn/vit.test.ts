// The vit architecture: timm names and shapes, the spec's fields (defaults, validation, round
// trip through a model file), the sparsifiable list, forward shape, and save/load with
// identical logits.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type BackendName } from '../../src/kernels/engine.js';
import { loadModel, saveModel } from '../../src/io/model.js';
import { expectedTensors } from '../../src/io/validate.js';
import { Model, parseModelSpec, VIT_DEFAULTS } from '../../src/nn/models.js';
import { Rng } from '../../src/tensor/rng.js';

const BACKEND = (process.env.SRIGL_TEST_BACKEND ?? 'reference') as BackendName;
const SPEC = { arch: 'vit', inputShape: [1, 28, 28], classes: 10 } as const;

describe(`vit (${BACKEND})`, () => {
  test('timm names and shapes; the file schema lists the same tensors; 139,018 parameters', async () => {
    const engine = await createEngine({ backend: BACKEND });
    try {
      const model = new Model(engine, { ...SPEC, inputShape: [1, 28, 28] }, { maxBatch: 2 });
      assert.equal(model.numParams, 139_018);
      const got = model.stateTensors().map((t) => ({ name: t.name, shape: [...t.shape] }));
      assert.deepEqual(got, expectedTensors(model.spec).map(({ name, shape }) => ({ name, shape })));
      const shapes = new Map(got.map((t) => [t.name, t.shape]));
      assert.deepEqual(shapes.get('patch_embed.proj.weight'), [64, 1, 7, 7]);
      assert.deepEqual(shapes.get('cls_token'), [64]);
      assert.deepEqual(shapes.get('pos_embed'), [17, 64]);
      for (const l of ['q', 'k', 'v', 'proj']) assert.deepEqual(shapes.get(`blocks.3.attn.${l}.weight`), [64, 64]);
      assert.deepEqual(shapes.get('blocks.0.mlp.fc1.weight'), [128, 64]);
      assert.deepEqual(shapes.get('blocks.0.mlp.fc2.weight'), [64, 128]);
      assert.deepEqual(shapes.get('blocks.2.norm2.bias'), [64]);
      assert.deepEqual(shapes.get('norm.weight'), [64]);
      assert.deepEqual(shapes.get('head.weight'), [10, 64]);
      assert.ok(!shapes.has('blocks.4.norm1.weight'), 'depth 4');

      const sparse = model.sparsifiable();
      const perBlock = ['attn.q', 'attn.k', 'attn.v', 'attn.proj', 'mlp.fc1', 'mlp.fc2'];
      assert.deepEqual(sparse.map((l) => l.name), ['patch_embed.proj', ...[0, 1, 2, 3].flatMap((i) => perBlock.map((n) => `blocks.${i}.${n}`)), 'head']);
      assert.equal(sparse[0].kind, 'conv2d');
      assert.ok(sparse[0].isFirst && !sparse[0].isClassifier);
      assert.ok(sparse.at(-1)?.isClassifier && !sparse.at(-1)?.isFirst);
      assert.equal(sparse.filter((l) => l.isFirst || l.isClassifier).length, 2);
    } finally {
      await engine.close();
    }
  });

  test('the spec: defaults, validation, other widths', async () => {
    assert.deepEqual(VIT_DEFAULTS, { patch: 7, dim: 64, depth: 4, heads: 4, mlpRatio: 2 });
    const s = parseModelSpec({ ...SPEC, patch: 4, dim: 32, depth: 2, heads: 2, mlpRatio: 1.5 });
    assert.deepEqual(s, { ...SPEC, inputShape: [1, 28, 28], patch: 4, dim: 32, depth: 2, heads: 2, mlpRatio: 1.5 });
    assert.throws(() => parseModelSpec({ ...SPEC, patch: 5 }), /patch 5 does not divide the 28×28 input/);
    assert.throws(() => parseModelSpec({ ...SPEC, heads: 3 }), /heads 3 do not divide dim 64/);
    assert.throws(() => parseModelSpec({ ...SPEC, depth: 0 }), /depth must be an integer/);
    assert.throws(() => parseModelSpec({ ...SPEC, mlpRatio: -1 }), /mlpRatio must be a number/);
    assert.throws(() => parseModelSpec({ arch: 'mlp', inputShape: [1, 28, 28], classes: 10, dim: 8 }), /dim applies to the vit only/);
    const engine = await createEngine({ backend: BACKEND });
    try {
      const model = new Model(engine, s, { maxBatch: 1 });
      // 49 patches of 4×4 and a class token; 2 blocks of width 32 with 48 hidden units.
      assert.deepEqual(model.stateTensors().find((t) => t.name === 'pos_embed')?.shape, [50, 32]);
      assert.deepEqual(model.stateTensors().find((t) => t.name === 'blocks.1.mlp.fc1.weight')?.shape, [48, 32]);
      assert.equal(model.sparsifiable().length, 2 * 6 + 2);
    } finally {
      await engine.close();
    }
  });

  test('forward gives [n, classes] finite logits; save and load round-trip the spec and the logits exactly', async () => {
    const engine = await createEngine({ backend: BACKEND });
    const dir = mkdtempSync(join(tmpdir(), 'srigl-vit-'));
    try {
      const spec = parseModelSpec({ ...SPEC, classes: 5, depth: 2, mlpRatio: 3 });
      const model = new Model(engine, spec, { maxBatch: 3, seed: 4 });
      const rng = new Rng(5);
      const x = Float32Array.from({ length: 3 * 784 }, () => rng.normal());
      model.inputs.set(x);
      model.labels.set([0, 1, 4]);
      // A training step first, so the saved weights are not the initial ones.
      model.forward(3, true);
      model.loss(3);
      model.backward(3);
      for (const p of model.parameters()) for (let i = 0; i < p.size; i++) p.value.data[i] -= 0.01 * p.grad.data[i];
      model.forward(3, false);
      const logits = Float32Array.from(model.logits(3));
      assert.equal(logits.length, 3 * 5);
      assert.ok(logits.every(Number.isFinite));
      const path = join(dir, 'vit.safetensors');
      saveModel(path, model);
      const loaded = loadModel(engine, path, { maxBatch: 3 });
      assert.deepEqual(loaded.spec, spec);
      loaded.model.inputs.set(x);
      loaded.model.forward(3, false);
      assert.deepEqual(Float32Array.from(loaded.model.logits(3)), logits);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await engine.close();
    }
  });
});
