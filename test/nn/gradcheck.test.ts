import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, type Engine } from '../../src/kernels/engine.js';
import { Dropout, Flatten, GlobalAvgPool, MaxPool2d, ReLU } from '../../src/nn/activations.js';
import { BatchNorm2d } from '../../src/nn/batchnorm.js';
import { Conv2d } from '../../src/nn/conv2d.js';
import { Linear } from '../../src/nn/linear.js';
import { SoftmaxCrossEntropy } from '../../src/nn/loss.js';
import { Model } from '../../src/nn/models.js';
import { BasicBlock } from '../../src/nn/residual.js';
import { Sequential } from '../../src/nn/sequential.js';
import { Rng } from '../../src/tensor/rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { BACKEND, gradcheck, offKinks, relErr } from './gradcheck.js';

describe(`gradient checks (${BACKEND})`, () => {
  test('Linear with bias, batch 3', () =>
    gradcheck((c, s, g) => new Linear(c, 'fc', s, { out: 4 }, g), { inShape: [5], n: 3, seed: 1 }));
  // Sparse compute: the weight is stored compact (its active weights only, gathered from the
  // nonzero dense init), so the check perturbs exactly the weights that exist.
  for (const [n, inF, out] of [[3, 7, 5], [17, 9, 6]]) {
    test(`Linear with sparse compute (random mask, one empty row), batch ${n}`, () =>
      gradcheck((c, s, g) => {
        const l = new Linear(c, 'fc', s, { out }, g);
        const mask = Uint8Array.from({ length: out * inF }, (_, i) => (Math.floor(i / inF) === 1 ? 0 : c.rng.uniform() < 0.4 ? 1 : 0));
        l.setSparseCompute(mask, out * inF);
        assert.ok(l.sparse && l.weight.compact !== null && l.weight.compact.count === mask.reduce((a, b) => a + b, 0));
        return l;
      }, { inShape: [inF], n, seed: 30 + n }));
  }
  for (const [n, stride] of [[2, 1], [3, 2]]) {
    test(`Conv2d 3×3 with sparse compute (random mask, one empty filter), batch ${n}, stride ${stride}`, () =>
      gradcheck((c, s, g) => {
        const conv = new Conv2d(c, 'conv', s, { out: 3, kernel: 3, padding: 1, stride }, g);
        const fanIn = s[0] * 9;
        const mask = Uint8Array.from({ length: 3 * fanIn }, (_, i) => (Math.floor(i / fanIn) === 2 ? 0 : c.rng.uniform() < 0.5 ? 1 : 0));
        conv.setSparseCompute(mask, 3 * fanIn);
        assert.ok(conv.sparse && conv.weight.compact?.count === mask.reduce((a, b) => a + b, 0));
        return conv;
      }, { inShape: [2, 5, 5], n, seed: 40 + n }));
  }
  test('Linear without bias on [C,H,W] input, batch 1', () =>
    gradcheck((c, s, g) => new Linear(c, 'fc', s, { out: 3, bias: false }, g), { inShape: [2, 2, 2], n: 1, seed: 2 }));
  test('Conv2d 3×3 pad 1 stride 1', () =>
    gradcheck((c, s, g) => new Conv2d(c, 'conv', s, { out: 3, kernel: 3, padding: 1 }, g), { inShape: [2, 5, 5], n: 2, seed: 3 }));
  test('Conv2d 3×3 pad 1 stride 2, no bias', () =>
    gradcheck((c, s, g) => new Conv2d(c, 'conv', s, { out: 2, kernel: 3, stride: 2, padding: 1, bias: false }, g), { inShape: [3, 6, 6], n: 2, seed: 4 }));
  test('Conv2d 2×2 no padding on a non-square input', () =>
    gradcheck((c, s, g) => new Conv2d(c, 'conv', s, { out: 2, kernel: 2 }, g), { inShape: [1, 4, 5], n: 2, seed: 5 }));
  test('Conv2d 1×1 direct (no im2col)', () =>
    gradcheck((c, s, g) => new Conv2d(c, 'conv', s, { out: 3, kernel: 1 }, g), { inShape: [4, 3, 3], n: 2, seed: 6 }));
  test('Conv2d 1×1 stride 2 (projection shortcut)', () =>
    gradcheck((c, s, g) => new Conv2d(c, 'conv', s, { out: 3, kernel: 1, stride: 2, bias: false }, g), { inShape: [2, 5, 5], n: 2, seed: 7 }));
  test('BatchNorm2d training mode, through the batch statistics', () =>
    gradcheck((c, s) => new BatchNorm2d(c, 'bn', s), { inShape: [3, 2, 2], n: 3, seed: 8, eps: 1e-2 }));
  test('BatchNorm over [C] features (BatchNorm1d)', () =>
    gradcheck((c, s) => new BatchNorm2d(c, 'bn', s), { inShape: [4], n: 5, seed: 9 }));
  test('ReLU', () => gradcheck((c, s) => new ReLU(c, s), { inShape: [3, 2, 2], n: 2, seed: 10, input: offKinks }));
  test('MaxPool2d 2×2 on odd sizes (floor)', () =>
    gradcheck((c, s) => new MaxPool2d(c, s, 2), { inShape: [2, 5, 4], n: 2, seed: 11, input: offKinks }));
  test('MaxPool2d 3×3 stride 2 (overlapping windows)', () =>
    gradcheck((c, s) => new MaxPool2d(c, s, 3, 2), { inShape: [1, 5, 5], n: 2, seed: 12, input: offKinks }));
  test('GlobalAvgPool', () => gradcheck((c, s) => new GlobalAvgPool(c, s), { inShape: [3, 3, 2], n: 2, seed: 13 }));
  test('Flatten', () => gradcheck((_c, s) => new Flatten(s), { inShape: [2, 2, 3], n: 2, seed: 14 }));
  test('BasicBlock with identity shortcut', () =>
    gradcheck((c, s, g) => new BasicBlock(c, 'block', s, { out: 2 }, g), { inShape: [2, 4, 4], n: 3, seed: 15, eps: 1e-3, tol: 1e-2 }));
  test('BasicBlock with 1×1 projection, stride 2', () =>
    gradcheck((c, s, g) => new BasicBlock(c, 'block', s, { out: 3, stride: 2 }, g), { inShape: [2, 5, 5], n: 3, seed: 16, eps: 1e-3, tol: 1e-2 }));
  test('Sequential conv → BN → ReLU → pool → flatten → linear', () =>
    gradcheck(
      (c, s, g) =>
        new Sequential(c, s, [
          // No bias before BN: its true gradient is 0, and comparing f32 noise with 0 says nothing.
          (c2, s2, g2) => new Conv2d(c2, 'conv', s2, { out: 3, kernel: 3, padding: 1, bias: false }, g2),
          (c2, s2) => new BatchNorm2d(c2, 'bn', s2),
          (c2, s2) => new ReLU(c2, s2),
          (c2, s2) => new MaxPool2d(c2, s2, 2),
          (_c2, s2) => new Flatten(s2),
          (c2, s2, g2) => new Linear(c2, 'fc', s2, { out: 3 }, g2),
        ], g),
      { inShape: [1, 4, 4], n: 3, seed: 17, eps: 1e-3, tol: 1e-2 },
    ));

  test('softmax cross-entropy with label smoothing', async () => {
    const engine = await createEngine({ backend: BACKEND });
    const seed = 18;
    const rng = new Rng(seed);
    const n = 4;
    const classes = 5;
    const loss = new SoftmaxCrossEntropy({ engine, maxBatch: n, rng }, classes);
    const logits = Tensor.zeros(engine.heap, [n, classes]);
    logits.data.set(Float32Array.from({ length: n * classes }, () => 2 * rng.normal()));
    loss.labels.i32.set([0, 3, 4, 3]);
    loss.compute(logits.ptr, n, 0.1);
    const analytic = loss.dLogits.data.slice();
    const eps = 1e-2;
    const numeric = new Float64Array(n * classes);
    for (let i = 0; i < numeric.length; i++) {
      const v = logits.data[i];
      logits.data[i] = v + eps;
      const up = loss.compute(logits.ptr, n, 0.1).loss;
      logits.data[i] = v - eps;
      const down = loss.compute(logits.ptr, n, 0.1).loss;
      logits.data[i] = v;
      numeric[i] = (up - down) / (2 * eps);
    }
    const e = relErr(analytic, numeric);
    assert.ok(e < 1e-2, `loss gradient: relative error ${e} (seed ${seed})`);
    await engine.close();
  });

  test('Dropout: training scales kept units by 1/(1-p) and routes gradients through the same mask; eval is the identity', async () => {
    const engine = await createEngine({ backend: BACKEND });
    const seed = 19;
    const rng = new Rng(seed);
    const n = 4;
    const layer = new Dropout({ engine, maxBatch: n, rng }, [50], 0.3);
    const x = Tensor.zeros(engine.heap, [n * 50]);
    x.data.set(Float32Array.from({ length: n * 50 }, () => 1 + rng.uniform()));
    const y = engine.heap.f32(layer.forward(x.ptr, n, true), n * 50).slice();
    const dy = Tensor.zeros(engine.heap, [n * 50]);
    dy.data.fill(2);
    const dx = engine.heap.f32(layer.backward(dy.ptr, n), n * 50);
    let dropped = 0;
    for (let i = 0; i < n * 50; i++) {
      if (y[i] === 0) {
        dropped++;
        assert.equal(dx[i], 0);
      } else {
        assert.ok(Math.abs(y[i] - x.data[i] / 0.7) < 1e-5, `element ${i} (seed ${seed})`);
        assert.ok(Math.abs(dx[i] - 2 / 0.7) < 1e-5);
      }
    }
    assert.ok(dropped > 20 && dropped < 100, `dropped ${dropped} of 200 at p = 0.3 (seed ${seed})`);
    assert.equal(layer.forward(x.ptr, n, false), x.ptr);
    await engine.close();
  });

  test('whole mlp model: backprop matches finite differences of a float64 forward pass', async () => {
    // f32 finite differences through 1,000 ReLUs are too noisy at the scale of a mean loss, so
    // the oracle recomputes the model's loss in float64 from the same weights.
    const engine: Engine = await createEngine({ backend: BACKEND });
    const seed = 20;
    const rng = new Rng(seed);
    const n = 3;
    const smoothing = 0.1;
    const model = new Model(engine, { arch: 'mlp', inputShape: [1, 28, 28], classes: 10 }, { maxBatch: n, seed });
    const x0 = Float64Array.from(Float32Array.from({ length: n * 784 }, () => rng.normal()));
    const labels = [1, 7, 3];
    model.inputs.set(x0);
    model.labels.set(labels);
    model.forward(n, true);
    const f32Loss = model.loss(n, smoothing).loss;
    model.backward(n);
    const P = new Map(model.parameters().map((p) => [p.name, Float64Array.from(p.value.data)]));
    const layers = [['fc1', 784, 300], ['fc2', 300, 100], ['fc3', 100, 10]] as const;
    const lossF64 = (): number => {
      let total = 0;
      for (let b = 0; b < n; b++) {
        let h = x0.subarray(b * 784, (b + 1) * 784);
        for (const [name, fanIn, out] of layers) {
          const W = P.get(`${name}.weight`) as Float64Array;
          const B = P.get(`${name}.bias`) as Float64Array;
          const o = new Float64Array(out);
          for (let j = 0; j < out; j++) {
            let s = B[j];
            for (let i = 0; i < fanIn; i++) s += W[j * fanIn + i] * h[i];
            o[j] = name === 'fc3' ? s : Math.max(0, s);
          }
          h = o;
        }
        const m = Math.max(...h);
        const lse = Math.log(h.reduce((a, v) => a + Math.exp(v - m), 0)) + m;
        h.forEach((v, c) => (total += ((c === labels[b] ? 1 - smoothing : 0) + smoothing / 10) * (lse - v)));
      }
      return total / n;
    };
    assert.ok(Math.abs(lossF64() - f32Loss) < 1e-5, `loss ${f32Loss} vs float64 ${lossF64()}`);
    const h = 1e-6;
    for (const p of model.parameters()) {
      const v = P.get(p.name) as Float64Array;
      const analytic: number[] = [];
      const numeric: number[] = [];
      for (let t = 0; t < 16; t++) {
        const i = rng.int(p.size);
        const w = v[i];
        v[i] = w + h;
        const up = lossF64();
        v[i] = w - h;
        const down = lossF64();
        v[i] = w;
        analytic.push(p.grad.data[i]);
        numeric.push((up - down) / (2 * h));
      }
      const e = relErr(analytic, numeric, 1e-6);
      assert.ok(e < 1e-3, `${p.name}: relative error ${e.toExponential(2)} (seed ${seed})`);
    }
    await engine.close();
  });
});
