/**
 * The end of a sparse `srigl train` run: convert the saved (masked) model to the condensed format,
 * write it beside the model, and compare the two in the same run — stored weights, file sizes,
 * test accuracy (the same predictions are expected) and latency at batch 1 and 256 on one thread
 * of our own engine, interleaved, medians after warm-up.
 */
import { statSync } from 'node:fs';
import { readCondensed, saveCondensed } from '../io/condensed-file.js';
import { loadModel } from '../io/model.js';
import { createEngine, type BackendName } from '../kernels/engine.js';
import { condenseModel, CondensedModel, nmLayersOf, type CondensedLayerReport } from '../sparse/condensed/model.js';
import type { Examples } from '../train/evaluate.js';
import { interleaved, machineLine } from './timing.js';

/** Batch sizes the latency is measured at. */
export const COMPARE_BATCHES = [1, 256] as const;

export interface LatencyComparison {
  batch: number;
  /** Median µs per call of the masked model run dense by our engine (its GEMM kernels). */
  denseUs: number;
  /** Median µs per call of the condensed model (input copy-in and logits copy-out included). */
  condensedUs: number;
  /** denseUs / condensedUs. */
  speedup: number;
  denseMinUs: number;
  condensedMinUs: number;
}

/** What `condenseAndCompare` measured; `srigl train --json` carries it as `condensed`. */
export interface CondensedComparison {
  /** The condensed file written. */
  path: string;
  /** Weights of the Linear/Conv2d layers of the dense architecture (out × fan-in, summed). */
  denseWeights: number;
  /** Weight values the condensed file stores (kept neurons × k, padding included). */
  storedWeights: number;
  /** Bytes of model.safetensors (masked dense weights + masks) and of the condensed file. */
  denseFileBytes: number;
  condensedFileBytes: number;
  /** Test accuracy of the trained (masked dense) model and of the condensed one, on the same `n` examples. */
  accuracy: { trained: number; condensed: number; n: number; agree: boolean; differingPredictions: number };
  latency: LatencyComparison[];
  /** Kernels and threads the latency was measured with, timed rounds, and the machine line. */
  kernels: string;
  rounds: number;
  machine: string;
  layers: CondensedLayerReport[];
}

export interface CondenseAndCompareOptions {
  /** The trained model file (from `saveModel`). */
  modelPath: string;
  /** Where to write the condensed file. */
  outPath: string;
  /** The test examples both models are evaluated on. */
  test: Examples;
  /** Kernel backend; the comparison always runs on one thread. Default auto. */
  backend?: BackendName;
  /** Facts recorded in the condensed file. */
  dataset?: string;
  source?: unknown;
  /** Timed rounds per batch size. Default 15. */
  rounds?: number;
}

function argmax(logits: Float32Array, row: number, classes: number): number {
  let best = 0;
  for (let c = 1; c < classes; c++) if (logits[row * classes + c] > logits[row * classes + best]) best = c;
  return best;
}

/** `n` examples of `test` as one batch, cycling through the set when it holds fewer. */
function batchOf(test: Examples, n: number): Float32Array {
  const f = test.features;
  if (n <= test.n) return test.x.subarray(0, n * f);
  const x = new Float32Array(n * f);
  for (let i = 0; i < n; i++) x.set(test.x.subarray((i % test.n) * f, ((i % test.n) + 1) * f), i * f);
  return x;
}

/**
 * Condenses `modelPath` into `outPath` (atomic write), reads the file back (validated) and
 * compares it with the masked dense model on a fresh one-thread engine.
 */
export async function condenseAndCompare(opts: CondenseAndCompareOptions): Promise<CondensedComparison> {
  const { test } = opts;
  if (test.n < 1) throw new Error('condenseAndCompare: no test examples to compare on');
  const maxB = Math.max(...COMPARE_BATCHES);
  const engine = await createEngine({ backend: opts.backend ?? 'auto', threads: 1 });
  try {
    const { model, info } = loadModel(engine, opts.modelPath, { maxBatch: maxB });
    const { net, report } = condenseModel(model, { nm: nmLayersOf(info.sparse) });
    saveCondensed(opts.outPath, net, { dataset: opts.dataset, source: opts.source });
    const condensed = new CondensedModel(engine, readCondensed(opts.outPath).net, { maxBatch: maxB });

    const classes = model.spec.classes;
    const f = test.features;
    let denseCorrect = 0, condensedCorrect = 0, differing = 0;
    for (let s = 0; s < test.n; s += maxB) {
      const n = Math.min(maxB, test.n - s);
      const x = test.x.subarray(s * f, (s + n) * f);
      model.inputs.set(x);
      model.forward(n, false);
      const dense = model.logits(n).slice();
      const cond = condensed.predict(x, n);
      for (let b = 0; b < n; b++) {
        const d = argmax(dense, b, classes), c = argmax(cond, b, classes), label = test.labels[s + b];
        if (d === label) denseCorrect++;
        if (c === label) condensedCorrect++;
        if (d !== c) differing++;
      }
    }

    const rounds = opts.rounds ?? 15;
    const latency = COMPARE_BATCHES.map((B): LatencyComparison => {
      const x = batchOf(test, B);
      const t = interleaved({
        dense: () => {
          model.inputs.set(x);
          model.forward(B, false);
          model.logits(B).slice();
        },
        condensed: () => {
          condensed.predict(x, B);
        },
      }, { rounds });
      return {
        batch: B, denseUs: t.dense.median, condensedUs: t.condensed.median, speedup: t.dense.median / t.condensed.median,
        denseMinUs: t.dense.min, condensedMinUs: t.condensed.min,
      };
    });

    return {
      path: opts.outPath,
      denseWeights: report.reduce((a, r) => a + r.out * r.fanIn, 0),
      storedWeights: report.reduce((a, r) => a + r.nActive * r.k, 0),
      denseFileBytes: statSync(opts.modelPath).size,
      condensedFileBytes: statSync(opts.outPath).size,
      accuracy: {
        trained: denseCorrect / test.n, condensed: condensedCorrect / test.n, n: test.n,
        agree: denseCorrect === condensedCorrect, differingPredictions: differing,
      },
      latency,
      kernels: engine.backend === 'reference' ? 'TypeScript reference kernels, 1 thread' : `wasm ${engine.backend} kernels, 1 thread`,
      rounds,
      machine: machineLine(),
      layers: report,
    };
  } finally {
    await engine.close();
  }
}

const int = (v: number): string => v.toLocaleString('en-US');
const us = (v: number): string => (v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(1)} µs`);

/** The comparison as the few lines a newcomer reads at a glance. */
export function formatComparison(c: CondensedComparison): string {
  const rows: [string, string, string, string][] = [
    ['', 'trained (masked dense)', 'condensed', ''],
    ['weights', int(c.denseWeights), int(c.storedWeights), `${(c.denseWeights / c.storedWeights).toFixed(1)}× fewer`],
    ['file', `${int(c.denseFileBytes)} B`, `${int(c.condensedFileBytes)} B`, `${(c.denseFileBytes / c.condensedFileBytes).toFixed(1)}× smaller`],
    ['test accuracy', `${(100 * c.accuracy.trained).toFixed(2)}%`, `${(100 * c.accuracy.condensed).toFixed(2)}%`,
      c.accuracy.differingPredictions === 0 ? `same predictions on all ${int(c.accuracy.n)} test images` : `${int(c.accuracy.differingPredictions)} of ${int(c.accuracy.n)} predictions differ`],
    ...c.latency.map((l): [string, string, string, string] => [`latency, batch ${l.batch}`, us(l.denseUs), us(l.condensedUs), `${l.speedup.toFixed(1)}× faster`]),
  ];
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => `  ${r[0].padEnd(w[0])}  ${r[1].padStart(w[1])}  ${r[2].padStart(w[2])}  ${r[3]}`.trimEnd());
  return [
    `condensed model: ${c.path}`,
    ...lines,
    `  (latency: our ${c.kernels}, median of ${c.rounds} interleaved rounds after warm-up; ${c.machine})`,
  ].join('\n');
}
