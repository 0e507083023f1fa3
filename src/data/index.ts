export { parseIdx, encodeIdx, isGzip, type IdxArray } from './idx.js';
export {
  DATASETS,
  DATASET_NAMES,
  datasetSpec,
  findDatasetFile,
  loadSplitFromDir,
  type DatasetName,
  type DatasetSpec,
  type DatasetSplit,
  type Split,
  type SplitFiles,
} from './datasets.js';
export { normalizeSplit, type NormalizeOptions, type NormalizedSplit } from './normalize.js';
export { BatchIterator, type BatchIteratorOptions, type BatchPosition, type BatchSource } from './batches.js';
export {
  locateDataset,
  loadDataset,
  loadSplit,
  defaultCacheDir,
  defaultEmbeddedRoot,
  type DataSource,
  type LoadedDataset,
  type LocateOptions,
} from './locate.js';
export { downloadDataset, type DownloadOptions } from './download.js';
