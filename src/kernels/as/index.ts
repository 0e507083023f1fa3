// Entry point of the WebAssembly kernels. Every export takes byte offsets (pointers) into the
// shared memory and trusts its inputs: shapes and bounds are checked once on the TypeScript side.
export * from './gemm';
export * from './ops';
export * from './conv';
export * from './norm';
export * from './transformer';
export * from './condensed';
export * from './condensed-nm';
export * from './condensed-vit';
export * from './csr';
export * from './sparse-train';
export * from './lanes';

/** End of this module's static data; the loader checks it lies below the heap's reserved area. */
export function heap_base(): usize {
  return __heap_base;
}
