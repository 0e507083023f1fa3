import { existsSync, join, readFileSync } from '../platform/host.js';
import { parseIdx, type IdxArray } from './idx.js';

/** Datasets this library knows how to load. */
export type DatasetName = 'fashion-mnist' | 'mnist';
export type Split = 'train' | 'test';

export const DATASET_NAMES: readonly DatasetName[] = ['fashion-mnist', 'mnist'];

/** The four files of a split pair, by their official (uncompressed) names. */
export interface SplitFiles {
  images: string;
  labels: string;
}

/** Everything fixed about a dataset: its files, classes and normalisation constants. */
export interface DatasetSpec {
  name: DatasetName;
  files: Record<Split, SplitFiles>;
  classes: readonly string[];
  /** Mean and standard deviation of pixel/255 over the full training set. */
  mean: number;
  std: number;
  /** Where `downloadDataset` fetches the gzipped files from by default. */
  baseUrl: string;
  /**
   * SHA-256 of each file's decompressed IDX content, keyed by file name. Content hashes rather
   * than `.gz` hashes because the same data circulates with different gzip encodings (the
   * Debian package's archives differ byte-wise from the upstream ones). Only hashes computed
   * locally from a trusted copy are listed; a dataset without them cannot be downloaded.
   */
  sha256: Readonly<Record<string, string>>;
}

const MNIST_FILES: Record<Split, SplitFiles> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

export const DATASETS: Readonly<Record<DatasetName, DatasetSpec>> = {
  'fashion-mnist': {
    name: 'fashion-mnist',
    files: MNIST_FILES,
    classes: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
    mean: 0.286,
    std: 0.353,
    baseUrl: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
    // Computed from the Debian package's files under /usr/share/datasets/fashion-mnist
    // (`zcat FILE | sha256sum`).
    sha256: {
      'train-images-idx3-ubyte': 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
      'train-labels-idx1-ubyte': 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
      't10k-images-idx3-ubyte': '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
      't10k-labels-idx1-ubyte': '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
    },
  },
  mnist: {
    name: 'mnist',
    files: MNIST_FILES,
    classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    mean: 0.1307,
    std: 0.3081,
    baseUrl: 'https://ossci-datasets.s3.amazonaws.com/mnist/',
    // No trusted local copy of MNIST was available to hash, so MNIST downloads are refused
    // unless the caller supplies hashes; load MNIST from a directory instead.
    sha256: {},
  },
};

export function datasetSpec(name: string): DatasetSpec {
  if (!(DATASET_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown dataset "${name}"; known datasets: ${DATASET_NAMES.join(', ')}`);
  }
  return DATASETS[name as DatasetName];
}

/** One split of a dataset, as raw bytes. */
export interface DatasetSplit {
  name: DatasetName;
  split: Split;
  /** Number of examples. */
  n: number;
  rows: number;
  cols: number;
  /** n × rows × cols pixels, row-major, 0..255. */
  images: Uint8Array;
  /** n labels, each < classes.length. */
  labels: Uint8Array;
  classes: readonly string[];
}

/**
 * The path of `file` in `dir`, accepting the gzipped (`FILE.gz`) or the uncompressed name;
 * null when neither exists. Gzipped wins because it is what the official sources ship.
 */
export function findDatasetFile(dir: string, file: string): string | null {
  for (const candidate of [`${file}.gz`, file]) {
    const path = join(dir, candidate);
    if (existsSync(path)) return path;
  }
  return null;
}

/**
 * Reads and validates one split from `dir`: both files parse as IDX, images are 3-D and labels
 * 1-D, their counts agree, and every label names a class.
 */
export function loadSplitFromDir(name: DatasetName, split: Split, dir: string): DatasetSplit {
  const spec = datasetSpec(name);
  const files = spec.files[split];
  const imagesPath = findDatasetFile(dir, files.images);
  const labelsPath = findDatasetFile(dir, files.labels);
  if (imagesPath === null || labelsPath === null) {
    const missing = [imagesPath === null ? files.images : null, labelsPath === null ? files.labels : null].filter((f) => f !== null);
    throw new Error(`${name} ${split}: ${missing.map((f) => `${f}[.gz]`).join(' and ')} not found in ${dir}`);
  }
  return splitFromIdx(name, split, parseIdx(readFileSync(imagesPath), imagesPath), imagesPath, parseIdx(readFileSync(labelsPath), labelsPath), labelsPath);
}

/**
 * A split from its parsed images and labels files (named by `imagesPath` and `labelsPath` in
 * errors), validated: images are 3-D and labels 1-D, their counts agree, and every label names a
 * class.
 */
export function splitFromIdx(name: DatasetName, split: Split, images: IdxArray, imagesPath: string, labels: IdxArray, labelsPath: string): DatasetSplit {
  const spec = datasetSpec(name);
  if (images.dims.length !== 3) throw new Error(`${imagesPath}: expected a 3-dimensional images file, got dims [${images.dims.join(', ')}]`);
  if (labels.dims.length !== 1) throw new Error(`${labelsPath}: expected a 1-dimensional labels file, got dims [${labels.dims.join(', ')}]`);
  const [n, rows, cols] = images.dims;
  if (labels.dims[0] !== n) {
    throw new Error(`${name} ${split}: ${imagesPath} holds ${n} images but ${labelsPath} holds ${labels.dims[0]} labels`);
  }
  const bad = labels.data.findIndex((l) => l >= spec.classes.length);
  if (bad >= 0) throw new Error(`${labelsPath}: label ${labels.data[bad]} at index ${bad} is not < ${spec.classes.length}`);
  return { name, split, n, rows, cols, images: images.data, labels: labels.data, classes: spec.classes };
}
