import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { datasetSpec, findDatasetFile, loadSplitFromDir, type DatasetName, type DatasetSplit, type Split } from './datasets.js';
import { downloadDataset, type DownloadOptions } from './download.js';

/** Where a dataset was found, so the CLI can say which copy a run used. */
export interface DataSource {
  kind: 'dir' | 'env' | 'debian' | 'cache' | 'embedded' | 'download';
  /** The directory holding the dataset's files. */
  path: string;
}

/** Options for `locateDataset` / `loadDataset`. */
export interface LocateOptions {
  /** A directory given explicitly (`--data DIR`); when set it must hold the dataset. */
  dir?: string;
  /** Environment to read `SRIGL_DATA`, `XDG_CACHE_HOME` and `HOME` from. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where Debian installs datasets (`<root>/<dataset>/`). Default `/usr/share/datasets`. */
  debianRoot?: string;
  /** Cache root (`<cacheDir>/<dataset>/`). Default `$XDG_CACHE_HOME/srigl`, else `~/.cache/srigl`. */
  cacheDir?: string;
  /** Directory holding the embedded subsets. Default `<package root>/data`. */
  embeddedRoot?: string;
  /** Download into the cache when no full copy is found. Default false. */
  download?: boolean;
  /** Passed to `downloadDataset` (mirror, fetch, hashes, timeout). */
  downloadOptions?: Omit<DownloadOptions, 'cacheDir'>;
}

/** Datasets shipped with the package as a small real subset, and their directory names. */
const EMBEDDED: Partial<Record<DatasetName, string>> = { 'fashion-mnist': 'fashion-mnist-subset' };

/**
 * Finds a dataset, trying in order: the explicit `dir`, `$SRIGL_DATA`, the Debian location, the
 * cache, a download into the cache (only with `download: true`), and the embedded subset. An
 * explicit `dir` or `SRIGL_DATA` that lacks the files is an error rather than a fall-through,
 * since the user asked for that copy. Each may hold the files directly or in `<dir>/<dataset>/`.
 */
export async function locateDataset(name: DatasetName, opts: LocateOptions = {}): Promise<DataSource> {
  datasetSpec(name);
  const env = opts.env ?? process.env;
  if (opts.dir !== undefined) return { kind: 'dir', path: requireDatasetDir(name, opts.dir, '--data') };
  const fromEnv = env.SRIGL_DATA;
  if (fromEnv !== undefined && fromEnv !== '') return { kind: 'env', path: requireDatasetDir(name, fromEnv, 'SRIGL_DATA') };

  const debian = join(opts.debianRoot ?? '/usr/share/datasets', name);
  if (hasAllFiles(name, debian)) return { kind: 'debian', path: debian };
  const cacheRoot = opts.cacheDir ?? defaultCacheDir(env);
  const cached = join(cacheRoot, name);
  if (hasAllFiles(name, cached)) return { kind: 'cache', path: cached };
  if (opts.download === true) {
    return { kind: 'download', path: await downloadDataset(name, { ...opts.downloadOptions, cacheDir: cacheRoot }) };
  }
  const subset = EMBEDDED[name];
  const embedded = subset === undefined ? null : join(opts.embeddedRoot ?? defaultEmbeddedRoot(), subset);
  if (embedded !== null && hasAllFiles(name, embedded)) return { kind: 'embedded', path: embedded };
  const looked = [debian, cached, ...(embedded === null ? [] : [embedded])];
  throw new Error(
    `no copy of ${name} found (looked in ${looked.join(', ')}); pass --data DIR, set SRIGL_DATA, or allow a download`,
  );
}

/** A loaded dataset: both splits and where they came from. */
export interface LoadedDataset {
  source: DataSource;
  train: DatasetSplit;
  test: DatasetSplit;
}

/** Locates a dataset (see `locateDataset`) and loads both splits. */
export async function loadDataset(name: DatasetName, opts: LocateOptions = {}): Promise<LoadedDataset> {
  const source = await locateDataset(name, opts);
  return { source, train: loadSplitFromDir(name, 'train', source.path), test: loadSplitFromDir(name, 'test', source.path) };
}

/** Locates a dataset (see `locateDataset`) and loads one split. */
export async function loadSplit(name: DatasetName, split: Split, opts: LocateOptions = {}): Promise<{ source: DataSource; data: DatasetSplit }> {
  const source = await locateDataset(name, opts);
  return { source, data: loadSplitFromDir(name, split, source.path) };
}

/** `$XDG_CACHE_HOME/srigl`, else `~/.cache/srigl`. */
export function defaultCacheDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  if (xdg !== undefined && xdg !== '') return join(xdg, 'srigl');
  return join(env.HOME || homedir(), '.cache', 'srigl');
}

/** `<package root>/data`: the package root is the nearest ancestor holding package.json, in source and in dist alike. */
export function defaultEmbeddedRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'data');
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the srigl package root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

function datasetFiles(name: DatasetName): string[] {
  const { train, test } = datasetSpec(name).files;
  return [train.images, train.labels, test.images, test.labels];
}

function hasAllFiles(name: DatasetName, dir: string): boolean {
  return datasetFiles(name).every((f) => findDatasetFile(dir, f) !== null);
}

function requireDatasetDir(name: DatasetName, dir: string, from: string): string {
  const abs = resolve(dir);
  for (const candidate of [abs, join(abs, name)]) {
    if (hasAllFiles(name, candidate)) return candidate;
  }
  const missing = datasetFiles(name).filter((f) => findDatasetFile(abs, f) === null);
  throw new Error(`${from} ${dir}: ${name} not found: missing ${missing.map((f) => `${f}[.gz]`).join(', ')} (in ${abs} and in ${join(abs, name)})`);
}
