// Entry point of the WebAssembly kernels. Every export takes byte offsets (pointers) into the
// shared memory and trusts its inputs: shapes and bounds are checked once on the TypeScript side.
export * from './gemm';
export * from './ops';
