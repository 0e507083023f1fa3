import type { Ptr } from '../kernels/api.js';
import type { Engine } from '../kernels/engine.js';
import type { Param } from '../tensor/param.js';
import type { Rng } from '../tensor/rng.js';
import type { NamedTensor } from '../tensor/tensor.js';

/** What every layer is built with: the engine whose memory holds its buffers, and more. */
export interface BuildContext {
  engine: Engine;
  /** Largest batch the layer will see; buffers are sized for it once. */
  maxBatch: number;
  /** Draws initial weights (and, for Dropout, a forked stream for masks). */
  rng: Rng;
}

/**
 * A Linear or Conv2d weight that sparse training may mask: `out` rows of `fanIn` weights
 * (Conv2d rows are filters over C_in·kh·kw, the im2col column order).
 */
export interface SparsifiableLayer {
  /** The layer's name, e.g. `fc1` or `layer2.0.conv1`. */
  name: string;
  kind: 'linear' | 'conv2d';
  weight: Param;
  bias: Param | null;
  out: number;
  fanIn: number;
  /** [kh, kw] for Conv2d, [1, 1] for Linear. */
  kernel: [number, number];
  /** The model's first sparsifiable layer (commonly kept dense). */
  isFirst: boolean;
  /** The model's last sparsifiable layer (the classifier; never ablated). */
  isClassifier: boolean;
  /** Present when the layer can compute with its active weights only (Linear, Conv2d). */
  sparseCompute?: SparseComputeLayer;
}

/** A layer that can train at sparse cost: forward and backward over its active weights only. */
export interface SparseComputeLayer {
  /**
   * From now on computes with the active weights of `mask` (0/1, [out, fanIn]) only, its weight
   * stored compact (`Param.toCompact`: no dense weight or gradient); null goes back to dense
   * GEMMs. Call again whenever the mask changes: the lists are rebuilt, and the compact values
   * keep their old layout for the caller to remap. `capacity` is the most active weights the
   * layer will hold (its budget), so buffers are allocated once. With `keepValues` a param not
   * yet compact carries its dense values over; without, its entries start at 0.
   */
  setSparseCompute(mask: ArrayLike<number> | null, capacity: number, keepValues?: boolean): void;
  /** Whether forward and backward currently run sparse. */
  readonly sparse: boolean;
  /**
   * Writes rows [r0, r1) of the dense weight gradient of the last backward into dst (row-major,
   * (r1 − r0)·fanIn floats), for a topology update: computed on demand from the saved
   * activations (Linear) or kept from a backward that ran with `weight.denseGrad` (Conv2d).
   * Valid until the next forward.
   */
  denseGradRows(r0: number, r1: number, dst: Float32Array): void;
  /** Drops whatever `denseGradRows` kept (after the update that read it). */
  releaseDenseGrad(): void;
}

/**
 * A layer computes over batch-major activations held in wasm memory: `forward` reads the n
 * examples at `x` and returns where it wrote its output; `backward` takes the gradient of that
 * output and returns the gradient of its input (or 0 when built with `inputGrad` false: the
 * first layer of a model). Parameter gradients are overwritten, not accumulated. Both reuse
 * buffers allocated at build time, so a training step allocates nothing. Buffers returned by
 * forward/backward stay valid until the layer's next call.
 */
export interface Layer {
  /** Per-example output shape. */
  readonly outShape: readonly number[];
  forward(x: Ptr, n: number, training: boolean): Ptr;
  backward(dy: Ptr, n: number): Ptr;
  params(): Param[];
  /** Non-trained state saved with the model (BN running statistics). */
  buffers(): NamedTensor[];
  sparsifiable(): SparsifiableLayer[];
}

/** Joins name parts with dots, skipping empty ones. */
export function joinName(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('.');
}
