// Every kernel variant of the table against the TypeScript reference, on the same randomized
// cases (tile edges, tiny sizes, aliasing, accumulate on and off).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, isaSupported, type Engine } from '../../src/kernels/engine.js';
import { probeFeatures, type Features } from '../../src/kernels/probe.js';
import { KERNEL_OPS, KERNEL_VARIANTS } from '../../src/kernels/table.js';
import { casesFor } from './cases.js';
import { compareResults } from './compare.js';

const SEED = Number(process.env.SRIGL_TEST_SEED ?? 20240611);

const features: Features = await probeFeatures();
const engines = new Map<string, Engine>();
let reference: Engine;

async function engineFor(backend: string, threads: number): Promise<Engine> {
  const key = `${backend}/${threads}`;
  let e = engines.get(key);
  if (!e) {
    e = await createEngine({ backend: backend as 'scalar', threads });
    engines.set(key, e);
  }
  return e;
}

before(async () => {
  reference = await createEngine({ backend: 'reference' });
});

after(async () => {
  for (const e of engines.values()) await e.close();
});

test('the variant table covers every op for every ISA', () => {
  for (const isa of ['scalar', 'simd128', 'relaxed'] as const) {
    for (const op of KERNEL_OPS) {
      assert.ok(KERNEL_VARIANTS.some((v) => v.isa === isa && v.op === op), `${op} has no ${isa} variant`);
    }
  }
  assert.equal(new Set(KERNEL_VARIANTS.map((v) => v.name)).size, KERNEL_VARIANTS.length, 'variant names are unique');
});

describe('kernel variants match the reference', () => {
  for (const v of KERNEL_VARIANTS) {
    const skip = isaSupported(v.isa, features) ? false : `${v.isa} not supported by this runtime`;
    test(v.name, { skip }, async () => {
      const engine = await engineFor(v.isa, v.threads);
      assert.equal(engine.threads, features.threads ? v.threads : 1);
      const seed = SEED + KERNEL_OPS.indexOf(v.op);
      for (const c of casesFor(v.op, seed)) {
        const want = c.run(reference.kernels, reference.heap);
        const got = c.run(engine.kernels, engine.heap);
        const problem = compareResults(got, want);
        assert.equal(problem, null, `${v.name} ${c.label} (seed ${seed}): ${problem}`);
      }
    });
  }
});
