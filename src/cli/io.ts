import type { ProgressStream } from './progress.js';

/** Where a command writes; `main` gets the process streams, tests pass collectors. */
export interface CliIo {
  stdout: ProgressStream;
  stderr: ProgressStream;
  /** Working directory relative paths resolve against. Default process.cwd(). */
  cwd?: string;
}

/** Engine backends a command accepts; 'webgpu' is refused by createEngine with a clear message (Node has no WebGPU). */
export const BACKENDS = ['auto', 'reference', 'scalar', 'simd128', 'relaxed', 'webgpu'] as const;
