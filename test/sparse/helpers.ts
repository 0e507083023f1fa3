// Helpers shared by the condensed-model tests: inputs, the masked dense model's logits, and the
// tolerance a condensed model must meet against them.
import assert from 'node:assert/strict';
import { probeFeatures } from '../../src/kernels/probe.js';
import type { Model } from '../../src/nn/models.js';
import { Rng } from '../../src/tensor/rng.js';

export function randomInputs(n: number, size: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * size }, () => rng.normal());
}

/** The masked dense model's eval-mode logits for x (in chunks of its maxBatch). */
export function denseLogits(model: Model, x: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n * 10);
  for (let s = 0; s < n; s += model.maxBatch) {
    const m = Math.min(model.maxBatch, n - s);
    model.inputs.set(x.subarray(s * model.inputSize, (s + m) * model.inputSize));
    model.forward(m, false);
    out.set(model.logits(m), s * 10);
  }
  return out;
}

/** |a − b| ≤ tol · max(1, max |b|) per example (default tol 1e-5). */
export function assertClose(got: Float32Array, want: Float32Array, n: number, what: string, tol = 1e-5): void {
  assert.equal(got.length, want.length);
  for (let b = 0; b < n; b++) {
    let scale = 1;
    for (let c = 0; c < 10; c++) scale = Math.max(scale, Math.abs(want[b * 10 + c]));
    for (let c = 0; c < 10; c++) {
      const d = Math.abs(got[b * 10 + c] - want[b * 10 + c]);
      assert.ok(d <= tol * scale, `${what}: example ${b} class ${c}: ${got[b * 10 + c]} vs ${want[b * 10 + c]} (scale ${scale})`);
    }
  }
}

const ISAS = ['scalar', 'simd128', 'relaxed'] as const;

/** The kernel ISA levels this runtime runs, plainest first. */
export async function availableIsas(): Promise<(typeof ISAS)[number][]> {
  const f = await probeFeatures();
  return ISAS.filter((isa) => isa === 'scalar' || (isa === 'simd128' ? f.simd : f.relaxedSimd));
}
