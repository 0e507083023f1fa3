/**
 * Checkpoint files: one safetensors file per checkpoint, `ckpt-<step>.safetensors` in the run
 * directory, written atomically (temporary file, fsync, rename) so a crash leaves either the
 * previous set or the new file complete; the newest `keep` are kept. Tensors and state come
 * from train/checkpoint.ts; metadata holds `format`, `version`, `arch` (the model spec), `step`,
 * `state` (the JSON half of the state) and `run` (whatever the caller needs to rebuild the run,
 * e.g. the command line).
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelSpec } from '../nn/models.js';
import type { CapturedTrainState, CheckpointTensor, TrainStateJSON } from '../train/checkpoint.js';
import { encodeSafetensors, readSafetensors, SafetensorsError } from './safetensors.js';
import { writeFileAtomic } from './atomic.js';

export const CHECKPOINT_FORMAT = 'srigl-checkpoint';
export const CHECKPOINT_FORMAT_VERSION = '1';
const NAME = /^ckpt-(\d+)\.safetensors$/;
/** Temporary files `writeFileAtomic` leaves behind when a writer is killed mid-write. */
const TEMP = /^\.ckpt-\d+\.safetensors\.(\d+)\.[0-9a-f]+\.tmp$/;

/** A checkpoint file that is not one, or is damaged; names the file and the problem. */
export class CheckpointError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'CheckpointError';
  }
}

/** A checkpoint read back. */
export interface LoadedCheckpoint {
  path: string;
  step: number;
  spec: ModelSpec;
  run: unknown;
  captured: CapturedTrainState;
}

/** Options for `writeCheckpoint`. */
export interface WriteCheckpointOptions {
  spec: ModelSpec;
  /** Stored as JSON metadata `run`. */
  run?: unknown;
  /** Checkpoints kept, newest first; older ones are deleted after the write. Default 3. */
  keep?: number;
}

/** The file name of the checkpoint after `step` steps. */
export function checkpointName(step: number): string {
  return `ckpt-${step}.safetensors`;
}

/** Writes `ckpt-<step>.safetensors` atomically into `dir`, then prunes to the newest `keep`. Returns the path. */
export function writeCheckpoint(dir: string, captured: CapturedTrainState, opts: WriteCheckpointOptions): string {
  const keep = opts.keep ?? 3;
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`writeCheckpoint: keep must be a positive integer, got ${keep}`);
  const step = captured.state.loop.step;
  const path = join(dir, checkpointName(step));
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_FORMAT_VERSION,
    arch: JSON.stringify(opts.spec),
    step: String(step),
    state: JSON.stringify(captured.state),
  };
  if (opts.run !== undefined) metadata.run = JSON.stringify(opts.run);
  writeFileAtomic(path, encodeSafetensors(captured.tensors, metadata, path));
  for (const old of listCheckpoints(dir).slice(0, -keep)) rmSync(old.path, { force: true });
  for (const name of readdirSync(dir)) {
    const m = TEMP.exec(name);
    if (m !== null && Number(m[1]) !== process.pid) rmSync(join(dir, name), { force: true });
  }
  return path;
}

/** The checkpoint files in `dir` by name, oldest step first (none when the directory is missing). */
export function listCheckpoints(dir: string): { step: number; path: string }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((name) => ({ m: NAME.exec(name), name }))
    .filter((e): e is { m: RegExpExecArray; name: string } => e.m !== null && Number.isSafeInteger(Number(e.m[1])))
    .map((e) => ({ step: Number(e.m[1]), path: join(dir, e.name) }))
    .sort((a, b) => a.step - b.step);
}

/** Reads and checks one checkpoint file (a path or its bytes). Throws `CheckpointError` (or `SafetensorsError` for a malformed file). */
export function readCheckpoint(input: string | Uint8Array): LoadedCheckpoint {
  const path = typeof input === 'string' ? input : '<memory>';
  const file = readSafetensors(input, { source: path });
  const meta = file.metadata;
  const fail = (problem: string): never => {
    throw new CheckpointError(path, problem);
  };
  if (meta.format !== CHECKPOINT_FORMAT) fail(`not a srigl checkpoint (metadata format is ${JSON.stringify(meta.format)})`);
  if (meta.version !== CHECKPOINT_FORMAT_VERSION) fail(`unsupported checkpoint version ${JSON.stringify(meta.version)} (this build reads ${CHECKPOINT_FORMAT_VERSION})`);
  const json = (key: string): unknown => {
    if (meta[key] === undefined) return fail(`metadata "${key}" is missing`);
    try {
      return JSON.parse(meta[key]);
    } catch (e) {
      return fail(`metadata "${key}" is not valid JSON (${(e as Error).message})`);
    }
  };
  const spec = json('arch') as ModelSpec;
  const state = json('state') as TrainStateJSON;
  if (typeof state !== 'object' || state === null || typeof state.loop !== 'object' || state.loop === null || typeof state.optimizer !== 'object' || state.optimizer === null) {
    fail('metadata "state" lacks the loop and optimizer state');
  }
  const step = Number(meta.step);
  if (!Number.isSafeInteger(step) || step !== state.loop.step) fail(`metadata step ${JSON.stringify(meta.step)} does not match the loop state's step ${state.loop.step}`);
  const tensors: CheckpointTensor[] = [];
  for (const t of file.tensors.values()) {
    if (t.dtype !== 'F32' && t.dtype !== 'U8') fail(`tensor "${t.name}" has dtype ${t.dtype}; checkpoints hold F32 and U8 only`);
    tensors.push({ name: t.name, dtype: t.dtype as 'F32' | 'U8', shape: t.shape, data: t.data as Float32Array | Uint8Array });
  }
  return { path, step, spec, run: meta.run === undefined ? undefined : json('run'), captured: { tensors, state } };
}

/**
 * The newest checkpoint in `dir` that reads back whole, or null when there is none. Damaged or
 * partial files (a crash before the rename cannot leave one, but a disk can) are skipped with a
 * warning, falling back to the next older checkpoint.
 */
export function latestCheckpoint(dir: string, warn: (message: string) => void = (m) => process.emitWarning(m)): LoadedCheckpoint | null {
  for (const { path } of listCheckpoints(dir).reverse()) {
    try {
      return readCheckpoint(path);
    } catch (e) {
      if (!(e instanceof CheckpointError || e instanceof SafetensorsError)) throw e;
      warn(`skipping unreadable checkpoint ${e.message}`);
    }
  }
  return null;
}
