import { basename, closeSync, dirname, fsyncSync, openSync, renameSync, rmSync, writeSync } from '../platform/host.js';
import { fsyncDir, tempPathBeside } from '../data/atomic-file.js';

/**
 * Replaces `path` with `bytes` so that readers (and a crash) see either the old file or the
 * complete new one: write a temporary file in the same directory (so the rename stays on one
 * filesystem), fsync it, rename it over `path`, then fsync the directory so the rename itself
 * survives a crash (best effort: some filesystems refuse to fsync directories).
 */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const dir = dirname(path);
  const tmp = tempPathBeside(dir, basename(path));
  try {
    const fd = openSync(tmp, 'wx', 0o644);
    try {
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
}
