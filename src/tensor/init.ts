import type { Rng } from './rng.js';

/** Fills `out` with U(-bound, bound). */
export function uniformInit(out: Float32Array, bound: number, rng: Rng): void {
  for (let i = 0; i < out.length; i++) out[i] = (2 * rng.uniform() - 1) * bound;
}

/**
 * PyTorch's default for Linear and Conv2d weights: kaiming_uniform(a = √5), which works out
 * to U(±1/√fan_in) (gain √(2/(1+5)) = √(1/3), bound = gain·√(3/fan_in)).
 */
export function kaimingUniformA5(out: Float32Array, fanIn: number, rng: Rng): void {
  uniformInit(out, 1 / Math.sqrt(fanIn), rng);
}

/** PyTorch's default Linear/Conv2d bias: U(±1/√fan_in). */
export function biasInit(out: Float32Array, fanIn: number, rng: Rng): void {
  uniformInit(out, fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0, rng);
}
