// Gradient checking by central differences, shared by the layer tests (gradcheck.test.ts,
// transformer.test.ts).
import assert from 'node:assert/strict';
import { createEngine, type BackendName } from '../../src/kernels/engine.js';
import type { BuildContext } from '../../src/nn/layer.js';
import type { LayerFactory } from '../../src/nn/sequential.js';
import { Rng } from '../../src/tensor/rng.js';
import { Tensor, shapeSize } from '../../src/tensor/tensor.js';

/** Backend under test; the same checks run on any backend (`SRIGL_TEST_BACKEND=simd128`). */
export const BACKEND = (process.env.SRIGL_TEST_BACKEND ?? 'reference') as BackendName;

/**
 * ‖a−b‖ / max(‖a‖, ‖b‖, floor·√len): relative error of a whole gradient vector. The floor
 * keeps a gradient that is truly zero (a bias before batch norm) from comparing f32 noise
 * with zero.
 */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-2): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    na += a[i] ** 2;
    nb += b[i] ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(na), Math.sqrt(nb), floor * Math.sqrt(a.length));
}

function allIndices(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * Compares analytic gradients with central differences of `objective` at the given indices
 * of `values`; `atol` is the gradient magnitude treated as noise. Where the differences at eps and eps/2 disagree, the step straddles a ReLU or
 * max kink (batch norm centres activations on zero, so blocks hit some): such elements are
 * left out, at most a fifth of them.
 */
function compare(
  what: string, analytic: ArrayLike<number>, values: Float32Array, indices: number[],
  objective: () => number, eps: number, tol: number, seed: number, atol = 1e-2,
): void {
  const central = (i: number, h: number): number => {
    const v = values[i];
    values[i] = v + h;
    const up = objective();
    values[i] = v - h;
    const down = objective();
    values[i] = v;
    return (up - down) / (2 * h);
  };
  const a: number[] = [];
  const b: number[] = [];
  for (const i of indices) {
    const g1 = central(i, eps);
    const g2 = central(i, eps / 2);
    if (Math.abs(g1 - g2) > 0.05 * Math.max(Math.abs(g1), Math.abs(g2)) + atol) continue;
    a.push(analytic[i]);
    b.push(g2);
  }
  const kinks = indices.length - a.length;
  assert.ok(kinks <= indices.length / 5, `${what}: ${kinks} of ${indices.length} elements sit on kinks (seed ${seed})`);
  const e = relErr(a, b, atol);
  assert.ok(e < tol, `${what}: relative error ${e.toExponential(2)} ≥ ${tol} (seed ${seed})`);
}

export interface CheckOptions {
  inShape: number[];
  n: number;
  seed: number;
  /** Finite-difference step (also checked at half of it). Default 1e-2. */
  eps?: number;
  /** Relative error bound. Default 1e-2. */
  tol?: number;
  /** Input values: default standard normal; a function can keep them off kinks. */
  input?: (rng: Rng, size: number) => Float32Array;
}

/**
 * Checks a layer's input gradient and every parameter gradient against central differences of
 * L = Σ y ⊙ r for a fixed random r, in training mode (so BN goes through batch statistics).
 * The input is rewritten before each forward because ReLU works in place.
 */
export async function gradcheck(make: LayerFactory, opts: CheckOptions): Promise<void> {
  const engine = await createEngine({ backend: BACKEND });
  try {
    const rng = new Rng(opts.seed);
    const ctx: BuildContext = { engine, maxBatch: opts.n, rng };
    const layer = make(ctx, opts.inShape, true);
    const inSize = opts.n * shapeSize(opts.inShape);
    const outSize = opts.n * shapeSize(layer.outShape);
    const x0 = opts.input ? opts.input(rng, inSize) : Float32Array.from({ length: inSize }, () => rng.normal());
    const r = Float32Array.from({ length: outSize }, () => rng.normal());
    const x = Tensor.zeros(engine.heap, [inSize]);
    const dy = Tensor.zeros(engine.heap, [outSize]);
    const eps = opts.eps ?? 1e-2;
    const tol = opts.tol ?? 1e-2;

    const objective = (): number => {
      x.data.set(x0);
      const y = engine.heap.f32(layer.forward(x.ptr, opts.n, true), outSize);
      let s = 0;
      for (let i = 0; i < outSize; i++) s += y[i] * r[i];
      return s;
    };
    objective();
    dy.data.set(r);
    const dxPtr = layer.backward(dy.ptr, opts.n);
    assert.notEqual(dxPtr, 0, 'layer built with inputGrad returned no input gradient');
    const dx = engine.heap.f32(dxPtr, inSize).slice();
    const grads = layer.params().map((p) => ({ name: p.name, g: p.grad.data.slice(), v: p.value.data }));

    const check = (what: string, analytic: Float32Array, values: Float32Array): void =>
      compare(what, analytic, values, allIndices(values.length), objective, eps, tol, opts.seed);
    check('input gradient', dx, x0);
    for (const { name, g, v } of grads) check(name, g, v);
  } finally {
    await engine.close();
  }
}

/** Values whose magnitudes are ≥ 0.2 and pairwise ≥ 0.05 apart: away from ReLU and max kinks. */
export function offKinks(rng: Rng, size: number): Float32Array {
  const v = Float32Array.from({ length: size }, (_, i) => (0.2 + 0.05 * i) * (i % 2 === 0 ? 1 : -1));
  return rng.shuffle(v);
}
