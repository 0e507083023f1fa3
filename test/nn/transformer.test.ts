// The transformer layers: gradient checks (LayerNorm, GELU, attention, patch + position
// embedding, a whole block, dense and with sparse compute), attention against its formula in
// float64, names and sparsifiable layers, and a training step that allocates nothing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, type BackendName } from '../../src/kernels/engine.js';
import { GELU } from '../../src/nn/activations.js';
import { MultiHeadSelfAttention } from '../../src/nn/attention.js';
import { ClassTokenPosEmbed, PatchEmbed } from '../../src/nn/embedding.js';
import type { BuildContext } from '../../src/nn/layer.js';
import { LayerNorm } from '../../src/nn/layernorm.js';
import type { Linear } from '../../src/nn/linear.js';
import { Sequential } from '../../src/nn/sequential.js';
import { TransformerBlock } from '../../src/nn/transformer.js';
import type { Param } from '../../src/tensor/param.js';
import { Rng } from '../../src/tensor/rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { BACKEND, gradcheck } from './gradcheck.js';

describe(`transformer gradient checks (${BACKEND})`, () => {
  test('LayerNorm over the last axis of [T, D]', () =>
    gradcheck((c, s) => {
      const ln = new LayerNorm(c, 'norm', s);
      // Away from γ = 1, β = 0 so the parameter gradients are checked in general position.
      ln.gamma.value.data.forEach((_, i, a) => (a[i] = 1 + 0.5 * c.rng.normal()));
      ln.beta.value.data.forEach((_, i, a) => (a[i] = 0.5 * c.rng.normal()));
      return ln;
    }, { inShape: [5, 8], n: 2, seed: 101 }));
  test('LayerNorm over a flat [D] input', () => gradcheck((c, s) => new LayerNorm(c, 'norm', s), { inShape: [6], n: 3, seed: 102 }));
  test('GELU', () => gradcheck((c, s) => new GELU(c, s), { inShape: [3, 4], n: 2, seed: 103, input: (rng, size) => Float32Array.from({ length: size }, () => 2 * rng.normal()) }));
  test('multi-head self-attention, B=2 T=5 D=8 heads=2', () =>
    gradcheck((c, s, g) => new MultiHeadSelfAttention(c, 'attn', s, { heads: 2 }, g), { inShape: [5, 8], n: 2, seed: 104 }));
  test('multi-head self-attention, one head, batch 3', () =>
    gradcheck((c, s, g) => new MultiHeadSelfAttention(c, 'attn', s, { heads: 1 }, g), { inShape: [4, 6], n: 3, seed: 105 }));
  test('patch embedding, then class token and position embedding', () =>
    gradcheck((c, s, g) => new Sequential(c, s, [
      (c2, s2, g2) => new PatchEmbed(c2, 'patch_embed', s2, { patch: 2, dim: 8 }, g2),
      (c2, s2, g2) => new ClassTokenPosEmbed(c2, '', s2, g2),
    ], g), { inShape: [2, 4, 6], n: 2, seed: 106 }));
  test('pre-norm transformer block', () =>
    gradcheck((c, s, g) => new TransformerBlock(c, 'blocks.0', s, { heads: 2, mlpRatio: 2 }, g), { inShape: [5, 8], n: 2, seed: 107 }));
  test('pre-norm transformer block with sparse compute in all six Linear layers', () =>
    gradcheck((c, s, g) => {
      const block = new TransformerBlock(c, 'blocks.0', s, { heads: 2, mlpRatio: 2 }, g);
      for (const l of block.sparsifiable()) {
        const mask = Uint8Array.from({ length: l.out * l.fanIn }, () => (c.rng.uniform() < 0.5 ? 1 : 0));
        l.sparseCompute?.setSparseCompute(mask, l.out * l.fanIn);
        assert.ok(l.sparseCompute?.sparse, `${l.name} computes sparse`);
      }
      return block;
    }, { inShape: [5, 8], n: 2, seed: 108 }));
});

/** Rows of a [rows, fanIn] weight applied to x [T, fanIn], plus bias, in float64. */
function linear64(x: Float64Array, T: number, w: Float32Array, b: Float32Array, fanIn: number, out: number): Float64Array {
  const y = new Float64Array(T * out);
  for (let t = 0; t < T; t++) for (let j = 0; j < out; j++) {
    let s = b[j];
    for (let i = 0; i < fanIn; i++) s += w[j * fanIn + i] * x[t * fanIn + i];
    y[t * out + j] = s;
  }
  return y;
}

for (const backend of ['reference', 'auto'] as BackendName[]) {
  test(`attention equals softmax(Q·Kᵀ/√dh)·V per head, projected, computed in float64 (${backend})`, async () => {
    const engine = await createEngine({ backend, threads: 1 });
    try {
      const seed = 109, n = 2, T = 5, D = 8, H = 2, dh = D / H;
      const rng = new Rng(seed);
      const attn = new MultiHeadSelfAttention({ engine, maxBatch: n, rng }, 'attn', [T, D], { heads: H }, true);
      const x = Tensor.zeros(engine.heap, [n, T, D]);
      x.data.set(Float32Array.from({ length: n * T * D }, () => rng.normal()));
      const y = engine.heap.f32(attn.forward(x.ptr, n), n * T * D);
      const lin = (l: Linear, h: Float64Array): Float64Array => linear64(h, T, l.weight.value.data, (l.bias as Param).value.data, D, D);
      for (let b = 0; b < n; b++) {
        const xb = Float64Array.from(x.data.subarray(b * T * D, (b + 1) * T * D));
        const [Q, K, V] = [attn.q, attn.k, attn.v].map((l) => lin(l, xb));
        const O = new Float64Array(T * D);
        for (let h = 0; h < H; h++) {
          for (let i = 0; i < T; i++) {
            const s = Array.from({ length: T }, (_, j) => {
              let dot = 0;
              for (let c = 0; c < dh; c++) dot += Q[i * D + h * dh + c] * K[j * D + h * dh + c];
              return dot / Math.sqrt(dh);
            });
            const m = Math.max(...s);
            const e = s.map((v) => Math.exp(v - m));
            const z = e.reduce((a, v) => a + v, 0);
            for (let c = 0; c < dh; c++) O[i * D + h * dh + c] = e.reduce((a, p, j) => a + (p / z) * V[j * D + h * dh + c], 0);
          }
        }
        const want = lin(attn.proj, O);
        for (let i = 0; i < T * D; i++) {
          const got = y[b * T * D + i];
          assert.ok(Math.abs(got - want[i]) < 1e-5 * (1 + Math.abs(want[i])), `example ${b} element ${i}: ${got} vs ${want[i]} (seed ${seed})`);
        }
      }
    } finally {
      await engine.close();
    }
  });
}

describe('transformer layer names and structure', () => {
  test('a block lists its six Linear layers as sparsifiable, with PyTorch state-dict names', async () => {
    const engine = await createEngine({ backend: 'reference' });
    const ctx: BuildContext = { engine, maxBatch: 2, rng: new Rng(110) };
    const T = 5, D = 8;
    const block = new TransformerBlock(ctx, 'blocks.0', [T, D], { heads: 2 }, true);
    const sp = block.sparsifiable();
    assert.deepEqual(sp.map((l) => l.name), ['q', 'k', 'v', 'proj'].map((s) => `blocks.0.attn.${s}`).concat(['blocks.0.mlp.fc1', 'blocks.0.mlp.fc2']));
    assert.deepEqual(sp.map((l) => [l.kind, l.out, l.fanIn]), [
      ['linear', D, D], ['linear', D, D], ['linear', D, D], ['linear', D, D], ['linear', 4 * D, D], ['linear', D, 4 * D],
    ]);
    assert.ok(sp.every((l) => l.sparseCompute !== undefined && l.weight.decay && l.bias !== null));
    const params = block.params();
    assert.deepEqual(params.map((p) => p.name), [
      'blocks.0.norm1.weight', 'blocks.0.norm1.bias',
      ...['q', 'k', 'v', 'proj'].flatMap((s) => [`blocks.0.attn.${s}.weight`, `blocks.0.attn.${s}.bias`]),
      'blocks.0.norm2.weight', 'blocks.0.norm2.bias',
      'blocks.0.mlp.fc1.weight', 'blocks.0.mlp.fc1.bias', 'blocks.0.mlp.fc2.weight', 'blocks.0.mlp.fc2.bias',
    ]);
    // Weight decay on the Linear weights only: never on biases or layer-norm scale and shift.
    assert.deepEqual(params.filter((p) => p.decay).map((p) => p.name), sp.map((l) => `${l.name}.weight`));
    assert.deepEqual(block.buffers(), []);
    assert.ok(block.norm1.gamma.value.data.every((v) => v === 1) && block.norm1.beta.value.data.every((v) => v === 0));
    await engine.close();
  });

  test('patch embedding is timm-shaped: patch_embed.proj, cls_token [D], pos_embed [T+1, D], trunc-normal std 0.02', async () => {
    const engine = await createEngine({ backend: 'reference' });
    const ctx: BuildContext = { engine, maxBatch: 2, rng: new Rng(111) };
    const embed = new Sequential(ctx, [3, 32, 32], [
      (c, s, g) => new PatchEmbed(c, 'patch_embed', s, { patch: 4, dim: 48 }, g),
      (c, s, g) => new ClassTokenPosEmbed(c, '', s, g),
    ], false);
    assert.deepEqual(embed.outShape, [65, 48]);
    const byName = new Map(embed.params().map((p) => [p.name, p]));
    assert.deepEqual([...byName.keys()], ['patch_embed.proj.weight', 'patch_embed.proj.bias', 'cls_token', 'pos_embed']);
    assert.deepEqual(byName.get('patch_embed.proj.weight')?.shape, [48, 3, 4, 4]);
    assert.deepEqual(byName.get('cls_token')?.shape, [48]);
    assert.deepEqual(byName.get('pos_embed')?.shape, [65, 48]);
    assert.deepEqual(embed.sparsifiable().map((l) => [l.name, l.kind]), [['patch_embed.proj', 'conv2d']]);
    const pos = (byName.get('pos_embed') as Param).value.data;
    const std = Math.sqrt(pos.reduce((a, v) => a + v * v, 0) / pos.length);
    assert.ok(pos.every((v) => Math.abs(v) <= 0.04) && std > 0.015 && std < 0.02, `pos_embed std ${std}`);
    assert.ok(!byName.get('cls_token')?.decay && !byName.get('pos_embed')?.decay);
    await engine.close();
  });

  test('dropout is the identity in eval: a block with p = 0.3 computes what the same weights do without it', async () => {
    const engine = await createEngine({ backend: BACKEND });
    const n = 2, T = 5, D = 8;
    const [plain, dropped] = [0, 0.3].map((dropout) =>
      new TransformerBlock({ engine, maxBatch: n, rng: new Rng(112) }, 'b', [T, D], { heads: 2, dropout }, true));
    const src = new Map(plain.params().map((p) => [p.name, p]));
    for (const p of dropped.params()) p.value.data.set((src.get(p.name) as Param).value.data);
    const rng = new Rng(113);
    const x = Tensor.zeros(engine.heap, [n, T, D]);
    x.data.set(Float32Array.from({ length: n * T * D }, () => rng.normal()));
    const want = engine.heap.f32(plain.forward(x.ptr, n, false), n * T * D).slice();
    assert.deepEqual(engine.heap.f32(dropped.forward(x.ptr, n, false), n * T * D).slice(), want);
    const train = engine.heap.f32(dropped.forward(x.ptr, n, true), n * T * D).slice();
    assert.ok(train.some((v, i) => v !== want[i]), 'training-mode dropout changes the output');
    await engine.close();
  });

  test('a training step through a block allocates nothing', async () => {
    const engine = await createEngine({ backend: BACKEND });
    const n = 3, T = 5, D = 8;
    const block = new TransformerBlock({ engine, maxBatch: n, rng: new Rng(114) }, 'b', [T, D], { heads: 2, dropout: 0.1 }, true);
    const x = Tensor.zeros(engine.heap, [n, T, D]), dy = Tensor.zeros(engine.heap, [n, T, D]);
    x.data.fill(0.5);
    dy.data.fill(1);
    // Dense storage of every param is allocated on first use: one step first, then measure.
    block.forward(x.ptr, n, true);
    block.backward(dy.ptr, n);
    const mark = engine.heap.mark();
    for (const m of [n, 1]) {
      block.forward(x.ptr, m, true);
      block.backward(dy.ptr, m);
    }
    assert.equal(engine.heap.mark(), mark);
    await engine.close();
  });

  test('shapes that do not fit are refused', async () => {
    const engine = await createEngine({ backend: 'reference' });
    const ctx: BuildContext = { engine, maxBatch: 1, rng: new Rng(115) };
    assert.throws(() => new MultiHeadSelfAttention(ctx, 'attn', [5, 8], { heads: 3 }, true), /3 heads do not divide D = 8/);
    assert.throws(() => new PatchEmbed(ctx, 'patch_embed', [3, 30, 32], { patch: 4, dim: 8 }, true), /patch 4 does not divide the 30×32 image/);
    await engine.close();
  });
});
