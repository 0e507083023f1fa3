import type { Kernels, Ptr } from '../kernels/api.js';
import type { Param } from '../tensor/param.js';
import { Tensor, shapeSize } from '../tensor/tensor.js';
import type { NamedTensor } from '../tensor/tensor.js';
import { Dropout, GELU } from './activations.js';
import { MultiHeadSelfAttention } from './attention.js';
import { joinName, type BuildContext, type Layer, type SparsifiableLayer } from './layer.js';
import { LayerNorm } from './layernorm.js';
import { Linear } from './linear.js';

/** Options for `TransformerBlock`. */
export interface TransformerBlockOptions {
  /** Attention heads; must divide D. */
  heads: number;
  /** Hidden width of the MLP as a multiple of D. Default 4. */
  mlpRatio?: number;
  /**
   * Dropout probability after the attention projection, after the GELU and after fc2 (timm's
   * proj_drop and Mlp drop). Default 0: no dropout layers at all.
   */
  dropout?: number;
}

/**
 * Pre-norm transformer encoder block over [T, D] tokens, as timm's ViT Block:
 * x + attn(norm1(x)), then x + mlp(norm2(x)) with mlp = fc2(GELU(fc1(·))), fc1 D → r·D and fc2
 * r·D → D. Names follow timm's state dict: `norm1`, `attn.{q,k,v,proj}`, `norm2`,
 * `mlp.fc1`, `mlp.fc2` (timm fuses q, k, v into one `attn.qkv`; here they are three Linear
 * layers so sparse training can give each its own budget). The six Linear layers are the
 * block's sparsifiable ones.
 */
export class TransformerBlock implements Layer {
  readonly outShape: readonly number[];
  readonly norm1: LayerNorm;
  readonly attn: MultiHeadSelfAttention;
  readonly norm2: LayerNorm;
  readonly fc1: Linear;
  readonly act: GELU;
  readonly fc2: Linear;
  private readonly k: Kernels;
  private readonly attnDrop: Dropout | null;
  private readonly mlpDrop1: Dropout | null;
  private readonly mlpDrop2: Dropout | null;
  private readonly t: number;
  private readonly size: number;
  /** x + attn(norm1(x)), and the block's output. */
  private readonly r: Tensor;
  private readonly y: Tensor;
  private readonly inputGrad: boolean;

  constructor(ctx: BuildContext, readonly name: string, inShape: readonly number[], opts: TransformerBlockOptions, inputGrad: boolean) {
    if (inShape.length !== 2) throw new Error(`${name}: transformer block expects [T, D] input, got [${inShape.join(', ')}]`);
    const [t, d] = inShape;
    const hidden = Math.round((opts.mlpRatio ?? 4) * d);
    if (hidden < 1) throw new Error(`${name}: mlpRatio ${opts.mlpRatio} leaves no hidden units`);
    const p = opts.dropout ?? 0;
    this.k = ctx.engine.kernels;
    this.outShape = inShape;
    this.t = t;
    this.size = shapeSize(inShape);
    this.inputGrad = inputGrad;
    // The MLP's Linear layers see every token as one row.
    const tokens: BuildContext = { ...ctx, maxBatch: ctx.maxBatch * t };
    this.norm1 = new LayerNorm(ctx, joinName(name, 'norm1'), inShape);
    this.attn = new MultiHeadSelfAttention(ctx, joinName(name, 'attn'), inShape, { heads: opts.heads }, true);
    this.attnDrop = p > 0 ? new Dropout(ctx, inShape, p) : null;
    this.norm2 = new LayerNorm(ctx, joinName(name, 'norm2'), inShape);
    this.fc1 = new Linear(tokens, joinName(name, 'mlp.fc1'), [d], { out: hidden }, true);
    this.act = new GELU(ctx, [t, hidden]);
    this.mlpDrop1 = p > 0 ? new Dropout(ctx, [t, hidden], p) : null;
    this.fc2 = new Linear(tokens, joinName(name, 'mlp.fc2'), [hidden], { out: d }, true);
    this.mlpDrop2 = p > 0 ? new Dropout(ctx, inShape, p) : null;
    this.r = Tensor.zeros(ctx.engine.heap, [ctx.maxBatch, t, d]);
    this.y = Tensor.zeros(ctx.engine.heap, [ctx.maxBatch, t, d]);
  }

  forward(x: Ptr, n: number, training: boolean): Ptr {
    const k = this.k, rows = n * this.t, len = n * this.size;
    let a = this.attn.forward(this.norm1.forward(x, n), n);
    if (this.attnDrop) a = this.attnDrop.forward(a, n, training);
    k.add(len, x, a, this.r.ptr);
    let h = this.act.forward(this.fc1.forward(this.norm2.forward(this.r.ptr, n), rows), n);
    if (this.mlpDrop1) h = this.mlpDrop1.forward(h, n, training);
    h = this.fc2.forward(h, rows);
    if (this.mlpDrop2) h = this.mlpDrop2.forward(h, n, training);
    k.add(len, this.r.ptr, h, this.y.ptr);
    return this.y.ptr;
  }

  backward(dy: Ptr, n: number): Ptr {
    const k = this.k, rows = n * this.t, len = n * this.size;
    let g = this.mlpDrop2 ? this.mlpDrop2.backward(dy, n) : dy;
    g = this.fc2.backward(g, rows);
    if (this.mlpDrop1) g = this.mlpDrop1.backward(g, n);
    g = this.norm2.backward(this.fc1.backward(this.act.backward(g, n), rows), n);
    // The residual: the gradient at r is dy plus the MLP branch's, gathered in norm2's input gradient.
    k.add(len, g, dy, g);
    let ga = this.attnDrop ? this.attnDrop.backward(g, n) : g;
    ga = this.norm1.backward(this.attn.backward(ga, n), n);
    if (!this.inputGrad) return 0;
    k.add(len, ga, g, ga);
    return ga;
  }

  private children(): Layer[] {
    return [this.norm1, this.attn, this.norm2, this.fc1, this.fc2];
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
