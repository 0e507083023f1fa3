#!/usr/bin/env node
/**
 * Generates test/io/corpus/: malformed model, condensed and checkpoint files, each with the
 * error substring its loader must report (manifest.json). Deterministic; run it again after
 * changing a case and commit the output:  node scripts/make-corpus.mjs
 *
 * Files are built byte by byte here (not with the library's writer) so that they can be wrong
 * in ways the writer refuses to be. All are small: a case that claims terabytes claims them in
 * its header only.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'io', 'corpus');
const SIZES = { F32: 4, F64: 8, I32: 4, U8: 1, U16: 2, U32: 4 };

/** Raw bytes of a typed-array-like list in a dtype. */
function bytesOf(dtype, values) {
  const ctor = { F32: Float32Array, F64: Float64Array, I32: Int32Array, U8: Uint8Array, U16: Uint16Array, U32: Uint32Array }[dtype];
  return new Uint8Array(ctor.from(values).buffer);
}

/**
 * A well-formed safetensors file from [{ name, dtype, shape, values }] and metadata; `edit`
 * may rewrite the header object (after offsets are assigned) to break it.
 */
function encode(tensors, metadata, edit = (h) => h) {
  let header = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const chunks = [];
  for (const t of tensors) {
    const b = t.bytes ?? bytesOf(t.dtype, t.values);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + b.length] };
    offset += b.length;
    chunks.push(b);
  }
  header = edit(header) ?? header;
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  return concat(u64(json.length), json, ...chunks);
}

function u64(n) {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const range = (n, f = (i) => i) => Array.from({ length: n }, (_, i) => f(i));
const MLP = { arch: 'mlp', inputShape: [1, 1, 1], classes: 2 };
const modelMeta = (over = {}) => ({ format: 'srigl-model', version: '1', arch: JSON.stringify(MLP), ...over });
/** fc1 of the 1-input MLP: weight [300, 1] and bias [300]. */
const fc1 = (over = {}) => [
  { name: 'fc1.weight', dtype: 'F32', shape: [300, 1], values: range(300, (i) => (i % 7) / 10), ...over },
  { name: 'fc1.bias', dtype: 'F32', shape: [300], values: range(300, () => 0) },
];
const small = [{ name: 'a', dtype: 'F32', shape: [2], values: [1, 2] }, { name: 'b', dtype: 'F32', shape: [2], values: [3, 4] }];

/**
 * A condensed file (io/condensed-file.ts) of one linear layer 4 → 2 with k = 2, after the ops
 * `before` (residual ops need `version` 3, transformer ops 4) and with the tensors `extra`.
 */
function condensed({ indices = [0, 2, 1, 3], values = [0.5, -0.5, 0.25, 1], activeMap = [0, 1], indexDtype = 'U16', indexShape = [2, 2], before = [], version = '1', extra = [] } = {}) {
  const ops = [...before, { kind: 'linear', name: 'fc', outFeatures: 2, inFeatures: 4, nActive: 2, k: 2 }];
  return encode(
    [
      { name: 'fc.values', dtype: 'F32', shape: [2, 2], values },
      { name: 'fc.indices', dtype: indexDtype, shape: indexShape, values: indices },
      { name: 'fc.bias', dtype: 'F32', shape: [2], values: [0, 0] },
      { name: 'fc.active_map', dtype: 'U32', shape: [2], values: activeMap },
      ...extra,
    ],
    { format: 'srigl-condensed', version, arch: JSON.stringify({ arch: 'mlp', inputShape: [1, 2, 2], classes: 2 }), ops: JSON.stringify(ops), k: JSON.stringify({ fc: 2 }) },
  );
}

/**
 * A condensed file with one N:M linear layer 6 → 2 at 2:4 (version 2): groups of inputs 0–3 and
 * 4–5 (a partial group of 2, which keeps min(2, 2) = 2), so k = 4 and each row stores four
 * offsets within groups, group 0's then group 1's.
 */
function condensedNM({ offsets = [0, 2, 0, 1, 1, 3, 0, 1], values = [0.5, -0.5, 0.25, 1, 2, 3, 4, 5], k = 4, nm = { n: 2, m: 4, taps: 1 }, version = '2', offsetDtype = 'U8', extra = [] } = {}) {
  const ops = [{ kind: 'linear', name: 'fc', outFeatures: 2, inFeatures: 6, nActive: 2, k, nm }];
  return encode(
    [
      { name: 'fc.values', dtype: 'F32', shape: [2, k], values },
      { name: 'fc.offsets', dtype: offsetDtype, shape: [2, k], values: offsets },
      { name: 'fc.bias', dtype: 'F32', shape: [2], values: [0, 0] },
      { name: 'fc.active_map', dtype: 'U32', shape: [2], values: [0, 1] },
      ...extra,
    ],
    { format: 'srigl-condensed', version, arch: JSON.stringify({ arch: 'mlp', inputShape: [1, 2, 3], classes: 2 }), ops: JSON.stringify(ops), k: JSON.stringify({ fc: k }) },
  );
}

const loop = { step: 3, epoch: 0, stepInEpoch: 3, lossSum: 1, correct: 1, samples: 3, seconds: 0 };
const ckptMeta = (over = {}) => ({
  format: 'srigl-checkpoint', version: '1', arch: JSON.stringify(MLP), step: '3',
  state: JSON.stringify({ loop, optimizer: { options: { kind: 'sgd' }, steps: 3 }, data: null, rngs: {}, extra: {} }), ...over,
});

const valid = encode(fc1(), modelMeta());
const cases = [
  // The container: header length, header text, offsets, dtypes, shapes.
  ['empty', 'model', new Uint8Array(0), 'too short for the 8-byte header length'],
  ['truncated-prefix', 'model', valid.subarray(0, 5), 'too short for the 8-byte header length'],
  ['truncated-header', 'model', valid.subarray(0, 40), 'runs past the end of the 40-byte file'],
  ['truncated-data', 'model', valid.subarray(0, valid.length - 100), 'run past the'],
  ['header-length-past-end', 'model', concat(u64(4096), new TextEncoder().encode('{}')), 'header length 4096 runs past the end'],
  ['giant-header-claim', 'model', concat(u64(2 ** 40), new TextEncoder().encode('{}')), 'exceeds the 104857600-byte limit'],
  ['header-length-u64-max', 'model', concat(new Uint8Array(8).fill(0xff), new TextEncoder().encode('{}')), 'header length 18446744073709551615 exceeds'],
  ['header-not-utf8', 'model', concat(u64(4), Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d)), 'header is not valid UTF-8'],
  ['header-not-json', 'model', encode([], null, () => '{"a": [1, 2'), 'header is not valid JSON'],
  ['header-is-array', 'model', encode([], null, () => '[]'), 'header must be a JSON object'],
  ['entry-not-object', 'model', encode([], null, () => '{"w": 5}'), 'tensor "w": entry must be an object'],
  ['entry-extra-field', 'model', encode(small, null, (h) => ({ ...h, a: { ...h.a, extra: 1 } })), 'tensor "a": unexpected field "extra"'],
  ['offsets-overlap', 'model', encode(small, null, (h) => ({ ...h, b: { ...h.b, data_offsets: [4, 12] } })), 'tensor "b": data_offsets [4, 12] overlap the previous tensor'],
  ['offsets-gap', 'model', encode([small[0], { name: 'pad', dtype: 'U8', shape: [4], values: [0, 0, 0, 0] }, small[1]], null, ({ pad, ...h }) => h), 'tensor "b": gap of 4 unused bytes before this tensor'],
  ['trailing-bytes', 'model', concat(encode(small, null), Uint8Array.of(1, 2, 3)), '3 trailing bytes after the last tensor'],
  ['offsets-reversed', 'model', encode(small, null, (h) => ({ ...h, a: { ...h.a, data_offsets: [8, 0] } })), 'tensor "a": data_offsets [8, 0] are reversed'],
  ['offsets-fractional', 'model', encode(small, null, (h) => ({ ...h, a: { ...h.a, data_offsets: [0, 7.5] } })), 'must be a pair of non-negative integers'],
  ['offsets-negative', 'model', encode(small, null, (h) => ({ ...h, a: { ...h.a, data_offsets: [-8, 0] } })), 'must be a pair of non-negative integers'],
  ['offsets-beyond-2^53', 'model', encode(small, null, (h) => ({ ...h, a: { ...h.a, data_offsets: [0, 1e300] } })), 'must be a pair of non-negative integers'],
  ['offsets-claim-terabytes', 'model', encode(small, null, (h) => ({ ...h, b: { dtype: 'F32', shape: [2 ** 40 / 4], data_offsets: [8, 8 + 2 ** 40] } })), 'run past the 16-byte data region'],
  ['shape-claims-terabytes', 'model', encode(small, null, (h) => ({ ...h, b: { ...h.b, shape: [1000000, 1000000] } })), 'needs 4000000000000 bytes'],
  ['shape-size-mismatch', 'model', encode(small, null, (h) => ({ ...h, a: { ...h.a, shape: [3] } })), 'tensor "a": F32 shape [3] needs 12 bytes, data_offsets [0, 8] give 8'],
  ['shape-negative', 'model', encode(small, null, (h) => ({ ...h, a: { ...h.a, shape: [-2] } })), 'must be an array of non-negative integers'],
  ['dtype-unknown', 'model', encode(small, null, (h) => ({ ...h, a: { ...h.a, dtype: 'F16' } })), 'tensor "a": unsupported dtype "F16"'],
  ['dtype-size-mismatch', 'model', encode(small, null, (h) => ({ ...h, a: { ...h.a, dtype: 'F64' } })), 'F64 shape [2] needs 16 bytes'],
  ['metadata-not-strings', 'model', encode(small, { format: 1 }), '__metadata__ entry "format" must be a string'],
  ['value-nan', 'model', encode(fc1({ values: range(300, (i) => (i === 17 ? NaN : 0)) }), modelMeta()), 'tensor "fc1.weight": non-finite value NaN at element 17'],
  ['value-inf', 'model', encode(fc1({ values: range(300, (i) => (i === 5 ? Infinity : 0)) }), modelMeta()), 'tensor "fc1.weight": non-finite value Infinity at element 5'],
  ['value-minus-inf', 'model', encode(fc1({ values: range(300, (i) => (i === 299 ? -Infinity : 0)) }), modelMeta()), 'non-finite value -Infinity at element 299'],
  // The model schema.
  ['not-a-model', 'model', encode(small, { format: 'pytorch' }), 'not a srigl model'],
  ['version-unknown', 'model', encode(fc1(), modelMeta({ version: '99' })), 'unsupported model format version "99"'],
  ['arch-missing', 'model', encode(fc1(), { format: 'srigl-model', version: '1' }), 'metadata "arch" is missing'],
  ['arch-not-json', 'model', encode(fc1(), modelMeta({ arch: '{mlp' })), 'metadata "arch" is not valid JSON'],
  ['arch-unknown', 'model', encode(fc1(), modelMeta({ arch: JSON.stringify({ ...MLP, arch: 'vgg16' }) })), 'unknown arch "vgg16"'],
  ['arch-bad-input-shape', 'model', encode(fc1(), modelMeta({ arch: JSON.stringify({ ...MLP, inputShape: [1, 0, 28] }) })), 'inputShape must be three positive integers'],
  ['arch-absurd-input', 'model', encode(fc1(), modelMeta({ arch: JSON.stringify({ arch: 'resnet', inputShape: [3, 100000, 100000], classes: 10 }) })), 'more than the limit of 262144'],
  ['arch-absurd-classes', 'model', encode(fc1(), modelMeta({ arch: JSON.stringify({ ...MLP, classes: 1e9 }) })), '1000000000 classes, more than the limit'],
  ['arch-cnn-too-small', 'model', encode(fc1(), modelMeta({ arch: JSON.stringify({ arch: 'cnn', inputShape: [1, 2, 2], classes: 2 }) })), 'a cnn needs inputs of at least 4×4'],
  ['tensor-missing', 'model', encode([], modelMeta()), 'missing tensor "fc1.weight"'],
  ['tensor-unexpected', 'model', encode([...fc1(), { name: 'fc9.weight', dtype: 'F32', shape: [1], values: [0] }], modelMeta()), 'unexpected tensor "fc9.weight" for a mlp model'],
  ['tensor-wrong-dtype', 'model', encode(fc1({ dtype: 'F64' }), modelMeta()), 'tensor "fc1.weight" has dtype F64, expected F32'],
  ['tensor-wrong-shape', 'model', encode(fc1({ shape: [150, 2] }), modelMeta()), 'tensor "fc1.weight" has shape [150, 2], expected [300, 1]'],
  ['mask-not-binary', 'model', encode([...fc1(), { name: 'fc1.weight.mask', dtype: 'U8', shape: [300, 1], values: range(300, (i) => (i === 9 ? 2 : 1)) }], modelMeta()), 'tensor "fc1.weight.mask" holds 2 at element 9'],
  ['mask-weight-not-zero', 'model', encode([...fc1(), { name: 'fc1.weight.mask', dtype: 'U8', shape: [300, 1], values: range(300, (i) => (i === 3 ? 0 : 1)) }], modelMeta()), 'tensor "fc1.weight" has a nonzero weight 0.30000001192092896 at masked position 3'],
  ['mask-wrong-dtype', 'model', encode([...fc1(), { name: 'fc1.weight.mask', dtype: 'F32', shape: [300, 1], values: range(300, () => 1) }], modelMeta()), 'tensor "fc1.weight.mask" has dtype F32, expected U8'],
  ['metadata-training-not-json', 'model', encode(fc1(), modelMeta({ training: 'lr=0.1' })), 'metadata "training" is not valid JSON'],
  ['sparse-unknown-method', 'model', encode(fc1(), modelMeta({ sparse: JSON.stringify({ method: 'magic' }) })), 'unknown method "magic"'],
  ['sparse-ablated-out-of-range', 'model', encode(fc1(), modelMeta({ sparse: JSON.stringify({ method: 'srigl', sparsity: 0.9, layers: [{ name: 'fc1', out: 300, fanIn: 1, k: 1, ablatedRows: [3, 300] }] }) })), 'ablatedRows must be ascending unique integers in [0, 300)'],
  ['sparse-duplicate-ablated', 'model', encode(fc1(), modelMeta({ sparse: JSON.stringify({ method: 'srigl', sparsity: 0.9, layers: [{ name: 'fc1', out: 300, fanIn: 1, k: 1, ablatedRows: [3, 3] }] }) })), 'ablatedRows must be ascending unique'],
  ['sparse-nm-malformed', 'model', encode(fc1(), modelMeta({ sparse: JSON.stringify({ method: 'srigl', layers: [{ name: 'fc1', out: 300, fanIn: 1, k: 1, nm: { n: 2, m: 2, taps: 1 } }] }) })), 'layer "fc1": nm must be null or {n, m, taps} with integers 1 ≤ n < m'],
  // Condensed files.
  ['condensed-index-out-of-range', 'condensed', condensed({ indices: [0, 2, 1, 4] }), 'indices[row 1, col 1] = 4 is out of range [0, 4)'],
  ['condensed-index-duplicate', 'condensed', condensed({ indices: [1, 1, 0, 3] }), 'indices[row 0, col 1] = 1 duplicates the previous index'],
  ['condensed-index-unsorted', 'condensed', condensed({ indices: [0, 2, 3, 1] }), 'indices[row 1, col 1] = 1 is not ascending'],
  ['condensed-active-map-unsorted', 'condensed', condensed({ activeMap: [1, 0] }), 'activeMap[row 1] = 0 is not strictly increasing'],
  ['condensed-value-nan', 'condensed', condensed({ values: [0.5, NaN, 0.25, 1] }), 'tensor "fc.values": non-finite value NaN at element 1'],
  ['condensed-index-shape', 'condensed', condensed({ indexShape: [4, 1] }), 'tensor "fc.indices" has shape [4, 1], expected [2, 2]'],
  ['condensed-index-dtype', 'condensed', condensed({ indexDtype: 'I32' }), 'tensor "fc.indices" has dtype I32, expected U16 or U32'],
  ['condensed-nm-offset-out-of-range', 'condensed', condensedNM({ offsets: [0, 2, 0, 2, 1, 3, 0, 1] }), 'tensor "fc.offsets": validateCondensedNM: offsets[row 0, weight 3] = 2 is out of range [0, 2) of group 1'],
  ['condensed-nm-offset-unsorted', 'condensed', condensedNM({ offsets: [0, 2, 0, 1, 3, 1, 0, 1] }), 'tensor "fc.offsets": validateCondensedNM: offsets[row 1, weight 1] = 1 is not strictly ascending within group 0 (previous 3)'],
  ['condensed-nm-offset-duplicate', 'condensed', condensedNM({ offsets: [2, 2, 0, 1, 1, 3, 0, 1] }), 'offsets[row 0, weight 1] = 2 is not strictly ascending within group 0'],
  ['condensed-nm-k-mismatch', 'condensed', condensedNM({ k: 3, offsets: [0, 2, 0, 1, 3, 1], values: [1, 2, 3, 4, 5, 6] }), 'layer "fc": validateCondensedNM: k 3 does not match 2:4 over 6 inputs of 1 tap(s), which keeps 4'],
  ['condensed-nm-bad-structure', 'condensed', condensedNM({ nm: { n: 4, m: 4, taps: 1 } }), 'need integers 1 ≤ N < M ≤ 64, got 4:4'],
  ['condensed-nm-value-nan', 'condensed', condensedNM({ values: [0.5, -0.5, 0.25, 1, 2, NaN, 4, 5] }), 'tensor "fc.values": non-finite value NaN at element 5'],
  ['condensed-nm-offset-dtype', 'condensed', condensedNM({ offsetDtype: 'U16' }), 'tensor "fc.offsets" has dtype U16, expected U8'],
  ['condensed-nm-version-1', 'condensed', condensedNM({ version: '1' }), 'ops[0] is N:M, which needs format version 2, but the file says "1"'],
  ['condensed-residual-version-1', 'condensed', condensed({ before: [{ kind: 'save' }, { kind: 'add' }] }), 'ops[0] (save) needs format version 3, but the file says "1"'],
  ['condensed-add-nothing-saved', 'condensed', condensed({ before: [{ kind: 'add' }], version: '3' }), 'op 0 (add) has no saved activation to add'],
  ['condensed-swap-nothing-saved', 'condensed', condensed({ before: [{ kind: 'swap' }], version: '3' }), 'op 0 (swap) has no saved activation to swap with'],
  ['condensed-saved-never-added', 'condensed', condensed({ before: [{ kind: 'save' }], version: '3' }), '1 saved activation(s) are never added'],
  ['condensed-add-shape-mismatch', 'condensed', condensed({ before: [{ kind: 'save' }, { kind: 'avgpool' }, { kind: 'add' }], version: '3' }), 'op 2 (add) adds a saved [1, 2, 2] to [1]'],
  ['condensed-version-5', 'condensed', condensed({ version: '5' }), 'unsupported condensed format version "5" (this build reads 1, 2, 3, 4)'],
  // Transformer ops (version 4).
  ['condensed-transformer-version-3', 'condensed', condensed({ before: [{ kind: 'save' }, { kind: 'gelu' }, { kind: 'add' }], version: '3' }), 'ops[1] (gelu) needs format version 4, but the file says "3"'],
  ['condensed-layernorm-eps', 'condensed', condensed({ before: [{ kind: 'layernorm', name: 'ln', features: 4, eps: -1e-5 }], version: '4' }), 'ops[0].eps must be a finite number > 0, got -0.00001'],
  ['condensed-layernorm-missing', 'condensed', condensed({ before: [{ kind: 'layernorm', name: 'ln', features: 4, eps: 1e-5 }], version: '4' }), 'missing tensor "ln.weight"'],
  ['condensed-embed-shape', 'condensed', condensed({
    before: [{ kind: 'embed', name: '', dim: 1, tokens: 5 }], version: '4',
    extra: [{ name: 'cls_token', dtype: 'F32', shape: [2], values: [0, 0] }, { name: 'pos_embed', dtype: 'F32', shape: [5, 1], values: [0, 0, 0, 0, 0] }],
  }), 'tensor "cls_token" has shape [2], expected [1]'],
  ['condensed-attention-layer-name', 'condensed', condensed({ before: [{ kind: 'attention', name: 'attn', heads: 1, q: { name: 'query' } }], version: '4' }), 'ops[0].q.name must be "attn.q", got "query"'],
  ['condensed-cls-pool-feature-map', 'condensed', condensed({ before: [{ kind: 'cls_pool' }], version: '4' }), 'op 0 (cls_pool) keeps the first token, the previous op gives [1, 2, 2]'],
  ['condensed-nm-with-indices', 'condensed', condensedNM({ extra: [{ name: 'fc.indices', dtype: 'U16', shape: [2, 4], values: [0, 2, 4, 5, 1, 3, 4, 5] }] }), 'unexpected tensor "fc.indices" (layer "fc" reads values, offsets, bias, active_map)'],
  // Checkpoints.
  ['checkpoint-not-one', 'checkpoint', encode(fc1(), modelMeta()), 'not a srigl checkpoint'],
  ['checkpoint-state-missing', 'checkpoint', encode(fc1(), ckptMeta({ state: undefined })), 'metadata "state" is missing'],
  ['checkpoint-step-mismatch', 'checkpoint', encode(fc1(), ckptMeta({ step: '4' })), 'metadata step "4" does not match the loop state\'s step 3'],
  ['checkpoint-int-tensor', 'checkpoint', encode([{ name: 'model/fc1.weight', dtype: 'I32', shape: [1], values: [1] }], ckptMeta()), 'checkpoints hold F32 and U8 only'],
];

mkdirSync(OUT, { recursive: true });
for (const f of readdirSync(OUT)) if (f.endsWith('.safetensors')) rmSync(join(OUT, f));
const manifest = [];
const seen = new Set();
for (const [name, loader, bytes, error] of cases) {
  if (seen.has(name)) throw new Error(`duplicate case ${name}`);
  seen.add(name);
  const file = `${name}.safetensors`;
  writeFileSync(join(OUT, file), bytes);
  manifest.push({ file, loader, error });
}
writeFileSync(join(OUT, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
console.log(`wrote ${manifest.length} files and manifest.json to ${OUT}`);
