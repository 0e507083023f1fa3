/**
 * `srigl export MODEL --format onnx`: a saved model exported through the CLI, the file decoded
 * (it is what --json says) and run by onnxruntime-node against the reloaded model's eval forward
 * (|Δ logit| ≤ 1e-4 absolute; skipped with a message without bench/onnxruntime), the default
 * --out, help, and errors that name the bad input.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { run, withTempDir } from './harness.js';
import { loadOrt, ORT_INSTALL } from '../../bench/inference.js';
import { loadModel, saveModel, type ModelInfo } from '../../src/io/model.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { createEngine } from '../../src/kernels/engine.js';
import { buildModel, type ModelSpec } from '../../src/nn/models.js';
import { constantFanInMask } from '../../src/sparse/mask.js';
import { Rng } from '../../src/tensor/rng.js';

const { onnx } = onnxProto;
const TOL = 1e-4;
const INFO: ModelInfo = { dataset: 'fashion-mnist', sparse: { method: 'srigl', sparsity: 0.9 }, metrics: { testAcc: 0.42 } };

/**
 * Saves a masked model of `spec` (10% constant fan-in, every 4th hidden neuron ablated), its
 * classifier scaled by `headScale` so the logits are O(1–10), the scale the tolerance is for.
 */
async function saveMasked(path: string, spec: ModelSpec, seed: number, headScale = 10): Promise<void> {
  const engine = await createEngine({ threads: 1 });
  try {
    const m = buildModel(engine, spec, { maxBatch: 1, seed });
    const rng = new Rng(seed);
    const head = m.sparsifiable().at(-1)!;
    for (const p of [head.weight, head.bias!]) p.assign(p.denseValues().map((v) => headScale * v));
    for (const l of m.sparsifiable()) {
      const mask = constantFanInMask(l.out, l.fanIn, Math.max(1, Math.round(0.1 * l.fanIn)), rng);
      if (!l.isClassifier) for (let r = 1; r < l.out; r += 4) mask.fill(0, r * l.fanIn, (r + 1) * l.fanIn);
      l.weight.setMask(mask);
    }
    saveModel(path, m, INFO);
  } finally {
    await engine.close();
  }
}

/** onnxruntime on the exported file vs the model file reloaded by srigl, batch 3 of random inputs. */
async function ortMatchesSrigl(t: TestContext, modelPath: string, onnxPath: string): Promise<void> {
  const ort = await loadOrt();
  if (ort === null) return void t.diagnostic(`onnxruntime-node is not installed (${ORT_INSTALL}); the onnxruntime check is skipped`);
  const engine = await createEngine({ threads: 1 });
  try {
    const { model } = loadModel(engine, modelPath, { maxBatch: 3 });
    const rng = new Rng(5);
    const x = Float32Array.from({ length: 3 * model.inputSize }, () => rng.normal());
    model.inputs.set(x);
    model.forward(3, false);
    const want = model.logits(3).slice();
    const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(onnxPath)), { intraOpNumThreads: 1 });
    const res = (await session.run({ input: new ort.Tensor('float32', x, [3, ...model.spec.inputShape]) })) as Record<string, { data: Float32Array; dims: number[] }>;
    await session.release?.();
    assert.deepEqual([...res.logits.dims], [3, model.spec.classes]);
    let maxDiff = 0, maxAbs = 0;
    want.forEach((w, i) => {
      maxDiff = Math.max(maxDiff, Math.abs(res.logits.data[i] - w));
      maxAbs = Math.max(maxAbs, Math.abs(w));
    });
    t.diagnostic(`${onnxPath}: max |Δ| ${maxDiff.toExponential(2)}, max |logit| ${maxAbs.toFixed(2)}`);
    assert.ok(maxAbs > 1, `logits too small to compare (max |logit| ${maxAbs})`);
    assert.ok(maxDiff <= TOL, `onnxruntime vs srigl: max |Δ logit| ${maxDiff} > ${TOL}`);
  } finally {
    await engine.close();
  }
}

describe('srigl export --format onnx', () => {
  test('a saved masked vit: --json describes the file written (atomically), onnxruntime reproduces the logits', async (t) => {
    await withTempDir('srigl-onnx-', async (dir) => {
      const model = join(dir, 'vit.safetensors');
      await saveMasked(model, { arch: 'vit', inputShape: [1, 28, 28], classes: 10, dim: 32, depth: 2, heads: 4 }, 3);
      const out = join(dir, 'm.onnx');
      const r = await run('export', model, '--format', 'onnx', '--out', out, '--json');
      assert.equal(r.code, 0, r.err);
      const j = JSON.parse(r.out);
      assert.equal(j.format, 'onnx');
      assert.equal(j.out, out);
      assert.equal(j.arch, 'vit');
      assert.equal(j.bytes, statSync(out).size);
      assert.equal(j.opset, 17);
      assert.equal(j.irVersion, 8);
      assert.deepEqual(j.input, { name: 'input', shape: ['N', 1, 28, 28] });
      assert.deepEqual(j.output, { name: 'logits', shape: ['N', 10] });
      assert.equal(j.metadata['srigl.method'], 'srigl');
      assert.equal(j.metadata['srigl.sparsity'], '0.9');
      assert.equal(j.metadata['srigl.dataset'], 'fashion-mnist');
      const g = onnx.ModelProto.decode(readFileSync(out)).graph!;
      assert.equal(j.nodes, g.node!.length);
      assert.equal(j.ops.LayerNormalization, 2 * 2 + 1);
      assert.equal(j.ops.Softmax, 2);
      const rawBytes = g.initializer!.reduce((a, x) => a + x.rawData!.length, 0);
      assert.equal(j.initializerBytes, rawBytes);
      // The file holds the weights and little else.
      assert.ok(j.bytes > rawBytes && j.bytes < rawBytes + 64 * 1024, `file ${j.bytes} B for ${rawBytes} B of weights`);
      assert.deepEqual(readdirSync(dir).sort(), ['m.onnx', 'vit.safetensors'], 'no temporary file is left behind');
      await ortMatchesSrigl(t, model, out);
    });
  });

  test('default --out is MODEL.onnx; the text summary names opset, ops and density; onnxruntime runs it', async (t) => {
    await withTempDir('srigl-onnx-', async (dir) => {
      const model = join(dir, 'model.safetensors');
      await saveMasked(model, { arch: 'cnn', inputShape: [1, 28, 28], classes: 10 }, 4, 40);
      const r = await run('export', model, '--format', 'onnx');
      assert.equal(r.code, 0, r.err);
      const out = join(dir, 'model.onnx');
      assert.ok(existsSync(out), r.out);
      assert.match(r.out, /cnn .*model\.safetensors → .*model\.onnx \(ONNX IR 8, opset 17, srigl [\d.]+\)/);
      assert.match(r.out, /input \[N, 1, 28, 28\] → logits \[N, 10\]/);
      assert.match(r.out, /\d+ nodes: .*Conv 2/);
      assert.match(r.out, /method srigl, weight density 0\.\d+/);
      await ortMatchesSrigl(t, model, out);
    });
  });

  test('--help documents --format; bad input: missing file, not safetensors, another srigl format, unknown format, --out = MODEL', async () => {
    const h = await run('export', '--help');
    assert.equal(h.code, 0);
    assert.match(h.out, /--format condensed\|onnx/);
    assert.match(h.out, /With --format onnx/);
    await withTempDir('srigl-onnx-bad-', async (dir) => {
      const missing = join(dir, 'missing.safetensors');
      const a = await run('export', missing, '--format', 'onnx');
      assert.equal(a.code, 1);
      assert.match(a.err, /missing\.safetensors: cannot open \(ENOENT/);

      const text = join(dir, 'notes.txt');
      writeFileSync(text, 'this is not a model file at all');
      const b = await run('export', text, '--format', 'onnx');
      assert.equal(b.code, 1);
      assert.match(b.err, /notes\.txt: header length \d+ exceeds/);

      const model = join(dir, 'mlp.safetensors');
      await saveMasked(model, { arch: 'mlp', inputShape: [1, 28, 28], classes: 10, hidden: [32] }, 5);
      // A valid safetensors file that is some other srigl format (a condensed model's tag).
      const other = join(dir, 'other.safetensors');
      writeSafetensors(other, [{ name: 'x', dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) }], { format: 'srigl-condensed', version: '1' });
      const c = await run('export', other, '--format', 'onnx');
      assert.equal(c.code, 1);
      assert.match(c.err, /other\.safetensors: not a srigl model \(metadata format is "srigl-condensed", expected "srigl-model"\)/);

      const d = await run('export', model, '--format', 'tflite');
      assert.equal(d.code, 2);
      assert.match(d.err, /--format expects one of condensed, onnx, got "tflite"/);
      const e = await run('export', model, '--format', 'onnx', '--out', model);
      assert.equal(e.code, 2);
      assert.match(e.err, /--out must differ from the input model/);
      assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.onnx')), [], 'no ONNX file is written on failure');
    });
  });
});
