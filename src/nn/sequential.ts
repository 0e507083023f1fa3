import type { Ptr } from '../kernels/api.js';
import type { Param } from '../tensor/param.js';
import type { NamedTensor } from '../tensor/tensor.js';
import type { BuildContext, Layer, SparsifiableLayer } from './layer.js';

/**
 * Builds one layer for a per-example input shape; `inputGrad` is false when nothing upstream
 * needs the layer's input gradient (the first layer of a model).
 */
export type LayerFactory = (ctx: BuildContext, inShape: readonly number[], inputGrad: boolean) => Layer;

/** Layers applied in order; each is built for the previous one's output shape. */
export class Sequential implements Layer {
  readonly layers: readonly Layer[];
  readonly outShape: readonly number[];

  constructor(ctx: BuildContext, inShape: readonly number[], factories: readonly LayerFactory[], inputGrad = true) {
    const layers: Layer[] = [];
    let shape = inShape;
    factories.forEach((make, i) => {
      const layer = make(ctx, shape, i === 0 ? inputGrad : true);
      layers.push(layer);
      shape = layer.outShape;
    });
    this.layers = layers;
    this.outShape = shape;
  }

  forward(x: Ptr, n: number, training: boolean): Ptr {
    let h = x;
    for (const layer of this.layers) h = layer.forward(h, n, training);
    return h;
  }

  backward(dy: Ptr, n: number): Ptr {
    let g = dy;
    for (let i = this.layers.length - 1; i >= 0; i--) g = this.layers[i].backward(g, n);
    return g;
  }

  params(): Param[] {
    return this.layers.flatMap((l) => l.params());
  }

  buffers(): NamedTensor[] {
    return this.layers.flatMap((l) => l.buffers());
  }

  sparsifiable(): SparsifiableLayer[] {
    return this.layers.flatMap((l) => l.sparsifiable());
  }
}
