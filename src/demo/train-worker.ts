/**
 * The demo's worker: everything that computes runs here, off the page's main thread (which may
 * not block in Atomics.wait, as the engine's thread pool does). It trains the SRigL mlp on the
 * embedded Fashion-MNIST subset the demo server serves under data/, reporting every step, epoch
 * and topology update; then condenses the model and times it against the dense one (and, where
 * there is a WebGPU adapter, runs it on WebGPU beside the wasm kernels); it runs condensed files
 * the page hands it, and the WebGPU benchmark. The recipe is `srigl train`'s default for the mlp.
 */
import {
  BatchIterator, buildModel, condenseModel, CondensedGpuModel, CondensedModel, createEngine, fetchDataset, formatWebGpuBench, hardwareThreads,
  interleavedMedians, normalizeSplit, probeFeatures, probeWebGpu, readCondensed, requestGpu, runWebGpuBench, SparseTraining, train,
  type AdapterSummary, type CondensedNet, type DatasetSplit, type Engine, type Model, type ModelSpec, type NormalizedSplit,
  type SparseLayerStats,
} from '../browser.js';
import {
  WEBGPU_BENCH_SIZES, type DemoTrainOptions, type GpuComparison, type LayerPoint, type PageMessage, type Prediction, type WebGpuBenchSize, type WorkerMessage,
} from './protocol.js';
import { medianLatency } from './timing.js';

/** The worker's global scope, as far as this file uses it. */
const scope = globalThis as unknown as {
  postMessage(message: WorkerMessage, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (e: MessageEvent<PageMessage>) => void): void;
  crossOriginIsolated: boolean;
  location: { href: string };
};
const post = (m: WorkerMessage, transfer: Transferable[] = []): void => scope.postMessage(m, transfer);

/** Test images shown with their predictions: every 150th, so all classes appear. */
const SHOWN = Array.from({ length: 12 }, (_, i) => i * 150);
const BATCH_SIZE = 128;
/** Batch sizes latency is measured at, as `srigl train` does. */
const TIMED_BATCHES = [1, 256] as const;
/** Batch of the logits returned for a file (the Node comparison uses the same). */
const PREDICT_BATCH = 256;

interface Data {
  train: NormalizedSplit;
  test: NormalizedSplit;
  testRaw: DatasetSplit;
}

let data: Promise<Data> | null = null;

/** The embedded subset, fetched once from data/ beside the page. */
function loadData(): Promise<Data> {
  data ??= (async () => {
    post({ type: 'status', text: 'fetching the embedded Fashion-MNIST subset…' });
    const d = await fetchDataset('fashion-mnist', new URL('data/', scope.location.href));
    const test = d.test!;
    const px = test.rows * test.cols;
    post({
      type: 'data', classes: test.classes, train: d.train!.n, test: test.n, size: test.rows,
      images: Uint8Array.from(SHOWN.flatMap((i) => Array.from(test.images.subarray(i * px, (i + 1) * px)))), imageIndices: SHOWN,
    });
    return { train: normalizeSplit(d.train!), test: normalizeSplit(test), testRaw: test };
  })();
  return data;
}

function layerPoints(stats: readonly SparseLayerStats[]): LayerPoint[] {
  return stats.map((l) => ({ name: l.name, density: l.density, k: l.density < 1 ? l.k : null, activeNeurons: l.activeNeurons, ablatedNeurons: l.ablatedNeurons }));
}

function argmax(logits: Float32Array, row: number, classes: number): number {
  let best = 0;
  for (let c = 1; c < classes; c++) if (logits[row * classes + c] > logits[row * classes + best]) best = c;
  return best;
}

/** The three most probable classes (softmax) of each shown image, from logits of the whole test split. */
function predictions(logits: Float32Array, labels: ArrayLike<number>, classes: number): Prediction[] {
  return SHOWN.map((index) => {
    const row = logits.subarray(index * classes, (index + 1) * classes);
    const max = Math.max(...row);
    const e = Array.from(row, (v) => Math.exp(v - max));
    const sum = e.reduce((a, b) => a + b, 0);
    const top3 = e.map((v, cls) => ({ cls, p: v / sum })).sort((a, b) => b.p - a.p).slice(0, 3);
    return { index, label: labels[index], top3 };
  });
}

/** Logits [n, classes] of every test example, `batch` at a time. */
function allLogits(run: (x: Float32Array, n: number) => Float32Array, test: NormalizedSplit, classes: number, batch: number): Float32Array {
  const out = new Float32Array(test.n * classes);
  for (let s = 0; s < test.n; s += batch) {
    const n = Math.min(batch, test.n - s);
    out.set(run(test.x.subarray(s * test.features, (s + n) * test.features), n), s * classes);
  }
  return out;
}

/** How long the WebGPU probe may take before the page is told there is none (a stuck driver must not hold up the demo). */
const WEBGPU_PROBE_MS = 10_000;

/**
 * The WebGPU adapter of this worker, or null: probed once at start-up (probeWebGpu: navigator.gpu,
 * an adapter, a device, which is released at once) and told to the page either way.
 */
const webgpu: Promise<AdapterSummary | null> = (async () => {
  let message: string;
  try {
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the WebGPU probe did not answer within ${WEBGPU_PROBE_MS / 1000} s`)), WEBGPU_PROBE_MS));
    const probe = await Promise.race([probeWebGpu(), timeout]);
    if (probe.available) {
      probe.ctx.device.destroy();
      post({ type: 'webgpu', found: true, adapter: probe.adapter });
      return probe.adapter;
    }
    message = probe.error.message;
  } catch (err) {
    message = (err as Error).message;
  }
  post({ type: 'webgpu', found: false, message });
  return null;
})();

/**
 * The condensed model on WebGPU beside `wasm`: logits of the whole test split compared with the
 * wasm ones (`wasmLogits`), and latency per call at each timed batch, the two interleaved. Null
 * without an adapter; a failure on the GPU is reported, not thrown (the wasm results stand).
 */
async function condensedOnGpu(net: CondensedNet, wasm: CondensedModel, test: NormalizedSplit, wasmLogits: Float32Array, classes: number): Promise<GpuComparison | null> {
  const adapter = await webgpu;
  if (adapter === null) return null;
  post({ type: 'status', text: `running the condensed model on WebGPU (${adapter.label})…` });
  const ctx = await requestGpu().catch((err: Error) => err);
  if (ctx instanceof Error) return { adapter, error: ctx.message };
  let model: CondensedGpuModel | null = null;
  try {
    model = await CondensedGpuModel.create(ctx, net, { maxBatch: Math.max(...TIMED_BATCHES) });
    const gpuModel = model;
    const logits = await gpuModel.run(test.x, test.n);
    let maxAbsDiff = 0, maxAbs = 0, differing = 0;
    for (let i = 0; i < logits.length; i++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(logits[i] - wasmLogits[i]));
      maxAbs = Math.max(maxAbs, Math.abs(wasmLogits[i]));
    }
    for (let i = 0; i < test.n; i++) if (argmax(logits, i, classes) !== argmax(wasmLogits, i, classes)) differing++;
    const latency = [];
    for (const batch of TIMED_BATCHES) {
      const x = batchOf(test, batch);
      const t = await interleavedMedians({
        wasm: async (reps) => {
          for (let i = 0; i < reps; i++) wasm.predict(x, batch);
        },
        gpu: async (reps) => {
          for (let i = 0; i < reps; i++) await gpuModel.run(x, batch);
        },
      }, { rounds: 15, sampleMs: 5 });
      latency.push({ batch, wasmUs: t.wasm, gpuUs: t.gpu });
    }
    return { adapter, logits: logits.length, maxAbsDiff, maxAbs, differing, latency };
  } catch (err) {
    return { adapter, error: (err as Error).message };
  } finally {
    await model?.close();
    ctx.device.destroy();
  }
}

/** Runs the WebGPU benchmark at `size`, posting each row as it is measured, then the table. */
async function runBench(size: WebGpuBenchSize): Promise<void> {
  const options = WEBGPU_BENCH_SIZES[size];
  if (options === undefined) throw new Error(`unknown WebGPU benchmark size '${size}' (expected ${Object.keys(WEBGPU_BENCH_SIZES).join(' or ')})`);
  if ((await webgpu) === null) throw new Error('the WebGPU benchmark needs a WebGPU adapter, and this worker found none');
  const result = await runWebGpuBench(options, (row) => post({ type: 'webgpu-bench-row', row }));
  post({ type: 'webgpu-bench-done', result, table: formatWebGpuBench(result) });
}

/** `n` test examples as one batch (the split holds more than the largest timed batch). */
const batchOf = (test: NormalizedSplit, n: number): Float32Array => test.x.subarray(0, n * test.features);

/** The trained model's weights and masks on another engine, computing dense (masked GEMMs) as a loaded model file does. */
function denseCopy(engine: Engine, model: Model, maxBatch: number): Model {
  const copy = buildModel(engine, model.spec, { maxBatch });
  const values = new Map(model.stateTensors().map((t) => [t.name, t.data]));
  for (const t of copy.stateTensors()) t.assign(values.get(t.name)!);
  const masks = new Map(model.parameters().map((p) => [p.name, p.denseMask()]));
  for (const p of copy.parameters()) {
    const mask = masks.get(p.name);
    if (mask) p.setMask(Uint8Array.from(mask));
  }
  return copy;
}

async function runTraining(options: DemoTrainOptions): Promise<void> {
  const { train: trainSet, test, testRaw } = await loadData();
  const engine = await createEngine();
  const classes = testRaw.classes.length;
  post({ type: 'ready', kernels: engine.kernels.name, threads: engine.threads });
  // One thread for the comparison, as `srigl train` times it: the latencies then compare with Node's.
  const timing = await createEngine({ threads: 1 });
  try {
    const spec: ModelSpec = { arch: 'mlp', inputShape: [1, trainSet.rows, trainSet.cols], classes };
    const model = buildModel(engine, spec, { maxBatch: BATCH_SIZE, seed: options.seed });
    const sparse = SparseTraining.create(model, { method: 'srigl', sparsity: options.sparsity, gammaSal: options.gammaSal, seed: options.seed });
    let updates = 0;
    post({ type: 'topology', step: 0, update: 0, layers: layerPoints(sparse.stats()) });
    const t0 = performance.now();
    const result = await train({
      model,
      trainData: new BatchIterator(trainSet, { batchSize: BATCH_SIZE, seed: options.seed }),
      testData: test,
      epochs: options.epochs,
      optimizer: { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
      lr: 0.1,
      schedule: 'cosine',
      hooks: (optimizer) => sparse.hooks(optimizer, (event) => {
        post({ type: 'topology', step: event.step, update: ++updates, layers: layerPoints(sparse.stats()) });
      }),
      onStep: (s) => post({ type: 'step', step: s.step, totalSteps: s.totalSteps, loss: s.loss, acc: s.epochAcc, lr: s.lr }),
      onEpoch: (m) => post({
        type: 'epoch', epoch: m.epoch, step: m.steps, trainAcc: m.trainAcc, trainLoss: m.trainLoss,
        testAcc: m.testAcc ?? NaN, testLoss: m.testLoss ?? NaN, samplesPerSec: m.samplesPerSec,
      }),
    });
    const trainSeconds = (performance.now() - t0) / 1000;

    post({ type: 'status', text: 'condensing the trained model and timing it against the dense one…' });
    const maxBatch = Math.max(...TIMED_BATCHES);
    const dense = denseCopy(timing, model, maxBatch);
    const { net, report } = condenseModel(dense);
    const condensed = new CondensedModel(timing, net, { maxBatch });
    const runDense = (x: Float32Array, n: number): Float32Array => {
      dense.inputs.set(x);
      dense.forward(n, false);
      return dense.logits(n).slice();
    };
    const denseLogits = allLogits(runDense, test, classes, maxBatch);
    const condensedLogits = allLogits((x, n) => condensed.predict(x, n), test, classes, maxBatch);
    let denseCorrect = 0, condensedCorrect = 0, differing = 0;
    for (let i = 0; i < test.n; i++) {
      const d = argmax(denseLogits, i, classes), c = argmax(condensedLogits, i, classes);
      if (d === test.labels[i]) denseCorrect++;
      if (c === test.labels[i]) condensedCorrect++;
      if (d !== c) differing++;
    }
    const latency = TIMED_BATCHES.map((batch) => {
      const x = batchOf(test, batch);
      const t = medianLatency({ dense: () => runDense(x, batch), condensed: () => condensed.predict(x, batch) });
      return { batch, denseUs: t.dense, condensedUs: t.condensed };
    });
    const webgpuResult = await condensedOnGpu(net, condensed, test, condensedLogits, classes);
    post({
      type: 'condensed', trainSeconds, steps: result.history.at(-1)?.steps ?? 0,
      denseWeights: report.reduce((a, r) => a + r.out * r.fanIn, 0), storedWeights: report.reduce((a, r) => a + r.nActive * r.k, 0),
      layers: report.map((r) => ({ name: r.name, out: r.out, nActive: r.nActive, fanIn: r.fanIn, k: r.k })),
      accuracy: { dense: denseCorrect / test.n, condensed: condensedCorrect / test.n, n: test.n, differing },
      latency, predictions: predictions(condensedLogits, test.labels, classes), webgpu: webgpuResult,
    });
  } finally {
    await timing.close();
    await engine.close();
  }
}

async function runFile(name: string, bytes: ArrayBuffer): Promise<void> {
  const { test, testRaw } = await loadData();
  // Validated in full before anything reaches wasm memory; errors name the tensor.
  const { net, info } = readCondensed(new Uint8Array(bytes));
  if (info.dataset !== undefined && info.dataset !== 'fashion-mnist') throw new Error(`${name} was trained on ${info.dataset}; this demo has the Fashion-MNIST test images only`);
  const engine = await createEngine({ threads: 1 });
  try {
    const model = new CondensedModel(engine, net, { maxBatch: PREDICT_BATCH });
    if (model.inputSize !== test.features || model.classes !== testRaw.classes.length) {
      throw new Error(`${name} takes ${model.inputSize} inputs into ${model.classes} classes; Fashion-MNIST has ${test.features} pixels and ${testRaw.classes.length} classes`);
    }
    const logits = allLogits((x, n) => model.predict(x, n), test, model.classes, PREDICT_BATCH);
    let correct = 0;
    for (let i = 0; i < test.n; i++) if (argmax(logits, i, model.classes) === test.labels[i]) correct++;
    const latency = TIMED_BATCHES.map((batch) => {
      const x = batchOf(test, batch);
      return { batch, us: medianLatency({ condensed: () => model.predict(x, batch) }).condensed };
    });
    post({
      type: 'file-result', name, arch: net.spec.arch, kernels: engine.kernels.name, accuracy: correct / test.n, n: test.n, latency,
      predictions: predictions(logits, test.labels, model.classes), logits,
    }, [logits.buffer]);
  } finally {
    await engine.close();
  }
}

// One request at a time, in order: a file dropped during training runs after it. First, the probe.
let queue: Promise<void> = probeFeatures().then(
  (features) => post({ type: 'probe', features, threads: features.threads ? hardwareThreads() : 1, isolated: scope.crossOriginIsolated === true }),
  (err: Error) => post({ type: 'error', message: `probing WebAssembly features failed: ${err.message}` }),
);
scope.addEventListener('message', (e) => {
  const m = e.data;
  queue = queue.then(async () => {
    try {
      if (m.type === 'train') await runTraining(m.options);
      else if (m.type === 'run-file') await runFile(m.name, m.bytes);
      else await runBench(m.size).catch((err: Error) => post({ type: 'webgpu-bench-failed', message: err.message }));
    } catch (err) {
      post({ type: 'error', message: (err as Error).message });
    }
  });
});
