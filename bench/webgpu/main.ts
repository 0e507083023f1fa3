/**
 * The bench/webgpu page (index.html beside it; bundled and served by serve.mjs): runs
 * runWebGpuBench and prints the adapter and the table into the page and the console. Query
 * parameters: `rounds`, `batches` (comma-separated), `sparsities` (comma-separated). The result
 * is also left in `window.sriglWebgpuBench` (or the error in `.error`) for a headless runner.
 */
import { formatWebGpuBench, runWebGpuBench, type WebGpuBenchOptions, type WebGpuBenchResult } from './bench.js';

const out = document.getElementById('out')!;
const print = (line: string) => {
  out.textContent += `${line}\n`;
  console.log(line);
};
const params = new URLSearchParams(location.search);
const list = (name: string) => params.get(name)?.split(',').map(Number);
const opts: WebGpuBenchOptions = {
  rounds: params.has('rounds') ? Number(params.get('rounds')) : undefined,
  batches: list('batches'),
  sparsities: list('sparsities'),
};
const state: { done: boolean; result?: WebGpuBenchResult; table?: string; error?: string } = { done: false };
(globalThis as unknown as { sriglWebgpuBench: typeof state }).sriglWebgpuBench = state;

print('measuring… (each row appears when done)');
try {
  const result = await runWebGpuBench(opts, (r) => print(`  ${(r.sparsity * 100).toFixed(0)}% batch ${r.batch}: webgpu condensed ${r.gpuCondensedUs.toFixed(1)} µs, webgpu dense ${r.gpuDenseUs.toFixed(1)} µs, wasm condensed ${r.wasmCondensedUs.toFixed(1)} µs`));
  state.result = result;
  state.table = formatWebGpuBench(result);
  print('');
  print(state.table);
} catch (e) {
  state.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  print(`failed: ${state.error}`);
}
state.done = true;
