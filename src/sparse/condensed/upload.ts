/**
 * Copies packed sparse layers into wasm memory once, giving the views the kernels take.
 * Each array gets its own 64-byte-aligned allocation.
 */
import type { WasmHeap } from '../../kernels/memory.js';
import type { CondensedNMView, CondensedView, CsrView, DenseView } from '../../kernels/condensed.js';
import { nmGroupBases, type CondensedLayer, type CondensedNMLayer } from './layer.js';
import type { CsrLayer } from './csr.js';

function put(heap: WasmHeap, src: Float32Array | Int32Array | Uint8Array | Uint16Array | Uint32Array): number {
  const p = heap.alloc(src.byteLength);
  new Uint8Array(heap.memory.buffer, p, src.byteLength).set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
  return p;
}

export function uploadCondensed(heap: WasmHeap, layer: CondensedLayer): CondensedView {
  return {
    rows: layer.nActive,
    cols: layer.inFeatures,
    k: layer.k,
    indexBits: layer.indices instanceof Uint16Array ? 16 : 32,
    values: put(heap, layer.values),
    indices: put(heap, layer.indices),
    bias: put(heap, layer.bias),
  };
}

/** An N:M layer, with the table of group bases its kernels read (nmGroupBases). */
export function uploadCondensedNM(heap: WasmHeap, layer: CondensedNMLayer): CondensedNMView {
  return {
    rows: layer.nActive,
    cols: layer.inFeatures,
    k: layer.k,
    nm: { n: layer.nm.n, m: layer.nm.m, taps: layer.nm.taps },
    values: put(heap, layer.values),
    offsets: put(heap, layer.offsets),
    groupBase: put(heap, nmGroupBases(layer.inFeatures, layer.nm)),
    bias: put(heap, layer.bias),
  };
}

export function uploadCsr(heap: WasmHeap, layer: CsrLayer): CsrView {
  return {
    rows: layer.rows,
    cols: layer.cols,
    indexBits: layer.colIdx instanceof Uint16Array ? 16 : 32,
    rowPtr: put(heap, layer.rowPtr),
    colIdx: put(heap, layer.colIdx),
    values: put(heap, layer.values),
    bias: put(heap, layer.bias),
  };
}

/** A dense layer W [rows, cols] (already masked if it should be) and bias [rows]. */
export function uploadDense(heap: WasmHeap, rows: number, cols: number, weight: Float32Array, bias: Float32Array): DenseView {
  if (weight.length !== rows * cols || bias.length !== rows) throw new RangeError(`uploadDense: expected weight ${rows}·${cols} and bias ${rows}, got ${weight.length} and ${bias.length}`);
  return { rows, cols, W: put(heap, weight), bias: put(heap, bias) };
}
