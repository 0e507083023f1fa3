import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fsyncDir, tempPathBeside } from './atomic-file.js';
import { datasetSpec, findDatasetFile, type DatasetName } from './datasets.js';
import { isGzip } from './idx.js';

/** Options for `downloadDataset`. */
export interface DownloadOptions {
  /** Cache root; files go to `<cacheDir>/<dataset>/`. Required. */
  cacheDir: string;
  /** URL prefix the `<file>.gz` names are appended to. Default: the dataset's official mirror. */
  baseUrl?: string;
  /** The fetch to use (tests pass one bound to a local server). Default: global `fetch`. */
  fetchImpl?: typeof fetch;
  /**
   * Expected SHA-256 of each file's decompressed content, by file name. Default: the dataset's
   * built-in table. A file with no expected hash is refused, never stored unverified.
   */
  sha256?: Readonly<Record<string, string>>;
  /** Abort one file's transfer after this many milliseconds. Default 600000 (10 minutes). */
  timeoutMs?: number;
}

/**
 * Downloads a dataset's four files into the cache and returns the directory holding them.
 * Files already in the cache are kept (they were verified when stored). Each file is streamed
 * to a temporary file, fsynced, verified against its SHA-256, and only then renamed into
 * place, so the cache never holds a partial or unverified file; any failure removes the
 * temporary file and throws naming the URL.
 */
export async function downloadDataset(name: DatasetName, opts: DownloadOptions): Promise<string> {
  const spec = datasetSpec(name);
  const baseUrl = opts.baseUrl ?? spec.baseUrl;
  const hashes = opts.sha256 ?? spec.sha256;
  const fetchImpl = opts.fetchImpl ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const dir = join(opts.cacheDir, name);
  const files = [spec.files.train.images, spec.files.train.labels, spec.files.test.images, spec.files.test.labels];
  // Refuse before fetching anything: a half-downloaded unverifiable set helps nobody.
  const unverifiable = files.filter((f) => hashes[f] === undefined);
  if (unverifiable.length > 0) {
    throw new Error(
      `cannot download ${name}: no SHA-256 known for ${unverifiable.join(', ')}, so the files could not be verified; ` +
        `download them yourself and pass their directory with --data DIR (or SRIGL_DATA)`,
    );
  }
  mkdirSync(dir, { recursive: true });
  for (const file of files) {
    if (findDatasetFile(dir, file) !== null) continue;
    await downloadFile(new URL(`${file}.gz`, baseUrl).href, dir, file, hashes[file], fetchImpl, timeoutMs);
  }
  return dir;
}

async function downloadFile(url: string, dir: string, file: string, expected: string, fetchImpl: typeof fetch, timeoutMs: number): Promise<void> {
  const tmp = tempPathBeside(dir, file);
  try {
    await fetchToFile(url, tmp, fetchImpl, timeoutMs);
    const bytes = readFileSync(tmp);
    const gz = isGzip(bytes);
    let content: Uint8Array = bytes;
    if (gz) {
      try {
        content = gunzipSync(bytes);
      } catch (e) {
        throw new Error(`corrupt gzip data (${(e as Error).message})`);
      }
    }
    const actual = createHash('sha256').update(content).digest('hex');
    if (actual !== expected.toLowerCase()) {
      throw new Error(`SHA-256 mismatch for ${file}: expected ${expected}, got ${actual}`);
    }
    renameSync(tmp, join(dir, gz ? `${file}.gz` : file));
    fsyncDir(dir);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(`download of ${url} failed: ${(e as Error).message}`, { cause: e });
  }
}

async function fetchToFile(url: string, path: string, fetchImpl: typeof fetch, timeoutMs: number): Promise<void> {
  const res = await fetchImpl(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
  if (res.body === null) throw new Error('response has no body');
  const declared = res.headers.get('content-length');
  const fh = await open(path, 'wx');
  let received = 0;
  try {
    const reader = res.body.getReader();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw new Error(`connection lost after ${received} bytes (${(e as Error).message})`);
      }
      if (chunk.done) break;
      await fh.write(chunk.value);
      received += chunk.value.length;
    }
    if (declared !== null && Number(declared) !== received) {
      throw new Error(`received ${received} bytes, the server announced ${declared}`);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}
