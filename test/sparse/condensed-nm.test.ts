// N:M models condensed to the N:M format (offsets within groups): the same logits as the masked
// dense model, before and after a file round trip, the fallback to u16 indices where upstream
// ablation broke a layer's groups, and the checks on a recorded structure.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Engine } from '../../src/kernels/engine.js';
import { probeFeatures } from '../../src/kernels/probe.js';
import { buildModel, type Model } from '../../src/nn/models.js';
import { CondensedModel, condenseModel, nmLayersOf } from '../../src/sparse/condensed/model.js';
import { isNMLayer } from '../../src/sparse/condensed/layer.js';
import { loadCondensed, readCondensed, saveCondensed } from '../../src/io/condensed-file.js';
import { nmMask, type NMStructure } from '../../src/sparse/nm.js';
import { SparseTraining } from '../../src/train/sparse.js';
import { Rng } from '../../src/tensor/rng.js';
import { assertClose, availableIsas, denseLogits, randomInputs } from './helpers.js';

/**
 * An mlp with N:M masks built by nmMask and nonzero biases: fc1 2:4 with neurons `ablate`
 * emptied (bias 0), fc2 1:8 (its groups break when fc1 lost neurons), fc3 3:8.
 */
function nmMlp(engine: Engine, seed: number, ablate: number[]): { model: Model; nm: Record<string, NMStructure> } {
  const model = buildModel(engine, { arch: 'mlp', inputShape: [1, 28, 28], classes: 10 }, { maxBatch: 40, seed });
  const rng = new Rng(seed + 1);
  const nm: Record<string, NMStructure> = { fc1: { n: 2, m: 4, taps: 1 }, fc2: { n: 1, m: 8, taps: 1 }, fc3: { n: 3, m: 8, taps: 1 } };
  for (const l of model.sparsifiable()) {
    for (let i = 0; i < l.out; i++) l.bias!.value.data[i] = 0.1 * rng.normal();
    const mask = nmMask(l.out, l.fanIn, nm[l.name], rng);
    if (l.name === 'fc1') {
      for (const r of ablate) {
        mask.fill(0, r * l.fanIn, (r + 1) * l.fanIn);
        l.bias!.value.data[r] = 0;
      }
    }
    l.weight.setMask(mask);
  }
  return { model, nm };
}

describe('N:M condensed models', () => {
  const engines: Engine[] = [];
  let dir = '';
  before(async () => {
    for (const isa of await availableIsas()) engines.push(await createEngine({ backend: isa, threads: 1 }));
    dir = mkdtempSync(join(tmpdir(), 'srigl-condensed-nm-'));
  });
  after(async () => {
    for (const e of engines) await e.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const arch of ['mlp', 'cnn'] as const) {
    const distribution = arch === 'mlp' ? 'uniform' : 'erk';
    test(`${arch} from SparseTraining.create({ method: 'srigl', nm: 2:4, distribution: '${distribution}' }): N:M layers in the N:M format, logits equal the masked model (every ISA, batch 1, 3, 37), also after save/load`, async () => {
      for (const engine of engines) {
        const mark = engine.heap.mark();
        const model = buildModel(engine, { arch, inputShape: [1, 28, 28], classes: 10 }, { maxBatch: 16, seed: 4 });
        const sparse = SparseTraining.create(model, { method: 'srigl', nm: { n: 2, m: 4 }, distribution, seed: 4 });
        // Biases as training would leave them (the sparse init zeroes them).
        const rng = new Rng(9);
        for (const l of model.sparsifiable()) if (l.bias) for (let i = 0; i < l.out; i++) l.bias.value.data[i] = 0.1 * rng.normal();
        const nm = nmLayersOf(JSON.parse(JSON.stringify(sparse.info())));
        assert.ok(Object.keys(nm).length >= 2, `N:M layers recorded: ${Object.keys(nm)}`);
        const { net, report } = condenseModel(model, { nm });
        for (const r of report) assert.equal(r.format, r.name in nm ? 'nm' : 'indices', r.name);
        if (arch === 'cnn') assert.equal(nm.conv2?.taps, 9);
        const cm = new CondensedModel(engine, net, { maxBatch: 16, nmKernel: 'nm' });
        // The default runs N:M layers decoded to column indices (the faster kernels here).
        const decoded = new CondensedModel(engine, net, { maxBatch: 16 });
        const path = join(dir, `${arch}-${engine.backend}.condensed.safetensors`);
        saveCondensed(path, net);
        const back = readCondensed(path);
        assert.equal(back.metadata.version, '2');
        assert.ok(back.net.ops.some((o) => 'layer' in o && isNMLayer(o.layer)));
        const loaded = await loadCondensed(path, engine, { maxBatch: 16, nmKernel: 'nm' });
        for (const n of [1, 3, 37]) {
          const x = randomInputs(n, model.inputSize, n);
          const got = cm.predict(x);
          const want = denseLogits(model, x, n);
          assertClose(got, want, n, `${arch} ${engine.backend} batch ${n}`);
          assertClose(decoded.predict(x), want, n, `${arch} ${engine.backend} batch ${n}, decoded to indices`);
          assert.deepEqual(loaded.predict(x), got, `${arch} ${engine.backend} batch ${n} after save/load`);
        }
        engine.heap.release(mark);
      }
    });
  }

  test('ablated neurons upstream break the next layer\'s groups: that layer falls back to u16 indices, the rest stay N:M, the model stays exact', () => {
    for (const engine of engines) {
      const mark = engine.heap.mark();
      const { model, nm } = nmMlp(engine, 5, [3, 17, 200]);
      const { net, report } = condenseModel(model, { nm });
      assert.deepEqual(report.map((r) => [r.name, r.format]), [['fc1', 'nm'], ['fc2', 'indices'], ['fc3', 'nm']]);
      assert.deepEqual(report[1].nm, nm.fc2);
      assert.equal(report[1].inFeatures, 297);
      const cm = new CondensedModel(engine, net, { maxBatch: 8 });
      for (const n of [1, 13]) {
        const x = randomInputs(n, model.inputSize, 20 + n);
        assertClose(cm.predict(x), denseLogits(model, x, n), n, `fallback ${engine.backend} batch ${n}`);
      }
      engine.heap.release(mark);
    }
  });

  test('the N:M format stores 5 bytes per weight where u16 indices take 6', () => {
    const engine = engines[0];
    const mark = engine.heap.mark();
    const { model, nm } = nmMlp(engine, 6, []);
    const nmNet = condenseModel(model, { nm }).net;
    const plain = condenseModel(model).net;
    const nnz = nmNet.ops.reduce((a, o) => a + ('layer' in o ? o.layer.nActive * o.layer.k : 0), 0);
    const weightBytes = (net: typeof plain) => new CondensedModel(engine, net, { maxBatch: 1, nmKernel: 'nm' }).weightBytes;
    assert.equal(weightBytes(plain) - weightBytes(nmNet), nnz);
    engine.heap.release(mark);
  });

  test('a structure recorded for a layer whose mask does not hold it is refused, naming the layer; malformed metadata too', () => {
    const engine = engines[0];
    const mark = engine.heap.mark();
    const { model } = nmMlp(engine, 7, []);
    assert.throws(() => condenseModel(model, { nm: { fc1: { n: 1, m: 4, taps: 1 } } }), /fc1 is recorded as N:M 1:4 \(1 tap\(s\)\) but its mask is not: rows hold 392 weights, 1:4 over 784 inputs keeps 196/);
    assert.throws(() => condenseModel(model, { nm: { fc1: { n: 2, m: 8, taps: 1 } } }), /fc1 is recorded as N:M 2:8 .* rows hold 392 weights/);
    assert.throws(() => nmLayersOf({ layers: [{ name: 'fc1', nm: { n: 2, m: 'x' } }] }), /layer "fc1" has a malformed nm/);
    assert.deepEqual(nmLayersOf({ layers: [{ name: 'fc1', nm: null }, { name: 'fc2', nm: { n: 1, m: 4, taps: 1 } }] }), { fc2: { n: 1, m: 4, taps: 1 } });
    assert.deepEqual(nmLayersOf(undefined), {});
    engine.heap.release(mark);
  });

  test('with a 2-thread engine, N:M layers split their rows and predictions are bit-identical to one thread', async () => {
    const f = await probeFeatures();
    if (!f.threads) return;
    const engine = engines[engines.length - 1];
    const two = await createEngine({ backend: engine.backend, threads: 2 });
    try {
      const mark = engine.heap.mark();
      const { model, nm } = nmMlp(engine, 8, []);
      const { net } = condenseModel(model, { nm });
      const one = new CondensedModel(engine, net, { maxBatch: 64, nmKernel: 'nm' });
      const par = new CondensedModel(two, net, { maxBatch: 64, nmKernel: 'nm' });
      for (const n of [1, 64]) {
        const x = randomInputs(n, model.inputSize, 40 + n);
        assert.deepEqual(par.predict(x), one.predict(x), `batch ${n}`);
      }
      engine.heap.release(mark);
    } finally {
      await two.close();
    }
  });
});
