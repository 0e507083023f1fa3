import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, type BackendName } from '../../src/kernels/engine.js';
import { Param } from '../../src/tensor/param.js';
import { Rng } from '../../src/tensor/rng.js';
import { clipGradNorm, createOptimizer, maskGradients } from '../../src/train/optimizer.js';

const BACKEND = (process.env.SRIGL_TEST_BACKEND ?? 'reference') as BackendName;

describe(`optimizers (${BACKEND})`, () => {
  test('SGD with Nesterov momentum matches PyTorch semantics; biases get no weight decay', async () => {
    const engine = await createEngine({ backend: BACKEND });
    const w = new Param(engine.heap, 'w', [2], true);
    const b = new Param(engine.heap, 'b', [2], false);
    w.value.data.set([1, -2]);
    b.value.data.set([1, -2]);
    const opt = createOptimizer(engine, [w, b], { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0.1 });
    // Reference in float64: g = G + wd·W; m = μm + g; W -= lr·(g + μm).
    const ref = (W: number[], wd: number): number[] => {
      const m = [0, 0];
      for (let t = 0; t < 3; t++) {
        for (let i = 0; i < 2; i++) {
          const g = 0.5 + wd * W[i];
          m[i] = 0.9 * m[i] + g;
          W[i] -= 0.1 * (g + 0.9 * m[i]);
        }
      }
      return W;
    };
    for (let t = 0; t < 3; t++) {
      w.grad.data.fill(0.5);
      b.grad.data.fill(0.5);
      opt.step(0.1);
    }
    const ew = ref([1, -2], 0.1);
    const eb = ref([1, -2], 0);
    for (let i = 0; i < 2; i++) {
      assert.ok(Math.abs(w.value.data[i] - ew[i]) < 1e-5, `weight ${i}: ${w.value.data[i]} vs ${ew[i]}`);
      assert.ok(Math.abs(b.value.data[i] - eb[i]) < 1e-5, `bias ${i}: ${b.value.data[i]} vs ${eb[i]}`);
    }
    assert.equal(opt.state(w).length, 1);
    await engine.close();
  });

  test('AdamW first step moves each weight by lr·sign(g) plus decoupled decay', async () => {
    const engine = await createEngine({ backend: BACKEND });
    const w = new Param(engine.heap, 'w', [3], true);
    w.value.data.set([1, 2, -3]);
    w.grad.data.set([0.3, -0.01, 5]);
    const opt = createOptimizer(engine, [w], { kind: 'adamw', weightDecay: 0.1 });
    opt.step(0.01);
    const expected = [1 - 0.01 * 0.1 * 1 - 0.01, 2 - 0.01 * 0.1 * 2 + 0.01, -3 + 0.01 * 0.1 * 3 - 0.01];
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(w.value.data[i] - expected[i]) < 1e-5, `${i}: ${w.value.data[i]} vs ${expected[i]}`);
    assert.equal(opt.steps, 1);
    assert.equal(opt.state(w).length, 2);
    await engine.close();
  });

  for (const kind of ['sgd', 'adamw'] as const) {
    test(`${kind}: masked weights stay exactly 0 over many steps with weight decay; state stays 0 there`, async () => {
      const engine = await createEngine({ backend: BACKEND });
      const seed = 31;
      const rng = new Rng(seed);
      const w = new Param(engine.heap, 'w', [8, 16], true);
      w.value.data.set(Float32Array.from({ length: w.size }, () => rng.normal()));
      const mask = Uint8Array.from({ length: w.size }, () => (rng.uniform() < 0.7 ? 0 : 1));
      w.setMask(mask);
      const opt = createOptimizer(engine, [w], { kind, weightDecay: 0.05 });
      for (let t = 0; t < 20; t++) {
        w.grad.data.set(Float32Array.from({ length: w.size }, () => rng.normal()));
        maskGradients(engine, [w]);
        opt.step(0.1);
        for (let i = 0; i < w.size; i++) {
          if (mask[i] === 0) assert.ok(Object.is(w.value.data[i], 0), `step ${t}, element ${i}: ${w.value.data[i]} (seed ${seed})`);
        }
      }
      for (const s of opt.state(w)) for (let i = 0; i < w.size; i++) if (mask[i] === 0) assert.equal(s.data[i], 0);
      const live = Array.from(w.value.data).filter((_, i) => mask[i] === 1);
      assert.ok(live.every((v) => v !== 0), 'unmasked weights keep training');
      await engine.close();
    });
  }

  test('clipGradNorm scales the global norm down to maxNorm and leaves small gradients alone', async () => {
    const engine = await createEngine({ backend: BACKEND });
    const a = new Param(engine.heap, 'a', [2], true);
    const b = new Param(engine.heap, 'b', [1], false);
    a.grad.data.set([3, 0]);
    b.grad.data.set([4]);
    assert.ok(Math.abs(clipGradNorm(engine, [a, b], 1) - 5) < 1e-6);
    const after = Math.hypot(a.grad.data[0], a.grad.data[1], b.grad.data[0]);
    assert.ok(Math.abs(after - 1) < 1e-4, `norm after clipping ${after}`);
    clipGradNorm(engine, [a, b], 10);
    assert.ok(Math.abs(Math.hypot(a.grad.data[0], b.grad.data[0]) - after) < 1e-6);
    await engine.close();
  });
});
