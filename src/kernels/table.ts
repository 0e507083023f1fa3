import type { Kernels } from './api.js';
import type { EngineOptions } from './engine.js';
import type { Isa } from './module.js';

/** A method of the Kernels contract. */
export type KernelOp = Exclude<keyof Kernels, 'name'>;

/**
 * One kernel variant: an op of the Kernels contract as run by one ISA level and thread count.
 * A variant runs as `engine.kernels[op](...)` on an engine created with `engine`, and is
 * checked against `ReferenceKernels.prototype[op]`. Tests and the benchmark iterate this table.
 */
export interface KernelVariant {
  /** What, then how: e.g. `gemm_nn_f32_4x8__relaxed_x2`. */
  readonly name: string;
  readonly op: KernelOp;
  /** Register tile rows×columns, for ops that have one. */
  readonly tile: string | null;
  readonly isa: Isa;
  readonly threads: 1 | 2;
  /** Options for createEngine that select this variant. */
  readonly engine: EngineOptions;
}

/** Every op with its kernel base name; `threaded` ops split work over the engine's threads. */
const OPS: readonly { op: KernelOp; base: string; threaded: boolean }[] = [
  { op: 'gemmNN', base: 'gemm_nn_f32', threaded: true },
  { op: 'gemmTN', base: 'gemm_tn_f32', threaded: true },
  { op: 'gemmNT', base: 'gemm_nt_f32', threaded: true },
  { op: 'addBiasRows', base: 'add_bias_rows_f32', threaded: true },
  { op: 'addBiasChannels', base: 'add_bias_channels_f32', threaded: false },
  { op: 'sumRows', base: 'sum_rows_f32', threaded: false },
  { op: 'sumChannels', base: 'sum_channels_f32', threaded: false },
  { op: 'reluForward', base: 'relu_forward_f32', threaded: true },
  { op: 'reluBackward', base: 'relu_backward_f32', threaded: true },
  { op: 'add', base: 'add_f32', threaded: false },
  { op: 'mul', base: 'mul_f32', threaded: true },
  { op: 'scale', base: 'scale_f32', threaded: false },
  { op: 'copy', base: 'copy_f32', threaded: false },
  { op: 'fill', base: 'fill_f32', threaded: false },
  { op: 'sumSquares', base: 'sum_squares_f32', threaded: false },
  { op: 'layerNormForward', base: 'layer_norm_forward_f32', threaded: true },
  { op: 'layerNormBackward', base: 'layer_norm_backward_f32', threaded: false },
  { op: 'geluForward', base: 'gelu_forward_f32', threaded: true },
  { op: 'geluBackward', base: 'gelu_backward_f32', threaded: true },
  { op: 'softmaxRows', base: 'softmax_rows_f32', threaded: true },
  { op: 'softmaxRowsBackward', base: 'softmax_rows_backward_f32', threaded: true },
  { op: 'im2col', base: 'im2col_f32', threaded: false },
  { op: 'col2im', base: 'col2im_f32', threaded: false },
  { op: 'maxPoolForward', base: 'max_pool_forward_f32', threaded: false },
  { op: 'maxPoolBackward', base: 'max_pool_backward_f32', threaded: false },
  { op: 'globalAvgPoolForward', base: 'global_avg_pool_forward_f32', threaded: false },
  { op: 'globalAvgPoolBackward', base: 'global_avg_pool_backward_f32', threaded: false },
  { op: 'batchNormTrainForward', base: 'batch_norm_train_forward_f32', threaded: false },
  { op: 'batchNormEvalForward', base: 'batch_norm_eval_forward_f32', threaded: false },
  { op: 'batchNormBackward', base: 'batch_norm_backward_f32', threaded: false },
  { op: 'softmaxCrossEntropy', base: 'softmax_cross_entropy_f32', threaded: false },
  { op: 'sgdStep', base: 'sgd_step_f32', threaded: true },
  { op: 'adamwStep', base: 'adamw_step_f32', threaded: false },
  { op: 'im2colBatch', base: 'im2col_batch_f32', threaded: false },
  { op: 'col2imBatch', base: 'col2im_batch_f32', threaded: false },
  { op: 'swapAxes', base: 'swap_axes_f32', threaded: true },
  { op: 'sparseRowsForward', base: 'sparse_rows_forward_f32', threaded: true },
  { op: 'sparseRowsWeightGrad', base: 'sparse_rows_weight_grad_f32', threaded: true },
  { op: 'sparseColsInputGrad', base: 'sparse_cols_input_grad_f32', threaded: true },
];

const ISAS: readonly Isa[] = ['scalar', 'simd128', 'relaxed'];

/** GEMM register tile per ISA (see MR/NR in src/kernels/as/gemm.ts). */
const GEMM_TILE: Record<Isa, string> = { scalar: '1x8', simd128: '4x8', relaxed: '4x8' };

function variants(): KernelVariant[] {
  const out: KernelVariant[] = [];
  for (const isa of ISAS) {
    for (const { op, base, threaded } of OPS) {
      const tile = op.startsWith('gemm') ? GEMM_TILE[isa] : null;
      for (const threads of threaded ? ([1, 2] as const) : ([1] as const)) {
        out.push({
          name: `${base}${tile ? `_${tile}` : ''}__${isa}${threads > 1 ? `_x${threads}` : ''}`,
          op, tile, isa, threads,
          engine: { backend: isa, threads },
        });
      }
    }
  }
  return out;
}

/** Every kernel variant that ships. */
export const KERNEL_VARIANTS: readonly KernelVariant[] = variants();

/** Every op of the Kernels contract, in table order. */
export const KERNEL_OPS: readonly KernelOp[] = OPS.map((o) => o.op);
