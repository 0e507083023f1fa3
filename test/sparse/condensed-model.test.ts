import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Engine } from '../../src/kernels/engine.js';
import { probeFeatures } from '../../src/kernels/probe.js';
import { buildModel, type Arch, type Model } from '../../src/nn/models.js';
import { CondensedModel, condenseModel } from '../../src/sparse/condensed/model.js';
import { loadCondensed, readCondensed, saveCondensed } from '../../src/io/condensed-file.js';
import { constantFanInMask, randomMask } from '../../src/sparse/mask.js';
import { Rng } from '../../src/tensor/rng.js';
import { assertClose, denseLogits, randomInputs } from './helpers.js';

/**
 * A model with SRigL-shaped masks: constant fan-in per layer, a few ablated neurons per hidden
 * layer (mask row and bias zeroed), the classifier never ablated. `denseFirst` leaves the first
 * layer without a mask; `unstructured` draws random (non-constant fan-in) masks instead.
 */
function maskedModel(engine: Engine, arch: Arch, seed: number, opts: { denseFirst?: boolean; unstructured?: boolean; maxBatch?: number } = {}): { model: Model; ablated: Map<string, number[]> } {
  const model = buildModel(engine, { arch, inputShape: [1, 28, 28], classes: 10 }, { maxBatch: opts.maxBatch ?? 40, seed });
  const rng = new Rng(seed + 100);
  const ablated = new Map<string, number[]>();
  for (const l of model.sparsifiable()) {
    // Nonzero biases everywhere, so a wrongly dropped neuron would show.
    if (l.bias) for (let i = 0; i < l.out; i++) l.bias.value.data[i] = 0.1 * rng.normal();
    if (l.isFirst && opts.denseFirst) {
      ablated.set(l.name, []);
      continue;
    }
    const k = Math.max(1, Math.round(0.1 * l.fanIn));
    const mask = opts.unstructured ? randomMask(l.out * l.fanIn, l.out * k, rng) : constantFanInMask(l.out, l.fanIn, k, rng);
    const rows: number[] = [];
    if (!l.isClassifier) {
      for (let r = 0; r < l.out; r++) if (rng.uniform() < 0.2) rows.push(r);
      for (const r of rows) {
        mask.fill(0, r * l.fanIn, (r + 1) * l.fanIn);
        if (l.bias) l.bias.value.data[r] = 0;
      }
    }
    ablated.set(l.name, rows);
    l.weight.setMask(mask);
  }
  return { model, ablated };
}

const ISAS = ['scalar', 'simd128', 'relaxed'] as const;

describe('condensed model', () => {
  const engines: Engine[] = [];
  let dir = '';
  before(async () => {
    const f = await probeFeatures();
    for (const isa of ISAS) {
      if (isa === 'simd128' && !f.simd) continue;
      if (isa === 'relaxed' && !f.relaxedSimd) continue;
      engines.push(await createEngine({ backend: isa, threads: 1 }));
    }
    dir = mkdtempSync(join(tmpdir(), 'srigl-condensed-'));
  });
  after(async () => {
    for (const e of engines) await e.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const arch of ['mlp', 'cnn'] as const) {
    test(`${arch}: drops ablated neurons end to end and predicts what the masked model does (every ISA, batch 1, 3, 37)`, () => {
      for (const engine of engines) {
        const mark = engine.heap.mark();
        const { model, ablated } = maskedModel(engine, arch, 7, { denseFirst: arch === 'cnn' });
        const { net, report } = condenseModel(model);
        // Each layer keeps exactly the non-ablated neurons, and the next layer reads only those.
        const layers = net.ops.filter((o) => o.kind === 'linear' || o.kind === 'conv2d');
        assert.equal(layers.length, report.length);
        for (let i = 0; i < layers.length; i++) {
          const L = layers[i].layer;
          assert.equal(L.nActive, L.outFeatures - ablated.get(layers[i].name)!.length, layers[i].name);
          if (i > 0) {
            const prev = layers[i - 1].layer.nActive;
            const perInput = layers[i].kind === 'conv2d' ? 9 : arch === 'cnn' && layers[i - 1].kind === 'conv2d' ? 49 : 1;
            assert.equal(L.inFeatures, prev * perInput, `${layers[i].name} inputs`);
          }
          assert.equal(report[i].masked, !(arch === 'cnn' && i === 0));
        }
        const cm = new CondensedModel(engine, net, { maxBatch: 16 });
        for (const n of [1, 3, 37]) {
          const x = randomInputs(n, model.inputSize, n);
          assertClose(cm.predict(x), denseLogits(model, x, n), n, `${arch} ${engine.backend} batch ${n}`);
        }
        engine.heap.release(mark);
      }
    });
  }

  test('with a 2-thread engine, layers split their rows and predictions are bit-identical to one thread', async () => {
    const f = await probeFeatures();
    if (!f.threads) return;
    const engine = engines[engines.length - 1];
    const two = await createEngine({ backend: engine.backend, threads: 2 });
    try {
      assert.ok(two.rows, 'a 2-thread engine has a row runner');
      for (const arch of ['mlp', 'cnn'] as const) {
        const mark = engine.heap.mark();
        const { model } = maskedModel(engine, arch, 21, { denseFirst: arch === 'cnn' });
        const { net } = condenseModel(model);
        const one = new CondensedModel(engine, net, { maxBatch: 64 });
        const par = new CondensedModel(two, net, { maxBatch: 64 });
        for (const n of [1, 64]) {
          const x = randomInputs(n, model.inputSize, 30 + n);
          assert.deepEqual(par.predict(x), one.predict(x), `${arch} batch ${n}`);
        }
        engine.heap.release(mark);
      }
    } finally {
      await two.close();
    }
  });

  test('unstructured masks (rows of different lengths) are padded with zero weights and stay exact', () => {
    const engine = engines[engines.length - 1];
    const mark = engine.heap.mark();
    const { model } = maskedModel(engine, 'mlp', 11, { unstructured: true });
    const { net, report } = condenseModel(model);
    assert.ok(report.some((r) => r.paddedWeights > 0));
    const cm = new CondensedModel(engine, net, { maxBatch: 8 });
    const x = randomInputs(5, model.inputSize, 2);
    assertClose(cm.predict(x), denseLogits(model, x, 5), 5, 'unstructured');
    engine.heap.release(mark);
  });

  test('a row whose only weights read ablated inputs keeps its bias; a resnet is rejected with the reason', () => {
    const engine = engines[engines.length - 1];
    const mark = engine.heap.mark();
    const { model, ablated } = maskedModel(engine, 'mlp', 5);
    // Point every fc2 weight of neuron 0 at ablated fc1 neurons: it then outputs relu(bias) only.
    const fc2 = model.sparsifiable()[1];
    const dead = ablated.get('fc1')!;
    assert.ok(dead.length >= fc2.fanIn * 0.1);
    const m = Uint8Array.from(fc2.weight.mask!.data);
    m.fill(0, 0, fc2.fanIn);
    const k = Math.round(0.1 * fc2.fanIn);
    for (let j = 0; j < k; j++) {
      m[dead[j]] = 1;
      fc2.weight.value.data[dead[j]] = 1;
    }
    fc2.weight.setMask(m);
    fc2.bias!.value.data[0] = 0.5;
    const { net, report } = condenseModel(model);
    assert.equal(report[1].droppedWeights >= k, true);
    const cm = new CondensedModel(engine, net, { maxBatch: 4 });
    const x = randomInputs(3, model.inputSize, 9);
    assertClose(cm.predict(x), denseLogits(model, x, 3), 3, 'bias-only row');
    const resnet = buildModel(engine, { arch: 'resnet', inputShape: [1, 28, 28], classes: 10 }, { maxBatch: 1 });
    assert.throws(() => condenseModel(resnet), /resnet models are not supported .*BatchNorm/);
    engine.heap.release(mark);
  });

  test('file round trip: same predictions; loading validates layers before use', async () => {
    const engine = engines[engines.length - 1];
    const mark = engine.heap.mark();
    const { model } = maskedModel(engine, 'cnn', 3, { denseFirst: true });
    const { net } = condenseModel(model);
    const path = join(dir, 'cnn.condensed.safetensors');
    saveCondensed(path, net, { dataset: 'fashion-mnist', source: { note: 'test' } });
    const back = readCondensed(path);
    assert.equal(back.info.dataset, 'fashion-mnist');
    assert.deepEqual(back.info.source, { note: 'test' });
    assert.deepEqual(JSON.parse(back.metadata.k), Object.fromEntries(net.ops.flatMap((o) => ('layer' in o ? [[o.name, o.layer.k]] : []))));
    const x = randomInputs(4, model.inputSize, 4);
    const want = new CondensedModel(engine, net, { maxBatch: 4 }).predict(x);
    const loaded = await loadCondensed(path, engine, { maxBatch: 4 });
    assert.deepEqual(loaded.predict(x), want);
    await loaded.close();
    const own = await loadCondensed(path);
    assertClose(own.predict(x), want, 4, 'own engine');
    await own.close();

    // Corrupt one index so it repeats its predecessor: the loader must name the layer, row and column.
    const bytes = new Uint8Array(readFileSync(path));
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
    const at = 8 + headerLen + header['conv2.indices'].data_offsets[0];
    const idx = new Uint16Array(bytes.buffer, at, 2);
    idx[1] = idx[0];
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, bytes);
    assert.throws(() => readCondensed(bad), /indices\[row 0, col 1\] = \d+ duplicates/);
    await assert.rejects(loadCondensed(bad, engine), /duplicates/);
    // A dense model file is not a condensed one.
    assert.throws(() => readCondensed(new Uint8Array(16)), /header/);
    engine.heap.release(mark);
  });
});
