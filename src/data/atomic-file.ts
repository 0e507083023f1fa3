import { closeSync, fsyncSync, join, openSync, randomBytes } from '../platform/host.js';

/**
 * The pieces shared by every write-temp-fsync-rename in the library (the dataset cache here,
 * model and checkpoint files in io/, which may import data/ but not the other way round).
 */

/**
 * A fresh temporary path for replacing `dir/name`: `.<name>.<pid>.<random hex>.tmp` in the same
 * directory, so the final rename stays on one filesystem. Checkpoint clean-up matches this
 * pattern to remove the leftovers of killed writers.
 */
export function tempPathBeside(dir: string, name: string): string {
  return join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Fsyncs a directory so that a rename into it survives a crash. Best effort: some filesystems
 * refuse to fsync directories, and the rename itself has already happened.
 */
export function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // The file is complete and in place; only the rename's durability across a crash is weaker.
  }
}
