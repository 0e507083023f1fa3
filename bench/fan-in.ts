// How a saved masked model spreads its weights: per neuron (fan-in: RigL lets it vary, SRigL keeps
// it constant and ablates instead) and per input column (fan-out: how many of a layer's inputs
// feed any neuron at all).
//   npx tsx bench/fan-in.ts MODEL.safetensors [MODEL2.safetensors ...]
import { readSafetensors } from '../src/io/safetensors.js';

/** A one-line description of how unevenly `counts` spread: zeros, quantiles, the top 10%'s share. */
function spread(counts: number[]): string {
  const c = [...counts].sort((a, b) => a - b);
  const n = c.length;
  const q = (p: number): number => c[Math.min(n - 1, Math.floor(p * n))];
  const tot = c.reduce((a, b) => a + b, 0);
  const top10 = c.slice(Math.floor(n * 0.9)).reduce((a, b) => a + b, 0);
  return `zero: ${c.filter((x) => x === 0).length} of ${n}, ≤2: ${c.filter((x) => x <= 2).length}, median ${q(0.5)}, p90 ${q(0.9)}, max ${c[n - 1]}, top 10% hold ${((100 * top10) / tot).toFixed(1)}%`;
}

for (const path of process.argv.slice(2)) {
  console.log(path);
  for (const [name, t] of readSafetensors(path).tensors) {
    if (!name.endsWith('weight.mask')) continue;
    const d = t.data as Uint8Array;
    const out = t.shape[0];
    const fin = d.length / out;
    const rows = new Array<number>(out).fill(0);
    const cols = new Array<number>(fin).fill(0);
    for (let r = 0; r < out; r++) for (let j = 0; j < fin; j++) if (d[r * fin + j]) { rows[r]++; cols[j]++; }
    console.log(`  ${name} [${t.shape.join('×')}]`);
    console.log(`    per neuron (fan-in):  ${spread(rows)}`);
    console.log(`    per input (fan-out):  ${spread(cols)}`);
  }
}
