/**
 * A validating reader of zip archives, as `torch.save` writes them (PyTorch ≥ 1.6: stored
 * entries, local headers with data descriptors and padding, ZIP64 end records) and as other
 * tools write them (deflate). Platform-free: it takes the archive's bytes and, for deflate, an
 * inflater the caller supplies (node:zlib's inflateRawSync in Node, DecompressionStream or a JS
 * inflater elsewhere).
 *
 * Everything is checked before an entry is handed out: the end record and central directory in
 * bounds, every local header where the directory says it is and naming the same entry, entry
 * data inside the archive and not overlapping another entry's, sizes that agree for stored
 * entries, no encryption, no multi-disk archives, no duplicate names. Reading an entry checks
 * its CRC-32 (unless turned off) and caps what an inflater may produce at the declared size.
 */

/** A malformed or unsupported zip archive; names the archive and, when it applies, the entry. */
export class ZipError extends Error {
  readonly file: string;
  readonly entry?: string;

  constructor(file: string, problem: string, entry?: string) {
    super(entry === undefined ? `${file}: ${problem}` : `${file}: zip entry "${entry}": ${problem}`);
    this.name = 'ZipError';
    this.file = file;
    if (entry !== undefined) this.entry = entry;
  }
}

/** One file of an archive, as its central directory describes it (after validation). */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate. */
  method: 0 | 8;
  /** CRC-32 of the uncompressed bytes. */
  crc32: number;
  compressedSize: number;
  size: number;
  /** Offset of the (compressed) data in the archive. */
  dataOffset: number;
}

/** Inflates raw deflate data; must not produce more than `maxSize` bytes (throwing instead). */
export type InflateRaw = (data: Uint8Array, maxSize: number) => Uint8Array;

/** Options for `openZip`. */
export interface OpenZipOptions {
  /** Name used in errors. Default `<memory>`. */
  source?: string;
  /** Inflater for deflate entries. Default none: reading a deflate entry is then an error. */
  inflateRaw?: InflateRaw;
  /** Check each entry's CRC-32 when it is read. Default true. */
  verifyCrc?: boolean;
  /** Most entries accepted. Default 100 000. */
  maxEntries?: number;
  /** Most bytes inflated over all reads, so a small archive cannot expand without bound. Default 2^30 (1 GiB). */
  maxInflatedBytes?: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

/** Whether `bytes` starts like a zip archive (a local file header, or the end record of an empty one). */
export function isZip(bytes: Uint8Array): boolean {
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) return false;
  return (bytes[2] === 3 && bytes[3] === 4) || (bytes[2] === 5 && bytes[3] === 6);
}

let crcTable: Uint32Array | null = null;

/** CRC-32 (IEEE 802.3, as zip uses) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  if (crcTable === null) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const t = crcTable;
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A parsed archive: its entries by name, read on demand. */
export class ZipArchive {
  /** Entries by name, in central-directory order. */
  readonly entries: ReadonlyMap<string, ZipEntry>;
  private readonly bytes: Uint8Array;
  private readonly opts: Required<Omit<OpenZipOptions, 'inflateRaw'>> & { inflateRaw?: InflateRaw };
  private inflated = 0;

  /** Use `openZip`. */
  constructor(bytes: Uint8Array, entries: Map<string, ZipEntry>, opts: ZipArchive['opts']) {
    this.bytes = bytes;
    this.entries = entries;
    this.opts = opts;
  }

  /** The entry's uncompressed bytes (a view into the archive for stored entries). Throws a ZipError naming the entry. */
  read(name: string): Uint8Array {
    const file = this.opts.source;
    const e = this.entries.get(name);
    if (e === undefined) throw new ZipError(file, 'no such entry in the archive', name);
    const raw = this.bytes.subarray(e.dataOffset, e.dataOffset + e.compressedSize);
    let data: Uint8Array;
    if (e.method === 0) {
      data = raw;
    } else {
      const inflate = this.opts.inflateRaw;
      if (inflate === undefined) throw new ZipError(file, 'is deflate-compressed and no inflater was given', name);
      if (this.inflated + e.size > this.opts.maxInflatedBytes) {
        throw new ZipError(file, `would inflate to ${e.size} bytes, past the limit of ${this.opts.maxInflatedBytes} bytes for the archive`, name);
      }
      try {
        data = inflate(raw, e.size);
      } catch (err) {
        throw new ZipError(file, `cannot be inflated (${(err as Error).message})`, name);
      }
      if (data.length !== e.size) throw new ZipError(file, `inflated to ${data.length} bytes, the directory says ${e.size}`, name);
      this.inflated += e.size;
    }
    if (this.opts.verifyCrc) {
      const c = crc32(data);
      if (c !== e.crc32) throw new ZipError(file, `CRC-32 mismatch (computed ${hex(c)}, the directory says ${hex(e.crc32)}): the data is corrupt`, name);
    }
    return data;
  }
}

function hex(v: number): string {
  return '0x' + v.toString(16).padStart(8, '0');
}

/**
 * Parses and validates an archive's structure (see the module comment); entry data is read
 * later, by `ZipArchive.read`. Throws a ZipError naming the archive and the entry at fault.
 */
export function openZip(bytes: Uint8Array, opts: OpenZipOptions = {}): ZipArchive {
  const file = opts.source ?? '<memory>';
  const maxEntries = opts.maxEntries ?? 100_000;
  const fail = (problem: string, entry?: string): never => {
    throw new ZipError(file, problem, entry);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = bytes.length;
  const u16 = (o: number): number => view.getUint16(o, true);
  const u32 = (o: number): number => view.getUint32(o, true);
  const u64 = (o: number, what: string): number => {
    const v = view.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} ${v} is too large`);
    return Number(v);
  };

  // The end record is the last 22 bytes unless a comment (≤ 65535 bytes) follows it.
  if (len < 22) fail(`${len} bytes is too short for a zip archive (the end record alone is 22)`);
  let eocd = -1;
  for (let o = len - 22; o >= Math.max(0, len - 22 - U16_MAX); o--) {
    if (u32(o) === EOCD_SIG && o + 22 + u16(o + 20) <= len) {
      eocd = o;
      break;
    }
  }
  if (eocd < 0) fail('no zip end-of-central-directory record: the archive is truncated or not a zip file');
  if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0) fail('multi-disk (split) archives are not supported');
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  // ZIP64: the locator sits right before the end record and points at the ZIP64 end record,
  // whose 64-bit fields replace the 32-bit ones (torch writes one into every archive).
  if (eocd >= 20 && u32(eocd - 20) === ZIP64_LOCATOR_SIG) {
    const at = u64(eocd - 12, 'ZIP64 end record offset');
    if (at + 56 > eocd - 20) fail(`ZIP64 end record at ${at} runs past its locator at ${eocd - 20}`);
    if (u32(at) !== ZIP64_EOCD_SIG) fail(`no ZIP64 end record at offset ${at}, where the locator points`);
    if (u32(at + 16) !== 0 || u32(at + 20) !== 0) fail('multi-disk (split) archives are not supported');
    count = u64(at + 32, 'ZIP64 entry count');
    cdSize = u64(at + 40, 'ZIP64 central directory size');
    cdOffset = u64(at + 48, 'ZIP64 central directory offset');
  } else if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
    fail('the end record needs a ZIP64 record, and there is none');
  }
  if (count > maxEntries) fail(`${count} entries, more than the limit of ${maxEntries}`);
  if (cdOffset + cdSize > len) fail(`central directory [${cdOffset}, ${cdOffset + cdSize}) runs past the end of the ${len}-byte archive: truncated`);

  const decoder = new TextDecoder('utf-8', { fatal: true });
  const entries = new Map<string, ZipEntry>();
  const spans: { start: number; end: number; name: string }[] = [];
  let p = cdOffset;
  const cdEnd = cdOffset + cdSize;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdEnd) fail(`central directory ends inside entry ${i} of ${count}`);
    if (u32(p) !== CENTRAL_SIG) fail(`central directory entry ${i} has a bad signature at offset ${p}`);
    const flags = u16(p + 8);
    const method = u16(p + 10);
    const crc = u32(p + 16);
    let compressedSize = u32(p + 20);
    let size = u32(p + 24);
    const nameLen = u16(p + 28);
    const extraLen = u16(p + 30);
    const commentLen = u16(p + 32);
    const disk = u16(p + 34);
    let local = u32(p + 42);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > cdEnd) fail(`central directory entry ${i} runs past the directory's end`);
    let name: string;
    try {
      name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    } catch {
      return fail(`central directory entry ${i} has a name that is not UTF-8`);
    }
    if (entries.has(name)) fail('appears twice in the central directory', name);
    if (flags & 1) fail('is encrypted, which is not supported', name);
    if (method !== 0 && method !== 8) fail(`uses compression method ${method}; only stored (0) and deflate (8) are supported`, name);
    // ZIP64 extra field: the 64-bit values of the saturated 32-bit fields, in this order.
    if (size === U32_MAX || compressedSize === U32_MAX || local === U32_MAX || disk === U16_MAX) {
      let q = p + 46 + nameLen;
      const extraEnd = q + extraLen;
      let found = false;
      while (q + 4 <= extraEnd) {
        const id = u16(q);
        const n = u16(q + 2);
        if (q + 4 + n > extraEnd) fail('has an extra field running past its end', name);
        if (id === 1) {
          let r = q + 4;
          const take = (what: string): number => {
            if (r + 8 > q + 4 + n) fail(`has a ZIP64 extra field too short for the ${what}`, name);
            const v = u64(r, `${name}: ${what}`);
            r += 8;
            return v;
          };
          if (size === U32_MAX) size = take('size');
          if (compressedSize === U32_MAX) compressedSize = take('compressed size');
          if (local === U32_MAX) local = take('local header offset');
          found = true;
          break;
        }
        q += 4 + n;
      }
      if (!found) fail('has saturated 32-bit sizes and no ZIP64 extra field', name);
    }
    if (disk !== 0 && disk !== U16_MAX) fail('starts on another disk; multi-disk archives are not supported', name);
    if (method === 0 && compressedSize !== size) fail(`is stored but its sizes differ (${compressedSize} stored bytes, ${size} uncompressed)`, name);
    if (local + 30 > cdOffset) fail(`local header at ${local} lies outside the entries region [0, ${cdOffset})`, name);
    if (u32(local) !== LOCAL_SIG) fail(`no local header at offset ${local}, where the directory points`, name);
    const localNameLen = u16(local + 26);
    const dataOffset = local + 30 + localNameLen + u16(local + 28);
    const localName = bytes.subarray(local + 30, local + 30 + localNameLen);
    if (localNameLen !== nameLen || !localName.every((b, j) => b === bytes[p + 46 + j])) fail('its local header names a different entry', name);
    if (dataOffset + compressedSize > cdOffset) fail(`data [${dataOffset}, ${dataOffset + compressedSize}) runs past the entries region [0, ${cdOffset}): truncated`, name);
    entries.set(name, { name, method: method as 0 | 8, crc32: crc, compressedSize, size, dataOffset });
    spans.push({ start: local, end: dataOffset + compressedSize, name });
    p = next;
  }
  // Entries sharing bytes would let a small archive claim many large files.
  spans.sort((a, b) => a.start - b.start);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i].start < spans[i - 1].end) fail(`overlaps entry "${spans[i - 1].name}"`, spans[i].name);
  }
  return new ZipArchive(bytes, entries, {
    source: file,
    verifyCrc: opts.verifyCrc ?? true,
    maxEntries,
    maxInflatedBytes: opts.maxInflatedBytes ?? 2 ** 30,
    inflateRaw: opts.inflateRaw,
  });
}
