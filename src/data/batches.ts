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
  private epoch = 0;
  private index = 0;
  /** The epoch `order` currently holds, or -1 before the first fill. */
  private orderEpoch = -1;

  constructor(source: BatchSource, opts: BatchIteratorOptions) {
    const { batchSize, seed = 0, shuffle = true, dropLast = false } = opts;
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
    for (let r = 0; r < rows; r++) {
      const i = this.order[this.index + r];
      const from = i * features;
      const to = r * features;
      x.set(src.subarray(from, from + features), to);
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

/** A u32 seed for one epoch's shuffle, mixing seed and epoch so neighbouring epochs are unrelated. */
function epochSeed(seed: number, epoch: number): number {
  let z = (seed ^ Math.imul(epoch + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}
