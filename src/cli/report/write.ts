/**
 * Reads a run directory, renders its report and writes it atomically: the one path both
 * `srigl train` (at the end of every run, resumed ones included) and `srigl report` take, so the
 * two produce the same bytes from the same files.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { renderReport } from './html.js';
import { readRun } from './run.js';
import { loadChartAssets } from './uplot.js';

/** File name of the report in a run directory. */
export const REPORT_FILE = 'report.html';

export interface WrittenReport {
  /** The file written. */
  path: string;
  bytes: number;
  epochs: number;
  /** Topology updates in topology.jsonl (the initial record not counted); null without the file. */
  updates: number | null;
}

/** Writes the report of the run in `dir` to `out` (default `dir/report.html`), creating out's directory. */
export function writeRunReport(dir: string, out: string = join(dir, REPORT_FILE)): WrittenReport {
  const run = readRun(dir);
  const bytes = Buffer.from(renderReport(run, loadChartAssets()), 'utf8');
  mkdirSync(dirname(out), { recursive: true });
  writeFileAtomic(out, bytes);
  return { path: out, bytes: bytes.length, epochs: run.epochs.length, updates: run.topology === null ? null : run.topology.filter((r) => r.update > 0).length };
}
