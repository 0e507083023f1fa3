import { resolve } from 'node:path';
import { formatHelp, type OptionSpec } from '../args.js';
import { parseFileCommand } from '../common.js';
import type { CliIo } from '../io.js';
import { REPORT_FILE, writeRunReport } from '../report/write.js';

const SPECS: OptionSpec[] = [
  { name: 'out', kind: 'string', arg: 'FILE', help: `Where to write the report. Default RUN_DIR/${REPORT_FILE}.` },
  { name: 'json', kind: 'bool', help: 'Print one JSON result on stdout. Default off.' },
];

export const REPORT_HELP = formatHelp(
  'srigl report RUN_DIR [options]',
  `(Re)builds the report of a srigl train run directory (${REPORT_FILE}, which srigl train writes at the end\n` +
    'of every run): one self-contained HTML page that opens from disk with no network — settings, loss\n' +
    'and accuracy per epoch, per-layer density, fan-in k and ablated/revived neurons per topology\n' +
    'update, the final per-layer table and the condensed comparison. Reads summary.json, metrics.jsonl\n' +
    'and topology.jsonl; the same files give the same bytes.',
  SPECS,
);

export async function reportCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const cmd = parseFileCommand(argv, SPECS, 'srigl report', REPORT_HELP, 'RUN_DIR', io);
  if (cmd === null) return 0;
  const { options: o, path: dir, cwd } = cmd;
  const out = o.has('out') ? resolve(cwd, o.get('out') as string) : undefined;
  const r = writeRunReport(dir, out);
  if (o.get('json') === true) {
    io.stdout.write(JSON.stringify({ command: 'report', runDir: dir, report: r.path, bytes: r.bytes, epochs: r.epochs, updates: r.updates }) + '\n');
  } else {
    io.stdout.write(`wrote ${r.path} (${r.bytes.toLocaleString('en-US')} bytes; ${r.epochs} epoch(s)${r.updates === null ? '' : `, ${r.updates} topology update(s)`})\n`);
  }
  return 0;
}
