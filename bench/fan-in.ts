// Per-neuron fan-in distribution of a saved masked model: how unevenly the weights spread over
// neurons (RigL lets fan-in vary; SRigL keeps it constant and ablates instead).
//   npx tsx bench/fan-in.ts MODEL.safetensors
import { readSafetensors } from '../src/io/safetensors.js';
const f = readSafetensors(process.argv[2]);
for (const [name, t] of f.tensors) {
  if (!name.endsWith('weight.mask')) continue;
  const [out, fin] = t.shape; const d = t.data as Uint8Array;
  const c = Array.from({ length: out }, (_, r) => { let s = 0; for (let j = 0; j < fin; j++) s += d[r * fin + j]; return s; }).sort((a, b) => a - b);
  const q = (p: number) => c[Math.min(out - 1, Math.floor(p * out))];
  const top10 = c.slice(Math.floor(out * 0.9)).reduce((a, b) => a + b, 0), tot = c.reduce((a, b) => a + b, 0);
  console.log(name, `out ${out}`, `rows with 0: ${c.filter(x => x === 0).length}, <=2: ${c.filter(x => x <= 2).length}`, `median ${q(0.5)} p90 ${q(0.9)} max ${c[out - 1]}`, `top 10% of rows hold ${(100 * top10 / tot).toFixed(1)}% of weights`);
}
