import type { Kernels, Ptr } from '../kernels/api.js';
import type { Param } from '../tensor/param.js';
import { Tensor } from '../tensor/tensor.js';
import type { NamedTensor } from '../tensor/tensor.js';
import { joinName, type BuildContext, type Layer, type SparsifiableLayer } from './layer.js';
import { Linear } from './linear.js';

/** Options for `MultiHeadSelfAttention`. */
export interface AttentionOptions {
  /** Number of heads; must divide D. */
  heads: number;
}

/**
 * Multi-head self-attention over [T, D] tokens: Q, K and V from three Linear layers (`q`, `k`,
 * `v`, each sparsifiable on its own), per head h (D/heads features) softmax(Q_h·K_hᵀ/√(D/heads))·V_h,
 * the heads concatenated and projected by the Linear `proj`. No mask, no attention dropout.
 *
 * The Linear layers run over all n·T tokens as rows. The heads are gathered into contiguous
 * [n, heads, T, D/heads] blocks (one swapAxes per example), so each (example, head) pair is a
 * plain GEMM of the engine's kernels; the scores' scale is folded into the softmax kernel.
 */
export class MultiHeadSelfAttention implements Layer {
  readonly outShape: readonly number[];
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly proj: Linear;
  private readonly kern: Kernels;
  private readonly t: number;
  private readonly d: number;
  private readonly heads: number;
  private readonly dh: number;
  private readonly scale: number;
  /** Q, K, V and the attention output by head, [maxBatch, heads, T, D/heads]; reused for their gradients in backward. */
  private readonly qh: Tensor;
  private readonly kh: Tensor;
  private readonly vh: Tensor;
  private readonly oh: Tensor;
  /** Attention weights (softmax output) and their gradient, [maxBatch, heads, T, T]. */
  private readonly p: Tensor;
  private readonly dp: Tensor;
  /** The heads concatenated ([maxBatch, T, D], proj's input), and a token-major gradient on its way to q, k or v. */
  private readonly o: Tensor;
  private readonly dt: Tensor;
  private readonly inputGrad: boolean;

  constructor(ctx: BuildContext, readonly name: string, inShape: readonly number[], opts: AttentionOptions, inputGrad: boolean) {
    if (inShape.length !== 2) throw new Error(`${name}: attention expects [T, D] input, got [${inShape.join(', ')}]`);
    const [t, d] = inShape;
    const heads = opts.heads;
    if (!Number.isInteger(heads) || heads < 1 || d % heads !== 0) throw new Error(`${name}: ${heads} heads do not divide D = ${d}`);
    this.kern = ctx.engine.kernels;
    this.outShape = inShape;
    this.t = t;
    this.d = d;
    this.heads = heads;
    this.dh = d / heads;
    this.scale = 1 / Math.sqrt(this.dh);
    this.inputGrad = inputGrad;
    // The projections see every token as one row.
    const tokens: BuildContext = { ...ctx, maxBatch: ctx.maxBatch * t };
    this.q = new Linear(tokens, joinName(name, 'q'), [d], { out: d }, inputGrad);
    this.k = new Linear(tokens, joinName(name, 'k'), [d], { out: d }, inputGrad);
    this.v = new Linear(tokens, joinName(name, 'v'), [d], { out: d }, inputGrad);
    this.proj = new Linear(tokens, joinName(name, 'proj'), [d], { out: d }, true);
    const heap = ctx.engine.heap, B = ctx.maxBatch;
    this.qh = Tensor.zeros(heap, [B, heads, t, this.dh]);
    this.kh = Tensor.zeros(heap, [B, heads, t, this.dh]);
    this.vh = Tensor.zeros(heap, [B, heads, t, this.dh]);
    this.oh = Tensor.zeros(heap, [B, heads, t, this.dh]);
    this.p = Tensor.zeros(heap, [B, heads, t, t]);
    this.dp = Tensor.zeros(heap, [B, heads, t, t]);
    this.o = Tensor.zeros(heap, [B, t, d]);
    this.dt = Tensor.zeros(heap, [B, t, d]);
  }

  forward(x: Ptr, n: number): Ptr {
    const K = this.kern, { t, dh } = this, rows = n * t, pairs = n * this.heads;
    const Q = this.qh.ptr, Kh = this.kh.ptr, V = this.vh.ptr, O = this.oh.ptr, P = this.p.ptr;
    const hb = t * dh * 4, pb = t * t * 4;
    this.toHeads(this.q.forward(x, rows), Q, n);
    this.toHeads(this.k.forward(x, rows), Kh, n);
    this.toHeads(this.v.forward(x, rows), V, n);
    // Per (example, head) pair s: scores Q·Kᵀ, softmax(scores/√dh) in place, then P·V.
    for (let s = 0; s < pairs; s++) K.gemmNT(t, t, dh, Q + s * hb, Kh + s * hb, P + s * pb, false);
    K.softmaxRows(pairs * t, t, this.scale, P, P);
    for (let s = 0; s < pairs; s++) K.gemmNN(t, dh, t, P + s * pb, V + s * hb, O + s * hb, false);
    this.fromHeads(O, this.o.ptr, n);
    return this.proj.forward(this.o.ptr, rows);
  }

  backward(dy: Ptr, n: number): Ptr {
    const K = this.kern, { t, dh } = this, rows = n * t, pairs = n * this.heads;
    const Q = this.qh.ptr, Kh = this.kh.ptr, V = this.vh.ptr, O = this.oh.ptr, P = this.p.ptr, dP = this.dp.ptr, dT = this.dt.ptr;
    const hb = t * dh * 4, pb = t * t * 4;
    // dO by head goes where O was; V, spent once dP = dO·Vᵀ is formed, then holds dV = Pᵀ·dO.
    this.toHeads(this.proj.backward(dy, rows), O, n);
    for (let s = 0; s < pairs; s++) K.gemmNT(t, t, dh, O + s * hb, V + s * hb, dP + s * pb, false);
    for (let s = 0; s < pairs; s++) K.gemmTN(t, dh, t, P + s * pb, O + s * hb, V + s * hb, false);
    this.fromHeads(V, dT, n);
    const gv = this.v.backward(dT, rows);
    // dS through the softmax (in place), then dQ = dS·K into dO's place and dK = dSᵀ·Q into dV's.
    K.softmaxRowsBackward(pairs * t, t, this.scale, P, dP, dP);
    for (let s = 0; s < pairs; s++) K.gemmNN(t, dh, t, dP + s * pb, Kh + s * hb, O + s * hb, false);
    this.fromHeads(O, dT, n);
    const g = this.q.backward(dT, rows);
    for (let s = 0; s < pairs; s++) K.gemmTN(t, dh, t, dP + s * pb, Q + s * hb, V + s * hb, false);
    this.fromHeads(V, dT, n);
    const gk = this.k.backward(dT, rows);
    if (!this.inputGrad) return 0;
    // x feeds all three projections: its gradient is the sum, gathered in q's input gradient.
    K.add(rows * this.d, g, gv, g);
    K.add(rows * this.d, g, gk, g);
    return g;
  }

  /** [n, T, heads, D/heads] → [n, heads, T, D/heads]. */
  private toHeads(src: Ptr, dst: Ptr, n: number): void {
    const bytes = this.t * this.d * 4;
    for (let b = 0; b < n; b++) this.kern.swapAxes(this.t, this.heads, this.dh, src + b * bytes, dst + b * bytes);
  }

  /** [n, heads, T, D/heads] → [n, T, heads, D/heads]. */
  private fromHeads(src: Ptr, dst: Ptr, n: number): void {
    const bytes = this.t * this.d * 4;
    for (let b = 0; b < n; b++) this.kern.swapAxes(this.heads, this.t, this.dh, src + b * bytes, dst + b * bytes);
  }

  private children(): Linear[] {
    return [this.q, this.k, this.v, this.proj];
  }

  params(): Param[] {
    return this.children().flatMap((l) => l.params());
  }

  buffers(): NamedTensor[] {
    return [];
  }

  sparsifiable(): SparsifiableLayer[] {
    return this.children().flatMap((l) => l.sparsifiable());
  }
}
