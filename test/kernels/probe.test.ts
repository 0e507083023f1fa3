import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bestIsa, createEngine } from '../../src/kernels/engine.js';
import { probeFeatures } from '../../src/kernels/probe.js';

test('probe reports a consistent feature set', async () => {
  const f = await probeFeatures();
  assert.equal(typeof f.simd, 'boolean');
  if (f.relaxedSimd) assert.ok(f.simd, 'relaxed SIMD implies SIMD');
  // Node 20 on x64 has SIMD and threads; relaxed SIMD once the flag is set by the probe.
  if (process.versions.node && process.arch === 'x64') {
    assert.ok(f.simd && f.threads, JSON.stringify(f));
    assert.ok(f.relaxedSimd, 'the probe enables relaxed SIMD on Node');
  }
});

test('bestIsa prefers relaxed > simd128 > scalar', () => {
  assert.equal(bestIsa({ simd: true, relaxedSimd: true, threads: true }), 'relaxed');
  assert.equal(bestIsa({ simd: true, relaxedSimd: false, threads: true }), 'simd128');
  assert.equal(bestIsa({ simd: false, relaxedSimd: false, threads: false }), 'scalar');
});

test("createEngine('auto') picks the probe's best ISA, and closes cleanly", async () => {
  const f = await probeFeatures();
  const e = await createEngine({ threads: 2 });
  try {
    assert.equal(e.backend, bestIsa(f));
    assert.equal(e.threads, f.threads ? 2 : 1);
    assert.match(e.kernels.name, /^wasm /);
  } finally {
    await e.close();
  }
});

test('reference backend stays available', async () => {
  const e = await createEngine({ backend: 'reference' });
  assert.equal(e.kernels.name, 'reference');
  await e.close();
});

test('bad thread counts are rejected', async () => {
  await assert.rejects(createEngine({ backend: 'scalar', threads: 0 }), RangeError);
});
