/**
 * Shared by the tests that cross-check srigl against PyTorch: Debian's python3-torch (1.13),
 * run with /usr/bin/python3. Where it is missing the tests skip with a message rather than fail.
 */
import { execFileSync, spawnSync } from 'node:child_process';

/** The interpreter that has Debian's torch. */
export const PYTHON = '/usr/bin/python3';

let torchMissing: string | null | undefined;

/** Why torch cannot be used here (a skip message), or null when `import torch` works. */
export function torchUnavailable(): string | null {
  torchMissing ??= spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0
    ? null
    : `torch is not importable by ${PYTHON} (apt install python3-torch); skipping the PyTorch cross-check`;
  return torchMissing;
}

/** Why plain Python cannot be run here (a skip message), or null when it can. */
export function pythonUnavailable(): string | null {
  return spawnSync(PYTHON, ['-c', 'pass'], { stdio: 'ignore' }).status === 0 ? null : `${PYTHON} is not installed; skipping`;
}

/** Runs `script` with `args` and returns its stdout (throws with its stderr when it fails). */
export function runPython(script: string, args: readonly string[] = []): string {
  return execFileSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20, stdio: ['ignore', 'pipe', 'pipe'] });
}
