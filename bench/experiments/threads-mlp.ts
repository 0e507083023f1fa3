/**
 * Where a training step of the mlp (784-300-100-10, batch 128, SGD) spends its time at 1 and 2
 * kernel threads, dense and srigl 90% sparse compute: configs interleaved round by round in one
 * process (the machine is shared and noisy: only side-by-side ratios mean anything).
 *
 *   npx tsx bench/experiments/threads-mlp.ts [--rounds 15] [--steps 40] [--profile] [--only dense|sparse]
 *
 * Prints median samples/s per config and the 2-vs-1-thread ratio; with --profile also the
 * median µs per step of each phase and, per kernel method, the µs per step spent in it.
 */
import { BatchIterator } from '../../src/data/batches.js';
import { loadDataset } from '../../src/data/locate.js';
import { normalizeSplit } from '../../src/data/normalize.js';
import { createEngine, type Engine } from '../../src/kernels/engine.js';
import { Model } from '../../src/nn/models.js';
import { checkFinite } from '../../src/train/guard.js';
import type { StepInfo, TrainHooks } from '../../src/train/loop.js';
import { createOptimizer, maskGradients, type Optimizer } from '../../src/train/optimizer.js';
import { SparseTraining } from '../../src/train/sparse.js';

const args = process.argv.slice(2);
const flag = (n: string, d: string): string => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : d; };
const ROUNDS = Number(flag('--rounds', '15'));
const STEPS = Number(flag('--steps', '40'));
const PROFILE = args.includes('--profile');
const ONLY = flag('--only', '');
const TOTAL = 100_000;

interface Cfg {
  name: string; threads: number; engine: Engine; model: Model; opt: Optimizer; hooks: TrainHooks; batches: BatchIterator; step: number;
  rates: number[]; phases: Map<string, number[]>; kern: Map<string, number>; kernSteps: number;
}
const data = await loadDataset('fashion-mnist');
const train = normalizeSplit(data.train);
const info: StepInfo = { step: 0, totalSteps: TOTAL, epoch: 0, stepInEpoch: 0, stepsPerEpoch: TOTAL, lr: 0.01, rows: 0, loss: 0, correct: 0, epochLoss: 0, epochAcc: 0, epochSamples: 0, epochSeconds: 0 };

async function build(sparse: boolean, threads: number): Promise<Cfg> {
  const engine = await createEngine({ threads });
  const model = new Model(engine, { arch: 'mlp', inputShape: [1, 28, 28], classes: 10 }, { maxBatch: 128, seed: 1 });
  const st = SparseTraining.create(model, sparse ? { method: 'srigl', sparsity: 0.9, compute: 'sparse', seed: 1 } : { method: 'dense', compute: 'dense', seed: 1 });
  const opt = createOptimizer(engine, model.parameters(), { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const c: Cfg = { name: `${sparse ? 'srigl0.9 sparse' : 'dense'} x${threads}`, threads, engine, model, opt, hooks: st.hooks(opt), batches: new BatchIterator(train, { batchSize: 128, seed: 1 }), step: 0, rates: [], phases: new Map(), kern: new Map(), kernSteps: 0 };
  if (PROFILE) {
    const k = engine.kernels as unknown as Record<string, unknown>;
    const proto = Object.getPrototypeOf(k);
    for (const m of Object.getOwnPropertyNames(proto)) {
      const f = k[m];
      if (m === 'constructor' || typeof f !== 'function' || m === 'gemm' || m === 'split' || m === 'nnzOf') continue;
      k[m] = function (this: unknown, ...a: number[]) {
        const t = performance.now();
        const r = (f as (...x: number[]) => unknown).apply(k, a);
        const key = m + (m.startsWith('gemm') || m === 'swapAxes' || m.startsWith('sparse') ? `(${a.slice(0, m === 'swapAxes' ? 2 : 3).join(',')})` : '');
        c.kern.set(key, (c.kern.get(key) ?? 0) + performance.now() - t);
        return r;
      };
    }
  }
  return c;
}

function phase(c: Cfg, name: string, t: number): number {
  const now = performance.now();
  if (PROFILE) { let a = c.phases.get(name); if (!a) c.phases.set(name, (a = [])); a.push((now - t) * 1000); }
  return now;
}

function step(c: Cfg): number {
  const model = c.model;
  let t = performance.now();
  const rows = c.batches.next(model.inputs, model.labels);
  t = phase(c, 'batch', t);
  c.hooks.beforeStep?.(c.step, TOTAL);
  t = phase(c, 'beforeStep', t);
  model.forward(rows, true);
  t = phase(c, 'forward', t);
  model.loss(rows);
  t = phase(c, 'loss', t);
  model.backward(rows);
  t = phase(c, 'backward', t);
  info.step = c.step; info.rows = rows;
  c.hooks.afterBackward?.(info);
  t = phase(c, 'afterBackward', t);
  const params = model.parameters();
  maskGradients(c.engine, params);
  t = phase(c, 'mask', t);
  c.opt.step(0.01);
  t = phase(c, 'optimizer', t);
  c.hooks.afterStep?.(info);
  t = phase(c, 'afterStep', t);
  const bad = checkFinite(params, c.step, true, c.engine.kernels);
  if (bad) throw bad;
  phase(c, 'guard', t);
  c.step++;
  return rows;
}

const cfgs: Cfg[] = [];
for (const sparse of [false, true]) {
  if (ONLY === 'dense' && sparse) continue;
  if (ONLY === 'sparse' && !sparse) continue;
  for (const threads of [1, 2]) cfgs.push(await build(sparse, threads));
}
const med = (a: number[]): number => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1] ?? NaN; };
for (let r = 0; r <= ROUNDS; r++) {
  for (const c of cfgs) {
    if (r === 1) { c.phases.clear(); c.kern.clear(); c.kernSteps = 0; }
    let n = 0;
    const t0 = performance.now();
    for (let s = 0; s < STEPS; s++) n += step(c);
    if (r > 0) { c.rates.push(n / ((performance.now() - t0) / 1000)); c.kernSteps += STEPS; }
  }
}
for (const c of cfgs) {
  const st = (c.engine.rows as unknown as { stats?: Record<string, number> } | null)?.stats;
  console.log(`${c.name.padEnd(20)} ${med(c.rates).toFixed(0).padStart(6)} samples/s  (min ${Math.min(...c.rates).toFixed(0)}, max ${Math.max(...c.rates).toFixed(0)})${st ? ` pool: ${(st.jobs / c.step).toFixed(1)} jobs/step, calling thread ran ${(100 * st.mine / st.units).toFixed(0)}% of units, ${st.failed} judged not paying` : ''}`);
}
for (let i = 0; i + 1 < cfgs.length; i += 2) {
  const pair = cfgs[i].rates.map((r1, j) => cfgs[i + 1].rates[j] / r1);
  console.log(`${cfgs[i].name.split(' x')[0]}: x2/x1 = ${(med(cfgs[i + 1].rates) / med(cfgs[i].rates)).toFixed(3)} (median of per-round ratios ${med(pair).toFixed(3)})`);
}
if (PROFILE) {
  console.log('\nphase µs/step (median):' + cfgs.map((c) => c.name.padStart(18)).join(''));
  for (const p of cfgs[0].phases.keys()) console.log(p.padEnd(24) + cfgs.map((c) => med(c.phases.get(p) ?? []).toFixed(0).padStart(18)).join(''));
  const keys = new Set(cfgs.flatMap((c) => [...c.kern.keys()]));
  console.log('\nkernel µs/step (mean):' + cfgs.map((c) => c.name.padStart(18)).join(''));
  for (const key of [...keys].sort()) console.log(key.padEnd(40) + cfgs.map((c) => ((c.kern.get(key) ?? 0) * 1000 / c.kernSteps).toFixed(0).padStart(18)).join(''));
}
for (const c of cfgs) await c.engine.close();
