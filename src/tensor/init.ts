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

/**
 * Fills `out` with N(0, std²) truncated to ±2·std (out-of-range draws are redrawn, as
 * TensorFlow's truncated_normal, BERT's initialiser): the init of ViT's position embedding and
 * class token. timm calls trunc_normal_(std=0.02) with its default bounds ±2 (absolute, i.e.
 * ±100σ), a plain normal in practice; cutting at ±2σ redraws 4.6% of the values and leaves a
 * standard deviation of 0.88·std.
 */
export function truncNormalInit(out: Float32Array, std: number, rng: Rng): void {
  for (let i = 0; i < out.length; i++) {
    let z = rng.normal();
    while (Math.abs(z) > 2) z = rng.normal();
    out[i] = std * z;
  }
}
