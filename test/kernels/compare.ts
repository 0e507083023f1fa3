import type { CaseResult } from './cases.js';

/** Relative tolerance against the reference (which sums in f64). */
export const RTOL = 1e-4;

/**
 * Per-element check |x − r| ≤ RTOL·max(|r|, rms(r)): relative where values are large, and
 * floored by the output's typical magnitude where cancellation makes an element near zero.
 * Int32 outputs (arg-max indices) and counts must match exactly. Returns a failure message.
 */
export function compareResults(got: CaseResult, want: CaseResult): string | null {
  for (const [name, ref] of Object.entries(want.outputs)) {
    const x = got.outputs[name];
    if (ref instanceof Int32Array) {
      for (let i = 0; i < ref.length; i++) if (x[i] !== ref[i]) return `${name}[${i}] = ${x[i]}, expected ${ref[i]}`;
      continue;
    }
    let ss = 0;
    for (const v of ref) ss += v * v;
    const rms = ref.length ? Math.sqrt(ss / ref.length) : 0;
    for (let i = 0; i < ref.length; i++) {
      const tol = RTOL * Math.max(Math.abs(ref[i]), rms);
      if (!(Math.abs(x[i] - ref[i]) <= tol) && !(Number.isNaN(x[i]) && Number.isNaN(ref[i]))) {
        return `${name}[${i}] = ${x[i]}, expected ${ref[i]} (tolerance ${tol.toExponential(2)})`;
      }
    }
  }
  return compareReturned(got.returned, want.returned);
}

function compareReturned(got: unknown, want: unknown): string | null {
  if (typeof want === 'number') {
    if (Number.isNaN(want)) return Number.isNaN(got) ? null : `returned ${got}, expected NaN`;
    return Math.abs((got as number) - want) <= RTOL * Math.max(Math.abs(want), 1e-30) ? null : `returned ${got}, expected ${want}`;
  }
  if (want && typeof want === 'object') {
    const w = want as { loss: number; correct: number }, g = got as { loss: number; correct: number };
    if (g.correct !== w.correct) return `correct = ${g.correct}, expected ${w.correct}`;
    return compareReturned(g.loss, w.loss);
  }
  return null;
}
