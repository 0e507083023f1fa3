/**
 * Datasets over HTTP: how the browser build gets its data (the demo server serves the embedded
 * subset), and it works the same in Node (global fetch). The files are the IDX files of
 * locate.ts's directories — `FILE.gz` or else `FILE` — parsed and validated as loadSplitFromDir
 * does; gzip is undone asynchronously by the platform (DecompressionStream in browsers).
 */
import { gunzip } from '../platform/host.js';
import { datasetSpec, splitFromIdx, type DatasetName, type DatasetSplit, type Split } from './datasets.js';
import { isGzip, parseIdx, type IdxArray } from './idx.js';

/** The part of `fetch` fetchDataset uses. */
export type FetchLike = (url: string) => Promise<Pick<Response, 'ok' | 'status' | 'arrayBuffer'>>;

/** Options for `fetchDataset`. */
export interface FetchDatasetOptions {
  /** Splits to fetch. Default both, `['train', 'test']`. */
  splits?: readonly Split[];
  /** The fetch function. Default: the global fetch. */
  fetch?: FetchLike;
}

/** The splits fetched, by name (those not asked for are absent). */
export type FetchedDataset = Partial<Record<Split, DatasetSplit>>;

/**
 * Fetches, parses and validates dataset `name` from the directory URL `baseUrl` (absolute, or
 * relative to the page in a browser, e.g. `'data/'`): for each file `FILE.gz` is tried first, then `FILE`, as
 * locate.ts accepts both. Errors name the URL and the HTTP status or the format problem.
 */
export async function fetchDataset(name: DatasetName, baseUrl: string | URL, opts: FetchDatasetOptions = {}): Promise<FetchedDataset> {
  const spec = datasetSpec(name);
  const get: FetchLike = opts.fetch ?? ((url) => fetch(url));
  // A relative URL is taken against the page (in a browser).
  const base = new URL(baseUrl, globalThis.location?.href);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  const file = async (stem: string): Promise<{ idx: IdxArray; url: string }> => {
    const tried: string[] = [];
    for (const candidate of [`${stem}.gz`, stem]) {
      const url = new URL(candidate, base).href;
      const response = await get(url);
      if (!response.ok) {
        tried.push(`${url} (HTTP ${response.status})`);
        continue;
      }
      const bytes = new Uint8Array(await response.arrayBuffer());
      let raw: Uint8Array = bytes;
      if (isGzip(bytes)) {
        try {
          raw = await gunzip(bytes);
        } catch (e) {
          throw new Error(`${url}: corrupt gzip data (${(e as Error).message})`);
        }
      }
      return { idx: parseIdx(raw, url), url };
    }
    throw new Error(`${name}: ${stem} not found: ${tried.join(', ')}`);
  };
  const out: FetchedDataset = {};
  for (const split of opts.splits ?? (['train', 'test'] as const)) {
    const [images, labels] = await Promise.all([file(spec.files[split].images), file(spec.files[split].labels)]);
    out[split] = splitFromIdx(name, split, images.idx, images.url, labels.idx, labels.url);
  }
  return out;
}
