import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Engine } from '../../src/kernels/engine.js';
import { probeFeatures } from '../../src/kernels/probe.js';
import { buildModel, type Arch, type Model } from '../../src/nn/models.js';
import { CondensedModel, checkNet, condenseModel, type CondensedNet } from '../../src/sparse/condensed/model.js';
import { loadCondensed, readCondensed, saveCondensed } from '../../src/io/condensed-file.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { constantFanInMask, randomMask } from '../../src/sparse/mask.js';
import { Rng } from '../../src/tensor/rng.js';
import { assertClose, availableIsas, denseLogits, randomInputs } from './helpers.js';

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

/**
 * A small-input resnet (10×10: planes 10, 5, 3, so strided convs meet odd sizes) with SRigL-shaped
 * masks on every conv (constant fan-in, about a quarter of the filters ablated, the stem's too)
 * and on the classifier (not ablated), and random BatchNorm statistics and affine parameters, so
 * folded biases b' = β − γ·μ/√(σ²+ε) take both signs. Returns the model, the ablated rows per
 * layer, and each BatchNorm's folded bias by the name of the conv it follows.
 */
function maskedResnet(engine: Engine, seed: number, maxBatch = 40): { model: Model; ablated: Map<string, number[]>; foldedBias: Map<string, Float64Array> } {
  const model = buildModel(engine, { arch: 'resnet', inputShape: [1, 10, 10], classes: 10 }, { maxBatch, seed });
  const rng = new Rng(seed + 100);
  const ablated = new Map<string, number[]>();
  for (const l of model.sparsifiable()) {
    if (l.bias) for (let i = 0; i < l.out; i++) l.bias.value.data[i] = 0.1 * rng.normal();
    const mask = constantFanInMask(l.out, l.fanIn, Math.max(1, Math.round(0.3 * l.fanIn)), rng);
    const rows: number[] = [];
    if (!l.isClassifier) for (let r = 0; r < l.out; r++) if (rng.uniform() < 0.25) rows.push(r);
    for (const r of rows) mask.fill(0, r * l.fanIn, (r + 1) * l.fanIn);
    ablated.set(l.name, rows);
    l.weight.setMask(mask);
  }
  const state = new Map(model.stateTensors().map((t) => [t.name, t]));
  const bnNames = [...state.keys()].filter((n) => n.endsWith('.running_mean')).map((n) => n.slice(0, -'.running_mean'.length));
  const foldedBias = new Map<string, Float64Array>();
  for (const bn of bnNames) {
    const c = state.get(`${bn}.running_mean`)!.size;
    const draw = (f: () => number) => Float32Array.from({ length: c }, f);
    const gamma = draw(() => 1 + 0.5 * rng.normal()), beta = draw(() => 0.5 * rng.normal());
    const mean = draw(() => 0.5 * rng.normal()), variance = draw(() => 0.3 + 1.5 * rng.uniform());
    state.get(`${bn}.weight`)!.assign(gamma);
    state.get(`${bn}.bias`)!.assign(beta);
    state.get(`${bn}.running_mean`)!.assign(mean);
    state.get(`${bn}.running_var`)!.assign(variance);
    const conv = bn.replace(/bn(\d)$/, 'conv$1').replace(/downsample\.1$/, 'downsample.0');
    foldedBias.set(conv, Float64Array.from(beta, (b, i) => b - (gamma[i] * mean[i]) / Math.sqrt(variance[i] + 1e-5)));
  }
  return { model, ablated, foldedBias };
}

describe('condensed model', () => {
  const engines: Engine[] = [];
  let dir = '';
  before(async () => {
    for (const isa of await availableIsas()) engines.push(await createEngine({ backend: isa, threads: 1 }));
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

  test('a row whose only weights read ablated inputs keeps its bias', () => {
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
    engine.heap.release(mark);
  });

  test('resnet: BatchNorm folded, ablated block channels dropped where their folded bias is ≤ 0, logits match eval mode (every ISA, batch 1, 3, 17)', () => {
    for (const engine of engines) {
      const mark = engine.heap.mark();
      const { model, ablated, foldedBias } = maskedResnet(engine, 4);
      const { net, report } = condenseModel(model);
      let dropped = 0, biasOnly = 0;
      for (const r of report) {
        const rows = ablated.get(r.name)!;
        if (r.kind === 'linear') {
          assert.equal(r.nActive, r.out, r.name);
          continue;
        }
        assert.ok(r.batchNorm !== null, `${r.name} has a BatchNorm folded in`);
        if (/^layer\d\.\d\.conv1$/.test(r.name)) {
          // Inside a block: an ablated channel goes exactly when relu(b') = 0.
          const b = foldedBias.get(r.name)!;
          const gone = rows.filter((row) => b[row] <= 0).length;
          assert.equal(r.nActive, r.out - gone, r.name);
          dropped += gone;
          biasOnly += rows.length - gone;
          // conv2 reads only the kept channels.
          const next = report[report.indexOf(r) + 1];
          assert.equal(next.inFeatures, r.nActive * 9, `${next.name} inputs`);
        } else {
          // The residual stream keeps every channel: ablated rows stay as bias-only rows.
          assert.equal(r.nActive, r.out, r.name);
          biasOnly += rows.length;
        }
      }
      assert.ok(dropped > 0 && biasOnly > 0, `dropped ${dropped}, kept as bias-only ${biasOnly}`);
      assert.deepEqual(net.ops.filter((o) => o.kind === 'save').length, 9);
      assert.deepEqual(net.ops.filter((o) => o.kind === 'swap').length, 2);
      const cm = new CondensedModel(engine, net, { maxBatch: 16 });
      for (const n of [1, 3, 17]) {
        const x = randomInputs(n, model.inputSize, 50 + n);
        assertClose(cm.predict(x), denseLogits(model, x, n), n, `resnet ${engine.backend} batch ${n}`, 1e-4);
      }
      engine.heap.release(mark);
    }
  });

  test('resnet file round trip (format version 3): same predictions, within 1e-4 of the model; residual ops are validated', async () => {
    const engine = engines[engines.length - 1];
    const mark = engine.heap.mark();
    const { model } = maskedResnet(engine, 9);
    const { net } = condenseModel(model);
    const path = join(dir, 'resnet.condensed.safetensors');
    saveCondensed(path, net, { dataset: 'fashion-mnist' });
    const back = readCondensed(path);
    assert.equal(back.metadata.version, '3');
    assert.deepEqual(back.net.ops.map((o) => o.kind), net.ops.map((o) => o.kind));
    const x = randomInputs(6, model.inputSize, 6);
    const want = new CondensedModel(engine, net, { maxBatch: 4 }).predict(x);
    const loaded = await loadCondensed(path, engine, { maxBatch: 4 });
    assert.deepEqual(loaded.predict(x), want);
    assertClose(loaded.predict(x), denseLogits(model, x, 6), 6, 'loaded resnet', 1e-4);
    await loaded.close();

    // Residual ops need version 3: the same file labelled version 1 is refused, naming the op.
    const file = readSafetensors(path);
    const v1 = join(dir, 'resnet-v1.safetensors');
    writeSafetensors(v1, [...file.tensors.values()], { ...file.metadata, version: '1' });
    assert.throws(() => readCondensed(v1), /ops\[2\] \(save\) needs format version 3, but the file says "1"/);
    // The stack of saved activations must balance and shapes must agree.
    const edit = (ops: CondensedNet['ops']): CondensedNet => ({ spec: net.spec, ops });
    const firstAdd = net.ops.findIndex((o) => o.kind === 'add');
    assert.throws(() => checkNet(edit(net.ops.filter((o) => o.kind !== 'save'))), /op \d+ \(add\) has no saved activation to add/);
    assert.throws(() => checkNet(edit(net.ops.filter((_, i) => i !== firstAdd))), /1 saved activation\(s\) are never added/);
    const down = net.ops.findIndex((o) => o.kind === 'swap');
    assert.throws(() => checkNet(edit(net.ops.filter((_, i) => i !== down))), /conv2d layer2\.0\.conv1\) expects input \[16, 10, 10\], the previous op gives \[32, 5, 5\]/);
    assert.throws(() => checkNet(edit([net.ops[0], { kind: 'save' }, { kind: 'avgpool' }, { kind: 'add' }, ...net.ops.slice(-1)])), /adds a saved \[16, 10, 10\] to \[16\]/);
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
