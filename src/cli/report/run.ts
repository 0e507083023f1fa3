/**
 * Reading a `srigl train` run directory for its report: summary.json (settings, final per-layer
 * stats, condensed comparison), metrics.jsonl (one line per epoch) and, for sparse runs,
 * topology.jsonl (one line per topology update). Every field the report shows is checked, and a
 * problem is reported with the file, the line and the field, so a damaged or foreign directory
 * fails clearly instead of drawing a wrong chart.
 *
 * The report lives on the CLI floor (src/cli/report/): its input is the run directory `srigl
 * train` writes, and it imports only downward (types of train/, dst/, cli/condense; io/ for the
 * atomic write). Nothing in the library imports it.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CondensedComparison } from '../condense.js';
import type { SparseRunInfo } from '../../train/sparse.js';
import { TOPOLOGY_LOG, type TopologyRecord } from './topology.js';

export const SUMMARY_FILE = 'summary.json';
export const METRICS_FILE = 'metrics.jsonl';

/** One epoch of metrics.jsonl, as the report reads it (other fields pass through untouched). */
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  trainAcc: number;
  testLoss: number | null;
  testAcc: number | null;
  lr?: number;
  epochSeconds?: number;
  wallSeconds?: number;
  [field: string]: unknown;
}

/** The parts of summary.json the report shows. */
export interface RunSummary {
  spec: { arch: string; hidden?: number[]; [field: string]: unknown };
  params: number;
  data: { dataset: string; source: string; train: number; test: number };
  training: {
    epochs: number;
    batchSize: number;
    lr: number;
    optimizer: { kind: string; momentum?: number; nesterov?: boolean; weightDecay?: number };
    schedule: string;
    warmupEpochs: number;
    labelSmoothing: number;
    clipNorm: number;
    seed: number;
    limitTrain: number | null;
    limitTest: number | null;
    backend: string;
    threads: number;
  };
  sparse: SparseRunInfo;
  final: { testAcc: number | null; testLoss: number | null; trainAcc: number; trainLoss: number; wallSeconds: number };
  condensed: CondensedComparison | null;
}

/** A run directory's files, parsed and checked. */
export interface RunFiles {
  dir: string;
  summary: RunSummary;
  epochs: EpochRecord[];
  /** topology.jsonl's records; null when the run has none (dense runs, runs older than the log). */
  topology: TopologyRecord[] | null;
}

/** A run directory that cannot be reported: missing or malformed files. The message names the file. */
export class RunDirError extends Error {}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks `obj[key]` against `kind`; `where` names the file (and line) for the error. */
function field(where: string, obj: Json, key: string, kind: 'number' | 'number?' | 'string' | 'object' | 'array' | 'int'): void {
  const v = obj[key];
  const ok =
    kind === 'number' ? typeof v === 'number' && Number.isFinite(v)
    : kind === 'number?' ? v === null || (typeof v === 'number' && Number.isFinite(v))
    : kind === 'int' ? Number.isInteger(v) && (v as number) >= 0
    : kind === 'string' ? typeof v === 'string'
    : kind === 'object' ? isObject(v)
    : Array.isArray(v);
  if (!ok) {
    const want = { number: 'a finite number', 'number?': 'a finite number or null', int: 'an integer ≥ 0', string: 'a string', object: 'an object', array: 'an array' }[kind];
    throw new RunDirError(`${where}: "${key}" must be ${want}, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
  }
}

function readRequired(dir: string, name: string, what: string): string {
  const path = join(dir, name);
  if (!existsSync(path)) throw new RunDirError(`${dir} is not a srigl train run directory: ${name} is missing (${what})`);
  return readFileSync(path, 'utf8');
}

/** The non-empty lines of a .jsonl file, each parsed, with their 1-based line numbers. */
function jsonLines(path: string, text: string): { line: number; value: Json }[] {
  const out: { line: number; value: Json }[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new RunDirError(`${path}: line ${i + 1} is not JSON (${(e as Error).message})`);
    }
    if (!isObject(value)) throw new RunDirError(`${path}: line ${i + 1} is not a JSON object`);
    out.push({ line: i + 1, value });
  });
  return out;
}

function checkSummary(path: string, s: unknown): RunSummary {
  if (!isObject(s)) throw new RunDirError(`${path}: not a JSON object`);
  if (s.command !== 'train') throw new RunDirError(`${path}: "command" must be "train" (a srigl train summary), got ${JSON.stringify(s.command)}`);
  for (const k of ['spec', 'data', 'training', 'sparse', 'final'] as const) field(path, s, k, 'object');
  field(path, s, 'params', 'int');
  const spec = s.spec as Json;
  field(`${path} spec`, spec, 'arch', 'string');
  const data = s.data as Json;
  field(`${path} data`, data, 'dataset', 'string');
  field(`${path} data`, data, 'source', 'string');
  for (const k of ['train', 'test']) field(`${path} data`, data, k, 'int');
  const t = s.training as Json;
  for (const k of ['epochs', 'batchSize', 'seed', 'threads']) field(`${path} training`, t, k, 'int');
  for (const k of ['lr', 'warmupEpochs', 'labelSmoothing', 'clipNorm']) field(`${path} training`, t, k, 'number');
  for (const k of ['schedule', 'backend']) field(`${path} training`, t, k, 'string');
  field(`${path} training`, t, 'optimizer', 'object');
  field(`${path} training.optimizer`, t.optimizer as Json, 'kind', 'string');
  const sp = s.sparse as Json;
  for (const k of ['method', 'distribution']) field(`${path} sparse`, sp, k, 'string');
  for (const k of ['sparsity', 'gammaSal', 'alpha', 'tEnd']) field(`${path} sparse`, sp, k, 'number');
  for (const k of ['updates', 'nnz', 'totalWeights', 'deltaT']) field(`${path} sparse`, sp, k, 'int');
  field(`${path} sparse`, sp, 'layers', 'array');
  (sp.layers as unknown[]).forEach((l, i) => {
    const where = `${path} sparse.layers[${i}]`;
    if (!isObject(l)) throw new RunDirError(`${where}: not an object`);
    field(where, l, 'name', 'string');
    for (const k of ['out', 'fanIn', 'nnz', 'activeNeurons', 'ablatedNeurons']) field(where, l, k, 'int');
    field(where, l, 'density', 'number');
    if (l.k !== null) field(where, l, 'k', 'int');
  });
  const f = s.final as Json;
  for (const k of ['trainAcc', 'trainLoss', 'wallSeconds']) field(`${path} final`, f, k, 'number');
  for (const k of ['testAcc', 'testLoss']) field(`${path} final`, f, k, 'number?');
  if (s.condensed !== undefined && s.condensed !== null) {
    const c = s.condensed as Json;
    if (!isObject(c)) throw new RunDirError(`${path}: "condensed" must be an object or null`);
    for (const k of ['denseWeights', 'storedWeights', 'denseFileBytes', 'condensedFileBytes']) field(`${path} condensed`, c, k, 'int');
    field(`${path} condensed`, c, 'accuracy', 'object');
    field(`${path} condensed`, c, 'latency', 'array');
    for (const k of ['kernels', 'machine']) field(`${path} condensed`, c, k, 'string');
    (c.latency as unknown[]).forEach((l, i) => {
      if (!isObject(l)) throw new RunDirError(`${path} condensed.latency[${i}]: not an object`);
      for (const k of ['batch', 'denseUs', 'condensedUs', 'speedup']) field(`${path} condensed.latency[${i}]`, l, k, 'number');
    });
  }
  return { ...(s as unknown as RunSummary), condensed: (s.condensed ?? null) as CondensedComparison | null };
}

function checkEpochs(path: string, text: string): EpochRecord[] {
  const lines = jsonLines(path, text);
  if (lines.length === 0) throw new RunDirError(`${path}: no epoch logged (the run trained no epoch)`);
  return lines.map(({ line, value }, i) => {
    const where = `${path}: line ${line}`;
    field(where, value, 'epoch', 'int');
    for (const k of ['trainLoss', 'trainAcc']) field(where, value, k, 'number');
    for (const k of ['testLoss', 'testAcc']) field(where, value, k, 'number?');
    if (i > 0 && (value.epoch as number) <= (lines[i - 1].value.epoch as number)) throw new RunDirError(`${where}: epoch ${value.epoch} does not follow epoch ${lines[i - 1].value.epoch}`);
    return value as EpochRecord;
  });
}

function checkTopology(path: string, text: string): TopologyRecord[] {
  const lines = jsonLines(path, text);
  return lines.map(({ line, value }, i) => {
    const where = `${path}: line ${line}`;
    for (const k of ['update', 'step', 'epoch']) field(where, value, k, 'int');
    field(where, value, 'dropFraction', 'number');
    field(where, value, 'layers', 'array');
    if (i > 0 && (value.update as number) !== (lines[i - 1].value.update as number) + 1) {
      throw new RunDirError(`${where}: update ${value.update} does not follow update ${lines[i - 1].value.update}`);
    }
    (value.layers as unknown[]).forEach((l, j) => {
      const at = `${where} layers[${j}]`;
      if (!isObject(l)) throw new RunDirError(`${at}: not an object`);
      field(at, l, 'name', 'string');
      for (const k of ['nnz', 'activeNeurons', 'ablatedNeurons', 'newlyAblated', 'revived', 'dropped', 'grown']) field(at, l, k, 'int');
      field(at, l, 'density', 'number');
      if (l.k !== null) field(at, l, 'k', 'int');
    });
    return value as unknown as TopologyRecord;
  });
}

/**
 * Reads and checks the run in `dir`. summary.json and metrics.jsonl are required (a directory
 * without them is not a finished run, and the error says which file is missing); topology.jsonl
 * is read when present.
 */
export function readRun(dir: string): RunFiles {
  if (!existsSync(dir)) throw new RunDirError(`${dir}: no such directory`);
  if (!statSync(dir).isDirectory()) throw new RunDirError(`${dir} is not a directory (expected a srigl train run directory)`);
  const summaryPath = join(dir, SUMMARY_FILE);
  const summaryText = readRequired(dir, SUMMARY_FILE, 'srigl train writes it when the run ends');
  let parsed: unknown;
  try {
    parsed = JSON.parse(summaryText);
  } catch (e) {
    throw new RunDirError(`${summaryPath}: not JSON (${(e as Error).message})`);
  }
  const summary = checkSummary(summaryPath, parsed);
  const epochs = checkEpochs(join(dir, METRICS_FILE), readRequired(dir, METRICS_FILE, 'srigl train logs one line per epoch there'));
  const topologyPath = join(dir, TOPOLOGY_LOG);
  const topology = existsSync(topologyPath) ? checkTopology(topologyPath, readFileSync(topologyPath, 'utf8')) : null;
  return { dir, summary, epochs, topology };
}
