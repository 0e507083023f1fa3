import { resolve } from 'node:path';
import { datasetSpec, type DatasetName } from '../data/datasets.js';
import { loadSplit, type DataSource } from '../data/locate.js';
import { normalizeSplit, type NormalizedSplit } from '../data/normalize.js';
import { parseArgs, UsageError, type OptionSpec, type OptionValue } from './args.js';
import type { CliIo } from './io.js';

/** The parsed command line of a command that takes exactly one file. */
export interface FileCommandArgs {
  options: Map<string, OptionValue>;
  /** The file, resolved against the working directory. */
  path: string;
  /** The working directory relative paths resolve against. */
  cwd: string;
}

/**
 * Parses `<command> FILE [options]`. For --help, prints `help` and returns null (the command
 * then exits 0); anything but exactly one FILE is a usage error that calls it `what`.
 */
export function parseFileCommand(argv: readonly string[], specs: readonly OptionSpec[], command: string, help: string, what: string, io: CliIo): FileCommandArgs | null {
  const args = parseArgs(argv, specs, command);
  if (args.help) {
    io.stdout.write(help);
    return null;
  }
  if (args.positionals.length !== 1) {
    throw new UsageError(`${command}: expected one ${what}, got ${args.positionals.length === 0 ? 'none' : args.positionals.map((p) => `"${p}"`).join(' ')} (see ${command} --help)`);
  }
  const cwd = io.cwd ?? process.cwd();
  return { options: args.options, path: resolve(cwd, args.positionals[0]), cwd };
}

/**
 * Loads the test split for a model file: the dataset is --dataset or else the one the file
 * records (none is a usage error), the files come from --data or the usual places, and
 * --limit-test keeps the first N examples.
 */
export async function loadTestSplitFor(
  command: string,
  path: string,
  recorded: string | undefined,
  { options: o, cwd }: Pick<FileCommandArgs, 'options' | 'cwd'>,
): Promise<{ dataset: string; source: DataSource; test: NormalizedSplit }> {
  const dataset = (o.get('dataset') as string | undefined) ?? recorded;
  if (dataset === undefined) throw new UsageError(`${command}: ${path} records no dataset; pass --dataset`);
  datasetSpec(dataset);
  const { source, data } = await loadSplit(dataset as DatasetName, 'test', { dir: o.has('data') ? resolve(cwd, o.get('data') as string) : undefined });
  return { dataset, source, test: limitSplit(normalizeSplit(data), o.get('limit-test') as number | undefined) };
}

/** The first N examples of a split (views, no copy). */
export function limitSplit(s: NormalizedSplit, n: number | undefined): NormalizedSplit {
  if (n === undefined || n >= s.n) return s;
  return { ...s, n, x: s.x.subarray(0, n * s.features), labels: s.labels.subarray(0, n) };
}
