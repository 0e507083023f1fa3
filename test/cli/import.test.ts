import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readModelFile } from '../../src/io/validate.js';
import { f32Bytes, PickleWriter, stateDictPickle, torchZip } from '../io/torch-files.js';
import { pythonUnavailable, runPython, torchUnavailable } from '../io/torch-python.js';
import { run, SUBSET, withTempDir } from './harness.js';

describe('srigl import: usage', () => {
  test('--help explains the command; a missing --arch or FILE and bad options exit 2', async () => {
    const h = await run('import', '--help');
    assert.equal(h.code, 0);
    assert.match(h.out, /Usage: srigl import FILE --arch mlp\|cnn\|resnet\|vit/);
    assert.match(h.out, /weights_only=True/);
    assert.match((await run('--help')).out, /import FILE +Import a PyTorch state_dict/);
    const cases: [string[], RegExp][] = [
      [['import', 'm.pt'], /srigl import: --arch is required/],
      [['import', '--arch', 'mlp'], /srigl import: expected one state_dict FILE, got none/],
      [['import', 'm.pt', '--arch', 'rnn'], /--arch expects one of mlp, cnn, resnet, vit, got "rnn"/],
      [['import', 'm.pt', '--arch', 'mlp', '--input-shape', '1,28'], /--input-shape expects three integers C,H,W, got 2/],
      [['import', 'm.pt', '--arch', 'mlp', '--heads', '2'], /--heads applies to --arch vit only/],
      [['import', 'm.safetensors', '--arch', 'mlp', '--out', 'm.safetensors'], /--out must differ from the input file/],
    ];
    for (const [argv, re] of cases) {
      const r = await run(...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err, re);
    }
  });

  test('a missing file and a file that is not a model fail with status 1 and say why', async () => {
    await withTempDir('srigl-import-', async (dir) => {
      const r = await run('import', join(dir, 'nope.pt'), '--arch', 'mlp');
      assert.equal(r.code, 1);
      assert.match(r.err, /^srigl: import: .*nope\.pt: cannot read/);
      writeFileSync(join(dir, 'notes.pt'), 'some text that is not a tensor file');
      const t = await run('import', join(dir, 'notes.pt'), '--arch', 'mlp');
      assert.equal(t.code, 1);
      assert.match(t.err, /notes\.pt: not a PyTorch file/);
    });
  });
});

describe('srigl import: a hand-built file', () => {
  test('a deflate-compressed torch zip imports (the CLI brings the inflater), and the model file records where it came from', async () => {
    await withTempDir('srigl-import-', async (dir) => {
      const specs = [
        { name: 'fc1.weight', storageType: 'FloatStorage', key: '0', numel: 12, offset: 0, shape: [3, 4], stride: [4, 1] },
        { name: 'fc1.bias', storageType: 'FloatStorage', key: '1', numel: 3, offset: 0, shape: [3], stride: [1] },
        { name: 'fc2.weight', storageType: 'FloatStorage', key: '2', numel: 6, offset: 0, shape: [2, 3], stride: [3, 1] },
        { name: 'fc2.bias', storageType: 'FloatStorage', key: '3', numel: 2, offset: 0, shape: [2], stride: [1] },
      ];
      const storages = { 0: f32Bytes([1, 0, 2, 0, 0, 3, 0, 4, 5, 0, 6, 0]), 1: f32Bytes([0, 0, 0]), 2: f32Bytes([1, 2, 3, 4, 5, 6]), 3: f32Bytes([0, 0]) };
      writeFileSync(join(dir, 'tiny.pth'), torchZip(stateDictPickle(specs), storages, true));
      const r = await run('import', join(dir, 'tiny.pth'), '--arch', 'mlp', '--json');
      assert.equal(r.code, 0, r.err);
      const res = JSON.parse(r.out);
      assert.equal(res.out, join(dir, 'tiny.srigl.safetensors'));
      assert.deepEqual(res.spec, { arch: 'mlp', inputShape: [1, 1, 4], classes: 2, hidden: [3] });
      assert.deepEqual(res.layers.map((l: { k: number | null; mask: string }) => [l.k, l.mask]), [[2, 'zeros'], [3, 'none']]);
      const file = readModelFile(res.out);
      assert.deepEqual([...(file.tensors.get('fc1.weight.mask')!.data as Uint8Array)], [1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0]);
      assert.deepEqual(JSON.parse(file.metadata.training).importedFrom, {
        file: 'tiny.pth', format: 'torch-zip', stateDictKey: '', prefix: '', naming: 'named', masks: { fc1: 'zeros', fc2: 'none' },
      });
    });
  });
});

describe('srigl import: hostile files', () => {
  test('a hand-built __reduce__ payload is refused with a clear message and no output file', async () => {
    await withTempDir('srigl-import-', async (dir) => {
      const evil = new PickleWriter().proto(2).global('os', 'system').str('echo pwned').raw(0x85).reduce().stop().bytes();
      writeFileSync(join(dir, 'evil.pt'), torchZip(evil, {}));
      const r = await run('import', join(dir, 'evil.pt'), '--arch', 'mlp', '--out', join(dir, 'out.safetensors'));
      assert.equal(r.code, 1);
      assert.match(r.err, /^srigl: import: .*evil\.pt: archive\/data\.pkl: refused pickle global "os\.system" at byte 2 \(only tensor state_dicts are accepted\)\n$/);
      assert.equal(existsSync(join(dir, 'out.safetensors')), false);
    });
  });

  test("pickles made by Python's own pickle with a __reduce__ payload (protocols 2 and 4) are refused and never run", async (t) => {
    const missing = pythonUnavailable();
    if (missing !== null) return t.skip(missing);
    await withTempDir('srigl-import-', async (dir) => {
      const marker = join(dir, 'pwned');
      runPython(String.raw`
import os, pickle, sys, zipfile
class Evil:
    def __reduce__(self): return (os.system, ('touch ' + sys.argv[2],))
for proto in (2, 4):
    with zipfile.ZipFile(sys.argv[1] + '/evil%d.pt' % proto, 'w') as z:
        z.writestr('evil/data.pkl', pickle.dumps({'fc1.weight': Evil()}, protocol=proto))
        z.writestr('evil/version', '3\n')
`, [dir, marker]);
      for (const proto of [2, 4]) {
        const r = await run('import', join(dir, `evil${proto}.pt`), '--arch', 'mlp');
        assert.equal(r.code, 1, `protocol ${proto}`);
        assert.match(r.err, /evil\/data\.pkl: refused pickle global "posix\.system" at byte \d+ \(only tensor state_dicts are accepted\)/, `protocol ${proto}`);
      }
      assert.equal(existsSync(marker), false, 'the payload ran');
    });
  });
});

/**
 * The whole path with PyTorch: torch trains a small mlp on the embedded Fashion-MNIST subset,
 * gives it constant-fan-in masks with torch.nn.utils.prune (two fc1 neurons ablated, their bias
 * pruned too), fine-tunes, and records its accuracy on the first 200 test images (normalised as
 * srigl does). `srigl import` must report the masks' constant fan-in, `srigl eval` must
 * reproduce torch's accuracy, and `srigl export` + `srigl infer` must reproduce eval's.
 */
const TRAIN_SCRIPT = String.raw`
import gzip, json, struct, sys, torch, torch.nn as nn, torch.nn.functional as F
import torch.nn.utils.prune as prune
data, out = sys.argv[1], sys.argv[2]
def idx(name):
    b = gzip.open(data + '/' + name + '.gz').read()
    dims = b[3]
    shape = struct.unpack('>' + 'I' * dims, b[4:4 + 4 * dims])
    return torch.frombuffer(bytearray(b[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)
norm = lambda x: ((x.double() / 255 - 0.286) / 0.353).float().reshape(-1, 1, 28, 28)
xtr, ytr = norm(idx('train-images-idx3-ubyte')[:3000]), idx('train-labels-idx1-ubyte')[:3000].long()
xte, yte = norm(idx('t10k-images-idx3-ubyte')[:200]), idx('t10k-labels-idx1-ubyte')[:200].long()
torch.manual_seed(0)
class MLP(nn.Module):
    def __init__(s):
        super().__init__(); s.fc1 = nn.Linear(784, 300); s.fc2 = nn.Linear(300, 100); s.fc3 = nn.Linear(100, 10)
    def forward(s, x): return s.fc3(F.relu(s.fc2(F.relu(s.fc1(x.flatten(1))))))
m = MLP()
opt = torch.optim.Adam(m.parameters(), 1e-3)
def epochs(n):
    for _ in range(n):
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), 64):
            j = perm[i:i + 64]
            opt.zero_grad(); F.cross_entropy(m(xtr[j]), ytr[j]).backward(); opt.step()
epochs(2)
def cfi(w, k, ablate=()):
    mask = torch.zeros_like(w)
    mask.scatter_(1, w.detach().abs().topk(k, dim=1).indices, 1.0)
    for r in ablate: mask[r] = 0
    return mask
ablate = (7, 42)
prune.custom_from_mask(m.fc1, 'weight', cfi(m.fc1.weight, 78, ablate))
prune.custom_from_mask(m.fc1, 'bias', torch.tensor([0.0 if r in ablate else 1.0 for r in range(300)]))
prune.custom_from_mask(m.fc2, 'weight', cfi(m.fc2.weight, 30))
epochs(1)
m.eval()
with torch.no_grad(): acc = (m(xte).argmax(1) == yte).double().mean().item()
torch.save(m.state_dict(), out + '/mlp.pt')
torch.save(nn.Linear(2, 2), out + '/module.pt')
b = open(out + '/mlp.pt', 'rb').read()
open(out + '/cut.pt', 'wb').write(b[:len(b) // 2])
print(json.dumps({'accuracy': acc}))
`;

describe('srigl import: with PyTorch', () => {
  test('a torch-trained constant-fan-in mlp: import reports k, eval reproduces torch\'s accuracy, export + infer reproduce eval', async (t) => {
    const missing = torchUnavailable();
    if (missing !== null) return t.skip(missing);
    await withTempDir('srigl-import-torch-', async (dir) => {
      const torchAccuracy = (JSON.parse(runPython(TRAIN_SCRIPT, [SUBSET, dir])) as { accuracy: number }).accuracy;
      const model = join(dir, 'imported.safetensors');
      const r = await run('import', join(dir, 'mlp.pt'), '--arch', 'mlp', '--dataset', 'fashion-mnist', '--out', model, '--json');
      assert.equal(r.code, 0, r.err);
      const res = JSON.parse(r.out);
      assert.equal(res.format, 'torch-zip');
      assert.deepEqual(res.layers.map((l: { name: string; k: number | null; mask: string }) => [l.name, l.k, l.mask]), [['fc1', 78, 'entry'], ['fc2', 30, 'entry'], ['fc3', 100, 'none']]);
      assert.deepEqual(res.layers[0].ablated, [7, 42]);
      assert.equal(res.constantFanIn, true);

      // The file is a srigl model: validated, masks and dataset recorded, the ablated biases 0.
      const file = readModelFile(model);
      assert.equal(file.metadata.dataset, 'fashion-mnist');
      assert.equal(JSON.parse(file.metadata.training).importedFrom.masks.fc1, 'fc1.weight_mask');
      const bias = file.tensors.get('fc1.bias')!.data as Float32Array;
      assert.deepEqual([bias[7], bias[42]], [0, 0]);

      const e = await run('eval', model, '--data', SUBSET, '--limit-test', '200', '--json');
      assert.equal(e.code, 0, e.err);
      const evalAccuracy = JSON.parse(e.out).accuracy as number;
      // The logits agree to ~1e-7, so the predictions are the same up to an exact near-tie.
      assert.ok(Math.abs(evalAccuracy - torchAccuracy) <= 1 / 200, `srigl eval ${evalAccuracy} vs torch ${torchAccuracy}`);
      assert.ok(torchAccuracy > 0.5, `torch's model is trained (accuracy ${torchAccuracy})`);
      t.diagnostic(`accuracy on the first 200 test images: torch ${torchAccuracy}, srigl eval ${evalAccuracy}`);

      const condensed = join(dir, 'imported.condensed.safetensors');
      const x = await run('export', model, '--out', condensed, '--json');
      assert.equal(x.code, 0, x.err);
      const fc1 = JSON.parse(x.out).layers[0];
      assert.deepEqual([fc1.nActive, fc1.k], [298, 78], 'export drops the two ablated neurons');
      const i = await run('infer', condensed, '--data', SUBSET, '--limit-test', '200', '--latency-samples', '3', '--json');
      assert.equal(i.code, 0, i.err);
      assert.ok(Math.abs(JSON.parse(i.out).accuracy - evalAccuracy) <= 1 / 200, `infer ${JSON.parse(i.out).accuracy} vs eval ${evalAccuracy}`);

      const ins = await run('inspect', model, '--json');
      assert.deepEqual(JSON.parse(ins.out).layers.map((l: { k: number | null }) => l.k), [78, 30, 100]);

      const text = await run('import', join(dir, 'mlp.pt'), '--arch', 'mlp', '--out', join(dir, 'again.safetensors'));
      assert.equal(text.code, 0, text.err);
      assert.match(text.out, /fc1 +300×784 +23244 +0\.0988 +k=78 +2 \(7,42\) +fc1\.weight_mask/);
      assert.match(text.out, /no dataset recorded/);
      assert.match(text.out, /constant fan-in holds in every layer/);

      const mod = await run('import', join(dir, 'module.pt'), '--arch', 'mlp');
      assert.equal(mod.code, 1);
      assert.match(mod.err, /refused pickle global "torch\.nn\.modules\.linear\.Linear"/);
      const cut = await run('import', join(dir, 'cut.pt'), '--arch', 'mlp');
      assert.equal(cut.code, 1);
      assert.match(cut.err, /^srigl: import: .*cut\.pt: no zip end-of-central-directory record: the archive is truncated or not a zip file\n$/);
    });
  });
});
