import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveModel } from '../../src/io/model.js';
import { createEngine } from '../../src/kernels/engine.js';
import { Model } from '../../src/nn/models.js';
import { runPython, torchUnavailable } from './torch-python.js';

/**
 * PyTorch reads a saved masked model: Debian's python3-torch (1.13) has no safetensors reader,
 * so the header is parsed with json/struct and each tensor built with torch.frombuffer, then
 * loaded into a torch MLP whose forward pass must match ours. (The plain-Python parse of every
 * dtype is in safetensors.test.ts.)
 */
test('a saved masked MLP loads into torch.nn and computes the same logits', async (t) => {
  const missing = torchUnavailable();
  if (missing !== null) return t.skip(missing);
  const dir = mkdtempSync(join(tmpdir(), 'srigl-torch-'));
  const engine = await createEngine({ backend: 'reference' });
  try {
    const model = new Model(engine, { arch: 'mlp', inputShape: [1, 4, 4], classes: 3 }, { maxBatch: 2, seed: 3 });
    const fc2 = model.sparsifiable()[1];
    fc2.weight.setMask(Uint8Array.from({ length: fc2.weight.size }, (_, i) => (i % 3 === 0 ? 1 : 0)));
    model.inputs.set(Float32Array.from({ length: 32 }, (_, i) => Math.sin(i)));
    model.forward(2, false);
    const ours = Array.from(model.logits(2));
    const path = join(dir, 'm.safetensors');
    saveModel(path, model);
    const script = `
import json, math, struct, sys, torch
b = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', b[:8])
h = json.loads(b[8:8 + n])
meta = h.pop('__metadata__')
dt = {'F32': torch.float32, 'U8': torch.uint8}
t = {k: torch.frombuffer(bytearray(b[8 + n + e['data_offsets'][0]: 8 + n + e['data_offsets'][1]]), dtype=dt[e['dtype']]).reshape(e['shape']) for k, e in h.items()}
assert json.loads(meta['arch'])['arch'] == 'mlp'
assert bool(((t['fc2.weight'] != 0) <= (t['fc2.weight.mask'] == 1)).all())
net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 300), torch.nn.ReLU(), torch.nn.Linear(300, 100), torch.nn.ReLU(), torch.nn.Linear(100, 3))
net.load_state_dict({'1.weight': t['fc1.weight'], '1.bias': t['fc1.bias'], '3.weight': t['fc2.weight'], '3.bias': t['fc2.bias'], '5.weight': t['fc3.weight'], '5.bias': t['fc3.bias']})
x = torch.tensor([math.sin(i) for i in range(32)], dtype=torch.float32).reshape(2, 1, 4, 4)
print(json.dumps(net(x).detach().reshape(-1).tolist()))
`;
    const theirs = JSON.parse(runPython(script, [path])) as number[];
    assert.equal(theirs.length, ours.length);
    for (let i = 0; i < ours.length; i++) assert.ok(Math.abs(theirs[i] - ours[i]) < 1e-4, `logit ${i}: torch ${theirs[i]}, ours ${ours[i]}`);
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
