import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linearOnnx, loadOrt, ORT_INSTALL } from '../../bench/inference.js';
import { Rng } from '../../src/tensor/rng.js';

test('the onnxruntime baseline (bench/onnxruntime) computes the same dense layer as a plain loop', async (t) => {
  const ort = await loadOrt();
  if (ort === null) return t.skip(`onnxruntime-node is not installed (${ORT_INSTALL}); skipping the baseline check`);
  const [B, inF, outF] = [3, 37, 11];
  const rng = new Rng(7);
  const w = Float32Array.from({ length: outF * inF }, () => rng.normal());
  const b = Float32Array.from({ length: outF }, () => rng.normal());
  const x = Float32Array.from({ length: B * inF }, () => rng.normal());
  const session = await ort.InferenceSession.create(linearOnnx(inF, outF, w, b), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const res = (await session.run({ x: new ort.Tensor('float32', x, [B, inF]) })) as Record<string, { data: Float32Array; dims: number[] }>;
  assert.deepEqual([...res.y.dims], [B, outF]);
  for (let r = 0; r < B; r++) {
    for (let o = 0; o < outF; o++) {
      let want = b[o];
      for (let i = 0; i < inF; i++) want += x[r * inF + i] * w[o * inF + i];
      assert.ok(Math.abs(res.y.data[r * outF + o] - want) < 1e-4 * (1 + Math.abs(want)), `y[${r}, ${o}] = ${res.y.data[r * outF + o]}, expected ${want}`);
    }
  }
  await session.release?.();
});
