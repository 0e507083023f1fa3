/**
 * The demo page: states how the kernels will run (threads when the page is cross-origin
 * isolated), starts training in the worker (demo-worker.js) and charts what it reports, then
 * shows the condensed model's latency against the dense one and its predictions on test images.
 * A `*.condensed.safetensors` file dropped on the page (or chosen) runs in the worker too. The
 * WebGPU section says what adapter the worker found (or why none), shows the trained model on
 * WebGPU beside its wasm latency, and runs the WebGPU benchmark in the worker on request.
 * `window.sriglDemo` holds everything shown, for the browser tests (test/browser/).
 */
import type { WebGpuBenchRow } from '../browser.js';
import { LiveChart } from './charts.js';
import type { DemoTrainOptions, GpuComparison, LayerPoint, Prediction, WebGpuBenchSize, WorkerMessage } from './protocol.js';

/** What the page has received, in order; the browser tests read it. */
interface DemoState {
  phase: 'idle' | 'training' | 'done' | 'error';
  probe: Extract<WorkerMessage, { type: 'probe' }> | null;
  data: Extract<WorkerMessage, { type: 'data' }> | null;
  ready: Extract<WorkerMessage, { type: 'ready' }> | null;
  steps: number;
  epochs: Extract<WorkerMessage, { type: 'epoch' }>[];
  topology: Extract<WorkerMessage, { type: 'topology' }>[];
  condensed: Extract<WorkerMessage, { type: 'condensed' }> | null;
  file: Extract<WorkerMessage, { type: 'file-result' }> | null;
  /** Whether a file is being run. */
  fileBusy: boolean;
  /** What the worker's WebGPU probe found. */
  webgpu: Extract<WorkerMessage, { type: 'webgpu' }> | null;
  /** The WebGPU benchmark: rows as they come, then the formatted table, or why it failed. */
  bench: { phase: 'idle' | 'running' | 'done' | 'error'; rows: WebGpuBenchRow[]; table: string | null; error: string | null };
  error: string | null;
}

declare global {
  interface Window {
    sriglDemo: DemoState;
  }
}

const state: DemoState = {
  phase: 'idle', probe: null, data: null, ready: null, steps: 0, epochs: [], topology: [], condensed: null, file: null, fileBusy: false,
  webgpu: null, bench: { phase: 'idle', rows: [], table: null, error: null }, error: null,
};
window.sriglDemo = state;

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`demo page: no element #${id}`);
  return el as T;
};

/** Builds an element with text and children (no HTML strings: names from files are shown as text). */
function el(tag: string, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;
const us = (v: number): string => (v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(1)} µs`);
const int = (v: number): string => v.toLocaleString('en-US');

function setStatus(text: string): void {
  $('status').textContent = text;
}

// Stated before anything runs (the worker's probe then says what the kernels found): the engine
// starts workers only on a cross-origin isolated page.
$('env').textContent = crossOriginIsolated
  ? 'This page is cross-origin isolated: the kernels can run on several threads (Web Workers over one SharedArrayBuffer). Probing…'
  : 'This page is not cross-origin isolated (no COOP/COEP headers, so no SharedArrayBuffer): the kernels run on one thread. Probing…';

/** The environment line: what the probe found, and the kernels once training has started. */
function showEnv(): void {
  const p = state.probe;
  if (p === null) return;
  const isa = p.features.relaxedSimd ? 'relaxed SIMD' : p.features.simd ? 'SIMD' : 'scalar';
  const threads = p.threads > 1
    ? `${p.threads} threads: Web Workers over one SharedArrayBuffer (the page is cross-origin isolated)`
    : `1 thread (${p.isolated ? 'one core available' : 'the page is not cross-origin isolated, so no SharedArrayBuffer'})`;
  const data = state.data ? ` Data: ${int(state.data.train)} training and ${int(state.data.test)} test images of the embedded Fashion-MNIST subset.` : '';
  const kernels = state.ready ? ` Training on ${state.ready.kernels}.` : '';
  $('env').textContent = `WebAssembly ${isa} kernels, ${threads}.${kernels}${data}`;
}

const worker = new Worker(new URL('./demo-worker.js', import.meta.url), { type: 'module' });

let charts: { loss: LiveChart; density: LiveChart; k: LiveChart; ablated: LiveChart } | null = null;

/** The four charts, for the layers of the first topology report. */
function makeCharts(layers: readonly LayerPoint[]): NonNullable<typeof charts> {
  const names = layers.map((l) => ({ label: l.name }));
  for (const id of ['chart-loss', 'chart-density', 'chart-k', 'chart-ablated']) $(id).replaceChildren();
  return {
    loss: new LiveChart($('chart-loss'), {
      title: 'Loss and accuracy', xLabel: 'step', yLabel: 'loss', rightLabel: 'accuracy', rightRange: [0, 1],
      series: [{ label: 'train loss (batch)' }, { label: 'train accuracy (epoch so far)', scale: 'right' }, { label: 'test accuracy', scale: 'right', points: true }],
    }),
    density: new LiveChart($('chart-density'), { title: 'Density per layer', xLabel: 'step', yLabel: 'density', yRange: [0, 1], series: names, stepped: true }),
    k: new LiveChart($('chart-k'), { title: 'Fan-in k per layer (constant per neuron)', xLabel: 'step', yLabel: 'k', series: names, stepped: true }),
    ablated: new LiveChart($('chart-ablated'), { title: 'Ablated neurons per layer', xLabel: 'step', yLabel: 'neurons', series: names, stepped: true }),
  };
}

/** A 28×28 grey image, scaled up. */
function imageCanvas(pixels: Uint8Array, size = 28, scale = 3): HTMLCanvasElement {
  const canvas = el('canvas', { width: String(size), height: String(size), style: `width:${size * scale}px;height:${size * scale}px` }) as HTMLCanvasElement;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    img.data.set([pixels[i], pixels[i], pixels[i], 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

/** The predictions grid: each image with its label and the model's top-3 classes. */
function predictionGrid(preds: readonly Prediction[]): HTMLElement {
  const ready = state.data!;
  const size = ready.size;
  const grid = el('div', { class: 'grid' });
  for (const p of preds) {
    const slot = ready.imageIndices.indexOf(p.index);
    const pixels = ready.images.subarray(slot * size * size, (slot + 1) * size * size);
    const right = p.top3[0].cls === p.label;
    grid.append(el('figure', { class: right ? 'right' : 'wrong' },
      imageCanvas(pixels, size),
      el('figcaption', {},
        el('div', { class: 'label' }, `#${p.index}: ${ready.classes[p.label]}`),
        el('ol', {}, ...p.top3.map((t) => el('li', {}, `${ready.classes[t.cls]} ${(100 * t.p).toFixed(1)}%`))),
      ),
    ));
  }
  return grid;
}

function showCondensed(m: Extract<WorkerMessage, { type: 'condensed' }>): void {
  const rows: string[][] = [
    ['', 'dense (masked)', 'condensed', ''],
    ['weights', int(m.denseWeights), int(m.storedWeights), `${(m.denseWeights / m.storedWeights).toFixed(1)}× fewer`],
    ['test accuracy', pct(m.accuracy.dense), pct(m.accuracy.condensed),
      m.accuracy.differing === 0 ? `same predictions on all ${int(m.accuracy.n)} test images` : `${int(m.accuracy.differing)} of ${int(m.accuracy.n)} predictions differ`],
    ...m.latency.map((l) => [`latency, batch ${l.batch}`, us(l.denseUs), us(l.condensedUs), `${(l.denseUs / l.condensedUs).toFixed(1)}× faster`]),
  ];
  const table = el('table', {}, ...rows.map((r, i) => el('tr', {}, ...r.map((c) => el(i === 0 ? 'th' : 'td', {}, c)))));
  const layers = m.layers.map((l) => `${l.name}: ${l.nActive} of ${l.out} neurons kept, k = ${l.k} of ${l.fanIn}`).join(' · ');
  $('condensed-body').replaceChildren(
    el('p', {}, `Trained ${int(m.steps)} steps in ${m.trainSeconds.toFixed(1)} s. Condensed in this page: ${layers}.`),
    table,
    el('p', { class: 'note' }, 'Latency measured in this browser, one thread, dense and condensed interleaved, medians of 15 rounds after warm-up.'),
  );
  showGpuComparison(m.webgpu);
  $('predictions-body').replaceChildren(predictionGrid(m.predictions));
  $('condensed').hidden = false;
}

/** The warning every WebGPU number on a software adapter carries. */
const SOFTWARE_WARNING = 'This is a software adapter (WebGPU implemented on the CPU): its timings are NOT GPU numbers, only a check that the kernels run.';

/** The WebGPU section's status: the adapter the worker found (what it says about itself, software or not), or why there is none. */
function showWebGpu(m: Extract<WorkerMessage, { type: 'webgpu' }>): void {
  const status = $('webgpu-status');
  if (!m.found) {
    status.textContent = `WebGPU is not available here: ${m.message}. The rest of the page runs on WebAssembly as it does everywhere; the benchmark needs WebGPU.`;
    $<HTMLButtonElement>('webgpu-bench').disabled = true;
    return;
  }
  const a = m.adapter;
  status.replaceChildren(
    `WebGPU adapter: ${a.label} (vendor "${a.vendor}", architecture "${a.architecture}", device "${a.device}", description "${a.description}"). `,
    a.software
      ? el('span', { class: 'warning' }, SOFTWARE_WARNING)
      : 'A hardware adapter: after training, the condensed model runs on it too.',
  );
  $<HTMLButtonElement>('webgpu-bench').disabled = false;
}

/** The trained model on WebGPU, below the wasm comparison. */
function showGpuComparison(g: GpuComparison | null): void {
  const box = $('condensed-webgpu');
  box.hidden = g === null;
  if (g === null) return box.replaceChildren();
  const warning = g.adapter.software ? [el('p', { class: 'note warning' }, SOFTWARE_WARNING)] : [];
  if ('error' in g) {
    box.replaceChildren(el('h2', {}, 'Condensed on WebGPU'), el('p', { class: 'error' }, `On WebGPU (${g.adapter.label}) the model failed: ${g.error}. The WebAssembly results above stand.`));
    return;
  }
  const rows = [
    ['', 'condensed, WebAssembly', 'condensed, WebGPU', ''],
    ...g.latency.map((l) => [`latency, batch ${l.batch}`, us(l.wasmUs), us(l.gpuUs), l.gpuUs <= l.wasmUs ? `WebGPU ${(l.wasmUs / l.gpuUs).toFixed(1)}× faster` : `WebGPU ${(l.gpuUs / l.wasmUs).toFixed(1)}× slower`]),
  ];
  box.replaceChildren(
    el('h2', {}, 'Condensed on WebGPU'),
    el('p', {}, `The same condensed model on WebGPU (${g.adapter.label}): its ${int(g.logits)} logits of the test images agree with the WebAssembly ones to ` +
      `max |diff| = ${g.maxAbsDiff.toExponential(2)} (largest |logit| ${g.maxAbs.toFixed(2)}); ` +
      (g.differing === 0 ? 'the same top class on every image.' : `the top class differs on ${int(g.differing)} images.`)),
    el('table', {}, ...rows.map((r, i) => el('tr', {}, ...r.map((c) => el(i === 0 ? 'th' : 'td', {}, c))))),
    el('p', { class: 'note' }, 'µs per call, inputs in and logits out (WebGPU: one upload, one submit, one read-back), the two interleaved, medians of 15 rounds after warm-up.'),
    ...warning,
  );
}

/** One benchmark row as it arrives. */
const benchRowLine = (r: WebGpuBenchRow): string =>
  `${(r.sparsity * 100).toFixed(0)}% (k = ${r.k}) batch ${r.batch}: webgpu condensed ${us(r.gpuCondensedUs)}, webgpu dense ${us(r.gpuDenseUs)}, wasm condensed ${us(r.wasmCondensedUs)}`;

function showBench(): void {
  const b = state.bench;
  const out = $('webgpu-bench-out');
  out.hidden = b.phase === 'idle';
  out.textContent = b.table ?? b.rows.map(benchRowLine).join('\n');
  $('webgpu-bench-status').textContent =
    b.phase === 'running' ? (state.phase === 'training' ? 'queued: starts when training ends' : `measuring… ${b.rows.length} row(s) done`)
      : b.phase === 'error' ? `failed: ${b.error}` : '';
  $<HTMLButtonElement>('webgpu-bench').disabled = b.phase === 'running' || state.webgpu?.found !== true;
}

function showFile(m: Extract<WorkerMessage, { type: 'file-result' }>): void {
  $('file-result').replaceChildren(
    el('p', {}, `${m.name}: ${m.arch} (condensed) on the ${int(m.n)} embedded test images: accuracy ${pct(m.accuracy)}; ` +
      `latency ${m.latency.map((l) => `batch ${l.batch} ${us(l.us)}`).join(', ')} (${m.kernels}, medians of 15 interleaved rounds).`),
    predictionGrid(m.predictions),
  );
}

worker.addEventListener('message', (e: MessageEvent<WorkerMessage>) => {
  const m = e.data;
  switch (m.type) {
    case 'status':
      setStatus(m.text);
      break;
    case 'probe':
      state.probe = m;
      showEnv();
      break;
    case 'webgpu':
      state.webgpu = m;
      showWebGpu(m);
      break;
    case 'webgpu-bench-row':
      state.bench.rows.push(m.row);
      showBench();
      break;
    case 'webgpu-bench-done':
      Object.assign(state.bench, { phase: 'done', table: m.table });
      showBench();
      break;
    case 'webgpu-bench-failed':
      Object.assign(state.bench, { phase: 'error', error: m.message });
      showBench();
      break;
    case 'data':
      state.data = m;
      showEnv();
      // The fetch status is over; training reports its own.
      if (state.phase !== 'training') setStatus('');
      break;
    case 'ready':
      state.ready = m;
      showEnv();
      break;
    case 'topology':
      charts ??= makeCharts(m.layers);
      state.topology.push(m);
      charts.density.push(m.step, m.layers.map((l) => l.density));
      charts.k.push(m.step, m.layers.map((l) => l.k));
      charts.ablated.push(m.step, m.layers.map((l) => l.ablatedNeurons));
      break;
    case 'step':
      if (charts && m.step === 0) for (const c of Object.values(charts)) c.xMax = m.totalSteps;
      state.steps = m.step + 1;
      charts?.loss.push(m.step + 1, [m.loss, m.acc, null]);
      setStatus(`training: step ${m.step + 1} of ${m.totalSteps}, loss ${m.loss.toFixed(3)}, accuracy this epoch ${pct(m.acc)}`);
      break;
    case 'epoch':
      state.epochs.push(m);
      charts?.loss.push(m.step, [null, null, m.testAcc]);
      break;
    case 'condensed': {
      // The topology holds from the last update to the end of training: draw it there.
      const last = state.topology.at(-1);
      if (charts && last) {
        charts.density.push(m.steps, last.layers.map((l) => l.density));
        charts.k.push(m.steps, last.layers.map((l) => l.k));
        charts.ablated.push(m.steps, last.layers.map((l) => l.ablatedNeurons));
      }
      state.condensed = m;
      state.phase = 'done';
      showCondensed(m);
      setStatus(`done: test accuracy ${pct(m.accuracy.condensed)} after ${m.steps} steps`);
      $<HTMLButtonElement>('train').disabled = false;
      if (state.bench.phase === 'running') showBench();
      break;
    }
    case 'file-result':
      state.file = m;
      state.fileBusy = false;
      showFile(m);
      break;
    case 'error':
      state.error = m.message;
      state.fileBusy = false;
      if (state.phase === 'training') state.phase = 'error';
      $('error').textContent = m.message;
      $<HTMLButtonElement>('train').disabled = false;
      if (state.bench.phase === 'running') showBench();
      break;
  }
});

worker.addEventListener('error', (e) => {
  state.error = `the demo worker failed: ${e.message}`;
  state.phase = 'error';
  $('error').textContent = state.error;
});

$('train').addEventListener('click', () => {
  const options: DemoTrainOptions = {
    epochs: Number($<HTMLInputElement>('epochs').value),
    sparsity: Number($<HTMLInputElement>('sparsity').value),
    gammaSal: Number($<HTMLInputElement>('gamma-sal').value),
    seed: Number($<HTMLInputElement>('seed').value),
  };
  if (!Number.isInteger(options.epochs) || options.epochs < 1) return void ($('error').textContent = 'epochs must be a positive integer');
  if (!(options.sparsity > 0 && options.sparsity < 1)) return void ($('error').textContent = 'sparsity must be between 0 and 1');
  if (!(options.gammaSal >= 0 && options.gammaSal <= 1)) return void ($('error').textContent = 'γ_sal must be between 0 and 1');
  if (!Number.isInteger(options.seed) || options.seed < 0) return void ($('error').textContent = 'seed must be a non-negative integer');
  $('error').textContent = '';
  Object.assign(state, { phase: 'training', steps: 0, epochs: [], topology: [], condensed: null, error: null });
  $('condensed').hidden = true;
  charts = null;
  $<HTMLButtonElement>('train').disabled = true;
  worker.postMessage({ type: 'train', options });
});

$('webgpu-bench').addEventListener('click', () => {
  const size = $<HTMLSelectElement>('webgpu-size').value as WebGpuBenchSize;
  state.bench = { phase: 'running', rows: [], table: null, error: null };
  showBench();
  worker.postMessage({ type: 'webgpu-bench', size });
});

/** Hands a chosen or dropped file to the worker (which validates it in full). */
async function runFile(file: File): Promise<void> {
  if (!file.name.endsWith('.safetensors')) {
    $('error').textContent = `${file.name}: expected a *.condensed.safetensors file (from srigl train or srigl export)`;
    return;
  }
  $('error').textContent = '';
  state.fileBusy = true;
  state.file = null;
  $('file-result').textContent = `running ${file.name}…`;
  const bytes = await file.arrayBuffer();
  worker.postMessage({ type: 'run-file', name: file.name, bytes }, [bytes]);
}

$<HTMLInputElement>('file-input').addEventListener('change', (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (file) void runFile(file);
});
document.addEventListener('dragover', (e) => {
  e.preventDefault();
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
document.addEventListener('drop', (e) => {
  e.preventDefault();
  document.body.classList.remove('dragging');
  const file = e.dataTransfer?.files[0];
  if (file) void runFile(file);
});
