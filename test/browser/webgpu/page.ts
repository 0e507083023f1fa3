/**
 * The WebGPU test page (bundled by test/browser/webgpu.test.ts with esbuild, the platform seam
 * resolved to src/platform/browser.ts). It exposes `window.sriglWebgpu`: the Node side fetches
 * nothing itself; it calls these functions through the browser, which fetch the cases the test
 * server holds, run them on the GPU and return the outputs for Node to compare with its
 * references.
 */
import { formatWebGpuBench, runWebGpuBench } from '../../../bench/webgpu/bench.js';
import { createEngine } from '../../../src/kernels/engine.js';
import { createCondensedRunner, type CondensedRunner, type WasmPredictor } from '../../../src/kernels/webgpu/backend.js';
import { compilePipeline, requestGpu, WebGpuError, type GpuContext } from '../../../src/kernels/webgpu/device.js';
import type { GPU, GPUAdapter, GPUDevice } from '../../../src/kernels/webgpu/gpu-types.js';
import { GpuKernels, type CondensedLayerData, type CondensedNMLayerData, type GpuLayer } from '../../../src/kernels/webgpu/kernels.js';
import { CondensedGpuModel, type GpuNetInput } from '../../../src/kernels/webgpu/model.js';
import { WEBGPU_VARIANTS } from '../../../src/kernels/webgpu/wgsl.js';
import { CondensedModel, type CondensedNet } from '../../../src/sparse/condensed/model.js';
import { decodeTree, f32ToBase64, type CaseResult, type KernelCase, type ModelCase } from './wire.js';

async function fetchTree<T>(name: string): Promise<T> {
  const [json, bin] = await Promise.all([fetch(`/data/${name}.json`).then((r) => r.text()), fetch(`/data/${name}.bin`).then((r) => r.arrayBuffer())]);
  return decodeTree<T>(json, new Uint8Array(bin));
}

let shared: Promise<{ ctx: GpuContext; kernels: GpuKernels }> | null = null;
function gpu() {
  shared ??= requestGpu().then((ctx) => ({ ctx, kernels: GpuKernels.create(ctx) }));
  return shared;
}

const message = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

async function runKernelCase(k: GpuKernels, c: KernelCase): Promise<Float32Array> {
  const dev = k.buffer.bind(k);
  switch (c.kind) {
    case 'linear': {
      let layer: GpuLayer;
      let rows: number;
      if (c.format === 'dense') {
        const d = c.layer as { rows: number; cols: number; weight: Float32Array; bias: Float32Array };
        layer = k.uploadDense(d.rows, d.cols, d.weight, d.bias, c.name);
        rows = d.rows;
      } else {
        layer = c.format === 'nm' ? k.uploadCondensedNM(c.layer as CondensedNMLayerData, c.name) : k.uploadCondensed(c.layer as CondensedLayerData, c.name);
        rows = layer.rows;
      }
      const x = dev(c.x), y = dev(rows * c.n * 4);
      const call = await k.linear(layer, x, y, { relu: c.relu, variant: c.variant });
      await k.run([call], c.n);
      return k.read(y, rows * c.n);
    }
    case 'conv': {
      const layer = 'offsets' in (c.layer as object) ? k.uploadCondensedNM(c.layer as CondensedNMLayerData, c.name) : k.uploadCondensed(c.layer as CondensedLayerData, c.name);
      const g = c.geometry;
      const OH = Math.floor((g.H + 2 * g.pad - g.kh) / g.stride) + 1, OW = Math.floor((g.W + 2 * g.pad - g.kw) / g.stride) + 1;
      const x = dev(c.x), y = dev(c.n * layer.rows * OH * OW * 4);
      await k.run([await k.conv(layer, g, x, y, { relu: c.relu })], c.n);
      return k.read(y, c.n * layer.rows * OH * OW);
    }
    case 'bias_relu': {
      const x = dev(c.x), y = dev(c.x.byteLength);
      const inner = c.inner;
      const call = await k.biasRelu(x, y, { perExample: c.perExample, bias: c.bias ? dev(c.bias) : undefined, channels: c.channels, inner: (n) => (inner === 'n' ? n : inner), relu: c.relu });
      await k.run([call], c.n);
      return k.read(y, c.x.length);
    }
    case 'add': {
      const x = dev(c.x), o = dev(c.other), y = dev(c.x.byteLength);
      await k.run([await k.add(x, o, y, c.perExample)], c.n);
      return k.read(y, c.x.length);
    }
    case 'maxpool': {
      const OH = Math.floor((c.H - c.kernel) / c.stride) + 1, OW = Math.floor((c.W - c.kernel) / c.stride) + 1;
      const x = dev(c.x), y = dev(c.n * c.C * OH * OW * 4);
      await k.run([await k.maxPool(x, y, c.C, c.H, c.W, c.kernel, c.stride)], c.n);
      return k.read(y, c.n * c.C * OH * OW);
    }
    case 'avgpool': {
      const x = dev(c.x), y = dev(c.n * c.C * 4);
      await k.run([await k.avgPool(x, y, c.C, c.S)], c.n);
      return k.read(y, c.n * c.C);
    }
    case 'transpose': {
      const x = dev(c.x), y = dev(c.x.byteLength);
      await k.run([await k.transpose(x, y, () => c.rows, () => c.cols)], 1);
      return k.read(y, c.x.length);
    }
  }
}

/** The browser's own WebAssembly path for a condensed net (what 'auto' falls back to). */
async function wasmFactory(net: CondensedNet): Promise<WasmPredictor> {
  const engine = await createEngine({ threads: 1 });
  return new CondensedModel(engine, net, { maxBatch: 64, closeEngine: true });
}

/** A navigator.gpu stand-in that hands out the real adapter, recording the device, and lets a test rewrite shader code. */
function spyGpu(rewrite: (label: string, code: string) => string = (_l, c) => c): { gpu: GPU; device: () => GPUDevice } {
  let captured: GPUDevice | null = null;
  const real = (navigator as unknown as { gpu: GPU }).gpu;
  const gpu: GPU = {
    requestAdapter: async (o) => {
      const a = await real.requestAdapter(o);
      if (a === null) return null;
      const adapter: GPUAdapter = {
        info: a.info, limits: a.limits,
        requestDevice: async (d) => {
          const dev = await a.requestDevice(d);
          captured = new Proxy(dev, {
            get(target, prop) {
              if (prop === 'createShaderModule') {
                return (desc: { label?: string; code: string }) => target.createShaderModule({ ...desc, code: rewrite(desc.label ?? '', desc.code) });
              }
              const v = Reflect.get(target, prop);
              return typeof v === 'function' ? v.bind(target) : v;
            },
            set(target, prop, value) {
              return Reflect.set(target, prop, value);
            },
          });
          return captured;
        },
      };
      return adapter;
    },
  };
  return { gpu, device: () => captured! };
}

interface Outcome {
  backend?: string;
  fallbackReason?: string | null;
  fallbacks?: string[];
  error?: string;
  errorReason?: string;
  logits?: string;
  after?: { backend: string; fallbackReason: string | null; logits?: string; error?: string; errorReason?: string };
}

/** Runs `make()`, then one batch; `then` may break something before a second batch. */
async function scenario(make: (fallbacks: string[]) => Promise<CondensedRunner>, x: Float32Array, batch: number, then?: () => void | Promise<void>): Promise<Outcome> {
  const fallbacks: string[] = [];
  let runner: CondensedRunner;
  try {
    runner = await make(fallbacks);
  } catch (e) {
    return { error: message(e), errorReason: e instanceof WebGpuError ? e.reason : undefined, fallbacks };
  }
  const out: Outcome = { backend: runner.backend, fallbackReason: runner.fallbackReason, fallbacks };
  out.logits = f32ToBase64(await runner.run(x, batch));
  if (then) {
    await then();
    try {
      const logits = f32ToBase64(await runner.run(x, batch));
      out.after = { backend: runner.backend, fallbackReason: runner.fallbackReason, logits };
    } catch (e) {
      out.after = { backend: runner.backend, fallbackReason: runner.fallbackReason, error: message(e), errorReason: e instanceof WebGpuError ? e.reason : undefined };
    }
  }
  await runner.close();
  return out;
}

const api = {
  /** The adapter, or why there is none. */
  async probe(): Promise<{ adapter: string | null; software: boolean; error?: string }> {
    try {
      const { ctx } = await gpu();
      return { adapter: ctx.adapter!.label, software: ctx.adapter!.software };
    } catch (e) {
      return { adapter: null, software: false, error: message(e) };
    }
  },

  /** Compiles every variant of the table; returns the names that failed, with their errors. */
  async compileAll(): Promise<Record<string, string>> {
    const { kernels } = await gpu();
    const failed: Record<string, string> = {};
    await Promise.all(WEBGPU_VARIANTS.map((v) => kernels.prepare([v]).catch((e) => (failed[v.name] = message(e)))));
    return failed;
  },

  /** A deliberately broken kernel: the compile error the user would see. */
  async compileBroken(): Promise<string> {
    const { ctx } = await gpu();
    const v = WEBGPU_VARIANTS[0];
    try {
      // Any layout will do: compilation fails before the pipeline meets it.
      const layout = ctx.device.createBindGroupLayout({ entries: [] });
      await compilePipeline(ctx, 'broken_kernel', `${v.source}\nfn broken() -> u32 { return 1.5; }\n`, layout);
      return 'compiled';
    } catch (e) {
      return message(e);
    }
  },

  /** The bench/webgpu benchmark at a toy size: its table, or the error. */
  async bench(): Promise<{ table?: string; rows?: number; error?: string }> {
    try {
      const r = await runWebGpuBench({ inFeatures: 96, outFeatures: 40, sparsities: [0.9], batches: [1, 3], rounds: 1, sampleMs: 1 });
      return { table: formatWebGpuBench(r), rows: r.rows.length };
    } catch (e) {
      return { error: message(e) };
    }
  },

  /** Runs the kernel cases in /data/<group>; returns each case's output or error. */
  async kernelCases(group: string): Promise<Record<string, CaseResult>> {
    const { kernels } = await gpu();
    const cases = await fetchTree<KernelCase[]>(group);
    const out: Record<string, CaseResult> = {};
    for (const c of cases) {
      try {
        out[c.name] = { out: f32ToBase64(await runKernelCase(kernels, c)) };
      } catch (e) {
        out[c.name] = { error: message(e) };
      }
    }
    return out;
  },

  /** Runs each model of /data/<group> on CondensedGpuModel at each batch: logits per `${name} batch ${n}`. */
  async modelCases(group: string): Promise<Record<string, CaseResult>> {
    const { ctx } = await gpu();
    const cases = await fetchTree<ModelCase[]>(group);
    const out: Record<string, CaseResult> = {};
    for (const c of cases) {
      let model: CondensedGpuModel | null = null;
      try {
        model = await CondensedGpuModel.create(ctx, c.net as GpuNetInput, { maxBatch: 32 });
        for (const n of c.batches) out[`${c.name} batch ${n}`] = { out: f32ToBase64(await model.run(c.x, n)) };
      } catch (e) {
        out[`${c.name}`] = { error: message(e) };
      } finally {
        await model?.close();
      }
    }
    return out;
  },

  /** Backend choice and failure handling on one model (the first of /data/<group>) at batch `batch`. */
  async scenarios(group: string, batch: number): Promise<Record<string, Outcome>> {
    const [c] = await fetchTree<ModelCase[]>(group);
    const net = c.net as CondensedNet;
    const wasm = () => wasmFactory(net);
    const noAdapter: GPU = { requestAdapter: async () => null };
    const onFallback = (f: string[]) => (reason: string) => f.push(reason);
    const r: Record<string, Outcome> = {};
    r.autoSoftwareUse = await scenario((f) => createCondensedRunner(net, { wasm, softwareAdapter: 'use', onFallback: onFallback(f) }), c.x, batch);
    r.autoSoftwareSkip = await scenario((f) => createCondensedRunner(net, { wasm, onFallback: onFallback(f) }), c.x, batch);
    r.forcedWebgpu = await scenario(() => createCondensedRunner(net, { backend: 'webgpu' }), c.x, batch);
    r.wasm = await scenario(() => createCondensedRunner(net, { backend: 'wasm', wasm }), c.x, batch);
    r.forcedNoGpu = await scenario(() => createCondensedRunner(net, { backend: 'webgpu', gpu: null }), c.x, batch);
    r.autoNoGpu = await scenario((f) => createCondensedRunner(net, { wasm, gpu: null, onFallback: onFallback(f) }), c.x, batch);
    r.forcedNoAdapter = await scenario(() => createCondensedRunner(net, { backend: 'webgpu', gpu: noAdapter }), c.x, batch);
    r.autoNoAdapter = await scenario((f) => createCondensedRunner(net, { wasm, gpu: noAdapter, onFallback: onFallback(f) }), c.x, batch);
    // One kernel that does not compile (a type error appended to the batched condensed kernels' source).
    const broken = (label: string, code: string) => (label.startsWith('spmm_') || label.startsWith('spmv_') ? `${code}\nfn broken() -> u32 { return 1.5; }\n` : code);
    r.forcedCompileError = await scenario(() => createCondensedRunner(net, { backend: 'webgpu', gpu: spyGpu(broken).gpu }), c.x, batch);
    r.autoCompileError = await scenario((f) => createCondensedRunner(net, { wasm, gpu: spyGpu(broken).gpu, softwareAdapter: 'use', onFallback: onFallback(f) }), c.x, batch);
    // The device is lost between two batches (destroy() is what a driver reset looks like to the page).
    const lostForced = spyGpu();
    r.forcedLost = await scenario(() => createCondensedRunner(net, { backend: 'webgpu', gpu: lostForced.gpu }), c.x, batch, () => lostForced.device().destroy());
    const lostAuto = spyGpu();
    r.autoLost = await scenario((f) => createCondensedRunner(net, { wasm, gpu: lostAuto.gpu, softwareAdapter: 'use', onFallback: onFallback(f) }), c.x, batch, () => lostAuto.device().destroy());
    // An op kind the WebGPU backend does not run.
    const odd = { ...net, ops: [...net.ops.slice(0, 1), { kind: 'layernorm' }, ...net.ops.slice(1)] } as unknown as CondensedNet;
    r.forcedUnknownOp = await scenario(() => createCondensedRunner(odd, { backend: 'webgpu' }), c.x, batch);
    r.autoUnknownOp = await scenario((f) => createCondensedRunner(odd, { wasm: () => ({ predict: () => new Float32Array(batch * 10).fill(7) }), softwareAdapter: 'use', onFallback: onFallback(f) }), c.x, batch);
    return r;
  },
};

// The test waits for this global. (No DOM use at top level: Node's test runner also loads this file from dist/test/.)
(globalThis as unknown as { sriglWebgpu: typeof api }).sriglWebgpu = api;
