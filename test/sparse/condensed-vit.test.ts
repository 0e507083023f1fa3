// Condensed vit: the token kernels against their TypeScript reference at every ISA level, and
// whole models with hand-made masks (ablated q/k/v/proj/fc1/fc2 rows with zero and nonzero
// biases, heads left with no q/k or no v feature) against the masked dense model's eval logits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attentionScratchBytes, instantiateSparseKernels, referenceSparseKernels, TOKEN_VARIANTS, type AttentionView, type SparseKernels } from '../../src/kernels/condensed.js';
import { createEngine, type Engine } from '../../src/kernels/engine.js';
import { probeFeatures } from '../../src/kernels/probe.js';
import { loadCondensed, readCondensed, saveCondensed } from '../../src/io/condensed-file.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { buildModel, type Model } from '../../src/nn/models.js';
import { CondensedModel, checkNet, condenseModel, type CondensedNet, type CondensedOp } from '../../src/sparse/condensed/model.js';
import { gelu64, headBases } from '../../src/sparse/condensed/transformer.js';
import { packCondensed, uploadCondensed } from '../../src/sparse/condensed/index.js';
import { constantFanInMask } from '../../src/sparse/mask.js';
import { nmMask, type NMStructure } from '../../src/sparse/nm.js';
import { Rng } from '../../src/tensor/rng.js';
import { assertClose, availableIsas, denseLogits, randomInputs } from './helpers.js';

const SEED = 11;

describe('condensed vit kernels (TOKEN_VARIANTS) against the reference', () => {
  /** |got − want| ≤ tol·max(1, |want|) elementwise. */
  const close = (got: Float32Array, want: Float32Array, tol: number, what: string) => {
    assert.equal(got.length, want.length);
    for (let i = 0; i < want.length; i++) {
      assert.ok(Math.abs(got[i] - want[i]) <= tol * Math.max(1, Math.abs(want[i])), `${what}: element ${i}: ${got[i]} vs ${want[i]}`);
    }
  };

  test('every variant at every ISA: embed and strided copy exact, layer norm and attention within float tolerance, two threads bit-identical', async () => {
    const f = await probeFeatures();
    const tested = new Set<string>();
    for (const isa of await availableIsas()) {
      const engine = await createEngine({ backend: isa, threads: f.threads ? 2 : 1 });
      try {
        const heap = engine.heap;
        const one = instantiateSparseKernels(heap.memory, isa)!;
        const two = engine.rows ? instantiateSparseKernels(heap.memory, isa, engine.rows)! : null;
        const ref = referenceSparseKernels(() => heap.memory.buffer);
        const rng = new Rng(SEED);
        const fill = (floats: number, scale = 1) => {
          const p = heap.allocF32(floats);
          heap.f32(p, floats).set(Float32Array.from({ length: floats }, () => scale * rng.normal()));
          return p;
        };
        const read = (p: number, floats: number) => heap.f32(p, floats).slice();
        for (const v of TOKEN_VARIANTS) {
          if (v.threads === 2 && two === null) continue;
          const k: SparseKernels = v.threads === 2 ? two! : one;
          const mark = heap.mark();
          switch (v.op) {
            case 'tokensEmbed': {
              // 7 patches (not a multiple of 4), 3 examples.
              const n = 3, D = 5, P = 7, T = P + 1;
              const X = fill(n * D * P), first = fill(D), posT = fill(D * T), y1 = heap.allocF32(D * n * T), y2 = heap.allocF32(D * n * T);
              for (const layout of ['batch', 'features'] as const) {
                k.tokensEmbed(n, D, P, X, layout, first, posT, y1);
                ref.tokensEmbed(n, D, P, X, layout, first, posT, y2);
                assert.deepEqual(read(y1, D * n * T), read(y2, D * n * T), `${v.name} ${isa} ${layout}`);
              }
              // Example 2's patch 4, feature 3, read from each layout, lands at lane 2·8 + 1 + 4.
              const x = heap.f32(X, n * D * P), p = heap.f32(posT, D * T);
              k.tokensEmbed(n, D, P, X, 'features', first, posT, y1);
              assert.equal(heap.f32(y1, D * n * T)[3 * n * T + 2 * T + 5], Math.fround(x[3 * n * P + 2 * P + 4] + p[3 * T + 5]));
              k.tokensEmbed(n, D, P, X, 'batch', first, posT, y1);
              assert.equal(heap.f32(y1, D * n * T)[3 * n * T + 2 * T + 5], Math.fround(x[(2 * D + 3) * P + 4] + p[3 * T + 5]));
              assert.equal(heap.f32(y1, D * n * T)[3 * n * T + 2 * T], heap.f32(first, D)[3], 'the class token first');
              break;
            }
            case 'layerNormCols': {
              // 23 lanes: five groups of four and a tail of three; an offset mean to check centring.
              const F = 37, N = 23;
              const X = fill(F * N, 3), g = fill(F), b = fill(F), y1 = heap.allocF32(F * N), y2 = heap.allocF32(F * N);
              heap.f32(X, F * N).forEach((x, i, a) => (a[i] = x + 5));
              k.layerNormCols(F, N, X, g, b, y1, 1e-5);
              ref.layerNormCols(F, N, X, g, b, y2, 1e-5);
              close(read(y1, F * N), read(y2, F * N), 2e-5, `${v.name} ${isa}`);
              // Without scale and shift (null pointers): the normalised values, each lane mean 0 and variance ≈ 1.
              k.layerNormCols(F, N, X, 0, 0, y1, 1e-5);
              ref.layerNormCols(F, N, X, 0, 0, y2, 1e-5);
              close(read(y1, F * N), read(y2, F * N), 2e-5, `${v.name} ${isa} plain`);
              const yy = read(y1, F * N);
              for (let l = 0; l < N; l++) {
                let m = 0, q = 0;
                for (let f = 0; f < F; f++) m += yy[f * N + l] / F;
                for (let f = 0; f < F; f++) q += (yy[f * N + l] - m) ** 2 / F;
                assert.ok(Math.abs(m) < 1e-5 && Math.abs(q - 1) < 1e-3, `lane ${l}: mean ${m}, variance ${q}`);
              }
              break;
            }
            case 'attentionCols': {
              // Heads of unequal width: q/k 5, 0 (uniform attention), 3, 1; v 2, 4, 0 (skipped), 3.
              const heads = 4, qk = [0, 5, 5, 8, 9], vb = [0, 2, 6, 6, 9];
              const base = (t: number[]) => {
                const p = heap.allocI32(t.length);
                heap.i32(p, t.length).set(t);
                return p;
              };
              const A: AttentionView = { heads, alpha: 0.4, qkBase: base(qk), vBase: base(vb) };
              // T = 17 (16 + 1, the vit's), 6 (a group of four and two), 3 (no group of four); Tq = T and 1.
              for (const T of [17, 6, 3]) {
                for (const Tq of [T, 1]) {
                  for (const n of [1, 3]) {
                    const m = heap.mark();
                    const Q = fill(9 * n * Tq), K = fill(9 * n * T), V = fill(9 * n * T);
                    const O1 = heap.allocF32(9 * n * Tq), O2 = heap.allocF32(9 * n * Tq);
                    const scratch = heap.alloc(attentionScratchBytes(T, 2));
                    k.attentionCols(A, n, T, Tq, Q, K, V, O1, scratch);
                    ref.attentionCols(A, n, T, Tq, Q, K, V, O2, scratch);
                    const what: string = `${v.name} ${isa} T=${T} Tq=${Tq} n=${n}`;
                    close(read(O1, 9 * n * Tq), read(O2, 9 * n * Tq), 1e-5, what);
                    if (v.threads === 2) {
                      one.attentionCols(A, n, T, Tq, Q, K, V, O2, scratch);
                      assert.deepEqual(read(O1, 9 * n * Tq), read(O2, 9 * n * Tq), `${what}: two threads vs one`);
                    }
                    // Head 1 has no q/k feature: uniform weights, its outputs are V's means over the keys.
                    const o = read(O1, 9 * n * Tq), vv = read(V, 9 * n * T);
                    for (let j = vb[1]; j < vb[2]; j++) {
                      for (let b = 0; b < n; b++) {
                        let mean = 0;
                        for (let s = 0; s < T; s++) mean += vv[j * n * T + b * T + s] / T;
                        for (let t = 0; t < Tq; t++) assert.ok(Math.abs(o[j * n * Tq + b * Tq + t] - mean) < 1e-5, `${what}: uniform head`);
                      }
                    }
                    heap.release(m);
                  }
                }
              }
              break;
            }
            case 'spmmCfiNarrow': {
              // 16 + 1, 2, 3 lanes; u16 indices (37 rows × 120 inputs, k 13) and u32 (70000 inputs, k 2); all rows and a sub-range.
              for (const [out, fanIn, kk] of [[37, 120, 13], [5, 70000, 2]] as const) {
                const m = heap.mark();
                const weight = Float32Array.from({ length: out * fanIn }, () => rng.normal());
                const L = uploadCondensed(heap, packCondensed({ outFeatures: out, inFeatures: fanIn, weight, mask: constantFanInMask(out, fanIn, kk, rng), bias: Float32Array.from({ length: out }, () => rng.normal()) }));
                assert.equal(L.indexBits, fanIn > 65536 ? 32 : 16);
                for (const n of [17, 18, 19]) {
                  const X = fill(fanIn * n), y1 = heap.allocF32(out * n), y2 = heap.allocF32(out * n);
                  for (const [r0, r1] of [[0, out], [1, out - 1]]) {
                    heap.f32(y1, out * n).fill(7);
                    heap.f32(y2, out * n).fill(7);
                    k.spmmCfiNarrow(L, n, X, y1, r0, r1);
                    ref.spmmCfi('1x16', L, n, X, y2, 0, r0, r1);
                    const what: string = `${v.name} ${isa} ${out}×${fanIn} k=${kk} n=${n} rows [${r0}, ${r1})`;
                    close(read(y1, out * n), read(y2, out * n), 1e-5, what);
                    if (v.threads === 2) {
                      one.spmmCfiNarrow(L, n, X, y2, r0, r1);
                      assert.deepEqual(read(y1, out * n), read(y2, out * n), `${what}: two threads vs one`);
                    }
                  }
                }
                assert.throws(() => k.spmmCfiNarrow(L, 16, 0, 0), /16 lanes, expected 17 to 19/);
                heap.release(m);
              }
              break;
            }
            case 'copyStrided': {
              const X = fill(5 * 17), y1 = heap.allocF32(5), y2 = heap.allocF32(5);
              k.copyStrided(5, 17, X, y1);
              ref.copyStrided(5, 17, X, y2);
              assert.deepEqual(read(y1, 5), read(y2, 5), `${v.name} ${isa}`);
              assert.deepEqual(read(y1, 5), Float32Array.from({ length: 5 }, (_, i) => heap.f32(X, 5 * 17)[i * 17]));
              break;
            }
          }
          tested.add(v.name);
          heap.release(mark);
        }
      } finally {
        await engine.close();
      }
    }
    assert.ok(tested.size >= TOKEN_VARIANTS.length - (f.threads ? 0 : 1), `tested ${[...tested].join(', ')}`);
  });

  test('the reference attention equals a direct per-head softmax(QKᵀ·α)·V', () => {
    // An independent check of the oracle itself on one example: T = 3, one head of 2 features.
    const buf = new ArrayBuffer(4096);
    const h = new Float32Array(buf);
    const ref = referenceSparseKernels(() => buf);
    const Q = [1, 0.5, -1, 2, 0, 1], K = [0.3, -0.2, 1, 1, 0.5, -0.5], V = [1, 2, 3, -1, 0, 1];
    h.set(Q, 0);
    h.set(K, 16);
    h.set(V, 32);
    new Int32Array(buf).set([0, 2], 64);
    new Int32Array(buf).set([0, 2], 68);
    ref.attentionCols({ heads: 1, alpha: 0.7, qkBase: 256, vBase: 272 }, 1, 3, 3, 0, 64, 128, 192, 0);
    for (let t = 0; t < 3; t++) {
      const s = [0, 1, 2].map((u) => 0.7 * (Q[t] * K[u] + Q[3 + t] * K[3 + u]));
      const e = s.map((x) => Math.exp(x));
      const z = e.reduce((a, b) => a + b);
      for (let j = 0; j < 2; j++) {
        const want = e.reduce((a, w, u) => a + (w / z) * V[j * 3 + u], 0);
        assert.ok(Math.abs(h[48 + j * 3 + t] - want) < 1e-6, `query ${t} feature ${j}: ${h[48 + j * 3 + t]} vs ${want}`);
      }
    }
  });
});

/** What the hand-made masks of one block ablate: rows per layer, and biases to set on them. */
interface BlockPlan {
  rows: Record<'q' | 'k' | 'v' | 'proj' | 'fc1' | 'fc2', number[]>;
  bias: Record<string, number>;
}

/**
 * A small vit (14×14 input, patch 7: 4 patches, T = 5; width 16, 4 heads of 4, 2 blocks) — or
 * the default one (28×28, T = 17, width 64) with `full` — whose sparsifiable layers get
 * constant-fan-in masks (the patch embedding dense unless `maskPatch`) and, per block, the
 * ablations of `plan(block, dim)`: mask rows zeroed, the given biases set. Other biases are
 * random and nonzero, so a wrongly dropped or folded row shows in the logits.
 */
function maskedVit(engine: Engine, opts: { full?: boolean; maskPatch?: boolean; maxBatch?: number; density?: (name: string) => number; nm?: Record<string, NMStructure>; plan: (block: number, dim: number) => BlockPlan }): Model {
  const spec = opts.full
    ? { arch: 'vit' as const, inputShape: [1, 28, 28] as [number, number, number], classes: 10 }
    : { arch: 'vit' as const, inputShape: [1, 14, 14] as [number, number, number], classes: 10, dim: 16, depth: 2, heads: 4 };
  const model = buildModel(engine, spec, { maxBatch: opts.maxBatch ?? 8, seed: SEED });
  const dim = opts.full ? 64 : 16;
  const rng = new Rng(SEED + 1);
  for (const l of model.sparsifiable()) {
    if (l.bias) for (let i = 0; i < l.out; i++) l.bias.value.data[i] = 0.3 * rng.normal();
    if (l.isFirst && !opts.maskPatch) continue;
    const nm = opts.nm?.[l.name];
    const mask = nm ? nmMask(l.out, l.fanIn, nm, rng) : constantFanInMask(l.out, l.fanIn, Math.max(1, Math.round((opts.density?.(l.name) ?? 0.25) * l.fanIn)), rng);
    const m = /^blocks\.(\d+)\.(?:attn|mlp)\.(q|k|v|proj|fc1|fc2)$/.exec(l.name);
    const rows = m ? opts.plan(Number(m[1]), dim).rows[m[2] as keyof BlockPlan['rows']] : l.isFirst ? [1, 3] : [];
    for (const r of rows) mask.fill(0, r * l.fanIn, (r + 1) * l.fanIn);
    if (m) {
      const bias = opts.plan(Number(m[1]), dim).bias;
      for (const r of rows) {
        const key = `${m[2]}.${r}`;
        if (key in bias) l.bias!.value.data[r] = bias[key];
      }
    }
    l.weight.setMask(mask);
  }
  return model;
}

/**
 * The ablations the tests use: q rows with bias 0 (dropped with their k rows) and one with a
 * nonzero bias (kept, bias only), k rows with nonzero biases (dropped with their q rows: their
 * score terms are constant along each softmax row), v rows with nonzero biases (folded into
 * proj), proj and fc2 rows (kept: the residual stream), fc1 rows with biases of both signs
 * (folded into fc2 as GELU(b)). Block 0 drops all of head 1's q/k features (that head attends
 * uniformly); block 1 drops all of head 3's v features (that head contributes only proj's bias).
 */
function plan(block: number, dim: number): BlockPlan {
  const dh = dim / 4;
  const head = (h: number) => Array.from({ length: dh }, (_, i) => h * dh + i);
  const q = block === 0 ? [0, 2, ...head(1)] : [1, 3];
  const v = block === 1 ? [0, ...head(3)] : [1, dh + 2];
  const bias: Record<string, number> = { 'q.2': 0.45, 'k.3': 0.8, 'fc1.0': 0.7, 'fc1.5': -1.2, 'fc1.9': 2.5 };
  for (const r of q) if (r !== 2) bias[`q.${r}`] = 0;
  for (const r of v) bias[`v.${r}`] = 0.2 + 0.1 * r;
  return { rows: { q, k: [3, dh + 1], v, proj: [0, dim - 1], fc1: [0, 5, 9], fc2: [2, dim - 2] }, bias };
}

describe('condensed vit model', () => {
  const engines: Engine[] = [];
  let dir = '';
  before(async () => {
    for (const isa of await availableIsas()) engines.push(await createEngine({ backend: isa, threads: 1 }));
    engines.push(await createEngine({ backend: 'reference' }));
    dir = mkdtempSync(join(tmpdir(), 'srigl-condensed-vit-'));
  });
  after(async () => {
    for (const e of engines) await e.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('drops exactly the features the rules allow (counted from the masks) and reports every Linear', () => {
    const engine = engines[0];
    const mark = engine.heap.mark();
    const model = maskedVit(engine, { plan });
    const { net, report } = condenseModel(model);
    const layers = new Map(model.sparsifiable().map((l) => [l.name, l]));
    const weighted = (name: string) => {
      const l = layers.get(name)!;
      const m = l.weight.denseMask()!;
      return Array.from({ length: l.out }, (_, r) => m.subarray(r * l.fanIn, (r + 1) * l.fanIn).some((x) => x !== 0));
    };
    const attn = net.ops.filter((o): o is Extract<CondensedOp, { kind: 'attention' }> => o.kind === 'attention');
    assert.equal(attn.length, 2);
    attn.forEach((op, b) => {
      const p = `blocks.${b}.attn`;
      const qw = weighted(`${p}.q`), kw = weighted(`${p}.k`), vw = weighted(`${p}.v`);
      const qb = layers.get(`${p}.q`)!.bias!.value.data;
      const keep = qw.map((w, j) => kw[j] && (w || qb[j] !== 0));
      assert.deepEqual([...op.q.activeMap], keep.flatMap((k, j) => (k ? [j] : [])), `${p}.q keeps`);
      assert.deepEqual([...op.k.activeMap], [...op.q.activeMap], `${p}.k keeps q's features`);
      assert.deepEqual([...op.v.activeMap], vw.flatMap((k, j) => (k ? [j] : [])), `${p}.v keeps its weighted rows`);
      assert.equal(op.proj.nActive, 16, 'proj keeps every row (residual stream)');
      assert.equal(op.proj.inFeatures, op.v.nActive);
    });
    // The plan's structure shows: a q row with a nonzero bias is kept, head 1 of block 0 has no
    // q/k feature, head 3 of block 1 no v feature.
    assert.ok(attn[0].q.activeMap.includes(2));
    assert.deepEqual([...headBases(attn[0].q, 4)].slice(1, 3).map((x, i, a) => (i ? x - a[i - 1] : x)), [attn[0].q.activeMap.filter((m) => m < 4).length, 0]);
    assert.equal(headBases(attn[1].v, 4)[4] - headBases(attn[1].v, 4)[3], 0);
    const linears = net.ops.filter((o): o is Extract<CondensedOp, { kind: 'linear' }> => o.kind === 'linear');
    for (const b of [0, 1]) {
      const fc1 = linears.find((o) => o.name === `blocks.${b}.mlp.fc1`)!, fc2 = linears.find((o) => o.name === `blocks.${b}.mlp.fc2`)!;
      assert.deepEqual([...fc1.layer.activeMap], weighted(`blocks.${b}.mlp.fc1`).flatMap((k, j) => (k ? [j] : [])));
      assert.equal(fc2.layer.nActive, 16);
      assert.equal(fc2.layer.inFeatures, fc1.layer.nActive);
    }
    assert.deepEqual(report.map((r) => r.name), [
      'patch_embed.proj',
      ...[0, 1].flatMap((b) => ['attn.q', 'attn.k', 'attn.v', 'attn.proj', 'mlp.fc1', 'mlp.fc2'].map((n) => `blocks.${b}.${n}`)),
      'head',
    ]);
    assert.equal(report[0].masked, false, 'the patch embedding is dense (k = fan-in)');
    assert.equal(report[0].k, 49);
    // Weights that read dropped inputs are counted: proj's of the dropped v features, fc2's of fc1's.
    const proj0 = report.find((r) => r.name === 'blocks.0.attn.proj')!;
    assert.ok(proj0.droppedWeights > 0 && proj0.inFeatures < proj0.fanIn, JSON.stringify(proj0));
    engine.heap.release(mark);
  });

  test('predicts what the masked model does at every ISA and the reference, batch 1, 5 and 19 (chunks of 8), with and without class-token-only last block', () => {
    for (const engine of engines) {
      const mark = engine.heap.mark();
      const model = maskedVit(engine, { plan, maskPatch: true });
      const { net } = condenseModel(model);
      for (const classTokenOnly of [true, false]) {
        const cm = new CondensedModel(engine, net, { maxBatch: 8, classTokenOnly });
        for (const n of [1, 5, 19]) {
          const x = randomInputs(n, model.inputSize, n);
          assertClose(cm.predict(x), denseLogits(model, x, n), n, `${engine.backend} classTokenOnly ${classTokenOnly} batch ${n}`);
        }
      }
      engine.heap.release(mark);
    }
  });

  test('q, k and v of different k (run one by one, not stacked) and N:M layers in the blocks (both N:M kernel modes): the same logits', () => {
    const engine = engines.find((e) => e.backend !== 'reference')!;
    const mark = engine.heap.mark();
    const x = randomInputs(5, 196, 21);
    // v denser than q and k.
    const uneven = maskedVit(engine, { plan, density: (name) => (name.endsWith('.v') ? 0.5 : 0.25) });
    const unevenNet = condenseModel(uneven).net;
    const attn = unevenNet.ops.find((o) => o.kind === 'attention') as Extract<CondensedOp, { kind: 'attention' }>;
    assert.notEqual(attn.q.k, attn.v.k);
    for (const n of [1, 5]) assertClose(new CondensedModel(engine, unevenNet, { maxBatch: 8 }).predict(x.subarray(0, n * 196)), denseLogits(uneven, x, n), n, `uneven k batch ${n}`);
    // 1:4 q, k, v and fc1 in block 0 (their inputs intact, so they are stored N:M); 2:8 fc1 in block 1.
    const nm: Record<string, NMStructure> = {
      'blocks.0.attn.q': { n: 1, m: 4, taps: 1 }, 'blocks.0.attn.k': { n: 1, m: 4, taps: 1 }, 'blocks.0.attn.v': { n: 1, m: 4, taps: 1 },
      'blocks.0.mlp.fc1': { n: 1, m: 4, taps: 1 }, 'blocks.1.mlp.fc1': { n: 2, m: 8, taps: 1 },
    };
    // N:M rows cannot be ablated: the plan's ablations stay on the other layers.
    const nmPlan = (b: number, dim: number): BlockPlan => {
      const p = plan(b, dim);
      return { ...p, rows: { ...p.rows, ...(b === 0 ? { q: [], k: [], v: [], fc1: [] } : { fc1: [] }) } };
    };
    const model = maskedVit(engine, { plan: nmPlan, nm });
    const { net, report } = condenseModel(model, { nm });
    assert.deepEqual(report.filter((r) => r.format === 'nm').map((r) => r.name).sort(), Object.keys(nm).sort());
    const want = denseLogits(model, x, 5);
    for (const nmKernel of ['nm', 'indices'] as const) {
      const cm = new CondensedModel(engine, net, { maxBatch: 8, nmKernel });
      for (const n of [1, 5]) assertClose(cm.predict(x.subarray(0, n * 196)), want.subarray(0, n * 10), n, `N:M (${nmKernel}) batch ${n}`);
    }
    // And after a save/load (version 4 with N:M layers inside attention).
    const path = join(dir, 'nm.condensed.safetensors');
    saveCondensed(path, net);
    assert.deepEqual(new CondensedModel(engine, readCondensed(path).net, { maxBatch: 8 }).predict(x), new CondensedModel(engine, net, { maxBatch: 8 }).predict(x));
    engine.heap.release(mark);
  });

  test('the default vit (28×28, T = 17, width 64): the same at batch 1 and 3, every ISA', () => {
    for (const engine of engines.filter((e) => e.backend !== 'reference')) {
      const mark = engine.heap.mark();
      const model = maskedVit(engine, { full: true, plan, maxBatch: 3 });
      const cm = new CondensedModel(engine, condenseModel(model).net, { maxBatch: 3 });
      for (const n of [1, 3]) {
        const x = randomInputs(n, model.inputSize, 100 + n);
        assertClose(cm.predict(x), denseLogits(model, x, n), n, `vit ${engine.backend} batch ${n}`);
      }
      engine.heap.release(mark);
    }
  });

  test('folding is what makes it exact: an ablated fc1 neuron with a nonzero bias changes the logits through GELU(b)', () => {
    const engine = engines[0];
    const mark = engine.heap.mark();
    const model = maskedVit(engine, { plan });
    const x = randomInputs(2, model.inputSize, 3);
    const want = denseLogits(model, x, 2);
    const { net } = condenseModel(model);
    // Without fc2's folded constants (its biases back to the trained ones) the logits move.
    const fc2 = net.ops.find((o) => o.kind === 'linear' && o.name === 'blocks.0.mlp.fc2') as Extract<CondensedOp, { kind: 'linear' }>;
    const trained = model.sparsifiable().find((l) => l.name === 'blocks.0.mlp.fc2')!.bias!.value.data;
    const unfolded: CondensedNet = { ...net, ops: net.ops.map((o) => (o === fc2 ? { ...fc2, layer: { ...fc2.layer, bias: Float32Array.from(fc2.layer.activeMap, (r) => trained[r]) } } : o)) };
    const got = new CondensedModel(engine, unfolded, { maxBatch: 2 }).predict(x);
    assert.ok(got.some((v, i) => Math.abs(v - want[i]) > 1e-4), 'dropping fc1 neurons without folding their constants is not exact');
    assert.ok(Math.abs(gelu64(1) - 0.8413447460685429) < 1e-12 && Math.abs(gelu64(-1.2) + 1.2 * 0.11506967022170822) < 1e-12, 'gelu64 is GELU');
    engine.heap.release(mark);
  });

  test('with a 2-thread engine (layers split by lanes or rows, attention by examples), predictions are bit-identical to one thread', async () => {
    const f = await probeFeatures();
    if (!f.threads) return;
    const isa = (await availableIsas()).at(-1)!;
    const one = engines.find((e) => e.backend === isa)!;
    const two = await createEngine({ backend: isa, threads: 2 });
    const mark = one.heap.mark();
    try {
      // The default vit at batch 64: fc1 (64·17 lanes × 128 rows × k 16) and attention are above
      // the split threshold once the calls are a stream (the second call on).
      const m1 = maskedVit(one, { plan, full: true, maxBatch: 1 });
      const m2 = maskedVit(two, { plan, full: true, maxBatch: 1 });
      const x = randomInputs(64, m1.inputSize, 9);
      const c1 = new CondensedModel(one, condenseModel(m1).net, { maxBatch: 64 });
      const c2 = new CondensedModel(two, condenseModel(m2).net, { maxBatch: 64 });
      for (let i = 0; i < 3; i++) assert.deepEqual(c2.predict(x), c1.predict(x), `round ${i}`);
    } finally {
      one.heap.release(mark);
      await two.close();
    }
  });

  test('file round trip (format version 4): same predictions; loadCondensed runs it; transformer ops are validated', async () => {
    const engine = engines[0];
    const mark = engine.heap.mark();
    const model = maskedVit(engine, { plan });
    const { net } = condenseModel(model);
    const path = join(dir, 'vit.condensed.safetensors');
    saveCondensed(path, net, { dataset: 'fashion-mnist' });
    const file = readSafetensors(path);
    assert.equal(file.metadata.version, '4');
    for (const t of ['cls_token', 'pos_embed', 'blocks.0.norm1.weight', 'blocks.1.attn.q.indices', 'blocks.1.attn.proj.active_map', 'norm.bias']) assert.ok(file.tensors.has(t), t);
    const back = readCondensed(path).net;
    const x = randomInputs(3, model.inputSize, 4);
    const a = new CondensedModel(engine, net, { maxBatch: 4 }).predict(x);
    assert.deepEqual(new CondensedModel(engine, back, { maxBatch: 4 }).predict(x), a);
    const loaded = await loadCondensed(path, engine, { maxBatch: 4 });
    assert.deepEqual(loaded.predict(x), a);
    assert.equal(loaded.info.dataset, 'fashion-mnist');
    engine.heap.release(mark);

    // Edits of the saved file, each refused naming what is wrong.
    const edit = (name: string, f: (meta: Record<string, string>, ops: Record<string, unknown>[], tensors: ReturnType<typeof readSafetensors>['tensors']) => void) => {
      const src = readSafetensors(path);
      const ops = JSON.parse(src.metadata.ops) as Record<string, unknown>[];
      const meta = { ...src.metadata };
      f(meta, ops, src.tensors);
      meta.ops = JSON.stringify(ops);
      const out = join(dir, `${name}.safetensors`);
      writeSafetensors(out, [...src.tensors.values()], meta);
      return out;
    };
    const ln = (ops: Record<string, unknown>[]) => ops.find((o) => o.kind === 'layernorm')!;
    const at = (ops: Record<string, unknown>[]) => ops.find((o) => o.kind === 'attention')!;
    assert.throws(() => readCondensed(edit('v3', (m) => (m.version = '3'))), /ops\[1\] \(embed\) needs format version 4, but the file says "3"/);
    assert.throws(() => readCondensed(edit('eps', (_, o) => (ln(o).eps = 0))), /ops\[3\]\.eps must be a finite number > 0, got 0/);
    assert.throws(() => readCondensed(edit('features', (_, o) => (ln(o).features = 15))), /tensor "blocks\.0\.norm1\.weight" has shape \[16\], expected \[15\]/);
    assert.throws(() => readCondensed(edit('heads', (_, o) => (at(o).heads = 3))), /op 4 \(attention blocks\.0\.attn\) q has 16 features, not a multiple of 3 heads/);
    assert.throws(() => readCondensed(edit('qname', (_, o) => ((at(o).q as Record<string, unknown>).name = 'blocks.0.attn.query'))), /ops\[4\]\.q\.name must be "blocks\.0\.attn\.q"/);
    assert.throws(() => readCondensed(edit('kmap', (_, __, t) => {
      // k keeps another feature than q: one kept row moved up into a gap (still increasing).
      const kMap = t.get('blocks.0.attn.k.active_map')!.data as Uint32Array;
      const a = kMap.findIndex((m, j) => m + 1 < (j + 1 < kMap.length ? kMap[j + 1] : 16));
      kMap[a]++;
    })), /op 4 \(attention blocks\.0\.attn\) q and k must keep the same features/);
    assert.throws(() => readCondensed(edit('pos', (_, __, t) => t.delete('pos_embed'))), /missing tensor "pos_embed"/);
  });

  test('checkNet refuses malformed transformer ops, naming the op', () => {
    const engine = engines[0];
    const mark = engine.heap.mark();
    const { net } = condenseModel(maskedVit(engine, { plan }));
    const swap = (i: number, op: unknown): CondensedNet => ({ ...net, ops: net.ops.map((o, j) => (j === i ? (op as CondensedOp) : o)) });
    const emb = net.ops[1] as Extract<CondensedOp, { kind: 'embed' }>;
    const ln = net.ops[3] as Extract<CondensedOp, { kind: 'layernorm' }>;
    const attn = net.ops[4] as Extract<CondensedOp, { kind: 'attention' }>;
    assert.throws(() => checkNet(swap(1, { ...emb, posEmbed: emb.posEmbed.subarray(16) })), /op 1 \(embed\) posEmbed must hold 80 values, got 64/);
    assert.throws(() => checkNet(swap(3, { ...ln, gamma: Float32Array.from(ln.gamma, (g, i) => (i === 2 ? NaN : g)) })), /op 3 \(layernorm blocks\.0\.norm1\) gamma\[2\] = NaN is not finite/);
    assert.throws(() => checkNet(swap(4, { ...attn, proj: attn.q })), /op 4 \(attention blocks\.0\.attn\) proj has 16 inputs, v keeps \d+ features/);
    assert.throws(() => checkNet(swap(4, { ...attn, k: attn.v })), /q and k must keep the same features/);
    assert.throws(() => checkNet({ ...net, ops: net.ops.filter((o) => o.kind !== 'cls_pool') }), /on features \(cls_pool first\), not tokens/);
    assert.throws(() => checkNet({ ...net, ops: [net.ops[0], { kind: 'cls_pool' }, ...net.ops.slice(1)] }), /op 1 \(cls_pool\) keeps the first token, the previous op gives \[16, 2, 2\]/);
    engine.heap.release(mark);
  });

  test('the default vit at 25% density stores under 40% of its weights and predicts the same after a save/load', () => {
    const engine = engines[0];
    const mark = engine.heap.mark();
    const model = maskedVit(engine, { plan, full: true, maxBatch: 2 });
    const { net, report } = condenseModel(model);
    const path = join(dir, 'full.condensed.safetensors');
    saveCondensed(path, net);
    const stored = report.reduce((a, r) => a + r.nActive * r.k, 0), dense = report.reduce((a, r) => a + r.out * r.fanIn, 0);
    assert.ok(stored < 0.4 * dense, `${stored} stored weights of ${dense}`);
    const x = randomInputs(2, model.inputSize, 8);
    assertClose(new CondensedModel(engine, readCondensed(path).net, { maxBatch: 2 }).predict(x), denseLogits(model, x, 2), 2, 'full vit after save/load');
    engine.heap.release(mark);
  });
});
