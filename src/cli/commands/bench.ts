import { formatHelp, parseArgs, UsageError, type OptionSpec } from '../args.js';
import type { CliIo } from '../io.js';

const SPECS: OptionSpec[] = [
  { name: 'threads', kind: 'int-list', arg: 'N[,N]', min: 1, help: 'Thread counts to measure, comma-separated. Default 1,2.' },
  { name: 'nm', kind: 'bool', help: 'inference: the N:M kernel beside the constant-fan-in kernel at equal nnz (1:4, 1:8, 1:16 at 3072→768) instead. Default off.' },
  { name: 'quick', kind: 'bool', help: 'Fewer, shorter repetitions (a smoke run, not for reporting). Default off.' },
  { name: 'json', kind: 'bool', help: 'Print JSON instead of the markdown table. Default off.' },
];

export const BENCH_HELP = formatHelp(
  'srigl bench kernels|inference [options]',
  'kernels: measures every GEMM kernel variant beside a plain-JS loop at training shapes.\n' +
    'inference: condensed sparse layers vs our dense, CSR and onnxruntime (bench/inference.ts); --threads applies to kernels only;\n' +
    '  --nm: the N:M kernel beside the constant-fan-in kernel on the same N:M weights (1:4, 1:8, 1:16 at 3072→768).\n' +
    'The onnxruntime-node baseline is optional and lives in its own folder: npm ci --prefix bench/onnxruntime.',
  SPECS,
);

interface InferenceBenchModule {
  benchInference(opts: { quick?: boolean; notice?: (line: string) => void }): Promise<unknown>;
  inferenceMarkdown(result: never, command: string): string;
  benchInferenceNM(opts: { quick?: boolean; notice?: (line: string) => void }): Promise<unknown>;
  inferenceNMMarkdown(result: never, command: string): string;
}

interface KernelBenchModule {
  benchKernels(opts: { threads?: number[]; json?: boolean; quick?: boolean }): Promise<unknown>;
  formatMarkdown(result: never): string;
}

export async function benchCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, SPECS, 'srigl bench');
  if (args.help) {
    io.stdout.write(BENCH_HELP);
    return 0;
  }
  if (args.positionals.length !== 1 || (args.positionals[0] !== 'kernels' && args.positionals[0] !== 'inference')) {
    throw new UsageError(`srigl bench: expected the benchmark name "kernels" or "inference", got ${args.positionals.length ? args.positionals.map((p) => `"${p}"`).join(' ') : 'none'}`);
  }
  const json = args.options.get('json') === true;
  const quick = args.options.get('quick') === true;
  const nm = args.options.get('nm') === true;
  if (nm && args.positionals[0] !== 'inference') throw new UsageError('srigl bench: --nm applies to the inference benchmark only');
  if (args.positionals[0] === 'inference') {
    const inf = (await import(new URL('../../../bench/inference.js', import.meta.url).href)) as InferenceBenchModule;
    const notice = (line: string) => io.stderr.write(`srigl bench: ${line}\n`);
    const command = `srigl bench inference${nm ? ' --nm' : ''}${quick ? ' --quick' : ''}`;
    const result = nm ? await inf.benchInferenceNM({ quick, notice }) : await inf.benchInference({ quick, notice });
    io.stdout.write(json ? JSON.stringify(result) + '\n' : nm ? inf.inferenceNMMarkdown(result as never, command) : inf.inferenceMarkdown(result as never, command));
    return 0;
  }
  // bench/ sits beside src/ (in dist too) and imports from src/, so it is loaded on demand.
  const mod = (await import(new URL('../../../bench/kernels.js', import.meta.url).href)) as KernelBenchModule;
  const result = await mod.benchKernels({ threads: args.options.get('threads') as number[] | undefined, json, quick: args.options.get('quick') === true });
  io.stdout.write(json ? JSON.stringify(result) + '\n' : mod.formatMarkdown(result as never));
  return 0;
}
