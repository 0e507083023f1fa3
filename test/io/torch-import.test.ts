import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { saveModel } from '../../src/io/model.js';
import { PickleError, unpickle } from '../../src/io/pickle.js';
import { encodeSafetensors, SafetensorsError, type SafeTensor } from '../../src/io/safetensors.js';
import { buildImportedModel, importStateDict, mapStateDict, readStateDict, TorchImportError, type ImportOptions } from '../../src/io/torch.js';
import { crc32, openZip, ZipError } from '../../src/io/zip.js';
import { createEngine } from '../../src/kernels/engine.js';
import { Model } from '../../src/nn/models.js';
import { constantFanInMask } from '../../src/sparse/mask.js';
import { Rng } from '../../src/tensor/rng.js';
import { bitwiseCrc32, f32Bytes, makeZip, PickleWriter, stateDictPickle, torchZip, type TensorSpec } from './torch-files.js';
import { runPython, torchUnavailable } from './torch-python.js';

const u16Bytes = (bits: readonly number[]): Uint8Array => new Uint8Array(Uint16Array.from(bits).buffer);

/**
 * A hand-built mlp state_dict (4 → 3 → 2 → 2) that exercises the tensor reader: fc1.weight a
 * transposed view at a storage offset, fc1.bias float64 with one zero weight elsewhere, fc2 as
 * float16 with a uint8 `weight_mask`, fc2.bias bfloat16, fc3.weight int64. `expected` holds
 * the values as the test computes them from the storages, by the view formula.
 */
function handBuiltMlp(): { file: Uint8Array; storages: Record<string, Uint8Array>; specs: TensorSpec[]; expected: Record<string, number[]> } {
  // Storage 0 holds fc1.weightᵀ (4×3, row-major) after two unused elements: W[i][j] = s0[2 + i + 3j].
  const s0 = [9, 9, 0.5, -1, 2, 0.25, 0, -0.75, 1.5, 3, -2, 0.125, 1, -0.5];
  const fc1w = Array.from({ length: 12 }, (_, e) => s0[2 + Math.floor(e / 4) + 3 * (e % 4)]);
  const fc1b = [0.1, -0.2, 0.3];
  const fc2wBits = [0x3800, 0xbd00, 0x4000, 0x0000, 0x3600, 0xc200]; // 0.5 -1.25 2 0 0.375 -3
  const fc2mask = [1, 1, 0, 0, 1, 1];
  const fc2bBits = [0x3fc0, 0xbe80]; // 1.5 -0.25
  const fc3w = [1n, -2n, 3n, 4n];
  const fc3b = [0.5, -0.5];
  const storages: Record<string, Uint8Array> = {
    0: f32Bytes(s0),
    1: new Uint8Array(Float64Array.from(fc1b).buffer),
    2: u16Bytes(fc2wBits),
    3: Uint8Array.from(fc2mask),
    4: u16Bytes(fc2bBits),
    5: new Uint8Array(BigInt64Array.from(fc3w).buffer),
    6: f32Bytes(fc3b),
  };
  const specs: TensorSpec[] = [
    { name: 'fc1.weight', storageType: 'FloatStorage', key: '0', numel: 14, offset: 2, shape: [3, 4], stride: [1, 3] },
    { name: 'fc1.bias', storageType: 'DoubleStorage', key: '1', numel: 3, offset: 0, shape: [3], stride: [1] },
    { name: 'fc2.weight', storageType: 'HalfStorage', key: '2', numel: 6, offset: 0, shape: [2, 3], stride: [3, 1] },
    { name: 'fc2.weight_mask', storageType: 'ByteStorage', key: '3', numel: 6, offset: 0, shape: [2, 3], stride: [3, 1] },
    { name: 'fc2.bias', storageType: 'BFloat16Storage', key: '4', numel: 2, offset: 0, shape: [2], stride: [1] },
    { name: 'fc3.weight', storageType: 'LongStorage', key: '5', numel: 4, offset: 0, shape: [2, 2], stride: [2, 1] },
    { name: 'fc3.bias', storageType: 'FloatStorage', key: '6', numel: 2, offset: 0, shape: [2], stride: [1] },
  ];
  const expected = {
    'fc1.weight': fc1w,
    'fc1.bias': fc1b.map((v) => Math.fround(v)),
    // The mask zeroes the third weight (2 → 0); the fourth is 0 already.
    'fc2.weight': [0.5, -1.25, 0, 0, 0.375, -3],
    'fc2.bias': [1.5, -0.25],
    'fc3.weight': [1, -2, 3, 4],
    'fc3.bias': fc3b,
  };
  return { file: torchZip(stateDictPickle(specs), storages), storages, specs, expected };
}

const MLP: ImportOptions = { arch: 'mlp' };
const nodeInflate = (d: Uint8Array, max: number): Uint8Array => inflateRawSync(d, { maxOutputLength: Math.max(1, max + 1) });

function safetensorsOf(tensors: Record<string, { shape: number[]; data: number[] }>): Uint8Array {
  const list: SafeTensor[] = Object.entries(tensors).map(([name, t]) => ({ name, dtype: 'F32', shape: t.shape, data: Float32Array.from(t.data) }));
  return encodeSafetensors(list);
}

/** An mlp state_dict 4 → 3 → 2 (hidden [3]) with the given weights, as safetensors. */
function smallMlp(extra: Record<string, { shape: number[]; data: number[] }> = {}, names = ['fc1', 'fc2']): Uint8Array {
  return safetensorsOf({
    [`${names[0]}.weight`]: { shape: [3, 4], data: [1, 0, 2, 0, 0, 3, 0, 4, 5, 6, 0, 0] },
    [`${names[0]}.bias`]: { shape: [3], data: [0.1, 0.2, 0.3] },
    [`${names[1]}.weight`]: { shape: [2, 3], data: [1, 2, 3, 4, 5, 6] },
    [`${names[1]}.bias`]: { shape: [2], data: [0, 0] },
    ...extra,
  });
}

function assertClose(got: ArrayLike<number>, want: readonly number[], what: string, tol = 0): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: got ${got[i]}, expected ${want[i]}`);
}

describe('torch files without torch (hand-built)', () => {
  test('a zip state_dict: views, offsets, f64/f16/bf16/int64 storages and a prune-style mask come out as the view formula says', () => {
    const { file, expected } = handBuiltMlp();
    const sd = readStateDict(file, { source: 'hand.pt' });
    assert.equal(sd.format, 'torch-zip');
    assert.deepEqual([...sd.tensors.keys()], ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.weight_mask', 'fc2.bias', 'fc3.weight', 'fc3.bias']);
    const imported = mapStateDict(sd, { ...MLP, source: 'hand.pt' });
    assert.deepEqual(imported.spec, { arch: 'mlp', inputShape: [1, 1, 4], classes: 2, hidden: [3, 2] });
    for (const [name, want] of Object.entries(expected)) assertClose(imported.tensors.get(name)!, want, name);
    assert.deepEqual([...imported.masks.get('fc2.weight')!], [1, 1, 0, 0, 1, 1]);
    const fc2 = imported.layers.find((l) => l.name === 'fc2')!;
    assert.equal(fc2.mask, 'entry');
    assert.equal(fc2.maskKey, 'fc2.weight_mask');
    assert.equal(fc2.maskedNonzero, 1);
    assert.equal(fc2.k, 2);
    // fc1 has one exact zero (s0[6]): its mask comes from the zeros, and fan-in is 4, 3, 4.
    const fc1 = imported.layers.find((l) => l.name === 'fc1')!;
    assert.equal(fc1.mask, 'zeros');
    assert.equal(fc1.k, null);
    assert.deepEqual(fc1.fanInRange, [3, 4]);
    assert.equal(imported.layers.find((l) => l.name === 'fc3')!.mask, 'none');
  });

  test('deflate-compressed entries read the same as stored ones; CRC-32 matches a bitwise implementation', () => {
    const { storages, specs, expected } = handBuiltMlp();
    const deflated = torchZip(stateDictPickle(specs), storages, true);
    assert.throws(() => readStateDict(deflated), /zip entry "archive\/data\.pkl": is deflate-compressed and no inflater was given/);
    const imported = mapStateDict(readStateDict(deflated, { inflateRaw: nodeInflate }), MLP);
    for (const [name, want] of Object.entries(expected)) assertClose(imported.tensors.get(name)!, want, name);
    const rng = new Rng(5);
    for (const n of [0, 1, 7, 1000]) {
      const b = Uint8Array.from({ length: n }, () => Math.floor(rng.uniform() * 256));
      assert.equal(crc32(b), bitwiseCrc32(b), `${n} bytes`);
    }
  });

  test('a __reduce__ payload calling os.system is refused at its GLOBAL, before any call', () => {
    const evil = new PickleWriter().proto(2).global('os', 'system').str('touch /tmp/srigl-pwned').raw(0x85).reduce().stop().bytes();
    assert.throws(() => readStateDict(torchZip(evil, {}), { source: 'evil.pt' }), (e: Error) =>
      e instanceof TorchImportError && /^evil\.pt: archive\/data\.pkl: refused pickle global "os\.system" at byte 2 \(only tensor state_dicts are accepted\)$/.test(e.message));
  });

  test('unknown globals, object opcodes and non-storage persistent ids are refused by name', () => {
    const cases: [string, Uint8Array, RegExp][] = [
      ['a pickled nn.Module', new PickleWriter().proto(2).global('torch.nn.modules.linear', 'Linear').emptyTuple().raw(0x81).stop().bytes(), /refused pickle global "torch\.nn\.modules\.linear\.Linear"/],
      ['STACK_GLOBAL builtins.eval', new PickleWriter().proto(4).raw(0x8c, 8, ...new TextEncoder().encode('builtins'), 0x8c, 4, ...new TextEncoder().encode('eval'), 0x93).stop().bytes(), /refused pickle global "builtins\.eval"/],
      ['INST', new PickleWriter().proto(2).mark().raw(0x69, ...new TextEncoder().encode('os\nsystem\n')).stop().bytes(), /refused pickle opcode INST/],
      ['REDUCE of a dtype', new PickleWriter().proto(2).global('torch', 'float32').emptyTuple().reduce().stop().bytes(), /refused REDUCE of a dtype/],
      ['REDUCE of a str', new PickleWriter().proto(2).str('os.system').emptyTuple().reduce().stop().bytes(), /refused REDUCE of a str/],
      ['BUILD on a list', new PickleWriter().proto(2).raw(0x5d).emptyDict().build().stop().bytes(), /refused BUILD \(setting state\) on a list/],
      ['a module persistent id', new PickleWriter().proto(2).mark().str('module').str('x').str('y').str('z').int(1).tuple().persid().stop().bytes(), /refused persistent id "module"/],
      ['a sparse tensor', new PickleWriter().proto(2).global('torch._utils', '_rebuild_sparse_tensor').emptyTuple().reduce().stop().bytes(), /sparse \(COO\) tensors, which srigl cannot import/],
    ];
    for (const [what, pickle, re] of cases) {
      assert.throws(() => readStateDict(torchZip(pickle, {})), (e: Error) => e instanceof TorchImportError && re.test(e.message), what);
    }
  });

  test('the pickle VM bounds MARK nesting, the memo and integer size, and reports truncation', () => {
    const hooks = { resolveGlobal: () => undefined };
    const deep = new PickleWriter().proto(2);
    for (let i = 0; i < 2000; i++) deep.mark();
    assert.throws(() => unpickle(deep.stop().bytes(), hooks), /MARKs nested deeper than 1024/);
    const memo = new PickleWriter().proto(2).int(1);
    for (let i = 0; i < 5; i++) memo.put(i);
    assert.throws(() => unpickle(memo.stop().bytes(), hooks, { maxMemo: 4 }), /memo holds more than 4 entries/);
    assert.throws(() => unpickle(new PickleWriter().proto(2).raw(0x8a, 40, ...new Array(40).fill(1)).stop().bytes(), hooks), /integer of 40 bytes/);
    assert.throws(() => unpickle(new PickleWriter().proto(2).raw(0x58, 0xff, 0xff, 0xff, 0x7f, 0x41).bytes(), hooks), /truncated/);
    assert.throws(() => unpickle(new PickleWriter().proto(2).get(7).stop().bytes(), hooks), /memo key 7 was never stored/);
    assert.throws(() => unpickle(new PickleWriter().proto(2).raw(0xff).bytes(), hooks), (e: Error) => e instanceof PickleError && /unknown opcode 0xff at byte 2/.test(e.message));
    // Big ints beyond 2^53 stay exact (torch's legacy magic number is one).
    assert.equal(unpickle(new PickleWriter().proto(2).raw(0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19).stop().bytes(), hooks).value, 0x1950a86a20f9469cfc6cn);
  });

  test('a truncated zip is refused at every length, with the loaders\' own errors', () => {
    const { file } = handBuiltMlp();
    for (let n = 0; n < file.length; n += 13) {
      assert.throws(() => mapStateDict(readStateDict(file.subarray(0, n), { source: 'cut.pt' }), MLP), (e: Error) =>
        (e instanceof ZipError || e instanceof TorchImportError || e instanceof SafetensorsError) && e.message.startsWith('cut.pt: '), `cut at ${n} bytes`);
    }
    assert.throws(() => readStateDict(file.subarray(0, file.length - 30)), /no zip end-of-central-directory record: the archive is truncated/);
  });

  test('zip entries out of bounds, with a bad CRC or the wrong size are refused naming the entry', () => {
    const { storages, specs } = handBuiltMlp();
    const zip = torchZip(stateDictPickle(specs), storages);
    const view = new DataView(zip.buffer);
    // Find the central directory record of archive/data/2 and claim 1 MB for it.
    const cd = view.getUint32(zip.length - 6, true);
    let p = cd;
    const dec = new TextDecoder();
    while (dec.decode(zip.subarray(p + 46, p + 46 + view.getUint16(p + 28, true))) !== 'archive/data/2') p += 46 + view.getUint16(p + 28, true);
    const big = zip.slice();
    new DataView(big.buffer).setUint32(p + 20, 1 << 20, true);
    new DataView(big.buffer).setUint32(p + 24, 1 << 20, true);
    assert.throws(() => readStateDict(big, { source: 'big.pt' }), /big\.pt: zip entry "archive\/data\/2": data \[\d+, \d+\) runs past the entries region/);
    const corrupt = zip.slice();
    corrupt[view.getUint32(p + 42, true) + 30 + 'archive/data/2'.length] ^= 1;
    assert.throws(() => mapStateDict(readStateDict(corrupt, { source: 'bad.pt' }), MLP), /bad\.pt: zip entry "archive\/data\/2": CRC-32 mismatch/);
    // The pickle says storage 0 holds 14 floats; give it 13.
    const short = torchZip(stateDictPickle(specs), { ...storages, 0: storages[0].subarray(0, 52) });
    assert.throws(() => readStateDict(short), /storage "0" holds 14 float32 elements \(56 bytes\), but archive\/data\/0 has 52 bytes/);
    // A view reaching past its storage: fc1.weight's offset moved up by 1.
    const past = specs.map((s) => (s.name === 'fc1.weight' ? { ...s, offset: 3 } : s));
    assert.throws(() => mapStateDict(readStateDict(torchZip(stateDictPickle(past), storages)), MLP), /tensor "fc1\.weight" views \[3, 4\] with strides \[1, 3\] at offset 3, past the end of its storage of 14 elements/);
    // Deflate that expands beyond the size the directory declares.
    const bomb = makeZip([['archive/data.pkl', new Uint8Array(100000)]], true);
    const bv = new DataView(bomb.buffer);
    const bcd = bv.getUint32(bomb.length - 6, true);
    bv.setUint32(bcd + 24, 10, true);
    assert.throws(() => openZip(bomb, { inflateRaw: (d, max) => { const out = new Uint8Array(Math.min(100000, max + 1)); void d; return out; } }).read('archive/data.pkl'), /inflated to 11 bytes, the directory says 10/);
    assert.throws(() => readStateDict(bomb, { inflateRaw: nodeInflate }), /zip entry "archive\/data\.pkl": cannot be inflated/);
  });

  test('files that are not torch state_dicts get messages that say what they are', () => {
    assert.throws(() => readStateDict(new TextEncoder().encode('hello world, not a model')), /not a PyTorch file/);
    assert.throws(() => readStateDict(makeZip([['weights/x.bin', new Uint8Array(4)]])), /zip archive has no <name>\/data\.pkl/);
    const list = new PickleWriter().proto(2).raw(0x5d).stop().bytes();
    assert.throws(() => readStateDict(torchZip(list, {})), /holds a list, not a state_dict/);
    const ckpt = new PickleWriter().proto(2).emptyDict().mark().str('epoch').int(3).setitems().stop().bytes();
    assert.throws(() => readStateDict(torchZip(ckpt, {})), /entry "epoch" is an int, not a tensor \(a checkpoint dict's state_dict is found under state_dict, model_state_dict, model\)/);
  });

  test('fuzzed torch zips are read or refused with the loaders\' errors, nothing else', () => {
    const { file } = handBuiltMlp();
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(file.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.nat(file.length), (flips, cut) => {
        const b = file.slice(0, Math.max(cut, file.length - 40));
        for (const [at, v] of flips) if (at < b.length) b[at] = v;
        try {
          mapStateDict(readStateDict(b, { source: 'fuzz.pt' }), MLP);
        } catch (e) {
          if (!(e instanceof TorchImportError || e instanceof ZipError || e instanceof SafetensorsError)) throw e;
        }
      }),
      { numRuns: 300, seed: 11 },
    );
  });
});

describe('mapping onto srigl architectures', () => {
  test('shape, missing, unexpected, non-binary and ambiguous masks are errors naming the tensor', () => {
    const map = (b: Uint8Array, opts: ImportOptions = MLP): unknown => mapStateDict(readStateDict(b, { source: 'm.safetensors' }), { ...opts, source: 'm.safetensors' });
    assert.throws(() => map(smallMlp({ 'fc2.weight': { shape: [2, 4], data: new Array(8).fill(1) } })), /m\.safetensors: tensor "fc2\.weight" has shape \[2, 4\], expected \[2, 3\] for srigl's "fc2\.weight"/);
    assert.throws(() => map(smallMlp({ 'fc9.weight': { shape: [1], data: [1] } })), /unexpected tensor for srigl's mlp: "fc9\.weight"/);
    assert.throws(() => map(smallMlp({ 'fc1.weight_mask': { shape: [3, 4], data: [1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1] } })), /tensor "fc1\.weight_mask" holds 2 at element 2; a mask holds 0 and 1 only/);
    const ones = { shape: [3, 4], data: new Array(12).fill(1) };
    assert.throws(() => map(smallMlp({ 'fc1.weight_mask': ones, 'fc1.mask': ones })), /"fc1\.weight" has 2 masks \(fc1\.weight_mask, fc1\.mask\); keep one/);
    assert.throws(() => map(smallMlp(), { arch: 'cnn' }), /no "conv1\.weight": not a cnn state_dict in srigl's names/);
    assert.throws(() => map(smallMlp(), { arch: 'mlp', inputShape: [1, 2, 3] }), /tensor "fc1\.weight" has shape \[3, 4\], expected \[3, 6\]/);
    assert.throws(() => map(smallMlp({ 'fc1.weight_orig': ones })), /both "fc1\.weight" and "fc1\.weight_orig" are present/);
    assert.throws(() => map(safetensorsOf({ 'conv1.weight': { shape: [32, 1, 3, 3], data: new Array(288).fill(0.5) } }), { arch: 'cnn' }), /no "fc2\.weight"/);
  });

  test('wrapper prefixes are removed and a bare nn.Sequential is mapped in order', () => {
    const prefixed = mapStateDict(readStateDict(smallMlp({}, ['module.fc1', 'module.fc2'])), MLP);
    assert.equal(prefixed.prefix, 'module.');
    assertClose(prefixed.tensors.get('fc2.weight')!, [1, 2, 3, 4, 5, 6], 'fc2.weight');
    const seq = mapStateDict(readStateDict(smallMlp({}, ['1', '3'])), MLP);
    assert.equal(seq.naming, 'sequential');
    assert.deepEqual(seq.spec, { arch: 'mlp', inputShape: [1, 1, 4], classes: 2, hidden: [3] });
    assertClose(seq.tensors.get('fc1.weight')!, [1, 0, 2, 0, 0, 3, 0, 4, 5, 6, 0, 0], 'fc1.weight');
  });

  test('masks from exact zeros: constant fan-in, ablated neurons; --no-zero-masks keeps layers dense', () => {
    const rng = new Rng(3);
    const mask = constantFanInMask(6, 8, 3, rng);
    mask.fill(0, 8, 16); // neuron 1 ablated
    const w = Array.from(mask, (m) => (m ? 0.5 + rng.uniform() : 0));
    const file = safetensorsOf({
      'fc1.weight': { shape: [6, 8], data: w }, 'fc1.bias': { shape: [6], data: [1, 0, 1, 1, 1, 1] },
      'fc2.weight': { shape: [3, 6], data: new Array(18).fill(1) }, 'fc2.bias': { shape: [3], data: [0, 0, 0] },
    });
    const imported = mapStateDict(readStateDict(file), MLP);
    const fc1 = imported.layers[0];
    assert.equal(fc1.mask, 'zeros');
    assert.equal(fc1.k, 3);
    assert.deepEqual(fc1.ablated, [1]);
    assert.equal(fc1.nnz, 15);
    assert.deepEqual([...imported.masks.get('fc1.weight')!], [...mask]);
    assert.equal(imported.layers[1].k, 6);
    const dense = mapStateDict(readStateDict(file), { ...MLP, zeroMasks: false });
    assert.equal(dense.masks.size, 0);
    assert.equal(dense.layers[0].mask, 'none');
  });

  test("srigl's own masked model file imports back to the same tensors and masks (the names are srigl's)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'srigl-import-'));
    const engine = await createEngine({ backend: 'reference' });
    try {
      for (const spec of [
        { arch: 'cnn' as const, inputShape: [1, 8, 8] as [number, number, number], classes: 3 },
        { arch: 'resnet' as const, inputShape: [2, 8, 8] as [number, number, number], classes: 4 },
      ]) {
        const model = new Model(engine, spec, { maxBatch: 1, seed: 2 });
        const rng = new Rng(4);
        for (const l of model.sparsifiable().slice(1)) l.weight.setMask(constantFanInMask(l.out, l.fanIn, Math.max(1, Math.floor(l.fanIn / 4)), rng));
        const path = join(dir, `${spec.arch}.safetensors`);
        saveModel(path, model);
        const { imported } = importStateDict(path, { arch: spec.arch, inputShape: spec.inputShape });
        assert.deepEqual(imported.spec, spec);
        for (const t of model.stateTensors()) assertClose(imported.tensors.get(t.name)!, Array.from(t.data), t.name);
        for (const p of model.parameters()) {
          const m = p.denseMask();
          if (p.name.endsWith('.weight') && m !== null) assert.deepEqual([...imported.masks.get(p.name)!], [...m], p.name);
        }
        assert.ok(imported.layers.slice(1).every((l) => l.k !== null && l.mask === 'entry'), `${spec.arch}: every masked layer has constant fan-in`);
      }
    } finally {
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a timm-style vit: fused qkv split into q, k, v; cls_token and pos_embed squeezed; structure inferred", () => {
    const D = 8, T = 5, hidden = 12;
    const rng = new Rng(9);
    const r = (n: number): number[] => Array.from({ length: n }, () => rng.normal());
    const t: Record<string, { shape: number[]; data: number[] }> = {
      'patch_embed.proj.weight': { shape: [D, 1, 2, 2], data: r(D * 4) }, 'patch_embed.proj.bias': { shape: [D], data: r(D) },
      cls_token: { shape: [1, 1, D], data: r(D) }, pos_embed: { shape: [1, T, D], data: r(T * D) },
      'norm.weight': { shape: [D], data: r(D) }, 'norm.bias': { shape: [D], data: r(D) },
      'head.weight': { shape: [3, D], data: r(3 * D) }, 'head.bias': { shape: [3], data: r(3) },
    };
    const b = 'blocks.0';
    Object.assign(t, {
      [`${b}.norm1.weight`]: { shape: [D], data: r(D) }, [`${b}.norm1.bias`]: { shape: [D], data: r(D) },
      [`${b}.attn.qkv.weight`]: { shape: [3 * D, D], data: r(3 * D * D) }, [`${b}.attn.qkv.bias`]: { shape: [3 * D], data: r(3 * D) },
      [`${b}.attn.proj.weight`]: { shape: [D, D], data: r(D * D) }, [`${b}.attn.proj.bias`]: { shape: [D], data: r(D) },
      [`${b}.norm2.weight`]: { shape: [D], data: r(D) }, [`${b}.norm2.bias`]: { shape: [D], data: r(D) },
      [`${b}.mlp.fc1.weight`]: { shape: [hidden, D], data: r(hidden * D) }, [`${b}.mlp.fc1.bias`]: { shape: [hidden], data: r(hidden) },
      [`${b}.mlp.fc2.weight`]: { shape: [D, hidden], data: r(D * hidden) }, [`${b}.mlp.fc2.bias`]: { shape: [D], data: r(D) },
    });
    const imported = mapStateDict(readStateDict(safetensorsOf(t)), { arch: 'vit', heads: 2 });
    assert.deepEqual(imported.spec, { arch: 'vit', inputShape: [1, 4, 4], classes: 3, patch: 2, dim: D, depth: 1, heads: 2, mlpRatio: 1.5 });
    const qkv = t[`${b}.attn.qkv.weight`].data;
    ['q', 'k', 'v'].forEach((n, i) => {
      assertClose(imported.tensors.get(`${b}.attn.${n}.weight`)!, qkv.slice(i * D * D, (i + 1) * D * D).map(Math.fround), `${n}.weight`);
      assertClose(imported.tensors.get(`${b}.attn.${n}.bias`)!, t[`${b}.attn.qkv.bias`].data.slice(i * D, (i + 1) * D).map(Math.fround), `${n}.bias`);
    });
    assertClose(imported.tensors.get('pos_embed')!, t.pos_embed.data.map(Math.fround), 'pos_embed');
  });
});

/**
 * The cross-check with PyTorch: Debian's python3-torch saves state_dicts of mlp, cnn, resnet and
 * vit modules (srigl's names), with torch.nn.utils.prune masks, constant-fan-in zeros, ablated
 * neurons, mixed dtypes, non-contiguous views, the legacy format, a DataParallel prefix, an
 * nn.Sequential and a checkpoint dict, and computes their logits on random inputs; srigl imports
 * each file and must compute the same logits within 1e-4.
 */
const TORCH_SCRIPT = String.raw`
import json, sys, torch, torch.nn as nn, torch.nn.functional as F
import torch.nn.utils.prune as prune
out = sys.argv[1]
torch.manual_seed(0)

def cfi(w, k, ablate=()):
    flat = w.detach().reshape(w.shape[0], -1)
    m = torch.zeros_like(flat)
    m.scatter_(1, flat.abs().topk(k, dim=1).indices, 1.0)
    for r in ablate: m[r] = 0
    return m.reshape(w.shape)

class MLP(nn.Module):
    def __init__(s, i, hidden, c):
        super().__init__()
        widths = [i] + hidden + [c]
        for n in range(len(widths) - 1): setattr(s, 'fc%d' % (n + 1), nn.Linear(widths[n], widths[n + 1]))
        s.n = len(widths) - 1
    def forward(s, x):
        x = x.flatten(1)
        for n in range(1, s.n + 1):
            x = getattr(s, 'fc%d' % n)(x)
            if n < s.n: x = F.relu(x)
        return x

class CNN(nn.Module):
    def __init__(s, c, hw, classes):
        super().__init__()
        s.conv1 = nn.Conv2d(c, 32, 3, padding=1); s.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        s.fc1 = nn.Linear(64 * (hw // 4) ** 2, 256); s.fc2 = nn.Linear(256, classes)
    def forward(s, x):
        x = F.max_pool2d(F.relu(s.conv1(x)), 2); x = F.max_pool2d(F.relu(s.conv2(x)), 2)
        return s.fc2(F.relu(s.fc1(x.flatten(1))))

class Block(nn.Module):
    def __init__(s, cin, cout, stride):
        super().__init__()
        s.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False); s.bn1 = nn.BatchNorm2d(cout)
        s.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False); s.bn2 = nn.BatchNorm2d(cout)
        s.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) if stride != 1 or cin != cout else None
    def forward(s, x):
        y = s.bn2(s.conv2(F.relu(s.bn1(s.conv1(x)))))
        return F.relu(y + (x if s.downsample is None else s.downsample(x)))

class ResNet(nn.Module):
    def __init__(s, c, classes):
        super().__init__()
        s.conv1 = nn.Conv2d(c, 16, 3, 1, 1, bias=False); s.bn1 = nn.BatchNorm2d(16)
        cin = 16
        for i, w in enumerate([16, 32, 64]):
            blocks = []
            for b in range(3):
                blocks.append(Block(cin, w, 2 if i > 0 and b == 0 else 1)); cin = w
            setattr(s, 'layer%d' % (i + 1), nn.Sequential(*blocks))
        s.fc = nn.Linear(64, classes)
    def forward(s, x):
        x = F.relu(s.bn1(s.conv1(x)))
        x = s.layer3(s.layer2(s.layer1(x)))
        return s.fc(x.mean((2, 3)))

class Attn(nn.Module):
    def __init__(s, d, heads):
        super().__init__(); s.h = heads; s.qkv = nn.Linear(d, 3 * d); s.proj = nn.Linear(d, d)
    def forward(s, x):
        B, T, D = x.shape
        q, k, v = s.qkv(x).reshape(B, T, 3, s.h, D // s.h).permute(2, 0, 3, 1, 4)
        a = (q @ k.transpose(-2, -1) / (D // s.h) ** 0.5).softmax(-1)
        return s.proj((a @ v).transpose(1, 2).reshape(B, T, D))

class Mlp(nn.Module):
    def __init__(s, d, h):
        super().__init__(); s.fc1 = nn.Linear(d, h); s.fc2 = nn.Linear(h, d)
    def forward(s, x): return s.fc2(F.gelu(s.fc1(x)))

class VBlock(nn.Module):
    def __init__(s, d, heads, h):
        super().__init__(); s.norm1 = nn.LayerNorm(d); s.attn = Attn(d, heads); s.norm2 = nn.LayerNorm(d); s.mlp = Mlp(d, h)
    def forward(s, x):
        x = x + s.attn(s.norm1(x))
        return x + s.mlp(s.norm2(x))

class PatchEmbed(nn.Module):
    def __init__(s, c, d, p):
        super().__init__(); s.proj = nn.Conv2d(c, d, p, p)
    def forward(s, x): return s.proj(x).flatten(2).transpose(1, 2)

class ViT(nn.Module):
    def __init__(s, c, hw, p, d, depth, heads, h, classes):
        super().__init__()
        s.patch_embed = PatchEmbed(c, d, p)
        s.cls_token = nn.Parameter(torch.randn(1, 1, d) * 0.5)
        s.pos_embed = nn.Parameter(torch.randn(1, (hw // p) ** 2 + 1, d) * 0.5)
        s.blocks = nn.Sequential(*[VBlock(d, heads, h) for _ in range(depth)])
        s.norm = nn.LayerNorm(d); s.head = nn.Linear(d, classes)
    def forward(s, x):
        x = s.patch_embed(x)
        x = torch.cat([s.cls_token.expand(x.shape[0], -1, -1), x], 1) + s.pos_embed
        return s.head(s.norm(s.blocks(x))[:, 0])

def randomize_bn(m):
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5); mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5); mod.bias.data.uniform_(-0.3, 0.3)
            mod.num_batches_tracked += 7

cases = {}
def case(name, model, shape, state, path, n=3, **expect):
    model.eval()
    x = torch.randn(n, *shape)
    with torch.no_grad(): logits = model(x)
    torch.save(state, out + '/' + path, **expect.pop('save', {}))
    cases[name] = dict(file=path, x=x.reshape(-1).tolist(), logits=logits.reshape(-1).tolist(), n=n, **expect)

# mlp with torch.nn.utils.prune masks (weight_orig + weight_mask)
m = MLP(784, [300, 100], 10)
prune.l1_unstructured(m.fc1, 'weight', amount=0.8); prune.random_unstructured(m.fc2, 'weight', amount=0.5)
case('mlp-prune', m, (1, 28, 28), m.state_dict(), 'mlp_prune.pt', layers={'fc1': [int(m.fc1.weight_mask.sum()), None], 'fc2': [int(m.fc2.weight_mask.sum()), None], 'fc3': [1000, 100]})

# mlp with constant fan-in in the weights' zeros, two ablated neurons; legacy format, DataParallel prefix
m = MLP(784, [64, 32], 10)
with torch.no_grad():
    m.fc1.weight.mul_(cfi(m.fc1.weight, 20, ablate=(3, 10))); m.fc1.bias[3] = 0; m.fc1.bias[10] = 0
    m.fc2.weight.mul_(cfi(m.fc2.weight, 8))
sd = {'module.' + k: v for k, v in m.state_dict().items()}
case('mlp-cfi', m, (1, 28, 28), sd, 'mlp_cfi.pth', save={'_use_new_zipfile_serialization': False}, layers={'fc1': [62 * 20, 20], 'fc2': [32 * 8, 8], 'fc3': [320, 32]}, ablated={'fc1': [3, 10]})

# a bare nn.Sequential whose tensors are a transposed view, an offset view, float64, float16 and bfloat16
seq = nn.Sequential(nn.Flatten(), nn.Linear(36, 20), nn.ReLU(), nn.Linear(20, 12), nn.ReLU(), nn.Linear(12, 4))
with torch.no_grad():
    seq[3].weight.copy_(seq[3].weight.half().float()); seq[5].weight.copy_(seq[5].weight.bfloat16().float())
sd = seq.state_dict()
sd['1.weight'] = seq[1].weight.detach().t().contiguous().t()
sd['1.bias'] = torch.cat([torch.ones(5), seq[1].bias.detach()])[5:]
sd['3.weight'] = seq[3].weight.detach().half(); sd['3.bias'] = seq[3].bias.detach().double()
sd['5.weight'] = seq[5].weight.detach().bfloat16()
assert not sd['1.weight'].is_contiguous() and sd['1.bias'].storage_offset() == 5
case('mlp-views', seq, (1, 6, 6), sd, 'mlp_views.pt', input_shape=[1, 6, 6])

# cnn: a pruned conv2 and a constant-fan-in fc1 through prune.custom_from_mask
m = CNN(1, 28, 10)
prune.l1_unstructured(m.conv2, 'weight', amount=0.7)
prune.custom_from_mask(m.fc1, 'weight', cfi(m.fc1.weight, 100))
case('cnn', m, (1, 28, 28), m.state_dict(), 'cnn.pt', layers={'conv1': [288, 9], 'conv2': [int(m.conv2.weight_mask.sum()), None], 'fc1': [25600, 100], 'fc2': [2560, 256]})

# resnet on 3×16×16 with BN statistics, constant fan-in in every conv but the stem, saved inside a checkpoint dict
m = ResNet(3, 7)
randomize_bn(m)
with torch.no_grad():
    for name, mod in m.named_modules():
        if isinstance(mod, nn.Conv2d) and name != 'conv1':
            mod.weight.mul_(cfi(mod.weight, max(1, mod.weight[0].numel() // 5)))
case('resnet', m, (3, 16, 16), {'epoch': 3, 'state_dict': m.state_dict()}, 'resnet.pt', input_shape=[3, 16, 16], constant=True)

# vit, timm names: fused qkv with a prune mask on block 0
m = ViT(1, 28, 7, 16, 2, 2, 32, 5)
prune.l1_unstructured(m.blocks[0].attn.qkv, 'weight', amount=0.5)
case('vit', m, (1, 28, 28), m.state_dict(), 'vit.pt', heads=2)

json.dump(cases, open(out + '/cases.json', 'w'))
`;

interface TorchCase {
  file: string;
  x: number[];
  logits: number[];
  n: number;
  input_shape?: [number, number, number];
  heads?: number;
  /** Per layer: [nnz, k or null]. */
  layers?: Record<string, [number, number | null]>;
  ablated?: Record<string, number[]>;
  constant?: boolean;
}

const ARCH_OF: Record<string, ImportOptions['arch']> = { 'mlp-prune': 'mlp', 'mlp-cfi': 'mlp', 'mlp-views': 'mlp', cnn: 'cnn', resnet: 'resnet', vit: 'vit' };

test('state_dicts saved by PyTorch import with the same logits (mlp, cnn, resnet, vit; masks, dtypes, views, legacy format)', async (t) => {
  const missing = torchUnavailable();
  if (missing !== null) return t.skip(missing);
  const dir = mkdtempSync(join(tmpdir(), 'srigl-torch-import-'));
  const engine = await createEngine({ backend: 'reference' });
  try {
    runPython(TORCH_SCRIPT, [dir]);
    const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as Record<string, TorchCase>;
    assert.deepEqual(Object.keys(cases).sort(), Object.keys(ARCH_OF).sort());
    for (const [name, c] of Object.entries(cases)) {
      const { stateDict, imported } = importStateDict(join(dir, c.file), { arch: ARCH_OF[name], inputShape: c.input_shape, heads: c.heads });
      assert.equal(stateDict.format, name === 'mlp-cfi' ? 'torch-legacy' : 'torch-zip', name);
      for (const [layer, [nnz, k]] of Object.entries(c.layers ?? {})) {
        const l = imported.layers.find((x) => x.name === layer);
        assert.ok(l, `${name}: layer ${layer}`);
        assert.equal(l.nnz, nnz, `${name} ${layer} nnz`);
        assert.equal(l.k, k, `${name} ${layer} k`);
      }
      for (const [layer, rows] of Object.entries(c.ablated ?? {})) assert.deepEqual(imported.layers.find((x) => x.name === layer)?.ablated, rows, `${name} ${layer} ablated`);
      if (c.constant) assert.ok(imported.layers.slice(1, -1).every((l) => l.k !== null && l.mask === 'zeros'), `${name}: constant fan-in from zeros in every conv but the stem`);
      const model = buildImportedModel(engine, imported, { maxBatch: c.n });
      model.inputs.set(c.x);
      model.forward(c.n, false);
      const ours = model.logits(c.n);
      assert.equal(ours.length, c.logits.length, `${name}: logits`);
      let worst = 0;
      for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - c.logits[i]));
      assert.ok(worst < 1e-4, `${name}: largest logit difference ${worst} (torch vs srigl)`);
      t.diagnostic(`${name}: largest logit difference ${worst.toExponential(2)}`);
    }
    const ckpt = importStateDict(join(dir, 'resnet.pt'), { arch: 'resnet', inputShape: [3, 16, 16] });
    assert.equal(ckpt.stateDict.key, 'state_dict');
    assert.equal(ckpt.imported.ignored.length, 1 + 9 * 2 + 2, 'every BatchNorm num_batches_tracked ignored');
    const prefixed = importStateDict(join(dir, 'mlp_cfi.pth'), { arch: 'mlp' });
    assert.equal(prefixed.imported.prefix, 'module.');
    // The legacy format cut anywhere: refused with the importer's own error.
    const legacy = readFileSync(join(dir, 'mlp_cfi.pth'));
    for (const n of [3, 20, 200, 2000, legacy.length - 100, legacy.length - 1]) {
      assert.throws(() => mapStateDict(readStateDict(legacy.subarray(0, n), { source: 'cut.pth' }), MLP), (e: Error) => e instanceof TorchImportError && e.message.startsWith('cut.pth: '), `legacy cut at ${n}`);
    }
    assert.equal(importStateDict(join(dir, 'mlp_views.pt'), { arch: 'mlp', inputShape: [1, 6, 6] }).imported.naming, 'sequential');
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
