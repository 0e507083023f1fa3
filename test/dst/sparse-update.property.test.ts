import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Rng } from '../../src/tensor/rng.js';
import { constantFanInMask, randomMask } from '../../src/sparse/mask.js';
import { riglUpdate } from '../../src/dst/rigl.js';
import { setUpdate } from '../../src/dst/set.js';
import { sriglUpdate } from '../../src/dst/srigl.js';
import { riglUpdateSparse, setUpdateSparse, sriglUpdateSparse, type SparseLayerView } from '../../src/dst/sparse-update.js';

type ValueMode = 'normal' | 'ties' | 'zero';

/** Random values; 'ties' draws from a tiny pool with ±0, 'zero' is all ±0 (ties everywhere). */
function fill(a: Float32Array, rng: Rng, mode: ValueMode): Float32Array {
  const pool = mode === 'ties' ? [-1, -0.5, -0, 0, 0.5, 1] : [-0, 0];
  for (let i = 0; i < a.length; i++) a[i] = mode === 'normal' ? rng.normal() : pool[rng.int(pool.length)];
  return a;
}

interface Recorder {
  /** Largest r1 − r0 gradRows was asked for. */
  maxRows: number;
}

/** A view of a dense layer: its active positions and values, and gradRows copying rows of `grad`. */
function viewOf(w: Float32Array, grad: Float32Array, mask: Uint8Array, out: number, fanIn: number, rowsPerChunk: number | undefined, rec: Recorder): SparseLayerView {
  const active: number[] = [];
  for (let i = 0; i < mask.length; i++) if (mask[i]) active.push(i);
  const pos = Int32Array.from(active);
  return {
    out,
    fanIn,
    pos,
    values: Float32Array.from(pos, (p) => w[p]),
    rowsPerChunk,
    gradRows: (r0, r1, dst) => {
      assert.ok(Number.isInteger(r0) && Number.isInteger(r1) && r0 >= 0 && r0 < r1 && r1 <= out, `gradRows(${r0}, ${r1})`);
      assert.ok(dst.length >= (r1 - r0) * fanIn);
      rec.maxRows = Math.max(rec.maxRows, r1 - r0);
      dst.set(grad.subarray(r0 * fanIn, r1 * fanIn));
    },
  };
}

function maskOfPos(pos: Int32Array, numel: number): Uint8Array {
  const mask = new Uint8Array(numel);
  for (let j = 0; j < pos.length; j++) {
    if (j > 0) assert.ok(pos[j] > pos[j - 1], 'pos strictly ascending');
    mask[pos[j]] = 1;
  }
  return mask;
}

/** Uniform in [0, 1] (fc.double favours tiny values, which would make most drop fractions 0). */
const uniformArb = fc.integer({ min: 0, max: 1 << 20 }).map((x) => x / (1 << 20));
/** Mostly interior values, with the ends often enough to be covered. */
const unitArb = fc.oneof({ arbitrary: fc.constantFrom(0, 1), weight: 1 }, { arbitrary: uniformArb, weight: 4 });
const modeArb = fc.constantFrom<ValueMode>('normal', 'normal', 'ties', 'zero');

/** rowsPerChunk: 1, the default, or up to 60 (often more than `out`). */
const chunkArb = fc.oneof(fc.constant<number | undefined>(1), fc.constant<number | undefined>(undefined), fc.integer({ min: 1, max: 60 }));
const expectedChunk = (rowsPerChunk: number | undefined, fanIn: number) => rowsPerChunk ?? Math.max(1, Math.floor((1 << 20) / fanIn));

function checkChunks(rec: Recorder, rowsPerChunk: number | undefined, out: number, fanIn: number): void {
  assert.ok(rec.maxRows <= Math.min(out, expectedChunk(rowsPerChunk, fanIn)), `gradRows asked for ${rec.maxRows} rows`);
}

describe('RigL and SET, sparse against dense', () => {
  const caseArb = fc.record({
    out: fc.integer({ min: 1, max: 30 }),
    fanIn: fc.integer({ min: 1, max: 50 }),
    density: unitArb,
    wMode: modeArb,
    gMode: modeArb,
    rowsPerChunk: chunkArb,
    seed: fc.integer(),
    fractions: fc.array(unitArb, { minLength: 1, maxLength: 3 }),
  });

  test('RigL: same mask, lists and stats over sequences of updates', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { out, fanIn, rowsPerChunk } = c;
        const numel = out * fanIn;
        const rng = new Rng(c.seed);
        let mask = randomMask(numel, Math.floor(c.density * numel), rng);
        const w = fill(new Float32Array(numel), rng, c.wMode);
        const g = new Float32Array(numel);
        for (const f of c.fractions) {
          fill(g, rng, c.gMode);
          const dense = riglUpdate(w, g, mask, f);
          const rec = { maxRows: 0 };
          const sparse = riglUpdateSparse(viewOf(w, g, mask, out, fanIn, rowsPerChunk, rec), f);
          assert.deepEqual(maskOfPos(sparse.pos, numel), dense.mask);
          assert.deepEqual(sparse.grown, dense.grown);
          assert.deepEqual(sparse.dropped, dense.dropped);
          assert.deepEqual(sparse.stats, dense.stats);
          checkChunks(rec, rowsPerChunk, out, fanIn);
          mask = dense.mask;
          for (const i of dense.grown) w[i] = 0;
          for (const i of dense.dropped) w[i] = 0;
        }
      }),
      { numRuns: 300 },
    );
  });

  test('SET: same mask, lists, stats and rng state over sequences of updates', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { out, fanIn } = c;
        const numel = out * fanIn;
        const rng = new Rng(c.seed);
        let mask = randomMask(numel, Math.floor(c.density * numel), rng);
        const w = fill(new Float32Array(numel), rng, c.wMode);
        for (const f of c.fractions) {
          const twin = new Rng(0);
          twin.setState(rng.getState());
          const dense = setUpdate(w, mask, f, rng);
          // SET never reads the gradient.
          const view = { ...viewOf(w, new Float32Array(0), mask, out, fanIn, undefined, { maxRows: 0 }), gradRows: undefined };
          const sparse = setUpdateSparse(view, f, twin);
          assert.deepEqual(maskOfPos(sparse.pos, numel), dense.mask);
          assert.deepEqual(sparse.grown, dense.grown);
          assert.deepEqual(sparse.dropped, dense.dropped);
          assert.deepEqual(sparse.stats, dense.stats);
          assert.deepEqual(twin.getState(), rng.getState());
          mask = dense.mask;
          for (const i of dense.grown) w[i] = 0;
          for (const i of dense.dropped) w[i] = 0;
          for (let i = 0; i < numel; i++) if (mask[i]) w[i] += rng.normal() * 0.1;
        }
      }),
      { numRuns: 300 },
    );
  });

  test('moderate layers (streamed selections compact many times, radix path)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 150, max: 220 }), fc.integer({ min: 200, max: 300 }), fc.integer(), modeArb, fc.constantFrom(1, 7, 1000), (out, fanIn, seed, gMode, rowsPerChunk) => {
        const numel = out * fanIn;
        const rng = new Rng(seed);
        const mask = randomMask(numel, Math.floor(numel * (0.3 + 0.4 * rng.uniform())), rng);
        const w = fill(new Float32Array(numel), rng, 'normal');
        const g = fill(new Float32Array(numel), rng, gMode);
        const f = 0.5 + 0.5 * rng.uniform();
        const dense = riglUpdate(w, g, mask, f);
        const sparse = riglUpdateSparse(viewOf(w, g, mask, out, fanIn, rowsPerChunk, { maxRows: 0 }), f);
        assert.deepEqual(maskOfPos(sparse.pos, numel), dense.mask);
        assert.deepEqual(sparse.grown, dense.grown);
        assert.deepEqual(sparse.stats, dense.stats);
        const twin = new Rng(0);
        twin.setState(rng.getState());
        const denseSet = setUpdate(w, mask, f, rng);
        const sparseSet = setUpdateSparse(viewOf(w, g, mask, out, fanIn, rowsPerChunk, { maxRows: 0 }), f, twin);
        assert.deepEqual(sparseSet.grown, denseSet.grown);
        assert.deepEqual(twin.getState(), rng.getState());
      }),
      { numRuns: 8 },
    );
  });
});

describe('SRigL, sparse against dense', () => {
  const caseArb = fc.record({
    out: fc.integer({ min: 1, max: 30 }),
    fanIn: fc.integer({ min: 1, max: 50 }),
    budgetFrac: unitArb,
    // 'constant': k0 per row; 'holes': some rows emptied (ablated); 'random': any binary mask.
    maskMode: fc.constantFrom('constant', 'holes', 'random'),
    gammaSal: fc.oneof(fc.constant(0.3), uniformArb.map((x) => 1.5 * x)),
    ablation: fc.boolean(),
    mayAblate: fc.boolean(),
    wMode: modeArb,
    gMode: modeArb,
    // The gradient echoes the weights, larger, on active positions, so the |W| and |G| saliency sets overlap.
    gradEchoesWeights: fc.boolean(),
    rowsPerChunk: chunkArb,
    seed: fc.integer(),
    fractions: fc.array(unitArb, { minLength: 1, maxLength: 3 }),
  });

  test('same mask, lists, ablation, k and stats over sequences of updates', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { out, fanIn, gammaSal, ablation, mayAblate, rowsPerChunk } = c;
        const numel = out * fanIn;
        const budget = out + Math.floor(c.budgetFrac * (numel - out));
        const rng = new Rng(c.seed);
        let mask = c.maskMode === 'random' ? randomMask(numel, rng.int(numel + 1), rng) : constantFanInMask(out, fanIn, Math.floor(budget / out), rng);
        if (c.maskMode === 'holes') for (let r = 0; r < out; r++) if (rng.int(3) === 0) mask.fill(0, r * fanIn, (r + 1) * fanIn);
        const w = fill(new Float32Array(numel), rng, c.wMode);
        for (let i = 0; i < numel; i++) if (!mask[i]) w[i] = 0;
        const g = new Float32Array(numel);
        for (const dropFraction of c.fractions) {
          fill(g, rng, c.gMode);
          if (c.gradEchoesWeights) for (let i = 0; i < numel; i++) if (mask[i]) g[i] = 4 * w[i];
          const dense = sriglUpdate({ weights: w, grad: g, mask, out, fanIn, budget, dropFraction, ablation, mayAblate, gammaSal });
          const rec = { maxRows: 0 };
          const view = viewOf(w, g, mask, out, fanIn, rowsPerChunk, rec);
          const sparse = sriglUpdateSparse(view, { budget, dropFraction, ablation, mayAblate, gammaSal });
          assert.deepEqual(maskOfPos(sparse.pos, numel), dense.mask);
          assert.deepEqual(sparse.grown, dense.grown);
          assert.deepEqual(sparse.dropped, dense.dropped);
          assert.deepEqual(sparse.ablated, dense.ablated);
          assert.equal(sparse.k, dense.k);
          assert.deepEqual(sparse.stats, dense.stats);
          checkChunks(rec, rowsPerChunk, out, fanIn);
          // Ablated rows are exactly the empty ones here, so the flags pass the consistency check.
          const emptyRows = Uint8Array.from({ length: out }, (_, r) => (mask.subarray(r * fanIn, (r + 1) * fanIn).some((m) => m === 1) ? 0 : 1));
          assert.deepEqual(sriglUpdateSparse(view, { budget, dropFraction, ablation, mayAblate, gammaSal, ablatedBefore: emptyRows }), sparse);
          mask = dense.mask;
          for (const i of dense.grown) w[i] = 0;
          for (const i of dense.dropped) w[i] = 0;
          for (let i = 0; i < numel; i++) if (mask[i]) w[i] += c.wMode === 'normal' ? rng.normal() * 0.1 : (rng.int(3) - 1) * 0.5;
        }
      }),
      { numRuns: 400 },
    );
  });

  test('moderate layers with ablation', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 200 }), fc.integer({ min: 100, max: 400 }), fc.integer(), modeArb, fc.constantFrom(1, 13, 1000), (out, fanIn, seed, gMode, rowsPerChunk) => {
        const numel = out * fanIn;
        const rng = new Rng(seed);
        const budget = out + Math.floor((numel - out) * rng.uniform() * 0.6);
        const mask = constantFanInMask(out, fanIn, Math.floor(budget / out), rng);
        const w = fill(new Float32Array(numel), rng, 'normal');
        for (let i = 0; i < numel; i++) if (!mask[i]) w[i] = 0;
        const g = fill(new Float32Array(numel), rng, gMode);
        const opts = { budget, dropFraction: 0.3 + 0.7 * rng.uniform(), ablation: true, mayAblate: true, gammaSal: rng.uniform() };
        const dense = sriglUpdate({ weights: w, grad: g, mask, out, fanIn, ...opts });
        const sparse = sriglUpdateSparse(viewOf(w, g, mask, out, fanIn, rowsPerChunk, { maxRows: 0 }), opts);
        assert.deepEqual(maskOfPos(sparse.pos, numel), dense.mask);
        assert.deepEqual(sparse.grown, dense.grown);
        assert.deepEqual(sparse.ablated, dense.ablated);
        assert.deepEqual(sparse.stats, dense.stats);
      }),
      { numRuns: 8 },
    );
  });
});

describe('errors as the dense updates raise them', () => {
  const out = 5;
  const fanIn = 7;
  const numel = out * fanIn;

  test('a non-finite gradient or weight is named by its dense position, as absKeys does', () => {
    fc.assert(
      fc.property(fc.integer(), fc.nat(numel - 1), fc.constantFrom(NaN, Infinity, -Infinity), fc.boolean(), unitArb, (seed, at, bad, inWeights, f) => {
        const rng = new Rng(seed);
        const mask = constantFanInMask(out, fanIn, 3, rng);
        // Put the bad weight where the mask is active; the dense updates ignore inactive weights' values but not their finiteness.
        const wAt = inWeights ? mask.indexOf(1, at) : -1;
        fc.pre(!inWeights || wAt >= 0);
        const w = fill(new Float32Array(numel), rng, 'normal');
        for (let i = 0; i < numel; i++) if (!mask[i]) w[i] = 0;
        const g = fill(new Float32Array(numel), rng, 'normal');
        if (inWeights) w[wAt] = bad;
        else g[at] = bad;
        const view = viewOf(w, g, mask, out, fanIn, 2, { maxRows: 0 });
        const message = (fn: () => unknown): string => {
          try {
            fn();
          } catch (e) {
            assert.ok(e instanceof RangeError);
            return e.message;
          }
          return 'no error';
        };
        assert.equal(message(() => riglUpdateSparse(view, f)), message(() => riglUpdate(w, g, mask, f)));
        for (const ablation of [false, true]) {
          const opts = { budget: 15, dropFraction: f, ablation, mayAblate: true };
          assert.equal(message(() => sriglUpdateSparse(view, opts)), message(() => sriglUpdate({ weights: w, grad: g, mask, out, fanIn, ...opts })));
        }
        if (inWeights) assert.equal(message(() => setUpdateSparse(view, f, new Rng(1))), message(() => setUpdate(w, mask, f, new Rng(1))));
      }),
      { numRuns: 200 },
    );
  });

  test('bad views and options', () => {
    const grad = new Float32Array(numel);
    const base: SparseLayerView = { out, fanIn, pos: Int32Array.from([1, 4, 9]), values: Float32Array.from([1, 2, 3]), gradRows: (r0, r1, dst) => dst.set(grad.subarray(r0 * fanIn, r1 * fanIn)) };
    const srigl = { budget: 10, dropFraction: 0.5, ablation: true, mayAblate: true };
    const bad: [SparseLayerView, RegExp][] = [
      [{ ...base, out: 0 }, /out and fanIn must be positive integers/],
      [{ ...base, fanIn: 2.5 }, /out and fanIn must be positive integers/],
      [{ ...base, pos: Int32Array.from([1, 1, 9]) }, /strictly ascending.*pos\[1\] = 1/],
      [{ ...base, pos: Int32Array.from([4, 1, 9]) }, /strictly ascending/],
      [{ ...base, pos: Int32Array.from([-1, 4, 9]) }, /strictly ascending/],
      [{ ...base, pos: Int32Array.from([1, 4, numel]) }, /strictly ascending in \[0, out·fanIn=35\)/],
      [{ ...base, values: new Float32Array(2) }, /values length 2 differs from pos length 3/],
      [{ ...base, rowsPerChunk: 0 }, /rowsPerChunk must be an integer ≥ 1/],
      [{ ...base, rowsPerChunk: 1.5 }, /rowsPerChunk must be an integer ≥ 1/],
      [{ ...base, out: 65536, fanIn: 65536 }, /exceeds 2\^31 − 1/],
    ];
    for (const [view, re] of bad) {
      assert.throws(() => riglUpdateSparse(view, 0.5), re);
      assert.throws(() => sriglUpdateSparse(view, srigl), re);
    }
    assert.throws(() => setUpdateSparse({ ...base, pos: Int32Array.from([4, 1, 9]) }, 0.5, new Rng(1)), /setUpdateSparse: pos must be strictly ascending/);
    const noGrad = { ...base, gradRows: undefined };
    assert.throws(() => riglUpdateSparse(noGrad, 0.5), /riglUpdateSparse: the view has no gradRows/);
    assert.throws(() => sriglUpdateSparse(noGrad, srigl), /sriglUpdateSparse: the view has no gradRows/);
    assert.doesNotThrow(() => setUpdateSparse(noGrad, 0.5, new Rng(1)));
    for (const f of [-0.1, 1.1, NaN]) {
      assert.throws(() => riglUpdateSparse(base, f), /dropFraction must be in \[0, 1\]/);
      assert.throws(() => setUpdateSparse(base, f, new Rng(1)), /dropFraction must be in \[0, 1\]/);
      assert.throws(() => sriglUpdateSparse(base, { ...srigl, dropFraction: f }), /dropFraction must be in \[0, 1\]/);
    }
    for (const budget of [4, 36, 10.5]) assert.throws(() => sriglUpdateSparse(base, { ...srigl, budget }), /budget must be an integer in \[out=5, out·fanIn=35\]/);
    assert.throws(() => sriglUpdateSparse(base, { ...srigl, gammaSal: -1 }), /gammaSal must be a finite number ≥ 0/);
    assert.throws(() => sriglUpdateSparse(base, { ...srigl, ablatedBefore: new Uint8Array(4) }), /ablatedBefore has length 4, expected out=5/);
    assert.throws(() => sriglUpdateSparse(base, { ...srigl, ablatedBefore: Uint8Array.from([0, 2, 0, 0, 0]) }), /ablatedBefore\[1\] = 2/);
    // Row 0 holds positions 1 and 4.
    assert.throws(() => sriglUpdateSparse(base, { ...srigl, ablatedBefore: Uint8Array.from([1, 0, 0, 0, 0]) }), /row 0 is marked ablated but holds 2 weights/);
    assert.doesNotThrow(() => sriglUpdateSparse(base, { ...srigl, ablatedBefore: Uint8Array.from([0, 0, 1, 1, 1]) }));
  });
});

/** randomMask as it was before its permutation became virtual: the oracle for bit-identical masks. */
function randomMaskWithPermutation(numel: number, budget: number, rng: Rng): Uint8Array {
  const drawOnes = budget <= numel - budget;
  const draws = drawOnes ? budget : numel - budget;
  const mask = new Uint8Array(numel).fill(drawOnes ? 0 : 1);
  const perm = new Uint32Array(numel);
  for (let i = 0; i < numel; i++) perm[i] = i;
  for (let i = 0; i < draws; i++) {
    const j = i + rng.int(numel - i);
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
    mask[perm[i]] = drawOnes ? 1 : 0;
  }
  return mask;
}

test('randomMask gives the same mask and rng state as the permutation it replaced', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5000 }),
      // Under 1/16 the sparse draws take the Map path, above it the full permutation.
      fc.oneof(fc.constantFrom(0, 1), uniformArb.map((x) => x / 10), uniformArb),
      fc.boolean(),
      fc.integer(),
      (numel, frac, complement, seed) => {
        const ones = Math.floor(frac * numel);
        const budget = complement ? numel - ones : ones;
        const a = new Rng(seed);
        const b = new Rng(seed);
        assert.deepEqual(randomMask(numel, budget, a), randomMaskWithPermutation(numel, budget, b));
        assert.deepEqual(a.getState(), b.getState());
      },
    ),
    { numRuns: 500 },
  );
});

/**
 * Runs fn with every typed-array and ArrayBuffer constructor refusing to allocate `limit` or more
 * elements (bytes for ArrayBuffer). Arrays derived from smaller ones (slice, map, subarray) can
 * only be smaller, and TypedArray.from constructs through the trapped constructor, so a
 * numel-sized array cannot appear unnoticed.
 */
function forbidLargeArrays<T>(limit: number, fn: () => T): T {
  const names = ['Float32Array', 'Float64Array', 'Int8Array', 'Int16Array', 'Int32Array', 'Uint8Array', 'Uint8ClampedArray', 'Uint16Array', 'Uint32Array', 'ArrayBuffer'];
  const global = globalThis as unknown as Record<string, new (...args: unknown[]) => object>;
  const saved = names.map((name) => global[name]);
  names.forEach((name, i) => {
    global[name] = new Proxy(saved[i], {
      construct(target, args, newTarget) {
        const a = args[0];
        const length = typeof a === 'number' ? a : typeof a === 'object' && a !== null && 'length' in a ? Number(a.length) : 0;
        if (length >= limit) throw new Error(`allocated ${name}(${length})`);
        return Reflect.construct(target, args, newTarget);
      },
    });
  });
  try {
    return fn();
  } finally {
    names.forEach((name, i) => (global[name] = saved[i]));
  }
}

describe('memory-flat at 4096×4096, 1% density', () => {
  const out = 4096;
  const fanIn = 4096;
  const numel = out * fanIn;
  const rowsPerChunk = 100;
  /** A deterministic gradient computed per position, so the test holds no dense copy either. */
  const gradValue = (p: number) => {
    let h = Math.imul(p ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return ((h ^ (h >>> 16)) | 0) / 2 ** 31;
  };
  function viewOfSparse(pos: Int32Array, rng: Rng): SparseLayerView & { maxRows: number } {
    const view = {
      out,
      fanIn,
      pos,
      values: Float32Array.from(pos, () => rng.normal()),
      rowsPerChunk,
      maxRows: 0,
      gradRows: (r0: number, r1: number, dst: Float32Array) => {
        view.maxRows = Math.max(view.maxRows, r1 - r0);
        for (let p = r0 * fanIn, i = 0; p < r1 * fanIn; p++, i++) dst[i] = gradValue(p);
      },
    };
    return view;
  }
  const ascending = (pos: Int32Array) => pos.every((p, j) => j === 0 || p > pos[j - 1]);

  test('the guard catches a numel-sized allocation', () => {
    const mask = randomMask(1000, 10, new Rng(1));
    assert.throws(() => forbidLargeArrays(1000, () => riglUpdate(new Float32Array(1000), new Float32Array(1000), mask, 0.5)), /allocated/);
  });

  test('RigL and SET: nnz unchanged, no numel-sized array, fast', () => {
    const rng = new Rng(3);
    const nnz = Math.floor(numel * 0.01);
    const chosen = new Set<number>();
    while (chosen.size < nnz) chosen.add(rng.int(numel));
    const pos = Int32Array.from(chosen).sort();
    const view = viewOfSparse(pos, rng);
    const t0 = performance.now();
    const r = forbidLargeArrays(numel, () => riglUpdateSparse(view, 0.3));
    const setR = forbidLargeArrays(numel, () => setUpdateSparse(view, 0.3, rng));
    const ms = performance.now() - t0;
    for (const x of [r, setR]) {
      assert.equal(x.pos.length, nnz);
      assert.ok(ascending(x.pos));
      assert.equal(x.grown.length, Math.floor(nnz * 0.3));
      assert.equal(x.dropped.length, Math.floor(nnz * 0.3));
    }
    assert.ok(view.maxRows <= rowsPerChunk);
    // Generous: the real cost is well under a second, most of it this test's gradient hash.
    assert.ok(ms < 10_000, `${ms.toFixed(0)} ms`);
  });

  for (const ablation of [false, true]) {
    test(`SRigL (ablation ${ablation ? 'on' : 'off'}): constant fan-in, no numel-sized array, fast`, () => {
      const rng = new Rng(4);
      const k0 = Math.floor(fanIn * 0.01);
      const positions: number[] = [];
      for (let r = 0; r < out; r++) {
        const cols = new Set<number>();
        while (cols.size < k0) cols.add(rng.int(fanIn));
        for (const c of [...cols].sort((a, b) => a - b)) positions.push(r * fanIn + c);
      }
      const view = viewOfSparse(Int32Array.from(positions), rng);
      const budget = out * k0;
      const t0 = performance.now();
      const r = forbidLargeArrays(numel, () => sriglUpdateSparse(view, { budget, dropFraction: 0.3, ablation, mayAblate: true, gammaSal: 0.3 }));
      const ms = performance.now() - t0;
      assert.ok(ascending(r.pos));
      const perRow = new Uint32Array(out);
      for (const p of r.pos) perRow[Math.floor(p / fanIn)]++;
      for (let row = 0; row < out; row++) assert.equal(perRow[row], r.ablated[row] ? 0 : r.k);
      assert.equal(r.pos.length, r.stats.nnz);
      assert.ok(r.pos.length <= budget);
      assert.ok(view.maxRows <= rowsPerChunk);
      assert.ok(ms < 10_000, `${ms.toFixed(0)} ms`);
    });
  }
});
