import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CheckpointError, readCheckpoint } from '../../src/io/checkpoint.js';
import { readCondensed } from '../../src/io/condensed-file.js';
import { encodeSafetensors, SafetensorsError, type SafeTensor } from '../../src/io/safetensors.js';
import { expectedTensors, ModelFileError, readModelFile } from '../../src/io/validate.js';
import { Rng } from '../../src/tensor/rng.js';

/**
 * Property-based fuzzing of the loaders: random mutations of valid files (byte flips biased to
 * the header, truncation, appended bytes, a rewritten header length, numbers in the header
 * JSON replaced by hostile ones) must be rejected with the loaders' own errors, or accepted,
 * never crash with anything else, and finish quickly without large allocations.
 * SRIGL_FUZZ_RUNS sets the run count (default 1000; `npm run fuzz` runs many more).
 */
const RUNS = Number(process.env.SRIGL_FUZZ_RUNS ?? 1000);

function validModel(): Uint8Array {
  const spec = { arch: 'mlp' as const, inputShape: [1, 2, 2] as [number, number, number], classes: 3 };
  const rng = new Rng(1);
  const tensors: SafeTensor[] = [];
  for (const t of expectedTensors(spec)) {
    const n = t.shape.reduce((a, d) => a * d, 1);
    const mask = t.name === 'fc2.weight' ? Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0)) : null;
    tensors.push({ name: t.name, dtype: 'F32', shape: t.shape, data: Float32Array.from({ length: n }, (_, i) => (mask && !mask[i] ? 0 : rng.normal())) });
    if (mask) tensors.push({ name: `${t.name}.mask`, dtype: 'U8', shape: t.shape, data: mask });
  }
  const sparse = { method: 'srigl', sparsity: 0.5, layers: [{ name: 'fc2', out: 100, fanIn: 300, k: 100, ablatedRows: [] }] };
  return encodeSafetensors(tensors, { format: 'srigl-model', version: '1', arch: JSON.stringify(spec), sparse: JSON.stringify(sparse), training: '{"lr":0.1}' });
}

function validCondensed(): Uint8Array {
  const ops = [{ kind: 'linear', name: 'fc', outFeatures: 3, inFeatures: 4, nActive: 2, k: 2 }];
  return encodeSafetensors(
    [
      { name: 'fc.values', dtype: 'F32', shape: [2, 2], data: Float32Array.of(0.5, -1, 2, 0.25) },
      { name: 'fc.indices', dtype: 'U16', shape: [2, 2], data: Uint16Array.of(0, 3, 1, 2) },
      { name: 'fc.bias', dtype: 'F32', shape: [2], data: Float32Array.of(0.1, -0.1) },
      { name: 'fc.active_map', dtype: 'U32', shape: [2], data: Uint32Array.of(0, 2) },
    ],
    { format: 'srigl-condensed', version: '1', arch: JSON.stringify({ arch: 'mlp', inputShape: [1, 2, 2], classes: 3 }), ops: JSON.stringify(ops), k: '{"fc":2}' },
  );
}

function validCheckpoint(): Uint8Array {
  const loop = { step: 2, epoch: 0, stepInEpoch: 2, lossSum: 1.5, correct: 1, samples: 8, seconds: 0.1 };
  return encodeSafetensors(
    [
      { name: 'model/fc1.weight', dtype: 'F32', shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) },
      { name: 'mask/fc1.weight', dtype: 'U8', shape: [2, 2], data: Uint8Array.of(1, 0, 1, 1) },
      { name: 'optim/fc1.weight/0', dtype: 'F32', shape: [2, 2], data: Float32Array.of(0, 0, 0, 0) },
    ],
    {
      format: 'srigl-checkpoint', version: '1', arch: '{"arch":"mlp","inputShape":[1,2,2],"classes":3}', step: '2',
      state: JSON.stringify({ loop, optimizer: { options: { kind: 'sgd' }, steps: 2 }, data: { epoch: 0, index: 16 }, rngs: { a: [1, 2, 3, 4, null] }, extra: {} }),
    },
  );
}

type Loader = { name: string; base: Uint8Array; load: (b: Uint8Array) => unknown; ours: (e: unknown) => boolean };
const LOADERS: Loader[] = [
  { name: 'model', base: validModel(), load: (b) => readModelFile(b), ours: (e) => e instanceof SafetensorsError || e instanceof ModelFileError },
  { name: 'checkpoint', base: validCheckpoint(), load: (b) => readCheckpoint(b), ours: (e) => e instanceof SafetensorsError || e instanceof CheckpointError },
  // The condensed reader (sparse/condensed) reports plain Errors that name the source.
  { name: 'condensed', base: validCondensed(), load: (b) => readCondensed(b), ours: (e) => e instanceof SafetensorsError || (e instanceof Error && e.constructor === Error && e.message.startsWith('<memory>: ')) },
];

/** Where the header ends by the length prefix (clamped to the file; a short file is all header). */
function headerEnd(b: Uint8Array): number {
  if (b.length < 8) return b.length;
  return 8 + Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true));
}

const HOSTILE_NUMBERS = ['-1', '1e308', '18446744073709551616', '4294967296', '9007199254740993', '0.5', '0', '2147483648', 'null', '"7"', '[]', '1e-7'];

type Mutation =
  | { kind: 'flip'; at: number; value: number; inHeader: boolean }
  | { kind: 'truncate'; at: number }
  | { kind: 'append'; bytes: number[] }
  | { kind: 'length'; value: bigint }
  | { kind: 'number'; nth: number; replacement: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.nat(255), inHeader: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('append' as const), bytes: fc.array(fc.nat(255), { minLength: 1, maxLength: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('length' as const), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('number' as const), nth: fc.nat(), replacement: fc.constantFrom(...HOSTILE_NUMBERS) }) },
);

function mutate(base: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = base.slice();
  for (const m of ms) {
    if (b.length === 0) break;
    switch (m.kind) {
      case 'flip': {
        const end = headerEnd(b) <= b.length ? headerEnd(b) : b.length;
        b[m.inHeader && end > 0 ? m.at % end : m.at % b.length] = m.value;
        break;
      }
      case 'truncate':
        b = b.slice(0, m.at % b.length);
        break;
      case 'append': {
        const out = new Uint8Array(b.length + m.bytes.length);
        out.set(b);
        out.set(m.bytes, b.length);
        b = out;
        break;
      }
      case 'length':
        if (b.length >= 8) new DataView(b.buffer).setBigUint64(0, m.value, true);
        break;
      case 'number': {
        // Replace the nth number of the header JSON text, keeping the header length consistent.
        const end = headerEnd(b);
        if (b.length < 8 || end > b.length) break;
        const text = new TextDecoder().decode(b.subarray(8, end));
        const numbers = [...text.matchAll(/-?\d+(\.\d+)?([eE][-+]?\d+)?/g)];
        if (numbers.length === 0) break;
        const hit = numbers[m.nth % numbers.length];
        const edited = new TextEncoder().encode(text.slice(0, hit.index) + m.replacement + text.slice((hit.index ?? 0) + hit[0].length));
        const out = new Uint8Array(8 + edited.length + (b.length - end));
        new DataView(out.buffer).setBigUint64(0, BigInt(edited.length), true);
        out.set(edited, 8);
        out.set(b.subarray(end), 8 + edited.length);
        b = out;
        break;
      }
    }
  }
  return b;
}

describe(`loader fuzzing (${RUNS} runs per loader)`, () => {
  for (const loader of LOADERS) {
    test(`${loader.name}: mutated files are accepted or rejected with the loader's error, quickly and within bounded memory`, () => {
      assert.doesNotThrow(() => loader.load(loader.base), 'the unmutated base loads');
      let rejected = 0;
      fc.assert(
        fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
          const bytes = mutate(loader.base, ms);
          const mem = process.memoryUsage().arrayBuffers;
          const t0 = performance.now();
          try {
            loader.load(bytes);
          } catch (e) {
            if (!loader.ours(e)) throw new Error(`unexpected ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
            rejected++;
          }
          const ms_ = performance.now() - t0;
          if (ms_ > 1000) throw new Error(`took ${ms_.toFixed(0)} ms`);
          const grown = process.memoryUsage().arrayBuffers - mem;
          if (grown > 64 * 2 ** 20) throw new Error(`allocated ${grown} bytes`);
        }),
        { numRuns: RUNS },
      );
      assert.ok(rejected > RUNS / 4, `only ${rejected} of ${RUNS} mutations were rejected: the mutations are too weak`);
    });
  }
});
