// srigl train --nm and --fan-in end to end: the saved file's masks checked by a parser that
// does not use the project's loader, the structure recorded in its metadata, condensed
// inference agreeing with the trained model, and the usage errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, SUBSET, withTempDir } from './harness.js';

/** 256 examples, batch 32: 8 steps an epoch; 3 epochs = 24 steps, T_end 18, ΔT 4 → updates at 4, 8, 12, 16. */
const TINY = ['--data', SUBSET, '--limit-train', '256', '--limit-test', '200', '--epochs', '3', '--batch-size', '32', '--threads', '1', '--delta-t', '4'];

/** A safetensors file read by hand: the JSON header and each tensor's bytes. */
function readRaw(path: string): { meta: Record<string, string>; tensor: (name: string) => { dtype: string; shape: number[]; bytes: Buffer } } {
  const buf = readFileSync(path);
  const len = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + len).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> & { __metadata__: Record<string, string> };
  const base = 8 + len;
  return {
    meta: header.__metadata__,
    tensor: (name) => {
      const t = header[name];
      assert.ok(t, `no tensor ${name}`);
      return { dtype: t.dtype, shape: t.shape, bytes: buf.subarray(base + t.data_offsets[0], base + t.data_offsets[1]) };
    },
  };
}

/** Checks N of every M consecutive inputs (no taps: Linear layers) in each row not ablated, written independently of src/sparse/nm.ts. */
function checkLinearNM(mask: Buffer, out: number, fanIn: number, n: number, m: number): { ablated: number } {
  let ablated = 0;
  for (let r = 0; r < out; r++) {
    const row = mask.subarray(r * fanIn, (r + 1) * fanIn);
    if (row.every((v) => v === 0)) {
      ablated++;
      continue;
    }
    for (let c0 = 0; c0 < fanIn; c0 += m) {
      const group = row.subarray(c0, Math.min(fanIn, c0 + m));
      const ones = group.reduce((a, v) => a + v, 0);
      assert.equal(ones, Math.min(n, group.length), `row ${r} group at ${c0}: ${ones} of ${group.length}`);
    }
  }
  return { ablated };
}

describe('srigl train --nm / --fan-in', () => {
  test('SRigL 2:4 (uniform): every saved row keeps 2 of each 4 inputs, the metadata names N:M and its axis, condensed predictions equal the trained model', async () => {
    await withTempDir('srigl-cli-nm-', async (out) => {
      const r = await run('train', ...TINY, '--nm', '2:4', '--distribution', 'uniform', '--gamma-sal', '0.9', '--seed', '3', '--out', out, '--json');
      assert.equal(r.code, 0, r.err);
      const s = JSON.parse(r.out);
      assert.deepEqual(s.sparse.nm, { n: 2, m: 4 });
      assert.equal(s.sparse.updates, 4);
      assert.match(r.err, /layer +kind +shape +nnz +density +fan-in k +structure +active +ablated\n/);
      assert.match(r.err, /fc1 +linear +300×784 .* 2:4 /);
      const raw = readRaw(join(out, 'model.safetensors'));
      const meta = JSON.parse(raw.meta.sparse);
      assert.deepEqual(meta.nm, { n: 2, m: 4 });
      assert.match(meta.nmAxis, /input channels/);
      let ablated = 0;
      for (const [name, outF, fanIn] of [['fc1', 300, 784], ['fc2', 100, 300], ['fc3', 10, 100]] as const) {
        const t = raw.tensor(`${name}.weight.mask`);
        assert.equal(t.dtype, 'U8');
        assert.deepEqual(t.shape, [outF, fanIn]);
        ablated += checkLinearNM(t.bytes, outF, fanIn, 2, 4).ablated;
        const layer = meta.layers.find((l: { name: string }) => l.name === name);
        assert.deepEqual(layer.nm, { n: 2, m: 4, taps: 1 });
      }
      assert.ok(ablated > 0, 'γ_sal 0.9 ablated no neuron');
      assert.equal(s.condensed.accuracy.differingPredictions, 0);
    });
  });

  test('RigL 1:8 with ERK: each layer its own N_l:8, the invariant on the saved file', async () => {
    await withTempDir('srigl-cli-nm-', async (out) => {
      const r = await run('train', ...TINY, '--method', 'rigl', '--nm', '1:8', '--seed', '4', '--out', out, '--json', '--no-condense');
      assert.equal(r.code, 0, r.err);
      const meta = JSON.parse(readRaw(join(out, 'model.safetensors')).meta.sparse);
      const raw = readRaw(join(out, 'model.safetensors'));
      for (const l of meta.layers as { name: string; out: number; fanIn: number; nm: { n: number; m: number } | null; density: number }[]) {
        if (l.nm === null) {
          assert.equal(l.density, 1, `${l.name} is sparse without N:M`);
          continue;
        }
        assert.equal(l.nm.m, 8);
        const { ablated } = checkLinearNM(raw.tensor(`${l.name}.weight.mask`).bytes, l.out, l.fanIn, l.nm.n, 8);
        assert.equal(ablated, 0, 'RigL does not ablate');
      }
      assert.equal(meta.layers[0].nm.n, 1, 'fc1 (most weights) gets N = 1 under ERK');
    });
  });

  test('--fan-in 16 fixes every sparse layer; --fan-in fc1=8 only fc1, whose k stays 8 through ablation', async () => {
    await withTempDir('srigl-cli-fanin-', async (out) => {
      const r = await run('train', ...TINY, '--fan-in', '16', '--out', out, '--json', '--no-condense');
      assert.equal(r.code, 0, r.err);
      const s = JSON.parse(r.out);
      assert.deepEqual(s.sparse.layers.map((l: { k: number }) => l.k), [16, 16, 16]);
      assert.match(r.err, /fixed fan-in 16, sparsity 0\.975\d* \(global density 0\.0246\)/);
    });
    await withTempDir('srigl-cli-fanin-', async (out) => {
      const r = await run('train', ...TINY, '--fan-in', 'fc1=8', '--sparsity', '0.95', '--gamma-sal', '0.9', '--out', out, '--json', '--no-condense');
      assert.equal(r.code, 0, r.err);
      const layers = JSON.parse(r.out).sparse.layers as { name: string; k: number; ablatedNeurons: number; nnz: number; out: number; fixedK: boolean }[];
      const fc1 = layers[0];
      assert.equal(fc1.k, 8);
      assert.equal(fc1.fixedK, true);
      assert.ok(fc1.ablatedNeurons > 0, 'γ_sal 0.9 ablated no fc1 neuron');
      assert.equal(fc1.nnz, 8 * (fc1.out - fc1.ablatedNeurons), 'the ablated neurons\' budget is not redistributed');
      assert.equal(layers[1].fixedK, false);
    });
  });

  const errors: [string[], RegExp][] = [
    [['--nm', '5:4'], /--nm '5:4': need integers 1 ≤ N < M ≤ 64/],
    [['--nm', '0:4'], /--nm '0:4'/],
    [['--nm', '2:0'], /--nm '2:0'/],
    [['--nm', 'x'], /--nm expected N:M such as 2:4, got 'x'/],
    [['--nm', '1:4', '--fan-in', '8'], /--nm and --fan-in both fix the fan-in/],
    [['--fan-in', '0'], /--fan-in expects a positive integer, got "0"/],
    [['--fan-in', '1000'], /--fan-in: 1000 is at least the fan-in of every layer that could be sparse/],
    [['--fan-in', 'fc9=3'], /--fan-in: unknown layer 'fc9'/],
    [['--method', 'set', '--nm', '1:4'], /--nm applies to --method srigl or rigl, not set/],
    [['--method', 'static', '--nm', '1:4'], /--nm applies to --method srigl or rigl, not static/],
    [['--method', 'rigl', '--fan-in', '4'], /--fan-in applies to --method srigl, not rigl/],
    [['--nm', '1:4', '--sparsity', '0.5'], /--nm sets the sparsity/],
  ];
  for (const [args, message] of errors) {
    test(`${args.join(' ')}: one line naming the option, exit code 2`, async () => {
      const r = await run('train', ...TINY, ...args, '--out', '/nonexistent/never-written');
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, message);
      assert.equal(r.err.trim().split('\n').filter((l) => l.startsWith('srigl train:')).length, 1, r.err);
    });
  }
});
