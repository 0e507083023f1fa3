/**
 * End-to-end condensed inference: for each trained (masked) model file, the masked dense model's
 * eval forward (engine GEMMs) against the condensed model (`condenseModel` + `CondensedModel`),
 * both on one thread, and the condensed model on a 2-thread engine (rows of large layers split
 * over the pool); methods interleaved round by round, medians after warm-up; plus file sizes
 * and test accuracy of both on the same examples.
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/e2e.ts MODEL.safetensors [MODEL ...] [--out bench/results/inference-e2e]
 */
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSplit } from '../src/data/locate.js';
import { normalizeSplit } from '../src/data/normalize.js';
import type { DatasetName } from '../src/data/datasets.js';
import { loadModel } from '../src/io/model.js';
import { readCondensed, saveCondensed } from '../src/io/condensed-file.js';
import { createEngine } from '../src/kernels/engine.js';
import { CondensedModel, condenseModel } from '../src/sparse/condensed/model.js';
import { interleaved } from '../src/cli/timing.js';

const BATCHES = [1, 16, 64, 256];

function argmaxAccuracy(logits: Float32Array, labels: ArrayLike<number>, n: number, classes: number): number {
  let correct = 0;
  for (let b = 0; b < n; b++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[b * classes + c] > logits[b * classes + best]) best = c;
    if (best === labels[b]) correct++;
  }
  return correct / n;
}

interface E2eRow {
  model: string;
  arch: string;
  layers: string;
  denseFileBytes: number;
  denseWeightBytes: number;
  condensedFileBytes: number;
  denseAcc: number;
  condensedAcc: number;
  testN: number;
  latency: {
    batch: number; denseUs: number; condensedUs: number; speedup: number; denseMinUs: number; condensedMinUs: number; speedupMin: number;
    condensedX2Us: number; condensedX2MinUs: number;
  }[];
}

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const outBase = outAt >= 0 ? args[outAt + 1] : null;
const files = args.filter((a, i) => !a.startsWith('--') && (outAt < 0 || i !== outAt + 1));
if (files.length === 0) throw new Error('usage: bench/e2e.ts MODEL.safetensors [...] [--out PREFIX]');

const engine = await createEngine({ threads: 1, initialBytes: 256 << 20 });
const engine2 = await createEngine({ threads: 2, initialBytes: 256 << 20 });
const tmp = mkdtempSync(join(tmpdir(), 'srigl-e2e-'));
const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, wasm ${engine.backend}, 1 thread; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`;
console.log(`# ${machine}`);
const rows: E2eRow[] = [];
try {
  for (const file of files) {
    const maxB = Math.max(...BATCHES);
    const { model, info } = loadModel(engine, file, { maxBatch: maxB });
    const { net, report } = condenseModel(model);
    const cfile = join(tmp, 'm.condensed.safetensors');
    saveCondensed(cfile, net);
    const cm = new CondensedModel(engine, readCondensed(cfile).net, { maxBatch: maxB });
    const mark2 = engine2.heap.mark();
    const cm2 = new CondensedModel(engine2, readCondensed(cfile).net, { maxBatch: maxB });
    const { data } = await loadSplit((info.dataset ?? 'fashion-mnist') as DatasetName, 'test');
    const test = normalizeSplit(data);
    const n = Math.min(test.n, 2000);
    const feats = test.features;
    const classes = model.spec.classes;
    const denseLogits = new Float32Array(n * classes);
    for (let s = 0; s < n; s += maxB) {
      const m = Math.min(maxB, n - s);
      model.inputs.set(test.x.subarray(s * feats, (s + m) * feats));
      model.forward(m, false);
      denseLogits.set(model.logits(m), s * classes);
    }
    const condLogits = cm.predict(test.x.subarray(0, n * feats), n);
    const latency = BATCHES.map((B) => {
      const x = test.x.subarray(0, B * feats);
      const med = interleaved({
        dense: () => {
          model.inputs.set(x);
          model.forward(B, false);
          model.logits(B).slice();
        },
        condensed: () => {
          cm.predict(x, B);
        },
        condensedX2: () => {
          cm2.predict(x, B);
        },
      });
      const { dense, condensed, condensedX2 } = med;
      console.log(`${file} batch ${B}: dense ${dense.median.toFixed(1)} µs, condensed ${condensed.median.toFixed(1)} µs (${(dense.median / condensed.median).toFixed(2)}×; minima ${(dense.min / condensed.min).toFixed(2)}×)`);
      return {
        batch: B, denseUs: dense.median, condensedUs: condensed.median, speedup: dense.median / condensed.median,
        denseMinUs: dense.min, condensedMinUs: condensed.min, speedupMin: dense.min / condensed.min,
        condensedX2Us: condensedX2.median, condensedX2MinUs: condensedX2.min,
      };
    });
    rows.push({
      model: file, arch: model.spec.arch,
      layers: report.map((r) => `${r.name} ${r.nActive}/${r.out}×k${r.k}${r.masked ? '' : ' dense'}`).join(', '),
      denseFileBytes: statSync(file).size,
      denseWeightBytes: model.parameters().reduce((a, p) => a + p.size * 4, 0),
      condensedFileBytes: statSync(cfile).size,
      denseAcc: argmaxAccuracy(denseLogits, test.labels, n, classes), condensedAcc: argmaxAccuracy(condLogits, test.labels, n, classes), testN: n,
      latency,
    });
    engine2.heap.release(mark2);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
  await engine.close();
  await engine2.close();
}

const md = [
  '# End-to-end condensed inference',
  '',
  `Command: \`node --experimental-wasm-relaxed-simd --import tsx bench/e2e.ts ${files.join(' ')}${outBase ? ` --out ${outBase}` : ''}\``,
  '',
  `Machine: ${machine}.`,
  '',
  'Dense = the masked model\'s eval forward (engine GEMM kernels, batch-major, masked weights stored as dense',
  'zeros); condensed = `condenseModel` → file → `CondensedModel.predict` (input copy-in and logits copy-out',
  'included). µs per call, the two interleaved round by round (15 rounds of ~5 ms): median, and minimum over',
  'rounds (the machine is shared; load only adds time); each round starts with one untimed call. Accuracy on',
  'the first 2000 test examples. The 2-thread column is the same condensed model on an engine with 2 threads:',
  'layers with enough work split over them (batched layers by 16-lane units, batch 1 by rows).',
  '',
  '| model | layers (kept/out × k) | dense file | dense f32 weights | condensed file | accuracy dense / condensed |',
  '|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.arch} ${r.model} | ${r.layers} | ${r.denseFileBytes.toLocaleString('en-US')} B | ${r.denseWeightBytes.toLocaleString('en-US')} B | ${r.condensedFileBytes.toLocaleString('en-US')} B (${(r.denseWeightBytes / r.condensedFileBytes).toFixed(1)}× smaller than f32 weights) | ${(100 * r.denseAcc).toFixed(2)}% / ${(100 * r.condensedAcc).toFixed(2)}% (n=${r.testN}) |`),
  '',
  '| model | batch | dense µs (median / min) | condensed µs (median / min) | speedup (medians / minima) | condensed, 2-thread engine µs (median / min) |',
  '|---|---|---|---|---|---|',
  ...rows.flatMap((r) => r.latency.map((l) => `| ${r.arch} ${r.model} | ${l.batch} | ${l.denseUs.toFixed(1)} / ${l.denseMinUs.toFixed(1)} | ${l.condensedUs.toFixed(1)} / ${l.condensedMinUs.toFixed(1)} | ${l.speedup.toFixed(2)}× / ${l.speedupMin.toFixed(2)}× | ${l.condensedX2Us.toFixed(1)} / ${l.condensedX2MinUs.toFixed(1)} |`)),
  '',
  '## How the models were made',
  '',
  '`sh bench/e2e-models.sh` trains them into runs/e2e/ (not committed) with the CLI: short runs, since this',
  'benchmark measures latency and size and checks that the condensed model predicts what the masked dense',
  'one does (accuracy is the sweep\'s job, accuracy.md):',
  '',
  '```sh',
  'srigl train --method srigl --sparsity 0.9  --epochs 3 --delta-t 20                   # mlp-srigl90',
  'srigl train --method srigl --sparsity 0.95 --gamma-sal 0.9 --epochs 3 --delta-t 20   # mlp-srigl95-gsal0.9',
  'srigl train --method srigl --sparsity 0.99 --epochs 3 --delta-t 20                   # mlp-srigl99',
  'srigl train --model cnn --method srigl --sparsity 0.9 --epochs 1 --delta-t 50        # cnn-srigl90',
  '```',
  '',
  '## Notes',
  '',
  '- With the default γ_sal = 0.3 these short runs ablate no neuron, so their condensed layers keep every',
  '  neuron (the file shrinks by the sparsity alone). γ_sal = 0.9 at 95% ablates hard (fc1 keeps 41 of 300',
  '  neurons), so fc2 reads only 41 inputs and the model is 16× smaller than its f32 weights.',
  '- "dense file" holds the masked dense weights plus U8 masks; "dense f32 weights" is what a dense float',
  '  model needs. The condensed file adds u16 indices and u32 active maps to the kept values.',
  '- CNN: the first conv stays dense (`--dense-first` default for convs; stored with k = 9 = its fan-in) and',
  '  the two max-pools are engine kernels shared with the dense model, which caps the end-to-end speedup',
  '  below the per-layer speedups of conv2 and fc1 (inference.md).',
  '',
].join('\n');
console.log(md);
if (outBase) {
  writeFileSync(`${outBase}.md`, md);
  writeFileSync(`${outBase}.json`, JSON.stringify({ machine, date: new Date().toISOString(), rows }, null, 2) + '\n');
}
