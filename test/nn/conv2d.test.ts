// The batched Conv2d (one im2col over the batch, one GEMM per pass) against a direct
// convolution computed image by image in plain TypeScript: forward output and every gradient.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, type BackendName } from '../../src/kernels/engine.js';
import { probeFeatures } from '../../src/kernels/probe.js';
import { Conv2d, type Conv2dOptions } from '../../src/nn/conv2d.js';
import type { BuildContext } from '../../src/nn/layer.js';
import { Model } from '../../src/nn/models.js';
import { Rng } from '../../src/tensor/rng.js';
import { Tensor } from '../../src/tensor/tensor.js';

// Default: the fastest WebAssembly kernels this runtime has (the reference backend is the oracle's twin).
const BACKEND = (process.env.SRIGL_TEST_BACKEND ?? 'auto') as BackendName;

interface Geometry { C: number; H: number; W: number; out: number; k: number; stride: number; pad: number }

function outSize(g: Geometry): [number, number] {
  return [Math.floor((g.H + 2 * g.pad - g.k) / g.stride) + 1, Math.floor((g.W + 2 * g.pad - g.k) / g.stride) + 1];
}

/** y, and for upstream gradient dy: dW, db, dx, one image at a time by the definition. */
function direct(g: Geometry, n: number, x: Float32Array, w: Float32Array, b: Float32Array | null, dy: Float32Array) {
  const [OH, OW] = outSize(g);
  const { C, H, W, out, k, stride, pad } = g;
  const y = new Float64Array(n * out * OH * OW);
  const dW = new Float64Array(w.length), db = new Float64Array(out), dx = new Float64Array(x.length);
  for (let i = 0; i < n; i++) for (let o = 0; o < out; o++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    const yi = ((i * out + o) * OH + oy) * OW + ox;
    let s = b ? b[o] : 0;
    for (let c = 0; c < C; c++) for (let p = 0; p < k; p++) for (let q = 0; q < k; q++) {
      const iy = oy * stride - pad + p, ix = ox * stride - pad + q;
      if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
      const xi = ((i * C + c) * H + iy) * W + ix, wi = ((o * C + c) * k + p) * k + q;
      s += w[wi] * x[xi];
      dW[wi] += dy[yi] * x[xi];
      dx[xi] += dy[yi] * w[wi];
    }
    y[yi] = s;
    db[o] += dy[yi];
  }
  return { y, dW, db, dx };
}

function close(what: string, got: Float32Array, want: Float64Array): void {
  assert.equal(got.length, want.length, what);
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * Math.max(1, scale), `${what}[${i}] = ${got[i]}, expected ${want[i]}`);
  }
}

const CASES: { label: string; g: Geometry; n: number; maxBatch: number; bias: boolean }[] = [
  { label: '3×3 pad 1 stride 1, batch 3', g: { C: 2, H: 7, W: 6, out: 3, k: 3, stride: 1, pad: 1 }, n: 3, maxBatch: 3, bias: true },
  { label: '3×3 pad 1 stride 2, batch 3 of maxBatch 4', g: { C: 3, H: 9, W: 8, out: 5, k: 3, stride: 2, pad: 1 }, n: 3, maxBatch: 4, bias: false },
  { label: '3×3 pad 0 stride 2, batch 1', g: { C: 2, H: 8, W: 7, out: 4, k: 3, stride: 2, pad: 0 }, n: 1, maxBatch: 3, bias: true },
  { label: '2×2 pad 0 stride 1, batch 3', g: { C: 1, H: 5, W: 6, out: 2, k: 2, stride: 1, pad: 0 }, n: 3, maxBatch: 3, bias: true },
  { label: '1×1 stride 2 (projection), batch 3', g: { C: 4, H: 7, W: 7, out: 3, k: 1, stride: 2, pad: 0 }, n: 3, maxBatch: 3, bias: false },
  { label: '1×1 stride 1, batch 1', g: { C: 3, H: 4, W: 5, out: 2, k: 1, stride: 1, pad: 0 }, n: 1, maxBatch: 2, bias: true },
  { label: '5×5 pad 2 stride 1, batch 3', g: { C: 2, H: 6, W: 6, out: 3, k: 5, stride: 1, pad: 2 }, n: 3, maxBatch: 3, bias: true },
];

describe(`batched Conv2d equals the per-image direct convolution (${BACKEND})`, () => {
  for (const { label, g, n, maxBatch, bias } of CASES) {
    test(label, async () => {
      const engine = await createEngine({ backend: BACKEND, threads: 1 });
      try {
        const seed = 4242 + g.C * 100 + g.k * 10 + n;
        const rng = new Rng(seed);
        const ctx: BuildContext = { engine, maxBatch, rng };
        const opts: Conv2dOptions = { out: g.out, kernel: g.k, stride: g.stride, padding: g.pad, bias };
        const conv = new Conv2d(ctx, 'conv', [g.C, g.H, g.W], opts, true);
        const [OH, OW] = outSize(g);
        assert.deepEqual(conv.outShape, [g.out, OH, OW]);
        const x = Tensor.zeros(engine.heap, [maxBatch * g.C * g.H * g.W]);
        const dy = Tensor.zeros(engine.heap, [maxBatch * g.out * OH * OW]);
        const xs = Float32Array.from({ length: n * g.C * g.H * g.W }, () => rng.normal());
        const dys = Float32Array.from({ length: n * g.out * OH * OW }, () => rng.normal());
        x.data.set(xs);
        dy.data.set(dys);
        const want = direct(g, n, xs, conv.weight.value.data, conv.bias ? conv.bias.value.data : null, dys);
        const y = engine.heap.f32(conv.forward(x.ptr, n), want.y.length).slice();
        const dx = engine.heap.f32(conv.backward(dy.ptr, n), want.dx.length).slice();
        const msg = `${label} (seed ${seed})`;
        close(`${msg}: y`, y, want.y);
        close(`${msg}: dW`, conv.weight.grad.data, want.dW);
        if (conv.bias) close(`${msg}: db`, conv.bias.grad.data, want.db);
        close(`${msg}: dx`, dx, want.dx);
      } finally {
        await engine.close();
      }
    });
  }

  test('two convs of one context share scratch: interleaved passes stay correct, the first skips dx', async () => {
    const engine = await createEngine({ backend: BACKEND, threads: 1 });
    try {
      const seed = 77;
      const rng = new Rng(seed);
      const ctx: BuildContext = { engine, maxBatch: 3, rng };
      const ga: Geometry = { C: 2, H: 6, W: 6, out: 4, k: 3, stride: 1, pad: 1 };
      const gb: Geometry = { C: 4, H: 6, W: 6, out: 3, k: 3, stride: 2, pad: 1 };
      const a = new Conv2d(ctx, 'a', [ga.C, ga.H, ga.W], { out: ga.out, kernel: 3, padding: 1 }, false);
      const b = new Conv2d(ctx, 'b', a.outShape, { out: gb.out, kernel: 3, stride: 2, padding: 1 }, true);
      const n = 3;
      const x = Tensor.zeros(engine.heap, [n * 2 * 36]);
      x.data.set(Float32Array.from({ length: x.size }, () => rng.normal()));
      const ya = a.forward(x.ptr, n);
      const yaCopy = engine.heap.f32(ya, n * 4 * 36).slice();
      const [OH, OW] = outSize(gb);
      const dyb = Tensor.zeros(engine.heap, [n * gb.out * OH * OW]);
      dyb.data.set(Float32Array.from({ length: dyb.size }, () => rng.normal()));
      b.forward(ya, n);
      const dya = b.backward(dyb.ptr, n);
      const dyaCopy = engine.heap.f32(dya, yaCopy.length).slice();
      assert.equal(a.backward(dya, n), 0, 'the first layer returns no input gradient');
      const wantB = direct(gb, n, yaCopy, b.weight.value.data, b.bias!.value.data, dyb.data);
      const wantA = direct(ga, n, x.data, a.weight.value.data, a.bias!.value.data, dyaCopy);
      close(`(seed ${seed}) b.dW`, b.weight.grad.data, wantB.dW);
      close(`(seed ${seed}) b.dx`, dyaCopy, wantB.dx);
      close(`(seed ${seed}) a.dW`, a.weight.grad.data, wantA.dW);
      close(`(seed ${seed}) a.db`, a.bias!.grad.data, wantA.db);
    } finally {
      await engine.close();
    }
  });
});

const features = await probeFeatures();

test('cnn gradients are bitwise identical with 1 and 2 threads', { skip: features.threads ? false : 'no threads' }, async () => {
  const grads: { name: string; g: Float32Array }[][] = [];
  for (const threads of [1, 2]) {
    const engine = await createEngine({ threads });
    try {
      assert.equal(engine.threads, threads);
      const model = new Model(engine, { arch: 'cnn', inputShape: [1, 28, 28], classes: 10 }, { maxBatch: 16, seed: 5 });
      const rng = new Rng(6);
      model.inputs.set(Float32Array.from({ length: 16 * 784 }, () => rng.normal()));
      model.labels.set(Int32Array.from({ length: 16 }, () => rng.int(10)));
      model.forward(16, true);
      model.loss(16);
      model.backward(16);
      grads.push(model.parameters().map((p) => ({ name: p.name, g: p.grad.data.slice() })));
    } finally {
      await engine.close();
    }
  }
  for (let i = 0; i < grads[0].length; i++) {
    const [a, b] = [grads[0][i].g, grads[1][i].g];
    const diff = a.findIndex((v, j) => !Object.is(v, b[j]));
    assert.equal(diff, -1, `${grads[0][i].name}: element ${diff} differs (${a[diff]} vs ${b[diff]})`);
  }
});
