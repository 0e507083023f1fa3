/**
 * ONNX export: the graph decoded back with onnx-proto (structure, names, shapes, weights W ⊙ M,
 * metadata), and run by onnxruntime-node against srigl's own eval forward. The onnxruntime
 * checks skip with a message when bench/onnxruntime is not installed.
 *
 * Tolerance: |logit_ort − logit_srigl| ≤ 1e-4 absolute, per logit, on logits of magnitude
 * O(1–10) (the classifier is scaled up to get there; each case prints its max |logit| and
 * max |Δ|): room for float32 summation order and onnxruntime's fused kernels only.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { loadOrt, ORT_INSTALL, type OrtLike } from '../../bench/inference.js';
import { createEngine, type Engine } from '../../src/kernels/engine.js';
import { buildModel, type Arch, type Model, type ModelSpec } from '../../src/nn/models.js';
import { modelToOnnx, ONNX_IR_VERSION, ONNX_OPSET, ortSession, SRIGL_VERSION, summarizeOnnx } from '../../src/io/onnx.js';
import type { Layer } from '../../src/nn/layer.js';
import { constantFanInMask } from '../../src/sparse/mask.js';
import { Rng } from '../../src/tensor/rng.js';
import { repoRoot } from '../paths.js';

const { onnx } = onnxProto;
const TOL = 1e-4;
const ARCH_SPECS: Record<Arch, ModelSpec> = {
  mlp: { arch: 'mlp', inputShape: [1, 28, 28], classes: 10 },
  cnn: { arch: 'cnn', inputShape: [1, 28, 28], classes: 10 },
  resnet: { arch: 'resnet', inputShape: [1, 28, 28], classes: 10 },
  vit: { arch: 'vit', inputShape: [1, 28, 28], classes: 10 },
};
/** Ops each architecture's graph must contain (what the issue lists per arch). */
const ARCH_OPS: Record<Arch, string[]> = {
  mlp: ['Flatten', 'Gemm', 'Relu'],
  cnn: ['Conv', 'Relu', 'MaxPool', 'Flatten', 'Gemm'],
  resnet: ['Conv', 'BatchNormalization', 'Relu', 'Add', 'GlobalAveragePool', 'Gemm'],
  vit: ['Conv', 'Reshape', 'Transpose', 'Expand', 'Concat', 'Add', 'LayerNormalization', 'MatMul', 'Mul', 'Softmax', 'Erf', 'Gather', 'Gemm'],
};

type Decoded = onnxProto.onnx.IModelProto;

function decode(bytes: Uint8Array): Decoded {
  return onnx.ModelProto.toObject(onnx.ModelProto.decode(bytes), { longs: Number, defaults: true }) as Decoded;
}

function floats(t: onnxProto.onnx.ITensorProto): Float32Array {
  const raw = t.rawData as Uint8Array;
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return Float32Array.from({ length: raw.byteLength / 4 }, (_, i) => v.getFloat32(i * 4, true));
}

function dims(v: onnxProto.onnx.IValueInfoProto): (number | string)[] {
  return (v.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));
}

/**
 * A model of `arch` whose norms are not at their identity init (random γ, β, BN running
 * statistics) and whose classifier is scaled up, masked when `masked` (constant fan-in 20%, every 5th neuron of a hidden layer
 * ablated), so every tensor the export writes matters to the logits.
 */
function prepared(engine: Engine, arch: Arch, masked: boolean, seed: number, spec: ModelSpec = ARCH_SPECS[arch]): Model {
  const model = buildModel(engine, spec, { maxBatch: 3, seed });
  const rng = new Rng(seed + 100);
  for (const t of model.stateTensors()) {
    if (t.shape.length !== 1) continue;
    const v = new Float32Array(t.size);
    for (let i = 0; i < v.length; i++) {
      if (t.name.endsWith('running_var')) v[i] = 0.5 + rng.uniform();
      else if (t.name.endsWith('.weight')) v[i] = 1 + 0.2 * rng.normal(); // a norm's γ (Linear/Conv weights are ≥ 2-D)
      else v[i] = 0.2 * rng.normal();
    }
    t.assign(v);
  }
  // A classifier 10× its init puts the logits at O(1–10), the scale the absolute tolerance is meant for.
  const head = model.sparsifiable().at(-1)!;
  for (const p of [head.weight, head.bias!]) p.assign(p.denseValues().map((v) => 10 * v));
  if (masked) {
    for (const l of model.sparsifiable()) {
      const mask = constantFanInMask(l.out, l.fanIn, Math.max(1, Math.round(0.2 * l.fanIn)), rng);
      if (!l.isClassifier) for (let r = 2; r < l.out; r += 5) mask.fill(0, r * l.fanIn, (r + 1) * l.fanIn);
      l.weight.setMask(mask);
    }
  }
  return model;
}

function randomInput(model: Model, n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * model.inputSize }, () => rng.normal());
}

function sriglLogits(model: Model, x: Float32Array, n: number): Float32Array {
  model.inputs.set(x);
  model.forward(n, false);
  return model.logits(n).slice();
}

function assertClose(t: TestContext, got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: ${got.length} logits, expected ${want.length}`);
  let maxDiff = 0, maxAbs = 0, at = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= maxDiff)) [maxDiff, at] = [d, i];
    maxAbs = Math.max(maxAbs, Math.abs(want[i]));
  }
  t.diagnostic(`${what}: max |Δ| ${maxDiff.toExponential(2)}, max |logit| ${maxAbs.toFixed(2)}`);
  assert.ok(maxAbs > 1, `${what}: logits are all small (max |logit| ${maxAbs}), so an absolute tolerance says little`);
  assert.ok(maxDiff <= TOL, `${what}: logit ${at} is ${got[at]} in onnxruntime, ${want[at]} in srigl (|Δ| ${maxDiff} > ${TOL})`);
}

let engine: Engine;
let ort: OrtLike | null = null;
before(async () => {
  engine = await createEngine({ threads: 1 });
  ort = await loadOrt();
});
after(async () => {
  await engine.close();
});

describe('modelToOnnx: the graph decoded back', () => {
  for (const arch of Object.keys(ARCH_SPECS) as Arch[]) {
    test(`${arch} (masked): header, input/output, every model tensor as an initializer with W ⊙ M, topological order, metadata`, () => {
      const model = prepared(engine, arch, true, 1);
      const info = { dataset: 'fashion-mnist', sparse: { method: 'srigl', sparsity: 0.8 }, metrics: { testAcc: 0.5 } };
      const m = decode(modelToOnnx(model, { info }));
      const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string };
      assert.equal(m.irVersion, 8);
      assert.equal(ONNX_IR_VERSION, 8);
      assert.deepEqual(m.opsetImport?.map((o) => [o.domain, Number(o.version)]), [['', 17]]);
      assert.equal(ONNX_OPSET, 17);
      assert.equal(m.producerName, 'srigl');
      assert.equal(m.producerVersion, pkg.version, 'SRIGL_VERSION (src/io/onnx.ts) must follow package.json');
      assert.equal(SRIGL_VERSION, pkg.version);
      const g = m.graph!;
      assert.equal(g.input?.length, 1);
      assert.equal(g.input![0].name, 'input');
      assert.equal(g.input![0].type?.tensorType?.elemType, onnx.TensorProto.DataType.FLOAT);
      assert.deepEqual(dims(g.input![0]), ['N', 1, 28, 28]);
      assert.equal(g.output?.length, 1);
      assert.equal(g.output![0].name, 'logits');
      assert.deepEqual(dims(g.output![0]), ['N', 10]);

      const inits = new Map((g.initializer ?? []).map((t) => [t.name!, t]));
      assert.equal(inits.size, g.initializer!.length, 'initializer names are unique');
      for (const st of model.stateTensors()) {
        const direct = inits.get(st.name), transposed = inits.get(`${st.name}.T`);
        assert.ok(direct !== undefined || transposed !== undefined, `${st.name} is missing from the initializers`);
        const t = (direct ?? transposed)!;
        assert.equal(t.dataType, onnx.TensorProto.DataType.FLOAT, st.name);
        const [o, i] = st.shape;
        assert.deepEqual(t.dims, direct ? [...st.shape] : [i, o], `${st.name} dims`);
        const got = floats(t);
        const dense = st.data;
        const param = model.parameters().find((p) => p.name === st.name);
        const mask = param?.denseMask() ?? null;
        for (let e = 0; e < st.size; e++) {
          const want = mask !== null && mask[e] === 0 ? 0 : dense[e];
          const at = direct ? e : (e % i) * o + Math.floor(e / i);
          if (got[at] !== want) assert.fail(`${st.name}[${e}] is ${got[at]} in the graph, expected ${want}`);
        }
      }
      if (arch !== 'mlp') assert.ok([...inits.keys()].some((n) => n.endsWith('running_var') || n.endsWith('pos_embed') || n.endsWith('conv1.weight') || n.endsWith('proj.weight')));

      // Every node reads the input, an initializer or an earlier node's output; one node writes logits, last.
      const known = new Set<string>(['input', ...inits.keys()]);
      for (const n of g.node ?? []) {
        for (const input of n.input ?? []) assert.ok(known.has(input), `node ${n.name} (${n.opType}) reads ${input} before it is produced`);
        for (const out of n.output ?? []) {
          assert.ok(!known.has(out), `${out} is produced twice`);
          known.add(out);
        }
      }
      assert.deepEqual(g.node!.at(-1)!.output, ['logits']);
      const ops = new Set(g.node!.map((n) => n.opType));
      for (const op of ARCH_OPS[arch]) assert.ok(ops.has(op), `${arch} graph has no ${op} node (ops: ${[...ops].join(', ')})`);

      const meta = Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key, p.value]));
      assert.deepEqual(JSON.parse(meta['srigl.arch']), model.spec);
      assert.equal(meta['srigl.method'], 'srigl');
      assert.equal(meta['srigl.sparsity'], '0.8');
      assert.equal(meta['srigl.dataset'], 'fashion-mnist');
      assert.deepEqual(JSON.parse(meta['srigl.metrics']), info.metrics);
      assert.deepEqual(JSON.parse(meta['srigl.sparse']), info.sparse);
      let nnz = 0, total = 0;
      for (const l of model.sparsifiable()) {
        total += l.weight.size;
        nnz += [...l.weight.denseMask()!].filter((v) => v !== 0).length;
      }
      assert.equal(Number(meta['srigl.weights.nnz']), nnz);
      assert.equal(Number(meta['srigl.weights.total']), total);
      assert.ok(nnz < 0.25 * total, `masks keep ${nnz} of ${total}`);
      assert.equal(meta['srigl.weights.density'], (nnz / total).toFixed(6));
    });
  }

  test('a dense model without facts: method dense, density 1; summarizeOnnx agrees with the decoded graph', () => {
    const model = prepared(engine, 'cnn', false, 2);
    const bytes = modelToOnnx(model);
    const m = decode(bytes);
    const meta = Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key, p.value]));
    assert.equal(meta['srigl.method'], 'dense');
    assert.equal(meta['srigl.weights.density'], '1.000000');
    assert.equal(meta['srigl.sparsity'], undefined);
    assert.equal(meta['srigl.sparse'], undefined);
    const s = summarizeOnnx(bytes);
    assert.equal(s.nodes, m.graph!.node!.length);
    assert.equal(s.opset, 17);
    assert.equal(s.irVersion, 8);
    assert.equal(s.producer.split(' ')[0], 'srigl');
    assert.deepEqual(s.input, { name: 'input', shape: ['N', 1, 28, 28] });
    assert.deepEqual(s.output, { name: 'logits', shape: ['N', 10] });
    assert.equal(s.ops.Conv, 2);
    assert.equal(s.ops.MaxPool, 2);
    // Initializer bytes: the model's floats, 4 bytes each, plus nothing else for a cnn.
    assert.equal(s.initializerBytes, 4 * model.stateTensors().reduce((a, t) => a + t.size, 0));
  });

  test("inputLayout 'flat': input [N, C·H·W]; a conv model Reshapes it back, the mlp needs no Flatten", () => {
    const mlp = decode(modelToOnnx(prepared(engine, 'mlp', false, 3), { inputLayout: 'flat' })).graph!;
    assert.deepEqual(dims(mlp.input![0]), ['N', 784]);
    assert.ok(!mlp.node!.some((n) => n.opType === 'Flatten' || n.opType === 'Reshape'));
    const cnn = decode(modelToOnnx(prepared(engine, 'cnn', false, 3), { inputLayout: 'flat' })).graph!;
    assert.deepEqual(dims(cnn.input![0]), ['N', 784]);
    assert.equal(cnn.node![0].opType, 'Reshape');
    assert.throws(() => modelToOnnx(prepared(engine, 'mlp', false, 3), { inputLayout: 'nchw' as 'flat' }), /inputLayout must be "image" or "flat", got "nchw"/);
  });

  test('a layer without an ONNX form is named in the error', () => {
    const model = prepared(engine, 'mlp', false, 4);
    class Mystery implements Layer {
      readonly outShape = [10];
      forward(): number { return 0; }
      backward(): number { return 0; }
      params() { return []; }
      buffers() { return []; }
      sparsifiable() { return []; }
    }
    const fake = Object.create(model, { net: { value: { layers: [...model.net.layers, new Mystery()] } } }) as Model;
    assert.throws(() => modelToOnnx(fake), /onnx export: layer Mystery has no ONNX form/);
  });
});

describe('modelToOnnx: onnxruntime gives srigl\'s logits (|Δ| ≤ 1e-4)', () => {
  for (const arch of Object.keys(ARCH_SPECS) as Arch[]) {
    for (const masked of [false, true]) {
      test(`${arch}, ${masked ? 'masked' : 'dense'}, batch 1 and 3`, async (t) => {
        if (ort === null) return t.skip(`onnxruntime-node is not installed (${ORT_INSTALL}); skipping`);
        const seed = 10 + Object.keys(ARCH_SPECS).indexOf(arch) * 2 + (masked ? 1 : 0);
        const model = prepared(engine, arch, masked, seed);
        const s = await ortSession(ort, model);
        try {
          for (const n of [1, 3]) {
            const x = randomInput(model, n, seed * 7 + n);
            assertClose(t, await s.run(x, n), sriglLogits(model, x, n), `${arch} ${masked ? 'masked' : 'dense'} batch ${n} (seed ${seed})`);
          }
        } finally {
          await s.release();
        }
      });
    }
  }

  test('a small vit (dim 24, 3 heads, mlpRatio 1.5) and flat input layouts for mlp and resnet', async (t) => {
    if (ort === null) return t.skip(`onnxruntime-node is not installed (${ORT_INSTALL}); skipping`);
    const vit = prepared(engine, 'vit', true, 30, { arch: 'vit', inputShape: [1, 28, 28], classes: 7, patch: 4, dim: 24, depth: 2, heads: 3, mlpRatio: 1.5 });
    const cases: [string, Model, 'image' | 'flat'][] = [
      ['small vit', vit, 'image'],
      ['mlp flat', prepared(engine, 'mlp', true, 31), 'flat'],
      ['resnet flat', prepared(engine, 'resnet', true, 32), 'flat'],
    ];
    for (const [what, model, inputLayout] of cases) {
      const s = await ortSession(ort, model, { inputLayout });
      try {
        const x = randomInput(model, 3, 33);
        assertClose(t, await s.run(x, 3), sriglLogits(model, x, 3), what);
      } finally {
        await s.release();
      }
    }
  });

  test('a model training in sparse compute (compact weights) exports its active weights', async (t) => {
    if (ort === null) return t.skip(`onnxruntime-node is not installed (${ORT_INSTALL}); skipping`);
    for (const arch of ['mlp', 'vit'] as const) {
      const model = prepared(engine, arch, true, 40);
      for (const l of model.sparsifiable()) {
        const mask = l.weight.denseMask()!;
        const nnz = [...mask].filter((v) => v !== 0).length;
        l.sparseCompute!.setSparseCompute(Uint8Array.from(mask), nnz);
        assert.notEqual(l.weight.compact, null, `${l.name} went compact`);
      }
      const s = await ortSession(ort, model);
      try {
        const x = randomInput(model, 3, 41);
        assertClose(t, await s.run(x, 3), sriglLogits(model, x, 3), `${arch} compact`);
      } finally {
        await s.release();
      }
    }
  });

  test('ortSession checks its inputs', async (t) => {
    if (ort === null) return t.skip(`onnxruntime-node is not installed (${ORT_INSTALL}); skipping`);
    const model = prepared(engine, 'mlp', false, 50);
    await assert.rejects(ortSession(ort, model, { threads: 0 }), /threads must be a positive integer, got 0/);
    const s = await ortSession(ort, model);
    try {
      await assert.rejects(s.run(new Float32Array(783), 1), /783 inputs for 1 examples of \[1, 28, 28\] \(expected 784\)/);
      await assert.rejects(s.run(new Float32Array(0), 0), /batch must be a positive integer, got 0/);
    } finally {
      await s.release();
    }
  });
});
