import { availableParallelism } from 'node:os';
import { DATASET_NAMES } from '../../data/datasets.js';
import { loadModel } from '../../io/model.js';
import { createEngine, type BackendName } from '../../kernels/engine.js';
import { evaluate } from '../../train/evaluate.js';
import { formatHelp, type OptionSpec } from '../args.js';
import { loadTestSplitFor, parseFileCommand } from '../common.js';
import { BACKENDS, type CliIo } from '../io.js';

const SPECS: OptionSpec[] = [
  { name: 'dataset', kind: 'enum', values: DATASET_NAMES, help: "Dataset to evaluate on. Default: the one recorded in the model file." },
  { name: 'data', kind: 'string', arg: 'DIR', help: 'Directory holding the dataset files. Default: as for srigl train.' },
  { name: 'batch-size', kind: 'int', arg: 'N', min: 1, help: 'Examples per forward pass. Default 256.' },
  { name: 'limit-test', kind: 'int', arg: 'N', min: 1, help: 'Evaluate on only the first N test examples. Default: all.' },
  { name: 'threads', kind: 'int', arg: 'N', min: 1, help: 'Kernel threads. Default: all cores.' },
  { name: 'backend', kind: 'enum', values: BACKENDS, help: 'Kernel backend. Default auto.' },
  { name: 'json', kind: 'bool', help: 'Print one JSON result on stdout. Default off.' },
];

export const EVAL_HELP = formatHelp('srigl eval MODEL [options]', 'Evaluates a saved model (model.safetensors) on the test split.', SPECS);

export async function evalCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const cmd = parseFileCommand(argv, SPECS, 'srigl eval', EVAL_HELP, 'MODEL file', io);
  if (cmd === null) return 0;
  const { options: o, path } = cmd;
  const batchSize = o.has('batch-size') ? (o.get('batch-size') as number) : 256;
  const engine = await createEngine({
    backend: (o.get('backend') as BackendName | undefined) ?? 'auto',
    threads: (o.get('threads') as number | undefined) ?? availableParallelism(),
  });
  try {
    const { model, info } = loadModel(engine, path, { maxBatch: batchSize });
    const { dataset, source, test } = await loadTestSplitFor('srigl eval', path, info.dataset, cmd);
    const t0 = performance.now();
    const r = evaluate(model, test);
    const seconds = (performance.now() - t0) / 1000;
    const result = { command: 'eval', model: path, arch: model.spec.arch, dataset, source: source.kind, n: r.n, accuracy: r.accuracy, loss: r.loss, seconds };
    if (o.get('json') === true) {
      io.stdout.write(JSON.stringify(result) + '\n');
    } else {
      io.stdout.write(`${model.spec.arch} on ${dataset} test (${source.kind} copy, ${r.n} examples): accuracy ${(100 * r.accuracy).toFixed(2)}%, loss ${r.loss.toFixed(4)} (${seconds.toFixed(1)}s)\n`);
    }
    return 0;
  } finally {
    await engine.close();
  }
}
