import type { Kernels } from '../kernels/api.js';
import type { Param } from '../tensor/param.js';

/** Training produced a NaN or ±Infinity; names the first layer (in model order) holding one. */
export class NonFiniteError extends Error {
  /** Layer name, e.g. `fc2` or `layer1.0.conv1`; `loss` when no param holds a non-finite value. */
  readonly layer: string;
  /** The param (or `<param>.grad`) holding the value, when one does. */
  readonly tensor: string | null;
  /** Optimizer steps completed before the failing one. */
  readonly step: number;

  constructor(message: string, layer: string, tensor: string | null, step: number) {
    super(message);
    this.name = 'NonFiniteError';
    this.layer = layer;
    this.tensor = tensor;
    this.step = step;
  }
}

/** The first non-finite element of `a`, or -1. `x - x` is NaN exactly when x is NaN or ±Infinity. */
function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] - a[i] !== 0) return i;
  return -1;
}

/** The layer a param belongs to: its name without the last component (`fc1.weight` → `fc1`). */
export function layerOf(paramName: string): string {
  const dot = paramName.lastIndexOf('.');
  return dot < 0 ? paramName : paramName.slice(0, dot);
}

/**
 * Scans params in model order (values, then gradients when `grads`) and returns an error naming
 * the first layer with a non-finite value, or null when all are finite.
 */
export function checkFinite(params: readonly Param[], step: number, grads = false, kernels?: Kernels): NonFiniteError | null {
  for (const p of params) {
    // A compact param (sparse compute) stores its active elements only: its first `count`.
    const count = p.count;
    for (const [what, t] of grads ? ([['value', p.value], ['gradient', p.grad]] as const) : ([['value', p.value]] as const)) {
      // The kernels' sum of squares is finite unless an element is not (or squares overflow f32):
      // a fast test that leaves the scan for the rare tensor that fails it.
      if (kernels && Number.isFinite(kernels.sumSquares(count, t.ptr))) continue;
      const at = firstNonFinite(t.data.subarray(0, count));
      const i = at < 0 || p.compact === null ? at : p.compact.pos[at];
      if (i >= 0) {
        const layer = layerOf(p.name);
        const tensor = what === 'value' ? p.name : `${p.name}.grad`;
        return new NonFiniteError(
          `training diverged at step ${step}: layer "${layer}" holds a non-finite ${what} (${tensor}[${i}] = ${t.data[at]}); stopped before it reached a checkpoint — try a lower learning rate or --clip-norm`,
          layer, tensor, step,
        );
      }
    }
  }
  return null;
}
