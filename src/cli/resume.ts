/**
 * `srigl train --resume DIR`: the checkpoint records the command line that started the run, so
 * a resumed run re-parses exactly those options (sparse ones included) and only operational
 * options may be given again. Checkpoints go into the run directory every `--checkpoint-every`
 * steps; the newest `--keep-checkpoints` are kept.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BatchIterator } from '../data/batches.js';
import { latestCheckpoint, writeCheckpoint, type LoadedCheckpoint } from '../io/checkpoint.js';
import type { Model } from '../nn/models.js';
import { captureTrainState, restoreTrainState, type LoopPosition } from '../train/checkpoint.js';
import type { Optimizer } from '../train/optimizer.js';
import { parseArgs, UsageError, type OptionSpec, type ParsedArgs } from './args.js';

export const RESUME_SPECS: OptionSpec[] = [
  { name: 'resume', kind: 'string', arg: 'DIR', help: 'Continue the run in DIR from its latest checkpoint, bit-identically, with its recorded options (only --threads, --backend, --data, --quiet, --json and the checkpoint options may be given). Default: a new run.' },
  { name: 'checkpoint-every', kind: 'int', arg: 'N', min: 0, help: 'Write a checkpoint (model, optimizer, sparse state, RNG, data position) to the output directory every N steps and at the end; 0 disables. Default: once per epoch.' },
  { name: 'keep-checkpoints', kind: 'int', arg: 'N', min: 1, help: 'Checkpoints kept (the newest). Default 3.' },
];

/** Options that may differ in a resumed run without changing what it computes. */
const OPERATIONAL = new Set(['resume', 'threads', 'backend', 'data', 'quiet', 'json', 'checkpoint-every', 'keep-checkpoints']);

/** What a run records in its checkpoints to be resumed. */
interface RunRecord {
  argv: string[];
  cwd: string;
}

/** `argv` without the given value-taking options (both `--name value` and `--name=value`). */
function without(argv: readonly string[], names: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (names.some((n) => a === `--${n}`)) {
      i++;
      continue;
    }
    if (names.some((n) => a.startsWith(`--${n}=`))) continue;
    out.push(a);
  }
  return out;
}

/** The record stored in checkpoints of a run started with `argv` in `cwd` (the output directory is wherever the checkpoint lies). */
export function runRecord(argv: readonly string[], cwd: string): RunRecord {
  return { argv: without(argv, ['resume', 'out']), cwd };
}

/**
 * For `--resume DIR`: loads the latest readable checkpoint in DIR (skipping damaged ones with a
 * warning) and returns the recorded options with the operational ones given now on top, the
 * recorded working directory and DIR as the output directory. Null without `--resume`.
 */
export function resolveResume(args: ParsedArgs, argv: readonly string[], specs: readonly OptionSpec[], cwd: string, warn: (m: string) => void): { args: ParsedArgs; cwd: string; outDir: string; checkpoint: LoadedCheckpoint; run: RunRecord } | null {
  const dirArg = args.options.get('resume');
  if (dirArg === undefined) return null;
  for (const name of args.options.keys()) {
    if (!OPERATIONAL.has(name)) throw new UsageError(`srigl train: --${name} cannot be combined with --resume (a resumed run keeps its recorded options; allowed: ${[...OPERATIONAL].filter((n) => n !== 'resume').map((n) => '--' + n).join(', ')})`);
  }
  const dir = resolve(cwd, dirArg as string);
  if (!existsSync(dir)) throw new UsageError(`srigl train: --resume ${dir}: no such directory`);
  const checkpoint = latestCheckpoint(dir, warn);
  if (checkpoint === null) throw new UsageError(`srigl train: --resume ${dir}: no readable checkpoint (ckpt-<step>.safetensors) there`);
  const run = checkpoint.run as Partial<RunRecord> | undefined;
  if (!Array.isArray(run?.argv) || !run.argv.every((a) => typeof a === 'string') || typeof run.cwd !== 'string') {
    throw new UsageError(`srigl train: ${checkpoint.path} records no command line to resume`);
  }
  const merged = parseArgs([...run.argv, ...without(argv, ['resume'])], specs, 'srigl train');
  merged.options.delete('resume');
  return { args: merged, cwd: run.cwd, outDir: dir, checkpoint, run: { argv: run.argv, cwd: run.cwd } };
}

/** Drops metrics lines of epochs after the checkpoint (a crashed run may have logged epochs it never checkpointed). */
export function trimMetrics(path: string, completedEpochs: number): void {
  trimJsonLines(path, (r) => (r as { epoch?: number }).epoch! <= completedEpochs);
}

/**
 * Drops topology.jsonl lines of updates after the checkpoint, which records how many updates it
 * had applied (a crashed run may have logged updates it never checkpointed; the resumed run makes
 * them again). Creates the file when it is missing, so the resumed run's updates are logged.
 */
export function trimTopology(path: string, completedUpdates: number): void {
  if (!existsSync(path)) writeFileSync(path, '');
  trimJsonLines(path, (r) => (r as { update?: number }).update! <= completedUpdates);
}

/** Keeps the lines of a .jsonl file that parse and satisfy `keep`; a torn last line (a kill mid-append) does not parse. */
function trimJsonLines(path: string, keep: (record: unknown) => boolean): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8').split('\n').filter((line) => {
    if (line.trim() === '') return false;
    try {
      return keep(JSON.parse(line));
    } catch {
      return false;
    }
  });
  writeFileSync(path, kept.map((l) => l + '\n').join(''));
}

/** Every epoch logged in metrics.jsonl, in order ([] when there is no such file). */
export function readMetrics<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as T);
}

/** The last epoch logged in metrics.jsonl (a run resumed from its final checkpoint trains no further epoch). */
export function lastEpochMetrics<T>(path: string): T | undefined {
  return readMetrics<T>(path).at(-1);
}

/** The `train()` options that resume from `checkpoint` (when given) and write checkpoints. */
export function checkpointing(opts: {
  model: Model;
  batches: BatchIterator;
  outDir: string;
  every: number;
  keep: number;
  run: RunRecord;
  checkpoint: LoadedCheckpoint | null;
  /** Opaque state saved with each checkpoint (e.g. `{ sparse: sparse.toJSON() }`). */
  extra: () => Record<string, unknown>;
}): { checkpointEvery: number; resume?: (optimizer: Optimizer) => LoopPosition; onCheckpoint: (pos: LoopPosition, optimizer: Optimizer) => void } {
  const { model, batches, checkpoint } = opts;
  return {
    checkpointEvery: opts.every,
    resume: checkpoint === null ? undefined : (optimizer) => {
      if (JSON.stringify(checkpoint.spec) !== JSON.stringify(model.spec)) {
        throw new Error(`${checkpoint.path}: the checkpoint's model ${JSON.stringify(checkpoint.spec)} differs from this run's ${JSON.stringify(model.spec)}`);
      }
      return restoreTrainState(checkpoint.captured, { model, optimizer, data: batches }).loop;
    },
    onCheckpoint: (pos, optimizer) => {
      if (opts.every === 0) return;
      writeCheckpoint(opts.outDir, captureTrainState({ model, optimizer, data: batches }, pos, opts.extra()), { spec: model.spec, run: opts.run, keep: opts.keep });
    },
  };
}
