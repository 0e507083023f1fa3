/**
 * Shared harness for the CLI tests: run `main(argv, io)` in-process with captured output, the
 * embedded Fashion-MNIST subset, and temporary directories that are always removed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';

export { repoRoot, SUBSET } from '../paths.js';

export interface RunResult {
  code: number;
  out: string;
  err: string;
}

/** Runs `srigl ...argv` in-process and returns its exit status, stdout and stderr. */
export async function run(...argv: string[]): Promise<RunResult> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } };
  const code = await main(argv, io);
  return { code, out, err };
}

/** Calls `fn` with a fresh temporary directory named `prefix…`, removing it afterwards whatever happens. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
