import { Rng } from '../tensor/rng.js';

/** What a `BatchIterator` draws from: n examples of `features` floats each, and their labels. */
export interface BatchSource {
  n: number;
  features: number;
  x: Float32Array;
  labels: ArrayLike<number>;
}

/** Options for `BatchIterator`. */
export interface BatchIteratorOptions {
  /** Examples per batch; required. */
  batchSize: number;
  /** Seed of the per-epoch shuffles. Default 0. */
  seed?: number;
  /** Visit examples in a fresh random order each epoch. Default true. */
  shuffle?: boolean;
  /** Skip an epoch's final batch when it is smaller than `batchSize`. Default false. */
  dropLast?: boolean;
  /** Random augmentation of each example as it is copied into a batch. Default none. */
  augment?: AugmentOptions;
}

/**
 * Per-example image augmentation, drawn afresh every epoch. The draws are a function of
 * (seed, epoch, example index) alone, so a resumed run sees exactly the images it would have seen.
 */
export interface AugmentOptions {
  /** Image geometry of an example: channels × rows × cols must equal the source's features. */
  shape: readonly [number, number, number];
  /**
   * Random crop: pad every side by this many pixels with `fill`, then cut a window of the
   * original size at a uniform random offset (torchvision's RandomCrop(size, padding)). Default 0.
   */
  cropPadding?: number;
  /** Mirror left–right with probability 1/2 (RandomHorizontalFlip). Default false. */
  flip?: boolean;
  /** Value of padded pixels: the normalised value of a black pixel, for standardised inputs. Default 0. */
  fill?: number;
}

/** Where an iterator stands: the epoch, and the offset into that epoch's order of the next batch. */
export interface BatchPosition {
  epoch: number;
  index: number;
}

/**
 * Endless batches over a source, epoch after epoch. Epoch e's order is a function of (seed, e)
 * alone, so a run resumed from a saved `position` draws exactly the batches it would have drawn.
 * `next` copies into buffers the caller owns (typically views into wasm memory), so a training
 * step allocates nothing here.
 */
export class BatchIterator {
  readonly batchSize: number;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  private readonly source: BatchSource;
  private readonly order: Uint32Array;
  private readonly augment: Required<AugmentOptions> | null;
  private epoch = 0;
  private index = 0;
  /** The epoch `order` currently holds, or -1 before the first fill. */
  private orderEpoch = -1;

  constructor(source: BatchSource, opts: BatchIteratorOptions) {
    const { batchSize, seed = 0, shuffle = true, dropLast = false, augment } = opts;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`BatchIterator: batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(source.n) || source.n < 1) throw new RangeError(`BatchIterator: the source must hold at least one example, got n=${source.n}`);
    if (source.x.length !== source.n * source.features) {
      throw new RangeError(`BatchIterator: source.x has ${source.x.length} values, expected n × features = ${source.n} × ${source.features}`);
    }
    if (source.labels.length !== source.n) throw new RangeError(`BatchIterator: source has ${source.labels.length} labels for ${source.n} examples`);
    if (dropLast && batchSize > source.n) {
      throw new RangeError(`BatchIterator: with dropLast, batchSize ${batchSize} larger than the ${source.n} examples would yield no batches`);
    }
    this.source = source;
    this.batchSize = batchSize;
    this.seed = seed >>> 0;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    this.order = new Uint32Array(source.n);
    this.augment = augment === undefined ? null : checkAugment(augment, source.features);
  }

  /** Batches in one epoch. */
  get batchesPerEpoch(): number {
    const n = this.source.n;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The next batch's position; after an epoch's last batch this is (epoch + 1, 0). */
  get position(): BatchPosition {
    return { epoch: this.epoch, index: this.index };
  }

  /** Moves to a position saved from `position` (by this or an identically configured iterator). */
  seek(pos: BatchPosition): void {
    const { epoch, index } = pos;
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`BatchIterator.seek: epoch must be a non-negative integer, got ${epoch}`);
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.source.n) {
      throw new RangeError(`BatchIterator.seek: index must be an integer in [0, ${this.source.n}), got ${index}`);
    }
    this.epoch = epoch;
    this.index = index;
    this.skipShortTail();
  }

  /**
   * Copies the next batch into `x` (rows × features, row-major) and `y` (rows labels) and
   * returns rows: `batchSize`, or fewer for an epoch's last batch unless `dropLast`.
   */
  next(x: Float32Array, y: Int32Array): number {
    const { features, n } = this.source;
    if (x.length < this.batchSize * features) throw new RangeError(`BatchIterator.next: x holds ${x.length} floats, a batch needs ${this.batchSize * features}`);
    if (y.length < this.batchSize) throw new RangeError(`BatchIterator.next: y holds ${y.length} labels, a batch needs ${this.batchSize}`);
    if (this.orderEpoch !== this.epoch) this.fillOrder();
    const rows = Math.min(this.batchSize, n - this.index);
    const src = this.source.x;
    const labels = this.source.labels;
    const aug = this.augment;
    for (let r = 0; r < rows; r++) {
      const i = this.order[this.index + r];
      const from = i * features;
      const to = r * features;
      if (aug === null) x.set(src.subarray(from, from + features), to);
      else augmentInto(aug, src.subarray(from, from + features), x.subarray(to, to + features), epochSeed(this.seed ^ 0x5bd1e995, this.epoch) ^ i);
      y[r] = labels[i];
    }
    this.index += rows;
    if (this.index >= n) {
      this.epoch++;
      this.index = 0;
    }
    this.skipShortTail();
    return rows;
  }

  /** With dropLast, a position whose remaining examples cannot fill a batch is the next epoch's start. */
  private skipShortTail(): void {
    if (this.dropLast && this.index + this.batchSize > this.source.n) {
      this.epoch++;
      this.index = 0;
    }
  }

  private fillOrder(): void {
    const order = this.order;
    for (let i = 0; i < order.length; i++) order[i] = i;
    if (this.shuffle) new Rng(epochSeed(this.seed, this.epoch)).shuffle(order);
    this.orderEpoch = this.epoch;
  }
}

function checkAugment(a: AugmentOptions, features: number): Required<AugmentOptions> {
  const [c, h, w] = a.shape;
  if (![c, h, w].every((v) => Number.isInteger(v) && v >= 1) || c * h * w !== features) {
    throw new RangeError(`BatchIterator: augment.shape [${a.shape.join(', ')}] does not describe the source's ${features} features per example`);
  }
  const cropPadding = a.cropPadding ?? 0;
  if (!Number.isInteger(cropPadding) || cropPadding < 0 || cropPadding >= Math.min(h, w)) {
    throw new RangeError(`BatchIterator: augment.cropPadding must be an integer in [0, ${Math.min(h, w)}), got ${cropPadding}`);
  }
  const fill = a.fill ?? 0;
  if (!Number.isFinite(fill)) throw new RangeError(`BatchIterator: augment.fill must be finite, got ${fill}`);
  return { shape: [c, h, w], cropPadding, flip: a.flip ?? false, fill };
}

/**
 * Writes one augmented example: out[ch, y, x] = in[ch, y + dy, x' + dx] (x' mirrored when
 * flipped), `fill` outside the image. The offsets and the flip come from a hash of `key`.
 */
export function augmentInto(a: Required<AugmentOptions>, src: Float32Array, out: Float32Array, key: number): void {
  const [c, h, w] = a.shape;
  const p = a.cropPadding;
  let z = mix32(key >>> 0);
  const span = 2 * p + 1;
  const dy = p === 0 ? 0 : (z % span) - p;
  z = mix32(z);
  const dx = p === 0 ? 0 : (z % span) - p;
  z = mix32(z);
  const flip = a.flip && (z & 1) === 1;
  for (let ch = 0; ch < c; ch++) {
    const base = ch * h * w;
    for (let y = 0; y < h; y++) {
      const sy = y + dy;
      const row = base + y * w;
      if (sy < 0 || sy >= h) {
        out.fill(a.fill, row, row + w);
        continue;
      }
      const srow = base + sy * w;
      for (let x = 0; x < w; x++) {
        const sx = (flip ? w - 1 - x : x) + dx;
        out[row + x] = sx >= 0 && sx < w ? src[srow + sx] : a.fill;
      }
    }
  }
}

function mix32(v: number): number {
  let z = (v + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** A u32 seed for one epoch's shuffle, mixing seed and epoch so neighbouring epochs are unrelated. */
function epochSeed(seed: number, epoch: number): number {
  let z = (seed ^ Math.imul(epoch + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}
