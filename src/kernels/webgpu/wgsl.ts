/**
 * WGSL sources of the WebGPU inference kernels, and the one table of their variants
 * (`WEBGPU_VARIANTS`) that the tests and the benchmark iterate over, as they do over the wasm
 * kernels' table (src/kernels/condensed.ts).
 *
 * Layouts are the wasm kernels' (src/kernels/condensed.ts): batch 1 reads x [in] and writes
 * y [rows]; batched kernels read batch-contiguous Xᵀ [in, n] and write Yᵀ [rows, n];
 * convolutions read X [n, C, H, W] and write Y [n, rows, OH, OW]. A condensed layer is values
 * f32 [rows·k], its input columns (u16 packed two per u32 word, or u32) or N:M offsets (u8 packed
 * four per word, plus the k group bases shared by all rows) and bias [rows]. Every layer kernel adds
 * the bias and, when its `relu` parameter is 1, applies ReLU (the model runner fuses a ReLU that
 * follows a layer). Sums are f32 in the order each kernel's loop gives.
 *
 * Each kernel's uniform parameters are a list of u32 fields (`PARAMS`); the WGSL struct and the
 * host's packing (kernels.ts) are both generated from that list, so they cannot disagree.
 */

/** How a layer says which input each weight reads. */
export type WeightFormat = 'u16' | 'u32' | 'nm' | 'dense';

/** Kernel families; each has one uniform parameter list and one binding layout. */
export type GpuOp = 'spmv' | 'spmm' | 'gemv' | 'gemm' | 'conv' | 'bias_relu' | 'transpose' | 'maxpool' | 'avgpool' | 'add';

/** Uniform parameters of each op, in struct order. */
export const PARAMS = {
  /** Condensed layer (any format, including dense as k = cols): rows, k per row, input features, batch, N:M taps, ReLU flag. */
  layer: ['rows', 'k', 'cols', 'n', 'taps', 'relu'],
  /** Condensed Conv2d: the layer's rows and k, batch, input plane C × H × W, kernel, stride, padding, output plane, N:M taps, ReLU flag. */
  conv: ['rows', 'k', 'n', 'C', 'H', 'W', 'kh', 'kw', 'stride', 'pad', 'OH', 'OW', 'taps', 'relu'],
  /** y = act(x + bias[(i / inner) % channels]) over count elements; bias only when hasBias = 1, ReLU when relu = 1. */
  bias_relu: ['count', 'inner', 'channels', 'hasBias', 'relu'],
  /** y [cols, rows] = x [rows, cols]ᵀ. */
  transpose: ['rows', 'cols'],
  /** Max pooling of planes H × W (kernel × kernel windows, stride) into OH × OW. */
  maxpool: ['planes', 'H', 'W', 'OH', 'OW', 'kernel', 'stride'],
  /** Mean of each of `planes` planes of S values. */
  avgpool: ['planes', 'S'],
  /** y = x + other over count elements. */
  add: ['count'],
} as const;

export type ParamSet = keyof typeof PARAMS;
export type ParamValues<S extends ParamSet> = Record<(typeof PARAMS)[S][number], number>;

/**
 * Binding layouts (explicit, so one bind group serves every variant of an op):
 * 0 uniform params; 1 values (or W; the bias of bias_relu; the other operand of add); 2 indices or
 * offsets; 3 bias; 4 x (read); 5 y (written); 6 N:M group bases. No kernel writes a buffer it
 * reads (WebGPU forbids binding one buffer both ways in a dispatch), so none works in place.
 */
export type BindingLayout = 'sparse' | 'nm' | 'dense' | 'binary' | 'map';

/** Storage bindings of each layout: binding number and whether the kernel writes it. */
export const LAYOUT_BINDINGS: Record<BindingLayout, readonly { binding: number; write: boolean }[]> = {
  sparse: [{ binding: 1, write: false }, { binding: 2, write: false }, { binding: 3, write: false }, { binding: 4, write: false }, { binding: 5, write: true }],
  nm: [{ binding: 1, write: false }, { binding: 2, write: false }, { binding: 3, write: false }, { binding: 4, write: false }, { binding: 5, write: true }, { binding: 6, write: false }],
  dense: [{ binding: 1, write: false }, { binding: 3, write: false }, { binding: 4, write: false }, { binding: 5, write: true }],
  binary: [{ binding: 1, write: false }, { binding: 4, write: false }, { binding: 5, write: true }],
  map: [{ binding: 4, write: false }, { binding: 5, write: true }],
};

/** One kernel variant: what it computes, its tile, and its WGSL. */
export interface WebGpuVariant {
  /** What, then how: e.g. `spmm_cfi_f32_u16_4x64__webgpu` (4 rows × 64 batch columns per workgroup). */
  readonly name: string;
  readonly op: GpuOp;
  /** For layer kernels: the weight format it reads. */
  readonly format: WeightFormat | null;
  readonly params: ParamSet;
  readonly layout: BindingLayout;
  /**
   * Output tile of one workgroup: rows × batch columns (spmm, gemm), rows (spmv, gemv; `lanes`
   * threads share a row), rows × output positions (conv), elements (the rest).
   */
  readonly tile: { readonly rows: number; readonly cols: number; readonly lanes?: number };
  readonly source: string;
}

const WG_ELEMENTWISE = 256;

function struct(set: ParamSet): string {
  const fields = PARAMS[set];
  // Uniform structs are sized in 16-byte units; pad so the host can write whole vec4s.
  const padded = Math.ceil(fields.length / 4) * 4;
  const lines = fields.map((f) => `  ${f}: u32,`);
  for (let i = fields.length; i < padded; i++) lines.push(`  _pad${i}: u32,`);
  return `struct Params {\n${lines.join('\n')}\n}\n@group(0) @binding(0) var<uniform> P: Params;\n`;
}

/** Storage declarations and `col_of(p, j)`: the input column of weight j of a row, at flat position p. */
function weightAccess(format: WeightFormat): string {
  const common = '@group(0) @binding(1) var<storage, read> values: array<f32>;\n@group(0) @binding(3) var<storage, read> bias: array<f32>;\n';
  switch (format) {
    case 'u16':
      return `${common}@group(0) @binding(2) var<storage, read> idx: array<u32>;
fn col_of(p: u32, j: u32) -> u32 { return (idx[p >> 1u] >> ((p & 1u) << 4u)) & 0xffffu; }
`;
    case 'u32':
      return `${common}@group(0) @binding(2) var<storage, read> idx: array<u32>;
fn col_of(p: u32, j: u32) -> u32 { return idx[p]; }
`;
    case 'nm':
      return `${common}@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(6) var<storage, read> gbase: array<u32>;
fn col_of(p: u32, j: u32) -> u32 { return gbase[j] + ((idx[p >> 2u] >> ((p & 3u) << 3u)) & 0xffu) * P.taps; }
`;
    case 'dense':
      return `${common}fn col_of(p: u32, j: u32) -> u32 { return j; }
`;
  }
}

const IO = '@group(0) @binding(4) var<storage, read> x: array<f32>;\n@group(0) @binding(5) var<storage, read_write> y: array<f32>;\n';
const ACT = 'fn act(v: f32) -> f32 { return select(v, max(v, 0.0), P.relu != 0u); }\n';

/**
 * Batch 1, one workgroup per block of `rows` output rows, `lanes` threads per row: each lane
 * gathers x at its share of the row's k columns (lane, lane + lanes, …, so neighbouring lanes
 * read neighbouring weights), then the lanes reduce in workgroup memory. Dense rows are the same
 * with column j = j.
 */
function gemvSource(format: WeightFormat, rows: number, lanes: number): string {
  return `${struct('layer')}${weightAccess(format)}${IO}${ACT}
const ROWS = ${rows}u;
const LANES = ${lanes}u;
var<workgroup> part: array<f32, ${rows * lanes}>;

@compute @workgroup_size(${rows * lanes})
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let lane = li % LANES;
  let r = (wg.x + wg.y * nwg.x) * ROWS + li / LANES;
  var s = 0.0;
  if (r < P.rows) {
    let base = r * P.k;
    for (var j = lane; j < P.k; j += LANES) {
      s += values[base + j] * x[col_of(base + j, j)];
    }
  }
  part[li] = s;
  workgroupBarrier();
  for (var h = LANES / 2u; h > 0u; h >>= 1u) {
    if (lane < h) { part[li] += part[li + h]; }
    workgroupBarrier();
  }
  if (lane == 0u && r < P.rows) {
    y[r] = act(part[li] + bias[r]);
  }
}
`;
}

/**
 * Batched condensed layer: a workgroup computes `rowsPer` rows × (lanesX · perThread) batch
 * columns. The rows' weights and columns come into workgroup memory KC at a time, once, and every
 * thread of the tile reuses them for its batch columns (column b = b0 + lane + q·lanesX, so a row
 * of threads reads contiguous Xᵀ values). Threads past the batch clamp their reads and store nothing.
 */
function spmmSource(format: Exclude<WeightFormat, 'dense'>, rowsPer: number, lanesX: number, perThread: number, kc = 64): string {
  return `${struct('layer')}${weightAccess(format)}${IO}${ACT}
const LX = ${lanesX}u;
const LY = ${rowsPer}u;
const BQ = ${perThread}u;
const KC = ${kc}u;
var<workgroup> wv: array<f32, ${rowsPer * kc}>;
var<workgroup> wc: array<u32, ${rowsPer * kc}>;

@compute @workgroup_size(${lanesX}, ${rowsPer})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r0 = (wg.y + wg.z * nwg.y) * LY;
  let r = r0 + lid.y;
  let b0 = wg.x * (LX * BQ) + lid.x;
  let last = P.n - 1u;
  var acc: array<f32, ${perThread}>;
  for (var kc = 0u; kc < P.k; kc += KC) {
    for (var t = li; t < LY * KC; t += LX * LY) {
      let rr = r0 + t / KC;
      let j = kc + t % KC;
      var v = 0.0;
      var c = 0u;
      if (rr < P.rows && j < P.k) {
        let p = rr * P.k + j;
        v = values[p];
        c = col_of(p, j);
      }
      wv[t] = v;
      wc[t] = c * P.n;
    }
    workgroupBarrier();
    let jn = min(KC, P.k - kc);
    let w0 = lid.y * KC;
    for (var j = 0u; j < jn; j++) {
      let w = wv[w0 + j];
      let xb = wc[w0 + j];
      for (var q = 0u; q < BQ; q++) {
        acc[q] += w * x[xb + min(b0 + q * LX, last)];
      }
    }
    workgroupBarrier();
  }
  if (r < P.rows) {
    let bb = bias[r];
    for (var q = 0u; q < BQ; q++) {
      let b = b0 + q * LX;
      if (b < P.n) { y[r * P.n + b] = act(acc[q] + bb); }
    }
  }
}
`;
}

/**
 * Dense Yᵀ = W·Xᵀ + bias, tiled: a workgroup of lanesX × lanesY threads computes a
 * (lanesY·perRow) × (lanesX·perCol) tile, staging TK-wide slices of W and Xᵀ in workgroup memory
 * (zero-filled past the edges) so each loaded value is used by a whole row or column of threads.
 */
function gemmSource(lanesX: number, lanesY: number, perCol: number, perRow: number, tk = 16): string {
  const TM = lanesY * perRow, TN = lanesX * perCol;
  return `${struct('layer')}${weightAccess('dense')}${IO}${ACT}
const LX = ${lanesX}u;
const LY = ${lanesY}u;
const PB = ${perCol}u;
const PR = ${perRow}u;
const TM = ${TM}u;
const TN = ${TN}u;
const TK = ${tk}u;
var<workgroup> ws: array<f32, ${TM * tk}>;
var<workgroup> xs: array<f32, ${tk * TN}>;

@compute @workgroup_size(${lanesX}, ${lanesY})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r0 = (wg.y + wg.z * nwg.y) * TM;
  let b0 = wg.x * TN;
  var acc: array<f32, ${perRow * perCol}>;
  var a: array<f32, ${perRow}>;
  var xv: array<f32, ${perCol}>;
  for (var k0 = 0u; k0 < P.cols; k0 += TK) {
    for (var t = li; t < TM * TK; t += LX * LY) {
      let rr = r0 + t / TK;
      let c = k0 + t % TK;
      ws[t] = select(0.0, values[rr * P.cols + c], rr < P.rows && c < P.cols);
    }
    for (var t = li; t < TK * TN; t += LX * LY) {
      let c = k0 + t / TN;
      let b = b0 + t % TN;
      xs[t] = select(0.0, x[c * P.n + b], c < P.cols && b < P.n);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      for (var i = 0u; i < PR; i++) { a[i] = ws[(lid.y + i * LY) * TK + kk]; }
      for (var q = 0u; q < PB; q++) { xv[q] = xs[kk * TN + lid.x + q * LX]; }
      for (var i = 0u; i < PR; i++) {
        for (var q = 0u; q < PB; q++) { acc[i * PB + q] += a[i] * xv[q]; }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < PR; i++) {
    let r = r0 + lid.y + i * LY;
    if (r < P.rows) {
      for (var q = 0u; q < PB; q++) {
        let b = b0 + lid.x + q * LX;
        if (b < P.n) { y[r * P.n + b] = act(acc[i * PB + q] + bias[r]); }
      }
    }
  }
}
`;
}

/**
 * Condensed Conv2d as a direct gather convolution (no im2col buffer): a workgroup computes
 * `rowsPer` output channels × (lanesX · perThread) output positions, positions running over all
 * n·OH·OW of the batch. The rows' weights come into workgroup memory KC at a time with each
 * column decoded once into (input offset c·H·W + dy·W + dx, dy, dx); taps that fall in the zero
 * padding are skipped.
 */
function convSource(format: Exclude<WeightFormat, 'dense'>, rowsPer: number, lanesX: number, perThread: number, kc = 64): string {
  return `${struct('conv')}${weightAccess(format)}${IO}${ACT}
const LX = ${lanesX}u;
const LY = ${rowsPer}u;
const BQ = ${perThread}u;
const KC = ${kc}u;
var<workgroup> wv: array<f32, ${rowsPer * kc}>;
var<workgroup> wo: array<u32, ${rowsPer * kc}>;
var<workgroup> wd: array<u32, ${rowsPer * kc}>;

@compute @workgroup_size(${lanesX}, ${rowsPer})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r0 = (wg.y + wg.z * nwg.y) * LY;
  let r = r0 + lid.y;
  let S = P.OH * P.OW;
  let total = P.n * S;
  let p0 = wg.x * (LX * BQ) + lid.x;
  let plane = P.H * P.W;
  let taps = P.kh * P.kw;
  var xb: array<i32, ${perThread}>;
  var iy0: array<i32, ${perThread}>;
  var ix0: array<i32, ${perThread}>;
  for (var q = 0u; q < BQ; q++) {
    let p = min(p0 + q * LX, total - 1u);
    let b = p / S;
    let s = p % S;
    iy0[q] = i32((s / P.OW) * P.stride) - i32(P.pad);
    ix0[q] = i32((s % P.OW) * P.stride) - i32(P.pad);
    xb[q] = i32(b * P.C * plane) + iy0[q] * i32(P.W) + ix0[q];
  }
  var acc: array<f32, ${perThread}>;
  for (var kc = 0u; kc < P.k; kc += KC) {
    for (var t = li; t < LY * KC; t += LX * LY) {
      let rr = r0 + t / KC;
      let j = kc + t % KC;
      var v = 0.0;
      var o = 0u;
      var d = 0u;
      if (rr < P.rows && j < P.k) {
        let p = rr * P.k + j;
        let c = col_of(p, j);
        let tap = c % taps;
        let dy = tap / P.kw;
        let dx = tap % P.kw;
        v = values[p];
        o = (c / taps) * plane + dy * P.W + dx;
        d = (dy << 16u) | dx;
      }
      wv[t] = v;
      wo[t] = o;
      wd[t] = d;
    }
    workgroupBarrier();
    let jn = min(KC, P.k - kc);
    let w0 = lid.y * KC;
    for (var j = 0u; j < jn; j++) {
      let w = wv[w0 + j];
      let o = i32(wo[w0 + j]);
      let dy = i32(wd[w0 + j] >> 16u);
      let dx = i32(wd[w0 + j] & 0xffffu);
      for (var q = 0u; q < BQ; q++) {
        let iy = iy0[q] + dy;
        let ix = ix0[q] + dx;
        if (iy >= 0 && iy < i32(P.H) && ix >= 0 && ix < i32(P.W)) {
          acc[q] += w * x[u32(xb[q] + o)];
        }
      }
    }
    workgroupBarrier();
  }
  if (r < P.rows) {
    let bb = bias[r];
    for (var q = 0u; q < BQ; q++) {
      let p = p0 + q * LX;
      if (p < total) {
        let b = p / S;
        y[(b * P.rows + r) * S + p % S] = act(acc[q] + bb);
      }
    }
  }
}
`;
}

/** Flat element index of an elementwise thread (1-D grids split into x · y past 65535 groups). */
const FLAT_INDEX = `let i = (wg.x + wg.y * nwg.x) * ${WG_ELEMENTWISE}u + li;`;
const ELEMENTWISE_ENTRY = `@compute @workgroup_size(${WG_ELEMENTWISE})
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  ${FLAT_INDEX}`;

const BIAS_RELU = `${struct('bias_relu')}@group(0) @binding(1) var<storage, read> bias: array<f32>;
${IO}${ELEMENTWISE_ENTRY}
  if (i >= P.count) { return; }
  var v = x[i];
  if (P.hasBias != 0u) { v += bias[(i / P.inner) % P.channels]; }
  if (P.relu != 0u) { v = max(v, 0.0); }
  y[i] = v;
}
`;

const ADD = `${struct('add')}@group(0) @binding(1) var<storage, read> other: array<f32>;
${IO}${ELEMENTWISE_ENTRY}
  if (i < P.count) { y[i] = x[i] + other[i]; }
}
`;

const MAXPOOL = `${struct('maxpool')}${IO}${ELEMENTWISE_ENTRY}
  let per = P.OH * P.OW;
  if (i >= P.planes * per) { return; }
  let pl = i / per;
  let oy = (i % per) / P.OW;
  let ox = i % P.OW;
  let base = pl * P.H * P.W + oy * P.stride * P.W + ox * P.stride;
  var best = x[base];
  for (var dy = 0u; dy < P.kernel; dy++) {
    for (var dx = 0u; dx < P.kernel; dx++) { best = max(best, x[base + dy * P.W + dx]); }
  }
  y[i] = best;
}
`;

const AVGPOOL = `${struct('avgpool')}${IO}${ELEMENTWISE_ENTRY}
  if (i >= P.planes) { return; }
  var s = 0.0;
  for (var j = 0u; j < P.S; j++) { s += x[i * P.S + j]; }
  y[i] = s / f32(P.S);
}
`;

/** 16 × 16 tiles through workgroup memory (one padding column, so the transposed reads do not collide in banks). */
const TRANSPOSE = `${struct('transpose')}${IO}
var<workgroup> tile: array<f32, ${16 * 17}>;

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wg: vec3u) {
  let r = wg.y * 16u + lid.y;
  let c = wg.x * 16u + lid.x;
  if (r < P.rows && c < P.cols) { tile[lid.y * 17u + lid.x] = x[r * P.cols + c]; }
  workgroupBarrier();
  let tr = wg.x * 16u + lid.y;
  let tc = wg.y * 16u + lid.x;
  if (tr < P.cols && tc < P.rows) { y[tr * P.rows + tc] = tile[lid.x * 17u + lid.y]; }
}
`;

function layerVariants(): WebGpuVariant[] {
  const out: WebGpuVariant[] = [];
  const sparseFormats = ['u16', 'u32', 'nm'] as const;
  const label = (f: WeightFormat) => (f === 'nm' ? 'nm_f32' : `cfi_f32_${f}`);
  for (const f of sparseFormats) {
    for (const [rows, lanes] of [[4, 16], [16, 4]] as const) {
      out.push({
        name: `spmv_${label(f)}_${rows}x${lanes}__webgpu`, op: 'spmv', format: f, params: 'layer', layout: f === 'nm' ? 'nm' : 'sparse',
        tile: { rows, cols: 1, lanes }, source: gemvSource(f, rows, lanes),
      });
    }
    for (const [rows, lanesX, per] of [[8, 8, 1], [4, 16, 4]] as const) {
      out.push({
        name: `spmm_${label(f)}_${rows}x${lanesX * per}__webgpu`, op: 'spmm', format: f, params: 'layer', layout: f === 'nm' ? 'nm' : 'sparse',
        tile: { rows, cols: lanesX * per }, source: spmmSource(f, rows, lanesX, per),
      });
    }
    out.push({
      name: `conv_${label(f)}_4x64__webgpu`, op: 'conv', format: f, params: 'conv', layout: f === 'nm' ? 'nm' : 'sparse',
      tile: { rows: 4, cols: 64 }, source: convSource(f, 4, 16, 4),
    });
  }
  out.push({ name: 'dense_gemv_f32_4x16__webgpu', op: 'gemv', format: 'dense', params: 'layer', layout: 'dense', tile: { rows: 4, cols: 1, lanes: 16 }, source: gemvSource('dense', 4, 16) });
  out.push({ name: 'dense_gemm_f32_64x8__webgpu', op: 'gemm', format: 'dense', params: 'layer', layout: 'dense', tile: { rows: 64, cols: 8 }, source: gemmSource(8, 32, 1, 2) });
  out.push({ name: 'dense_gemm_f32_64x64__webgpu', op: 'gemm', format: 'dense', params: 'layer', layout: 'dense', tile: { rows: 64, cols: 64 }, source: gemmSource(16, 16, 4, 4) });
  return out;
}

/** Every WebGPU kernel variant. Tests and `bench/webgpu` iterate over this list. */
export const WEBGPU_VARIANTS: readonly WebGpuVariant[] = [
  ...layerVariants(),
  { name: 'bias_relu_f32__webgpu', op: 'bias_relu', format: null, params: 'bias_relu', layout: 'binary', tile: { rows: WG_ELEMENTWISE, cols: 1 }, source: BIAS_RELU },
  { name: 'add_f32__webgpu', op: 'add', format: null, params: 'add', layout: 'binary', tile: { rows: WG_ELEMENTWISE, cols: 1 }, source: ADD },
  { name: 'maxpool_f32__webgpu', op: 'maxpool', format: null, params: 'maxpool', layout: 'map', tile: { rows: WG_ELEMENTWISE, cols: 1 }, source: MAXPOOL },
  { name: 'avgpool_f32__webgpu', op: 'avgpool', format: null, params: 'avgpool', layout: 'map', tile: { rows: WG_ELEMENTWISE, cols: 1 }, source: AVGPOOL },
  { name: 'transpose_f32_16x16__webgpu', op: 'transpose', format: null, params: 'transpose', layout: 'map', tile: { rows: 16, cols: 16 }, source: TRANSPOSE },
];

/** The variant named `name`; throws naming the known ones otherwise. */
export function webgpuVariant(name: string): WebGpuVariant {
  const v = WEBGPU_VARIANTS.find((x) => x.name === name);
  if (!v) throw new Error(`unknown WebGPU kernel variant '${name}' (known: ${WEBGPU_VARIANTS.map((x) => x.name).join(', ')})`);
  return v;
}

/** Threads per workgroup of the elementwise kernels (bias_relu, add, maxpool, avgpool). */
export const ELEMENTWISE_WORKGROUP = WG_ELEMENTWISE;
