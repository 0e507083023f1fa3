import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeIdx } from '../../src/data/idx.js';
import { Rng } from '../../src/tensor/rng.js';

/** The four official file names. */
export const FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

/**
 * Contents of a tiny synthetic dataset (random pixels, labels cycling 0..9), as IDX bytes by
 * file name. `tag` varies the pixels so different copies are distinguishable.
 */
export function syntheticDataset(opts: { train?: number; test?: number; rows?: number; cols?: number; tag?: number; gzip?: boolean } = {}): Record<string, Uint8Array> {
  const { train = 30, test = 12, rows = 4, cols = 3, tag = 1, gzip = true } = opts;
  const rng = new Rng(tag);
  const split = (n: number): [Uint8Array, Uint8Array] => {
    const images = new Uint8Array(n * rows * cols);
    for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) labels[i] = i % 10;
    return [encodeIdx([n, rows, cols], images, gzip), encodeIdx([n], labels, gzip)];
  };
  const [trI, trL] = split(train);
  const [teI, teL] = split(test);
  return { [FILES[0]]: trI, [FILES[1]]: trL, [FILES[2]]: teI, [FILES[3]]: teL };
}

/** Writes a synthetic dataset into `dir` under `<file>.gz` (or the bare name when not gzipped). */
export function writeSyntheticDataset(dir: string, opts: Parameters<typeof syntheticDataset>[0] = {}): void {
  mkdirSync(dir, { recursive: true });
  const gzip = opts.gzip ?? true;
  for (const [file, bytes] of Object.entries(syntheticDataset(opts))) writeFileSync(join(dir, gzip ? `${file}.gz` : file), bytes);
}
