/**
 * Compressed sparse row storage of a masked dense layer: the unstructured baseline that the
 * condensed format is benchmarked against (same layouts, any number of weights per row).
 */
import { indexArrayFor } from './layer.js';

export interface CsrLayer {
  readonly rows: number;
  readonly cols: number;
  /** [rows + 1]: row r holds positions [rowPtr[r], rowPtr[r+1]). */
  readonly rowPtr: Uint32Array;
  /** [nnz] columns, ascending within each row; u16 when cols ≤ 65536. */
  readonly colIdx: Uint16Array | Uint32Array;
  /** [nnz] */
  readonly values: Float32Array;
  /** [rows] */
  readonly bias: Float32Array;
}

/** Packs weight ⊙ mask ([rows, cols] row-major) into CSR, keeping every row (empty ones too). */
export function packCsr(input: { rows: number; cols: number; weight: Float32Array; mask: Uint8Array; bias?: Float32Array }): CsrLayer {
  const { rows, cols, weight, mask } = input;
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(cols) || cols < 1) {
    throw new RangeError(`packCsr: rows and cols must be positive integers, got ${rows} and ${cols}`);
  }
  if (weight.length !== rows * cols) throw new RangeError(`packCsr: weight has ${weight.length} elements, expected ${rows}·${cols}`);
  if (mask.length !== rows * cols) throw new RangeError(`packCsr: mask has ${mask.length} elements, expected ${rows}·${cols}`);
  const bias = input.bias ?? new Float32Array(rows);
  if (bias.length !== rows) throw new RangeError(`packCsr: bias has ${bias.length} elements, expected ${rows}`);
  const rowPtr = new Uint32Array(rows + 1);
  for (let r = 0; r < rows; r++) {
    let c = 0;
    for (let i = r * cols; i < (r + 1) * cols; i++) c += mask[i] ? 1 : 0;
    rowPtr[r + 1] = rowPtr[r] + c;
  }
  const nnz = rowPtr[rows];
  const colIdx = indexArrayFor(cols, nnz);
  const values = new Float32Array(nnz);
  let p = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (mask[r * cols + c]) {
        const w = weight[r * cols + c];
        if (!Number.isFinite(w)) throw new RangeError(`packCsr: weight[row ${r}, col ${c}] = ${w} is not finite`);
        colIdx[p] = c;
        values[p++] = w;
      }
    }
  }
  return { rows, cols, rowPtr, colIdx, values, bias: Float32Array.from(bias) };
}
