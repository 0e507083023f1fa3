// Writes data/fashion-mnist-subset/: a real, class-balanced, deterministic subset of
// Fashion-MNIST small enough to ship in the package, so `srigl train` works on a machine
// without the full dataset or internet. Selection: the first PER_CLASS_TRAIN examples of each
// class in the official training file, and the first PER_CLASS_TEST of each class in the
// official test file, kept in their original file order (so classes stay interleaved).
//
// Usage: node scripts/make-embedded-subset.mjs [SOURCE_DIR]   (default /usr/share/datasets/fashion-mnist)
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const PER_CLASS_TRAIN = 1000;
const PER_CLASS_TEST = 200;
const CLASSES = 10;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sourceDir = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const outDir = join(root, 'data', 'fashion-mnist-subset');

/** Reads an IDX u8 file (gzipped or not); returns its dims and data. */
function readIdx(path) {
  let bytes = readFileSync(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08) throw new Error(`${path}: not an unsigned-byte IDX file`);
  const ndims = bytes[3];
  const dims = Array.from({ length: ndims }, (_, d) => view.getUint32(4 + 4 * d, false));
  const header = 4 + 4 * ndims;
  if (bytes.length !== header + dims.reduce((a, b) => a * b, 1)) throw new Error(`${path}: length does not match dims ${dims}`);
  return { dims, data: bytes.subarray(header) };
}

function encodeIdx(dims, data) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE((0x08 << 8) | dims.length, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return gzipSync(Buffer.concat([header, data]), { level: 9 });
}

function writeAtomic(path, bytes) {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

function subset(prefix, perClass) {
  const images = readIdx(join(sourceDir, `${prefix}-images-idx3-ubyte.gz`));
  const labels = readIdx(join(sourceDir, `${prefix}-labels-idx1-ubyte.gz`));
  const [n, rows, cols] = images.dims;
  const taken = new Array(CLASSES).fill(0);
  const picked = [];
  for (let i = 0; i < n && picked.length < perClass * CLASSES; i++) {
    const c = labels.data[i];
    if (taken[c] < perClass) {
      taken[c]++;
      picked.push(i);
    }
  }
  if (taken.some((t) => t !== perClass)) throw new Error(`${prefix}: only ${taken} examples per class available`);
  const pixels = rows * cols;
  const outImages = Buffer.alloc(picked.length * pixels);
  const outLabels = Buffer.alloc(picked.length);
  picked.forEach((src, dst) => {
    outImages.set(images.data.subarray(src * pixels, (src + 1) * pixels), dst * pixels);
    outLabels[dst] = labels.data[src];
  });
  const files = {
    [`${prefix}-images-idx3-ubyte.gz`]: encodeIdx([picked.length, rows, cols], outImages),
    [`${prefix}-labels-idx1-ubyte.gz`]: encodeIdx([picked.length], outLabels),
  };
  for (const [name, bytes] of Object.entries(files)) {
    writeAtomic(join(outDir, name), bytes);
    const sha = createHash('sha256').update(gunzipSync(bytes)).digest('hex');
    console.log(`${name}: ${bytes.length} bytes gzipped, content sha256 ${sha}`);
  }
  console.log(`${prefix}: ${picked.length} of ${n} examples, indices ${picked[0]}..${picked[picked.length - 1]} of the source file`);
}

mkdirSync(outDir, { recursive: true });
subset('train', PER_CLASS_TRAIN);
subset('t10k', PER_CLASS_TEST);
