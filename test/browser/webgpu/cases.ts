/**
 * Node side of the WebGPU tests: random kernel cases with their references (the TypeScript
 * oracles of src/kernels: referenceSparseKernels and ReferenceKernels, run over a plain
 * ArrayBuffer), and condensed models with the wasm CondensedModel's logits.
 *
 * Each kernel case also gets a magnitude bound M per output: the same reference run on |values|,
 * |x| and |bias|, i.e. Σ|w·x| + |b|. A GPU output passes when |got − want| ≤ 1e-4 · M, the
 * relative error a sum of products in f32 is held to whatever order it adds in.
 */
import { referenceSparseKernels, type ConvGeometry } from '../../../src/kernels/condensed.js';
import type { Engine } from '../../../src/kernels/engine.js';
import { ReferenceKernels } from '../../../src/kernels/reference.js';
import { WEBGPU_VARIANTS } from '../../../src/kernels/webgpu/wgsl.js';
import { buildModel, type Arch, type Model } from '../../../src/nn/models.js';
import { packCondensed, toNMLayer, type CondensedLayer, type CondensedNMLayer } from '../../../src/sparse/condensed/layer.js';
import { CondensedModel, condenseModel, nmLayersOf, type CondensedNet } from '../../../src/sparse/condensed/model.js';
import { constantFanInMask } from '../../../src/sparse/mask.js';
import { nmMask, type NMStructure } from '../../../src/sparse/nm.js';
import { Rng } from '../../../src/tensor/rng.js';
import { SparseTraining } from '../../../src/train/sparse.js';
import type { KernelCase, ModelCase } from './wire.js';

/** A kernel case with what the GPU must produce. */
export interface Expected {
  case: KernelCase;
  want: Float32Array;
  /** Per-output magnitude bound (see the top of this file); absent for exact kernels (transpose, max pooling). */
  bound: Float32Array | null;
}

/** A plain ArrayBuffer laid out like wasm memory, for the reference kernels: each part 64-byte aligned. */
function heap(parts: (ArrayBufferView | number)[]): { buf: ArrayBuffer; at: number[] } {
  const at: number[] = [];
  let top = 64;
  for (const p of parts) {
    at.push(top);
    top = Math.ceil((top + (typeof p === 'number' ? p : p.byteLength)) / 64) * 64;
  }
  const buf = new ArrayBuffer(top);
  parts.forEach((p, i) => {
    if (typeof p !== 'number') new Uint8Array(buf, at[i], p.byteLength).set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  });
  return { buf, at };
}

const abs = <T extends Float32Array>(a: T) => a.map(Math.abs) as T;
const relu = (a: Float32Array) => a.map((v) => (v > 0 ? v : 0));
const normals = (rng: Rng, n: number) => Float32Array.from({ length: n }, () => rng.normal());

/** Yᵀ [rows, n] of a condensed (general or N:M) or dense layer by the reference kernels, for x and for the magnitude bound. */
function referenceLayer(format: 'u16' | 'u32' | 'nm' | 'dense', layer: CondensedLayer | CondensedNMLayer | DenseData, n: number, x: Float32Array, rectify: boolean): { want: Float32Array; bound: Float32Array } {
  const run = (values: Float32Array, bias: Float32Array, xs: Float32Array): Float32Array => {
    if (format === 'dense') {
      const d = layer as DenseData;
      const { buf, at } = heap([values, bias, xs, d.rows * n * 4]);
      referenceSparseKernels(() => buf).denseGemm({ rows: d.rows, cols: d.cols, W: at[0], bias: at[1] }, n, at[2], at[3]);
      return new Float32Array(buf, at[3], d.rows * n).slice();
    }
    const L = layer as CondensedLayer | CondensedNMLayer;
    const where = 'offsets' in L ? L.offsets : L.indices;
    const { buf, at } = heap([values, where, bias, xs, L.nActive * n * 4, 64]);
    const ref = referenceSparseKernels(() => buf);
    if ('offsets' in L) {
      ref.spmmNm({ rows: L.nActive, cols: L.inFeatures, k: L.k, nm: L.nm, values: at[0], offsets: at[1], groupBase: 0, bias: at[2] }, n, at[3], at[4], at[5]);
    } else {
      ref.spmmCfi('1x16', { rows: L.nActive, cols: L.inFeatures, k: L.k, indexBits: L.indices instanceof Uint16Array ? 16 : 32, values: at[0], indices: at[1], bias: at[2] }, n, at[3], at[4], at[5]);
    }
    return new Float32Array(buf, at[4], L.nActive * n).slice();
  };
  const values = format === 'dense' ? (layer as DenseData).weight : (layer as CondensedLayer).values;
  const want = run(values, layer.bias, x);
  return { want: rectify ? relu(want) : want, bound: run(abs(values), abs(layer.bias), abs(x)) };
}

interface DenseData { rows: number; cols: number; weight: Float32Array; bias: Float32Array }

/** A general condensed layer: `out` neurons over `fanIn` inputs with fan-in k, rows `ablate` emptied (bias 0). */
export function condensedLayer(rng: Rng, out: number, fanIn: number, k: number, ablate: number[] = []): CondensedLayer {
  const weight = normals(rng, out * fanIn);
  const mask = constantFanInMask(out, fanIn, k, rng);
  const bias = normals(rng, out);
  for (const r of ablate) {
    mask.fill(0, r * fanIn, (r + 1) * fanIn);
    bias[r] = 0;
  }
  return packCondensed({ outFeatures: out, inFeatures: fanIn, weight, mask, bias });
}

/** An N:M layer (nmMask), rows `ablate` emptied. */
export function nmLayer(rng: Rng, out: number, fanIn: number, nm: NMStructure, ablate: number[] = []): CondensedNMLayer {
  const weight = normals(rng, out * fanIn);
  const mask = nmMask(out, fanIn, nm, rng);
  const bias = normals(rng, out);
  for (const r of ablate) {
    mask.fill(0, r * fanIn, (r + 1) * fanIn);
    bias[r] = 0;
  }
  const layer = toNMLayer(packCondensed({ outFeatures: out, inFeatures: fanIn, weight, mask, bias }), nm);
  if (typeof layer === 'string') throw new Error(`nmLayer: ${layer}`);
  return layer;
}

/** Batches: 1, odd and below a tile, the 8-wide tile exactly, two 8-wide tiles, odd past one 64-wide tile. */
export const BATCHES = [1, 3, 8, 16, 69];

/**
 * Linear cases for every layer-kernel variant of the table, each at the batches it serves
 * (spmv/gemv at 1, spmm/gemm at the others, and once unpinned at every batch), ReLU on every
 * other case. Shapes: k not a multiple of 4, k = 1, k = fan-in, ablated rows, u32 columns
 * (fan-in > 65536), N:M with partial last groups.
 */
export function linearCases(seed: number): Expected[] {
  const rng = new Rng(seed);
  const layers: { name: string; format: 'u16' | 'u32' | 'nm' | 'dense'; layer: CondensedLayer | CondensedNMLayer | DenseData }[] = [
    { name: 'u16 37x100 k=11 (3 rows ablated)', format: 'u16', layer: condensedLayer(rng, 40, 100, 11, [2, 17, 39]) },
    { name: 'u16 64x300 k=1', format: 'u16', layer: condensedLayer(rng, 64, 300, 1) },
    { name: 'u16 5x33 k=fan-in', format: 'u16', layer: condensedLayer(rng, 5, 33, 33) },
    { name: 'u16 70x513 k=30', format: 'u16', layer: condensedLayer(rng, 70, 513, 30) },
    { name: 'u32 3x70001 k=37', format: 'u32', layer: condensedLayer(rng, 3, 70001, 37) },
    { name: 'u32 9x65600 k=3 (1 row ablated)', format: 'u32', layer: condensedLayer(rng, 10, 65600, 3, [4]) },
    { name: 'nm 2:4 31x100 (2 rows ablated)', format: 'nm', layer: nmLayer(rng, 33, 100, { n: 2, m: 4, taps: 1 }, [0, 32]) },
    { name: 'nm 1:8 20x67 (partial last group)', format: 'nm', layer: nmLayer(rng, 20, 67, { n: 1, m: 8, taps: 1 }) },
    { name: 'nm 5:16 6x203', format: 'nm', layer: nmLayer(rng, 6, 203, { n: 5, m: 16, taps: 1 }) },
    { name: 'dense 37x101', format: 'dense', layer: { rows: 37, cols: 101, weight: normals(rng, 37 * 101), bias: normals(rng, 37) } },
    { name: 'dense 70x33', format: 'dense', layer: { rows: 70, cols: 33, weight: normals(rng, 70 * 33), bias: normals(rng, 70) } },
  ];
  const out: Expected[] = [];
  let flip = false;
  for (const { name, format, layer } of layers) {
    const cols = 'cols' in layer ? layer.cols : layer.inFeatures;
    const variants = WEBGPU_VARIANTS.filter((v) => v.format === format && v.op !== 'conv');
    for (const n of BATCHES) {
      const x = normals(rng, cols * n);
      const pinned = variants.filter((v) => ((v.op === 'spmv' || v.op === 'gemv') === (n === 1)));
      for (const variant of [...pinned.map((v) => v.name), undefined]) {
        flip = !flip;
        const { want, bound } = referenceLayer(format, layer, n, x, flip);
        out.push({
          case: { kind: 'linear', name: `${name} batch ${n} ${variant ?? 'auto'}${flip ? ' relu' : ''}`, format, layer, n, x, relu: flip, variant },
          want, bound,
        });
      }
    }
  }
  return out;
}

/** Conv2d cases: strides, padding, kh ≠ kw, 1×1, batch 1 and odd batches, u16 / u32 (65538 inputs per filter) / N:M (taps = kh·kw). */
export function convCases(seed: number): Expected[] {
  const rng = new Rng(seed);
  const shapes: { name: string; g: ConvGeometry; rows: number; k: number; nm?: NMStructure; ablate?: number[] }[] = [
    { name: 'u16 3x3 stride 2 pad 1, 9x7', g: { C: 3, H: 9, W: 7, kh: 3, kw: 3, stride: 2, pad: 1 }, rows: 5, k: 7 },
    { name: 'u16 2x3 stride 1 pad 0, 6x8 (2 rows ablated)', g: { C: 4, H: 6, W: 8, kh: 2, kw: 3, stride: 1, pad: 0 }, rows: 9, k: 13, ablate: [1, 8] },
    { name: 'u16 1x1, 5x5, k=fan-in', g: { C: 6, H: 5, W: 5, kh: 1, kw: 1, stride: 1, pad: 0 }, rows: 3, k: 6 },
    { name: 'u32 3x3 pad 1, 3x3, C=7282 (65538 inputs)', g: { C: 7282, H: 3, W: 3, kh: 3, kw: 3, stride: 1, pad: 1 }, rows: 2, k: 5 },
    { name: 'nm 2:4 3x3 pad 1, 7x7, C=6', g: { C: 6, H: 7, W: 7, kh: 3, kw: 3, stride: 1, pad: 1 }, rows: 7, k: 0, nm: { n: 2, m: 4, taps: 9 } },
  ];
  const out: Expected[] = [];
  let flip = false;
  for (const s of shapes) {
    const fanIn = s.g.C * s.g.kh * s.g.kw;
    const layer = s.nm ? nmLayer(rng, s.rows, fanIn, s.nm, s.ablate) : condensedLayer(rng, s.rows, fanIn, s.k, s.ablate);
    for (const n of [1, 3, 5]) {
      flip = !flip;
      const x = normals(rng, n * s.g.C * s.g.H * s.g.W);
      const OH = Math.floor((s.g.H + 2 * s.g.pad - s.g.kh) / s.g.stride) + 1, OW = Math.floor((s.g.W + 2 * s.g.pad - s.g.kw) / s.g.stride) + 1;
      const run = (values: Float32Array, bias: Float32Array, xs: Float32Array) => {
        const where = 'offsets' in layer ? layer.offsets : layer.indices;
        const size = n * layer.nActive * OH * OW;
        const { buf, at } = heap([values, where, bias, xs, size * 4]);
        const ref = referenceSparseKernels(() => buf);
        if ('offsets' in layer) ref.convNm({ rows: layer.nActive, cols: fanIn, k: layer.k, nm: layer.nm, values: at[0], offsets: at[1], groupBase: 0, bias: at[2] }, s.g, n, at[3], at[4], 0);
        else ref.convCfi({ rows: layer.nActive, cols: fanIn, k: layer.k, indexBits: layer.indices instanceof Uint16Array ? 16 : 32, values: at[0], indices: at[1], bias: at[2] }, s.g, n, at[3], at[4], 0);
        return new Float32Array(buf, at[4], size).slice();
      };
      const want = run(layer.values, layer.bias, x);
      out.push({
        case: { kind: 'conv', name: `conv ${s.name} batch ${n}${flip ? ' relu' : ''}`, layer, geometry: s.g, n, x, relu: flip },
        want: flip ? relu(want) : want, bound: run(abs(layer.values), abs(layer.bias), abs(x)),
      });
    }
  }
  return out;
}

/** The elementwise and layout kernels: bias + ReLU in both layouts, add, max and average pooling, transpose. */
export function elementwiseCases(seed: number): Expected[] {
  const rng = new Rng(seed);
  const out: Expected[] = [];
  const ref = (parts: (ArrayBufferView | number)[], f: (k: ReferenceKernels, at: number[]) => void, outPart: number, count: number) => {
    const { buf, at } = heap(parts);
    f(new ReferenceKernels(() => buf), at);
    return new Float32Array(buf, at[outPart], count).slice();
  };
  for (const n of [1, 5, 37]) {
    // [rows, n] (a Linear's output): channel = row, inner = n.
    const rows = 45;
    const x = normals(rng, rows * n), bias = normals(rng, rows);
    const withBias = (xs: Float32Array, b: Float32Array, rect: boolean) => {
      const y = ref([xs, b], (k, at) => k.addBiasChannels(1, rows, n, at[0], at[1]), 0, rows * n);
      return rect ? relu(y) : y;
    };
    out.push({ case: { kind: 'bias_relu', name: `bias+relu [rows, n] batch ${n}`, n, perExample: rows, x, bias, channels: rows, inner: 'n', relu: true }, want: withBias(x, bias, true), bound: withBias(abs(x), abs(bias), false) });
    out.push({ case: { kind: 'bias_relu', name: `bias only [rows, n] batch ${n}`, n, perExample: rows, x, bias, channels: rows, inner: 'n', relu: false }, want: withBias(x, bias, false), bound: withBias(abs(x), abs(bias), false) });
    // [n, C, S] (a feature map): channel = (i / S) % C.
    const C = 6, S = 11;
    const fm = normals(rng, n * C * S), cb = normals(rng, C);
    const mapBias = (xs: Float32Array, b: Float32Array) => ref([xs, b], (k, at) => k.addBiasChannels(n, C, S, at[0], at[1]), 0, n * C * S);
    out.push({ case: { kind: 'bias_relu', name: `bias+relu [n, C, S] batch ${n}`, n, perExample: C * S, x: fm, bias: cb, channels: C, inner: S, relu: true }, want: relu(mapBias(fm, cb)), bound: mapBias(abs(fm), abs(cb)) });
    out.push({ case: { kind: 'bias_relu', name: `relu only batch ${n}`, n, perExample: C * S, x: fm, bias: null, channels: 1, inner: 1, relu: true }, want: relu(fm), bound: abs(fm) });
    const other = normals(rng, n * C * S);
    out.push({
      case: { kind: 'add', name: `add batch ${n}`, n, perExample: C * S, x: fm, other },
      want: ref([fm, other, fm.byteLength], (k, at) => k.add(n * C * S, at[0], at[1], at[2]), 2, n * C * S), bound: abs(fm).map((v, i) => v + Math.abs(other[i])),
    });
    for (const [H, W, kernel, stride] of [[8, 6, 2, 2], [7, 9, 3, 2]]) {
      const OH = Math.floor((H - kernel) / stride) + 1, OW = Math.floor((W - kernel) / stride) + 1;
      const xs = normals(rng, n * C * H * W);
      out.push({
        case: { kind: 'maxpool', name: `maxpool ${H}x${W} k${kernel} s${stride} batch ${n}`, n, C, H, W, kernel, stride, x: xs },
        want: ref([xs, n * C * OH * OW * 4, n * C * OH * OW * 4], (k, at) => k.maxPoolForward(n * C, H, W, kernel, stride, at[0], at[1], at[2]), 1, n * C * OH * OW), bound: null,
      });
    }
    const planes = normals(rng, n * C * 49);
    const pool = (xs: Float32Array) => ref([xs, n * C * 4], (k, at) => k.globalAvgPoolForward(n * C, 49, at[0], at[1]), 1, n * C);
    out.push({ case: { kind: 'avgpool', name: `avgpool 7x7 batch ${n}`, n, C, S: 49, x: planes }, want: pool(planes), bound: pool(abs(planes)) });
  }
  for (const [r, c] of [[1, 1], [5, 37], [37, 5], [33, 70]]) {
    const xs = normals(rng, r * c);
    const { buf, at } = heap([xs, xs.byteLength]);
    referenceSparseKernels(() => buf).transpose(r, c, at[0], at[1]);
    out.push({ case: { kind: 'transpose', name: `transpose ${r}x${c}`, rows: r, cols: c, x: xs }, want: new Float32Array(buf, at[1], r * c).slice(), bound: null });
  }
  return out;
}

/**
 * A model with SRigL-shaped masks: constant fan-in ≈ 10% per layer, about a fifth of each hidden
 * layer's neurons ablated (mask row and bias zeroed), nonzero biases; the first layer dense when
 * `denseFirst`. A resnet gets random BatchNorm statistics so folded biases take both signs.
 */
function maskedModel(engine: Engine, arch: Arch, seed: number, inputShape: [number, number, number], denseFirst: boolean): Model {
  const model = buildModel(engine, { arch, inputShape, classes: 10 }, { maxBatch: 8, seed });
  const rng = new Rng(seed + 100);
  for (const l of model.sparsifiable()) {
    if (l.bias) for (let i = 0; i < l.out; i++) l.bias.value.data[i] = 0.1 * rng.normal();
    if (l.isFirst && denseFirst) continue;
    const mask = constantFanInMask(l.out, l.fanIn, Math.max(1, Math.round(0.1 * l.fanIn)), rng);
    if (!l.isClassifier) {
      for (let r = 0; r < l.out; r++) {
        if (rng.uniform() >= 0.2) continue;
        mask.fill(0, r * l.fanIn, (r + 1) * l.fanIn);
        if (l.bias) l.bias.value.data[r] = 0;
      }
    }
    l.weight.setMask(mask);
  }
  for (const t of model.stateTensors()) {
    const draw = (f: () => number) => Float32Array.from({ length: t.size }, f);
    if (t.name.endsWith('.running_mean')) t.assign(draw(() => 0.5 * rng.normal()));
    else if (t.name.endsWith('.running_var')) t.assign(draw(() => 0.3 + 1.5 * rng.uniform()));
  }
  return model;
}

/** An N:M 2:4 model from SparseTraining (its conv layers N:M over channels at each of 9 taps), biases nonzero. */
function nmModel(engine: Engine, arch: Arch, seed: number): { model: Model; nm: Record<string, NMStructure> } {
  const model = buildModel(engine, { arch, inputShape: [1, 28, 28], classes: 10 }, { maxBatch: 8, seed });
  const sparse = SparseTraining.create(model, { method: 'srigl', nm: { n: 2, m: 4 }, distribution: arch === 'mlp' ? 'uniform' : 'erk', seed });
  const rng = new Rng(seed + 7);
  for (const l of model.sparsifiable()) if (l.bias) for (let i = 0; i < l.out; i++) l.bias.value.data[i] = 0.1 * rng.normal();
  return { model, nm: nmLayersOf(JSON.parse(JSON.stringify(sparse.info()))) };
}

/** The models the GPU must run, with the wasm CondensedModel's logits (nmKernel 'nm', so N:M layers run their own kernels there too). */
export function modelCases(engine: Engine, seed: number): { cases: ModelCase[]; wasmLogits: Map<string, Float32Array>; formats: Map<string, string[]> } {
  const rng = new Rng(seed);
  const nets: { name: string; net: CondensedNet; inputSize: number }[] = [];
  const add = (name: string, model: Model, nm?: Record<string, NMStructure>) => {
    const { net } = condenseModel(model, { nm });
    const [C, H, W] = model.spec.inputShape;
    nets.push({ name, net, inputSize: C * H * W });
  };
  add('mlp (ablated neurons)', maskedModel(engine, 'mlp', seed, [1, 28, 28], false));
  add('cnn (dense first conv, ablated filters)', maskedModel(engine, 'cnn', seed + 1, [1, 28, 28], true));
  add('resnet 10x10 (folded BatchNorm, residual save/swap/add, avgpool)', maskedModel(engine, 'resnet', seed + 2, [1, 10, 10], false));
  const nmMlp = nmModel(engine, 'mlp', seed + 3);
  add('mlp N:M 2:4', nmMlp.model, nmMlp.nm);
  const nmCnn = nmModel(engine, 'cnn', seed + 4);
  add('cnn N:M 2:4 (conv taps)', nmCnn.model, nmCnn.nm);
  const batches = [1, 3, 37];
  const cases: ModelCase[] = [];
  const wasmLogits = new Map<string, Float32Array>();
  const formats = new Map<string, string[]>();
  for (const { name, net, inputSize } of nets) {
    const x = normals(rng, Math.max(...batches) * inputSize);
    const cm = new CondensedModel(engine, net, { maxBatch: 16, nmKernel: 'nm' });
    for (const n of batches) wasmLogits.set(`${name} batch ${n}`, cm.predict(x, n));
    formats.set(name, net.ops.flatMap((o) => (o.kind === 'linear' || o.kind === 'conv2d' ? [`${o.kind}:${'offsets' in o.layer ? 'nm' : 'indices'}`] : [])));
    cases.push({ name, net, x, batches });
  }
  return { cases, wasmLogits, formats };
}
