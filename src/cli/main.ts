import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from './args.js';
import { benchCommand } from './commands/bench.js';
import { demoCommand } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { exportCommand } from './commands/export.js';
import { importCommand } from './commands/import.js';
import { inferCommand } from './commands/infer.js';
import { inspectCommand } from './commands/inspect.js';
import { reportCommand } from './commands/report.js';
import { trainCommand } from './commands/train.js';
import type { CliIo } from './io.js';

const HELP = `Usage: srigl <command> [options]

Structured dynamic sparse training (SRigL) with WebAssembly SIMD kernels.

Commands:
  train          Train a model; with no options SRigL at 90% on the mlp, then condensed (srigl train --help)
  eval MODEL     Evaluate a saved model on the test split (srigl eval --help)
  export MODEL   Convert a trained sparse model to the condensed format (srigl export --help)
  infer FILE     Run a condensed model: accuracy and latency (srigl infer --help)
  inspect FILE   Validate a model file and show its layers and sparsity (srigl inspect --help)
  import FILE    Import a PyTorch state_dict (.pt/.pth or safetensors) as a srigl model (srigl import --help)
  report DIR     Rebuild a run's report.html: settings, curves, topology, layers (srigl report --help)
  bench kernels  Benchmark the compute kernels (srigl bench --help)
  bench inference  Benchmark condensed vs dense vs CSR vs onnxruntime layers
  demo           Serve the browser demo on 127.0.0.1 (train, condense, run in the page) (srigl demo --help)

Run \`srigl <command> --help\` for the options of each command.
`;

const COMMANDS: Record<string, (argv: readonly string[], io: CliIo) => Promise<number>> = {
  train: trainCommand,
  eval: evalCommand,
  bench: benchCommand,
  export: exportCommand,
  infer: inferCommand,
  inspect: inspectCommand,
  import: importCommand,
  report: reportCommand,
  demo: demoCommand,
};

/**
 * Runs the CLI on `argv` (without node and script) and returns the exit status: 0 on success,
 * 2 for usage errors, 1 for other failures. Errors are printed, never thrown.
 */
export async function main(argv: readonly string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    io.stdout.write(HELP);
    return 0;
  }
  try {
    if (command === undefined) return await trainCommand([], io);
    const run = COMMANDS[command];
    if (run === undefined) {
      // Options without a command mean `train`, so `srigl --epochs 1` works like `srigl train --epochs 1`.
      if (command.startsWith('--')) return await trainCommand(argv, io);
      throw new UsageError(`srigl: unknown command "${command}" (commands: ${Object.keys(COMMANDS).join(', ')}; see srigl --help)`);
    }
    return await run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`${e.message}\n`);
      return 2;
    }
    io.stderr.write(`srigl: ${(e as Error).message}\n`);
    return 1;
  }
}

function isEntryPoint(): boolean {
  if (process.argv[1] === undefined) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/**
 * Runs the CLI as a process: `argv` (without node and script), exit status into
 * process.exitCode. The `srigl` launcher (bin/srigl.js) and running this file directly use it.
 */
export function runCli(argv: readonly string[] = process.argv.slice(2)): void {
  // A closed pipe (`srigl bench kernels | head`) ends output, not the process with a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
  main(argv).then((code) => {
    process.exitCode = code;
  });
}

if (isEntryPoint()) runCli();
