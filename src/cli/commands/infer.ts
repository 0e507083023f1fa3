import { availableParallelism } from 'node:os';
import { DATASET_NAMES } from '../../data/datasets.js';
import { readCondensed } from '../../io/condensed-file.js';
import { createEngine, type BackendName } from '../../kernels/engine.js';
import { CondensedModel } from '../../sparse/condensed/model.js';
import { formatHelp, type OptionSpec } from '../args.js';
import { loadTestSplitFor, parseFileCommand } from '../common.js';
import { BACKENDS, type CliIo } from '../io.js';
import { median } from '../timing.js';

const SPECS: OptionSpec[] = [
  { name: 'dataset', kind: 'enum', values: DATASET_NAMES, help: 'Dataset to evaluate on. Default: the one recorded in the file.' },
  { name: 'data', kind: 'string', arg: 'DIR', help: 'Directory holding the dataset files. Default: as for srigl train.' },
  { name: 'batch-size', kind: 'int', arg: 'N', min: 1, help: 'Examples per predict call. Default 256.' },
  { name: 'limit-test', kind: 'int', arg: 'N', min: 1, help: 'Use only the first N test examples. Default: all.' },
  { name: 'latency-samples', kind: 'int', arg: 'N', min: 1, help: 'Single-example calls timed for the batch-1 latency. Default 200.' },
  { name: 'threads', kind: 'int', arg: 'N', min: 1, help: 'Kernel threads. Default 1.' },
  { name: 'backend', kind: 'enum', values: BACKENDS, help: 'Kernel backend. Default auto.' },
  { name: 'json', kind: 'bool', help: 'Print one JSON result on stdout. Default off.' },
];

export const INFER_HELP = formatHelp(
  'srigl infer FILE [options]',
  'Runs a condensed model (from srigl export) on the test split: accuracy, batch-1 latency and batched throughput.',
  SPECS,
);

export async function inferCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const cmd = parseFileCommand(argv, SPECS, 'srigl infer', INFER_HELP, 'condensed model FILE', io);
  if (cmd === null) return 0;
  const { options: o, path } = cmd;
  const batchSize = o.has('batch-size') ? (o.get('batch-size') as number) : 256;
  const { net, info } = readCondensed(path);
  const { dataset, source, test } = await loadTestSplitFor('srigl infer', path, info.dataset, cmd);
  const engine = await createEngine({
    backend: (o.get('backend') as BackendName | undefined) ?? 'auto',
    threads: Math.min((o.get('threads') as number | undefined) ?? 1, availableParallelism()),
  });
  try {
    const model = new CondensedModel(engine, net, { maxBatch: batchSize });
    if (test.features !== model.inputSize) throw new Error(`${dataset} examples have ${test.features} features, the model takes ${model.inputSize}`);
    const classes = model.classes;
    let correct = 0;
    const batchUs: number[] = [];
    for (let s = 0; s < test.n; s += batchSize) {
      const n = Math.min(batchSize, test.n - s);
      const t0 = performance.now();
      const logits = model.predict(test.x.subarray(s * test.features, (s + n) * test.features), n);
      if (n === batchSize) batchUs.push((performance.now() - t0) * 1e3);
      for (let b = 0; b < n; b++) {
        let best = 0;
        for (let c = 1; c < classes; c++) if (logits[b * classes + c] > logits[b * classes + best]) best = c;
        if (best === test.labels[s + b]) correct++;
      }
    }
    const samples = Math.min((o.get('latency-samples') as number | undefined) ?? 200, test.n);
    const oneUs: number[] = [];
    for (let i = 0; i < samples + 10; i++) {
      const x = test.x.subarray((i % test.n) * test.features, ((i % test.n) + 1) * test.features);
      const t0 = performance.now();
      model.predict(x, 1);
      if (i >= 10) oneUs.push((performance.now() - t0) * 1e3);
    }
    const result = {
      command: 'infer', model: path, arch: net.spec.arch, dataset, source: source.kind, n: test.n, accuracy: test.n > 0 ? correct / test.n : NaN,
      kernels: `${engine.backend} x${engine.threads}`, batch1Us: median(oneUs), batchSize,
      batchUs: batchUs.length ? median(batchUs) : null,
      examplesPerSecond: batchUs.length ? (batchSize / median(batchUs)) * 1e6 : null,
    };
    if (o.get('json') === true) {
      io.stdout.write(JSON.stringify(result) + '\n');
    } else {
      io.stdout.write(
        `${net.spec.arch} (condensed) on ${dataset} test (${source.kind} copy, ${test.n} examples): accuracy ${(100 * result.accuracy).toFixed(2)}%\n` +
          `latency: batch 1 ${result.batch1Us.toFixed(1)} µs (median of ${oneUs.length})` +
          (result.batchUs === null ? '\n' : `; batch ${batchSize} ${(result.batchUs / 1e3).toFixed(2)} ms (${Math.round(result.examplesPerSecond!)} examples/s)\n`),
      );
    }
    return 0;
  } finally {
    await engine.close();
  }
}
